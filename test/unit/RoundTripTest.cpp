//===- RoundTripTest.cpp - Writer -> runtime -> outputs -------------------===//

#include "TestSupport.h"
#include "kiln/kiln.hpp"

#include <gtest/gtest.h>

using namespace kiln::test;

namespace {

std::vector<float> runAddModel(kiln::Model &model, const AddModel &spec,
                               uint32_t threads) {
  kiln::Session session;
  EXPECT_EQ(session.create(model, threads), KILN_OK) << kiln::lastError();
  std::vector<float> a = spec.inputA(), b = spec.inputB();
  EXPECT_EQ(session.setInput(0, a.data(), a.size() * 4), KILN_OK);
  // The in-place alternative for the second input.
  std::memcpy(session.inputData(1), b.data(), b.size() * 4);
  EXPECT_EQ(session.run(), KILN_OK);
  const void *data = nullptr;
  uint64_t size = 0;
  EXPECT_EQ(session.output(0, data, size), KILN_OK);
  EXPECT_EQ(size, spec.count * 4);
  const float *y = static_cast<const float *>(data);
  return std::vector<float>(y, y + size / 4);
}

TEST(RoundTrip, OpensFromMemoryAndRuns) {
  AddModel spec;
  spec.build(readFileBytes(testdataPath("add_kernel.so")));
  AlignedBytes bytes(spec.writer.serialize());
  kiln::Model model;
  ASSERT_EQ(model.openMemory(bytes.data(), bytes.size()), KILN_OK)
      << kiln::lastError();
  EXPECT_EQ(model.inputCount(), 2u);
  EXPECT_EQ(model.outputCount(), 1u);
  EXPECT_STREQ(model.targetName(), kiln_target_name(hostTarget()));
  kiln_tensor_info info;
  ASSERT_EQ(model.inputInfo(1, info), KILN_OK);
  EXPECT_STREQ(info.name, "b");
  EXPECT_EQ(info.dtype, KILN_DTYPE_F32);
  ASSERT_EQ(info.rank, 1u);
  EXPECT_EQ(info.dims[0], int64_t(spec.count));
  EXPECT_EQ(info.size_bytes, spec.count * 4);
  ASSERT_EQ(model.outputInfo(0, info), KILN_OK);
  EXPECT_STREQ(info.name, "y");
  EXPECT_STREQ(kiln_model_name(model.get()), "add_scale");
  EXPECT_STREQ(kiln_model_producer(model.get()), "kiln");
  EXPECT_EQ(kiln_model_dispatch_count(model.get()), 2u);
  EXPECT_EQ(kiln_model_entry_count(model.get()), 2u);
  // DISPATCH_INFO: what the writer was told, "" and 0 where it was not.
  EXPECT_STREQ(kiln_model_dispatch_nodes(model.get(), 0), "Add_0");
  EXPECT_EQ(kiln_model_dispatch_flops(model.get(), 0), spec.count);
  EXPECT_STREQ(kiln_model_dispatch_nodes(model.get(), 1), "");
  EXPECT_EQ(kiln_model_dispatch_flops(model.get(), 1), 0u);
  EXPECT_EQ(kiln_model_dispatch_nodes(model.get(), 2), nullptr);
  EXPECT_EQ(kiln_model_dispatch_flops(model.get(), 2), 0u);
  EXPECT_EQ(runAddModel(model, spec, 1), spec.expected());
}

TEST(RoundTrip, OpensFromFileAndRunsWithVerifiedWeights) {
  TempDir dir;
  AddModel spec;
  spec.build(readFileBytes(testdataPath("add_kernel.so")));
  std::string error;
  ASSERT_TRUE(spec.writer.writeFile(dir.file("model.kiln"), error)) << error;
  kiln::Model model;
  ASSERT_EQ(
      model.openFile(dir.file("model.kiln").c_str(), KILN_OPEN_VERIFY_WEIGHTS),
      KILN_OK)
      << kiln::lastError();
  EXPECT_EQ(runAddModel(model, spec, 1), spec.expected());
}

TEST(RoundTrip, ThreadCountsGiveIdenticalOutputs) {
  for (uint32_t workgroups : {1u, 2u, 7u, 64u, 1000u}) {
    AddModel spec;
    spec.count = 4099;
    spec.workgroups = workgroups;
    spec.build(readFileBytes(testdataPath("add_kernel.so")));
    AlignedBytes bytes(spec.writer.serialize());
    kiln::Model model;
    ASSERT_EQ(model.openMemory(bytes.data(), bytes.size()), KILN_OK);
    std::vector<float> sequential = runAddModel(model, spec, 1);
    EXPECT_EQ(sequential, spec.expected()) << workgroups << " workgroups";
    for (uint32_t threads : {0u, 2u, 4u, 8u})
      EXPECT_EQ(runAddModel(model, spec, threads), sequential)
          << threads << " threads, " << workgroups << " workgroups";
  }
}

TEST(RoundTrip, ThreadCountIsReported) {
  AlignedBytes bytes(buildAddBundle());
  kiln::Model model;
  ASSERT_EQ(model.openMemory(bytes.data(), bytes.size()), KILN_OK);
  kiln::Session one, four, automatic;
  ASSERT_EQ(one.create(model, 1), KILN_OK);
  ASSERT_EQ(four.create(model, 4), KILN_OK);
  ASSERT_EQ(automatic.create(model, 0), KILN_OK);
  EXPECT_EQ(one.threadCount(), 1u);
  EXPECT_EQ(four.threadCount(), 4u);
  EXPECT_GE(automatic.threadCount(), 1u);
}

TEST(RoundTrip, SessionsOfOneModelAreIndependent) {
  AddModel spec;
  spec.build(readFileBytes(testdataPath("add_kernel.so")));
  AlignedBytes bytes(spec.writer.serialize());
  kiln::Model model;
  ASSERT_EQ(model.openMemory(bytes.data(), bytes.size()), KILN_OK);
  kiln::Session first, second;
  ASSERT_EQ(first.create(model, 1), KILN_OK);
  ASSERT_EQ(second.create(model, 2), KILN_OK);
  std::vector<float> a = spec.inputA(), b = spec.inputB();
  std::vector<float> zeros(spec.count, 0.0f);
  ASSERT_EQ(first.setInput(0, a.data(), a.size() * 4), KILN_OK);
  ASSERT_EQ(first.setInput(1, b.data(), b.size() * 4), KILN_OK);
  ASSERT_EQ(second.setInput(0, zeros.data(), zeros.size() * 4), KILN_OK);
  ASSERT_EQ(second.setInput(1, zeros.data(), zeros.size() * 4), KILN_OK);
  ASSERT_EQ(first.run(), KILN_OK);
  ASSERT_EQ(second.run(), KILN_OK);
  const void *data;
  uint64_t size;
  ASSERT_EQ(first.output(0, data, size), KILN_OK);
  EXPECT_EQ(std::memcmp(data, spec.expected().data(), size), 0);
  ASSERT_EQ(second.output(0, data, size), KILN_OK);
  EXPECT_EQ(std::memcmp(data, zeros.data(), size), 0);
}

TEST(RoundTrip, FreshArenaIsZero) {
  AlignedBytes bytes(buildAddBundle());
  kiln::Model model;
  ASSERT_EQ(model.openMemory(bytes.data(), bytes.size()), KILN_OK);
  kiln::Session session;
  ASSERT_EQ(session.create(model, 1), KILN_OK);
  // Inputs never set: zeros in, zeros out.
  ASSERT_EQ(session.run(), KILN_OK);
  const void *data;
  uint64_t size;
  ASSERT_EQ(session.output(0, data, size), KILN_OK);
  std::vector<uint8_t> zeros(size, 0);
  EXPECT_EQ(std::memcmp(data, zeros.data(), size), 0);
}

TEST(RoundTrip, EmptyModelWithoutDispatches) {
  kiln::bundle::BundleWriter writer;
  writer.setArenaSize(0);
  writer.setEntryCount(2);
  writer.addExecutable(
      {hostTarget(), readFileBytes(testdataPath("add_kernel.so"))});
  AlignedBytes bytes(writer.serialize());
  kiln::Model model;
  ASSERT_EQ(model.openMemory(bytes.data(), bytes.size()), KILN_OK)
      << kiln::lastError();
  kiln::Session session;
  ASSERT_EQ(session.create(model, 2), KILN_OK);
  EXPECT_EQ(session.run(), KILN_OK);
}

TEST(RoundTrip, PicksTheHostExecutableAmongSeveral) {
  AddModel spec;
  spec.build(readFileBytes(testdataPath("add_kernel.so")));
  // An executable for another machine comes first; it must be skipped (and
  // never loaded: its bytes are not even ELF).
  kiln_target other = hostTarget() == KILN_TARGET_X86_64_AVX2
                          ? KILN_TARGET_AARCH64_NEON
                          : KILN_TARGET_X86_64_AVX2;
  kiln::bundle::BundleWriter &writer = spec.writer;
  writer.addExecutable({other, std::vector<uint8_t>(100, 0xAB)});
  AlignedBytes bytes(writer.serialize());
  kiln::Model model;
  ASSERT_EQ(model.openMemory(bytes.data(), bytes.size()), KILN_OK)
      << kiln::lastError();
  EXPECT_STREQ(model.targetName(), kiln_target_name(hostTarget()));
  EXPECT_EQ(runAddModel(model, spec, 2), spec.expected());
}

TEST(RoundTrip, NoExecutableForThisHostIsUnsupported) {
  AddModel spec;
  kiln_target other = hostTarget() == KILN_TARGET_X86_64_AVX2
                          ? KILN_TARGET_AARCH64_NEON
                          : KILN_TARGET_X86_64_AVX2;
  spec.build(readFileBytes(testdataPath("add_kernel.so")), other);
  std::vector<uint8_t> bytes = spec.writer.serialize();
  EXPECT_EQ(openBytes(bytes), KILN_ERROR_UNSUPPORTED);
  std::string message = kiln_last_error();
  EXPECT_NE(message.find("no executable for this host"), std::string::npos)
      << message;
  EXPECT_NE(message.find(kiln_target_name(other)), std::string::npos)
      << message;
  // Describing it still works.
  EXPECT_EQ(openBytes(bytes, KILN_OPEN_SKIP_EXECUTABLE), KILN_OK);
}

} // namespace
