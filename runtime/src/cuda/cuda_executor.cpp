//===- cuda_executor.cpp - Load a CUDA image, run a schedule on a GPU -----===//

#include "cuda/cuda_executor.h"
#include "cuda/cuda_driver.h"

#include <chrono>
#include <new>
#include <stdlib.h>
#include <string.h>

namespace kiln::runtime::cuda {

struct Module {
  const Driver *driver = nullptr;
  CUdevice device = 0;
  CUcontext context = nullptr;
  CUmodule module = nullptr;
  const kiln_cuda_entry *entries = nullptr;
  const kiln_cuda_launch *launches = nullptr;
  CUfunction *functions = nullptr; // one per launch
  CUdeviceptr weights = 0;
  ErrorMessage description;
};

struct Session {
  Module *module = nullptr;
  uint8_t *hostArena = nullptr;
  CUdeviceptr deviceArena = 0;
  CUstream stream = nullptr;
  CUdeviceptr *bindingPointers = nullptr; // device address of each binding
  void **parameters = nullptr;            // &bindingPointers[b]
};

namespace {

constexpr uint32_t kMaxBinaries = 64;
constexpr uint32_t kMaxLaunches = 1u << 20;
// Without an opt-in (cuFuncSetAttribute), a kernel gets this much dynamic
// shared memory.
constexpr uint32_t kDefaultSharedBytes = 48 * 1024;

/// Checks the image's tables against bundle_format.h (the section's checksum
/// was checked when the bundle was opened; this catches a compiler bug or a
/// bundle built with a forged checksum).
bool verifyImage(const uint8_t *image, uint64_t size, uint32_t entryCount,
                 ErrorMessage &error) {
  auto fail = [&](const char *problem) {
    error << "malformed CUDA image: " << problem;
    return false;
  };
  if (size < sizeof(kiln_cuda_image_header))
    return fail("shorter than its header");
  const auto &header = *reinterpret_cast<const kiln_cuda_image_header *>(image);
  if (header.magic != KILN_CUDA_IMAGE_MAGIC)
    return fail("bad magic");
  if (header.version != KILN_CUDA_IMAGE_VERSION)
    return fail("unknown version");
  if (header.binary_count == 0 || header.binary_count > kMaxBinaries)
    return fail("bad binary count");
  if (header.entry_count != entryCount)
    return fail("entry count differs from the schedule's");
  if (header.launch_count > kMaxLaunches)
    return fail("too many launches");
  uint64_t tables = sizeof(header) +
                    uint64_t(header.binary_count) * sizeof(kiln_cuda_binary) +
                    uint64_t(header.entry_count) * sizeof(kiln_cuda_entry) +
                    uint64_t(header.launch_count) * sizeof(kiln_cuda_launch);
  if (tables > size || header.strings_offset != tables ||
      uint64_t(header.strings_offset) + header.strings_size > size)
    return fail("tables run past the section");
  const auto *binaries =
      reinterpret_cast<const kiln_cuda_binary *>(image + sizeof(header));
  for (uint32_t i = 0; i < header.binary_count; ++i) {
    const kiln_cuda_binary &binary = binaries[i];
    if (binary.kind != KILN_CUDA_BINARY_CUBIN &&
        binary.kind != KILN_CUDA_BINARY_PTX)
      return fail("unknown binary kind");
    if (binary.offset > size || binary.size > size - binary.offset)
      return fail("a binary runs past the section");
    if (binary.kind == KILN_CUDA_BINARY_PTX &&
        (binary.size == size - binary.offset ||
         image[binary.offset + binary.size] != '\0'))
      return fail("PTX without its terminating NUL");
  }
  const auto *entries =
      reinterpret_cast<const kiln_cuda_entry *>(binaries + header.binary_count);
  for (uint32_t i = 0; i < header.entry_count; ++i)
    if (entries[i].launch_first > header.launch_count ||
        entries[i].launch_count > header.launch_count - entries[i].launch_first)
      return fail("an entry's launches run past the table");
  const auto *launches =
      reinterpret_cast<const kiln_cuda_launch *>(entries + header.entry_count);
  const char *strings =
      reinterpret_cast<const char *>(image + header.strings_offset);
  for (uint32_t i = 0; i < header.launch_count; ++i) {
    const kiln_cuda_launch &launch = launches[i];
    if (launch.kernel_name >= header.strings_size ||
        !memchr(strings + launch.kernel_name, '\0',
                header.strings_size - launch.kernel_name))
      return fail("a kernel name runs past the strings");
    for (uint32_t d = 0; d < 3; ++d)
      if (launch.grid[d] == 0 || launch.block[d] == 0)
        return fail("a launch has an empty grid or block");
    if (uint64_t(launch.block[0]) * launch.block[1] * launch.block[2] > 1024)
      return fail("a launch has more than 1024 threads per block");
  }
  return true;
}

/// The binary to load on a device of compute capability `sm`: its own cubin,
/// else the cubin of the newest older sm of the same major (cubins run on
/// later minors), else the PTX of the newest sm not above it. Null if none.
/// With `ptxOnly` (KILN_CUDA_BINARY=ptx, to check the driver's compilation
/// of the PTX on a GPU that has a cubin), only PTX.
const kiln_cuda_binary *chooseBinary(const kiln_cuda_binary *binaries,
                                     uint32_t count, uint32_t sm,
                                     bool ptxOnly) {
  const kiln_cuda_binary *cubin = nullptr, *ptx = nullptr;
  for (uint32_t i = 0; i < count; ++i) {
    const kiln_cuda_binary &b = binaries[i];
    if (b.sm > sm)
      continue;
    if (b.kind == KILN_CUDA_BINARY_CUBIN && b.sm / 10 == sm / 10 &&
        (!cubin || b.sm > cubin->sm))
      cubin = &b;
    if (b.kind == KILN_CUDA_BINARY_PTX && (!ptx || b.sm > ptx->sm))
      ptx = &b;
  }
  return cubin && !ptxOnly ? cubin : ptx;
}

void appendBinaries(ErrorMessage &message, const kiln_cuda_binary *binaries,
                    uint32_t count) {
  for (uint32_t i = 0; i < count; ++i)
    message << (i ? ", " : "")
            << (binaries[i].kind == KILN_CUDA_BINARY_CUBIN ? "cubin sm_"
                                                           : "PTX compute_")
            << binaries[i].sm;
}

/// The ".version X.Y" line of a PTX text, for messages; "?" if absent.
void appendPtxVersion(ErrorMessage &message, const char *ptx, uint64_t size) {
  const char *key = ".version ";
  const size_t keyLength = strlen(key);
  for (uint64_t i = 0; i + keyLength < size; ++i)
    if (memcmp(ptx + i, key, keyLength) == 0) {
      for (uint64_t j = i + keyLength; j < size && ptx[j] != '\n' && j < i + 16;
           ++j)
        message << ptx[j];
      return;
    }
  message << "?";
}

} // namespace

Module *loadModule(const BundleView &view, uint32_t section, const char *origin,
                   ErrorMessage &why) {
  const Driver *driver = loadDriver(why);
  if (!driver)
    return nullptr;
  const Driver &d = *driver;
  const uint8_t *image = view.sectionData(section);
  uint64_t imageSize = view.sections[section].size;
  ErrorMessage problem;
  if (!verifyImage(image, imageSize, view.schedule->entry_count, problem)) {
    startSectionError(why, origin, view, section) << problem.c_str();
    return nullptr;
  }
  const auto &header = *reinterpret_cast<const kiln_cuda_image_header *>(image);
  const auto *binaries =
      reinterpret_cast<const kiln_cuda_binary *>(image + sizeof(header));

  int deviceCount = 0;
  CUresult result = d.cuDeviceGetCount(&deviceCount);
  if (result == CUDA_ERROR_NO_DEVICE ||
      (result == CUDA_SUCCESS && !deviceCount)) {
    why << "no CUDA device (CUDA_ERROR_NO_DEVICE, 100)";
    return nullptr;
  }
  CUdevice device = 0;
  int major = 0, minor = 0;
  char name[128] = "CUDA device";
  if (result == CUDA_SUCCESS)
    result = d.cuDeviceGet(&device, 0);
  if (result == CUDA_SUCCESS)
    result = d.cuDeviceGetAttribute(
        &major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
  if (result == CUDA_SUCCESS)
    result = d.cuDeviceGetAttribute(
        &minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
  if (result == CUDA_SUCCESS)
    result = d.cuDeviceGetName(name, sizeof(name), device);
  if (result != CUDA_SUCCESS) {
    why << "cannot query CUDA device 0: ";
    appendResult(why, d, result);
    return nullptr;
  }
  uint32_t sm = uint32_t(10 * major + minor);
  const char *choice = getenv("KILN_CUDA_BINARY");
  const kiln_cuda_binary *binary = chooseBinary(
      binaries, header.binary_count, sm, choice && strcmp(choice, "ptx") == 0);
  if (!binary) {
    why << "no code for this GPU, " << name << " (sm_" << sm
        << "): the bundle's CUDA executable holds ";
    appendBinaries(why, binaries, header.binary_count);
    why << " (recompile with --target cuda:sm_" << sm << " if kiln knows it)";
    return nullptr;
  }

  Module *module = new (std::nothrow) Module;
  if (!module) {
    why << "out of memory";
    return nullptr;
  }
  module->driver = driver;
  module->device = device;
  module->description << name << ", sm_" << sm << ", ";
  appendBinaries(module->description, binary, 1);
  auto failWith = [&](const char *what, CUresult failure) {
    why << what << ": ";
    appendResult(why, d, failure);
    unloadModule(module);
    return nullptr;
  };
  if ((result = d.cuDevicePrimaryCtxRetain(&module->context, device)))
    return failWith("cannot create a CUDA context", result);
  if ((result = d.cuCtxSetCurrent(module->context)))
    return failWith("cannot use the CUDA context", result);

  // The JIT's log says what it disliked in PTX.
  char log[ErrorMessage::kCapacity / 2] = "";
  int options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {log, reinterpret_cast<void *>(uintptr_t(sizeof(log)))};
  result = d.cuModuleLoadDataEx(&module->module, image + binary->offset, 2,
                                options, values);
  if (result == CUDA_ERROR_UNSUPPORTED_PTX_VERSION) {
    int version = 0;
    d.cuDriverGetVersion(&version);
    why << "the CUDA driver (CUDA " << version / 1000 << "."
        << (version % 1000) / 10 << ") cannot read the bundle's PTX (ISA ";
    appendPtxVersion(why,
                     reinterpret_cast<const char *>(image) + binary->offset,
                     binary->size);
    why << ", compute_" << binary->sm << "); update the driver";
    unloadModule(module);
    return nullptr;
  }
  if (result != CUDA_SUCCESS) {
    why << "cannot load the bundle's ";
    appendBinaries(why, binary, 1);
    why << " on " << name << ": ";
    appendResult(why, d, result);
    if (log[0])
      why << ": " << log;
    module->module = nullptr;
    unloadModule(module);
    return nullptr;
  }

  module->entries =
      reinterpret_cast<const kiln_cuda_entry *>(binaries + header.binary_count);
  module->launches = reinterpret_cast<const kiln_cuda_launch *>(
      module->entries + header.entry_count);
  const char *strings =
      reinterpret_cast<const char *>(image + header.strings_offset);
  module->functions = new (std::nothrow)
      CUfunction[header.launch_count ? header.launch_count : 1];
  if (!module->functions) {
    why << "out of memory";
    unloadModule(module);
    return nullptr;
  }
  for (uint32_t i = 0; i < header.launch_count; ++i) {
    const kiln_cuda_launch &launch = module->launches[i];
    const char *kernel = strings + launch.kernel_name;
    if ((result = d.cuModuleGetFunction(&module->functions[i], module->module,
                                        kernel))) {
      why << "the bundle's CUDA code has no kernel '" << kernel << "': ";
      appendResult(why, d, result);
      unloadModule(module);
      return nullptr;
    }
    if (launch.shared_bytes > kDefaultSharedBytes &&
        (result = d.cuFuncSetAttribute(
             module->functions[i],
             CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
             int(launch.shared_bytes))))
      return failWith("the GPU cannot give a kernel its shared memory", result);
  }

  // Every device reads the weights in place: a copy of the whole section.
  if (view.weightsSize) {
    if ((result = d.cuMemAlloc(&module->weights, view.weightsSize)))
      return failWith("cannot allocate the weights on the GPU", result);
    if ((result =
             d.cuMemcpyHtoD(module->weights, view.weights, view.weightsSize)))
      return failWith("cannot copy the weights to the GPU", result);
  }
  return module;
}

void unloadModule(Module *module) {
  if (!module)
    return;
  if (module->driver && module->context) {
    const Driver &d = *module->driver;
    d.cuCtxSetCurrent(module->context);
    if (module->weights)
      d.cuMemFree(module->weights);
    if (module->module)
      d.cuModuleUnload(module->module);
    d.cuDevicePrimaryCtxRelease(module->device);
  }
  delete[] module->functions;
  delete module;
}

const char *moduleDescription(const Module *module) {
  return module ? module->description.c_str() : "";
}

Session *createSession(Module &module, const BundleView &view,
                       ErrorMessage &error) {
  const Driver &d = *module.driver;
  Session *session = new (std::nothrow) Session;
  const uint32_t bindingCount = view.schedule->binding_count;
  if (session) {
    session->module = &module;
    session->bindingPointers =
        new (std::nothrow) CUdeviceptr[bindingCount ? bindingCount : 1];
    session->parameters =
        new (std::nothrow) void *[bindingCount ? bindingCount : 1];
  }
  if (!session || !session->bindingPointers || !session->parameters) {
    destroySession(session);
    error << "out of memory";
    return nullptr;
  }
  uint64_t arenaBytes =
      view.manifest->arena_size ? view.manifest->arena_size : 1;
  CUresult result = d.cuCtxSetCurrent(module.context);
  void *host = nullptr;
  if (!result)
    result = d.cuMemHostAlloc(&host, arenaBytes, 0);
  session->hostArena = static_cast<uint8_t *>(host);
  if (!result)
    result = d.cuMemAlloc(&session->deviceArena, arenaBytes);
  if (!result)
    result = d.cuMemsetD8(session->deviceArena, 0, arenaBytes);
  if (!result)
    result = d.cuStreamCreate(&session->stream, CU_STREAM_NON_BLOCKING);
  if (result) {
    error << "cannot allocate the session on the GPU (arena of "
          << view.manifest->arena_size << " bytes): ";
    appendResult(error, d, result);
    destroySession(session);
    return nullptr;
  }
  memset(session->hostArena, 0, arenaBytes);
  for (uint32_t b = 0; b < bindingCount; ++b) {
    const kiln_binding_desc &binding = view.bindings[b];
    session->bindingPointers[b] =
        (binding.kind == KILN_BUFFER_ARENA ? session->deviceArena
                                           : module.weights) +
        binding.offset;
    session->parameters[b] = &session->bindingPointers[b];
  }
  return session;
}

void destroySession(Session *session) {
  if (!session)
    return;
  if (session->module) {
    const Driver &d = *session->module->driver;
    d.cuCtxSetCurrent(session->module->context);
    if (session->stream) {
      d.cuStreamSynchronize(session->stream);
      d.cuStreamDestroy(session->stream);
    }
    if (session->deviceArena)
      d.cuMemFree(session->deviceArena);
    if (session->hostArena)
      d.cuMemFreeHost(session->hostArena);
  }
  delete[] session->bindingPointers;
  delete[] session->parameters;
  delete session;
}

uint8_t *hostArena(Session *session) { return session->hostArena; }

kiln_status run(Session &session, const BundleView &view,
                CpuDispatchRunner runCpu, void *context,
                uint64_t *dispatchNanoseconds, ErrorMessage &error) {
  const Module &module = *session.module;
  const Driver &d = *module.driver;
  const kiln_schedule_header &schedule = *view.schedule;
  CUresult result = d.cuCtxSetCurrent(module.context);
  uint32_t failed = schedule.dispatch_count;
  // Whether the stream has work the host has not waited for. A CPU dispatch
  // waits for it: it may read what the GPU wrote back, or write host memory
  // an earlier copy still reads.
  bool streamBusy = false;
  for (uint32_t i = 0; i < schedule.dispatch_count && !result; ++i) {
    auto start = std::chrono::steady_clock::now();
    const kiln_dispatch_desc &dispatch = view.dispatches[i];
    if (dispatch.flags & KILN_DISPATCH_FLAG_TRANSFER) {
      const kiln_binding_desc &binding = view.bindings[dispatch.binding_first];
      result = dispatch.device == KILN_DEVICE_CUDA
                   ? d.cuMemcpyHtoDAsync(session.deviceArena + binding.offset,
                                         session.hostArena + binding.offset,
                                         binding.size, session.stream)
                   : d.cuMemcpyDtoHAsync(session.hostArena + binding.offset,
                                         session.deviceArena + binding.offset,
                                         binding.size, session.stream);
      streamBusy = true;
    } else if (dispatch.device == KILN_DEVICE_CUDA) {
      const kiln_cuda_entry &entry = module.entries[dispatch.entry];
      for (uint32_t l = 0; l < entry.launch_count && !result; ++l) {
        const kiln_cuda_launch &launch =
            module.launches[entry.launch_first + l];
        result = d.cuLaunchKernel(
            module.functions[entry.launch_first + l], launch.grid[0],
            launch.grid[1], launch.grid[2], launch.block[0], launch.block[1],
            launch.block[2], launch.shared_bytes, session.stream,
            session.parameters + dispatch.binding_first, nullptr);
      }
      streamBusy = true;
    } else {
      if (streamBusy && (result = d.cuStreamSynchronize(session.stream))) {
        failed = i;
        break;
      }
      streamBusy = false;
      runCpu(context, i);
    }
    if (!result && dispatchNanoseconds) {
      result = d.cuStreamSynchronize(session.stream);
      streamBusy = false;
      dispatchNanoseconds[i] +=
          std::chrono::duration_cast<std::chrono::nanoseconds>(
              std::chrono::steady_clock::now() - start)
              .count();
    }
    if (result)
      failed = i;
  }
  if (!result && streamBusy)
    result = d.cuStreamSynchronize(session.stream);
  if (result == CUDA_SUCCESS)
    return KILN_OK;
  // Kernels run asynchronously: a fault shows at the next wait, which may
  // come dispatches later than the kernel that caused it.
  error << "CUDA run failed";
  if (failed < schedule.dispatch_count)
    error << " by dispatch " << failed << " ("
          << view.string(view.dispatches[failed].name) << ")";
  else
    error << " by the end of the run";
  error << ": ";
  appendResult(error, d, result);
  error << " (GPU work runs ahead of the host: the cause may be an earlier "
           "GPU dispatch; kiln bench --profile waits after each)";
  return KILN_ERROR_INTERNAL;
}

} // namespace kiln::runtime::cuda
