//===- GpuEmulator.h - the CUDA target's kernels on the CPU -----*- C++ -*-===//
//
// Runs kernels the CUDA target generates on the CPU, for tests on machines
// without a GPU (kiln-cuda-emulate, and the emulated CUDA driver that runs
// whole bundles with --device cuda). See GpuEmulator.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_TOOLS_GPUEMULATOR_H
#define KILN_TOOLS_GPUEMULATOR_H

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/IR/LLVMContext.h"

#include <memory>
#include <optional>
#include <string>

namespace llvm {
class Module;
namespace orc {
class LLJIT;
} // namespace orc
} // namespace llvm

namespace kiln {

class GpuEmulator {
public:
  /// Compiles the kernels of `module` (LLVM IR as translated from the NVVM
  /// dialect) for the host; null with `error` set when it cannot.
  static std::unique_ptr<GpuEmulator>
  create(std::unique_ptr<llvm::Module> module,
         std::unique_ptr<llvm::LLVMContext> context, std::string &error);
  ~GpuEmulator();

  /// A kernel: its entry, called with its parameters as cuLaunchKernel
  /// takes them (parameters[i] points to the value of parameter i, a
  /// pointer: the kernels take only buffers), and whether its threads wait
  /// for each other (bar.sync, mma.sync), which only then run as fibers.
  struct Kernel {
    void (*entry)(void **parameters);
    bool synchronizes;
  };
  /// The kernel named `name`, or nothing.
  std::optional<Kernel> lookup(llvm::StringRef name);

  /// Runs `kernel` on grid x block threads, one block after another; false
  /// with `error` set where the threads deadlock (a barrier or an mma.sync
  /// some never reach). Not reentrant.
  static bool launch(const Kernel &kernel, const unsigned grid[3],
                     const unsigned block[3], void **parameters,
                     std::string &error);

private:
  GpuEmulator() = default;
  std::unique_ptr<llvm::orc::LLJIT> jit;
  llvm::StringSet<> synchronizing;
};

} // namespace kiln

#endif // KILN_TOOLS_GPUEMULATOR_H
