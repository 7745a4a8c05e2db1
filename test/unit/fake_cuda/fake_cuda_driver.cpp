//===- fake_cuda_driver.cpp - A CUDA driver that runs on the CPU ----------===//
//
// libcuda.so.1 for the CUDA executor's tests on machines without a GPU:
// the driver API the executor uses, through cuGetProcAddress, with device
// memory in host memory and a few named kernels written in C++ (a GPU
// kernel's PTX cannot run here). Environment variables make it a given GPU
// and driver, read at each call:
//   KILN_FAKE_CUDA_DEVICES   number of devices (default 1)
//   KILN_FAKE_CUDA_SM        compute capability of device 0 (default 90)
//   KILN_FAKE_CUDA_VERSION   the driver's CUDA version (default 13000): PTX
//                            of a newer ISA than it reads fails to load
// fakeCudaCalls() (an extra export) counts launches and copies.
//
// Built with KILN_FAKE_CUDA_EMULATE (libcuda.so.1 in emulated-cuda/), it runs
// the kernels a bundle was compiled with, on the GPU emulator
// (compiler/tools/kiln-cuda-emulate/GpuEmulator.h): a module loads the
// kernels' LLVM IR from $KILN_FAKE_CUDA_KERNELS (written by `kiln compile`
// with $KILN_CUDA_DUMP_LLVM_IR) instead of its cubin or PTX, so a whole
// bundle runs with --device cuda through the real CUDA executor.
//
//===----------------------------------------------------------------------===//

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#ifdef KILN_FAKE_CUDA_EMULATE
#include "compiler/tools/kiln-cuda-emulate/GpuEmulator.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/MemoryBuffer.h"
#include <vector>
#endif

namespace {

using CUresult = int;
using CUdeviceptr = unsigned long long;

struct Kernel {
  const char *name;
  // Runs one thread of the kernel: bindings are device pointers.
  void (*thread)(void **parameters, uint64_t index);
  // Or, in the emulated driver, the emulator's kernel
  // (kiln::GpuEmulator::Kernel).
  const void *emulated = nullptr;
};

int envInt(const char *name, int fallback) {
  const char *value = std::getenv(name);
  return value && *value ? std::atoi(value) : fallback;
}

// Kernels the tests' bundles name, by the bindings of AddModel's dispatches:
// {a, b, out, count}.
void addThread(void **parameters, uint64_t i) {
  auto a = *reinterpret_cast<const float *const *>(parameters[0]);
  auto b = *reinterpret_cast<const float *const *>(parameters[1]);
  auto out = *reinterpret_cast<float *const *>(parameters[2]);
  auto count = *reinterpret_cast<const int64_t *const *>(parameters[3]);
  if (int64_t(i) < *count)
    out[i] = a[i] + b[i];
}
void faultThread(void **, uint64_t) {}

const Kernel kKernels[] = {{"add_kernel", addThread},
                           {"fault_kernel", faultThread}};

struct Module {
#ifdef KILN_FAKE_CUDA_EMULATE
  std::unique_ptr<kiln::GpuEmulator> emulator;
  // The functions cuModuleGetFunction returned (function.emulated points to
  // kernel), kept for the module's life.
  struct EmulatedFunction {
    Kernel function;
    kiln::GpuEmulator::Kernel kernel;
  };
  std::vector<std::unique_ptr<EmulatedFunction>> functions;
#endif
};
struct Context {
  int unused;
};

Context theContext;
uint64_t launches = 0, copies = 0;
CUresult pendingError = 0; // reported at the next synchronisation

/// The highest PTX ISA version (major * 10 + minor) a driver of CUDA
/// `version` reads.
int maxPtxIsa(int version) {
  if (version >= 13000)
    return 90;
  if (version >= 12000)
    return 80 + (version - 12000) / 10 % 10;
  if (version >= 11080)
    return 78;
  return 70 + (version - 11000) / 10 % 10;
}

CUresult cuInit(unsigned) { return 0; }
CUresult cuDriverGetVersion(int *version) {
  *version = envInt("KILN_FAKE_CUDA_VERSION", 13000);
  return 0;
}
CUresult cuGetErrorName(CUresult error, const char **name) {
  switch (error) {
  case 100:
    *name = "CUDA_ERROR_NO_DEVICE";
    return 0;
  case 209:
    *name = "CUDA_ERROR_NO_BINARY_FOR_GPU";
    return 0;
  case 222:
    *name = "CUDA_ERROR_UNSUPPORTED_PTX_VERSION";
    return 0;
  case 500:
    *name = "CUDA_ERROR_NOT_FOUND";
    return 0;
  case 700:
    *name = "CUDA_ERROR_ILLEGAL_ADDRESS";
    return 0;
  default:
    return 1;
  }
}
CUresult cuDeviceGetCount(int *count) {
  *count = envInt("KILN_FAKE_CUDA_DEVICES", 1);
  return *count ? 0 : 100;
}
CUresult cuDeviceGet(int *device, int ordinal) {
  *device = ordinal;
  return ordinal < envInt("KILN_FAKE_CUDA_DEVICES", 1) ? 0 : 101;
}
CUresult cuDeviceGetName(char *name, int length, int) {
  std::snprintf(name, length, "Fake GPU");
  return 0;
}
CUresult cuDeviceGetAttribute(int *value, int attribute, int) {
  int sm = envInt("KILN_FAKE_CUDA_SM", 90);
  if (attribute == 75)
    *value = sm / 10;
  else if (attribute == 76)
    *value = sm % 10;
  else
    return 1;
  return 0;
}
CUresult cuDevicePrimaryCtxRetain(void **context, int) {
  *context = &theContext;
  return 0;
}
CUresult cuDevicePrimaryCtxRelease(int) { return 0; }
CUresult cuCtxSetCurrent(void *) { return 0; }
CUresult cuModuleLoadDataEx(void **module, const void *image, unsigned, int *,
                            void **) {
  const char *text = static_cast<const char *>(image);
  if (std::memcmp(text,
                  "\x7f"
                  "ELF",
                  4) != 0) { // PTX: check its ISA version
    const char *version = std::strstr(text, ".version ");
    if (!version)
      return 218; // CUDA_ERROR_INVALID_PTX
    int major = 0, minor = 0;
    std::sscanf(version + 9, "%d.%d", &major, &minor);
    if (major * 10 + minor > maxPtxIsa(envInt("KILN_FAKE_CUDA_VERSION", 13000)))
      return 222;
  }
  auto loaded = std::make_unique<Module>();
#ifdef KILN_FAKE_CUDA_EMULATE
  const char *path = std::getenv("KILN_FAKE_CUDA_KERNELS");
  auto bitcode = llvm::MemoryBuffer::getFile(path ? path : "");
  if (!bitcode) {
    std::fprintf(stderr,
                 "emulated CUDA driver: no kernels: set KILN_FAKE_CUDA_KERNELS "
                 "to the LLVM IR kiln compile wrote with "
                 "KILN_CUDA_DUMP_LLVM_IR\n");
    return 200; // CUDA_ERROR_INVALID_IMAGE
  }
  auto context = std::make_unique<llvm::LLVMContext>();
  auto parsed = llvm::parseBitcodeFile((*bitcode)->getMemBufferRef(), *context);
  std::string error;
  if (parsed)
    loaded->emulator = kiln::GpuEmulator::create(std::move(*parsed),
                                                 std::move(context), error);
  else
    error = llvm::toString(parsed.takeError());
  if (!loaded->emulator) {
    std::fprintf(stderr, "emulated CUDA driver: %s: %s\n", path, error.c_str());
    return 200;
  }
#endif
  *module = loaded.release();
  return 0;
}
CUresult cuModuleUnload(void *module) {
  delete static_cast<Module *>(module);
  return 0;
}
CUresult cuModuleGetFunction(void **function, void *module, const char *name) {
#ifdef KILN_FAKE_CUDA_EMULATE
  auto *loaded = static_cast<Module *>(module);
  if (auto kernel = loaded->emulator->lookup(name)) {
    auto &emulated = loaded->functions.emplace_back(
        new Module::EmulatedFunction{{"", nullptr}, *kernel});
    emulated->function.emulated = &emulated->kernel;
    *function = &emulated->function;
    return 0;
  }
#else
  (void)module;
#endif
  for (const Kernel &kernel : kKernels)
    if (std::strcmp(kernel.name, name) == 0) {
      *function = const_cast<Kernel *>(&kernel);
      return 0;
    }
  return 500;
}
CUresult cuFuncSetAttribute(void *, int, int) { return 0; }
CUresult cuMemAlloc(CUdeviceptr *pointer, size_t bytes) {
  void *memory = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!memory)
    return 2;
  std::memset(memory, 0xA5, bytes); // device memory starts as garbage
  *pointer = reinterpret_cast<CUdeviceptr>(memory);
  return 0;
}
CUresult cuMemFree(CUdeviceptr pointer) {
  std::free(reinterpret_cast<void *>(pointer));
  return 0;
}
CUresult cuMemHostAlloc(void **pointer, size_t bytes, unsigned) {
  *pointer = std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
  return *pointer ? 0 : 2;
}
CUresult cuMemFreeHost(void *pointer) {
  std::free(pointer);
  return 0;
}
CUresult cuMemsetD8(CUdeviceptr pointer, unsigned char value, size_t count) {
  std::memset(reinterpret_cast<void *>(pointer), value, count);
  return 0;
}
CUresult cuMemcpyHtoD(CUdeviceptr to, const void *from, size_t bytes) {
  std::memcpy(reinterpret_cast<void *>(to), from, bytes);
  ++copies;
  return 0;
}
CUresult cuMemcpyHtoDAsync(CUdeviceptr to, const void *from, size_t bytes,
                           void *) {
  return cuMemcpyHtoD(to, from, bytes);
}
CUresult cuMemcpyDtoHAsync(void *to, CUdeviceptr from, size_t bytes, void *) {
  std::memcpy(to, reinterpret_cast<const void *>(from), bytes);
  ++copies;
  return 0;
}
CUresult cuStreamCreate(void **stream, unsigned) {
  *stream = &theContext;
  return 0;
}
CUresult cuStreamDestroy(void *) { return 0; }
CUresult cuStreamSynchronize(void *) {
  CUresult error = pendingError;
  pendingError = 0;
  return error;
}
CUresult cuLaunchKernel(void *function, unsigned gridX, unsigned gridY,
                        unsigned gridZ, unsigned blockX, unsigned blockY,
                        unsigned blockZ, unsigned, void *, void **parameters,
                        void **) {
  auto *kernel = static_cast<const Kernel *>(function);
  ++launches;
  if (kernel->thread == faultThread) {
    pendingError = 700; // as a real fault: seen at the next wait
    return 0;
  }
#ifdef KILN_FAKE_CUDA_EMULATE
  if (kernel->emulated) {
    unsigned grid[] = {gridX, gridY, gridZ}, block[] = {blockX, blockY, blockZ};
    std::string error;
    if (!kiln::GpuEmulator::launch(
            *static_cast<const kiln::GpuEmulator::Kernel *>(kernel->emulated),
            grid, block, parameters, error)) {
      std::fprintf(stderr, "emulated CUDA driver: %s\n", error.c_str());
      pendingError = 719; // CUDA_ERROR_LAUNCH_FAILED, at the next wait
    }
    return 0;
  }
#endif
  uint64_t threads = uint64_t(gridX) * gridY * gridZ * blockX * blockY * blockZ;
  for (uint64_t i = 0; i < threads; ++i)
    kernel->thread(parameters, i);
  return 0;
}

struct Symbol {
  const char *name;
  void *function;
};
#define KILN_FAKE(name)                                                        \
  { #name, reinterpret_cast < void *>(&name) }
const Symbol kSymbols[] = {
    KILN_FAKE(cuInit),
    KILN_FAKE(cuDriverGetVersion),
    KILN_FAKE(cuGetErrorName),
    KILN_FAKE(cuDeviceGetCount),
    KILN_FAKE(cuDeviceGet),
    KILN_FAKE(cuDeviceGetName),
    KILN_FAKE(cuDeviceGetAttribute),
    KILN_FAKE(cuDevicePrimaryCtxRetain),
    KILN_FAKE(cuDevicePrimaryCtxRelease),
    KILN_FAKE(cuCtxSetCurrent),
    KILN_FAKE(cuModuleLoadDataEx),
    KILN_FAKE(cuModuleUnload),
    KILN_FAKE(cuModuleGetFunction),
    KILN_FAKE(cuFuncSetAttribute),
    KILN_FAKE(cuMemAlloc),
    KILN_FAKE(cuMemFree),
    KILN_FAKE(cuMemHostAlloc),
    KILN_FAKE(cuMemFreeHost),
    KILN_FAKE(cuMemsetD8),
    KILN_FAKE(cuMemcpyHtoD),
    KILN_FAKE(cuMemcpyHtoDAsync),
    KILN_FAKE(cuMemcpyDtoHAsync),
    KILN_FAKE(cuStreamCreate),
    KILN_FAKE(cuStreamDestroy),
    KILN_FAKE(cuStreamSynchronize),
    KILN_FAKE(cuLaunchKernel),
};
#undef KILN_FAKE

} // namespace

extern "C" {

__attribute__((visibility("default"))) CUresult
cuGetProcAddress(const char *symbol, void **function, int, uint64_t) {
  for (const Symbol &entry : kSymbols)
    if (std::strcmp(entry.name, symbol) == 0) {
      *function = entry.function;
      return 0;
    }
  *function = nullptr;
  return 500;
}

/// Kernel launches and copies so far.
__attribute__((visibility("default"))) void fakeCudaCalls(uint64_t *launched,
                                                          uint64_t *copied) {
  *launched = launches;
  *copied = copies;
}

} // extern "C"
