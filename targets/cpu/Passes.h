//===- Passes.h - Kiln CPU target passes ------------------------*- C++ -*-===//
#ifndef KILN_TARGETS_CPU_PASSES_H
#define KILN_TARGETS_CPU_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace mlir::kiln::cpu {

#define GEN_PASS_DECL
#include "targets/cpu/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "targets/cpu/Passes.h.inc"

/// The most workgroups a parallel part of a dispatch (a microkernel call,
/// sliced loops) asks for; the runtime launches fewer, one or two per thread.
constexpr int64_t kMaxWorkgroups = 8;

/// A dispatch function's workgroup id and count: its last two arguments
/// (kiln-cpu-dispatch-abi).
inline std::pair<Value, Value> workgroupIdAndCount(func::FuncOp func) {
  unsigned n = func.getNumArguments();
  return {func.getArgument(n - 2), func.getArgument(n - 1)};
}

/// The executable module's lowering, in two halves so that the scratch
/// sizes can be read off the functions in between: Kiln dispatch functions
/// on tensors -> buffers with the runtime ABI, then -> LLVM dialect.
/// `targetFeatures` (the target's LLVM feature string) picks microkernel
/// variants.
void buildCpuBufferizationPipeline(OpPassManager &pm,
                                   llvm::StringRef targetFeatures);
/// The part every target shares: Kiln -> linalg on tensors, fusion, the
/// dispatch ABI and one-shot bufferization (copies as linalg.copy).
void buildLinalgOnBuffersPipeline(OpPassManager &pm,
                                  const CpuFuseElementwiseOptions &fusion);
void buildCpuToLLVMPipeline(OpPassManager &pm);

} // namespace mlir::kiln::cpu

#endif // KILN_TARGETS_CPU_PASSES_H
