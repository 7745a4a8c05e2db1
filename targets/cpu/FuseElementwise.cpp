//===- FuseElementwise.cpp - linalg fusion that keeps microkernel tags
//-----===//

#include "passes/Passes.h"
#include "targets/cpu/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::kiln::cpu {
#define GEN_PASS_DEF_CPUFUSEELEMENTWISE
#include "targets/cpu/Passes.h.inc"
} // namespace mlir::kiln::cpu

using namespace mlir;

namespace {

bool isMicrokernel(Operation *op) {
  return op && op->hasAttr(kiln::kMicrokernelAttr);
}

/// A generic with reduction loops fed by one that reads a tensor inside
/// its body.
bool isGatherIntoReduction(OpOperand *operand) {
  auto consumer = dyn_cast<linalg::GenericOp>(operand->getOwner());
  auto producer = operand->get().getDefiningOp<linalg::GenericOp>();
  if (!consumer || !producer || consumer.getNumReductionLoops() == 0)
    return false;
  bool gathers = false;
  producer.getBody()->walk([&](tensor::ExtractOp) { gathers = true; });
  return gathers;
}

struct CpuFuseElementwisePass
    : public mlir::kiln::cpu::impl::CpuFuseElementwiseBase<
          CpuFuseElementwisePass> {
  using CpuFuseElementwiseBase::CpuFuseElementwiseBase;

  void runOnOperation() override {
    // A fusion touches the operand's owner and the operand's producer.
    bool keepGathers = keepGathersApart;
    linalg::ControlFusionFn spareMicrokernels =
        [keepGathers](OpOperand *operand) {
          return !isMicrokernel(operand->getOwner()) &&
                 !isMicrokernel(operand->get().getDefiningOp()) &&
                 !(keepGathers && isGatherIntoReduction(operand));
        };
    RewritePatternSet patterns(&getContext());
    linalg::populateElementwiseOpsFusionPatterns(patterns, spareMicrokernels);
    linalg::populateFoldReshapeOpsByExpansionPatterns(patterns,
                                                      spareMicrokernels);
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
