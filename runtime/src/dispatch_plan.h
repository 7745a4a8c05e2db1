//===- dispatch_plan.h - Precomputed dispatches, sequential run -*- C++ -*-===//
//
// Part of the freestanding core. A session resolves every binding to a base
// pointer once, at creation, so that running the schedule is only a loop of
// indirect calls: no lookups, no allocation.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DISPATCH_PLAN_H
#define KILN_RUNTIME_DISPATCH_PLAN_H

#include "bundle_verify.h"

namespace kiln::runtime {

struct DispatchPlan {
  kiln_dispatch_fn entry;
  void *const *bindings;  // the dispatch's binding base pointers, in order
  int64_t workgroupCount; // product of the grid
};

/// Resolves the schedule of a verified bundle against `arena` and the
/// executable's `entries` (schedule entry_count of them) for a session of
/// `threadCount` threads (elastic dispatches get at most that many
/// workgroups). Fills
/// `bindingPointers` (schedule binding_count entries) and `plans` (schedule
/// dispatch_count entries).
/// Where `binding` points for a run on `arena`. Weights are read-only in the
/// mapping; kernels never write bindings of kind WEIGHTS, the cast only
/// matches the entry point's signature.
inline void *bindingAddress(const BundleView &view,
                            const kiln_binding_desc &binding, uint8_t *arena) {
  uint8_t *base = binding.kind == KILN_BUFFER_ARENA
                      ? arena
                      : const_cast<uint8_t *>(view.weights);
  return base + binding.offset;
}

/// The workgroups `dispatch` runs with `threadCount` threads: its grid, or
/// for an elastic dispatch at most two per thread (one when running alone).
int64_t workgroupsFor(const kiln_dispatch_desc &dispatch, uint32_t threadCount);

void planDispatches(const BundleView &view, const kiln_dispatch_fn *entries,
                    uint8_t *arena, uint32_t threadCount,
                    void **bindingPointers, DispatchPlan *plans);

/// Runs the plans in order, each workgroup in order, on the calling thread.
void runDispatchesSequentially(const DispatchPlan *plans, uint32_t count);

} // namespace kiln::runtime

#endif // KILN_RUNTIME_DISPATCH_PLAN_H
