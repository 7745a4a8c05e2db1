//===- KilnToLinalg.cpp - Kiln -> linalg conversion pass
//-------------------===//
//
// The pass and the shared helpers; the op families are lowered in
// Lower*.cpp beside this file.
//
//===----------------------------------------------------------------------===//

#include "passes/KilnToLinalg/LoweringUtils.h"

#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/Transforms/DialectConversion.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

namespace mlir::kiln {
#define GEN_PASS_DEF_CONVERTKILNTOLINALG
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace mlir::kiln::lowering {

Type signless(Type type) {
  if (auto integer = dyn_cast<IntegerType>(type))
    return integer.isSignless()
               ? type
               : IntegerType::get(type.getContext(), integer.getWidth());
  if (auto tensor = dyn_cast<RankedTensorType>(type))
    return signless(tensor);
  return type;
}

RankedTensorType signless(RankedTensorType type) {
  return type.clone(signless(type.getElementType()));
}

Value scalarConstant(OpBuilder &b, Location loc, Type type, double value) {
  if (auto floatType = dyn_cast<FloatType>(type))
    return b.create<arith::ConstantOp>(loc, b.getFloatAttr(floatType, value));
  return b.create<arith::ConstantOp>(loc,
                                     b.getIntegerAttr(type, (int64_t)value));
}

Value lowestConstant(OpBuilder &b, Location loc, Type type, bool highest,
                     bool isUnsigned) {
  if (auto floatType = dyn_cast<FloatType>(type))
    return b.create<arith::ConstantOp>(
        loc,
        b.getFloatAttr(floatType, APFloat::getInf(floatType.getFloatSemantics(),
                                                  /*Negative=*/!highest)));
  unsigned width = type.getIntOrFloatBitWidth();
  APInt v = isUnsigned ? (highest ? APInt::getMaxValue(width)
                                  : APInt::getMinValue(width))
            : highest  ? APInt::getSignedMaxValue(width)
                       : APInt::getSignedMinValue(width);
  if (width == 1)
    v = APInt(1, highest ? 1 : 0);
  return b.create<arith::ConstantOp>(loc, b.getIntegerAttr(type, v));
}

Value emptyTensor(OpBuilder &b, Location loc, RankedTensorType type) {
  return b.create<tensor::EmptyOp>(loc, type.getShape(), type.getElementType());
}

Value filledTensor(OpBuilder &b, Location loc, RankedTensorType type,
                   Value value) {
  return b.create<linalg::FillOp>(loc, value, emptyTensor(b, loc, type))
      .getResult(0);
}

AffineMap broadcastMap(MLIRContext *context, ArrayRef<int64_t> operandShape,
                       ArrayRef<int64_t> resultShape) {
  SmallVector<AffineExpr> exprs;
  size_t offset = resultShape.size() - operandShape.size();
  for (size_t i = 0; i < operandShape.size(); ++i) {
    bool broadcast = operandShape[i] == 1 && resultShape[offset + i] != 1;
    exprs.push_back(broadcast ? getAffineConstantExpr(0, context)
                              : getAffineDimExpr(offset + i, context));
  }
  return AffineMap::get(resultShape.size(), 0, exprs, context);
}

Value elementwise(OpBuilder &b, Location loc, RankedTensorType resultType,
                  ValueRange inputs, ScalarBuilder body) {
  MLIRContext *context = b.getContext();
  SmallVector<AffineMap> maps;
  for (Value input : inputs)
    maps.push_back(broadcastMap(
        context, cast<RankedTensorType>(input.getType()).getShape(),
        resultType.getShape()));
  maps.push_back(b.getMultiDimIdentityMap(resultType.getRank()));
  SmallVector<utils::IteratorType> iterators(resultType.getRank(),
                                             utils::IteratorType::parallel);
  return b
      .create<linalg::GenericOp>(
          loc, resultType, inputs, emptyTensor(b, loc, resultType), maps,
          iterators,
          [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
            Value result = body(nested, nestedLoc, args.drop_back());
            nested.create<linalg::YieldOp>(nestedLoc, result);
          })
      .getResult(0);
}

Value padTensor(OpBuilder &b, Location loc, RankedTensorType type, Value input,
                ArrayRef<int64_t> low, ArrayRef<int64_t> high, Value value) {
  SmallVector<OpFoldResult> lowSizes, highSizes;
  for (int64_t v : low)
    lowSizes.push_back(b.getIndexAttr(v));
  for (int64_t v : high)
    highSizes.push_back(b.getIndexAttr(v));
  return b.create<tensor::PadOp>(loc, type, input, lowSizes, highSizes, value,
                                 /*nofold=*/false);
}

Value reshapeTensor(OpBuilder &b, Location loc, Value value,
                    RankedTensorType type) {
  auto source = cast<RankedTensorType>(value.getType());
  if (source == type)
    return value;
  if (source.getRank() == 0 || type.getRank() == 0) {
    // One side has only unit dims: no reassociation groups are needed.
    if (source.getRank() == 0)
      return b.create<tensor::ExpandShapeOp>(loc, type, value,
                                             ArrayRef<ReassociationIndices>{});
    return b.create<tensor::CollapseShapeOp>(loc, type, value,
                                             ArrayRef<ReassociationIndices>{});
  }
  auto flatType =
      RankedTensorType::get({source.getNumElements()}, source.getElementType());
  ReassociationIndices all;
  for (int64_t d = 0; d < source.getRank(); ++d)
    all.push_back(d);
  Value flat = source.getRank() == 1 ? value
                                     : b.create<tensor::CollapseShapeOp>(
                                           loc, flatType, value,
                                           ArrayRef<ReassociationIndices>{all});
  if (type.getRank() == 1)
    return flat;
  ReassociationIndices target;
  for (int64_t d = 0; d < type.getRank(); ++d)
    target.push_back(d);
  return b.create<tensor::ExpandShapeOp>(
      loc, type, flat, ArrayRef<ReassociationIndices>{target});
}

Value reduce(OpBuilder &b, Location loc, Value input, ArrayRef<int64_t> axes,
             Value init, ScalarBuilder combine) {
  auto inType = cast<RankedTensorType>(input.getType());
  MLIRContext *context = b.getContext();
  SmallVector<int64_t> shape;
  SmallVector<AffineExpr> outExprs;
  SmallVector<utils::IteratorType> iterators;
  for (int64_t d = 0; d < inType.getRank(); ++d) {
    bool reduced = llvm::is_contained(axes, d);
    iterators.push_back(reduced ? utils::IteratorType::reduction
                                : utils::IteratorType::parallel);
    if (!reduced) {
      shape.push_back(inType.getDimSize(d));
      outExprs.push_back(getAffineDimExpr(d, context));
    }
  }
  auto outType = RankedTensorType::get(shape, inType.getElementType());
  Value filled = filledTensor(b, loc, outType, init);
  SmallVector<AffineMap> maps = {
      b.getMultiDimIdentityMap(inType.getRank()),
      AffineMap::get(inType.getRank(), 0, outExprs, context)};
  return b
      .create<linalg::GenericOp>(
          loc, outType, input, filled, maps, iterators,
          [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
            Value combined = combine(nested, nestedLoc, args);
            // A float reduction may be reassociated, so that LLVM keeps
            // partial results in vector lanes instead of adding one element
            // at a time (a softmax row of 128: 4x faster). ONNX fixes no
            // summation order; other runtimes sum in vector lanes too.
            if (auto fastMath =
                    combined.getDefiningOp<arith::ArithFastMathInterface>())
              fastMath->setAttr(
                  fastMath.getFastMathAttrName(),
                  arith::FastMathFlagsAttr::get(nested.getContext(),
                                                arith::FastMathFlags::reassoc));
            nested.create<linalg::YieldOp>(nestedLoc, combined);
          })
      .getResult(0);
}

} // namespace mlir::kiln::lowering

namespace {
struct ConvertKilnToLinalgPass
    : public mlir::kiln::impl::ConvertKilnToLinalgBase<
          ConvertKilnToLinalgPass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    TypeConverter signlessTypes;
    signlessTypes.addConversion(
        [](Type type) { return lowering::signless(type); });
    ConversionTarget target(*context);
    target.addLegalDialect<linalg::LinalgDialect, tensor::TensorDialect,
                           arith::ArithDialect, math::MathDialect,
                           scf::SCFDialect>();
    target.addIllegalDialect<KilnDialect>();
    target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp func) {
      return signlessTypes.isSignatureLegal(func.getFunctionType());
    });
    target.addDynamicallyLegalOp<func::ReturnOp>([&](func::ReturnOp ret) {
      return signlessTypes.isLegal(ret.getOperandTypes());
    });
    RewritePatternSet patterns(context);
    populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(
        patterns, signlessTypes);
    populateReturnOpTypeConversionPattern(patterns, signlessTypes);
    lowering::populateElementwisePatterns(patterns);
    lowering::populateContractionPatterns(patterns);
    lowering::populateReductionPatterns(patterns);
    lowering::populateDataMovementPatterns(patterns);
    if (failed(
            applyFullConversion(getOperation(), target, std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
