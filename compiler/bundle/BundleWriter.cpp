//===- BundleWriter.cpp - Kiln bundle writer ------------------------------===//
//
// Layout (bundle_format.h): header, section table, then MANIFEST, STRINGS,
// SCHEDULE, DISPATCH_INFO (64-byte aligned), WEIGHTS and one EXECUTABLE per
// target (page-aligned, so that a reader can map them without copying).
// Everything not written explicitly is zero, and nothing depends on
// addresses, hash iteration order or time, so identical contents give
// identical bytes.
//
//===----------------------------------------------------------------------===//

#include "compiler/bundle/BundleWriter.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <unordered_map>

namespace kiln::bundle {
namespace {

constexpr uint32_t kMetadataAlignment = 64;

uint64_t alignTo(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

template <typename T>
void appendStruct(std::vector<uint8_t> &out, const T &value) {
  const uint8_t *bytes = reinterpret_cast<const uint8_t *>(&value);
  out.insert(out.end(), bytes, bytes + sizeof(T));
}

/// Strings stored once each, in first-use order; offset 0 is "".
class StringTable {
public:
  StringTable() : bytes(1, '\0') { offsets.emplace("", 0); }

  kiln_string_ref intern(const std::string &text) {
    auto [it, inserted] =
        offsets.emplace(text, static_cast<uint32_t>(bytes.size()));
    if (inserted) {
      bytes.insert(bytes.end(), text.begin(), text.end());
      bytes.push_back('\0');
    }
    return {it->second, static_cast<uint32_t>(text.size())};
  }
  const std::vector<uint8_t> &data() const { return bytes; }

private:
  std::vector<uint8_t> bytes;
  std::unordered_map<std::string, uint32_t> offsets;
};

/// product(dims) * element size, or 0 when it does not fit in 64 bits.
uint64_t tensorBytes(const TensorSpec &spec) {
  uint64_t bytes = kiln_dtype_element_size(spec.dtype);
  for (int64_t dim : spec.dims) {
    if (dim < 0)
      return 0;
    if (dim != 0 && bytes > UINT64_MAX / uint64_t(dim))
      return 0;
    bytes *= uint64_t(dim);
  }
  return bytes;
}

kiln_tensor_desc makeTensorDesc(const TensorSpec &spec, StringTable &strings) {
  kiln_tensor_desc desc{};
  desc.name = strings.intern(spec.name);
  desc.dtype = spec.dtype;
  // validate() rejects higher ranks; clamp so serialize() stays in bounds.
  desc.rank = static_cast<uint32_t>(
      spec.dims.size() < KILN_MAX_RANK ? spec.dims.size() : KILN_MAX_RANK);
  for (uint32_t d = 0; d < desc.rank; ++d)
    desc.dims[d] = spec.dims[d];
  desc.arena_offset = spec.arenaOffset;
  desc.size_bytes = spec.sizeBytes ? spec.sizeBytes : tensorBytes(spec);
  return desc;
}

std::string errnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

} // namespace

uint64_t BundleWriter::addWeight(const void *data, uint64_t size) {
  if (size == 0)
    return 0; // any in-bounds offset describes an empty range
  uint32_t crc = kiln_crc32(0, data, size);
  for (const auto &[hash, offset, storedSize] : weightIndex)
    if (hash == crc && storedSize == size &&
        std::memcmp(weights.data() + offset, data, size) == 0)
      return offset;
  uint64_t offset = alignTo(weights.size(), KILN_TENSOR_ALIGNMENT);
  weights.resize(offset, 0);
  const uint8_t *bytes = static_cast<const uint8_t *>(data);
  weights.insert(weights.end(), bytes, bytes + size);
  weightIndex.push_back({crc, offset, size});
  return offset;
}

bool BundleWriter::validate(std::string &error) const {
  auto checkTensors = [&](const std::vector<TensorSpec> &tensors,
                          const char *role) {
    for (size_t i = 0; i < tensors.size(); ++i) {
      const TensorSpec &spec = tensors[i];
      std::string where =
          std::string(role) + " " + std::to_string(i) + " '" + spec.name + "'";
      for (size_t j = 0; j < i; ++j)
        if (tensors[j].name == spec.name) {
          error = where + ": duplicate name";
          return false;
        }
      if (spec.name.find('\0') != std::string::npos) {
        error = where + ": name contains a NUL character";
        return false;
      }
      if (kiln_dtype_element_size(spec.dtype) == 0) {
        error = where + ": unknown dtype " + std::to_string(spec.dtype);
        return false;
      }
      if (spec.dims.size() > KILN_MAX_RANK) {
        error = where + ": rank " + std::to_string(spec.dims.size()) +
                " exceeds " + std::to_string(KILN_MAX_RANK);
        return false;
      }
      for (int64_t dim : spec.dims)
        if (dim < 0) {
          error = where + ": negative dimension " + std::to_string(dim);
          return false;
        }
      uint64_t bytes = tensorBytes(spec);
      bool empty = false;
      for (int64_t dim : spec.dims)
        empty |= dim == 0;
      if ((bytes == 0 && !empty) ||
          (spec.sizeBytes && spec.sizeBytes != bytes)) {
        error = where + ": sizeBytes " + std::to_string(spec.sizeBytes) +
                " does not match its shape and dtype (" +
                std::to_string(bytes) + " bytes)";
        return false;
      }
      if (spec.arenaOffset % KILN_TENSOR_ALIGNMENT != 0 ||
          spec.arenaOffset > arenaSize ||
          bytes > arenaSize - spec.arenaOffset) {
        error = where + ": arena range [" + std::to_string(spec.arenaOffset) +
                ", +" + std::to_string(bytes) +
                ") is misaligned or exceeds the arena (" +
                std::to_string(arenaSize) + " bytes)";
        return false;
      }
    }
    return true;
  };
  if (!checkTensors(inputs, "input") || !checkTensors(outputs, "output"))
    return false;

  for (size_t d = 0; d < dispatches.size(); ++d) {
    const Dispatch &dispatch = dispatches[d];
    std::string where =
        "dispatch " + std::to_string(d) + " '" + dispatch.name + "'";
    bool transfer = dispatch.flags & KILN_DISPATCH_FLAG_TRANSFER;
    if (transfer && (dispatch.bindings.size() != 1 ||
                     dispatch.bindings[0].kind != KILN_BUFFER_ARENA)) {
      error = where + ": a transfer needs one arena binding";
      return false;
    }
    if (!transfer && dispatch.entry >= entryCount) {
      error = where + ": entry " + std::to_string(dispatch.entry) +
              " is out of range (entry count " + std::to_string(entryCount) +
              ")";
      return false;
    }
    uint64_t workgroups =
        uint64_t(dispatch.workgroupCount[0]) * dispatch.workgroupCount[1];
    if (dispatch.workgroupCount[2] &&
        workgroups > uint64_t(INT64_MAX) / dispatch.workgroupCount[2]) {
      error = where + ": workgroup count overflows";
      return false;
    }
    for (size_t b = 0; b < dispatch.bindings.size(); ++b) {
      const Binding &binding = dispatch.bindings[b];
      uint64_t limit;
      if (binding.kind == KILN_BUFFER_ARENA) {
        limit = arenaSize;
      } else if (binding.kind == KILN_BUFFER_WEIGHTS) {
        limit = weights.size();
      } else {
        error = where + ": binding " + std::to_string(b) + " has unknown kind";
        return false;
      }
      if (binding.offset > limit || binding.size > limit - binding.offset) {
        error = where + ": binding " + std::to_string(b) + " [" +
                std::to_string(binding.offset) + ", +" +
                std::to_string(binding.size) + ") exceeds the " +
                (binding.kind == KILN_BUFFER_ARENA ? "arena" : "weights") +
                " (" + std::to_string(limit) + " bytes)";
        return false;
      }
    }
  }

  if (executables.empty() && !codeLinked) {
    error = "no executable";
    return false;
  }
  for (size_t i = 0; i < executables.size(); ++i) {
    if (executables[i].target == KILN_TARGET_NONE) {
      error = "executable " + std::to_string(i) + " has no target";
      return false;
    }
    for (size_t j = 0; j < i; ++j)
      if (executables[j].target == executables[i].target) {
        error = "two executables for target " +
                std::to_string(executables[i].target);
        return false;
      }
  }
  return true;
}

void BundleWriter::layOut(
    const std::function<void(uint64_t, const std::vector<FilePiece> &)> &use)
    const {
  StringTable strings;

  std::vector<uint8_t> manifest;
  {
    kiln_manifest_header header{};
    header.arena_size = arenaSize;
    header.arena_alignment = KILN_TENSOR_ALIGNMENT;
    header.input_count = static_cast<uint32_t>(inputs.size());
    header.output_count = static_cast<uint32_t>(outputs.size());
    header.model_name = strings.intern(modelName);
    header.producer = strings.intern(producer);
    appendStruct(manifest, header);
    for (const TensorSpec &spec : inputs)
      appendStruct(manifest, makeTensorDesc(spec, strings));
    for (const TensorSpec &spec : outputs)
      appendStruct(manifest, makeTensorDesc(spec, strings));
  }

  std::vector<uint8_t> schedule;
  {
    kiln_schedule_header header{};
    header.dispatch_count = static_cast<uint32_t>(dispatches.size());
    header.entry_count = entryCount;
    std::vector<kiln_binding_desc> bindings;
    std::vector<kiln_dispatch_desc> dispatchDescs;
    for (const Dispatch &dispatch : dispatches) {
      kiln_dispatch_desc desc{};
      desc.name = strings.intern(dispatch.name);
      desc.entry = dispatch.entry;
      desc.binding_first = static_cast<uint32_t>(bindings.size());
      desc.binding_count = static_cast<uint32_t>(dispatch.bindings.size());
      for (int i = 0; i < 3; ++i)
        desc.workgroup_count[i] = dispatch.workgroupCount[i];
      desc.flags = dispatch.flags;
      desc.device = dispatch.device;
      dispatchDescs.push_back(desc);
      for (const Binding &binding : dispatch.bindings) {
        kiln_binding_desc bindingDesc{};
        bindingDesc.kind = binding.kind;
        bindingDesc.access = binding.access;
        bindingDesc.offset = binding.offset;
        bindingDesc.size = binding.size;
        bindings.push_back(bindingDesc);
      }
    }
    header.binding_count = static_cast<uint32_t>(bindings.size());
    appendStruct(schedule, header);
    for (const kiln_dispatch_desc &desc : dispatchDescs)
      appendStruct(schedule, desc);
    for (const kiln_binding_desc &desc : bindings)
      appendStruct(schedule, desc);
  }

  std::vector<uint8_t> dispatchInfo;
  {
    kiln_dispatch_info_header header{};
    header.dispatch_count = static_cast<uint32_t>(dispatches.size());
    appendStruct(dispatchInfo, header);
    for (const Dispatch &dispatch : dispatches) {
      kiln_dispatch_info info{};
      info.flops = dispatch.flops;
      info.nodes = strings.intern(dispatch.nodes);
      appendStruct(dispatchInfo, info);
    }
  }

  struct PendingSection {
    kiln_section_kind kind;
    uint32_t alignment;
    uint32_t flags;
    kiln_target target;
    const std::vector<uint8_t> *bytes;
  };
  std::vector<PendingSection> pending = {
      {KILN_SECTION_MANIFEST, kMetadataAlignment, 0, KILN_TARGET_NONE,
       &manifest},
      {KILN_SECTION_STRINGS, kMetadataAlignment, 0, KILN_TARGET_NONE,
       &strings.data()},
      {KILN_SECTION_SCHEDULE, kMetadataAlignment, 0, KILN_TARGET_NONE,
       &schedule},
      {KILN_SECTION_DISPATCH_INFO, kMetadataAlignment, 0, KILN_TARGET_NONE,
       &dispatchInfo},
      {KILN_SECTION_WEIGHTS, KILN_PAGE_ALIGNMENT,
       KILN_SECTION_FLAG_LAZY_CHECKSUM, KILN_TARGET_NONE, &weights},
  };
  for (const Executable &executable : executables)
    pending.push_back({KILN_SECTION_EXECUTABLE, KILN_PAGE_ALIGNMENT, 0,
                       executable.target, &executable.image});

  uint64_t tableOffset = sizeof(kiln_bundle_header);
  uint64_t offset = tableOffset + pending.size() * sizeof(kiln_section_entry);
  std::vector<kiln_section_entry> table;
  for (const PendingSection &section : pending) {
    offset = alignTo(offset, section.alignment);
    kiln_section_entry entry{};
    entry.kind = section.kind;
    entry.alignment = section.alignment;
    entry.offset = offset;
    entry.size = section.bytes->size();
    entry.checksum =
        kiln_crc32(0, section.bytes->data(), section.bytes->size());
    entry.flags = section.flags;
    entry.target = section.target;
    table.push_back(entry);
    offset += entry.size;
  }

  kiln_bundle_header header{};
  std::memcpy(header.magic, KILN_BUNDLE_MAGIC, sizeof(header.magic));
  header.version_major = KILN_BUNDLE_VERSION_MAJOR;
  header.version_minor = KILN_BUNDLE_VERSION_MINOR;
  header.header_size = sizeof(kiln_bundle_header);
  header.flags = codeLinked ? KILN_BUNDLE_FLAG_CODE_LINKED : 0;
  header.file_size = offset;
  header.section_count = static_cast<uint32_t>(table.size());
  header.section_table_offset = static_cast<uint32_t>(tableOffset);
  // Checksummed with header_checksum still 0, as readers recompute it.
  uint32_t crc = kiln_crc32(0, &header, sizeof(header));
  header.header_checksum =
      kiln_crc32(crc, table.data(), table.size() * sizeof(kiln_section_entry));

  std::vector<FilePiece> pieces = {
      {0, &header, sizeof(header)},
      {tableOffset, table.data(), table.size() * sizeof(kiln_section_entry)}};
  for (size_t i = 0; i < pending.size(); ++i)
    pieces.push_back(
        {table[i].offset, pending[i].bytes->data(), pending[i].bytes->size()});
  use(offset, pieces);
}

std::vector<uint8_t> BundleWriter::serialize() const {
  std::vector<uint8_t> file;
  layOut([&](uint64_t size, const std::vector<FilePiece> &pieces) {
    file.assign(size, 0);
    for (const FilePiece &piece : pieces)
      if (piece.size)
        std::memcpy(file.data() + piece.offset, piece.data, piece.size);
  });
  return file;
}

bool BundleWriter::writeFile(const std::string &path,
                             std::string &error) const {
  std::string invalid;
  if (!validate(invalid)) {
    error = "cannot write '" + path + "': " + invalid;
    return false;
  }
  // Straight from the sections into the file: no image of the whole file
  // in memory (for resnet50's 100 MB of weights, a zeroed buffer and a copy
  // cost a tenth of the compile).
  bool written = false;
  layOut([&](uint64_t size, const std::vector<FilePiece> &pieces) {
    written = writeFileAtomically(path, size, pieces, error);
  });
  return written;
}

bool writeFileAtomically(const std::string &path, const void *bytes,
                         size_t size, std::string &error) {
  return writeFileAtomically(path, size, {{0, bytes, size}}, error);
}

bool writeFileAtomically(const std::string &path, uint64_t size,
                         const std::vector<FilePiece> &pieces,
                         std::string &error) {
  // The temporary lives next to `path` so that rename() replaces it
  // atomically (same file system): readers see the old file or the new one.
  std::string tempPath = path + ".tmpXXXXXX";
  int fd = mkstemp(tempPath.data());
  if (fd < 0) {
    error = "cannot create a temporary file for '" + path +
            "': " + errnoText(errno);
    return false;
  }
  auto failWith = [&](const char *what, int savedErrno) {
    if (fd >= 0)
      close(fd);
    unlink(tempPath.c_str());
    error = std::string(what) + " '" + path + "': " + errnoText(savedErrno);
    return false;
  };
  // mkstemp creates the file 0600; outputs are ordinary readable files.
  if (fchmod(fd, 0644) != 0)
    return failWith("cannot set the permissions of", errno);
  // Gaps between the pieces read as zeros: the file is extended to `size`
  // first, and each piece written at its offset.
  if (ftruncate(fd, static_cast<off_t>(size)) != 0)
    return failWith("cannot write", errno);
  for (const FilePiece &piece : pieces) {
    const uint8_t *data = static_cast<const uint8_t *>(piece.data);
    uint64_t offset = piece.offset, remaining = piece.size;
    while (remaining > 0) {
      ssize_t written = pwrite(fd, data, remaining, static_cast<off_t>(offset));
      if (written < 0) {
        if (errno == EINTR)
          continue;
        return failWith("cannot write", errno);
      }
      data += written;
      offset += static_cast<uint64_t>(written);
      remaining -= static_cast<uint64_t>(written);
    }
  }
  int closeResult = close(fd);
  fd = -1;
  if (closeResult != 0)
    return failWith("cannot write", errno);
  if (std::rename(tempPath.c_str(), path.c_str()) != 0)
    return failWith("cannot rename the temporary file onto", errno);
  return true;
}

} // namespace kiln::bundle
