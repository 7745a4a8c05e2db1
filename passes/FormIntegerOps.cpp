//===- FormIntegerOps.cpp - QDQ patterns to integer ops -------------------===//
//
// The quantize phase reads a quantized model the way its QDQ form states
// it: a float op between DequantizeLinear and QuantizeLinear. Where Kiln has
// the integer op, the pattern becomes that op on the stored integers.
//
//===----------------------------------------------------------------------===//

#include "passes/NchwcLayout.h"
#include "passes/Passes.h"
#include "passes/QuantizedTypes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <limits>

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

/// An 8-bit per-tensor type's zero point as the kernels read its values,
/// as uint8 bytes: int8 values move up by 128.
int64_t unsignedZeroPoint(quant::UniformQuantizedType type) {
  return type.getZeroPoint() + (type.isSigned() ? 128 : 0);
}

/// The stored bytes of an 8-bit per-tensor quantized value as uint8: int8
/// storage plus 128, wrapping (x ^ 0x80), with unsignedZeroPoint.
Value unsignedBytes(OpBuilder &b, Location loc, Value quantized) {
  Value bytes = storageOf(b, loc, quantized);
  if (!perTensorElementOf(quantized.getType()).isSigned())
    return bytes;
  // The add on signless int8 (wrapping), then the same bits as uint8.
  auto i8 = b.getIntegerType(8);
  Value offset = b.create<ConstantOp>(
      loc,
      DenseElementsAttr::get(RankedTensorType::get({}, i8), APInt(8, 128)));
  Value moved = b.create<AddOp>(loc, bytes, offset);
  auto ui8 = b.getIntegerType(8, /*isSigned=*/false);
  return b.create<CastOp>(loc, withElementType(moved.getType(), ui8), moved);
}

/// uint8 bytes of an int8 quantity (see unsignedBytes) back to int8.
Value signedBytes(OpBuilder &b, Location loc, Value bytes) {
  auto i8 = b.getIntegerType(8);
  Value signedType =
      b.create<CastOp>(loc, withElementType(bytes.getType(), i8), bytes);
  Value offset = b.create<ConstantOp>(
      loc,
      DenseElementsAttr::get(RankedTensorType::get({}, i8), APInt(8, 128)));
  return b.create<AddOp>(loc, signedType, offset);
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
        loc, floatAttr(shape, scales, builder.getF32Type()));
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

/// The stored integers and the parameters of a dequantized constant.
struct QuantizedConstant {
  ConstantTensor values;
  SmallVector<double> scales;
  SmallVector<int64_t> zeroPoints;
  /// Per axis: the axis the parameters go along (-1 per tensor).
  int64_t axis;

  double real(int64_t i, int64_t channel) const {
    size_t p = scales.size() == 1 ? 0 : channel;
    return scales[p] * double(values.getInt(i) - zeroPoints[p]);
  }
};

/// `quantized` (a value of a !quant.uniform type) when it is a constant's
/// stored integers.
std::optional<QuantizedConstant> quantizedConstant(Value quantized) {
  auto cast = quantized ? quantized.getDefiningOp<StorageCastOp>() : nullptr;
  if (!cast)
    return std::nullopt;
  std::optional<ConstantTensor> values = constantOf(cast.getInput());
  if (!values)
    return std::nullopt;
  quant::QuantizedType type = uniformElementOf(quantized.getType());
  auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(type);
  auto [scales, zeroPoints] = parameters(type);
  return QuantizedConstant{std::move(*values), std::move(scales),
                           std::move(zeroPoints),
                           perAxis ? perAxis.getQuantizedDimension() : -1};
}

/// The value's only user, when it has exactly one.
Operation *soleUser(Value value) {
  return value.hasOneUse() ? *value.getUsers().begin() : nullptr;
}

/// A Relu or Clip that is the sole user of an op's result.
struct Activation {
  StringRef kind = "none";
  double low = -std::numeric_limits<double>::infinity();
  double high = std::numeric_limits<double>::infinity();

  /// The activation after chain's last op, appended to the chain.
  static Activation after(SmallVectorImpl<Operation *> &chain) {
    Activation act;
    Operation *user = soleUser(chain.back()->getResult(0));
    if (isa_and_nonnull<ReluOp>(user)) {
      act.kind = "relu";
    } else if (auto clip = dyn_cast_or_null<ClipOp>(user)) {
      act.kind = "clip";
      if (clip.getMin())
        act.low = clip.getMin()->convertToDouble();
      if (clip.getMax())
        act.high = clip.getMax()->convertToDouble();
    } else {
      return act;
    }
    chain.push_back(user);
    return act;
  }
};

/// quantize(act(conv(dequantize(x), dequantize(W), bias))) with x 8-bit
/// per tensor (int8 read as uint8 plus 128, see unsignedBytes), W a constant
/// int8 with zero point 0 (per output channel or per tensor), the bias a
/// constant (float, or int32 dequantized), act an optional relu or clip and the
/// quantize optional (8-bit per tensor), or a residual block's end,
/// quantize(act(dequantize(quantize(conv(...))) + dequantize(shortcut))) ->
/// kiln.quantized_conv2d_nchwc, when the float convolution would run on
/// NCHWc data (blocked input, an image input read plain when its window
/// columns are adjacent, or depthwise): the product in i32 over the
/// stored bytes, then one multiply-add per output channel, the activation
/// and the requantization in the kernel's epilogue. The filter is packed
/// and summed at compile time; the scale and bias fold the output's scale
/// in, so that the epilogue rounds what it computed.
struct ConvOfQuantized : OpRewritePattern<ConvOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConvOp conv,
                                PatternRewriter &rewriter) const override {
    NchwcConvForm form = nchwcConvForm(conv);
    bool depthwise = form == NchwcConvForm::Depthwise;
    // An image input reads 4 window columns of a row as one 32-bit lane:
    // they must be adjacent.
    bool plain =
        form == NchwcConvForm::PlainInput && conv.getDilations()[1] == 1;
    if (form != NchwcConvForm::Blocked && !depthwise && !plain)
      return failure();
    Value x = dequantizedInt8(conv.getInput());
    auto xType = x ? perTensorElementOf(x.getType()) : nullptr;
    if (!xType)
      return failure();
    std::optional<QuantizedConstant> weights =
        quantizedConstant(dequantizedInt8(conv.getFilter()));
    if (!weights ||
        !uniformElementOf(conv.getFilter()
                              .getDefiningOp<DequantizeOp>()
                              .getInput()
                              .getType())
             .isSigned() ||
        weights->axis > 0 ||
        llvm::any_of(weights->zeroPoints, [](int64_t z) { return z != 0; }))
      return failure();
    ArrayRef<int64_t> filterShape = conv.getFilter().getType().getShape();
    int64_t features = filterShape[0], perGroup = filterShape[1];
    int64_t kh = filterShape[2], kw = filterShape[3];
    int64_t channels = conv.getInput().getType().getDimSize(1);

    // The bias, as reals.
    std::vector<double> bias(features, 0.0);
    if (Value b = conv.getBias()) {
      if (auto dequantize = b.getDefiningOp<DequantizeOp>()) {
        std::optional<QuantizedConstant> q =
            quantizedConstant(dequantize.getInput());
        if (!q || q->values.size() != features)
          return failure();
        for (int64_t f = 0; f < features; ++f)
          bias[f] = q->real(f, f);
      } else if (std::optional<ConstantTensor> c = constantOf(b)) {
        if (c->size() != features)
          return failure();
        for (int64_t f = 0; f < features; ++f)
          bias[f] = c->getFloat(f);
      } else {
        return failure();
      }
    }

    // The epilogue: [relu | clip], [quantize to uint8 per tensor].
    SmallVector<Operation *> chain = {conv};
    Activation act = Activation::after(chain);
    quant::UniformQuantizedType yType;
    auto quantize =
        dyn_cast_or_null<QuantizeOp>(soleUser(chain.back()->getResult(0)));
    if (quantize) {
      yType = perTensorElementOf(quantize.getType());
      if (yType && yType.getStorageTypeIntegralWidth() == 8)
        chain.push_back(quantize);
      else
        yType = nullptr;
    }
    // A residual block's end: the quantized result dequantized, added to a
    // dequantized uint8 shortcut, [relu | clip], quantized to uint8.
    Value residual;
    quant::UniformQuantizedType sumType;
    if (yType && act.kind == "none")
      if (auto dequantize =
              dyn_cast_or_null<DequantizeOp>(soleUser(quantize.getResult())))
        if (auto add =
                dyn_cast_or_null<AddOp>(soleUser(dequantize.getResult()))) {
          Value other = add.getLhs() == dequantize.getResult() ? add.getRhs()
                                                               : add.getLhs();
          Value shortcut = dequantizedInt8(other);
          auto shortcutType =
              shortcut ? perTensorElementOf(shortcut.getType()) : nullptr;
          SmallVector<Operation *> tail = {dequantize, add};
          Activation tailAct = Activation::after(tail);
          auto last =
              dyn_cast_or_null<QuantizeOp>(soleUser(tail.back()->getResult(0)));
          auto lastType = last ? perTensorElementOf(last.getType()) : nullptr;
          if (shortcutType && other != dequantize.getResult() &&
              other.getType() == dequantize.getType() && lastType &&
              lastType.getStorageTypeIntegralWidth() == 8) {
            residual = shortcut;
            sumType = yType;
            yType = lastType;
            act = tailAct;
            chain.append(tail);
            chain.push_back(last);
          }
        }
    // A float result keeps its padding channels zero (see kiln.to_nchwc):
    // a clip that moves 0 stays a separate op when there are any.
    constexpr int64_t block = Conv2DNchwcOp::kChannelBlock;
    if (!yType && act.kind == "clip" && !(act.low <= 0 && act.high >= 0) &&
        features % block != 0) {
      act.kind = "none";
      chain.pop_back();
    }

    // Packed filter, sums, scale and bias, per 16-channel block. An image
    // input's filter is [F/16, C, KH, KW/4, 16, 4]: window columns in
    // groups of 4 (zero weights past KW).
    int64_t fbs = nchwcBlocks(features), cbs = nchwcBlocks(channels);
    int64_t padded = fbs * block, columnGroups = (kw + 3) / 4;
    std::vector<int8_t> packed(depthwise ? fbs * kh * kw * block
                               : plain   ? fbs * channels * kh * columnGroups *
                                             block * 4
                                       : fbs * cbs * kh * kw * block * block,
                               0);
    std::vector<int32_t> sums(padded, 0);
    for (int64_t f = 0; f < features; ++f)
      for (int64_t c = 0; c < perGroup; ++c)
        for (int64_t y = 0; y < kh; ++y)
          for (int64_t x = 0; x < kw; ++x) {
            int64_t value =
                weights->values.getInt(((f * perGroup + c) * kh + y) * kw + x);
            sums[f] += value;
            int64_t at =
                depthwise ? ((f / block * kh + y) * kw + x) * block + f % block
                : plain
                    ? ((((f / block * channels + c) * kh + y) * columnGroups +
                        x / 4) *
                           block +
                       f % block) *
                              4 +
                          x % 4
                    : (((((f / block * cbs + c / block) * kh + y) * kw + x) *
                            4 +
                        c % block / 4) *
                           block +
                       f % block) *
                              4 +
                          c % 4;
            packed[at] = static_cast<int8_t>(value);
          }
    // Scale and bias give the first quantized result's units: the sum's
    // with a residual, else the output's.
    double outScale = yType ? yType.getScale() : 1.0;
    double firstScale = residual ? sumType.getScale() : outScale;
    // [F/16, 2, 16]: per block, 16 scales then 16 biases.
    std::vector<float> scaleBias(2 * padded, 0.0f);
    for (int64_t f = 0; f < features; ++f) {
      double w = weights->scales[weights->scales.size() == 1 ? 0 : f];
      int64_t at = f / block * 2 * block + f % block;
      scaleBias[at] = static_cast<float>(xType.getScale() * w / firstScale);
      scaleBias[at + block] = static_cast<float>(bias[f] / firstScale);
    }

    Location loc = rewriter.getFusedLoc(
        llvm::map_to_vector(chain, [](Operation *op) { return op->getLoc(); }));
    MLIRContext *context = rewriter.getContext();
    Value input = unsignedBytes(rewriter, loc, x);
    if (!plain)
      input = rewriter.create<ToNchwcOp>(loc, input);
    SmallVector<int64_t> packedShape =
        depthwise ? SmallVector<int64_t>{fbs, kh, kw, block}
        : plain
            ? SmallVector<int64_t>{fbs, channels, kh, columnGroups, block, 4}
            : SmallVector<int64_t>{fbs, cbs, kh, kw, 4, block, 4};
    auto i8 = rewriter.getI8Type(), i32 = rewriter.getI32Type();
    Value filter = rewriter.create<ConstantOp>(
        conv.getFilter().getLoc(),
        DenseElementsAttr::get(RankedTensorType::get(packedShape, i8),
                               ArrayRef<int8_t>(packed)));
    Value filterSums = rewriter.create<ConstantOp>(
        loc, DenseElementsAttr::get(RankedTensorType::get({fbs, block}, i32),
                                    ArrayRef<int32_t>(sums)));
    Value scaleBiasValue = rewriter.create<ConstantOp>(
        loc, floatAttr({fbs, 2, block}, scaleBias, Float32Type::get(context)));
    auto resultType =
        cast<RankedTensorType>(chain.back()->getResult(0).getType());
    // A quantized result is uint8 bytes (int8 ones converted after).
    Type element = yType ? Type(rewriter.getIntegerType(8, /*isSigned=*/false))
                         : Type(rewriter.getF32Type());
    ArrayRef<int64_t> outShape = conv.getType().getShape();
    auto blockedType = RankedTensorType::get(
        {outShape[0], fbs, outShape[2], outShape[3], block}, element);
    auto bound = [&](double v) {
      return act.kind == "clip" ? rewriter.getF64FloatAttr(v / outScale)
                                : FloatAttr();
    };
    Value blockedResidual =
        residual ? rewriter
                       .create<ToNchwcOp>(
                           loc, unsignedBytes(rewriter, loc, residual))
                       .getResult()
                 : Value();
    auto optionalInteger = [&](bool present, int64_t v) {
      return present ? rewriter.getI64IntegerAttr(v) : IntegerAttr();
    };
    auto optionalFloat = [&](bool present, double v) {
      return present ? rewriter.getF64FloatAttr(v) : FloatAttr();
    };
    auto shortcutType =
        residual ? perTensorElementOf(residual.getType()) : nullptr;
    Value blocked = rewriter.create<QuantizedConv2DNchwcOp>(
        loc, blockedType, input, filter, filterSums, scaleBiasValue,
        blockedResidual, conv.getStridesAttr(), conv.getPadsAttr(),
        conv.getDilationsAttr(),
        depthwise ? rewriter.getUnitAttr() : UnitAttr(),
        rewriter.getI64IntegerAttr(unsignedZeroPoint(xType)),
        optionalInteger(residual != nullptr,
                        residual ? unsignedZeroPoint(sumType) : 0),
        optionalFloat(residual != nullptr,
                      residual ? sumType.getScale() / outScale : 0.0),
        optionalInteger(residual != nullptr,
                        residual ? unsignedZeroPoint(shortcutType) : 0),
        optionalFloat(residual != nullptr,
                      residual ? shortcutType.getScale() / outScale : 0.0),
        yType ? rewriter.getI64IntegerAttr(unsignedZeroPoint(yType))
              : IntegerAttr(),
        rewriter.getStringAttr(act.kind), bound(act.low), bound(act.high));
    Value result = rewriter.create<FromNchwcOp>(
        loc, withElementType(conv.getType(), element), blocked);
    if (yType && yType.isSigned())
      result = signedBytes(rewriter, loc, result);
    if (yType)
      result = rewriter.create<StorageCastOp>(loc, resultType, result);
    rewriter.replaceAllUsesWith(chain.back()->getResult(0), result);
    for (Operation *op : llvm::reverse(chain))
      rewriter.eraseOp(op);
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
    patterns.add<MatMulOfQuantized, GemmOfQuantized, ConvOfQuantized,
                 MoveQuantized<ReshapeOp>, MoveQuantized<TransposeOp>,
                 MoveQuantized<MaxPoolOp>>(&getContext());
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
