//===- BundleWriterTest.cpp - Layout, determinism, atomic writes ----------===//

#include "TestSupport.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

using namespace kiln::test;
using kiln::bundle::BundleWriter;

namespace {

TEST(BundleWriter, SameContentsGiveSameBytes) {
  std::vector<uint8_t> first = buildAddBundle();
  std::vector<uint8_t> second = buildAddBundle();
  EXPECT_EQ(first, second);
  EXPECT_NE(first, buildAddBundle(1001));
}

TEST(BundleWriter, SerializeIsRepeatable) {
  AddModel spec;
  spec.build(readFileBytes(testdataPath("add_kernel.so")));
  EXPECT_EQ(spec.writer.serialize(), spec.writer.serialize());
}

TEST(BundleWriter, WeightsAreDeduplicatedAndAligned) {
  BundleWriter writer;
  std::vector<float> ones(17, 1.0f), twos(17, 2.0f);
  uint64_t first = writer.addWeight(ones.data(), ones.size() * 4);
  uint64_t second = writer.addWeight(twos.data(), twos.size() * 4);
  uint64_t again = writer.addWeight(ones.data(), ones.size() * 4);
  // Same bytes as a prefix of `ones` but shorter: a different weight.
  uint64_t prefix = writer.addWeight(ones.data(), 8);
  EXPECT_EQ(first, 0u);
  EXPECT_EQ(second % KILN_TENSOR_ALIGNMENT, 0u);
  EXPECT_NE(second, first);
  EXPECT_EQ(again, first);
  EXPECT_NE(prefix, first);
  EXPECT_EQ(prefix % KILN_TENSOR_ALIGNMENT, 0u);
  EXPECT_EQ(writer.addWeight(nullptr, 0), 0u);

  writer.setEntryCount(1);
  writer.addExecutable({hostTarget(), {1, 2, 3}});
  std::vector<uint8_t> bytes = writer.serialize();
  BundleLayout layout(bytes);
  const kiln_section_entry &weights = layout.section(KILN_SECTION_WEIGHTS);
  EXPECT_EQ(weights.size, prefix + 8);
  EXPECT_EQ(std::memcmp(bytes.data() + weights.offset + second, twos.data(),
                        twos.size() * 4),
            0);
  // Padding between weights is zero.
  for (uint64_t at = 17 * 4; at < second; ++at)
    EXPECT_EQ(bytes[weights.offset + at], 0) << at;
}

TEST(BundleWriter, LayoutFollowsTheFormat) {
  std::vector<uint8_t> bytes = buildAddBundle();
  auto header = readAt<kiln_bundle_header>(bytes, 0);
  EXPECT_EQ(std::memcmp(header.magic, KILN_BUNDLE_MAGIC, 8), 0);
  EXPECT_EQ(header.version_major, KILN_BUNDLE_VERSION_MAJOR);
  EXPECT_EQ(header.header_size, sizeof(kiln_bundle_header));
  EXPECT_EQ(header.file_size, bytes.size());
  BundleLayout layout(bytes);
  const uint32_t expectedOrder[] = {
      KILN_SECTION_MANIFEST,      KILN_SECTION_STRINGS,
      KILN_SECTION_SCHEDULE,      KILN_SECTION_DISPATCH_INFO,
      KILN_SECTION_WEIGHTS,       KILN_SECTION_EXECUTABLE};
  ASSERT_EQ(layout.sections.size(), 6u);
  uint64_t previousEnd = header.section_table_offset +
                         header.section_count * sizeof(kiln_section_entry);
  for (size_t i = 0; i < 6; ++i) {
    const kiln_section_entry &section = layout.sections[i];
    EXPECT_EQ(section.kind, expectedOrder[i]);
    bool paged = section.kind == KILN_SECTION_WEIGHTS ||
                 section.kind == KILN_SECTION_EXECUTABLE;
    EXPECT_EQ(section.alignment, paged ? KILN_PAGE_ALIGNMENT : 64u);
    EXPECT_EQ(section.offset % section.alignment, 0u);
    EXPECT_GE(section.offset, previousEnd);
    EXPECT_EQ(section.flags, section.kind == KILN_SECTION_WEIGHTS
                                 ? uint32_t(KILN_SECTION_FLAG_LAZY_CHECKSUM)
                                 : 0u);
    EXPECT_EQ(section.reserved, 0u);
    // Gaps between sections are zero.
    for (uint64_t at = previousEnd; at < section.offset; ++at)
      ASSERT_EQ(bytes[at], 0) << "padding byte " << at;
    previousEnd = section.offset + section.size;
  }
  EXPECT_EQ(previousEnd, bytes.size());
}

TEST(BundleWriter, StringsAreDeduplicated) {
  BundleWriter writer;
  writer.setModelName("shared");
  writer.setArenaSize(128);
  writer.setEntryCount(1);
  writer.addInput({"shared", KILN_DTYPE_F32, {4}, 0, 16});
  writer.addOutput({"shared", KILN_DTYPE_F32, {4}, 64, 16});
  writer.addDispatch({"shared", 0, {1, 1, 1}, {}});
  writer.addExecutable({hostTarget(), {0}});
  std::vector<uint8_t> bytes = writer.serialize();
  const kiln_section_entry strings =
      BundleLayout(bytes).section(KILN_SECTION_STRINGS);
  // "" + "shared" + "kiln", each with its NUL.
  EXPECT_EQ(strings.size, 1u + 7u + 5u);
}

TEST(BundleWriter, ComputesMissingTensorSizes) {
  BundleWriter writer;
  writer.setArenaSize(4096);
  writer.setEntryCount(1);
  writer.addInput({"x", KILN_DTYPE_F16, {3, 5}, 0, 0});
  writer.addExecutable(
      {hostTarget(), readFileBytes(testdataPath("add_kernel.so"))});
  std::vector<uint8_t> bytes = writer.serialize();
  auto desc = readAt<kiln_tensor_desc>(
      bytes, BundleLayout(bytes).sectionOffset(KILN_SECTION_MANIFEST) +
                 sizeof(kiln_manifest_header));
  EXPECT_EQ(desc.size_bytes, 30u);
  EXPECT_EQ(desc.rank, 2u);
}

TEST(BundleWriter, WriteFileLeavesOnlyTheBundle) {
  TempDir dir;
  AddModel spec;
  spec.build(readFileBytes(testdataPath("add_kernel.so")));
  std::string error;
  ASSERT_TRUE(spec.writer.writeFile(dir.file("model.kiln"), error)) << error;
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.kiln"});
  EXPECT_EQ(readFileBytes(dir.file("model.kiln")), spec.writer.serialize());
  struct stat info;
  ASSERT_EQ(stat(dir.file("model.kiln").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);
  // Overwriting replaces the file in one step.
  ASSERT_TRUE(spec.writer.writeFile(dir.file("model.kiln"), error)) << error;
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.kiln"});
}

TEST(BundleWriter, WriteFileFailureLeavesNothing) {
  TempDir dir;
  AddModel spec;
  spec.build(readFileBytes(testdataPath("add_kernel.so")));
  std::string error;
  std::string path = dir.file("missing/model.kiln");
  EXPECT_FALSE(spec.writer.writeFile(path, error));
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("No such file or directory"), std::string::npos)
      << error;
  EXPECT_TRUE(dir.entries().empty());

  // Renaming onto a directory fails after the temporary file was written:
  // the temporary must be gone too.
  ASSERT_EQ(mkdir(dir.file("occupied").c_str(), 0755), 0);
  EXPECT_FALSE(spec.writer.writeFile(dir.file("occupied"), error));
  EXPECT_NE(error.find("rename"), std::string::npos) << error;
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"occupied"});
  rmdir(dir.file("occupied").c_str());
}

TEST(BundleWriter, InvalidContentsAreRefusedWithAMessage) {
  struct Case {
    const char *expected;
    void (*setup)(BundleWriter &);
  } cases[] = {
      {"rank 9 exceeds 8",
       [](BundleWriter &w) {
         w.addInput({"x", KILN_DTYPE_F32, std::vector<int64_t>(9, 1), 0, 4});
       }},
      {"negative dimension",
       [](BundleWriter &w) {
         w.addInput({"x", KILN_DTYPE_F32, {-1}, 0, 0});
       }},
      {"sizeBytes 5 does not match",
       [](BundleWriter &w) {
         w.addInput({"x", KILN_DTYPE_F32, {2}, 0, 5});
       }},
      {"exceeds the arena",
       [](BundleWriter &w) {
         w.addOutput({"y", KILN_DTYPE_F32, {1024}, 0, 4096});
       }},
      {"misaligned",
       [](BundleWriter &w) {
         w.addOutput({"y", KILN_DTYPE_F32, {1}, 4, 4});
       }},
      {"duplicate name",
       [](BundleWriter &w) {
         w.addInput({"x", KILN_DTYPE_F32, {1}, 0, 4});
         w.addInput({"x", KILN_DTYPE_F32, {1}, 64, 4});
       }},
      {"entry 3 is out of range",
       [](BundleWriter &w) {
         w.addDispatch({"d", 3, {1, 1, 1}, {}});
       }},
      {"exceeds the weights",
       [](BundleWriter &w) {
         w.addDispatch({"d", 0, {1, 1, 1}, {{KILN_BUFFER_WEIGHTS, 0, 8}}});
       }},
      {"two executables for target",
       [](BundleWriter &w) {
         w.addExecutable({hostTarget(), {1}});
       }},
  };
  for (const Case &c : cases) {
    BundleWriter writer;
    writer.setArenaSize(256);
    writer.setEntryCount(2);
    writer.addExecutable({hostTarget(), {0}});
    c.setup(writer);
    std::string error;
    EXPECT_FALSE(writer.validate(error)) << c.expected;
    EXPECT_NE(error.find(c.expected), std::string::npos) << error;
    TempDir dir;
    EXPECT_FALSE(writer.writeFile(dir.file("bad.kiln"), error));
    EXPECT_TRUE(dir.entries().empty());
  }
  BundleWriter empty;
  std::string error;
  EXPECT_FALSE(empty.validate(error));
  EXPECT_EQ(error, "no executable");
}

} // namespace
