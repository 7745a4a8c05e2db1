//===- ImportQuantization.cpp - QDQ and integer ops, reference-correct
//-----===//
//
// The ONNX quantization family as compositions of Kiln ops. Integer
// products accumulate in i32 exactly as the spec says; requantization scales
// in f32 and rounds half to even. Matrix products keep their 8-bit operands
// (kiln.matmul_integer), which the CPU targets run with an int8 microkernel
// (sdot on ARMv8.2-A); integer convolutions widen to i32 first.
// QuantizeLinear and DequantizeLinear with constant parameters (QDQ models)
// become kiln.quantize/kiln.dequantize on !quant.uniform tensors, which the
// quantize phase turns into integer ops.
//
//===----------------------------------------------------------------------===//

#include "compiler/import/onnx/NodeImporter.h"

using namespace mlir;
using mlir::kiln::ConstantTensor;
namespace k = mlir::kiln;

namespace kiln::onnx_import {
namespace {

/// A per-axis parameter ([C]) reshaped to broadcast along `axis` of a
/// tensor of `rank`; scalars are returned as they are.
FailureOr<Value> alongAxis(NodeImporter &n, Value parameter, int64_t axis,
                           int64_t rank) {
  auto type = typeOf(parameter);
  if (type.getNumElements() == 1 && type.getRank() <= 1)
    return n.reshape(parameter, {});
  if (type.getRank() != 1)
    return n.error("per-axis scale and zero point must be 1-D");
  if (axis < 0)
    axis += rank;
  SmallVector<int64_t> shape(rank - axis, 1);
  shape[0] = type.getDimSize(0);
  return n.reshape(parameter, shape);
}

/// saturate(round(x / scale) + zero_point) into `element`'s range.
FailureOr<Value> quantize(NodeImporter &n, Value x, Value scale,
                          Value zeroPoint, Type element) {
  Type f32 = typeOf(x).getElementType();
  auto integer = cast<IntegerType>(element);
  double lo =
      integer.isUnsigned() ? 0 : -std::ldexp(1.0, integer.getWidth() - 1);
  double hi = integer.isUnsigned()
                  ? std::ldexp(1.0, integer.getWidth()) - 1
                  : std::ldexp(1.0, integer.getWidth() - 1) - 1;
  KILN_TRY(scaled, n.create<k::DivOp>(x, scale));
  KILN_TRY(rounded, n.createTyped<k::RoundOp>(scaled.getType(), scaled));
  Value shifted = rounded;
  if (zeroPoint) {
    KILN_TRY(zp, n.castElements(zeroPoint, f32));
    KILN_TRY(sum, n.create<k::AddOp>(rounded, zp));
    shifted = sum;
  }
  KILN_TRY(clipped, n.createTyped<k::ClipOp>(shifted.getType(), shifted,
                                             n.builder.getF64FloatAttr(lo),
                                             n.builder.getF64FloatAttr(hi)));
  return n.castElements(clipped, element);
}

/// (x - zero_point) as i32 (zero point optional, broadcast along `axis`).
FailureOr<Value> centered(NodeImporter &n, Value x, Value zeroPoint) {
  Type i32 = n.builder.getIntegerType(32);
  KILN_TRY(wide, n.castElements(x, i32));
  if (!zeroPoint)
    return wide;
  KILN_TRY(zp, n.castElements(zeroPoint, i32));
  return n.create<k::SubOp>(wide, zp);
}

/// The !quant.uniform type of the values QuantizeLinear writes or
/// DequantizeLinear reads, when the scale and zero point are constants
/// (always, in QDQ models): `storage` is the ONNX integer type, the
/// parameters per tensor or along `axis`. Null when they are not constants
/// or not a valid uniform type (the node is then imported as arithmetic).
quant::QuantizedType uniformType(NodeImporter &n, Type storage, int64_t axis,
                                 int64_t rank) {
  auto integer = dyn_cast<IntegerType>(storage);
  auto scale = n.constantInput(1);
  if (!integer || (integer.getWidth() != 8 && integer.getWidth() != 32) ||
      !scale || !scale->isFloat() || !scale->getType().getElementType().isF32())
    return nullptr;
  std::optional<ConstantTensor> zeroPoint;
  if (n.hasInput(2)) {
    zeroPoint = n.constantInput(2);
    if (!zeroPoint || zeroPoint->size() != scale->size())
      return nullptr;
  }
  SmallVector<double> scales;
  SmallVector<int64_t> zeroPoints;
  for (int64_t i = 0; i < scale->size(); ++i) {
    double s = scale->getFloat(i);
    if (!(s > 0) || !std::isfinite(s))
      return nullptr;
    scales.push_back(s);
    zeroPoints.push_back(zeroPoint ? zeroPoint->getInt(i) : 0);
  }
  bool isSigned = !integer.isUnsigned();
  unsigned width = integer.getWidth();
  Type storageType = n.builder.getIntegerType(width);
  Type f32 = n.builder.getF32Type();
  int64_t min =
      quant::QuantizedType::getDefaultMinimumForInteger(isSigned, width);
  int64_t max =
      quant::QuantizedType::getDefaultMaximumForInteger(isSigned, width);
  unsigned flags = isSigned ? quant::QuantizationFlags::Signed : 0;
  if (llvm::any_of(zeroPoints, [&](int64_t z) { return z < min || z > max; }))
    return nullptr;
  if (scale->getType().getRank() == 0 ||
      (scale->size() == 1 && scale->getType().getRank() == 1))
    return quant::UniformQuantizedType::get(flags, storageType, f32, scales[0],
                                            zeroPoints[0], min, max);
  if (axis < 0)
    axis += rank;
  if (scale->getType().getRank() != 1 || axis < 0 || axis >= rank)
    return nullptr;
  return quant::UniformQuantizedPerAxisType::get(
      flags, storageType, f32, scales, zeroPoints, axis, min, max);
}

/// `type` with the element type `element`.
RankedTensorType withElement(RankedTensorType type, Type element) {
  return RankedTensorType::get(type.getShape(), element);
}

LogicalResult importQuantizeLinear(NodeImporter &n) {
  if (failed(n.expectInputs(2, 3)))
    return failure();
  {
    Type storage = n.hasInput(2) ? n.inputType(2).getElementType()
                                 : n.builder.getIntegerType(8, false);
    RankedTensorType inputType = n.inputType(0);
    if (auto quantized =
            uniformType(n, storage, n.attrInt("axis", 1), inputType.getRank());
        quantized && inputType.getElementType().isF32()) {
      KILN_TRY(q, n.createTyped<k::QuantizeOp>(
                      withElement(inputType, quantized), n.input(0)));
      KILN_TRY(integers, n.createTyped<k::StorageCastOp>(
                             withElement(inputType, storage), q));
      n.setOutput(0, integers);
      return success();
    }
  }
  int64_t rank = n.inputType(0).getRank();
  int64_t axis = n.attrInt("axis", 1);
  KILN_TRY(scale, alongAxis(n, n.input(1), axis, rank));
  Value zeroPoint;
  Type element = n.builder.getIntegerType(8, /*isSigned=*/false);
  if (n.hasInput(2)) {
    KILN_TRY(zp, alongAxis(n, n.input(2), axis, rank));
    zeroPoint = zp;
    element = n.inputType(2).getElementType();
  }
  Value x = n.input(0);
  if (n.inputType(0).getElementType() != typeOf(scale).getElementType()) {
    KILN_TRY(wide, n.castElements(x, typeOf(scale).getElementType()));
    x = wide;
  }
  KILN_TRY(result, quantize(n, x, scale, zeroPoint, element));
  n.setOutput(0, result);
  return success();
}

LogicalResult importDequantizeLinear(NodeImporter &n) {
  if (failed(n.expectInputs(2, 3)))
    return failure();
  {
    RankedTensorType inputType = n.inputType(0);
    if (auto quantized =
            uniformType(n, inputType.getElementType(), n.attrInt("axis", 1),
                        inputType.getRank())) {
      KILN_TRY(q, n.createTyped<k::StorageCastOp>(
                      withElement(inputType, quantized), n.input(0)));
      KILN_TRY(real, n.createTyped<k::DequantizeOp>(
                         withElement(inputType, n.builder.getF32Type()), q));
      n.setOutput(0, real);
      return success();
    }
  }
  int64_t rank = n.inputType(0).getRank();
  int64_t axis = n.attrInt("axis", 1);
  KILN_TRY(scale, alongAxis(n, n.input(1), axis, rank));
  Type f32 = typeOf(scale).getElementType();
  Value zeroPoint;
  if (n.hasInput(2)) {
    KILN_TRY(zp, alongAxis(n, n.input(2), axis, rank));
    zeroPoint = zp;
  }
  KILN_TRY(shifted, centered(n, n.input(0), zeroPoint));
  KILN_TRY(real, n.castElements(shifted, f32));
  KILN_TRY(result, n.create<k::MulOp>(real, scale));
  n.setOutput(0, result);
  return success();
}

/// y = quantize(x) with scale and zero point from x's range (including 0).
LogicalResult importDynamicQuantizeLinear(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  Value x = n.input(0);
  Type f32 = n.inputType(0).getElementType();
  SmallVector<int64_t> all;
  for (int64_t d = 0; d < n.inputType(0).getRank(); ++d)
    all.push_back(d);
  Value zero = n.splat(f32, 0);
  KILN_TRY(minimum, n.create<k::ReduceMinOp>(x, all, false));
  KILN_TRY(maximum, n.create<k::ReduceMaxOp>(x, all, false));
  KILN_TRY(low, n.create<k::MinOp>(minimum, zero));
  KILN_TRY(high, n.create<k::MaxOp>(maximum, zero));
  KILN_TRY(range, n.create<k::SubOp>(high, low));
  KILN_TRY(scale, n.create<k::DivOp>(range, n.splat(f32, 255)));
  KILN_TRY(negLow, n.createTyped<k::NegOp>(low.getType(), low));
  Type u8 = n.builder.getIntegerType(8, /*isSigned=*/false);
  KILN_TRY(zeroPoint, quantize(n, negLow, scale, Value(), u8));
  KILN_TRY(y, quantize(n, x, scale, zeroPoint, u8));
  n.setOutput(0, y);
  n.setOutput(1, scale);
  n.setOutput(2, zeroPoint);
  return success();
}

/// The i32 zero point kiln.matmul_integer takes for optional input `index`
/// of a MatMulInteger-like node: 0 when absent, a scalar when it has one
/// element, else the 1-D per-row (lhs) or per-column (rhs) vector.
FailureOr<Value> matmulZeroPoint(NodeImporter &n, unsigned index) {
  Type i32 = n.builder.getIntegerType(32);
  if (!n.hasInput(index))
    return n.splat(i32, 0);
  Value zeroPoint = n.input(index);
  if (n.inputType(index).getNumElements() == 1) {
    KILN_TRY(scalar, n.reshape(zeroPoint, {}));
    zeroPoint = scalar;
  }
  return n.castElements(zeroPoint, i32);
}

/// (a - a_zero) x (b - b_zero) in i32 from the inputs at a, b and their
/// zero points.
FailureOr<Value> integerMatMul(NodeImporter &n, unsigned a, unsigned aZero,
                               unsigned b, unsigned bZero) {
  for (unsigned index : {a, b})
    if (!n.inputType(index).getElementType().isInteger(8))
      return n.error("input " + std::to_string(index) +
                     " must be int8 or uint8");
  KILN_TRY(aZeroPoint, matmulZeroPoint(n, aZero));
  KILN_TRY(bZeroPoint, matmulZeroPoint(n, bZero));
  return n.create<k::MatMulIntegerOp>(n.input(a), n.input(b), aZeroPoint,
                                      bZeroPoint);
}

LogicalResult importMatMulInteger(NodeImporter &n) {
  if (failed(n.expectInputs(2, 4)))
    return failure();
  KILN_TRY(result, integerMatMul(n, 0, 2, 1, 3));
  n.setOutput(0, result);
  return success();
}

LogicalResult importConvInteger(NodeImporter &n) {
  if (failed(n.expectInputs(2, 4)))
    return failure();
  Value xZero, wZero;
  if (n.hasInput(2)) {
    KILN_TRY(zp, n.reshape(n.input(2), {}));
    xZero = zp;
  }
  if (n.hasInput(3)) {
    int64_t rank = n.inputType(1).getRank();
    KILN_TRY(zp, alongAxis(n, n.input(3), 0, rank));
    wZero = zp;
  }
  KILN_TRY(x, centered(n, n.input(0), xZero));
  KILN_TRY(w, centered(n, n.input(1), wZero));
  KILN_TRY(result, convolution(n, x, w, Value()));
  n.setOutput(0, result);
  return success();
}

/// requantize(acc) = saturate(round(acc * sa * sb / sy) + zy)
FailureOr<Value> requantize(NodeImporter &n, Value accumulator, Value aScale,
                            Value bScale, Value yScale, Value yZero) {
  Type f32 = typeOf(aScale).getElementType();
  KILN_TRY(real, n.castElements(accumulator, f32));
  KILN_TRY(scaledA, n.create<k::MulOp>(real, aScale));
  KILN_TRY(scaled, n.create<k::MulOp>(scaledA, bScale));
  return quantize(n, scaled, yScale, yZero, typeOf(yZero).getElementType());
}

LogicalResult importQLinearMatMul(NodeImporter &n) {
  if (failed(n.expectInputs(8, 8)))
    return failure();
  KILN_TRY(acc, integerMatMul(n, 0, 2, 3, 5));
  KILN_TRY(result,
           requantize(n, acc, n.input(1), n.input(4), n.input(6), n.input(7)));
  n.setOutput(0, result);
  return success();
}

LogicalResult importQLinearConv(NodeImporter &n) {
  if (failed(n.expectInputs(8, 9)))
    return failure();
  int64_t rank = n.inputType(3).getRank();
  KILN_TRY(xZero, n.reshape(n.input(2), {}));
  KILN_TRY(wZero, alongAxis(n, n.input(5), 0, rank));
  KILN_TRY(wScale, alongAxis(n, n.input(4), 0, rank - 1));
  KILN_TRY(x, centered(n, n.input(0), xZero));
  KILN_TRY(w, centered(n, n.input(3), wZero));
  KILN_TRY(acc, convolution(n, x, w, n.hasInput(8) ? n.input(8) : Value()));
  KILN_TRY(result,
           requantize(n, acc, n.input(1), wScale, n.input(6), n.input(7)));
  n.setOutput(0, result);
  return success();
}

} // namespace

void registerQuantizationOps(OpTable &t) {
  const char *reference =
      "reference-correct (i32 accumulation, f32 requantization)";
  const char *int8Kernel = "int8 microkernel (vpmaddwd on x86_64-avx2, sdot "
                           "on aarch64-neon-dotprod-fp16)";
  const char *qdq = "constant parameters: the quantize phase runs the ops "
                    "between DequantizeLinear and QuantizeLinear on integers "
                    "where it can (MatMul, Gemm, moves, MaxPool); otherwise "
                    "reference-correct";
  t["QuantizeLinear"] = {importQuantizeLinear, 10, qdq};
  t["DequantizeLinear"] = {importDequantizeLinear, 10, qdq};
  t["DynamicQuantizeLinear"] = {importDynamicQuantizeLinear, 11, reference};
  t["MatMulInteger"] = {importMatMulInteger, 10, int8Kernel};
  t["ConvInteger"] = {importConvInteger, 10, reference};
  t["QLinearMatMul"] = {importQLinearMatMul, 10, int8Kernel};
  t["QLinearConv"] = {importQLinearConv, 10, reference};
}

} // namespace kiln::onnx_import
