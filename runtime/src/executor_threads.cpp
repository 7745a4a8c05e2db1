//===- executor_threads.cpp - Workgroups spread over std::threads ---------===//
//
// The executor for builds without oneTBB (KILN_RUNTIME_THREADS=std, the
// cross-built runtime for boards): a fixed pool of threadCount - 1 workers
// plus the calling thread. For each dispatch with several workgroups, every
// thread takes workgroup indices from one atomic counter until none are
// left, and the caller waits until all of them are done. Between runs the
// workers sleep on a condition variable.
//
//===----------------------------------------------------------------------===//

#include "parallel_executor.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

namespace kiln::runtime {

class ParallelExecutor {
public:
  explicit ParallelExecutor(uint32_t threadCount) {
    workers.reserve(threadCount - 1);
    for (uint32_t i = 0; i + 1 < threadCount; ++i)
      workers.emplace_back([this] { workerLoop(); });
  }

  ~ParallelExecutor() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    for (std::thread &worker : workers)
      worker.join();
  }

  /// Runs every workgroup of `plan`, the calling thread included.
  void run(const DispatchPlan &plan) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      current = &plan;
      nextWorkgroup.store(0, std::memory_order_relaxed);
      busyWorkers = static_cast<uint32_t>(workers.size());
      ++generation;
    }
    wake.notify_all();
    runWorkgroups(plan);
    std::unique_lock<std::mutex> lock(mutex);
    done.wait(lock, [this] { return busyWorkers == 0; });
    current = nullptr;
  }

private:
  void runWorkgroups(const DispatchPlan &plan) {
    for (;;) {
      int64_t workgroup = nextWorkgroup.fetch_add(1, std::memory_order_relaxed);
      if (workgroup >= plan.workgroupCount)
        return;
      plan.entry(plan.bindings, workgroup, plan.workgroupCount);
    }
  }

  void workerLoop() {
    uint64_t seen = 0;
    for (;;) {
      const DispatchPlan *plan;
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return stopping || generation != seen; });
        if (stopping)
          return;
        seen = generation;
        plan = current;
      }
      runWorkgroups(*plan);
      std::lock_guard<std::mutex> lock(mutex);
      if (--busyWorkers == 0)
        done.notify_one();
    }
  }

  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable wake, done;
  const DispatchPlan *current = nullptr;
  std::atomic<int64_t> nextWorkgroup{0};
  uint32_t busyWorkers = 0;
  uint64_t generation = 0;
  bool stopping = false;
};

uint32_t defaultThreadCount() {
  unsigned count = std::thread::hardware_concurrency();
  return count > 0 ? count : 1u;
}

ParallelExecutor *createParallelExecutor(uint32_t threadCount) {
  return new (std::nothrow) ParallelExecutor(threadCount);
}

void destroyParallelExecutor(ParallelExecutor *executor) { delete executor; }

void runDispatchesInParallel(ParallelExecutor *executor,
                             const DispatchPlan *plans, uint32_t count) {
  for (uint32_t d = 0; d < count; ++d) {
    const DispatchPlan &plan = plans[d];
    if (plan.workgroupCount == 1)
      plan.entry(plan.bindings, 0, 1);
    else if (plan.workgroupCount > 1)
      executor->run(plan);
  }
}

} // namespace kiln::runtime
