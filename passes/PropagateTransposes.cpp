//===- PropagateTransposes.cpp - sink transposes so that pairs cancel -----===//
//
// The composition of consecutive transposes (and the removal of identity
// ones) is TransposeOp's folder; this pass moves transposes below the
// elementwise ops between them so that the folder sees them adjacent.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_PROPAGATETRANSPOSES
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {

/// op(transpose(x, p), c) -> transpose(op(x, transpose(c, p^-1)), p) for an
/// elementwise op whose other operands are constants, single elements or
/// transposes by the same p. Only transposes with no other user move, so the
/// number of transposes never grows.
struct SinkTransposePattern : public RewritePattern {
  SinkTransposePattern(MLIRContext *context)
      : RewritePattern(MatchAnyOpTypeTag(), /*benefit=*/1, context) {}

  LogicalResult matchAndRewrite(Operation *op,
                                PatternRewriter &rewriter) const override {
    if (!op->hasTrait<mlir::kiln::OpTrait::Elementwise>() ||
        isa<ExpandOp>(op) || op->getNumResults() != 1 ||
        op->getNumRegions() != 0)
      return failure();
    auto type = cast<RankedTensorType>(op->getResult(0).getType());
    int64_t rank = type.getRank();
    std::optional<SmallVector<int64_t>> perm;
    for (Value operand : op->getOperands())
      if (auto transpose = operand.getDefiningOp<TransposeOp>()) {
        perm = llvm::to_vector(transpose.getPerm());
        break;
      }
    if (!perm)
      return failure();
    SmallVector<int64_t> inverse(rank);
    for (int64_t i = 0; i < rank; ++i)
      inverse[(*perm)[i]] = i;
    // Check every operand before creating anything.
    for (Value operand : op->getOperands()) {
      auto operandType = cast<RankedTensorType>(operand.getType());
      auto transpose = operand.getDefiningOp<TransposeOp>();
      if (transpose) {
        if (transpose.getPerm() != ArrayRef<int64_t>(*perm) ||
            operandType.getShape() != type.getShape() || !operand.hasOneUse())
          return failure();
      } else if (operandType.getNumElements() != 1 &&
                 (!constantOf(operand) || operandType.getRank() > rank)) {
        return failure();
      }
    }
    SmallVector<Value> operands;
    for (Value operand : op->getOperands()) {
      auto operandType = cast<RankedTensorType>(operand.getType());
      if (auto transpose = operand.getDefiningOp<TransposeOp>()) {
        operands.push_back(transpose.getInput());
        continue;
      }
      if (operandType.getNumElements() == 1) {
        operands.push_back(operand);
        continue;
      }
      // A broadcast constant: give it the full rank, then the input layout
      // (both fold to a new constant).
      Value full = operand;
      if (operandType.getRank() < rank) {
        SmallVector<int64_t> shape(rank - operandType.getRank(), 1);
        llvm::append_range(shape, operandType.getShape());
        full = rewriter.create<ReshapeOp>(
            op->getLoc(),
            RankedTensorType::get(shape, operandType.getElementType()),
            operand);
      }
      operands.push_back(
          rewriter.create<TransposeOp>(op->getLoc(), full, inverse));
    }
    SmallVector<int64_t> shape(rank);
    for (int64_t i = 0; i < rank; ++i)
      shape[(*perm)[i]] = type.getDimSize(i);
    OperationState state(op->getLoc(), op->getName(), operands,
                         {RankedTensorType::get(shape, type.getElementType())},
                         op->getAttrs());
    Operation *moved = rewriter.create(state);
    rewriter.replaceOpWithNewOp<TransposeOp>(op, type, moved->getResult(0),
                                             *perm);
    return success();
  }
};

struct PropagateTransposes
    : public mlir::kiln::impl::PropagateTransposesBase<PropagateTransposes> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<SinkTransposePattern>(&getContext());
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
