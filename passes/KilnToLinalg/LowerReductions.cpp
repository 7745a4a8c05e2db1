//===- LowerReductions.cpp - reductions, normalisation, pooling
//------------===//

#include "passes/KilnToLinalg/LoweringUtils.h"

using namespace mlir;
using namespace mlir::kiln;

namespace mlir::kiln::lowering {
namespace {

/// Map from a loop nest of `rank` dims to the dims not in `dropped`.
AffineMap dropDimsMap(MLIRContext *context, int64_t rank,
                      ArrayRef<int64_t> dropped) {
  SmallVector<AffineExpr> exprs;
  for (int64_t d = 0; d < rank; ++d)
    if (!llvm::is_contained(dropped, d))
      exprs.push_back(getAffineDimExpr(d, context));
  return AffineMap::get(rank, 0, exprs, context);
}

/// A parallel linalg.generic over `type` with explicit input maps.
Value mapGeneric(OpBuilder &b, Location loc, RankedTensorType type,
                 ValueRange inputs, ArrayRef<AffineMap> inputMaps,
                 ScalarBuilder body) {
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(b.getMultiDimIdentityMap(type.getRank()));
  return b
      .create<linalg::GenericOp>(
          loc, type, inputs, emptyTensor(b, loc, type), maps,
          SmallVector<utils::IteratorType>(type.getRank(),
                                           utils::IteratorType::parallel),
          [&](OpBuilder &nb, Location l, ValueRange args) {
            nb.create<linalg::YieldOp>(l, body(nb, l, args.drop_back()));
          })
      .getResult(0);
}

Value add(OpBuilder &b, Location l, Value x, Value y) {
  if (isa<FloatType>(x.getType()))
    return b.create<arith::AddFOp>(l, x, y);
  return b.create<arith::AddIOp>(l, x, y);
}
Value mul(OpBuilder &b, Location l, Value x, Value y) {
  if (isa<FloatType>(x.getType()))
    return b.create<arith::MulFOp>(l, x, y);
  return b.create<arith::MulIOp>(l, x, y);
}

/// All Reduce* ops: a reduction with a per-element map and combine, then an
/// optional finishing map, then the keepdims reshape.
template <typename OpTy>
struct ReduceLowering : public OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  using OpAdaptor = typename OpTy::Adaptor;
  LogicalResult
  matchAndRewrite(OpTy op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    auto inType = tensorType(input);
    Type element = inType.getElementType();
    bool fp = isa<FloatType>(element);
    bool uns =
        getElementTypeOrSelf(op.getInput().getType()).isUnsignedInteger();
    ArrayRef<int64_t> axes = op.getAxes();
    constexpr bool isMax = std::is_same_v<OpTy, ReduceMaxOp>;
    constexpr bool isMin = std::is_same_v<OpTy, ReduceMinOp>;
    constexpr bool isProd = std::is_same_v<OpTy, ReduceProdOp>;
    constexpr bool isMean = std::is_same_v<OpTy, ReduceMeanOp>;
    constexpr bool needsFloat = isMean || std::is_same_v<OpTy, ReduceL2Op> ||
                                std::is_same_v<OpTy, ReduceLogSumExpOp> ||
                                std::is_same_v<OpTy, ReduceLogSumOp>;
    if (needsFloat && !fp)
      return op.emitError() << op->getName() << " needs a floating-point input";

    Value init = isMax ? lowestConstant(rewriter, loc, element, false, uns)
                 : isMin
                     ? lowestConstant(rewriter, loc, element, true, uns)
                     : scalarConstant(rewriter, loc, element, isProd ? 1 : 0);
    Value reduced = reduce(
        rewriter, loc, input, axes, init,
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value x = args[0], acc = args[1];
          if constexpr (isMax)
            return fp    ? b.create<arith::MaximumFOp>(l, x, acc).getResult()
                   : uns ? b.create<arith::MaxUIOp>(l, x, acc).getResult()
                         : b.create<arith::MaxSIOp>(l, x, acc).getResult();
          if constexpr (isMin)
            return fp    ? b.create<arith::MinimumFOp>(l, x, acc).getResult()
                   : uns ? b.create<arith::MinUIOp>(l, x, acc).getResult()
                         : b.create<arith::MinSIOp>(l, x, acc).getResult();
          if constexpr (isProd)
            return mul(b, l, x, acc);
          if constexpr (std::is_same_v<OpTy, ReduceSumSquareOp> ||
                        std::is_same_v<OpTy, ReduceL2Op>)
            return add(b, l, acc, mul(b, l, x, x));
          if constexpr (std::is_same_v<OpTy, ReduceL1Op>)
            return add(b, l, acc,
                       fp ? b.create<math::AbsFOp>(l, x).getResult()
                          : b.create<math::AbsIOp>(l, x).getResult());
          if constexpr (std::is_same_v<OpTy, ReduceLogSumExpOp>)
            return add(b, l, acc, b.create<math::ExpOp>(l, x));
          return add(b, l, acc, x);
        });

    int64_t count = 1;
    for (int64_t axis : axes)
      count *= inType.getDimSize(axis);
    auto reducedType = tensorType(reduced);
    if constexpr (isMean || std::is_same_v<OpTy, ReduceL2Op> ||
                  std::is_same_v<OpTy, ReduceLogSumExpOp> ||
                  std::is_same_v<OpTy, ReduceLogSumOp>) {
      reduced = elementwise(
          rewriter, loc, reducedType, reduced,
          [&](OpBuilder &b, Location l, ValueRange args) -> Value {
            if constexpr (isMean)
              return b.create<arith::DivFOp>(
                  l, args[0], scalarConstant(b, l, element, (double)count));
            if constexpr (std::is_same_v<OpTy, ReduceL2Op>)
              return b.create<math::SqrtOp>(l, args[0]);
            return b.create<math::LogOp>(l, args[0]);
          });
    }
    rewriter.replaceOp(
        op, reshapeTensor(rewriter, loc, reduced, signless(op.getType())));
    return success();
  }
};

template <typename OpTy>
struct ArgReduceLowering : public OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  using OpAdaptor = typename OpTy::Adaptor;
  LogicalResult
  matchAndRewrite(OpTy op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    constexpr bool isMax = std::is_same_v<OpTy, ArgMaxOp>;
    Location loc = op.getLoc();
    MLIRContext *context = rewriter.getContext();
    Value input = adaptor.getInput();
    auto inType = tensorType(input);
    Type element = inType.getElementType();
    bool fp = isa<FloatType>(element);
    int64_t axis = op.getAxis();
    bool last = op.getSelectLastIndex();
    SmallVector<int64_t> shape;
    for (int64_t d = 0; d < inType.getRank(); ++d)
      if (d != axis)
        shape.push_back(inType.getDimSize(d));
    auto valueType = RankedTensorType::get(shape, element);
    auto indexType = RankedTensorType::get(shape, rewriter.getI64Type());
    Value values = filledTensor(rewriter, loc, valueType,
                                lowestConstant(rewriter, loc, element, !isMax));
    Value indices =
        filledTensor(rewriter, loc, indexType,
                     scalarConstant(rewriter, loc, rewriter.getI64Type(), 0));
    AffineMap outMap = dropDimsMap(context, inType.getRank(), {axis});
    SmallVector<utils::IteratorType> iterators(inType.getRank(),
                                               utils::IteratorType::parallel);
    iterators[axis] = utils::IteratorType::reduction;
    auto generic = rewriter.create<linalg::GenericOp>(
        loc, TypeRange{valueType, indexType}, input,
        ValueRange{values, indices},
        ArrayRef<AffineMap>{rewriter.getMultiDimIdentityMap(inType.getRank()),
                            outMap, outMap},
        iterators, [&](OpBuilder &b, Location l, ValueRange args) {
          Value x = args[0], best = args[1], bestIndex = args[2];
          Value position = b.create<arith::IndexCastOp>(
              l, b.getI64Type(), b.create<linalg::IndexOp>(l, axis));
          Value better;
          if (fp) {
            auto predicate = isMax ? (last ? arith::CmpFPredicate::OGE
                                           : arith::CmpFPredicate::OGT)
                                   : (last ? arith::CmpFPredicate::OLE
                                           : arith::CmpFPredicate::OLT);
            better = b.create<arith::CmpFOp>(l, predicate, x, best);
          } else {
            auto predicate = isMax ? (last ? arith::CmpIPredicate::sge
                                           : arith::CmpIPredicate::sgt)
                                   : (last ? arith::CmpIPredicate::sle
                                           : arith::CmpIPredicate::slt);
            better = b.create<arith::CmpIOp>(l, predicate, x, best);
          }
          // The first element always wins so that an all-lowest row (or NaN
          // handling aside) still reports a valid index.
          Value first =
              b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, position,
                                      scalarConstant(b, l, b.getI64Type(), 0));
          better = b.create<arith::OrIOp>(l, better, first);
          b.create<linalg::YieldOp>(
              l, ValueRange{b.create<arith::SelectOp>(l, better, x, best),
                            b.create<arith::SelectOp>(l, better, position,
                                                      bestIndex)});
        });
    rewriter.replaceOp(op, reshapeTensor(rewriter, loc, generic.getResult(1),
                                         signless(op.getType())));
    return success();
  }
};

/// Softmax and LogSoftmax along one axis, max-subtracted.
template <typename OpTy>
struct SoftmaxLowering : public OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  using OpAdaptor = typename OpTy::Adaptor;
  LogicalResult
  matchAndRewrite(OpTy op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    constexpr bool isLog = std::is_same_v<OpTy, LogSoftmaxOp>;
    Location loc = op.getLoc();
    MLIRContext *context = rewriter.getContext();
    Value x = adaptor.getInput();
    auto type = tensorType(x);
    Type element = type.getElementType();
    if (!isa<FloatType>(element))
      return op.emitError() << op->getName() << " needs a floating-point input";
    int64_t axis = op.getAxis();
    AffineMap identity = rewriter.getMultiDimIdentityMap(type.getRank());
    AffineMap rowMap = dropDimsMap(context, type.getRank(), {axis});
    Value max = reduce(
        rewriter, loc, x, {axis}, lowestConstant(rewriter, loc, element, false),
        [](OpBuilder &b, Location l, ValueRange args) -> Value {
          return b.create<arith::MaximumFOp>(l, args[0], args[1]);
        });
    Value shiftedExp =
        mapGeneric(rewriter, loc, type, ValueRange{x, max}, {identity, rowMap},
                   [](OpBuilder &b, Location l, ValueRange args) -> Value {
                     return b.create<math::ExpOp>(
                         l, b.create<arith::SubFOp>(l, args[0], args[1]));
                   });
    Value sum = reduce(rewriter, loc, shiftedExp, {axis},
                       scalarConstant(rewriter, loc, element, 0),
                       [](OpBuilder &b, Location l, ValueRange args) -> Value {
                         return b.create<arith::AddFOp>(l, args[0], args[1]);
                       });
    Value result;
    if constexpr (isLog)
      result = mapGeneric(
          rewriter, loc, type, ValueRange{x, max, sum},
          {identity, rowMap, rowMap},
          [](OpBuilder &b, Location l, ValueRange args) -> Value {
            Value shifted = b.create<arith::SubFOp>(l, args[0], args[1]);
            return b.create<arith::SubFOp>(l, shifted,
                                           b.create<math::LogOp>(l, args[2]));
          });
    else
      result = mapGeneric(
          rewriter, loc, type, ValueRange{shiftedExp, sum}, {identity, rowMap},
          [](OpBuilder &b, Location l, ValueRange args) -> Value {
            return b.create<arith::DivFOp>(l, args[0], args[1]);
          });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct BatchNormLowering : public OpConversionPattern<BatchNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(BatchNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = rewriter.getContext();
    auto type = signless(op.getType());
    Type element = type.getElementType();
    if (!isa<FloatType>(element))
      return op.emitError("kiln.batch_norm needs a floating-point input");
    int64_t rank = type.getRank();
    int64_t channels = rank > 1 ? type.getDimSize(1) : 1;
    auto paramType = RankedTensorType::get({channels}, element);
    SmallVector<Value> inputs = {adaptor.getInput()};
    for (Value v : {adaptor.getScale(), adaptor.getBias(), adaptor.getMean(),
                    adaptor.getVariance()})
      inputs.push_back(reshapeTensor(rewriter, loc, v, paramType));
    AffineMap channelMap =
        AffineMap::get(rank, 0,
                       rank > 1 ? getAffineDimExpr(1, context)
                                : getAffineConstantExpr(0, context),
                       context);
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    double epsilon = op.getEpsilon().convertToDouble();
    Value result = mapGeneric(
        rewriter, loc, type, inputs,
        {identity, channelMap, channelMap, channelMap, channelMap},
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value centered = b.create<arith::SubFOp>(l, args[0], args[3]);
          Value stddev = b.create<math::SqrtOp>(
              l, b.create<arith::AddFOp>(
                     l, args[4], scalarConstant(b, l, element, epsilon)));
          Value normalized = b.create<arith::DivFOp>(l, centered, stddev);
          return b.create<arith::AddFOp>(
              l, b.create<arith::MulFOp>(l, normalized, args[1]), args[2]);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct LayerNormLowering : public OpConversionPattern<LayerNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LayerNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = rewriter.getContext();
    auto type = signless(op.getType());
    Type element = type.getElementType();
    if (!isa<FloatType>(element))
      return op.emitError("kiln.layer_norm needs a floating-point input");
    int64_t rank = type.getRank(), axis = op.getAxis();
    SmallVector<int64_t> axes;
    int64_t count = 1;
    for (int64_t d = axis; d < rank; ++d) {
      axes.push_back(d);
      count *= type.getDimSize(d);
    }
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap rowMap = dropDimsMap(context, rank, axes);
    auto sumOf = [](OpBuilder &b, Location l, ValueRange args) -> Value {
      return b.create<arith::AddFOp>(l, args[0], args[1]);
    };
    Value zero = scalarConstant(rewriter, loc, element, 0);
    Value sum = reduce(rewriter, loc, adaptor.getInput(), axes, zero, sumOf);
    Value centered = mapGeneric(
        rewriter, loc, type, ValueRange{adaptor.getInput(), sum},
        {identity, rowMap}, [&](OpBuilder &b, Location l, ValueRange args) {
          Value mean = b.create<arith::DivFOp>(
              l, args[1], scalarConstant(b, l, element, (double)count));
          return b.create<arith::SubFOp>(l, args[0], mean).getResult();
        });
    Value squares =
        reduce(rewriter, loc, centered, axes, zero,
               [](OpBuilder &b, Location l, ValueRange args) -> Value {
                 return b.create<arith::AddFOp>(
                     l, args[1], b.create<arith::MulFOp>(l, args[0], args[0]));
               });
    SmallVector<Value> inputs = {centered, squares, adaptor.getScale()};
    SmallVector<AffineMap> maps = {
        identity, rowMap,
        broadcastMap(context, tensorType(adaptor.getScale()).getShape(),
                     type.getShape())};
    if (Value bias = adaptor.getBias()) {
      inputs.push_back(bias);
      maps.push_back(
          broadcastMap(context, tensorType(bias).getShape(), type.getShape()));
    }
    double epsilon = op.getEpsilon().convertToDouble();
    Value result = mapGeneric(
        rewriter, loc, type, inputs, maps,
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value variance = b.create<arith::DivFOp>(
              l, args[1], scalarConstant(b, l, element, (double)count));
          Value stddev = b.create<math::SqrtOp>(
              l, b.create<arith::AddFOp>(
                     l, variance, scalarConstant(b, l, element, epsilon)));
          Value y = b.create<arith::MulFOp>(
              l, b.create<arith::DivFOp>(l, args[0], stddev), args[2]);
          if (args.size() > 3)
            y = b.create<arith::AddFOp>(l, y, args[3]);
          return y;
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// Pads `input`'s spatial dims for a pooling window so that every window of
/// the output lies inside (ceil mode may need extra end padding).
Value padForWindow(OpBuilder &b, Location loc, Value input,
                   ArrayRef<int64_t> kernel, ArrayRef<int64_t> strides,
                   ArrayRef<int64_t> pads, ArrayRef<int64_t> dilations,
                   ArrayRef<int64_t> outShape, Value padValue) {
  auto inType = tensorType(input);
  int64_t spatial = kernel.size();
  SmallVector<int64_t> low(2, 0), high(2, 0);
  SmallVector<int64_t> shape(inType.getShape().take_front(2));
  bool any = false;
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t in = inType.getDimSize(2 + i);
    int64_t needed =
        (outShape[2 + i] - 1) * strides[i] + dilations[i] * (kernel[i] - 1) + 1;
    int64_t end = std::max<int64_t>(needed - in - pads[i], pads[spatial + i]);
    low.push_back(pads[i]);
    high.push_back(end);
    shape.push_back(in + pads[i] + end);
    any |= pads[i] || end;
  }
  if (!any)
    return input;
  return padTensor(b, loc,
                   RankedTensorType::get(shape, inType.getElementType()), input,
                   low, high, padValue);
}

/// Sum or max over each window; the window's own shape is an extra
/// shape-only operand so linalg knows the window loops' ranges.
Value poolWindows(OpBuilder &b, Location loc, Value padded,
                  RankedTensorType resultType, ArrayRef<int64_t> kernel,
                  ArrayRef<int64_t> strides, ArrayRef<int64_t> dilations,
                  Value init, bool isMax, bool isUnsigned = false) {
  MLIRContext *context = b.getContext();
  int64_t spatial = kernel.size();
  Type element = resultType.getElementType();
  unsigned numDims = 2 + 2 * spatial;
  auto d = [&](unsigned i) { return getAffineDimExpr(i, context); };
  // Loops: n, c, o[0..spatial-2], k..., o[spatial-1]. The window loops sit
  // inside all output loops but the last, so each output row is finished
  // while it is in cache (with the window loops outermost, every window
  // position made a pass over the whole output: resnet50's stem max pool
  // took 6% of the model); the last output loop stays innermost so that it
  // vectorizes (on channel-blocked data it is the 16 channels of a block).
  auto windowDim = [&](int64_t i) { return d(2 + spatial - 1 + i); };
  auto outDim = [&](int64_t i) {
    return i == spatial - 1 ? d(numDims - 1) : d(2 + i);
  };
  SmallVector<AffineExpr> inExprs = {d(0), d(1)}, windowExprs,
                          outExprs = {d(0), d(1)};
  for (int64_t i = 0; i < spatial; ++i) {
    AffineExpr k = windowDim(i), o = outDim(i);
    inExprs.push_back(o * strides[i] + k * dilations[i]);
    windowExprs.push_back(k);
    outExprs.push_back(o);
  }
  SmallVector<utils::IteratorType> iterators(2 + spatial - 1,
                                             utils::IteratorType::parallel);
  iterators.append(spatial, utils::IteratorType::reduction);
  iterators.push_back(utils::IteratorType::parallel);
  Value window = b.create<tensor::EmptyOp>(loc, kernel, element);
  Value filled = filledTensor(b, loc, resultType, init);
  return b
      .create<linalg::GenericOp>(
          loc, resultType, ValueRange{padded, window}, filled,
          ArrayRef<AffineMap>{AffineMap::get(numDims, 0, inExprs, context),
                              AffineMap::get(numDims, 0, windowExprs, context),
                              AffineMap::get(numDims, 0, outExprs, context)},
          iterators,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            bool fp = isa<FloatType>(element);
            Value v;
            if (!isMax)
              v = nb.create<arith::AddFOp>(l, args[0], args[2]);
            else if (fp)
              v = nb.create<arith::MaximumFOp>(l, args[0], args[2]);
            else if (isUnsigned)
              v = nb.create<arith::MaxUIOp>(l, args[0], args[2]);
            else
              v = nb.create<arith::MaxSIOp>(l, args[0], args[2]);
            nb.create<linalg::YieldOp>(l, v);
          })
      .getResult(0);
}

/// A max pool of channel-blocked data ([N, C/16, H, W, 16], window
/// [KH, KW, 1]: BlockConvolutions) as an all-parallel generic over the
/// output whose body loops over the window, skipping positions outside the
/// input (the padding is -inf, which never wins); tagged for the target's
/// "max_pool_nchwc" microkernel, which needs no padded copy of the input.
/// Null where the pool is of another shape.
Value blockedMaxPool(OpBuilder &b, Location loc, MaxPoolOp op, Value input) {
  auto type = signless(op.getType());
  auto inType = tensorType(input);
  ArrayRef<int64_t> kernel = op.getKernelShape(), strides = op.getStrides(),
                    pads = op.getPads(), dilations = op.getDilations();
  if (!type.getElementType().isF32() || type.getRank() != 5 ||
      type.getDimSize(4) != 16 || kernel.size() != 3 || kernel[2] != 1 ||
      strides[2] != 1 || pads[2] != 0 || pads[5] != 0)
    return nullptr;
  int64_t height = inType.getDimSize(2), width = inType.getDimSize(3);
  Type f32 = type.getElementType();
  auto body = [&](OpBuilder &nb, Location l, ValueRange) {
    auto index = [&](int64_t v) {
      return nb.create<arith::ConstantIndexOp>(l, v).getResult();
    };
    SmallVector<Value> out;
    for (unsigned d = 0; d < 5; ++d)
      out.push_back(nb.create<linalg::IndexOp>(l, d));
    auto position = [&](OpBuilder &lb, Value o, Value k, int64_t i) {
      Value scaled = lb.create<arith::MulIOp>(l, o, index(strides[i]));
      Value offset = lb.create<arith::MulIOp>(l, k, index(dilations[i]));
      Value sum = lb.create<arith::AddIOp>(l, scaled, offset);
      return lb.create<arith::SubIOp>(l, sum, index(pads[i])).getResult();
    };
    auto inside = [&](OpBuilder &lb, Value v, int64_t size) {
      Value above =
          lb.create<arith::CmpIOp>(l, arith::CmpIPredicate::sge, v, index(0));
      Value below = lb.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, v,
                                             index(size));
      return lb.create<arith::AndIOp>(l, above, below).getResult();
    };
    Value lowest = lowestConstant(nb, l, f32, false, false);
    auto rows = nb.create<scf::ForOp>(
        l, index(0), index(kernel[0]), index(1), ValueRange{lowest},
        [&](OpBuilder &yb, Location, Value y, ValueRange yIters) {
          auto columns = yb.create<scf::ForOp>(
              l, index(0), index(kernel[1]), index(1), yIters,
              [&](OpBuilder &xb, Location, Value x, ValueRange xIters) {
                Value iy = position(xb, out[2], y, 0);
                Value ix = position(xb, out[3], x, 1);
                Value in = xb.create<arith::AndIOp>(l, inside(xb, iy, height),
                                                    inside(xb, ix, width));
                Value cy = xb.create<arith::SelectOp>(l, in, iy, index(0));
                Value cx = xb.create<arith::SelectOp>(l, in, ix, index(0));
                Value v = xb.create<tensor::ExtractOp>(
                    l, input, ValueRange{out[0], out[1], cy, cx, out[4]});
                v = xb.create<arith::SelectOp>(l, in, v, lowest);
                xb.create<scf::YieldOp>(
                    l, xb.create<arith::MaximumFOp>(l, xIters[0], v)
                           .getResult());
              });
          yb.create<scf::YieldOp>(l, columns.getResult(0));
        });
    nb.create<linalg::YieldOp>(l, rows.getResult(0));
  };
  auto generic = b.create<linalg::GenericOp>(
      loc, type, ValueRange{}, emptyTensor(b, loc, type),
      ArrayRef<AffineMap>{AffineMap::getMultiDimIdentityMap(5, b.getContext())},
      SmallVector<utils::IteratorType>(5, utils::IteratorType::parallel), body);
  generic->setAttr(kMicrokernelAttr, b.getStringAttr("max_pool_nchwc"));
  generic->setAttr(kMicrokernelStridesAttr,
                   b.getDenseI64ArrayAttr(strides.take_front(2)));
  generic->setAttr(kMicrokernelDilationsAttr,
                   b.getDenseI64ArrayAttr(dilations.take_front(2)));
  generic->setAttr(kMicrokernelPadsAttr,
                   b.getDenseI64ArrayAttr({pads[0], pads[1], pads[3], pads[4]}));
  generic->setAttr(kMicrokernelWindowAttr,
                   b.getDenseI64ArrayAttr(kernel.take_front(2)));
  return generic.getResult(0);
}

struct MaxPoolLowering : public OpConversionPattern<MaxPoolOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MaxPoolOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    if (Value pooled =
            blockedMaxPool(rewriter, loc, op, adaptor.getInput())) {
      rewriter.replaceOp(op, pooled);
      return success();
    }
    Type element = signless(op.getType()).getElementType();
    bool uns = op.getType().getElementType().isUnsignedInteger();
    Value lowest = lowestConstant(rewriter, loc, element, false, uns);
    Value padded =
        padForWindow(rewriter, loc, adaptor.getInput(), op.getKernelShape(),
                     op.getStrides(), op.getPads(), op.getDilations(),
                     signless(op.getType()).getShape(), lowest);
    rewriter.replaceOp(op, poolWindows(rewriter, loc, padded,
                                       signless(op.getType()),
                                       op.getKernelShape(), op.getStrides(),
                                       op.getDilations(), lowest, true, uns));
    return success();
  }
};

struct AveragePoolLowering : public OpConversionPattern<AveragePoolOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AveragePoolOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = signless(op.getType());
    Type element = type.getElementType();
    if (!isa<FloatType>(element))
      return op.emitError("kiln.average_pool: only floating-point inputs");
    ArrayRef<int64_t> kernel = op.getKernelShape(), strides = op.getStrides(),
                      pads = op.getPads();
    int64_t spatial = kernel.size();
    SmallVector<int64_t> dilations(spatial, 1);
    Value zero = scalarConstant(rewriter, loc, element, 0);
    auto inType = tensorType(adaptor.getInput());
    Value padded =
        padForWindow(rewriter, loc, adaptor.getInput(), kernel, strides, pads,
                     dilations, type.getShape(), zero);
    Value sums = poolWindows(rewriter, loc, padded, type, kernel, strides,
                             dilations, zero, false);

    // Divisors are known at compile time: how many window positions fall
    // inside the input (or inside input + pads with count_include_pad).
    ArrayRef<int64_t> outSpatial = type.getShape().drop_front(2);
    auto divisorType = RankedTensorType::get(outSpatial, element);
    ConstantTensor divisors(divisorType);
    SmallVector<int64_t> index(spatial, 0);
    for (int64_t i = 0; i < divisors.size(); ++i) {
      int64_t count = 1;
      for (int64_t s = 0; s < spatial; ++s) {
        int64_t in = inType.getDimSize(2 + s);
        int64_t lo = op.getCountIncludePad() ? -pads[s] : 0;
        int64_t hi = op.getCountIncludePad() ? in + pads[spatial + s] : in;
        int64_t start = index[s] * strides[s] - pads[s];
        int64_t first = std::max(start, lo);
        int64_t last = std::min(start + kernel[s], hi);
        count *= std::max<int64_t>(last - first, 1);
      }
      divisors.set(i, (double)count);
      for (int64_t s = spatial - 1; s >= 0; --s) {
        if (++index[s] < outSpatial[s])
          break;
        index[s] = 0;
      }
    }
    Value divisorTensor =
        rewriter.create<arith::ConstantOp>(loc, divisors.toAttr());
    rewriter.replaceOp(
        op, elementwise(rewriter, loc, type, ValueRange{sums, divisorTensor},
                        [](OpBuilder &b, Location l, ValueRange args) -> Value {
                          return b.create<arith::DivFOp>(l, args[0], args[1]);
                        }));
    return success();
  }
};

} // namespace

void populateReductionPatterns(RewritePatternSet &patterns) {
  MLIRContext *context = patterns.getContext();
  patterns
      .add<ReduceLowering<ReduceSumOp>, ReduceLowering<ReduceMeanOp>,
           ReduceLowering<ReduceMaxOp>, ReduceLowering<ReduceMinOp>,
           ReduceLowering<ReduceProdOp>, ReduceLowering<ReduceSumSquareOp>,
           ReduceLowering<ReduceL1Op>, ReduceLowering<ReduceL2Op>,
           ReduceLowering<ReduceLogSumExpOp>, ReduceLowering<ReduceLogSumOp>>(
          context);
  patterns.add<ArgReduceLowering<ArgMaxOp>, ArgReduceLowering<ArgMinOp>,
               SoftmaxLowering<SoftmaxOp>, SoftmaxLowering<LogSoftmaxOp>,
               BatchNormLowering, LayerNormLowering, MaxPoolLowering,
               AveragePoolLowering>(context);
}

} // namespace mlir::kiln::lowering
