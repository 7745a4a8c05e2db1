//===- CoreApiTest.cpp - kiln_core.h, the firmware API, on the host -------===//
//
// The add model's kernels (testdata/add_kernel.c) are linked into this test
// program, as a `--emit static-lib` object is into firmware; its bundle has
// no executables (CODE_LINKED). The same core runs on aarch64 firmware in
// the firmware.example test.
//
//===----------------------------------------------------------------------===//

#include "TestSupport.h"

#include "kiln/kiln_core.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

extern "C" const kiln_entry_table_header kiln_entry_table; // add_kernel.c

using namespace kiln::test;

namespace {

std::vector<uint8_t> codeLinkedAddBundle(AddModel &model) {
  model.build({});
  return model.writer.serialize();
}

struct Arena {
  explicit Arena(size_t size)
      : bytes(static_cast<uint8_t *>(
            std::aligned_alloc(64, (size + 64) / 64 * 64 + 64))),
        size(size) {}
  ~Arena() { std::free(bytes); }
  uint8_t *bytes;
  size_t size;
};

TEST(CoreApi, RunsACodeLinkedBundle) {
  AddModel add;
  AlignedBytes bundle(codeLinkedAddBundle(add));
  kiln_core_model model;
  ASSERT_EQ(
      kiln_core_open(&model, bundle.data(), bundle.size(), &kiln_entry_table),
      KILN_OK)
      << kiln_core_error(&model);
  ASSERT_EQ(kiln_core_input_count(&model), 2u);
  ASSERT_EQ(kiln_core_output_count(&model), 1u);
  EXPECT_STREQ(kiln_core_input_name(&model, 1), "b");
  EXPECT_STREQ(kiln_core_output_name(&model, 0), "y");
  EXPECT_EQ(kiln_core_input_name(&model, 2), nullptr);
  EXPECT_EQ(kiln_core_output_size(&model, 0), add.count * sizeof(float));

  Arena arena(kiln_core_arena_size(&model));
  std::vector<float> a = add.inputA(), b = add.inputB();
  std::memcpy(kiln_core_input(&model, arena.bytes, 0), a.data(),
              a.size() * sizeof(float));
  std::memcpy(kiln_core_input(&model, arena.bytes, 1), b.data(),
              b.size() * sizeof(float));
  ASSERT_EQ(kiln_core_run(&model, arena.bytes, arena.size), KILN_OK)
      << kiln_core_error(&model);
  const float *y =
      static_cast<const float *>(kiln_core_output(&model, arena.bytes, 0));
  std::vector<float> expected = add.expected();
  for (size_t i = 0; i < expected.size(); ++i)
    ASSERT_EQ(y[i], expected[i]) << "element " << i;
}

TEST(CoreApi, RefusesABundleThatCarriesItsCode) {
  std::vector<uint8_t> bytes = buildAddBundle();
  AlignedBytes bundle(bytes);
  kiln_core_model model;
  EXPECT_EQ(
      kiln_core_open(&model, bundle.data(), bundle.size(), &kiln_entry_table),
      KILN_ERROR_UNSUPPORTED);
  EXPECT_NE(std::string(kiln_core_error(&model)).find("--emit static-lib"),
            std::string::npos)
      << kiln_core_error(&model);
}

TEST(CoreApi, TheHostRuntimeRefusesACodeLinkedBundle) {
  AddModel add;
  EXPECT_EQ(openBytes(codeLinkedAddBundle(add)), KILN_ERROR_UNSUPPORTED);
  EXPECT_NE(std::string(kiln_last_error()).find("linked into a program"),
            std::string::npos)
      << kiln_last_error();
}

TEST(CoreApi, ChecksTheEntryTable) {
  AddModel add;
  AlignedBytes bundle(codeLinkedAddBundle(add));
  kiln_core_model model;
  // A table with one entry where the schedule calls entry 1 too.
  struct {
    kiln_entry_table_header header;
    kiln_dispatch_fn entries[1];
  } small = {
      {KILN_ENTRY_TABLE_MAGIC, KILN_ENTRY_TABLE_VERSION, 1, 0},
      {reinterpret_cast<const kiln_dispatch_fn *>(&kiln_entry_table + 1)[0]}};
  EXPECT_EQ(kiln_core_open(&model, bundle.data(), bundle.size(), &small.header),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kiln_core_error(&model))
                .find("dispatch 1 calls entry 1 but the entry table has 1"),
            std::string::npos)
      << kiln_core_error(&model);
  small.header.magic = 0;
  EXPECT_EQ(kiln_core_open(&model, bundle.data(), bundle.size(), &small.header),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_core_open(&model, bundle.data(), bundle.size(), nullptr),
            KILN_ERROR_INVALID_ARGUMENT);
}

TEST(CoreApi, ChecksTheArenaAndTheBytes) {
  AddModel add;
  std::vector<uint8_t> bytes = codeLinkedAddBundle(add);
  AlignedBytes bundle(bytes);
  kiln_core_model model;
  ASSERT_EQ(
      kiln_core_open(&model, bundle.data(), bundle.size(), &kiln_entry_table),
      KILN_OK);
  Arena arena(kiln_core_arena_size(&model));
  EXPECT_EQ(kiln_core_run(&model, arena.bytes + 8, arena.size),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kiln_core_error(&model)).find("64-byte aligned"),
            std::string::npos)
      << kiln_core_error(&model);
  EXPECT_EQ(kiln_core_run(&model, arena.bytes, arena.size - 1),
            KILN_ERROR_INVALID_ARGUMENT);

  // The weights' checksum is lazy: a flipped weight byte passes open...
  BundleLayout layout(bytes);
  bytes[layout.sectionOffset(KILN_SECTION_WEIGHTS) + 8] ^= 0x40;
  AlignedBytes flippedWeight(bytes);
  EXPECT_EQ(kiln_core_open(&model, flippedWeight.data(), flippedWeight.size(),
                           &kiln_entry_table),
            KILN_OK)
      << kiln_core_error(&model);
  // ...a flipped manifest byte does not.
  bytes[layout.sectionOffset(KILN_SECTION_MANIFEST) + 4] ^= 0x01;
  AlignedBytes corrupted(bytes);
  EXPECT_EQ(kiln_core_open(&model, corrupted.data(), corrupted.size(),
                           &kiln_entry_table),
            KILN_ERROR_INVALID_BUNDLE);
  EXPECT_NE(std::string(kiln_core_error(&model)).find("checksum mismatch"),
            std::string::npos)
      << kiln_core_error(&model);
}

} // namespace
