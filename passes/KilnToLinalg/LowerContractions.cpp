//===- LowerContractions.cpp - matmul, gemm, conv -> linalg
//----------------===//
//
// Contractions become linalg.generic ops whose loops are ordered with the
// reduction dims outside the contiguous output dim, so the innermost loop
// streams along rows of the output and the weights (vectorizable), instead
// of a dot product per output element.
//
//===----------------------------------------------------------------------===//

#include "passes/KilnToLinalg/LoweringUtils.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::kiln;

namespace mlir::kiln::lowering {
namespace {

Value multiplyAdd(OpBuilder &b, Location loc, Value acc, Value x, Value y) {
  if (isa<FloatType>(acc.getType())) {
    // f16 weights (kiln-store-weights-f16) are widened as they are read.
    auto widen = [&](Value v) {
      return v.getType() == acc.getType()
                 ? v
                 : b.create<arith::ExtFOp>(loc, acc.getType(), v).getResult();
    };
    return b.create<arith::AddFOp>(
        loc, acc, b.create<arith::MulFOp>(loc, widen(x), widen(y)));
  }
  return b.create<arith::AddIOp>(loc, acc, b.create<arith::MulIOp>(loc, x, y));
}

/// Batch-dim expressions of an operand with `shape` broadcast to `batch`.
SmallVector<AffineExpr> batchExprs(MLIRContext *context,
                                   ArrayRef<int64_t> shape,
                                   ArrayRef<int64_t> batch) {
  AffineMap map = broadcastMap(context, shape, batch);
  return SmallVector<AffineExpr>(map.getResults());
}

/// A matmul with ONNX's shape rules as one linalg.generic over loops
/// (batch..., m, k, n): 1-D operands become a row or a column, and a stack of
/// rows times one matrix (every Linear layer of a transformer) folds its
/// batch into the rows, making it one 2-D product.
struct MatMulLoops {
  Value lhs, rhs;
  SmallVector<int64_t> batch; // the broadcast batch dims (empty when 2-D)
  int64_t rows, columns;      // of the 2-D product (folded rows included)
  int64_t rowsPerBatch;       // rows of lhs before folding

  static FailureOr<MatMulLoops> build(OpBuilder &b, Location loc, Value lhs,
                                      Value rhs) {
    Type element = tensorType(lhs).getElementType();
    Type rhsElement = tensorType(rhs).getElementType();
    if (tensorType(lhs).getRank() == 1)
      lhs = reshapeTensor(
          b, loc, lhs,
          RankedTensorType::get({1, tensorType(lhs).getDimSize(0)}, element));
    if (tensorType(rhs).getRank() == 1)
      rhs = reshapeTensor(b, loc, rhs,
                          RankedTensorType::get(
                              {tensorType(rhs).getDimSize(0), 1}, rhsElement));
    MatMulLoops loops;
    loops.rowsPerBatch = tensorType(lhs).getShape().end()[-2];
    if (tensorType(rhs).getRank() == 2 && tensorType(lhs).getRank() > 2) {
      ArrayRef<int64_t> shape = tensorType(lhs).getShape();
      int64_t rows = 1;
      for (int64_t d : shape.drop_back())
        rows *= d;
      lhs = reshapeTensor(b, loc, lhs,
                          RankedTensorType::get({rows, shape.back()}, element));
    }
    ArrayRef<int64_t> l = tensorType(lhs).getShape(),
                      r = tensorType(rhs).getShape();
    auto batch = broadcastShapes(l.drop_back(2), r.drop_back(2));
    if (failed(batch))
      return failure();
    loops.lhs = lhs;
    loops.rhs = rhs;
    loops.batch = *batch;
    loops.rows = l.end()[-2];
    loops.columns = r.back();
    return loops;
  }

  unsigned numDims() const { return batch.size() + 3; }
  AffineExpr dim(MLIRContext *context, unsigned i) const {
    return getAffineDimExpr(i, context);
  }
  AffineExpr rowDim(MLIRContext *context) const {
    return dim(context, batch.size());
  }
  AffineExpr columnDim(MLIRContext *context) const {
    return dim(context, batch.size() + 2);
  }

  /// Indexing maps of lhs, rhs (then `extraInputs`) and the result.
  SmallVector<AffineMap> maps(MLIRContext *context,
                              ArrayRef<AffineMap> extraInputs = {}) const {
    unsigned nb = batch.size();
    ArrayRef<int64_t> l = tensorType(lhs).getShape(),
                      r = tensorType(rhs).getShape();
    auto lhsExprs = batchExprs(context, l.drop_back(2), batch);
    lhsExprs.append({dim(context, nb), dim(context, nb + 1)});
    auto rhsExprs = batchExprs(context, r.drop_back(2), batch);
    rhsExprs.append({dim(context, nb + 1), dim(context, nb + 2)});
    SmallVector<AffineExpr> outExprs;
    for (unsigned i = 0; i < nb; ++i)
      outExprs.push_back(dim(context, i));
    outExprs.append({dim(context, nb), dim(context, nb + 2)});
    SmallVector<AffineMap> result = {
        AffineMap::get(numDims(), 0, lhsExprs, context),
        AffineMap::get(numDims(), 0, rhsExprs, context)};
    llvm::append_range(result, extraInputs);
    result.push_back(AffineMap::get(numDims(), 0, outExprs, context));
    return result;
  }

  SmallVector<utils::IteratorType> iterators() const {
    SmallVector<utils::IteratorType> result(batch.size(),
                                            utils::IteratorType::parallel);
    result.append({utils::IteratorType::parallel,
                   utils::IteratorType::reduction,
                   utils::IteratorType::parallel});
    return result;
  }

  RankedTensorType resultType(Type element) const {
    SmallVector<int64_t> shape(batch);
    shape.push_back(rows);
    shape.push_back(columns);
    return RankedTensorType::get(shape, element);
  }
};

struct MatMulLowering : public OpConversionPattern<MatMulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MatMulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type element = signless(op.getType()).getElementType();
    auto loops =
        MatMulLoops::build(rewriter, loc, adaptor.getLhs(), adaptor.getRhs());
    if (failed(loops))
      return failure();
    auto fullType = loops->resultType(element);
    Value init = filledTensor(rewriter, loc, fullType,
                              scalarConstant(rewriter, loc, element, 0));
    Value product =
        rewriter
            .create<linalg::GenericOp>(
                loc, fullType, ValueRange{loops->lhs, loops->rhs}, init,
                loops->maps(getContext()), loops->iterators(),
                [&](OpBuilder &b, Location nested, ValueRange args) {
                  b.create<linalg::YieldOp>(
                      nested,
                      multiplyAdd(b, nested, args[2], args[0], args[1]));
                })
            .getResult(0);
    // The kernels compute in f32, or in f16 where the target has fp16
    // arithmetic (kiln-cpu-microkernels keeps other f16 products in loops).
    if (loops->batch.empty() && isa<Float32Type, Float16Type>(element))
      product.getDefiningOp()->setAttr(kMicrokernelAttr,
                                       rewriter.getStringAttr("matmul"));
    rewriter.replaceOp(
        op, reshapeTensor(rewriter, loc, product, signless(op.getType())));
    return success();
  }
};

/// lhs [..., M, K] x packed B: one (m, k, n) generic on lhs viewed as
/// [M', K] that reads B(k, n) at packed[n / 16, k, n % 16] (the reference
/// semantics), tagged for the packed-panel microkernel.
struct MatMulPackedLowering : public OpConversionPattern<MatMulPackedOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MatMulPackedOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = getContext();
    auto lhsType = tensorType(adaptor.getLhs());
    Type element = lhsType.getElementType();
    int64_t k = lhsType.getShape().back(), n = op.getType().getShape().back();
    int64_t rows = lhsType.getNumElements() / k;
    Value lhs = reshapeTensor(rewriter, loc, adaptor.getLhs(),
                              RankedTensorType::get({rows, k}, element));
    auto resultType = RankedTensorType::get({rows, n}, element);
    Value init = filledTensor(rewriter, loc, resultType,
                              scalarConstant(rewriter, loc, element, 0));
    AffineExpr m = getAffineDimExpr(0, context),
               kk = getAffineDimExpr(1, context),
               nn = getAffineDimExpr(2, context);
    int64_t panel = MatMulPackedOp::kPanel;
    SmallVector<AffineMap> maps = {
        AffineMap::get(3, 0, {m, kk}, context),
        AffineMap::get(3, 0, {nn.floorDiv(panel), kk, nn % panel}, context),
        AffineMap::get(3, 0, {m, nn}, context)};
    auto generic = rewriter.create<linalg::GenericOp>(
        loc, resultType, ValueRange{lhs, adaptor.getPacked()}, init, maps,
        SmallVector<utils::IteratorType>{utils::IteratorType::parallel,
                                         utils::IteratorType::reduction,
                                         utils::IteratorType::parallel},
        [&](OpBuilder &b, Location nested, ValueRange args) {
          b.create<linalg::YieldOp>(
              nested, multiplyAdd(b, nested, args[2], args[0], args[1]));
        });
    generic->setAttr(kMicrokernelAttr, rewriter.getStringAttr("matmul_packed"));
    rewriter.replaceOp(op, reshapeTensor(rewriter, loc, generic.getResult(0),
                                         signless(op.getType())));
    return success();
  }
};

/// (lhs - lhs_zero) x (rhs - rhs_zero) with the 8-bit operands widened
/// inside the loop body. A 2-D product is tagged for the int8 microkernel,
/// which reads the body to find signedness and zero points
/// (kiln-cpu-microkernels). A zero point the same for every row (column)
/// is a constant in the body, left out when 0; any other is an input
/// indexed by the row (column), so that no canonicalization folds it into
/// the body and rebuilds the generic without its tag. Per-row zero points of
/// a folded batch are repeated per batch.
struct MatMulIntegerLowering : public OpConversionPattern<MatMulIntegerOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MatMulIntegerOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = getContext();
    Type i32 = rewriter.getI32Type();
    auto loops =
        MatMulLoops::build(rewriter, loc, adaptor.getLhs(), adaptor.getRhs());
    if (failed(loops))
      return failure();

    // Zero points: a splat constant, or an input vector over `count`,
    // broadcast from a scalar or repeated `repeats` times when needed.
    struct ZeroPoint {
      std::optional<int64_t> constant;
      Value vector;
    };
    auto zeroPoint = [&](Value original, Value zero, int64_t count,
                         int64_t repeats) -> ZeroPoint {
      DenseIntElementsAttr value;
      if (matchPattern(original, m_Constant(&value)) && value.isSplat())
        return {value.getSplatValue<APInt>().getSExtValue(), Value()};
      auto inner = RankedTensorType::get({repeats, count / repeats}, i32);
      if (tensorType(zero).getRank() == 0 || repeats > 1)
        zero =
            reshapeTensor(rewriter, loc,
                          elementwise(rewriter, loc, inner, zero,
                                      [](OpBuilder &, Location,
                                         ValueRange args) { return args[0]; }),
                          RankedTensorType::get({count}, i32));
      return {std::nullopt, zero};
    };
    ZeroPoint lhsZero =
        zeroPoint(op.getLhsZeroPoint(), adaptor.getLhsZeroPoint(), loops->rows,
                  loops->rows / loops->rowsPerBatch);
    ZeroPoint rhsZero = zeroPoint(op.getRhsZeroPoint(),
                                  adaptor.getRhsZeroPoint(), loops->columns, 1);

    SmallVector<Value> inputs = {loops->lhs, loops->rhs};
    SmallVector<AffineMap> zeroMaps;
    for (auto [zero, dim] : {std::pair{lhsZero, loops->rowDim(context)},
                             std::pair{rhsZero, loops->columnDim(context)}})
      if (zero.vector) {
        inputs.push_back(zero.vector);
        zeroMaps.push_back(AffineMap::get(loops->numDims(), 0, dim));
      }
    bool lhsUnsigned =
        tensorType(op.getLhs()).getElementType().isUnsignedInteger();
    bool rhsUnsigned =
        tensorType(op.getRhs()).getElementType().isUnsignedInteger();
    auto fullType = loops->resultType(i32);
    Value init = filledTensor(rewriter, loc, fullType,
                              scalarConstant(rewriter, loc, i32, 0));
    Value product =
        rewriter
            .create<linalg::GenericOp>(
                loc, fullType, inputs, init, loops->maps(context, zeroMaps),
                loops->iterators(),
                [&](OpBuilder &b, Location nested, ValueRange args) {
                  unsigned nextZero = 2;
                  auto centered = [&](Value x, bool isUnsigned,
                                      const ZeroPoint &zero) {
                    Value wide = isUnsigned
                                     ? b.create<arith::ExtUIOp>(nested, i32, x)
                                           .getResult()
                                     : b.create<arith::ExtSIOp>(nested, i32, x)
                                           .getResult();
                    if (zero.constant == 0)
                      return wide;
                    Value z = zero.vector ? args[nextZero++]
                                          : scalarConstant(b, nested, i32,
                                                           *zero.constant);
                    return b.create<arith::SubIOp>(nested, wide, z).getResult();
                  };
                  Value x = centered(args[0], lhsUnsigned, lhsZero);
                  Value y = centered(args[1], rhsUnsigned, rhsZero);
                  b.create<linalg::YieldOp>(
                      nested, multiplyAdd(b, nested, args.back(), x, y));
                })
            .getResult(0);
    if (loops->batch.empty())
      product.getDefiningOp()->setAttr(kMicrokernelAttr,
                                       rewriter.getStringAttr("matmul_i8"));
    rewriter.replaceOp(
        op, reshapeTensor(rewriter, loc, product, signless(op.getType())));
    return success();
  }
};

struct GemmLowering : public OpConversionPattern<GemmOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GemmOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = getContext();
    RankedTensorType type = signless(op.getType());
    Type element = type.getElementType();
    if (!isa<FloatType>(element))
      return op.emitError("kiln.gemm: only floating-point gemm is supported");
    double alpha = op.getAlpha().convertToDouble();
    double beta = op.getBeta().convertToDouble();
    Value init;
    if (adaptor.getC() && beta != 0) {
      init =
          elementwise(rewriter, loc, type, adaptor.getC(),
                      [&](OpBuilder &b, Location l, ValueRange args) {
                        if (beta == 1)
                          return args[0];
                        return b
                            .create<arith::MulFOp>(
                                l, args[0], scalarConstant(b, l, element, beta))
                            .getResult();
                      });
    } else {
      init = filledTensor(rewriter, loc, type,
                          scalarConstant(rewriter, loc, element, 0));
    }
    // Loops: m, k, n.
    auto d = [&](unsigned i) { return getAffineDimExpr(i, context); };
    AffineMap aMap =
        AffineMap::get(3, 0,
                       op.getTransA() ? ArrayRef<AffineExpr>{d(1), d(0)}
                                      : ArrayRef<AffineExpr>{d(0), d(1)},
                       context);
    AffineMap bMap =
        AffineMap::get(3, 0,
                       op.getTransB() ? ArrayRef<AffineExpr>{d(2), d(1)}
                                      : ArrayRef<AffineExpr>{d(1), d(2)},
                       context);
    AffineMap outMap = AffineMap::get(3, 0, {d(0), d(2)}, context);
    Value result =
        rewriter
            .create<linalg::GenericOp>(
                loc, type, ValueRange{adaptor.getA(), adaptor.getB()}, init,
                ArrayRef<AffineMap>{aMap, bMap, outMap},
                ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                              utils::IteratorType::reduction,
                                              utils::IteratorType::parallel},
                [&](OpBuilder &b, Location nested, ValueRange args) {
                  Value x = args[0];
                  if (alpha != 1)
                    x = b.create<arith::MulFOp>(
                        nested, x, scalarConstant(b, nested, element, alpha));
                  b.create<linalg::YieldOp>(
                      nested, multiplyAdd(b, nested, args[2], x, args[1]));
                })
            .getResult(0);
    if (alpha == 1 && isa<Float32Type, Float16Type>(element))
      result.getDefiningOp()->setAttr(kMicrokernelAttr,
                                      rewriter.getStringAttr("matmul"));
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// Grouped N-d convolution of NC... data with an FC... filter.
Value buildConv(OpBuilder &b, Location loc, Value input, Value filter,
                Value bias, ArrayRef<int64_t> strides, ArrayRef<int64_t> pads,
                ArrayRef<int64_t> dilations, int64_t group,
                RankedTensorType resultType) {
  MLIRContext *context = b.getContext();
  auto inType = tensorType(input), filterType = tensorType(filter);
  Type element = inType.getElementType();
  int64_t spatial = inType.getRank() - 2;
  int64_t batch = inType.getDimSize(0), channels = inType.getDimSize(1);
  int64_t features = filterType.getDimSize(0);
  int64_t cpg = channels / group, fpg = features / group;

  // Zero-pad the spatial dims.
  if (llvm::any_of(pads, [](int64_t p) { return p != 0; })) {
    SmallVector<int64_t> low(2, 0), high(2, 0);
    SmallVector<int64_t> paddedShape(inType.getShape().take_front(2));
    for (int64_t i = 0; i < spatial; ++i) {
      low.push_back(pads[i]);
      high.push_back(pads[spatial + i]);
      paddedShape.push_back(inType.getDimSize(2 + i) + pads[i] +
                            pads[spatial + i]);
    }
    auto paddedType = RankedTensorType::get(paddedShape, element);
    input = padTensor(b, loc, paddedType, input, low, high,
                      scalarConstant(b, loc, element, 0));
    inType = paddedType;
  }

  // Expose the group dim: input N,G,C/G,X..., filter G,F/G,C/G,K...,
  // output N,G,F/G,O...
  SmallVector<int64_t> groupedIn = {batch, group, cpg};
  llvm::append_range(groupedIn, inType.getShape().drop_front(2));
  SmallVector<int64_t> groupedFilter = {group, fpg, cpg};
  llvm::append_range(groupedFilter, filterType.getShape().drop_front(2));
  SmallVector<int64_t> groupedOut = {batch, group, fpg};
  llvm::append_range(groupedOut, resultType.getShape().drop_front(2));
  auto groupedOutType = RankedTensorType::get(groupedOut, element);
  input =
      reshapeTensor(b, loc, input, RankedTensorType::get(groupedIn, element));
  filter = reshapeTensor(
      b, loc, filter,
      RankedTensorType::get(groupedFilter, filterType.getElementType()));

  // Loops: n, g, fo, ci, k..., o... (outputs innermost).
  unsigned numDims = 4 + 2 * spatial;
  auto d = [&](unsigned i) { return getAffineDimExpr(i, context); };
  SmallVector<AffineExpr> inExprs = {d(0), d(1), d(3)};
  SmallVector<AffineExpr> filterExprs = {d(1), d(2), d(3)};
  SmallVector<AffineExpr> outExprs = {d(0), d(1), d(2)};
  for (int64_t i = 0; i < spatial; ++i) {
    AffineExpr k = d(4 + i), o = d(4 + spatial + i);
    inExprs.push_back(o * strides[i] + k * dilations[i]);
    filterExprs.push_back(k);
    outExprs.push_back(o);
  }
  SmallVector<utils::IteratorType> iterators(3, utils::IteratorType::parallel);
  iterators.append(1 + spatial, utils::IteratorType::reduction);
  iterators.append(spatial, utils::IteratorType::parallel);

  Value init;
  if (bias) {
    Value groupedBias = reshapeTensor(
        b, loc, bias, RankedTensorType::get({group, fpg}, element));
    AffineMap biasMap =
        AffineMap::get(2 + 1 + spatial, 0, {d(1), d(2)}, context);
    init = b.create<linalg::GenericOp>(
                loc, groupedOutType, groupedBias,
                emptyTensor(b, loc, groupedOutType),
                ArrayRef<AffineMap>{biasMap,
                                    b.getMultiDimIdentityMap(3 + spatial)},
                SmallVector<utils::IteratorType>(3 + spatial,
                                                 utils::IteratorType::parallel),
                [](OpBuilder &nb, Location l, ValueRange args) {
                  nb.create<linalg::YieldOp>(l, args[0]);
                })
               .getResult(0);
  } else {
    init = filledTensor(b, loc, groupedOutType,
                        scalarConstant(b, loc, element, 0));
  }
  Value result =
      b.create<linalg::GenericOp>(
           loc, groupedOutType, ValueRange{input, filter}, init,
           ArrayRef<AffineMap>{AffineMap::get(numDims, 0, inExprs, context),
                               AffineMap::get(numDims, 0, filterExprs, context),
                               AffineMap::get(numDims, 0, outExprs, context)},
           iterators,
           [&](OpBuilder &nb, Location l, ValueRange args) {
             nb.create<linalg::YieldOp>(
                 l, multiplyAdd(nb, l, args[2], args[0], args[1]));
           })
          .getResult(0);
  // The microkernel's reduction runs over C/G * KH * KW; depthwise
  // convolutions (9 terms) are better served by the loops, which
  // vectorize along the output row.
  int64_t reduction = cpg;
  for (int64_t i = 0; i < spatial; ++i)
    reduction *= filterType.getDimSize(2 + i);
  if (spatial == 2 && element.isF32() && reduction >= 32) {
    Operation *conv = result.getDefiningOp();
    conv->setAttr(kMicrokernelAttr, b.getStringAttr("conv2d"));
    conv->setAttr(kMicrokernelStridesAttr, b.getDenseI64ArrayAttr(strides));
    conv->setAttr(kMicrokernelDilationsAttr, b.getDenseI64ArrayAttr(dilations));
  }
  return reshapeTensor(b, loc, result, resultType);
}

/// The reduction of one output (n, fb, oy, ox, f) of an NCHWc convolution,
/// built in loops inside a generic's body: over (cb, y, x, c), innermost
/// last, or (y, x) when depthwise (input channel = output channel); a
/// plain input ([N, C, H, W]) is one block of C channels. `bounds` are the
/// loops' trip counts. Each step calls `accumulate` with the carried value,
/// the input element (its index clamped into the image), whether the window
/// position is inside the image, and the loop variables.
struct NchwcStep {
  Value carried, element, inside;
  Value cb, y, x, c, fb, f;
};
Value nchwcReduction(
    OpBuilder &b, Location l, Value input, ArrayRef<int64_t> bounds,
    bool depthwise, ArrayRef<int64_t> strides, ArrayRef<int64_t> pads,
    ArrayRef<int64_t> dilations, Value init,
    function_ref<Value(OpBuilder &, Location, const NchwcStep &)> accumulate) {
  ArrayRef<int64_t> inShape = tensorType(input).getShape();
  int64_t height = inShape[2], width = inShape[3];
  bool plain = inShape.size() == 4;
  auto index = [&](OpBuilder &ib, int64_t v) {
    return ib.create<arith::ConstantIndexOp>(l, v).getResult();
  };
  Value n = b.create<linalg::IndexOp>(l, 0);
  Value fb = b.create<linalg::IndexOp>(l, 1);
  Value oy = b.create<linalg::IndexOp>(l, 2);
  Value ox = b.create<linalg::IndexOp>(l, 3);
  Value f = b.create<linalg::IndexOp>(l, 4);
  SmallVector<Value> ivs;
  std::function<Value(OpBuilder &, unsigned, Value)> loop =
      [&](OpBuilder &lb, unsigned depth, Value carried) -> Value {
    if (depth == bounds.size()) {
      Value cb = depthwise ? fb : ivs[0], y = ivs[depthwise ? 0 : 1],
            x = ivs[depthwise ? 1 : 2], c = depthwise ? f : ivs[3];
      auto position = [&](Value o, Value k, int64_t i) {
        Value scaled = lb.create<arith::MulIOp>(l, o, index(lb, strides[i]));
        Value offset = lb.create<arith::MulIOp>(l, k, index(lb, dilations[i]));
        Value sum = lb.create<arith::AddIOp>(l, scaled, offset);
        return lb.create<arith::SubIOp>(l, sum, index(lb, pads[i])).getResult();
      };
      Value iy = position(oy, y, 0), ix = position(ox, x, 1);
      auto inside = [&](Value v, int64_t size) {
        Value above = lb.create<arith::CmpIOp>(l, arith::CmpIPredicate::sge, v,
                                               index(lb, 0));
        Value below = lb.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, v,
                                               index(lb, size));
        return lb.create<arith::AndIOp>(l, above, below).getResult();
      };
      Value in =
          lb.create<arith::AndIOp>(l, inside(iy, height), inside(ix, width));
      Value cy = lb.create<arith::SelectOp>(l, in, iy, index(lb, 0));
      Value cx = lb.create<arith::SelectOp>(l, in, ix, index(lb, 0));
      Value v =
          plain
              ? lb.create<tensor::ExtractOp>(l, input, ValueRange{n, c, cy, cx})
              : lb.create<tensor::ExtractOp>(l, input,
                                             ValueRange{n, cb, cy, cx, c});
      return accumulate(lb, l, NchwcStep{carried, v, in, cb, y, x, c, fb, f});
    }
    auto forOp = lb.create<scf::ForOp>(
        l, index(lb, 0), index(lb, bounds[depth]), index(lb, 1),
        ValueRange{carried},
        [&](OpBuilder &inner, Location il, Value iv, ValueRange iters) {
          ivs.push_back(iv);
          Value next = loop(inner, depth + 1, iters[0]);
          ivs.pop_back();
          inner.create<scf::YieldOp>(il, next);
        });
    return forOp.getResult(0);
  };
  return loop(b, 0, init);
}

/// v = activation(v) for the NCHWc convolutions' epilogues.
Value applyActivation(OpBuilder &b, Location l, Value v, StringRef activation,
                      double low, double high) {
  Type f32 = v.getType();
  if (activation == "relu")
    v = b.create<arith::MaximumFOp>(l, v, scalarConstant(b, l, f32, 0));
  if (activation == "clip") {
    v = b.create<arith::MaximumFOp>(l, v, scalarConstant(b, l, f32, low));
    v = b.create<arith::MinimumFOp>(l, v, scalarConstant(b, l, f32, high));
  }
  return v;
}

/// The microkernel tag's attributes of an NCHWc convolution generic.
void tagNchwcGeneric(OpBuilder &b, linalg::GenericOp generic, StringRef kind,
                     DenseI64ArrayAttr strides, DenseI64ArrayAttr pads,
                     DenseI64ArrayAttr dilations,
                     ArrayRef<NamedAttribute> epilogue) {
  generic->setAttr(kMicrokernelAttr, b.getStringAttr(kind));
  generic->setAttr(kMicrokernelStridesAttr, strides);
  generic->setAttr(kMicrokernelDilationsAttr, dilations);
  generic->setAttr(kMicrokernelPadsAttr, pads);
  generic->setAttr(kMicrokernelEpilogueAttr, b.getDictionaryAttr(epilogue));
}

/// kiln.conv2d_nchwc as one all-parallel generic over the output. Its body
/// computes the whole reduction in loops (reading the input, zero outside
/// the image, and the filter with tensor.extract) and applies bias, residual
/// and activation: the reference semantics kiln-cpu-microkernels replaces
/// by the NCHWc kernel. Bias and residual are the generic's inputs; input
/// and filter are read only in the body (an operand the body does not read
/// would be canonicalized away), where the replacement finds their buffers
/// as the first and the second load. The tag's attributes carry the rest.
struct Conv2DNchwcLowering : public OpConversionPattern<Conv2DNchwcOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(Conv2DNchwcOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = op.getContext();
    auto type = tensorType(op.getResult());
    Value input = adaptor.getInput(), filter = adaptor.getFilter();
    ArrayRef<int64_t> filterShape = tensorType(filter).getShape();
    Type f32 = type.getElementType();

    auto d = [&](unsigned i) { return getAffineDimExpr(i, context); };
    AffineMap identity = AffineMap::getMultiDimIdentityMap(5, context);
    SmallVector<Value> inputs;
    SmallVector<AffineMap> maps;
    if (Value bias = adaptor.getBias()) {
      inputs.push_back(bias);
      maps.push_back(AffineMap::get(5, 0, {d(1), d(4)}, context));
    }
    if (Value residual = adaptor.getResidual()) {
      inputs.push_back(residual);
      maps.push_back(identity);
    }
    maps.push_back(identity);
    bool hasBias = adaptor.getBias() != nullptr;
    bool hasResidual = adaptor.getResidual() != nullptr;
    bool depthwise = op.getDepthwise();
    StringRef activation = op.getActivation();
    double low = op.getClipMin() ? op.getClipMin()->convertToDouble() : 0.0;
    double high = op.getClipMax() ? op.getClipMax()->convertToDouble() : 0.0;

    auto body = [&](OpBuilder &b, Location l, ValueRange args) {
      SmallVector<int64_t> bounds =
          depthwise ? SmallVector<int64_t>{filterShape[1], filterShape[2]}
                    : SmallVector<int64_t>{filterShape[1], filterShape[2],
                                           filterShape[3], filterShape[4]};
      Value v = nchwcReduction(
          b, l, input, bounds, depthwise, op.getStrides(), op.getPads(),
          op.getDilations(), scalarConstant(b, l, f32, 0),
          [&](OpBuilder &lb, Location ll, const NchwcStep &step) {
            Value x = lb.create<arith::SelectOp>(
                ll, step.inside, step.element, scalarConstant(lb, ll, f32, 0));
            Value w = depthwise
                          ? lb.create<tensor::ExtractOp>(
                                ll, filter,
                                ValueRange{step.fb, step.y, step.x, step.f})
                          : lb.create<tensor::ExtractOp>(
                                ll, filter,
                                ValueRange{step.fb, step.cb, step.y, step.x,
                                           step.c, step.f});
            return multiplyAdd(lb, ll, step.carried, x, w);
          });
      unsigned next = 0;
      if (hasBias)
        v = b.create<arith::AddFOp>(l, v, args[next++]);
      if (hasResidual)
        v = b.create<arith::AddFOp>(l, v, args[next++]);
      b.create<linalg::YieldOp>(
          l, applyActivation(b, l, v, activation, low, high));
    };
    auto generic = rewriter.create<linalg::GenericOp>(
        loc, type, inputs, emptyTensor(rewriter, loc, type), maps,
        SmallVector<utils::IteratorType>(5, utils::IteratorType::parallel),
        body);
    // Which optional operands are there, and the epilogue.
    tagNchwcGeneric(
        rewriter, generic, "conv2d_nchwc", op.getStridesAttr(),
        op.getPadsAttr(), op.getDilationsAttr(),
        {
            rewriter.getNamedAttr("bias", rewriter.getBoolAttr(hasBias)),
            rewriter.getNamedAttr("residual",
                                  rewriter.getBoolAttr(hasResidual)),
            rewriter.getNamedAttr("depthwise", rewriter.getBoolAttr(depthwise)),
            rewriter.getNamedAttr("activation",
                                  rewriter.getStringAttr(activation)),
            rewriter.getNamedAttr("min", rewriter.getF32FloatAttr(low)),
            rewriter.getNamedAttr("max", rewriter.getF32FloatAttr(high)),
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

/// kiln.quantized_conv2d_nchwc the same way: inputs filter sums, scales
/// and biases (rows of one operand), read per output channel, and the
/// optional residual. The body computes sum (x - zx) * w in
/// i32 (the padding reads zx) rearranged the way the kernels do, centred
/// bytes summed first and one correction per output:
///   sum (x - 256) * w + (256 - zx) * sums[f],
/// whose correction is never zero, so that the generic keeps the filter
/// sums the kernels need (a zero point of 0 would fold `zx * sums` away,
/// and the operand with it). Then the float epilogue and, for a ui8 result,
/// the rounding to the output's zero point (with a residual: the sum's
/// rounding, the dequantized shortcut added, then the output's).
struct QuantizedConv2DNchwcLowering
    : public OpConversionPattern<QuantizedConv2DNchwcOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(QuantizedConv2DNchwcOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = op.getContext();
    auto type = signless(op.getType());
    Value input = adaptor.getInput(), filter = adaptor.getFilter();
    ArrayRef<int64_t> filterShape = tensorType(filter).getShape();
    Type f32 = rewriter.getF32Type(), i32 = rewriter.getI32Type();
    auto d = [&](unsigned i) { return getAffineDimExpr(i, context); };
    AffineMap perChannel = AffineMap::get(5, 0, {d(1), d(4)}, context);
    AffineMap identity = AffineMap::getMultiDimIdentityMap(5, context);
    // Scale and bias are rows 0 and 1 of one [F/16, 2, 16] operand.
    auto row = [&](int64_t r) {
      return AffineMap::get(
          5, 0, {d(1), getAffineConstantExpr(r, context), d(4)}, context);
    };
    SmallVector<Value> inputs = {adaptor.getFilterSums(),
                                 adaptor.getScaleBias(),
                                 adaptor.getScaleBias()};
    SmallVector<AffineMap> maps = {perChannel, row(0), row(1)};
    if (adaptor.getResidual()) {
      inputs.push_back(adaptor.getResidual());
      maps.push_back(identity);
    }
    maps.push_back(identity);
    bool depthwise = op.getDepthwise();
    bool quantized = op.getOutputZeroPoint().has_value();
    int64_t zx = op.getInputZeroPoint();
    StringRef activation = op.getActivation();
    double low = op.getClipMin() ? op.getClipMin()->convertToDouble() : 0.0;
    double high = op.getClipMax() ? op.getClipMax()->convertToDouble() : 0.0;

    auto body = [&](OpBuilder &b, Location l, ValueRange args) {
      auto i32Constant = [&](OpBuilder &cb, Location cl, int64_t v) {
        return cb.create<arith::ConstantIntOp>(cl, v, 32).getResult();
      };
      auto index = [&](OpBuilder &ib, int64_t v) {
        return ib.create<arith::ConstantIndexOp>(l, v).getResult();
      };
      // Filter [F/16, C/16, KH, KW, 4, 16, 4]: loops over its blocks,
      // window and 16 channels; an image input's [F/16, C, KH, KW/4, 16,
      // 4]: one block, the window (its columns rounded up to 4, zero
      // weights) and C channels.
      bool plain = tensorType(input).getRank() == 4;
      SmallVector<int64_t> bounds =
          depthwise ? SmallVector<int64_t>{filterShape[1], filterShape[2]}
          : plain ? SmallVector<int64_t>{1, filterShape[2], 4 * filterShape[3],
                                         filterShape[1]}
                  : SmallVector<int64_t>{filterShape[1], filterShape[2],
                                         filterShape[3], 16};
      Value sum = nchwcReduction(
          b, l, input, bounds, depthwise, op.getStrides(), op.getPads(),
          op.getDilations(), i32Constant(b, l, 0),
          [&](OpBuilder &lb, Location ll, const NchwcStep &step) {
            Value x = lb.create<arith::ExtUIOp>(ll, i32, step.element);
            x = lb.create<arith::SelectOp>(ll, step.inside, x,
                                           i32Constant(lb, ll, zx));
            x = lb.create<arith::SubIOp>(ll, x, i32Constant(lb, ll, 256));
            Value w;
            if (depthwise) {
              w = lb.create<tensor::ExtractOp>(
                  ll, filter, ValueRange{step.fb, step.y, step.x, step.f});
            } else if (plain) {
              Value group = lb.create<arith::DivUIOp>(ll, step.x, index(lb, 4));
              Value lane = lb.create<arith::RemUIOp>(ll, step.x, index(lb, 4));
              w = lb.create<tensor::ExtractOp>(
                  ll, filter,
                  ValueRange{step.fb, step.c, step.y, group, step.f, lane});
            } else {
              Value group = lb.create<arith::DivUIOp>(ll, step.c, index(lb, 4));
              Value lane = lb.create<arith::RemUIOp>(ll, step.c, index(lb, 4));
              w = lb.create<tensor::ExtractOp>(ll, filter,
                                               ValueRange{step.fb, step.cb,
                                                          step.y, step.x, group,
                                                          step.f, lane});
            }
            w = lb.create<arith::ExtSIOp>(ll, i32, w);
            Value product = lb.create<arith::MulIOp>(ll, x, w);
            return lb.create<arith::AddIOp>(ll, step.carried, product)
                .getResult();
          });
      Value correction =
          b.create<arith::MulIOp>(l, args[0], i32Constant(b, l, 256 - zx));
      sum = b.create<arith::AddIOp>(l, sum, correction);
      Value v = b.create<arith::SIToFPOp>(l, f32, sum);
      v = b.create<arith::MulFOp>(l, v, args[1]);
      v = b.create<arith::AddFOp>(l, v, args[2]);
      unsigned next = 3;
      // roundeven(v) + zero point, clamped to [0, 255].
      auto quantizeToByte = [&](Value x, int64_t zeroPoint) {
        x = b.create<math::RoundEvenOp>(l, x);
        x = b.create<arith::AddFOp>(l, x, scalarConstant(b, l, f32, zeroPoint));
        x = b.create<arith::MaximumFOp>(l, x, scalarConstant(b, l, f32, 0));
        return b.create<arith::MinimumFOp>(l, x, scalarConstant(b, l, f32, 255))
            .getResult();
      };
      if (adaptor.getResidual()) {
        int64_t sumZero = *op.getSumZeroPoint();
        Value sum = b.create<arith::SubFOp>(l, quantizeToByte(v, sumZero),
                                            scalarConstant(b, l, f32, sumZero));
        Value shortcut = b.create<arith::UIToFPOp>(l, f32, args[next++]);
        shortcut = b.create<arith::SubFOp>(
            l, shortcut, scalarConstant(b, l, f32, *op.getResidualZeroPoint()));
        v = b.create<arith::AddFOp>(
            l,
            b.create<arith::MulFOp>(
                l, sum,
                scalarConstant(b, l, f32, op.getSumScale()->convertToDouble())),
            b.create<arith::MulFOp>(
                l, shortcut,
                scalarConstant(b, l, f32,
                               op.getResidualScale()->convertToDouble())));
      }
      v = applyActivation(b, l, v, activation, low, high);
      if (quantized)
        v = b.create<arith::FPToUIOp>(
            l, type.getElementType(),
            quantizeToByte(v, *op.getOutputZeroPoint()));
      b.create<linalg::YieldOp>(l, v);
    };
    auto generic = rewriter.create<linalg::GenericOp>(
        loc, type, inputs, emptyTensor(rewriter, loc, type), maps,
        SmallVector<utils::IteratorType>(5, utils::IteratorType::parallel),
        body);
    tagNchwcGeneric(
        rewriter, generic, "quantized_conv2d_nchwc", op.getStridesAttr(),
        op.getPadsAttr(), op.getDilationsAttr(),
        {
            rewriter.getNamedAttr(
                "residual",
                rewriter.getBoolAttr(adaptor.getResidual() != nullptr)),
            rewriter.getNamedAttr(
                "sum_zero_point",
                rewriter.getI64IntegerAttr(op.getSumZeroPoint().value_or(0))),
            rewriter.getNamedAttr("sum_scale",
                                  rewriter.getF32FloatAttr(
                                      op.getSumScale()
                                          ? op.getSumScale()->convertToDouble()
                                          : 0.0)),
            rewriter.getNamedAttr("residual_zero_point",
                                  rewriter.getI64IntegerAttr(
                                      op.getResidualZeroPoint().value_or(0))),
            rewriter.getNamedAttr(
                "residual_scale",
                rewriter.getF32FloatAttr(
                    op.getResidualScale()
                        ? op.getResidualScale()->convertToDouble()
                        : 0.0)),
            rewriter.getNamedAttr("depthwise", rewriter.getBoolAttr(depthwise)),
            rewriter.getNamedAttr("activation",
                                  rewriter.getStringAttr(activation)),
            rewriter.getNamedAttr("min", rewriter.getF32FloatAttr(low)),
            rewriter.getNamedAttr("max", rewriter.getF32FloatAttr(high)),
            rewriter.getNamedAttr("input_zero_point",
                                  rewriter.getI64IntegerAttr(zx)),
            rewriter.getNamedAttr(
                "output_zero_point",
                rewriter.getI64IntegerAttr(quantized ? *op.getOutputZeroPoint()
                                                     : -1)),
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

struct ConvLowering : public OpConversionPattern<ConvOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConvOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, buildConv(rewriter, op.getLoc(), adaptor.getInput(),
                                     adaptor.getFilter(), adaptor.getBias(),
                                     op.getStrides(), op.getPads(),
                                     op.getDilations(), op.getGroup(),
                                     signless(op.getType())));
    return success();
  }
};

/// A transposed convolution is a stride-1 convolution of the input dilated
/// by the stride and padded by dilation*(kernel-1), with the kernel flipped
/// and its channel dims swapped; the requested pads then crop the result.
struct ConvTransposeLowering : public OpConversionPattern<ConvTransposeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConvTransposeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = getContext();
    Value input = adaptor.getInput(), filter = adaptor.getFilter();
    auto inType = tensorType(input), filterType = tensorType(filter);
    Type element = inType.getElementType();
    int64_t spatial = inType.getRank() - 2;
    int64_t group = op.getGroup();
    int64_t channels = inType.getDimSize(1), cpg = channels / group;
    int64_t fpg = filterType.getDimSize(1), features = fpg * group;
    ArrayRef<int64_t> strides = op.getStrides(), dilations = op.getDilations(),
                      pads = op.getPads(), outPad = op.getOutputPadding();

    // Dilate and pad the input.
    SmallVector<int64_t> dilatedShape(inType.getShape().take_front(2));
    SmallVector<OpFoldResult> offsets(2, rewriter.getIndexAttr(0)), sizes,
        steps(2, rewriter.getIndexAttr(1));
    for (int64_t d = 0; d < 2; ++d)
      sizes.push_back(rewriter.getIndexAttr(inType.getDimSize(d)));
    SmallVector<int64_t> fullOut;
    for (int64_t i = 0; i < spatial; ++i) {
      int64_t k = filterType.getDimSize(2 + i);
      int64_t edge = dilations[i] * (k - 1);
      int64_t in = inType.getDimSize(2 + i);
      dilatedShape.push_back((in - 1) * strides[i] + 1 + 2 * edge + outPad[i]);
      offsets.push_back(rewriter.getIndexAttr(edge));
      sizes.push_back(rewriter.getIndexAttr(in));
      steps.push_back(rewriter.getIndexAttr(strides[i]));
      fullOut.push_back((in - 1) * strides[i] + 1 + edge + outPad[i]);
    }
    auto dilatedType = RankedTensorType::get(dilatedShape, element);
    Value zeros = filledTensor(rewriter, loc, dilatedType,
                               scalarConstant(rewriter, loc, element, 0));
    Value dilated = rewriter.create<tensor::InsertSliceOp>(
        loc, input, zeros, offsets, sizes, steps);

    // Filter C,F/G,K... -> G,F/G,C/G,K... flipped in space.
    SmallVector<int64_t> splitFilter = {group, cpg, fpg};
    llvm::append_range(splitFilter, filterType.getShape().drop_front(2));
    Value grouped = reshapeTensor(rewriter, loc, filter,
                                  RankedTensorType::get(splitFilter, element));
    SmallVector<int64_t> convFilterShape = {group, fpg, cpg};
    llvm::append_range(convFilterShape, filterType.getShape().drop_front(2));
    auto convFilterType = RankedTensorType::get(convFilterShape, element);
    unsigned rank = 3 + spatial;
    auto d = [&](unsigned i) { return getAffineDimExpr(i, context); };
    SmallVector<AffineExpr> readExprs = {d(0), d(2), d(1)};
    for (int64_t i = 0; i < spatial; ++i)
      readExprs.push_back(filterType.getDimSize(2 + i) - 1 - d(3 + i));
    Value flipped =
        rewriter
            .create<linalg::GenericOp>(
                loc, convFilterType, grouped,
                emptyTensor(rewriter, loc, convFilterType),
                ArrayRef<AffineMap>{AffineMap::get(rank, 0, readExprs, context),
                                    rewriter.getMultiDimIdentityMap(rank)},
                SmallVector<utils::IteratorType>(rank,
                                                 utils::IteratorType::parallel),
                [](OpBuilder &b, Location l, ValueRange args) {
                  b.create<linalg::YieldOp>(l, args[0]);
                })
            .getResult(0);
    SmallVector<int64_t> convFilterFlat = {features, cpg};
    llvm::append_range(convFilterFlat, filterType.getShape().drop_front(2));
    Value convFilter = reshapeTensor(
        rewriter, loc, flipped, RankedTensorType::get(convFilterFlat, element));

    SmallVector<int64_t> fullShape = {inType.getDimSize(0), features};
    llvm::append_range(fullShape, fullOut);
    auto fullType = RankedTensorType::get(fullShape, element);
    SmallVector<int64_t> ones(spatial, 1), zeroPads(2 * spatial, 0);
    Value full =
        buildConv(rewriter, loc, dilated, convFilter, adaptor.getBias(), ones,
                  zeroPads, dilations, group, fullType);
    // Crop the pads.
    SmallVector<OpFoldResult> cropOffsets(2, rewriter.getIndexAttr(0)),
        cropSizes, cropSteps(2 + spatial, rewriter.getIndexAttr(1));
    for (int64_t dim : signless(op.getType()).getShape())
      cropSizes.push_back(rewriter.getIndexAttr(dim));
    for (int64_t i = 0; i < spatial; ++i)
      cropOffsets.push_back(rewriter.getIndexAttr(pads[i]));
    Value result = rewriter.create<tensor::ExtractSliceOp>(
        loc, signless(op.getType()), full, cropOffsets, cropSizes, cropSteps);
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void populateContractionPatterns(RewritePatternSet &patterns) {
  patterns.add<MatMulLowering, MatMulPackedLowering, MatMulIntegerLowering,
               GemmLowering, ConvLowering, Conv2DNchwcLowering,
               QuantizedConv2DNchwcLowering, ConvTransposeLowering>(
      patterns.getContext());
}

} // namespace mlir::kiln::lowering
