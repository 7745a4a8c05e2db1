//===- Pipelines.cpp - CUDA lowering pipelines ----------------------------===//
//
// The first half is the CPU targets' up to bufferization (Kiln -> linalg,
// elementwise fusion, the dispatch ABI, buffers, scratch), but for the
// convolutions, which become reductions a kernel can tile. The CUDA half maps
// them to kernels and lowers the kernels to NVVM; the dispatch functions keep
// only their launches.
//
//===----------------------------------------------------------------------===//

#include "targets/cuda/Passes.h"

#include "passes/Passes.h"
#include "targets/cpu/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Transforms/Passes.h"

namespace mlir::kiln::cuda {

void buildCudaBufferizationPipeline(OpPassManager &pm) {
  pm.addPass(createCudaExposeConvolutions());
  cpu::CpuFuseElementwiseOptions fusion;
  fusion.keepGathersApart = true;
  cpu::buildLinalgOnBuffersPipeline(pm, fusion);
  pm.addPass(cpu::createCpuScratchBuffers());
}

void buildCudaKernelPipeline(OpPassManager &pm) {
  pm.addPass(createCudaMapDispatches());
  pm.addPass(createCanonicalizerPass());
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createLowerAffinePass());
  kernels.addPass(createConvertSCFToCFPass());
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(memref::createExpandStridedMetadataPass());
  kernels.addPass(createLowerAffinePass());
  kernels.addPass(createCudaLibdeviceMath());
  ConvertGpuOpsToNVVMOpsOptions nvvm;
  nvvm.useBarePtrCallConv = true;
  nvvm.indexBitwidth = 64;
  kernels.addPass(createConvertGpuOpsToNVVMOps(nvvm));
  kernels.addPass(createReconcileUnrealizedCastsPass());
  kernels.addPass(createCanonicalizerPass());
}

} // namespace mlir::kiln::cuda
