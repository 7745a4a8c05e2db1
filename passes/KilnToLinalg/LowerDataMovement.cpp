//===- LowerDataMovement.cpp - reshape, transpose, slices, gather, pad
//-----===//
//
// Windows with positive strides are tensor slices (views, and copies only
// where bufferization needs them). Anything whose source index is not an
// affine function of the result index (gather, negative steps, reflect and
// edge padding) is a linalg.generic that computes the source index and
// reads it with tensor.extract.
//
//===----------------------------------------------------------------------===//

#include "passes/KilnToLinalg/LoweringUtils.h"

using namespace mlir;
using namespace mlir::kiln;

namespace mlir::kiln::lowering {
namespace {

Value indexConstant(OpBuilder &b, Location loc, int64_t v) {
  return b.create<arith::ConstantIndexOp>(loc, v);
}

/// An integer index into a dim of `size` as an `index`: negative values
/// count from the end, and anything still out of range is clamped, so a bad
/// index in the data cannot make the kernel read or write outside memory.
Value readIndex(OpBuilder &b, Location l, Value raw, int64_t size) {
  Value at = b.create<arith::IndexCastOp>(l, b.getIndexType(), raw);
  Value negative = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, at,
                                           indexConstant(b, l, 0));
  at = b.create<arith::SelectOp>(
      l, negative, b.create<arith::AddIOp>(l, at, indexConstant(b, l, size)),
      at);
  at = b.create<arith::MaxSIOp>(l, at, indexConstant(b, l, 0));
  return b.create<arith::MinSIOp>(l, at, indexConstant(b, l, size - 1));
}

/// A generic over `type` whose body computes each element from its
/// multi-index (and the `inputs` read at identity positions).
Value indexedGeneric(OpBuilder &b, Location loc, RankedTensorType type,
                     ValueRange inputs, ArrayRef<AffineMap> inputMaps,
                     function_ref<Value(OpBuilder &, Location, ValueRange index,
                                        ValueRange args)>
                         body) {
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(b.getMultiDimIdentityMap(type.getRank()));
  return b
      .create<linalg::GenericOp>(
          loc, type, inputs, emptyTensor(b, loc, type), maps,
          SmallVector<utils::IteratorType>(type.getRank(),
                                           utils::IteratorType::parallel),
          [&](OpBuilder &nb, Location l, ValueRange args) {
            SmallVector<Value> index;
            for (int64_t d = 0; d < type.getRank(); ++d)
              index.push_back(nb.create<linalg::IndexOp>(l, d));
            nb.create<linalg::YieldOp>(l, body(nb, l, index, args.drop_back()));
          })
      .getResult(0);
}

/// A copy into `type` whose element at each multi-index is `input`'s at
/// `map` of it (transposes, layout changes).
Value copyThroughMap(OpBuilder &b, Location loc, RankedTensorType type,
                     Value input, AffineMap map) {
  return indexedGeneric(b, loc, type, input, map,
                        [](OpBuilder &, Location, ValueRange, ValueRange args) {
                          return args[0];
                        });
}

struct ReshapeLowering : public OpConversionPattern<ReshapeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ReshapeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op,
                       reshapeTensor(rewriter, op.getLoc(), adaptor.getInput(),
                                     signless(op.getType())));
    return success();
  }
};

struct TransposeLowering : public OpConversionPattern<TransposeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(TransposeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    MLIRContext *context = getContext();
    ArrayRef<int64_t> perm = op.getPerm();
    // Input dim perm[k] is read at loop dim k.
    SmallVector<AffineExpr> exprs(perm.size());
    for (auto [k, p] : llvm::enumerate(perm))
      exprs[p] = getAffineDimExpr(k, context);
    AffineMap map = AffineMap::get(perm.size(), 0, exprs, context);
    rewriter.replaceOp(op, copyThroughMap(rewriter, op.getLoc(),
                                          signless(op.getType()),
                                          adaptor.getInput(), map));
    return success();
  }
};

/// to_nchwc: zero-pad the channels to a multiple of 16, then one copy that
/// reads (n, 16 cb + c, h, w) for output (n, cb, h, w, c).
struct ToNchwcLowering : public OpConversionPattern<ToNchwcOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ToNchwcOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = getContext();
    constexpr int64_t block = Conv2DNchwcOp::kChannelBlock;
    auto type = signless(op.getType());
    Value input = adaptor.getInput();
    auto inType = tensorType(input);
    ArrayRef<int64_t> s = inType.getShape();
    int64_t padded = type.getDimSize(1) * block;
    if (padded != s[1]) {
      auto paddedType = RankedTensorType::get({s[0], padded, s[2], s[3]},
                                              inType.getElementType());
      input =
          padTensor(rewriter, loc, paddedType, input, {0, 0, 0, 0},
                    {0, padded - s[1], 0, 0},
                    scalarConstant(rewriter, loc, inType.getElementType(), 0));
    }
    auto d = [&](unsigned i) { return getAffineDimExpr(i, context); };
    AffineMap map =
        AffineMap::get(5, 0, {d(0), d(1) * block + d(4), d(2), d(3)}, context);
    rewriter.replaceOp(op, copyThroughMap(rewriter, loc, type, input, map));
    return success();
  }
};

/// from_nchwc: output (n, c, h, w) reads (n, c / 16, h, w, c % 16).
struct FromNchwcLowering : public OpConversionPattern<FromNchwcOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(FromNchwcOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    MLIRContext *context = getContext();
    constexpr int64_t block = Conv2DNchwcOp::kChannelBlock;
    auto d = [&](unsigned i) { return getAffineDimExpr(i, context); };
    AffineMap map = AffineMap::get(
        4, 0, {d(0), d(1).floorDiv(block), d(2), d(3), d(1) % block}, context);
    rewriter.replaceOp(op, copyThroughMap(rewriter, op.getLoc(),
                                          signless(op.getType()),
                                          adaptor.getInput(), map));
    return success();
  }
};

struct ConcatLowering : public OpConversionPattern<ConcatOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConcatOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t axis = op.getAxis(), rank = signless(op.getType()).getRank();
    Value result = emptyTensor(rewriter, loc, signless(op.getType()));
    int64_t offset = 0;
    for (Value input : adaptor.getInputs()) {
      auto type = tensorType(input);
      SmallVector<OpFoldResult> offsets(rank, rewriter.getIndexAttr(0)), sizes,
          strides(rank, rewriter.getIndexAttr(1));
      offsets[axis] = rewriter.getIndexAttr(offset);
      for (int64_t d : type.getShape())
        sizes.push_back(rewriter.getIndexAttr(d));
      result = rewriter.create<tensor::InsertSliceOp>(loc, input, result,
                                                      offsets, sizes, strides);
      offset += type.getDimSize(axis);
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

Value extractWindow(OpBuilder &b, Location loc, Value input,
                    RankedTensorType resultType, ArrayRef<int64_t> starts,
                    ArrayRef<int64_t> steps) {
  SmallVector<OpFoldResult> offsets, sizes, strides;
  for (int64_t d = 0; d < resultType.getRank(); ++d) {
    offsets.push_back(b.getIndexAttr(starts[d]));
    sizes.push_back(b.getIndexAttr(resultType.getDimSize(d)));
    strides.push_back(b.getIndexAttr(steps[d]));
  }
  return b.create<tensor::ExtractSliceOp>(loc, resultType, input, offsets,
                                          sizes, strides);
}

struct SplitLowering : public OpConversionPattern<SplitOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SplitOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    int64_t rank = tensorType(adaptor.getInput()).getRank();
    SmallVector<Value> results;
    int64_t offset = 0;
    for (Value result : op.getResults()) {
      auto type = signless(cast<RankedTensorType>(result.getType()));
      SmallVector<int64_t> starts(rank, 0), steps(rank, 1);
      starts[op.getAxis()] = offset;
      results.push_back(extractWindow(rewriter, op.getLoc(), adaptor.getInput(),
                                      type, starts, steps));
      offset += type.getDimSize(op.getAxis());
    }
    rewriter.replaceOp(op, results);
    return success();
  }
};

struct SliceLowering : public OpConversionPattern<SliceOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SliceOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    ArrayRef<int64_t> starts = op.getStarts(), steps = op.getSteps();
    if (llvm::all_of(steps, [](int64_t s) { return s > 0; })) {
      rewriter.replaceOp(op,
                         extractWindow(rewriter, loc, adaptor.getInput(),
                                       signless(op.getType()), starts, steps));
      return success();
    }
    Value input = adaptor.getInput();
    rewriter.replaceOp(
        op,
        indexedGeneric(
            rewriter, loc, signless(op.getType()), {}, {},
            [&](OpBuilder &b, Location l, ValueRange index, ValueRange) {
              SmallVector<Value> source;
              for (auto [d, i] : llvm::enumerate(index))
                source.push_back(b.create<arith::AddIOp>(
                    l, indexConstant(b, l, starts[d]),
                    b.create<arith::MulIOp>(l, i,
                                            indexConstant(b, l, steps[d]))));
              return b.create<tensor::ExtractOp>(l, input, source).getResult();
            }));
    return success();
  }
};

struct GatherLowering : public OpConversionPattern<GatherOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GatherOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = getContext();
    Value data = adaptor.getData(), indices = adaptor.getIndices();
    auto dataType = tensorType(data), indexType = tensorType(indices);
    int64_t axis = op.getAxis(), indexRank = indexType.getRank();
    int64_t rank = signless(op.getType()).getRank();
    SmallVector<AffineExpr> indexExprs;
    for (int64_t d = 0; d < indexRank; ++d)
      indexExprs.push_back(getAffineDimExpr(axis + d, context));
    AffineMap indexMap = AffineMap::get(rank, 0, indexExprs, context);
    int64_t axisSize = dataType.getDimSize(axis);
    rewriter.replaceOp(
        op,
        indexedGeneric(
            rewriter, loc, signless(op.getType()), indices, indexMap,
            [&](OpBuilder &b, Location l, ValueRange index, ValueRange args) {
              Value at = readIndex(b, l, args[0], axisSize);
              SmallVector<Value> source(index.take_front(axis));
              source.push_back(at);
              llvm::append_range(source, index.drop_front(axis + indexRank));
              return b.create<tensor::ExtractOp>(l, data, source).getResult();
            }));
    return success();
  }
};

struct GatherElementsLowering : public OpConversionPattern<GatherElementsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GatherElementsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value data = adaptor.getData();
    int64_t axis = op.getAxis();
    int64_t axisSize = tensorType(data).getDimSize(axis);
    AffineMap identity =
        rewriter.getMultiDimIdentityMap(signless(op.getType()).getRank());
    rewriter.replaceOp(
        op,
        indexedGeneric(
            rewriter, loc, signless(op.getType()), adaptor.getIndices(),
            identity,
            [&](OpBuilder &b, Location l, ValueRange index, ValueRange args) {
              Value at = readIndex(b, l, args[0], axisSize);
              SmallVector<Value> source(index);
              source[axis] = at;
              return b.create<tensor::ExtractOp>(l, data, source).getResult();
            }));
    return success();
  }
};

/// out[i] = sum over j along the axis of x[j] where j <= i (or j < i when
/// exclusive; reversed: j >= i / j > i).
struct CumSumLowering : public OpConversionPattern<CumSumOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CumSumOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = getContext();
    auto type = signless(op.getType());
    int64_t rank = type.getRank(), axis = op.getAxis();
    // Loops: the output dims, then j along the axis.
    SmallVector<AffineExpr> inExprs;
    for (int64_t d = 0; d < rank; ++d)
      inExprs.push_back(getAffineDimExpr(d == axis ? rank : d, context));
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    iterators.push_back(utils::IteratorType::reduction);
    Value zero = scalarConstant(rewriter, loc, type.getElementType(), 0);
    bool exclusive = op.getExclusive(), reverse = op.getReverse();
    auto predicate = reverse ? (exclusive ? arith::CmpIPredicate::sgt
                                          : arith::CmpIPredicate::sge)
                             : (exclusive ? arith::CmpIPredicate::slt
                                          : arith::CmpIPredicate::sle);
    Value result =
        rewriter
            .create<linalg::GenericOp>(
                loc, type, adaptor.getInput(),
                filledTensor(rewriter, loc, type, zero),
                ArrayRef<AffineMap>{
                    AffineMap::get(rank + 1, 0, inExprs, context),
                    AffineMap::getMultiDimIdentityMap(rank + 1, context)
                        .getMajorSubMap(rank)},
                iterators,
                [&](OpBuilder &b, Location l, ValueRange args) {
                  Value i = b.create<linalg::IndexOp>(l, axis);
                  Value j = b.create<linalg::IndexOp>(l, rank);
                  Value take = b.create<arith::CmpIOp>(l, predicate, j, i);
                  Value x = b.create<arith::SelectOp>(
                      l, take, args[0],
                      scalarConstant(b, l, args[0].getType(), 0));
                  Value sum =
                      isa<FloatType>(x.getType())
                          ? b.create<arith::AddFOp>(l, args[1], x).getResult()
                          : b.create<arith::AddIOp>(l, args[1], x).getResult();
                  b.create<linalg::YieldOp>(l, sum);
                })
            .getResult(0);
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// Scatters as gathers: every output element looks at every update that
/// could land on it (a reduction over the update positions) and keeps the
/// last one that does ("none") or combines them ("add", "mul"). The cost is
/// outputs x updates, right for the small index sets scatter ops carry.
Value combineScatter(OpBuilder &b, Location l, StringRef reduction, Value hit,
                     Value acc, Value update) {
  Value combined = update;
  bool fp = isa<FloatType>(acc.getType());
  if (reduction == "add")
    combined = fp ? b.create<arith::AddFOp>(l, acc, update).getResult()
                  : b.create<arith::AddIOp>(l, acc, update).getResult();
  else if (reduction == "mul")
    combined = fp ? b.create<arith::MulFOp>(l, acc, update).getResult()
                  : b.create<arith::MulIOp>(l, acc, update).getResult();
  return b.create<arith::SelectOp>(l, hit, combined, acc);
}

/// A linalg.generic over the output dims plus `reductionShape` (given to
/// linalg by a shape-only operand), starting from `data`.
Value scatterGeneric(
    OpBuilder &b, Location loc, Value data, ArrayRef<int64_t> reductionShape,
    function_ref<Value(OpBuilder &, Location, ValueRange outIndex,
                       ValueRange updateIndex, Value acc)>
        body) {
  MLIRContext *context = b.getContext();
  auto type = tensorType(data);
  int64_t rank = type.getRank(), extra = reductionShape.size();
  SmallVector<AffineExpr> windowExprs;
  for (int64_t d = 0; d < extra; ++d)
    windowExprs.push_back(getAffineDimExpr(rank + d, context));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.append(extra, utils::IteratorType::reduction);
  Value window =
      b.create<tensor::EmptyOp>(loc, reductionShape, type.getElementType());
  return b
      .create<linalg::GenericOp>(
          loc, type, window, data,
          ArrayRef<AffineMap>{
              AffineMap::get(rank + extra, 0, windowExprs, context),
              AffineMap::getMultiDimIdentityMap(rank + extra, context)
                  .getMajorSubMap(rank)},
          iterators,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            SmallVector<Value> out, update;
            for (int64_t d = 0; d < rank; ++d)
              out.push_back(nb.create<linalg::IndexOp>(l, d));
            for (int64_t d = 0; d < extra; ++d)
              update.push_back(nb.create<linalg::IndexOp>(l, rank + d));
            nb.create<linalg::YieldOp>(l, body(nb, l, out, update, args[1]));
          })
      .getResult(0);
}

/// An index read from an index tensor (see readIndex).
Value loadIndex(OpBuilder &b, Location l, Value indices, ValueRange at,
                int64_t size) {
  return readIndex(b, l, b.create<tensor::ExtractOp>(l, indices, at), size);
}

struct ScatterElementsLowering : public OpConversionPattern<ScatterElementsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ScatterElementsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value indices = adaptor.getIndices(), updates = adaptor.getUpdates();
    auto indexShape = tensorType(indices).getShape();
    int64_t axis = op.getAxis();
    int64_t axisSize = tensorType(adaptor.getData()).getDimSize(axis);
    StringRef reduction = op.getReduction();
    rewriter.replaceOp(
        op, scatterGeneric(
                rewriter, op.getLoc(), adaptor.getData(), indexShape[axis],
                [&](OpBuilder &b, Location l, ValueRange out, ValueRange update,
                    Value acc) -> Value {
                  // The update at `out` with dim axis replaced by j, if out
                  // lies inside the indices' shape.
                  Value inside = b.create<arith::ConstantIntOp>(l, 1, 1);
                  SmallVector<Value> at(out);
                  at[axis] = update[0];
                  for (int64_t d = 0; d < (int64_t)out.size(); ++d) {
                    if (d == axis)
                      continue;
                    Value ok = b.create<arith::CmpIOp>(
                        l, arith::CmpIPredicate::slt, out[d],
                        indexConstant(b, l, indexShape[d]));
                    inside = b.create<arith::AndIOp>(l, inside, ok);
                    at[d] = b.create<arith::SelectOp>(l, ok, out[d],
                                                      indexConstant(b, l, 0));
                  }
                  Value target = loadIndex(b, l, indices, at, axisSize);
                  Value hit = b.create<arith::AndIOp>(
                      l, inside,
                      b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq,
                                              target, out[axis]));
                  Value value = b.create<tensor::ExtractOp>(l, updates, at);
                  return combineScatter(b, l, reduction, hit, acc, value);
                }));
    return success();
  }
};

struct ScatterNDLowering : public OpConversionPattern<ScatterNDOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ScatterNDOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value indices = adaptor.getIndices(), updates = adaptor.getUpdates();
    auto indexShape = tensorType(indices).getShape();
    auto dataShape = tensorType(adaptor.getData()).getShape();
    int64_t k = indexShape.back();
    StringRef reduction = op.getReduction();
    rewriter.replaceOp(
        op,
        scatterGeneric(
            rewriter, op.getLoc(), adaptor.getData(), indexShape.drop_back(),
            [&](OpBuilder &b, Location l, ValueRange out, ValueRange update,
                Value acc) -> Value {
              Value hit = b.create<arith::ConstantIntOp>(l, 1, 1);
              SmallVector<Value> tuple(update);
              tuple.push_back(Value());
              for (int64_t j = 0; j < k; ++j) {
                tuple.back() = indexConstant(b, l, j);
                Value target = loadIndex(b, l, indices, tuple, dataShape[j]);
                hit = b.create<arith::AndIOp>(
                    l, hit,
                    b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, target,
                                            out[j]));
              }
              SmallVector<Value> at(update);
              llvm::append_range(at, out.drop_front(k));
              Value value = b.create<tensor::ExtractOp>(l, updates, at);
              return combineScatter(b, l, reduction, hit, acc, value);
            }));
    return success();
  }
};

struct PadLowering : public OpConversionPattern<PadOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(PadOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    auto inType = tensorType(input);
    int64_t rank = inType.getRank();
    ArrayRef<int64_t> pads = op.getPads();
    if (op.getMode() == "constant") {
      Value value = scalarConstant(rewriter, loc, inType.getElementType(),
                                   op.getValue().convertToDouble());
      rewriter.replaceOp(op, padTensor(rewriter, loc, signless(op.getType()),
                                       input, pads.take_front(rank),
                                       pads.drop_front(rank), value));
      return success();
    }
    bool reflect = op.getMode() == "reflect";
    rewriter.replaceOp(
        op,
        indexedGeneric(
            rewriter, loc, signless(op.getType()), {}, {},
            [&](OpBuilder &b, Location l, ValueRange index, ValueRange) {
              SmallVector<Value> source;
              for (int64_t d = 0; d < rank; ++d) {
                int64_t size = inType.getDimSize(d);
                Value i = b.create<arith::SubIOp>(l, index[d],
                                                  indexConstant(b, l, pads[d]));
                if (reflect) {
                  // -i below the start, 2(n-1) - i past the end.
                  Value zero = indexConstant(b, l, 0);
                  Value mirrorLow = b.create<arith::SubIOp>(l, zero, i);
                  i = b.create<arith::MaxSIOp>(l, i, mirrorLow);
                  Value mirrorHigh = b.create<arith::SubIOp>(
                      l, indexConstant(b, l, 2 * (size - 1)), i);
                  i = b.create<arith::MinSIOp>(l, i, mirrorHigh);
                }
                i = b.create<arith::MaxSIOp>(l, i, indexConstant(b, l, 0));
                i = b.create<arith::MinSIOp>(l, i,
                                             indexConstant(b, l, size - 1));
                source.push_back(i);
              }
              return b.create<tensor::ExtractOp>(l, input, source).getResult();
            }));
    return success();
  }
};

} // namespace

void populateDataMovementPatterns(RewritePatternSet &patterns) {
  patterns.add<ReshapeLowering, TransposeLowering, ToNchwcLowering,
               FromNchwcLowering, ConcatLowering, SplitLowering, SliceLowering,
               GatherLowering, GatherElementsLowering, CumSumLowering,
               ScatterElementsLowering, ScatterNDLowering, PadLowering>(
      patterns.getContext());
}

} // namespace mlir::kiln::lowering
