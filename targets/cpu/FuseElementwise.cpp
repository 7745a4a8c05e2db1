//===- FuseElementwise.cpp - linalg fusion that keeps microkernel tags
//-----===//

#include "passes/Passes.h"
#include "targets/cpu/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
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

struct CpuFuseElementwisePass
    : public mlir::kiln::cpu::impl::CpuFuseElementwiseBase<
          CpuFuseElementwisePass> {
  void runOnOperation() override {
    // A fusion touches the operand's owner and the operand's producer.
    linalg::ControlFusionFn spareMicrokernels = [](OpOperand *operand) {
      return !isMicrokernel(operand->getOwner()) &&
             !isMicrokernel(operand->get().getDefiningOp());
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
