//===- cuda_driver.h - The CUDA driver API, loaded at run time --*- C++ -*-===//
//
// The runtime links nothing of CUDA: it opens libcuda.so.1 with dlopen on
// first use and takes every function through cuGetProcAddress, at the ABI
// version the declarations below follow. A machine without a driver (or
// with the toolkit's stub) gets a reason, which sessions report or fall back
// on.
//
// The declarations are the few the executor needs, written from the driver
// API's documented ABI, so that building the runtime needs no toolkit.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CUDA_CUDA_DRIVER_H
#define KILN_RUNTIME_CUDA_CUDA_DRIVER_H

#include "error_message.h"

#include <stddef.h>
#include <stdint.h>

namespace kiln::runtime::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;

// Result codes the executor names in its messages.
constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_STUB_LIBRARY = 34;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
constexpr CUresult CUDA_ERROR_NO_BINARY_FOR_GPU = 209;
constexpr CUresult CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222;

constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
constexpr int CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
constexpr unsigned CU_STREAM_NON_BLOCKING = 1;

/// The driver's functions. Each is the version cuGetProcAddress gives for
/// kCudaAbiVersion (cuMemAlloc is cuMemAlloc_v2, and so on).
struct Driver {
  CUresult (*cuInit)(unsigned flags);
  CUresult (*cuDriverGetVersion)(int *version);
  CUresult (*cuGetErrorName)(CUresult error, const char **name);
  CUresult (*cuDeviceGetCount)(int *count);
  CUresult (*cuDeviceGet)(CUdevice *device, int ordinal);
  CUresult (*cuDeviceGetName)(char *name, int length, CUdevice device);
  CUresult (*cuDeviceGetAttribute)(int *value, int attribute, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *context, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice device);
  CUresult (*cuCtxSetCurrent)(CUcontext context);
  CUresult (*cuModuleLoadDataEx)(CUmodule *module, const void *image,
                                 unsigned optionCount, int *options,
                                 void **optionValues);
  CUresult (*cuModuleUnload)(CUmodule module);
  CUresult (*cuModuleGetFunction)(CUfunction *function, CUmodule module,
                                  const char *name);
  CUresult (*cuFuncSetAttribute)(CUfunction function, int attribute, int value);
  CUresult (*cuMemAlloc)(CUdeviceptr *pointer, size_t bytes);
  CUresult (*cuMemFree)(CUdeviceptr pointer);
  CUresult (*cuMemHostAlloc)(void **pointer, size_t bytes, unsigned flags);
  CUresult (*cuMemFreeHost)(void *pointer);
  CUresult (*cuMemsetD8)(CUdeviceptr pointer, unsigned char value,
                         size_t count);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr to, const void *from, size_t bytes);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr to, const void *from, size_t bytes,
                                CUstream stream);
  CUresult (*cuMemcpyDtoHAsync)(void *to, CUdeviceptr from, size_t bytes,
                                CUstream stream);
  CUresult (*cuStreamCreate)(CUstream *stream, unsigned flags);
  CUresult (*cuStreamDestroy)(CUstream stream);
  CUresult (*cuStreamSynchronize)(CUstream stream);
  CUresult (*cuLaunchKernel)(CUfunction function, unsigned gridX,
                             unsigned gridY, unsigned gridZ, unsigned blockX,
                             unsigned blockY, unsigned blockZ,
                             unsigned sharedBytes, CUstream stream,
                             void **parameters, void **extra);
};

/// The driver, loaded and initialised once per process; null when there is
/// no usable one, with the reason in `why` (no libcuda.so.1, the stub, a
/// driver too old for cuGetProcAddress, a failed cuInit).
const Driver *loadDriver(ErrorMessage &why);

/// Appends "NAME (code)" for `result`, e.g. "CUDA_ERROR_NO_DEVICE (100)".
ErrorMessage &appendResult(ErrorMessage &message, const Driver &driver,
                           CUresult result);

} // namespace kiln::runtime::cuda

#endif // KILN_RUNTIME_CUDA_CUDA_DRIVER_H
