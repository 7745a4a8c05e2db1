//===- parallel_executor.h - Workgroups spread over threads -----*- C++ -*-===//
//
// Platform piece (oneTBB implementation in executor_tbb.cpp). Dispatches still
// run one after another; the workgroups of one dispatch run in parallel.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_PARALLEL_EXECUTOR_H
#define KILN_RUNTIME_PARALLEL_EXECUTOR_H

#include "dispatch_plan.h"

namespace kiln::runtime {

class ParallelExecutor;

/// The number of threads `0` stands for: what the process may use.
uint32_t defaultThreadCount();

/// An executor with its own pool of `threadCount` (> 1) threads, shared by
/// nothing else; null when out of memory.
ParallelExecutor *createParallelExecutor(uint32_t threadCount);
void destroyParallelExecutor(ParallelExecutor *executor);

/// Runs the plans in order; returns when every workgroup has finished.
void runDispatchesInParallel(ParallelExecutor *executor,
                             const DispatchPlan *plans, uint32_t count);

} // namespace kiln::runtime

#endif // KILN_RUNTIME_PARALLEL_EXECUTOR_H
