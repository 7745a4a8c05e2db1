//===- cuda_unavailable.cpp - The CUDA executor of a runtime without it ---===//
//
// Built instead of the executor where KILN_RUNTIME_CUDA is off (the
// cross-built board runtime): bundles with GPU code run on the CPU, and a
// request for the GPU says why it cannot be met.
//
//===----------------------------------------------------------------------===//

#include "cuda/cuda_executor.h"

namespace kiln::runtime::cuda {

Module *loadModule(const BundleView &, uint32_t, const char *,
                   ErrorMessage &why) {
  why << "this runtime was built without CUDA support (KILN_RUNTIME_CUDA=OFF)";
  return nullptr;
}

void unloadModule(Module *) {}

const char *moduleDescription(const Module *) { return ""; }

Session *createSession(Module &, const BundleView &, ErrorMessage &error) {
  error << "no CUDA support";
  return nullptr;
}

void destroySession(Session *) {}

uint8_t *hostArena(Session *) { return nullptr; }

kiln_status run(Session &, const BundleView &, CpuDispatchRunner, void *,
                uint64_t *, ErrorMessage &error) {
  error << "no CUDA support";
  return KILN_ERROR_UNSUPPORTED;
}

} // namespace kiln::runtime::cuda
