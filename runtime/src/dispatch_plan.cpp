//===- dispatch_plan.cpp - Precomputed dispatches, sequential run ---------===//

#include "dispatch_plan.h"

namespace kiln::runtime {

void planDispatches(const BundleView &view, const kiln_dispatch_fn *entries,
                    uint8_t *arena, uint32_t threadCount,
                    void **bindingPointers, DispatchPlan *plans) {
  const kiln_schedule_header &schedule = *view.schedule;
  for (uint32_t b = 0; b < schedule.binding_count; ++b) {
    const kiln_binding_desc &binding = view.bindings[b];
    // Weights are read-only in the mapping; kernels never write bindings of
    // kind WEIGHTS, the cast only matches the entry point's signature.
    uint8_t *base = binding.kind == KILN_BUFFER_ARENA
                        ? arena
                        : const_cast<uint8_t *>(view.weights);
    bindingPointers[b] = base + binding.offset;
  }
  for (uint32_t d = 0; d < schedule.dispatch_count; ++d) {
    const kiln_dispatch_desc &dispatch = view.dispatches[d];
    plans[d].entry = entries[dispatch.entry];
    plans[d].bindings = bindingPointers + dispatch.binding_first;
    plans[d].workgroupCount = static_cast<int64_t>(
        uint64_t(dispatch.workgroup_count[0]) * dispatch.workgroup_count[1] *
        dispatch.workgroup_count[2]);
    // An elastic dispatch gets two workgroups per thread (one when running
    // alone): enough that a thread that wakes late still finds work, few
    // enough not to repeat per-workgroup setup (packing) much.
    int64_t wanted = threadCount <= 1 ? 1 : 2 * int64_t(threadCount);
    if ((dispatch.flags & KILN_DISPATCH_FLAG_ELASTIC_WORKGROUPS) &&
        plans[d].workgroupCount > wanted)
      plans[d].workgroupCount = wanted;
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
