//===- OptimizeModule.h - LLVM's default pipeline on a module ---*- C++ -*-===//
#ifndef KILN_TARGETS_OPTIMIZEMODULE_H
#define KILN_TARGETS_OPTIMIZEMODULE_H

#include "llvm/Passes/OptimizationLevel.h"
#include "llvm/Passes/PassBuilder.h"

namespace llvm {
class Module;
class TargetMachine;
class TargetLibraryInfoImpl;
} // namespace llvm

namespace mlir::kiln {

/// Runs LLVM's default per-module pipeline at `level` on `module`, for
/// `machine`, with `tuning`; with `library`, the optimised code may call
/// only the library functions it allows.
void optimizeModule(llvm::Module &module, llvm::TargetMachine *machine,
                    llvm::OptimizationLevel level,
                    const llvm::PipelineTuningOptions &tuning = {},
                    const llvm::TargetLibraryInfoImpl *library = nullptr);

} // namespace mlir::kiln

#endif // KILN_TARGETS_OPTIMIZEMODULE_H
