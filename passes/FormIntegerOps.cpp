//===- FormIntegerOps.cpp - QDQ patterns to integer ops -------------------===//
//
// The quantize phase reads a quantized model the way its QDQ form states
// it: a float op between DequantizeLinear and QuantizeLinear. Where Kiln has
// the integer op, the pattern becomes that op on the stored integers.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/QuantizedTypes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;
using namespace mlir::kiln;

namespace mlir::kiln {
#define GEN_PASS_DEF_FORMINTEGEROPS
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

namespace {

/// The quantized value `value` dequantizes, when it is 8-bit.
Value dequantizedInt8(Value value) {
  auto dequantize = value.getDefiningOp<DequantizeOp>();
  if (!dequantize)
    return nullptr;
  auto type = uniformElementOf(dequantize.getInput().getType());
  return type.getStorageTypeIntegralWidth() == 8 ? dequantize.getInput()
                                                 : nullptr;
}

/// The stored integers of a quantized value.
Value storageOf(OpBuilder &b, Location loc, Value quantized) {
  auto type = uniformElementOf(quantized.getType());
  return b.create<StorageCastOp>(
      loc, withElementType(quantized.getType(), storageIntegerType(type)),
      quantized);
}

/// Per-tensor parameters, or per column of a 2-D [K, N] matrix.
bool perTensorOrColumn(Value quantized) {
  auto type = uniformElementOf(quantized.getType());
  if (isa<quant::UniformQuantizedType>(type))
    return true;
  auto perAxis = cast<quant::UniformQuantizedPerAxisType>(type);
  auto shape = cast<ShapedType>(quantized.getType());
  return shape.getRank() == 2 && perAxis.getQuantizedDimension() == 1;
}

/// Scale and zero point of `type` as vectors over `count` columns (or one
/// entry per tensor).
std::pair<SmallVector<double>, SmallVector<int64_t>>
parameters(quant::QuantizedType type) {
  if (auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(type))
    return {SmallVector<double>(perAxis.getScales()),
            SmallVector<int64_t>(perAxis.getZeroPoints())};
  auto perTensor = cast<quant::UniformQuantizedType>(type);
  return {{perTensor.getScale()}, {perTensor.getZeroPoint()}};
}

/// dequantize(a) x dequantize(b) -> matmul_integer(a, b) * (sa * sb): the
/// product of the stored integers is exact in i32, and one multiply per
/// output (by column when b has a scale per column) gives the float result.
struct MatMulOfQuantized : OpRewritePattern<MatMulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatMulOp op,
                                PatternRewriter &rewriter) const override {
    Value a = dequantizedInt8(op.getLhs());
    Value b = dequantizedInt8(op.getRhs());
    if (!a || !b || !perTensorElementOf(a.getType()) || !perTensorOrColumn(b))
      return failure();
    rewriter.replaceOp(op, integerProduct(rewriter, op.getLoc(), a, b));
    return success();
  }

  static Value integerProduct(OpBuilder &builder, Location loc, Value a,
                              Value b) {
    auto [aScale, aZero] = parameters(uniformElementOf(a.getType()));
    auto [bScale, bZero] = parameters(uniformElementOf(b.getType()));
    auto i32 = builder.getI32Type();
    // One zero point when all are equal (symmetric weights: all 0), so the
    // kernel applies it per tile, not per column.
    auto zeroPoints = [&](ArrayRef<int64_t> values) -> Value {
      SmallVector<int32_t> ints(values.begin(), values.end());
      if (llvm::all_equal(ints))
        ints.resize(1);
      SmallVector<int64_t> shape;
      if (ints.size() > 1)
        shape.push_back(ints.size());
      return builder.create<ConstantOp>(
          loc, DenseElementsAttr::get(RankedTensorType::get(shape, i32),
                                      ArrayRef<int32_t>(ints)));
    };
    Value product = builder.create<MatMulIntegerOp>(
        loc, storageOf(builder, loc, a), storageOf(builder, loc, b),
        zeroPoints(aZero), zeroPoints(bZero));
    auto productType = cast<RankedTensorType>(product.getType());
    Value real = builder.create<CastOp>(
        loc, withElementType(productType, builder.getF32Type()), product);
    SmallVector<float> scales;
    for (double s : bScale)
      scales.push_back(aScale[0] * s);
    SmallVector<int64_t> shape;
    if (scales.size() > 1)
      shape.push_back(scales.size());
    Value scale = builder.create<ConstantOp>(
        loc, floatAttr(shape, scales, builder.getContext()));
    return builder.create<MulOp>(loc, real, scale);
  }
};

/// gemm(dequantize(a), dequantize(b), c) with alpha = beta = 1 and A not
/// transposed: the same integer product (B transposed first when it is
/// stored [N, K], a constant that folds), then + c.
struct GemmOfQuantized : OpRewritePattern<GemmOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GemmOp op,
                                PatternRewriter &rewriter) const override {
    Value a = dequantizedInt8(op.getA());
    Value b = dequantizedInt8(op.getB());
    if (!a || !b || op.getTransA() || op.getAlpha().convertToFloat() != 1.0f ||
        (op.getC() && op.getBeta().convertToFloat() != 1.0f) ||
        !perTensorElementOf(a.getType()))
      return failure();
    Location loc = op.getLoc();
    if (op.getTransB()) {
      // A per-row type of [N, K] is per column of [K, N].
      auto type = uniformElementOf(b.getType());
      Type transposedElement = type;
      if (auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(type)) {
        if (perAxis.getQuantizedDimension() != 0)
          return failure();
        transposedElement = quant::UniformQuantizedPerAxisType::get(
            perAxis.getFlags(), perAxis.getStorageType(),
            perAxis.getExpressedType(), perAxis.getScales(),
            perAxis.getZeroPoints(), 1, perAxis.getStorageTypeMin(),
            perAxis.getStorageTypeMax());
      }
      auto shape = cast<ShapedType>(b.getType()).getShape();
      Value integers = storageOf(rewriter, loc, b);
      Value transposed = rewriter.create<TransposeOp>(
          loc, integers, rewriter.getDenseI64ArrayAttr({1, 0}));
      b = rewriter.create<StorageCastOp>(
          loc, RankedTensorType::get({shape[1], shape[0]}, transposedElement),
          transposed);
    } else if (!perTensorOrColumn(b)) {
      return failure();
    }
    Value result = MatMulOfQuantized::integerProduct(rewriter, loc, a, b);
    if (op.getC())
      result = rewriter.create<AddOp>(loc, result, op.getC());
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// dequantize -> (an op that only moves or selects values) -> quantize
/// with the same per-tensor parameters: the op runs on the stored integers.
template <typename MovementOp>
struct MoveQuantized : OpRewritePattern<MovementOp> {
  using OpRewritePattern<MovementOp>::OpRewritePattern;
  LogicalResult matchAndRewrite(MovementOp op,
                                PatternRewriter &rewriter) const override {
    auto dequantize = op->getOperand(0).template getDefiningOp<DequantizeOp>();
    if (!dequantize || op->getNumOperands() != 1 || op->getNumResults() != 1)
      return failure();
    Value quantized = dequantize.getInput();
    auto element = perTensorElementOf(quantized.getType());
    if (!element)
      return failure();
    Type resultType = withElementType(op->getResult(0).getType(), element);
    SmallVector<QuantizeOp> users;
    for (Operation *user : op->getResult(0).getUsers()) {
      auto quantize = dyn_cast<QuantizeOp>(user);
      if (!quantize || quantize.getType() != resultType)
        return failure();
      users.push_back(quantize);
    }
    if (users.empty())
      return failure();
    Operation *moved = rewriter.clone(*op);
    moved->setOperand(0, quantized);
    moved->getResult(0).setType(resultType);
    for (QuantizeOp quantize : users)
      rewriter.replaceOp(quantize, moved->getResult(0));
    rewriter.eraseOp(op);
    return success();
  }
};

struct FormIntegerOpsPass
    : mlir::kiln::impl::FormIntegerOpsBase<FormIntegerOpsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<MatMulOfQuantized, GemmOfQuantized, MoveQuantized<ReshapeOp>,
                 MoveQuantized<TransposeOp>, MoveQuantized<MaxPoolOp>>(
        &getContext());
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
