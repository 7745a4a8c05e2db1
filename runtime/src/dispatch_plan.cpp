//===- dispatch_plan.cpp - Precomputed dispatches, sequential run ---------===//

#include "dispatch_plan.h"

namespace kiln::runtime {

int64_t workgroupsFor(const kiln_dispatch_desc &dispatch,
                      uint32_t threadCount) {
  int64_t count = static_cast<int64_t>(uint64_t(dispatch.workgroup_count[0]) *
                                       dispatch.workgroup_count[1] *
                                       dispatch.workgroup_count[2]);
  // Two per thread: enough that a thread that wakes late still finds work,
  // few enough not to repeat per-workgroup setup (packing) much.
  int64_t wanted = threadCount <= 1 ? 1 : 2 * int64_t(threadCount);
  if ((dispatch.flags & KILN_DISPATCH_FLAG_ELASTIC_WORKGROUPS) &&
      count > wanted)
    count = wanted;
  return count;
}

void planDispatches(const BundleView &view, const kiln_dispatch_fn *entries,
                    uint8_t *arena, uint32_t threadCount,
                    void **bindingPointers, DispatchPlan *plans) {
  const kiln_schedule_header &schedule = *view.schedule;
  for (uint32_t b = 0; b < schedule.binding_count; ++b)
    bindingPointers[b] = bindingAddress(view, view.bindings[b], arena);
  for (uint32_t d = 0; d < schedule.dispatch_count; ++d) {
    const kiln_dispatch_desc &dispatch = view.dispatches[d];
    // A transfer has no grid: nothing to call on the CPU.
    plans[d].entry = (dispatch.flags & KILN_DISPATCH_FLAG_TRANSFER)
                         ? nullptr
                         : entries[dispatch.entry];
    plans[d].bindings = bindingPointers + dispatch.binding_first;
    plans[d].workgroupCount = workgroupsFor(dispatch, threadCount);
  }
}

void runDispatchesSequentially(const DispatchPlan *plans, uint32_t count) {
  for (uint32_t d = 0; d < count; ++d) {
    const DispatchPlan &plan = plans[d];
    for (int64_t workgroup = 0; workgroup < plan.workgroupCount; ++workgroup)
      plan.entry(plan.bindings, workgroup, plan.workgroupCount);
  }
}

} // namespace kiln::runtime
