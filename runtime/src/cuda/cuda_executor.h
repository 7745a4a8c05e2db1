//===- cuda_executor.h - Run a bundle's GPU dispatches ----------*- C++ -*-===//
//
// A model's CUDA module is loaded once, from the mapped bundle: the cubin for
// the device's sm (or an older one of the same major), otherwise the PTX,
// which the driver compiles. The weights are copied to the device then.
//
// A session on the GPU has a device arena with the layout the compiler
// planned for the host arena, and a host arena in pinned memory, so inputs
// and outputs move by DMA with nothing allocated per run. Runs follow the
// schedule on one stream: GPU dispatches launch their kernels, transfers
// copy an arena range between the two arenas, and CPU dispatches run on the
// host once the stream has caught up.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CUDA_CUDA_EXECUTOR_H
#define KILN_RUNTIME_CUDA_CUDA_EXECUTOR_H

#include "bundle_verify.h"

namespace kiln::runtime::cuda {

struct Module;
struct Session;

/// Loads executable section `section` (target KILN_TARGET_CUDA) of `view`
/// onto the first CUDA device. Null when it cannot, with the reason in
/// `why`: no driver, the stub driver, no device, no binary for the device,
/// PTX the driver cannot read, a malformed image (prefixed by `origin`).
Module *loadModule(const BundleView &view, uint32_t section, const char *origin,
                   ErrorMessage &why);
void unloadModule(Module *module);
/// "NVIDIA H200, sm_90, cubin sm_90" (or "..., PTX compute_90").
const char *moduleDescription(const Module *module);

/// Allocates a session's two arenas and its stream. Null on failure, with
/// the reason in `error`.
Session *createSession(Module &module, const BundleView &view,
                       ErrorMessage &error);
void destroySession(Session *session);
/// The session's host arena (pinned, zeroed, arena_size bytes).
uint8_t *hostArena(Session *session);

/// Runs CPU dispatch `dispatch` of the schedule on the host.
using CpuDispatchRunner = void (*)(void *context, uint32_t dispatch);

/// Runs the schedule once. With `dispatchNanoseconds`, waits for each
/// dispatch and adds its wall time there. A failed launch or copy (a fault
/// inside a kernel, say) returns KILN_ERROR_INTERNAL with `error` naming
/// the dispatch.
kiln_status run(Session &session, const BundleView &view,
                CpuDispatchRunner runCpu, void *context,
                uint64_t *dispatchNanoseconds, ErrorMessage &error);

} // namespace kiln::runtime::cuda

#endif // KILN_RUNTIME_CUDA_CUDA_EXECUTOR_H
