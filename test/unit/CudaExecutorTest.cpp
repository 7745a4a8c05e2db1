//===- CudaExecutorTest.cpp - The CUDA executor against a fake driver -----===//
//
// Runs with test/unit/fake_cuda's libcuda.so.1 first on the library path (a
// driver API on the CPU with C++ kernels), so that the executor's whole path
// runs without a GPU: choosing the binary, uploading the weights,
// transfers, launches with the bindings as device pointers, the CPU
// dispatches in between, and each reason a GPU cannot be used.
//
//===----------------------------------------------------------------------===//

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <dlfcn.h>
#include <stdlib.h>

namespace kiln::test {
namespace {

/// A binary of the CUDA image: a "cubin" (an ELF header is all the fake
/// driver looks at) or PTX of ISA `ptxVersion`.
struct Binary {
  kiln_cuda_binary_kind kind;
  uint32_t sm;
  std::string ptxVersion = "7.8";
};

/// A kiln_cuda_image whose entry 0 launches `kernel` over `threads` threads
/// (blocks of 128) and whose entry 1 launches nothing.
std::vector<uint8_t> cudaImage(const std::vector<Binary> &binaries,
                               const std::string &kernel, uint64_t threads) {
  std::vector<std::string> payloads;
  for (const Binary &binary : binaries)
    payloads.push_back(binary.kind == KILN_CUDA_BINARY_CUBIN
                           ? std::string("\x7f"
                                         "ELF fake cubin")
                           : ".version " + binary.ptxVersion + "\n.target sm_" +
                                 std::to_string(binary.sm) +
                                 "\n.address_size 64\n");
  kiln_cuda_image_header header = {};
  header.magic = KILN_CUDA_IMAGE_MAGIC;
  header.version = KILN_CUDA_IMAGE_VERSION;
  header.binary_count = binaries.size();
  header.entry_count = 2;
  header.launch_count = 1;
  header.strings_offset =
      sizeof(header) + binaries.size() * sizeof(kiln_cuda_binary) +
      2 * sizeof(kiln_cuda_entry) + sizeof(kiln_cuda_launch);
  header.strings_size = kernel.size() + 1;
  std::vector<kiln_cuda_binary> table;
  uint64_t offset =
      (header.strings_offset + header.strings_size + 15) / 16 * 16;
  for (size_t i = 0; i < binaries.size(); ++i) {
    table.push_back({uint32_t(binaries[i].kind), binaries[i].sm, offset,
                     payloads[i].size()});
    offset = (offset + payloads[i].size() + 1 + 15) / 16 * 16;
  }
  kiln_cuda_entry entries[2] = {{0, 1}, {1, 0}};
  kiln_cuda_launch launch = {
      0, {uint32_t((threads + 127) / 128), 1, 1}, {128, 1, 1}, 0};
  std::vector<uint8_t> image(offset, 0);
  auto put = [&](uint64_t at, const void *data, size_t size) {
    std::memcpy(image.data() + at, data, size);
  };
  put(0, &header, sizeof(header));
  put(sizeof(header), table.data(), table.size() * sizeof(kiln_cuda_binary));
  uint64_t at = sizeof(header) + table.size() * sizeof(kiln_cuda_binary);
  put(at, entries, sizeof(entries));
  put(at + sizeof(entries), &launch, sizeof(launch));
  put(header.strings_offset, kernel.c_str(), kernel.size() + 1);
  for (size_t i = 0; i < binaries.size(); ++i)
    put(table[i].offset, payloads[i].data(), payloads[i].size());
  return image;
}

/// AddModel with its add on the GPU: a and b go to the GPU, the sum comes
/// back for the CPU's scale.
std::vector<uint8_t> gpuAddBundle(const std::vector<Binary> &binaries,
                                  const std::string &kernel = "add_kernel") {
  AddModel model;
  model.build(readFileBytes(testdataPath("add_kernel.so")));
  // Its inputs, weights and code; the schedule written here.
  uint64_t bytes = model.count * sizeof(float);
  uint64_t slot = (bytes + 63) / 64 * 64;
  uint64_t a = 0, b = slot, tmp = 2 * slot, y = 3 * slot;
  bundle::BundleWriter writer;
  writer.setModelName("gpu_add_scale");
  writer.setArenaSize(4 * slot);
  writer.setEntryCount(2);
  writer.addInput({"a", KILN_DTYPE_F32, {int64_t(model.count)}, a, bytes});
  writer.addInput({"b", KILN_DTYPE_F32, {int64_t(model.count)}, b, bytes});
  writer.addOutput({"y", KILN_DTYPE_F32, {int64_t(model.count)}, y, bytes});
  int64_t elementCount = int64_t(model.count);
  uint64_t count = writer.addWeight(&elementCount, sizeof(elementCount));
  uint64_t scale = writer.addWeight(model.scale.data(), bytes);
  using bundle::Binding;
  constexpr uint32_t kReadWrite = KILN_ACCESS_READ | KILN_ACCESS_WRITE;
  auto transfer = [&](const char *name, uint64_t offset, uint32_t device) {
    bundle::Dispatch d;
    d.name = name;
    d.workgroupCount = {0, 0, 0};
    d.bindings = {Binding{KILN_BUFFER_ARENA, offset, bytes, kReadWrite}};
    d.flags = KILN_DISPATCH_FLAG_TRANSFER;
    d.device = device;
    writer.addDispatch(std::move(d));
  };
  transfer("transfer to cuda", a, KILN_DEVICE_CUDA);
  transfer("transfer to cuda", b, KILN_DEVICE_CUDA);
  bundle::Dispatch add;
  add.name = "add";
  add.entry = 0;
  add.workgroupCount = {model.workgroups, 1, 1};
  add.bindings = {Binding{KILN_BUFFER_ARENA, a, bytes, KILN_ACCESS_READ},
                  Binding{KILN_BUFFER_ARENA, b, bytes, KILN_ACCESS_READ},
                  Binding{KILN_BUFFER_ARENA, tmp, bytes, KILN_ACCESS_WRITE},
                  Binding{KILN_BUFFER_WEIGHTS, count, 8, KILN_ACCESS_READ}};
  add.device = KILN_DEVICE_CUDA;
  writer.addDispatch(std::move(add));
  transfer("transfer to cpu", tmp, KILN_DEVICE_CPU);
  bundle::Dispatch scaled;
  scaled.name = "scale";
  scaled.entry = 1;
  scaled.workgroupCount = {model.workgroups, 1, 1};
  scaled.bindings = {
      Binding{KILN_BUFFER_ARENA, tmp, bytes, KILN_ACCESS_READ},
      Binding{KILN_BUFFER_WEIGHTS, scale, bytes, KILN_ACCESS_READ},
      Binding{KILN_BUFFER_ARENA, y, bytes, KILN_ACCESS_WRITE},
      Binding{KILN_BUFFER_WEIGHTS, count, 8, KILN_ACCESS_READ}};
  writer.addDispatch(std::move(scaled));
  writer.addExecutable(
      {hostTarget(), readFileBytes(testdataPath("add_kernel.so"))});
  writer.addExecutable(
      {KILN_TARGET_CUDA, cudaImage(binaries, kernel, model.count)});
  return writer.serialize();
}

const std::vector<Binary> kDefaultBinaries = {
    {KILN_CUDA_BINARY_CUBIN, 75}, {KILN_CUDA_BINARY_CUBIN, 80},
    {KILN_CUDA_BINARY_CUBIN, 86}, {KILN_CUDA_BINARY_CUBIN, 89},
    {KILN_CUDA_BINARY_CUBIN, 90}, {KILN_CUDA_BINARY_PTX, 90}};

class CudaExecutor : public ::testing::Test {
protected:
  void SetUp() override {
    setenv("KILN_FAKE_CUDA_DEVICES", "1", 1);
    setenv("KILN_FAKE_CUDA_SM", "90", 1);
    setenv("KILN_FAKE_CUDA_VERSION", "13000", 1);
  }

  /// Opens `bytes`, makes a session on `device`; null with `error` set.
  kiln_session *session(const std::vector<uint8_t> &bytes,
                        kiln_device_request device, std::string &error) {
    memory = std::make_unique<AlignedBytes>(bytes);
    EXPECT_EQ(kiln_model_open_memory(memory->data(), memory->size(), 0, &model),
              KILN_OK)
        << kiln_last_error();
    kiln_session_options options = {sizeof(options), 1, uint32_t(device)};
    kiln_session *created = nullptr;
    if (kiln_session_create(model, &options, &created) != KILN_OK)
      error = kiln_last_error();
    return created;
  }

  /// Runs `s` on AddModel's inputs and checks y.
  void expectCorrectOutput(kiln_session *s) {
    AddModel reference;
    reference.build(readFileBytes(testdataPath("add_kernel.so")));
    std::vector<float> a = reference.inputA(), b = reference.inputB();
    ASSERT_EQ(kiln_session_set_input(s, 0, a.data(), a.size() * 4), KILN_OK);
    ASSERT_EQ(kiln_session_set_input(s, 1, b.data(), b.size() * 4), KILN_OK);
    ASSERT_EQ(kiln_session_run(s), KILN_OK) << kiln_last_error();
    const void *data;
    uint64_t size;
    ASSERT_EQ(kiln_session_output(s, 0, &data, &size), KILN_OK);
    std::vector<float> expected = reference.expected();
    ASSERT_EQ(size, expected.size() * 4);
    EXPECT_EQ(std::memcmp(data, expected.data(), size), 0);
  }

  void TearDown() override { kiln_model_close(model); }

  std::unique_ptr<AlignedBytes> memory;
  kiln_model *model = nullptr;
};

uint64_t fakeLaunches() {
  void *driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  auto calls = reinterpret_cast<void (*)(uint64_t *, uint64_t *)>(
      driver ? dlsym(driver, "fakeCudaCalls") : nullptr);
  uint64_t launched = 0, copied = 0;
  if (calls)
    calls(&launched, &copied);
  return launched;
}

TEST_F(CudaExecutor, RunsTheGpuDispatchesOnTheDevice) {
  std::string error;
  kiln_session *s =
      session(gpuAddBundle(kDefaultBinaries), KILN_RUN_ON_AUTO, error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(kiln_session_device(s), KILN_DEVICE_CUDA);
  EXPECT_STREQ(kiln_session_device_description(s),
               "Fake GPU, sm_90, cubin sm_90");
  EXPECT_STREQ(kiln_session_fallback_reason(s), "");
  uint64_t before = fakeLaunches();
  expectCorrectOutput(s);
  // Twice: nothing of the first run is left to help the second.
  std::memset(kiln_session_input_data(s, 0), 0, 4000);
  expectCorrectOutput(s);
  EXPECT_EQ(fakeLaunches() - before, 2u);
  std::vector<uint64_t> nanoseconds(kiln_model_dispatch_count(model), 0);
  EXPECT_EQ(kiln_session_run_profiled(s, nanoseconds.data()), KILN_OK);
  kiln_session_destroy(s);
}

TEST_F(CudaExecutor, ChoosesTheBinaryForTheDevice) {
  struct Case {
    const char *sm;
    std::vector<Binary> binaries;
    const char *description;
  } cases[] = {
      {"86",
       {{KILN_CUDA_BINARY_CUBIN, 80}, {KILN_CUDA_BINARY_PTX, 80}},
       "Fake GPU, sm_86, cubin sm_80"},
      {"120", kDefaultBinaries, "Fake GPU, sm_120, PTX compute_90"},
      {"89", kDefaultBinaries, "Fake GPU, sm_89, cubin sm_89"},
      // KILN_CUDA_BINARY=ptx: the PTX even where a cubin fits.
      {"90", kDefaultBinaries, "Fake GPU, sm_90, PTX compute_90"},
  };
  for (const Case &c : cases) {
    setenv("KILN_FAKE_CUDA_SM", c.sm, 1);
    if (&c == &cases[3])
      setenv("KILN_CUDA_BINARY", "ptx", 1);
    std::string error;
    kiln_session *s =
        session(gpuAddBundle(c.binaries), KILN_RUN_ON_CUDA, error);
    ASSERT_TRUE(s) << c.sm << ": " << error;
    EXPECT_STREQ(kiln_session_device_description(s), c.description);
    expectCorrectOutput(s);
    kiln_session_destroy(s);
    kiln_model_close(model);
    model = nullptr;
  }
  unsetenv("KILN_CUDA_BINARY");
}

TEST_F(CudaExecutor, SaysWhyItCannotUseTheGpu) {
  struct Case {
    const char *variable, *value;
    std::vector<Binary> binaries;
    const char *reason;
  } cases[] = {
      {"KILN_FAKE_CUDA_DEVICES", "0", kDefaultBinaries,
       "no CUDA device (CUDA_ERROR_NO_DEVICE, 100)"},
      {"KILN_FAKE_CUDA_SM",
       "75",
       {{KILN_CUDA_BINARY_CUBIN, 80}, {KILN_CUDA_BINARY_PTX, 80}},
       "no code for this GPU, Fake GPU (sm_75): the bundle's CUDA executable "
       "holds cubin sm_80, PTX compute_80"},
      {"KILN_FAKE_CUDA_VERSION",
       "11040",
       {{KILN_CUDA_BINARY_PTX, 90, "7.8"}},
       "the CUDA driver (CUDA 11.4) cannot read the bundle's PTX (ISA 7.8, "
       "compute_90); update the driver"},
  };
  for (const Case &c : cases) {
    SetUp();
    setenv(c.variable, c.value, 1);
    // auto falls back to the CPU, saying why, and runs right there.
    std::string error;
    kiln_session *s =
        session(gpuAddBundle(c.binaries), KILN_RUN_ON_AUTO, error);
    ASSERT_TRUE(s) << error;
    EXPECT_EQ(kiln_session_device(s), KILN_DEVICE_CPU);
    EXPECT_NE(std::string(kiln_session_fallback_reason(s)).find(c.reason),
              std::string::npos)
        << kiln_session_fallback_reason(s);
    uint64_t before = fakeLaunches();
    expectCorrectOutput(s);
    EXPECT_EQ(fakeLaunches(), before);
    kiln_session_destroy(s);
    // cuda refuses, with the same reason.
    kiln_session *refused = nullptr;
    kiln_session_options options = {sizeof(options), 1, KILN_RUN_ON_CUDA};
    EXPECT_EQ(kiln_session_create(model, &options, &refused),
              KILN_ERROR_UNSUPPORTED);
    EXPECT_NE(std::string(kiln_last_error()).find(c.reason), std::string::npos)
        << kiln_last_error();
    kiln_model_close(model);
    model = nullptr;
  }
}

TEST_F(CudaExecutor, CpuRequestNeverTouchesTheGpu) {
  std::string error;
  uint64_t before = fakeLaunches();
  kiln_session *s =
      session(gpuAddBundle(kDefaultBinaries), KILN_RUN_ON_CPU, error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(kiln_session_device(s), KILN_DEVICE_CPU);
  EXPECT_STREQ(kiln_session_fallback_reason(s), "");
  expectCorrectOutput(s);
  EXPECT_EQ(fakeLaunches(), before);
  kiln_session_destroy(s);
}

TEST_F(CudaExecutor, AFaultInAKernelFailsTheRunNamingTheDispatch) {
  std::string error;
  kiln_session *s = session(gpuAddBundle(kDefaultBinaries, "fault_kernel"),
                            KILN_RUN_ON_CUDA, error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(kiln_session_run(s), KILN_ERROR_INTERNAL);
  EXPECT_NE(std::string(kiln_last_error())
                .find("kiln_session_run: CUDA run failed by dispatch 4 "
                      "(scale): CUDA_ERROR_ILLEGAL_ADDRESS (700)"),
            std::string::npos)
      << kiln_last_error();
  kiln_session_destroy(s);
}

TEST_F(CudaExecutor, AMissingKernelIsAnError) {
  std::string error;
  kiln_session *s = session(gpuAddBundle(kDefaultBinaries, "no_such_kernel"),
                            KILN_RUN_ON_CUDA, error);
  EXPECT_FALSE(s);
  EXPECT_NE(error.find("the bundle's CUDA code has no kernel 'no_such_kernel'"),
            std::string::npos)
      << error;
}

} // namespace
} // namespace kiln::test
