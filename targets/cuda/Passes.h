//===- Passes.h - Kiln CUDA target passes -----------------------*- C++ -*-===//
#ifndef KILN_TARGETS_CUDA_PASSES_H
#define KILN_TARGETS_CUDA_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace mlir::kiln::cuda {

#define GEN_PASS_DECL
#include "targets/cuda/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "targets/cuda/Passes.h.inc"

/// The name of the gpu.module kiln-cuda-map-dispatches puts kernels in.
constexpr llvm::StringLiteral kKernelModuleName = "kernels";

/// Lowers the executable module (Kiln dispatch functions on tensors) to
/// dispatch functions that launch kernels of a `gpu.module @kernels` in the
/// NVVM dialect. Dispatch functions are on buffers with their scratch sizes
/// set (kiln.scratch_size) after the first half.
void buildCudaBufferizationPipeline(OpPassManager &pm);
void buildCudaKernelPipeline(OpPassManager &pm);

} // namespace mlir::kiln::cuda

#endif // KILN_TARGETS_CUDA_PASSES_H
