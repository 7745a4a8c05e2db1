//===- BundleCorruptionTest.cpp - Bad bundles fail cleanly ----------------===//
//
// Truncated files, flipped bytes, and fields corrupted behind valid checksums
// (resealed) must all give an error status and a message, never a crash.
//
//===----------------------------------------------------------------------===//

#include "TestSupport.h"

#include <functional>
#include <gtest/gtest.h>
#include <random>

using namespace kiln::test;

namespace {

class BundleCorruption : public ::testing::Test {
protected:
  void SetUp() override { bytes = buildAddBundle(); }
  std::vector<uint8_t> bytes;
};

TEST_F(BundleCorruption, TruncatedAtEveryLength) {
  ASSERT_EQ(openBytes(bytes), KILN_OK) << kiln_last_error();
  AlignedBytes aligned(bytes);
  for (size_t length = 0; length < bytes.size(); ++length) {
    kiln_model *model = nullptr;
    kiln_status status =
        kiln_model_open_memory(aligned.data(), length, 0, &model);
    ASSERT_EQ(status, KILN_ERROR_INVALID_BUNDLE) << "length " << length;
    ASSERT_EQ(model, nullptr);
    ASSERT_STRNE(kiln_last_error(), "");
  }
}

TEST_F(BundleCorruption, TruncatedFiles) {
  TempDir dir;
  for (size_t length :
       {size_t(0), size_t(1), size_t(12), size_t(63), size_t(64), size_t(200),
        size_t(4096), bytes.size() - 1}) {
    std::string path = dir.file("truncated.kiln");
    writeFileBytes(path,
                   std::vector<uint8_t>(bytes.begin(), bytes.begin() + length));
    kiln_model *model = nullptr;
    EXPECT_EQ(kiln_model_open_file(path.c_str(), 0, &model),
              KILN_ERROR_INVALID_BUNDLE)
        << length;
    EXPECT_EQ(model, nullptr);
    // Messages about a file name the file.
    EXPECT_NE(std::string(kiln_last_error()).find(path), std::string::npos)
        << kiln_last_error();
  }
}

TEST_F(BundleCorruption, ExtendedFile) {
  bytes.push_back(0);
  EXPECT_EQ(openBytes(bytes), KILN_ERROR_INVALID_BUNDLE);
  EXPECT_NE(std::string(kiln_last_error()).find("file_size"),
            std::string::npos);
}

TEST_F(BundleCorruption, FlippedHeaderAndTableBytes) {
  auto header = readAt<kiln_bundle_header>(bytes, 0);
  size_t end = header.section_table_offset +
               header.section_count * sizeof(kiln_section_entry);
  for (size_t at = 0; at < end; ++at) {
    std::vector<uint8_t> corrupted = bytes;
    corrupted[at] ^= 0x10;
    kiln_status status = openBytes(corrupted);
    bool versionByte = at == offsetof(kiln_bundle_header, version_major) ||
                       at == offsetof(kiln_bundle_header, version_major) + 1;
    EXPECT_EQ(status,
              versionByte ? KILN_ERROR_UNSUPPORTED : KILN_ERROR_INVALID_BUNDLE)
        << "byte " << at;
  }
}

TEST_F(BundleCorruption, FlippedSectionBytes) {
  BundleLayout layout(bytes);
  for (size_t i = 0; i < layout.sections.size(); ++i) {
    const kiln_section_entry &section = layout.sections[i];
    for (uint64_t at : {section.offset, section.offset + section.size / 2,
                        section.offset + section.size - 1}) {
      std::vector<uint8_t> corrupted = bytes;
      corrupted[at] ^= 0x01;
      if (section.kind == KILN_SECTION_WEIGHTS) {
        // Lazy: not read at open, caught when asked for.
        EXPECT_EQ(openBytes(corrupted), KILN_OK);
        EXPECT_EQ(openBytes(corrupted, KILN_OPEN_VERIFY_WEIGHTS),
                  KILN_ERROR_INVALID_BUNDLE);
      } else {
        EXPECT_EQ(openBytes(corrupted), KILN_ERROR_INVALID_BUNDLE)
            << "section " << i << " byte " << at;
      }
      std::string message = kiln_last_error();
      EXPECT_NE(message.find("section " + std::to_string(i)), std::string::npos)
          << message;
      EXPECT_NE(message.find("checksum mismatch"), std::string::npos)
          << message;
    }
  }
}

// A flipped weight is not read at open but fails the first session (and
// every later one), naming the WEIGHTS section; KILN_OPEN_TRUST_WEIGHTS
// skips the check.
TEST_F(BundleCorruption, FlippedWeightFailsTheFirstSession) {
  const kiln_section_entry weights =
      BundleLayout(bytes).section(KILN_SECTION_WEIGHTS);
  ASSERT_GT(weights.size, 0u);
  bytes[weights.offset + weights.size / 2] ^= 0x01;
  TempDir dir;
  std::string path = dir.file("flipped.kiln");
  writeFileBytes(path, bytes);

  kiln_model *model = nullptr;
  ASSERT_EQ(kiln_model_open_file(path.c_str(), 0, &model), KILN_OK)
      << kiln_last_error();
  for (int attempt = 0; attempt < 2; ++attempt) {
    kiln_session *session = nullptr;
    EXPECT_EQ(kiln_session_create(model, nullptr, &session),
              KILN_ERROR_INVALID_BUNDLE);
    EXPECT_EQ(session, nullptr);
    std::string message = kiln_last_error();
    EXPECT_NE(message.find("flipped.kiln: section"), std::string::npos)
        << message;
    EXPECT_NE(message.find("(WEIGHTS"), std::string::npos) << message;
    EXPECT_NE(message.find("checksum mismatch"), std::string::npos) << message;
  }
  kiln_model_close(model);

  ASSERT_EQ(kiln_model_open_file(path.c_str(), KILN_OPEN_TRUST_WEIGHTS, &model),
            KILN_OK);
  kiln_session *session = nullptr;
  EXPECT_EQ(kiln_session_create(model, nullptr, &session), KILN_OK)
      << kiln_last_error();
  kiln_session_destroy(session);
  kiln_model_close(model);
}

TEST_F(BundleCorruption, OtherMajorVersionIsUnsupported) {
  writeAt<uint16_t>(bytes, offsetof(kiln_bundle_header, version_major), 2);
  EXPECT_EQ(openBytes(bytes), KILN_ERROR_UNSUPPORTED);
  std::string message = kiln_last_error();
  std::string version =
      "version 2." + std::to_string(KILN_BUNDLE_VERSION_MINOR);
  EXPECT_NE(message.find(version), std::string::npos) << message;
  EXPECT_NE(message.find("reads version 1"), std::string::npos) << message;
}

TEST_F(BundleCorruption, NewerMinorVersionIsAccepted) {
  writeAt<uint16_t>(bytes, offsetof(kiln_bundle_header, version_minor), 7);
  resealBundle(bytes);
  EXPECT_EQ(openBytes(bytes), KILN_OK) << kiln_last_error();
}

// A bundle whose reader skips its DISPATCH_INFO section (here: the section
// of a kind it does not know, as a 1.3 reader sees a 1.4 bundle) runs and
// reports no nodes and no work.
TEST_F(BundleCorruption, SkippedDispatchInfoReadsAsUnknown) {
  auto header = readAt<kiln_bundle_header>(bytes, 0);
  for (uint32_t i = 0; i < header.section_count; ++i) {
    size_t at = header.section_table_offset + i * sizeof(kiln_section_entry);
    if (readAt<kiln_section_entry>(bytes, at).kind ==
        KILN_SECTION_DISPATCH_INFO)
      writeAt<uint32_t>(bytes, at + offsetof(kiln_section_entry, kind), 99);
  }
  resealBundle(bytes);
  AlignedBytes aligned(bytes);
  kiln_model *model = nullptr;
  ASSERT_EQ(kiln_model_open_memory(aligned.data(), aligned.size(), 0, &model),
            KILN_OK)
      << kiln_last_error();
  EXPECT_STREQ(kiln_model_dispatch_nodes(model, 0), "");
  EXPECT_EQ(kiln_model_dispatch_flops(model, 0), 0u);
  kiln_model_close(model);
}

struct FieldCorruption {
  const char *name;
  std::function<void(std::vector<uint8_t> &, const BundleLayout &)> corrupt;
  const char *expectedMessage;
  kiln_status expectedStatus = KILN_ERROR_INVALID_BUNDLE;
};

// Offsets into the AddModel bundle's structs.
size_t tensorAt(const BundleLayout &layout, size_t index) {
  return layout.sectionOffset(KILN_SECTION_MANIFEST) +
         sizeof(kiln_manifest_header) + index * sizeof(kiln_tensor_desc);
}
size_t dispatchAt(const BundleLayout &layout, size_t index) {
  return layout.sectionOffset(KILN_SECTION_SCHEDULE) +
         sizeof(kiln_schedule_header) + index * sizeof(kiln_dispatch_desc);
}
size_t bindingAt(const BundleLayout &layout, size_t index) {
  return dispatchAt(layout, 2) + index * sizeof(kiln_binding_desc);
}
size_t sectionEntryAt(const std::vector<uint8_t> &bytes, uint32_t kind) {
  auto header = readAt<kiln_bundle_header>(bytes, 0);
  for (uint32_t i = 0; i < header.section_count; ++i) {
    size_t at = header.section_table_offset + i * sizeof(kiln_section_entry);
    if (readAt<kiln_section_entry>(bytes, at).kind == kind)
      return at;
  }
  return 0;
}
template <typename T>
void setField(std::vector<uint8_t> &bytes, size_t structAt, size_t field,
              T value) {
  writeAt(bytes, structAt + field, value);
}

const FieldCorruption kFieldCorruptions[] = {
    {"BadMagic", [](auto &b, auto &) { b[0] = 'X'; }, "bad magic"},
    {"HeaderSize",
     [](auto &b, auto &) {
       setField<uint32_t>(b, 0, offsetof(kiln_bundle_header, header_size), 128);
     },
     "header_size"},
    {"HeaderFlags",
     [](auto &b, auto &) {
       setField<uint32_t>(b, 0, offsetof(kiln_bundle_header, flags), 2);
     },
     "unknown flags"},
    // A bundle with executables cannot claim its code is linked elsewhere.
    {"HeaderCodeLinkedWithExecutables",
     [](auto &b, auto &) {
       setField<uint32_t>(b, 0, offsetof(kiln_bundle_header, flags),
                          KILN_BUNDLE_FLAG_CODE_LINKED);
     },
     "EXECUTABLE sections in a bundle whose code is linked"},
    {"HeaderReserved",
     [](auto &b, auto &) { b[offsetof(kiln_bundle_header, reserved) + 3] = 1; },
     "reserved"},
    {"SectionCount",
     [](auto &b, auto &) {
       setField<uint32_t>(b, 0, offsetof(kiln_bundle_header, section_count),
                          100000);
     },
     "section_count"},
    {"SectionTableOutOfFile",
     [](auto &b, auto &) {
       setField<uint32_t>(b, 0,
                          offsetof(kiln_bundle_header, section_table_offset),
                          0xFFFFFFF8u);
     },
     "section table"},
    {"SectionAlignmentNotPowerOfTwo",
     [](auto &b, auto &) {
       setField<uint32_t>(b, sectionEntryAt(b, KILN_SECTION_STRINGS),
                          offsetof(kiln_section_entry, alignment), 3);
     },
     "section 1 (STRINGS): alignment 3 is not a power of two"},
    {"SectionMisaligned",
     [](auto &b, auto &layout) {
       setField<uint64_t>(b, sectionEntryAt(b, KILN_SECTION_STRINGS),
                          offsetof(kiln_section_entry, offset),
                          layout.sectionOffset(KILN_SECTION_STRINGS) + 1);
     },
     "is not a multiple of its alignment"},
    {"SectionPastEndOfFile",
     [](auto &b, auto &) {
       setField<uint64_t>(b, sectionEntryAt(b, KILN_SECTION_EXECUTABLE),
                          offsetof(kiln_section_entry, size), 1ull << 62);
     },
     "extend past the end of the file"},
    {"SectionSizeOverflows",
     [](auto &b, auto &) {
       setField<uint64_t>(b, sectionEntryAt(b, KILN_SECTION_EXECUTABLE),
                          offsetof(kiln_section_entry, size), ~0ull);
     },
     "extend past the end of the file"},
    {"SectionOverHeader",
     [](auto &b, auto &) {
       setField<uint64_t>(b, sectionEntryAt(b, KILN_SECTION_STRINGS),
                          offsetof(kiln_section_entry, offset), 0);
     },
     "overlap the header"},
    {"SectionsOverlap",
     [](auto &b, auto &layout) {
       setField<uint64_t>(b, sectionEntryAt(b, KILN_SECTION_STRINGS),
                          offsetof(kiln_section_entry, offset),
                          layout.sectionOffset(KILN_SECTION_MANIFEST));
     },
     "overlaps section 0"},
    {"MissingWeights",
     [](auto &b, auto &) {
       setField<uint32_t>(b, sectionEntryAt(b, KILN_SECTION_WEIGHTS),
                          offsetof(kiln_section_entry, kind), 99);
     },
     "expected exactly one WEIGHTS section, found 0"},
    {"TwoManifests",
     [](auto &b, auto &) {
       setField<uint32_t>(b, sectionEntryAt(b, KILN_SECTION_STRINGS),
                          offsetof(kiln_section_entry, kind),
                          KILN_SECTION_MANIFEST);
     },
     "expected exactly one MANIFEST section, found 2"},
    {"LazyScheduleChecksum",
     [](auto &b, auto &) {
       setField<uint32_t>(b, sectionEntryAt(b, KILN_SECTION_SCHEDULE),
                          offsetof(kiln_section_entry, flags),
                          KILN_SECTION_FLAG_LAZY_CHECKSUM);
     },
     "only the WEIGHTS section may have a lazy checksum"},
    {"ExecutableWithoutTarget",
     [](auto &b, auto &) {
       setField<uint32_t>(b, sectionEntryAt(b, KILN_SECTION_EXECUTABLE),
                          offsetof(kiln_section_entry, target), 0);
     },
     "executable has no target"},
    {"TargetOnManifest",
     [](auto &b, auto &) {
       setField<uint32_t>(b, sectionEntryAt(b, KILN_SECTION_MANIFEST),
                          offsetof(kiln_section_entry, target), 1);
     },
     "not EXECUTABLE"},
    {"TensorCountTooLarge",
     [](auto &b, auto &layout) {
       setField<uint32_t>(b, layout.sectionOffset(KILN_SECTION_MANIFEST),
                          offsetof(kiln_manifest_header, input_count),
                          0xFFFFFFFFu);
     },
     "do not fit the section"},
    {"ArenaAlignment",
     [](auto &b, auto &layout) {
       setField<uint32_t>(b, layout.sectionOffset(KILN_SECTION_MANIFEST),
                          offsetof(kiln_manifest_header, arena_alignment), 48);
     },
     "arena_alignment 48"},
    {"ModelNameOutOfStrings",
     [](auto &b, auto &layout) {
       setField<uint32_t>(b, layout.sectionOffset(KILN_SECTION_MANIFEST),
                          offsetof(kiln_manifest_header, model_name),
                          0xFFFFFFF0u);
     },
     "model_name (string offset 4294967280, size 9) is outside the STRINGS"},
    {"StringNotTerminated",
     [](auto &b, auto &layout) {
       auto manifest = readAt<kiln_manifest_header>(
           b, layout.sectionOffset(KILN_SECTION_MANIFEST));
       b[layout.sectionOffset(KILN_SECTION_STRINGS) +
         manifest.model_name.offset + manifest.model_name.size] = 'X';
     },
     "is not NUL-terminated"},
    {"StringWithNul",
     [](auto &b, auto &layout) {
       auto manifest = readAt<kiln_manifest_header>(
           b, layout.sectionOffset(KILN_SECTION_MANIFEST));
       b[layout.sectionOffset(KILN_SECTION_STRINGS) +
         manifest.model_name.offset + 2] = '\0';
     },
     "contains a NUL byte"},
    {"UnknownDtype",
     [](auto &b, auto &layout) {
       setField<uint32_t>(b, tensorAt(layout, 0),
                          offsetof(kiln_tensor_desc, dtype), 8);
     },
     "input 0 'a': unknown dtype 8"},
    {"RankTooLarge",
     [](auto &b, auto &layout) {
       setField<uint32_t>(b, tensorAt(layout, 1),
                          offsetof(kiln_tensor_desc, rank), 9);
     },
     "input 1 'b': rank 9 exceeds 8"},
    {"NegativeDim",
     [](auto &b, auto &layout) {
       setField<int64_t>(b, tensorAt(layout, 2),
                         offsetof(kiln_tensor_desc, dims), -4);
     },
     "output 0 'y': dims[0] is negative"},
    {"DimBeyondRank",
     [](auto &b, auto &layout) {
       setField<int64_t>(b, tensorAt(layout, 0),
                         offsetof(kiln_tensor_desc, dims) + 8 * 3, 2);
     },
     "dims[3] beyond the rank"},
    {"SizeMismatch",
     [](auto &b, auto &layout) {
       setField<uint64_t>(b, tensorAt(layout, 0),
                          offsetof(kiln_tensor_desc, size_bytes), 4);
     },
     "size_bytes 4 does not match"},
    {"HugeDimsOverflow",
     [](auto &b, auto &layout) {
       for (int d = 0; d < 8; ++d)
         setField<int64_t>(b, tensorAt(layout, 0),
                           offsetof(kiln_tensor_desc, dims) + 8 * d, INT64_MAX);
       setField<uint32_t>(b, tensorAt(layout, 0),
                          offsetof(kiln_tensor_desc, rank), 8);
     },
     "does not match its shape"},
    {"ArenaOffsetMisaligned",
     [](auto &b, auto &layout) {
       setField<uint64_t>(b, tensorAt(layout, 0),
                          offsetof(kiln_tensor_desc, arena_offset), 8);
     },
     "arena_offset 8 is not a multiple of 64"},
    {"TensorOutsideArena",
     [](auto &b, auto &layout) {
       setField<uint64_t>(b, tensorAt(layout, 2),
                          offsetof(kiln_tensor_desc, arena_offset),
                          ~uint64_t(63));
     },
     "exceeds arena_size"},
    {"DuplicateInputName",
     [](auto &b, auto &layout) {
       auto first = readAt<kiln_tensor_desc>(b, tensorAt(layout, 0));
       setField(b, tensorAt(layout, 1), offsetof(kiln_tensor_desc, name),
                first.name);
     },
     "duplicate name"},
    {"ScheduleCountsTooLarge",
     [](auto &b, auto &layout) {
       setField<uint32_t>(b, layout.sectionOffset(KILN_SECTION_SCHEDULE),
                          offsetof(kiln_schedule_header, binding_count),
                          0x7FFFFFFF);
     },
     "SCHEDULE): dispatch_count 2 and binding_count 2147483647"},
    {"EntryOutOfRange",
     [](auto &b, auto &layout) {
       setField<uint32_t>(b, dispatchAt(layout, 1),
                          offsetof(kiln_dispatch_desc, entry), 2);
     },
     "dispatch 1 'scale': entry 2 is out of range (entry_count 2)"},
    {"BindingRangeOutOfRange",
     [](auto &b, auto &layout) {
       setField<uint32_t>(b, dispatchAt(layout, 1),
                          offsetof(kiln_dispatch_desc, binding_first),
                          0xFFFFFFFEu);
     },
     "bindings [4294967294, +4) are out of range"},
    {"WorkgroupCountOverflows",
     [](auto &b, auto &layout) {
       for (int i = 0; i < 3; ++i)
         setField<uint32_t>(b, dispatchAt(layout, 0),
                            offsetof(kiln_dispatch_desc, workgroup_count) +
                                4 * i,
                            0xFFFFFFFFu);
     },
     "workgroup count overflows"},
    {"BindingKind",
     [](auto &b, auto &layout) {
       setField<uint32_t>(b, bindingAt(layout, 0),
                          offsetof(kiln_binding_desc, kind), 7);
     },
     "binding 0: unknown kind 7"},
    {"BindingOutsideArena",
     [](auto &b, auto &layout) {
       setField<uint64_t>(b, bindingAt(layout, 2),
                          offsetof(kiln_binding_desc, offset), 1ull << 40);
     },
     "binding 2: offset 1099511627776 + size 4000 exceeds arena_size"},
    {"BindingOutsideWeights",
     [](auto &b, auto &layout) {
       setField<uint64_t>(b, bindingAt(layout, 3),
                          offsetof(kiln_binding_desc, size), ~0ull);
     },
     "exceeds the WEIGHTS section size"},
    {"EntryCountMismatch",
     [](auto &b, auto &layout) {
       setField<uint32_t>(b, layout.sectionOffset(KILN_SECTION_SCHEDULE),
                          offsetof(kiln_schedule_header, entry_count), 3);
     },
     "executable has 2 entries, the schedule expects 3"},
    {"DispatchInfoCountMismatch",
     [](auto &b, auto &layout) {
       setField<uint32_t>(b, layout.sectionOffset(KILN_SECTION_DISPATCH_INFO),
                          offsetof(kiln_dispatch_info_header, dispatch_count),
                          3);
     },
     "DISPATCH_INFO): dispatch_count 3 differs from the schedule's 2"},
    {"DispatchInfoNodesOutOfStrings",
     [](auto &b, auto &layout) {
       size_t second = layout.sectionOffset(KILN_SECTION_DISPATCH_INFO) +
                       sizeof(kiln_dispatch_info_header) +
                       sizeof(kiln_dispatch_info);
       setField<uint32_t>(b, second, offsetof(kiln_dispatch_info, nodes),
                          0xFFFFFF00u);
     },
     "DISPATCH_INFO): dispatch 1: node names (string offset 4294967040"},
    {"ExecutableNotElf",
     [](auto &b, auto &layout) {
       b[layout.sectionOffset(KILN_SECTION_EXECUTABLE) + 1] = 'X';
     },
     "EXECUTABLE x86_64-avx2): executable is not an ELF file"},
};

// Keeps gtest from printing the parameter as raw bytes.
void PrintTo(const FieldCorruption &corruption, std::ostream *out) {
  *out << corruption.name;
}

class FieldCorruptionTest : public ::testing::TestWithParam<FieldCorruption> {};

TEST_P(FieldCorruptionTest, IsReportedBehindValidChecksums) {
  const FieldCorruption &corruption = GetParam();
  std::vector<uint8_t> bytes = buildAddBundle();
  BundleLayout layout(bytes);
  corruption.corrupt(bytes, layout);
  resealBundle(bytes);
  EXPECT_EQ(openBytes(bytes), corruption.expectedStatus);
  std::string message = kiln_last_error();
  std::string expected = corruption.expectedMessage;
#if defined(__aarch64__)
  size_t target = expected.find("x86_64-avx2");
  if (target != std::string::npos)
    expected.replace(target, 11, "aarch64-neon");
#endif
  EXPECT_NE(message.find(expected), std::string::npos)
      << "message: " << message;
}

INSTANTIATE_TEST_SUITE_P(
    BundleCorruption, FieldCorruptionTest,
    ::testing::ValuesIn(kFieldCorruptions),
    [](const ::testing::TestParamInfo<FieldCorruption> &info) {
      return std::string(info.param.name);
    });

// Random bytes changed behind valid checksums, everywhere including the ELF
// image: any status is fine, a crash or a hang is not.
TEST_F(BundleCorruption, RandomMutationsBehindValidChecksums) {
  // KILN_FUZZ_ITERATIONS / KILN_FUZZ_SEED run longer or other campaigns (for
  // example under AddressSanitizer); the default keeps ctest fast.
  const char *iterationsText = std::getenv("KILN_FUZZ_ITERATIONS");
  const char *seedText = std::getenv("KILN_FUZZ_SEED");
  const int iterations = iterationsText ? std::atoi(iterationsText) : 3000;
  std::mt19937_64 random(seedText ? std::strtoull(seedText, nullptr, 10)
                                  : 12345);
  BundleLayout layout(bytes);
  const kiln_section_entry &executable =
      layout.section(KILN_SECTION_EXECUTABLE);
  int opened = 0;
  for (int iteration = 0; iteration < iterations; ++iteration) {
    std::vector<uint8_t> corrupted = bytes;
    int changes = 1 + int(random() % 4);
    for (int c = 0; c < changes; ++c) {
      size_t at;
      if (iteration % 2) // half the time aim at the ELF image
        at = executable.offset + random() % executable.size;
      else
        at = random() % layout.section(KILN_SECTION_WEIGHTS).offset;
      corrupted[at] = uint8_t(random());
    }
    resealBundle(corrupted);
    AlignedBytes aligned(corrupted);
    kiln_model *model = nullptr;
    kiln_status status =
        kiln_model_open_memory(aligned.data(), aligned.size(), 0, &model);
    ASSERT_TRUE(status == KILN_OK || status == KILN_ERROR_INVALID_BUNDLE ||
                status == KILN_ERROR_UNSUPPORTED)
        << status << ": " << kiln_last_error();
    opened += status == KILN_OK;
    kiln_model_close(model);
  }
  // Many mutations land in bytes that do not matter (padding, code bytes).
  std::printf("[          ] %d of %d mutated bundles still opened\n", opened,
              iterations);
}

} // namespace
