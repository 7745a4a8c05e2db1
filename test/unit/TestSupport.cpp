//===- TestSupport.cpp - Helpers shared by the unit tests -----------------===//

#include "TestSupport.h"

#include <dirent.h>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <stdexcept>
#include <unistd.h>

namespace kiln::test {

std::string testdataPath(const std::string &name) {
  return std::string(KILN_TESTDATA_DIR) + "/" + name;
}

std::vector<uint8_t> readFileBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot read " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void writeFileBytes(const std::string &path,
                    const std::vector<uint8_t> &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out)
    throw std::runtime_error("cannot write " + path);
}

kiln_target hostTarget() {
#if defined(__aarch64__)
  return KILN_TARGET_AARCH64_NEON;
#else
  return KILN_TARGET_X86_64_AVX2;
#endif
}

void AddModel::build(const std::vector<uint8_t> &executable,
                     kiln_target target) {
  uint64_t bytes = count * sizeof(float);
  // Arena: a, b, tmp, y, each 64-byte aligned.
  uint64_t slot = (bytes + 63) / 64 * 64;
  uint64_t a = 0, b = slot, tmp = 2 * slot, y = 3 * slot;
  writer.setModelName("add_scale");
  writer.setArenaSize(4 * slot);
  writer.setEntryCount(2);
  writer.addInput({"a", KILN_DTYPE_F32, {int64_t(count)}, a, bytes});
  writer.addInput({"b", KILN_DTYPE_F32, {int64_t(count)}, b, bytes});
  writer.addOutput({"y", KILN_DTYPE_F32, {int64_t(count)}, y, bytes});
  int64_t elementCount = int64_t(count);
  uint64_t countOffset = writer.addWeight(&elementCount, sizeof(elementCount));
  scale.resize(count);
  for (uint64_t i = 0; i < count; ++i)
    scale[i] = 0.5f + float(i % 5);
  uint64_t scaleOffset = writer.addWeight(scale.data(), bytes);
  using bundle::Binding;
  writer.addDispatch({"add",
                      0,
                      {workgroups, 1, 1},
                      {Binding{KILN_BUFFER_ARENA, a, bytes},
                       Binding{KILN_BUFFER_ARENA, b, bytes},
                       Binding{KILN_BUFFER_ARENA, tmp, bytes},
                       Binding{KILN_BUFFER_WEIGHTS, countOffset, 8}},
                      0,
                      "Add_0",
                      count});
  writer.addDispatch({"scale",
                      1,
                      {workgroups, 1, 1},
                      {Binding{KILN_BUFFER_ARENA, tmp, bytes},
                       Binding{KILN_BUFFER_WEIGHTS, scaleOffset, bytes},
                       Binding{KILN_BUFFER_ARENA, y, bytes},
                       Binding{KILN_BUFFER_WEIGHTS, countOffset, 8}}});
  // No executable: the code is linked into the program (kiln_core.h).
  if (executable.empty())
    writer.setCodeLinked(true);
  else
    writer.addExecutable({target, executable});
}

std::vector<float> AddModel::inputA() const {
  std::vector<float> values(count);
  for (uint64_t i = 0; i < count; ++i)
    values[i] = float(i) * 0.25f;
  return values;
}

std::vector<float> AddModel::inputB() const {
  std::vector<float> values(count);
  for (uint64_t i = 0; i < count; ++i)
    values[i] = 1.0f - float(i % 13);
  return values;
}

std::vector<float> AddModel::expected() const {
  std::vector<float> a = inputA(), b = inputB(), y(count);
  for (uint64_t i = 0; i < count; ++i)
    y[i] = (a[i] + b[i]) * scale[i];
  return y;
}

std::vector<uint8_t> buildAddBundle(uint64_t count, uint32_t workgroups) {
  AddModel model;
  model.count = count;
  model.workgroups = workgroups;
  model.build(readFileBytes(testdataPath("add_kernel.so")));
  return model.writer.serialize();
}

AlignedBytes::AlignedBytes(const std::vector<uint8_t> &bytes)
    : storage(static_cast<uint8_t *>(
          std::aligned_alloc(64, (bytes.size() + 64) / 64 * 64))),
      length(bytes.size()) {
  if (!bytes.empty())
    std::memcpy(storage.get(), bytes.data(), bytes.size());
}

void resealBundle(std::vector<uint8_t> &bytes) {
  if (bytes.size() < sizeof(kiln_bundle_header))
    return;
  auto header = readAt<kiln_bundle_header>(bytes, 0);
  // The bytes may be corrupted on purpose: touch only what is in bounds.
  uint64_t tableEnd =
      uint64_t(header.section_table_offset) +
      uint64_t(header.section_count) * sizeof(kiln_section_entry);
  if (tableEnd > bytes.size())
    return;
  for (uint32_t i = 0; i < header.section_count; ++i) {
    size_t at = header.section_table_offset + i * sizeof(kiln_section_entry);
    auto section = readAt<kiln_section_entry>(bytes, at);
    if (section.offset <= bytes.size() &&
        section.size <= bytes.size() - section.offset) {
      section.checksum =
          kiln_crc32(0, bytes.data() + section.offset, section.size);
      writeAt(bytes, at, section);
    }
  }
  header.header_checksum = 0;
  uint32_t crc = kiln_crc32(0, &header, sizeof(header));
  crc = kiln_crc32(crc, bytes.data() + header.section_table_offset,
                   header.section_count * sizeof(kiln_section_entry));
  header.header_checksum = crc;
  writeAt(bytes, 0, header);
}

kiln_status openBytes(const std::vector<uint8_t> &bytes, uint32_t flags) {
  AlignedBytes aligned(bytes);
  kiln_model *model = nullptr;
  kiln_status status =
      kiln_model_open_memory(aligned.data(), aligned.size(), flags, &model);
  if (status == KILN_OK) {
    EXPECT_NE(model, nullptr);
  } else {
    EXPECT_EQ(model, nullptr);
    EXPECT_STRNE(kiln_last_error(), "");
  }
  kiln_model_close(model);
  return status;
}

TempDir::TempDir() {
  const char *base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base && *base ? base : "/tmp") + "/kiln-unit-XXXXXX";
  if (!mkdtemp(pattern.data()))
    throw std::runtime_error("mkdtemp failed");
  dir = pattern;
}

TempDir::~TempDir() {
  for (const std::string &entry : entries())
    unlink(file(entry).c_str());
  rmdir(dir.c_str());
}

std::vector<std::string> TempDir::entries() const {
  std::vector<std::string> names;
  if (DIR *handle = opendir(dir.c_str())) {
    while (dirent *entry = readdir(handle)) {
      std::string name = entry->d_name;
      if (name != "." && name != "..")
        names.push_back(name);
    }
    closedir(handle);
  }
  return names;
}

BundleLayout::BundleLayout(const std::vector<uint8_t> &bytes) {
  auto header = readAt<kiln_bundle_header>(bytes, 0);
  for (uint32_t i = 0; i < header.section_count; ++i)
    sections.push_back(readAt<kiln_section_entry>(
        bytes, header.section_table_offset + i * sizeof(kiln_section_entry)));
}

const kiln_section_entry &BundleLayout::section(uint32_t kind) const {
  for (const kiln_section_entry &entry : sections)
    if (entry.kind == kind)
      return entry;
  throw std::runtime_error("no such section");
}

} // namespace kiln::test
