//===- cuda_driver.cpp - Load libcuda.so.1 once per process ---------------===//

#include "cuda/cuda_driver.h"

#include <dlfcn.h>

namespace kiln::runtime::cuda {
namespace {

/// The ABI version every function is requested at: CUDA 11.4, the oldest
/// driver with cuGetProcAddress that the supported GPUs (sm_75 and newer)
/// run; later drivers keep giving this version's functions.
constexpr int kCudaAbiVersion = 11040;

using GetProcAddress = CUresult (*)(const char *symbol, void **function,
                                    int cudaVersion, uint64_t flags);

struct LoadedDriver {
  Driver driver = {};
  bool usable = false;
  ErrorMessage why;

  LoadedDriver() {
    void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      const char *reason = dlerror();
      why << "no CUDA driver: " << (reason ? reason : "libcuda.so.1 not found");
      return;
    }
    auto getProcAddress =
        reinterpret_cast<GetProcAddress>(dlsym(library, "cuGetProcAddress"));
    if (!getProcAddress) {
      why << "the CUDA driver is too old: libcuda.so.1 has no "
             "cuGetProcAddress (CUDA 11.3 or newer is needed)";
      return;
    }
    struct Symbol {
      const char *name;
      void *slot;
    };
    Driver &d = driver;
    const Symbol symbols[] = {
        {"cuInit", &d.cuInit},
        {"cuDriverGetVersion", &d.cuDriverGetVersion},
        {"cuGetErrorName", &d.cuGetErrorName},
        {"cuDeviceGetCount", &d.cuDeviceGetCount},
        {"cuDeviceGet", &d.cuDeviceGet},
        {"cuDeviceGetName", &d.cuDeviceGetName},
        {"cuDeviceGetAttribute", &d.cuDeviceGetAttribute},
        {"cuDevicePrimaryCtxRetain", &d.cuDevicePrimaryCtxRetain},
        {"cuDevicePrimaryCtxRelease", &d.cuDevicePrimaryCtxRelease},
        {"cuCtxSetCurrent", &d.cuCtxSetCurrent},
        {"cuModuleLoadDataEx", &d.cuModuleLoadDataEx},
        {"cuModuleUnload", &d.cuModuleUnload},
        {"cuModuleGetFunction", &d.cuModuleGetFunction},
        {"cuFuncSetAttribute", &d.cuFuncSetAttribute},
        {"cuMemAlloc", &d.cuMemAlloc},
        {"cuMemFree", &d.cuMemFree},
        {"cuMemHostAlloc", &d.cuMemHostAlloc},
        {"cuMemFreeHost", &d.cuMemFreeHost},
        {"cuMemsetD8", &d.cuMemsetD8},
        {"cuMemcpyHtoD", &d.cuMemcpyHtoD},
        {"cuMemcpyHtoDAsync", &d.cuMemcpyHtoDAsync},
        {"cuMemcpyDtoHAsync", &d.cuMemcpyDtoHAsync},
        {"cuStreamCreate", &d.cuStreamCreate},
        {"cuStreamDestroy", &d.cuStreamDestroy},
        {"cuStreamSynchronize", &d.cuStreamSynchronize},
        {"cuLaunchKernel", &d.cuLaunchKernel},
    };
    for (const Symbol &symbol : symbols) {
      void *function = nullptr;
      CUresult result =
          getProcAddress(symbol.name, &function, kCudaAbiVersion, 0);
      if (result == CUDA_ERROR_STUB_LIBRARY) {
        appendStub();
        return;
      }
      if (result != CUDA_SUCCESS || !function) {
        why << "the CUDA driver lacks " << symbol.name << " (cuGetProcAddress "
            << "returned " << result << ")";
        return;
      }
      *static_cast<void **>(symbol.slot) = function;
    }
    if (CUresult result = d.cuInit(0); result != CUDA_SUCCESS) {
      if (result == CUDA_ERROR_STUB_LIBRARY) {
        appendStub();
        return;
      }
      why << "the CUDA driver failed to initialise: cuInit returned ";
      appendResult(why, d, result);
      return;
    }
    usable = true;
  }

  void appendStub() {
    why << "the CUDA driver found is the toolkit's stub library "
           "(CUDA_ERROR_STUB_LIBRARY, 34), not a driver: libcuda.so.1 must "
           "come from the NVIDIA driver";
  }
};

} // namespace

const Driver *loadDriver(ErrorMessage &why) {
  static LoadedDriver loaded;
  if (!loaded.usable) {
    why << loaded.why.c_str();
    return nullptr;
  }
  return &loaded.driver;
}

ErrorMessage &appendResult(ErrorMessage &message, const Driver &driver,
                           CUresult result) {
  const char *name = nullptr;
  if (driver.cuGetErrorName(result, &name) != CUDA_SUCCESS || !name)
    name = "CUDA error";
  return message << name << " (" << result << ")";
}

} // namespace kiln::runtime::cuda
