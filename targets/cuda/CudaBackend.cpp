//===- CudaBackend.cpp - the CUDA target behind TargetBackend -------------===//
//
// Lowers the dispatches like the CPU targets up to buffers, then maps each
// loop nest to a kernel (kiln-cuda-map-dispatches) and the kernels to NVVM;
// emits one kiln_cuda_image with a cubin per sm and PTX. It takes the
// phases the CPU targets chose: a dispatch's kernels all run on its first
// phase's entry.
//
//===----------------------------------------------------------------------===//

#include "targets/cuda/CodeGen.h"
#include "targets/cuda/Passes.h"

#include "passes/Passes.h"

namespace mlir::kiln::cuda {
namespace {

class CudaBackend final : public TargetBackend {
public:
  explicit CudaBackend(std::vector<unsigned> sms)
      : sms(std::move(sms)), targetName("cuda:") {
    for (unsigned sm : this->sms)
      targetName +=
          (targetName.back() == ':' ? "sm_" : ",sm_") + std::to_string(sm);
  }

  llvm::StringRef name() const override { return targetName; }
  kiln_target id() const override { return KILN_TARGET_CUDA; }
  bool isCpu() const override { return false; }
  llvm::StringRef device() const override { return "cuda"; }
  /// Ops whose result depends on the order of their updates (scatters with
  /// repeated indices: the last update wins) or whose elements depend on
  /// each other along an axis (running sums) would run on one GPU thread:
  /// the CPU does them better.
  std::vector<std::string> unsupportedOps() const override {
    return {"kiln.scatter_elements", "kiln.scatter_nd", "kiln.cumsum"};
  }

  LogicalResult
  lower(ModuleOp executable,
        llvm::StringMap<DispatchLowering> &dispatches) const override {
    // Only the dispatches placed on the GPU.
    for (auto func : llvm::to_vector(executable.getOps<func::FuncOp>())) {
      auto device = func->getAttrOfType<StringAttr>(kDeviceAttr);
      if (func.isPublic() && (!device || device.getValue() != this->device()))
        func->erase();
    }
    PassManager bufferize(executable.getContext());
    buildCudaBufferizationPipeline(bufferize);
    if (failed(bufferize.run(executable)))
      return failure();
    for (auto func : executable.getOps<func::FuncOp>()) {
      if (!func.isPublic())
        continue;
      DispatchLowering &lowering = dispatches[func.getSymName()];
      if (auto size = func->getAttrOfType<IntegerAttr>(kScratchSizeAttr))
        lowering.scratchBytes = size.getInt();
    }
    PassManager kernels(executable.getContext());
    buildCudaKernelPipeline(kernels);
    return kernels.run(executable);
  }

  void prepareCodeGen(MLIRContext &context) const override {
    prepareCudaCodeGen(context);
  }

  bool emit(ModuleOp lowered, llvm::ArrayRef<EntryPoint> entries,
            std::vector<uint8_t> &image, std::string &error,
            llvm::raw_ostream *listing) const override {
    return emitCudaImage(lowered, sms, entries, image, error, listing);
  }

private:
  std::vector<unsigned> sms;
  std::string targetName;
};

} // namespace

std::unique_ptr<TargetBackend> createCudaBackend(std::vector<unsigned> sms) {
  return std::make_unique<CudaBackend>(std::move(sms));
}

} // namespace mlir::kiln::cuda
