//===- executor_tbb.cpp - Workgroups spread over oneTBB threads -----------===//
//
// One tbb::task_arena per session, so that sessions with different thread
// counts do not share (or fight over) one global pool. The whole schedule runs
// inside a single arena.execute call to pay the entry cost once per run.
//
//===----------------------------------------------------------------------===//

#include "parallel_executor.h"

#include <new>

#include <tbb/blocked_range.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

namespace kiln::runtime {

class ParallelExecutor {
public:
  explicit ParallelExecutor(uint32_t threadCount)
      : arena(static_cast<int>(threadCount)) {}
  tbb::task_arena arena;
};

uint32_t defaultThreadCount() {
  int count = tbb::info::default_concurrency();
  return count > 0 ? static_cast<uint32_t>(count) : 1u;
}

ParallelExecutor *createParallelExecutor(uint32_t threadCount) {
  return new (std::nothrow) ParallelExecutor(threadCount);
}

void destroyParallelExecutor(ParallelExecutor *executor) { delete executor; }

void runDispatchesInParallel(ParallelExecutor *executor,
                             const DispatchPlan *plans, uint32_t count) {
  executor->arena.execute([plans, count] {
    for (uint32_t d = 0; d < count; ++d) {
      const DispatchPlan &plan = plans[d];
      if (plan.workgroupCount <= 1) {
        if (plan.workgroupCount == 1)
          plan.entry(plan.bindings, 0, 1);
        continue;
      }
      tbb::parallel_for(tbb::blocked_range<int64_t>(0, plan.workgroupCount),
                        [&plan](const tbb::blocked_range<int64_t> &range) {
                          for (int64_t workgroup = range.begin();
                               workgroup < range.end(); ++workgroup)
                            plan.entry(plan.bindings, workgroup,
                                       plan.workgroupCount);
                        });
    }
  });
}

} // namespace kiln::runtime
