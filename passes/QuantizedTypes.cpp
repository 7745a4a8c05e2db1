//===- QuantizedTypes.cpp - !quant.uniform helpers for the passes ---------===//

#include "passes/QuantizedTypes.h"

#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;
using namespace mlir::kiln;

quant::QuantizedType mlir::kiln::uniformElementOf(Type type) {
  auto shaped = dyn_cast<ShapedType>(type);
  if (!shaped)
    return nullptr;
  Type element = shaped.getElementType();
  if (isa<quant::UniformQuantizedType, quant::UniformQuantizedPerAxisType>(
          element))
    return cast<quant::QuantizedType>(element);
  return nullptr;
}

quant::UniformQuantizedType mlir::kiln::perTensorElementOf(Type type) {
  return dyn_cast_or_null<quant::UniformQuantizedType>(uniformElementOf(type));
}

IntegerType mlir::kiln::storageIntegerType(quant::QuantizedType type) {
  return IntegerType::get(type.getContext(), type.getStorageTypeIntegralWidth(),
                          type.isSigned() ? IntegerType::Signless
                                          : IntegerType::Unsigned);
}

RankedTensorType mlir::kiln::withElementType(Type type, Type element) {
  return RankedTensorType::get(cast<ShapedType>(type).getShape(), element);
}

namespace {
/// Per-axis values as a [C, 1, ..., 1] constant of `element`; one value as
/// a scalar.
Value parameterConstant(OpBuilder &b, Location loc, quant::QuantizedType type,
                        int64_t rank, ArrayRef<double> values, Type element) {
  SmallVector<int64_t> shape;
  if (auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(type)) {
    shape.assign(rank - perAxis.getQuantizedDimension(), 1);
    shape[0] = values.size();
  }
  auto tensorType = RankedTensorType::get(shape, element);
  DenseElementsAttr attr;
  if (isa<FloatType>(element)) {
    SmallVector<float> floats(values.begin(), values.end());
    attr = DenseElementsAttr::get(tensorType, ArrayRef<float>(floats));
  } else {
    SmallVector<int32_t> ints;
    for (double v : values)
      ints.push_back(static_cast<int32_t>(v));
    attr = DenseElementsAttr::get(tensorType, ArrayRef<int32_t>(ints));
  }
  return b.create<ConstantOp>(loc, attr);
}
} // namespace

Value mlir::kiln::quantizationScales(OpBuilder &b, Location loc,
                                     quant::QuantizedType type, int64_t rank) {
  SmallVector<double> scales;
  if (auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(type))
    scales.assign(perAxis.getScales().begin(), perAxis.getScales().end());
  else
    scales.push_back(cast<quant::UniformQuantizedType>(type).getScale());
  return parameterConstant(b, loc, type, rank, scales, b.getF32Type());
}

Value mlir::kiln::quantizationZeroPoints(OpBuilder &b, Location loc,
                                         quant::QuantizedType type,
                                         int64_t rank, Type zeroPointType) {
  SmallVector<double> zeroPoints;
  if (auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(type))
    for (int64_t z : perAxis.getZeroPoints())
      zeroPoints.push_back(z);
  else
    zeroPoints.push_back(
        cast<quant::UniformQuantizedType>(type).getZeroPoint());
  return parameterConstant(b, loc, type, rank, zeroPoints, zeroPointType);
}
