//===- Registration.cpp - dialects and passes Kiln uses
//--------------------===//

#include "compiler/pipeline/Registration.h"
#include "passes/Passes.h"
#include "targets/cpu/Passes.h"
#include "targets/cuda/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/ValueBoundsOpInterfaceImpl.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/ValueBoundsOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/IR/MemRefMemorySlot.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/TensorInferTypeOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/IR/ValueBoundsOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace kiln {

void registerKilnDialects(mlir::DialectRegistry &registry) {
  using namespace mlir;
  registry
      .insert<mlir::kiln::KilnDialect, func::FuncDialect, arith::ArithDialect,
              math::MathDialect, linalg::LinalgDialect, tensor::TensorDialect,
              memref::MemRefDialect, bufferization::BufferizationDialect,
              scf::SCFDialect, affine::AffineDialect, cf::ControlFlowDialect,
              index::IndexDialect, vector::VectorDialect, LLVM::LLVMDialect,
              quant::QuantizationDialect, gpu::GPUDialect, NVVM::NVVMDialect>();
  arith::registerBufferizableOpInterfaceExternalModels(registry);
  linalg::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
  arith::registerValueBoundsOpInterfaceExternalModels(registry);
  linalg::registerValueBoundsOpInterfaceExternalModels(registry);
  tensor::registerValueBoundsOpInterfaceExternalModels(registry);
  tensor::registerInferTypeOpInterfaceExternalModels(registry);
}

void registerKilnPasses() {
  mlir::kiln::registerKilnPasses();
  mlir::kiln::cpu::registerKilnCpuPasses();
  mlir::kiln::cuda::registerKilnCudaPasses();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerLinalgElementwiseOpFusionPass();
  mlir::registerConvertLinalgToLoopsPass();
  mlir::bufferization::registerOneShotBufferizePass();
  mlir::bufferization::registerEmptyTensorEliminationPass();
  // The CUDA target's two halves, for tests of what each produces.
  mlir::PassPipelineRegistration<>(
      "kiln-cuda-bufferize",
      "The CUDA target's lowering of an executable module to dispatch "
      "functions on buffers",
      mlir::kiln::cuda::buildCudaBufferizationPipeline);
  mlir::PassPipelineRegistration<>(
      "kiln-cuda-lower-kernels",
      "The CUDA target's mapping of dispatches on buffers to kernels in the "
      "NVVM dialect",
      mlir::kiln::cuda::buildCudaKernelPipeline);
}

} // namespace kiln
