//===- FuseDecomposedOps.cpp - recognise LayerNorm and GELU written out ---===//
//
// Exporters write LayerNorm before opset 17 (PyTorch at any opset) as
// ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, then Mul and Add for the
// affine part: five dispatches and four passes over memory, where
// kiln.layer_norm is one dispatch. They write GELU as Div, Erf, Add, Mul,
// Mul; its input has two users, which keeps it out of the producing
// matmul's epilogue, where kiln.gelu fits.
//
//===----------------------------------------------------------------------===//

#include "dialects/kiln/IR/ConstantTensor.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace mlir::kiln {
#define GEN_PASS_DEF_FUSEDECOMPOSEDOPS
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {

/// The single value of a constant with one distinct element.
std::optional<double> splatValue(Value v) {
  auto constant = constantOf(v);
  if (!constant || !constant->isFloat() || constant->size() == 0)
    return std::nullopt;
  double first = constant->getFloat(0);
  for (int64_t i = 1; i < constant->size(); ++i)
    if (constant->getFloat(i) != first)
      return std::nullopt;
  return first;
}

/// The operand of a commutative binary op that is not `known`.
template <typename OpTy> Value otherOperand(OpTy op, Value known) {
  return op.getLhs() == known ? op.getRhs() : op.getLhs();
}

/// The first axis of `mean` when it averages x over trailing dims
/// [axis, rank) keeping them; nullopt otherwise.
std::optional<int64_t> trailingMeanAxis(ReduceMeanOp mean) {
  if (!mean || !mean.getKeepdims())
    return std::nullopt;
  ArrayRef<int64_t> axes = mean.getAxes();
  int64_t rank = cast<RankedTensorType>(mean.getInput().getType()).getRank();
  if (axes.empty())
    return std::nullopt;
  for (size_t i = 0; i < axes.size(); ++i)
    if (axes[i] != rank - (int64_t)axes.size() + (int64_t)i)
      return std::nullopt;
  return axes.front();
}

/// `value` as a layer_norm scale or bias: it may only vary along the
/// normalised dims. Leading unit dims beyond those are reshaped away.
Value asNormalizedOperand(PatternRewriter &rewriter, Value value,
                          ArrayRef<int64_t> normalized) {
  auto type = cast<RankedTensorType>(value.getType());
  ArrayRef<int64_t> shape = type.getShape();
  int64_t extra = type.getRank() - (int64_t)normalized.size();
  for (int64_t d = 0; d < extra; ++d)
    if (shape[d] != 1)
      return nullptr;
  ArrayRef<int64_t> kept = shape.drop_front(std::max<int64_t>(extra, 0));
  for (size_t i = 0; i < kept.size(); ++i) {
    int64_t dim = kept[kept.size() - 1 - i];
    if (dim != 1 && dim != normalized[normalized.size() - 1 - i])
      return nullptr;
  }
  if (extra <= 0)
    return value;
  return rewriter.create<ReshapeOp>(
      value.getLoc(), RankedTensorType::get(kept, type.getElementType()),
      value);
}

/// Matches (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps), rooted at
/// the division (or the multiplication by the reciprocal), and then an
/// optional `* gamma` and `+ beta` that use nothing else.
struct FuseLayerNormPattern : public RewritePattern {
  FuseLayerNormPattern(MLIRContext *context)
      : RewritePattern(MatchAnyOpTypeTag(), /*benefit=*/1, context) {}

  LogicalResult matchAndRewrite(Operation *root,
                                PatternRewriter &rewriter) const override {
    Value centered, stddev;
    if (auto div = dyn_cast<DivOp>(root)) {
      centered = div.getLhs();
      stddev = div.getRhs();
    } else if (auto mul = dyn_cast<MulOp>(root)) {
      for (Value operand : {mul.getLhs(), mul.getRhs()})
        if (auto reciprocal = operand.getDefiningOp<ReciprocalOp>()) {
          stddev = reciprocal.getInput();
          centered = otherOperand(mul, operand);
        }
    }
    if (!centered || !stddev)
      return failure();
    auto type = cast<RankedTensorType>(root->getResult(0).getType());
    if (!isa<FloatType>(type.getElementType()))
      return failure();

    // centered = x - mean(x) over trailing dims.
    auto sub = centered.getDefiningOp<SubOp>();
    if (!sub)
      return failure();
    Value x = sub.getLhs();
    auto mean = sub.getRhs().getDefiningOp<ReduceMeanOp>();
    std::optional<int64_t> axis = trailingMeanAxis(mean);
    if (!axis || mean.getInput() != x ||
        cast<RankedTensorType>(x.getType()) != type)
      return failure();

    // stddev = sqrt(mean(centered^2) + eps).
    auto sqrt = stddev.getDefiningOp<SqrtOp>();
    auto add = sqrt ? sqrt.getInput().getDefiningOp<AddOp>() : AddOp();
    if (!add)
      return failure();
    ReduceMeanOp variance;
    std::optional<double> epsilon;
    for (Value operand : {add.getLhs(), add.getRhs()})
      if (auto candidate = operand.getDefiningOp<ReduceMeanOp>()) {
        variance = candidate;
        epsilon = splatValue(otherOperand(add, operand));
      }
    if (!epsilon || trailingMeanAxis(variance) != axis)
      return failure();
    Operation *square = variance.getInput().getDefiningOp();
    bool squares = false;
    if (auto pow = dyn_cast_or_null<PowOp>(square))
      squares = pow.getLhs() == centered && splatValue(pow.getRhs()) == 2.0;
    else if (auto mul = dyn_cast_or_null<MulOp>(square))
      squares = mul.getLhs() == centered && mul.getRhs() == centered;
    if (!squares)
      return failure();
    // The intermediate values must not be needed elsewhere, or fusing
    // would compute them twice.
    for (Value inner : {Value(sqrt.getResult()), Value(add.getResult()),
                        Value(variance.getResult()),
                        Value(square->getResult(0)), Value(mean.getResult())})
      if (!inner.hasOneUse())
        return failure();
    for (Operation *user : centered.getUsers())
      if (user != root && user != square)
        return failure();

    // The affine part: a * gamma, then + beta, when they follow alone.
    ArrayRef<int64_t> normalized = type.getShape().drop_front(*axis);
    Operation *last = root;
    Value gamma, beta;
    if (root->hasOneUse())
      if (auto mul = dyn_cast<MulOp>(*root->user_begin())) {
        gamma = asNormalizedOperand(
            rewriter, otherOperand(mul, root->getResult(0)), normalized);
        if (gamma && mul.getType() == type)
          last = mul;
        else
          gamma = nullptr;
      }
    if (gamma && last->hasOneUse())
      if (auto addBias = dyn_cast<AddOp>(*last->user_begin())) {
        beta = asNormalizedOperand(
            rewriter, otherOperand(addBias, last->getResult(0)), normalized);
        if (beta && addBias.getType() == type)
          last = addBias;
        else
          beta = nullptr;
      }
    rewriter.setInsertionPoint(last);
    if (!gamma) {
      ConstantTensor one(RankedTensorType::get({}, type.getElementType()));
      one.set(0, 1.0);
      gamma = rewriter.create<ConstantOp>(root->getLoc(), one.toAttr());
    }
    // The fused op covers every node it replaces (profiles list them).
    SmallVector<Location> covered = {
        mean.getLoc(), sub.getLoc(),  square->getLoc(), variance.getLoc(),
        add.getLoc(),  sqrt.getLoc(), root->getLoc()};
    if (last != root)
      for (Operation *user = *root->user_begin();; user = *user->user_begin()) {
        covered.push_back(user->getLoc());
        if (user == last)
          break;
      }
    auto fused = rewriter.create<LayerNormOp>(
        rewriter.getFusedLoc(covered), type, x, gamma, beta,
        rewriter.getI64IntegerAttr(*axis), rewriter.getF32FloatAttr(*epsilon));
    rewriter.replaceOp(last, fused.getResult());
    return success();
  }
};

/// x * (1 + erf(x / sqrt(2))) * 0.5, the two products in any order and
/// association, the division possibly a multiplication by 1/sqrt(2).
struct FuseGeluPattern : public OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MulOp root,
                                PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(root.getType());
    if (!isa<FloatType>(type.getElementType()))
      return failure();
    SmallVector<Value, 3> factors;
    for (Value operand : {root.getLhs(), root.getRhs()}) {
      auto inner = operand.getDefiningOp<MulOp>();
      if (inner && inner->hasOneUse()) {
        factors.push_back(inner.getLhs());
        factors.push_back(inner.getRhs());
      } else {
        factors.push_back(operand);
      }
    }
    if (factors.size() != 3)
      return failure();
    auto near = [](std::optional<double> value, double expected) {
      return value && std::abs(*value - expected) <= 1e-6 * expected;
    };
    Value half, onePlusErf;
    for (Value factor : factors) {
      if (!half && near(splatValue(factor), 0.5)) {
        half = factor;
        continue;
      }
      auto add = factor.getDefiningOp<AddOp>();
      if (!onePlusErf && add && add->hasOneUse())
        for (Value operand : {add.getLhs(), add.getRhs()})
          if (operand.getDefiningOp<ErfOp>() &&
              near(splatValue(otherOperand(add, operand)), 1.0))
            onePlusErf = factor;
    }
    if (!half || !onePlusErf)
      return failure();
    Value x;
    for (Value factor : factors)
      if (factor != half && factor != onePlusErf)
        x = factor;
    if (!x || x.getType() != type)
      return failure();
    auto add = onePlusErf.getDefiningOp<AddOp>();
    auto erf = add.getLhs().getDefiningOp<ErfOp>()
                   ? add.getLhs().getDefiningOp<ErfOp>()
                   : add.getRhs().getDefiningOp<ErfOp>();
    if (!erf->hasOneUse())
      return failure();
    Operation *scale = erf.getInput().getDefiningOp();
    bool scaled = false;
    if (auto div = dyn_cast_or_null<DivOp>(scale))
      scaled = div.getLhs() == x && near(splatValue(div.getRhs()), M_SQRT2);
    else if (auto mul = dyn_cast_or_null<MulOp>(scale))
      scaled = near(splatValue(otherOperand(mul, x)), M_SQRT1_2) &&
               (mul.getLhs() == x || mul.getRhs() == x);
    if (!scaled || !scale->hasOneUse())
      return failure();
    Location loc = rewriter.getFusedLoc(
        {scale->getLoc(), erf.getLoc(), add.getLoc(), root.getLoc()});
    for (Value operand : {root.getLhs(), root.getRhs()})
      if (auto inner = operand.getDefiningOp<MulOp>();
          inner && inner->hasOneUse())
        loc = rewriter.getFusedLoc({loc, inner.getLoc()});
    rewriter.replaceOp(root, rewriter.create<GeluOp>(loc, type, x));
    return success();
  }
};

struct FuseDecomposedOps
    : public mlir::kiln::impl::FuseDecomposedOpsBase<FuseDecomposedOps> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseLayerNormPattern, FuseGeluPattern>(&getContext());
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
