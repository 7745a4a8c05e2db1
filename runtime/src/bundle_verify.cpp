//===- bundle_verify.cpp - Verify a bundle and view it in place -----------===//
//
// Order matters: magic and major version first (another major may lay out
// even the header differently), then sizes and the header checksum, then each
// section's bounds and checksum, and only then the contents. Every field is
// range-checked before it is used as an offset, a size or a count, with
// 64-bit arithmetic that cannot overflow.
//
//===----------------------------------------------------------------------===//

#include "bundle_verify.h"
#include "names.h"

// memcpy/memcmp as __builtin_*: no libc headers (the core builds for
// bare-metal targets); they may still become calls the program provides.

namespace kiln::runtime {
namespace {

constexpr uint64_t kHeaderChecksumOffset =
    offsetof(kiln_bundle_header, header_checksum);

bool isPowerOfTwo(uint64_t value) {
  return value && (value & (value - 1)) == 0;
}

/// True when [offset, offset + size) lies within [0, limit), without
/// overflowing.
bool rangeFits(uint64_t offset, uint64_t size, uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

bool allZero(const void *bytes, size_t size) {
  const uint8_t *p = static_cast<const uint8_t *>(bytes);
  for (size_t i = 0; i < size; ++i)
    if (p[i])
      return false;
  return true;
}

class Verifier {
public:
  Verifier(const uint8_t *data, uint64_t size, uint32_t flags,
           const char *origin, BundleView &view, ErrorMessage &error)
      : data(data), size(size), flags(flags), origin(origin), view(view),
        error(error) {}

  kiln_status run();

private:
  kiln_status verifyHeader();
  kiln_status verifySectionTable();
  kiln_status verifyChecksums();
  kiln_status verifyManifest();
  kiln_status verifySchedule();
  kiln_status verifyDispatchInfo();

  /// Null when `ref` is a valid string, else why it is not.
  const char *stringProblem(kiln_string_ref ref) const;
  ErrorMessage &fail() { return startError(error, origin); }
  ErrorMessage &failIn(uint32_t section) {
    return startSectionError(error, origin, view, section);
  }

  const uint8_t *data;
  uint64_t size;
  uint32_t flags;
  const char *origin;
  BundleView &view;
  ErrorMessage &error;
  // Reserved fields are checked only in the minor versions this reader
  // knows; a newer minor may give them a meaning.
  bool knownMinor = true;
  uint64_t tableEnd = 0;
  uint32_t manifestIndex = 0, stringsIndex = 0, scheduleIndex = 0,
           weightsIndex = 0;
  // The optional DISPATCH_INFO section: its index, or kMaxSections if none.
  uint32_t dispatchInfoIndex = kMaxSections;
};

kiln_status Verifier::run() {
  view = BundleView();
  view.data = data;
  view.size = size;
  if (kiln_status status = verifyHeader())
    return status;
  if (kiln_status status = verifySectionTable())
    return status;
  if (kiln_status status = verifyChecksums())
    return status;
  if (kiln_status status = verifyManifest())
    return status;
  if (kiln_status status = verifySchedule())
    return status;
  return verifyDispatchInfo();
}

kiln_status Verifier::verifyHeader() {
  constexpr uint64_t kVersionEnd = offsetof(kiln_bundle_header, header_size);
  if (!data && size) {
    fail() << "no data";
    return KILN_ERROR_INVALID_ARGUMENT;
  }
  if (size < kVersionEnd || __builtin_memcmp(data, KILN_BUNDLE_MAGIC, 8) != 0) {
    if (size < 8 || __builtin_memcmp(data, KILN_BUNDLE_MAGIC, 8) != 0)
      fail() << "not a Kiln bundle (bad magic)";
    else
      fail() << "file is " << size << " bytes, too small for a bundle header";
    return KILN_ERROR_INVALID_BUNDLE;
  }
  uint16_t major, minor;
  __builtin_memcpy(&major, data + offsetof(kiln_bundle_header, version_major),
                   2);
  __builtin_memcpy(&minor, data + offsetof(kiln_bundle_header, version_minor),
                   2);
  if (major != KILN_BUNDLE_VERSION_MAJOR) {
    fail() << "bundle format version " << major << "." << minor
           << " is not supported: this runtime reads version "
           << KILN_BUNDLE_VERSION_MAJOR << ".x (up to "
           << KILN_BUNDLE_VERSION_MAJOR << "." << KILN_BUNDLE_VERSION_MINOR
           << ")";
    return KILN_ERROR_UNSUPPORTED;
  }
  knownMinor = minor <= KILN_BUNDLE_VERSION_MINOR;
  if (size < sizeof(kiln_bundle_header)) {
    fail() << "file is " << size << " bytes, smaller than the "
           << sizeof(kiln_bundle_header) << "-byte header";
    return KILN_ERROR_INVALID_BUNDLE;
  }
  const auto *header = reinterpret_cast<const kiln_bundle_header *>(data);
  view.header = header;
  // A newer minor may append fields to the header; the checksum covers them.
  if (header->header_size < sizeof(kiln_bundle_header) ||
      header->header_size % 8 != 0 ||
      (knownMinor && header->header_size != sizeof(kiln_bundle_header))) {
    fail() << "header: header_size " << header->header_size
           << " is invalid (expected " << sizeof(kiln_bundle_header) << ")";
    return KILN_ERROR_INVALID_BUNDLE;
  }
  if (header->file_size != size) {
    fail() << "header: file_size is " << header->file_size
           << " but the file is " << size << " bytes (truncated or extended?)";
    return KILN_ERROR_INVALID_BUNDLE;
  }
  if (header->header_size > size) {
    fail() << "header: header_size " << header->header_size
           << " exceeds the file size " << size;
    return KILN_ERROR_INVALID_BUNDLE;
  }
  if (header->section_count == 0 || header->section_count > kMaxSections) {
    fail() << "header: section_count " << header->section_count
           << " is out of range [1, " << kMaxSections << "]";
    return KILN_ERROR_INVALID_BUNDLE;
  }
  uint64_t tableOffset = header->section_table_offset;
  uint64_t tableSize =
      uint64_t(header->section_count) * sizeof(kiln_section_entry);
  if (tableOffset < header->header_size || tableOffset % 8 != 0 ||
      !rangeFits(tableOffset, tableSize, size)) {
    fail() << "header: section table (offset " << tableOffset << ", "
           << header->section_count
           << " entries) is misaligned, overlaps the header or extends past "
              "the end of the file ("
           << size << " bytes)";
    return KILN_ERROR_INVALID_BUNDLE;
  }
  tableEnd = tableOffset + tableSize;

  // The checksum field itself reads as zero.
  static const uint8_t kZeroChecksum[4] = {0, 0, 0, 0};
  uint32_t crc = kiln_crc32(0, data, kHeaderChecksumOffset);
  crc = kiln_crc32(crc, kZeroChecksum, 4);
  crc = kiln_crc32(crc, data + kHeaderChecksumOffset + 4,
                   header->header_size - kHeaderChecksumOffset - 4);
  crc = kiln_crc32(crc, data + tableOffset, tableSize);
  if (crc != header->header_checksum) {
    fail() << "header: checksum mismatch (stored ";
    error.appendHex32(header->header_checksum) << ", computed ";
    error.appendHex32(crc) << ")";
    return KILN_ERROR_INVALID_BUNDLE;
  }
  // Checked after the checksum so that a corrupted byte is reported as such.
  if (header->flags & ~uint32_t(KILN_BUNDLE_FLAG_CODE_LINKED)) {
    fail() << "header: unknown flags " << header->flags;
    return KILN_ERROR_INVALID_BUNDLE;
  }
  if (knownMinor && !allZero(header->reserved, sizeof(header->reserved))) {
    fail() << "header: reserved bytes are not zero";
    return KILN_ERROR_INVALID_BUNDLE;
  }
  view.sections =
      reinterpret_cast<const kiln_section_entry *>(data + tableOffset);
  view.sectionCount = header->section_count;
  return KILN_OK;
}

kiln_status Verifier::verifySectionTable() {
  uint32_t manifestCount = 0, stringsCount = 0, scheduleCount = 0,
           weightsCount = 0, executableCount = 0, dispatchInfoCount = 0;
  for (uint32_t i = 0; i < view.sectionCount; ++i) {
    const kiln_section_entry &section = view.sections[i];
    if (!isPowerOfTwo(section.alignment)) {
      failIn(i) << "alignment " << section.alignment
                << " is not a power of two";
      return KILN_ERROR_INVALID_BUNDLE;
    }
    if (section.offset % section.alignment != 0) {
      failIn(i) << "offset " << section.offset
                << " is not a multiple of its alignment " << section.alignment;
      return KILN_ERROR_INVALID_BUNDLE;
    }
    if (section.offset < tableEnd ||
        !rangeFits(section.offset, section.size, size)) {
      failIn(i) << "offset " << section.offset << " and size " << section.size
                << " overlap the header or section table or extend past the "
                   "end of the file ("
                << size << " bytes)";
      return KILN_ERROR_INVALID_BUNDLE;
    }
    for (uint32_t j = 0; j < i; ++j) {
      const kiln_section_entry &other = view.sections[j];
      if (section.size && other.size &&
          section.offset < other.offset + other.size &&
          other.offset < section.offset + section.size) {
        failIn(i) << "overlaps section " << j;
        return KILN_ERROR_INVALID_BUNDLE;
      }
    }
    if (section.flags & ~uint32_t(KILN_SECTION_FLAG_LAZY_CHECKSUM)) {
      failIn(i) << "unknown flags " << section.flags;
      return KILN_ERROR_INVALID_BUNDLE;
    }
    // Of the kinds this reader knows, only the weights are big enough to
    // deserve a lazy checksum; the rest are always checked. (Kinds added by
    // newer minors, which this reader skips, may be lazy.)
    bool knownKind = section.kind >= KILN_SECTION_MANIFEST &&
                     section.kind <= KILN_SECTION_DISPATCH_INFO;
    if ((section.flags & KILN_SECTION_FLAG_LAZY_CHECKSUM) && knownKind &&
        section.kind != KILN_SECTION_WEIGHTS) {
      failIn(i) << "only the WEIGHTS section may have a lazy checksum";
      return KILN_ERROR_INVALID_BUNDLE;
    }
    if (knownMinor && section.reserved != 0) {
      failIn(i) << "reserved field is not zero";
      return KILN_ERROR_INVALID_BUNDLE;
    }
    if (section.kind != KILN_SECTION_EXECUTABLE && section.target != 0) {
      failIn(i) << "target " << section.target
                << " set on a section that is not EXECUTABLE";
      return KILN_ERROR_INVALID_BUNDLE;
    }
    // Sections read in place as structs need their natural alignment.
    bool readInPlace = section.kind == KILN_SECTION_MANIFEST ||
                       section.kind == KILN_SECTION_SCHEDULE ||
                       section.kind == KILN_SECTION_DISPATCH_INFO;
    if (readInPlace && section.offset % 8 != 0) {
      failIn(i) << "offset " << section.offset << " is not a multiple of 8";
      return KILN_ERROR_INVALID_BUNDLE;
    }
    switch (section.kind) {
    case KILN_SECTION_MANIFEST:
      ++manifestCount;
      manifestIndex = i;
      break;
    case KILN_SECTION_STRINGS:
      ++stringsCount;
      stringsIndex = i;
      break;
    case KILN_SECTION_SCHEDULE:
      ++scheduleCount;
      scheduleIndex = i;
      break;
    case KILN_SECTION_WEIGHTS:
      ++weightsCount;
      weightsIndex = i;
      if (section.alignment < KILN_TENSOR_ALIGNMENT) {
        failIn(i) << "alignment " << section.alignment
                  << " is below the tensor alignment " << KILN_TENSOR_ALIGNMENT;
        return KILN_ERROR_INVALID_BUNDLE;
      }
      break;
    case KILN_SECTION_EXECUTABLE:
      ++executableCount;
      if (section.target == KILN_TARGET_NONE) {
        failIn(i) << "executable has no target";
        return KILN_ERROR_INVALID_BUNDLE;
      }
      for (uint32_t j = 0; j < i; ++j)
        if (view.sections[j].kind == KILN_SECTION_EXECUTABLE &&
            view.sections[j].target == section.target) {
          failIn(i) << "second executable for target "
                    << targetName(section.target);
          return KILN_ERROR_INVALID_BUNDLE;
        }
      break;
    case KILN_SECTION_DISPATCH_INFO:
      ++dispatchInfoCount;
      dispatchInfoIndex = i;
      break;
    default:
      // Sections of kinds added by newer minor versions are skipped.
      break;
    }
  }
  struct Required {
    const char *name;
    uint32_t count;
  } required[] = {{"MANIFEST", manifestCount},
                  {"STRINGS", stringsCount},
                  {"SCHEDULE", scheduleCount},
                  {"WEIGHTS", weightsCount}};
  for (const Required &r : required)
    if (r.count != 1) {
      fail() << "section table: expected exactly one " << r.name
             << " section, found " << r.count;
      return KILN_ERROR_INVALID_BUNDLE;
    }
  if (dispatchInfoCount > 1) {
    fail() << "section table: " << dispatchInfoCount
           << " DISPATCH_INFO sections (at most one)";
    return KILN_ERROR_INVALID_BUNDLE;
  }
  bool codeLinked = view.header->flags & KILN_BUNDLE_FLAG_CODE_LINKED;
  if (executableCount == 0 && !codeLinked) {
    fail() << "section table: no EXECUTABLE section";
    return KILN_ERROR_INVALID_BUNDLE;
  }
  if (executableCount != 0 && codeLinked) {
    fail() << "section table: EXECUTABLE sections in a bundle whose code is "
              "linked into the program (header flag CODE_LINKED)";
    return KILN_ERROR_INVALID_BUNDLE;
  }
  return KILN_OK;
}

/// Checks section `index`'s checksum against its bytes.
kiln_status verifySectionChecksum(const BundleView &view, uint32_t index,
                                  const char *origin, ErrorMessage &error) {
  const kiln_section_entry &section = view.sections[index];
  uint32_t crc = kiln_crc32(0, view.data + section.offset, section.size);
  if (crc == section.checksum)
    return KILN_OK;
  startSectionError(error, origin, view, index) << "checksum mismatch (stored ";
  error.appendHex32(section.checksum) << ", computed ";
  error.appendHex32(crc) << ")";
  return KILN_ERROR_INVALID_BUNDLE;
}

kiln_status Verifier::verifyChecksums() {
  bool verifyLazy = flags & KILN_OPEN_VERIFY_WEIGHTS;
  for (uint32_t i = 0; i < view.sectionCount; ++i) {
    const kiln_section_entry &section = view.sections[i];
    if ((section.flags & KILN_SECTION_FLAG_LAZY_CHECKSUM) && !verifyLazy)
      continue;
    if (kiln_status status = verifySectionChecksum(view, i, origin, error))
      return status;
  }
  return KILN_OK;
}

const char *Verifier::stringProblem(kiln_string_ref ref) const {
  // The terminating NUL must be inside the section too.
  if (!rangeFits(ref.offset, uint64_t(ref.size) + 1, view.stringsSize))
    return "is outside the STRINGS section";
  const char *text = view.strings + ref.offset;
  for (uint32_t i = 0; i < ref.size; ++i)
    if (text[i] == '\0')
      return "contains a NUL byte";
  if (text[ref.size] != '\0')
    return "is not NUL-terminated";
  return nullptr;
}

kiln_status Verifier::verifyManifest() {
  const kiln_section_entry &stringsSection = view.sections[stringsIndex];
  view.strings = reinterpret_cast<const char *>(data + stringsSection.offset);
  view.stringsSize = stringsSection.size;
  const kiln_section_entry &weightsSection = view.sections[weightsIndex];
  view.weights = data + weightsSection.offset;
  view.weightsSize = weightsSection.size;

  const kiln_section_entry &section = view.sections[manifestIndex];
  if (section.size < sizeof(kiln_manifest_header)) {
    failIn(manifestIndex) << "size " << section.size
                          << " is smaller than the manifest header";
    return KILN_ERROR_INVALID_BUNDLE;
  }
  const auto *manifest =
      reinterpret_cast<const kiln_manifest_header *>(data + section.offset);
  uint64_t tensorCount =
      uint64_t(manifest->input_count) + manifest->output_count;
  if (tensorCount > (section.size - sizeof(kiln_manifest_header)) /
                        sizeof(kiln_tensor_desc)) {
    failIn(manifestIndex) << "input_count " << manifest->input_count
                          << " and output_count " << manifest->output_count
                          << " do not fit the section (" << section.size
                          << " bytes)";
    return KILN_ERROR_INVALID_BUNDLE;
  }
  if (!isPowerOfTwo(manifest->arena_alignment) ||
      manifest->arena_alignment > KILN_PAGE_ALIGNMENT) {
    failIn(manifestIndex) << "arena_alignment " << manifest->arena_alignment
                          << " is not a power of two up to "
                          << KILN_PAGE_ALIGNMENT;
    return KILN_ERROR_INVALID_BUNDLE;
  }
  if (knownMinor &&
      (manifest->reserved0 != 0 ||
       !allZero(manifest->reserved1, sizeof(manifest->reserved1)))) {
    failIn(manifestIndex) << "reserved fields are not zero";
    return KILN_ERROR_INVALID_BUNDLE;
  }
  struct NamedString {
    const char *field;
    kiln_string_ref ref;
  } manifestStrings[] = {{"model_name", manifest->model_name},
                         {"producer", manifest->producer}};
  for (const NamedString &named : manifestStrings)
    if (const char *problem = stringProblem(named.ref)) {
      failIn(manifestIndex)
          << named.field << " (string offset " << named.ref.offset << ", size "
          << named.ref.size << ") " << problem;
      return KILN_ERROR_INVALID_BUNDLE;
    }
  view.manifest = manifest;
  view.tensors = reinterpret_cast<const kiln_tensor_desc *>(
      data + section.offset + sizeof(kiln_manifest_header));

  for (uint32_t t = 0; t < tensorCount; ++t) {
    const kiln_tensor_desc &tensor = view.tensors[t];
    bool isInput = t < manifest->input_count;
    uint32_t index = isInput ? t : t - manifest->input_count;
    const char *role = isInput ? "input " : "output ";
    if (const char *problem = stringProblem(tensor.name)) {
      failIn(manifestIndex)
          << role << index << ": name (string offset " << tensor.name.offset
          << ", size " << tensor.name.size << ") " << problem;
      return KILN_ERROR_INVALID_BUNDLE;
    }
    auto failTensor = [&]() -> ErrorMessage & {
      return failIn(manifestIndex)
             << role << index << " '" << view.string(tensor.name) << "': ";
    };
    uint32_t elementSize = kiln_dtype_element_size(tensor.dtype);
    if (elementSize == 0) {
      failTensor() << "unknown dtype " << tensor.dtype;
      return KILN_ERROR_INVALID_BUNDLE;
    }
    if (tensor.rank > KILN_MAX_RANK) {
      failTensor() << "rank " << tensor.rank << " exceeds " << KILN_MAX_RANK;
      return KILN_ERROR_INVALID_BUNDLE;
    }
    uint64_t bytes = elementSize;
    bool overflow = false;
    for (uint32_t d = 0; d < KILN_MAX_RANK; ++d) {
      int64_t dim = tensor.dims[d];
      if (d >= tensor.rank) {
        if (dim != 0) {
          failTensor() << "dims[" << d << "] beyond the rank is not zero";
          return KILN_ERROR_INVALID_BUNDLE;
        }
        continue;
      }
      if (dim < 0) {
        failTensor() << "dims[" << d << "] is negative (" << dim << ")";
        return KILN_ERROR_INVALID_BUNDLE;
      }
      if (dim != 0 && bytes > UINT64_MAX / uint64_t(dim))
        overflow = true;
      else
        bytes *= uint64_t(dim);
    }
    if (overflow || bytes != tensor.size_bytes) {
      failTensor() << "size_bytes " << tensor.size_bytes
                   << " does not match its shape and dtype";
      return KILN_ERROR_INVALID_BUNDLE;
    }
    if (tensor.arena_offset % KILN_TENSOR_ALIGNMENT != 0) {
      failTensor() << "arena_offset " << tensor.arena_offset
                   << " is not a multiple of " << KILN_TENSOR_ALIGNMENT;
      return KILN_ERROR_INVALID_BUNDLE;
    }
    if (!rangeFits(tensor.arena_offset, tensor.size_bytes,
                   manifest->arena_size)) {
      failTensor() << "arena_offset " << tensor.arena_offset << " + size "
                   << tensor.size_bytes << " exceeds arena_size "
                   << manifest->arena_size;
      return KILN_ERROR_INVALID_BUNDLE;
    }
    // Tools address inputs and outputs by name.
    uint32_t groupBegin = isInput ? 0 : manifest->input_count;
    for (uint32_t other = groupBegin; other < t; ++other)
      if (view.tensors[other].name.size == tensor.name.size &&
          __builtin_memcmp(view.string(view.tensors[other].name),
                           view.string(tensor.name), tensor.name.size) == 0) {
        failTensor() << "duplicate name";
        return KILN_ERROR_INVALID_BUNDLE;
      }
  }
  return KILN_OK;
}

kiln_status Verifier::verifySchedule() {
  const kiln_section_entry &section = view.sections[scheduleIndex];
  if (section.size < sizeof(kiln_schedule_header)) {
    failIn(scheduleIndex) << "size " << section.size
                          << " is smaller than the schedule header";
    return KILN_ERROR_INVALID_BUNDLE;
  }
  const auto *schedule =
      reinterpret_cast<const kiln_schedule_header *>(data + section.offset);
  uint64_t needed =
      sizeof(kiln_schedule_header) +
      uint64_t(schedule->dispatch_count) * sizeof(kiln_dispatch_desc) +
      uint64_t(schedule->binding_count) * sizeof(kiln_binding_desc);
  if (needed > section.size) {
    failIn(scheduleIndex) << "dispatch_count " << schedule->dispatch_count
                          << " and binding_count " << schedule->binding_count
                          << " need " << needed << " bytes but the section has "
                          << section.size;
    return KILN_ERROR_INVALID_BUNDLE;
  }
  if (knownMinor && schedule->reserved != 0) {
    failIn(scheduleIndex) << "reserved field is not zero";
    return KILN_ERROR_INVALID_BUNDLE;
  }
  view.schedule = schedule;
  view.dispatches = reinterpret_cast<const kiln_dispatch_desc *>(
      data + section.offset + sizeof(kiln_schedule_header));
  view.bindings = reinterpret_cast<const kiln_binding_desc *>(
      data + section.offset + sizeof(kiln_schedule_header) +
      uint64_t(schedule->dispatch_count) * sizeof(kiln_dispatch_desc));

  for (uint32_t b = 0; b < schedule->binding_count; ++b) {
    const kiln_binding_desc &binding = view.bindings[b];
    uint64_t limit;
    const char *where;
    if (binding.kind == KILN_BUFFER_ARENA) {
      limit = view.manifest->arena_size;
      where = "arena_size";
    } else if (binding.kind == KILN_BUFFER_WEIGHTS) {
      limit = view.weightsSize;
      where = "the WEIGHTS section size";
    } else {
      failIn(scheduleIndex)
          << "binding " << b << ": unknown kind " << binding.kind;
      return KILN_ERROR_INVALID_BUNDLE;
    }
    // The access flags came with 1.6; before, the field was reserved.
    uint32_t knownAccess =
        view.header->version_minor >= 6
            ? KILN_ACCESS_READ | KILN_ACCESS_WRITE | KILN_ACCESS_SCRATCH
            : 0;
    if (knownMinor && (binding.access & ~knownAccess) != 0) {
      failIn(scheduleIndex)
          << "binding " << b << ": unknown access flags " << binding.access;
      return KILN_ERROR_INVALID_BUNDLE;
    }
    if (!rangeFits(binding.offset, binding.size, limit)) {
      failIn(scheduleIndex)
          << "binding " << b << ": offset " << binding.offset << " + size "
          << binding.size << " exceeds " << where << " (" << limit << ")";
      return KILN_ERROR_INVALID_BUNDLE;
    }
  }

  for (uint32_t d = 0; d < schedule->dispatch_count; ++d) {
    const kiln_dispatch_desc &dispatch = view.dispatches[d];
    if (const char *problem = stringProblem(dispatch.name)) {
      failIn(scheduleIndex) << "dispatch " << d << ": name (string offset "
                            << dispatch.name.offset << ", size "
                            << dispatch.name.size << ") " << problem;
      return KILN_ERROR_INVALID_BUNDLE;
    }
    auto failDispatch = [&]() -> ErrorMessage & {
      return failIn(scheduleIndex)
             << "dispatch " << d << " '" << view.string(dispatch.name) << "': ";
    };
    bool transfer = dispatch.flags & KILN_DISPATCH_FLAG_TRANSFER;
    if (!transfer && dispatch.entry >= schedule->entry_count) {
      failDispatch() << "entry " << dispatch.entry
                     << " is out of range (entry_count "
                     << schedule->entry_count << ")";
      return KILN_ERROR_INVALID_BUNDLE;
    }
    if (!rangeFits(dispatch.binding_first, dispatch.binding_count,
                   schedule->binding_count)) {
      failDispatch() << "bindings [" << dispatch.binding_first << ", +"
                     << dispatch.binding_count
                     << ") are out of range (binding_count "
                     << schedule->binding_count << ")";
      return KILN_ERROR_INVALID_BUNDLE;
    }
    // The flattened workgroup count is passed as int64_t.
    uint64_t workgroups =
        uint64_t(dispatch.workgroup_count[0]) * dispatch.workgroup_count[1];
    uint64_t z = dispatch.workgroup_count[2];
    if (z && workgroups > uint64_t(INT64_MAX) / z) {
      failDispatch() << "workgroup count overflows";
      return KILN_ERROR_INVALID_BUNDLE;
    }
    if (knownMinor &&
        (dispatch.flags & ~uint32_t(KILN_DISPATCH_FLAG_ELASTIC_WORKGROUPS |
                                    KILN_DISPATCH_FLAG_TRANSFER))) {
      failDispatch() << "unknown flags are set";
      return KILN_ERROR_INVALID_BUNDLE;
    }
    if (knownMinor && dispatch.device > KILN_DEVICE_CUDA) {
      failDispatch() << "unknown device " << dispatch.device;
      return KILN_ERROR_INVALID_BUNDLE;
    }
    if (transfer &&
        (dispatch.binding_count != 1 ||
         view.bindings[dispatch.binding_first].kind != KILN_BUFFER_ARENA ||
         dispatch.entry != 0 || dispatch.workgroup_count[0] != 0 ||
         dispatch.workgroup_count[1] != 0 || dispatch.workgroup_count[2] != 0 ||
         (dispatch.flags & KILN_DISPATCH_FLAG_ELASTIC_WORKGROUPS))) {
      failDispatch() << "a transfer needs one arena binding, entry 0 and no "
                        "grid";
      return KILN_ERROR_INVALID_BUNDLE;
    }
    if ((dispatch.flags & KILN_DISPATCH_FLAG_ELASTIC_WORKGROUPS) &&
        (dispatch.workgroup_count[1] != 1 ||
         dispatch.workgroup_count[2] != 1)) {
      failDispatch() << "elastic workgroups need a 1-D grid";
      return KILN_ERROR_INVALID_BUNDLE;
    }
  }
  return KILN_OK;
}

kiln_status Verifier::verifyDispatchInfo() {
  if (dispatchInfoIndex == kMaxSections)
    return KILN_OK;
  uint32_t index = dispatchInfoIndex;
  const kiln_section_entry &section = view.sections[index];
  if (section.size < sizeof(kiln_dispatch_info_header)) {
    failIn(index) << "size " << section.size
                  << " is smaller than the dispatch info header";
    return KILN_ERROR_INVALID_BUNDLE;
  }
  const auto *header = reinterpret_cast<const kiln_dispatch_info_header *>(
      data + section.offset);
  if (header->dispatch_count != view.schedule->dispatch_count) {
    failIn(index) << "dispatch_count " << header->dispatch_count
                  << " differs from the schedule's "
                  << view.schedule->dispatch_count;
    return KILN_ERROR_INVALID_BUNDLE;
  }
  uint64_t needed =
      sizeof(kiln_dispatch_info_header) +
      uint64_t(header->dispatch_count) * sizeof(kiln_dispatch_info);
  if (needed > section.size) {
    failIn(index) << "dispatch_count " << header->dispatch_count << " needs "
                  << needed << " bytes but the section has " << section.size;
    return KILN_ERROR_INVALID_BUNDLE;
  }
  if (knownMinor && header->reserved != 0) {
    failIn(index) << "reserved field is not zero";
    return KILN_ERROR_INVALID_BUNDLE;
  }
  const auto *infos = reinterpret_cast<const kiln_dispatch_info *>(header + 1);
  for (uint32_t d = 0; d < header->dispatch_count; ++d)
    if (const char *problem = stringProblem(infos[d].nodes)) {
      failIn(index) << "dispatch " << d << ": node names (string offset "
                    << infos[d].nodes.offset << ", size " << infos[d].nodes.size
                    << ") " << problem;
      return KILN_ERROR_INVALID_BUNDLE;
    }
  view.dispatchInfo = infos;
  return KILN_OK;
}

} // namespace

ErrorMessage &startError(ErrorMessage &error, const char *origin) {
  error.clear();
  if (origin)
    error << origin << ": ";
  return error;
}

ErrorMessage &startSectionError(ErrorMessage &error, const char *origin,
                                const BundleView &view, uint32_t index) {
  startError(error, origin) << "section " << index;
  if (view.sections && index < view.sectionCount) {
    const kiln_section_entry &section = view.sections[index];
    error << " (" << sectionKindName(section.kind);
    if (section.kind == KILN_SECTION_EXECUTABLE)
      error << " " << targetName(section.target);
    error << ")";
  }
  return error << ": ";
}

kiln_status verifyBundle(const uint8_t *data, uint64_t size, uint32_t flags,
                         const char *origin, BundleView &view,
                         ErrorMessage &error) {
  Verifier verifier(data, size, flags, origin, view, error);
  kiln_status status = verifier.run();
  if (status != KILN_OK)
    view = BundleView();
  return status;
}

kiln_status verifyLazyChecksums(const BundleView &view, const char *origin,
                                ErrorMessage &error) {
  for (uint32_t i = 0; i < view.sectionCount; ++i)
    if (view.sections[i].flags & KILN_SECTION_FLAG_LAZY_CHECKSUM)
      if (kiln_status status = verifySectionChecksum(view, i, origin, error))
        return status;
  return KILN_OK;
}

} // namespace kiln::runtime
