//===- PassUtilities.cpp - helpers shared by the Kiln passes --------------===//

#include "passes/Passes.h"

using namespace mlir;
using namespace mlir::kiln;

bool mlir::kiln::isCountedContraction(Operation *op) {
  return isa<ConvOp, Conv2DNchwcOp, QuantizedConv2DNchwcOp, ConvTransposeOp,
             MatMulOp, MatMulPackedOp, MatMulIntegerOp, GemmOp>(op);
}

int64_t mlir::kiln::elementByteSize(Type type) {
  unsigned bits = type.getIntOrFloatBitWidth();
  return bits < 8 ? 1 : bits / 8;
}

int64_t mlir::kiln::tensorByteSize(RankedTensorType type) {
  return type.getNumElements() * elementByteSize(type.getElementType());
}

std::optional<ConstantTensor> mlir::kiln::constantOf(Value value) {
  auto constant = value ? value.getDefiningOp<ConstantOp>() : ConstantOp();
  if (!constant)
    return std::nullopt;
  return ConstantTensor::fromAttr(constant.getValue());
}

std::optional<std::vector<float>> mlir::kiln::floatValues(Value value) {
  auto constant = value ? value.getDefiningOp<ConstantOp>() : ConstantOp();
  auto dense =
      constant ? dyn_cast<DenseElementsAttr>(constant.getValue()) : nullptr;
  if (!dense)
    return std::nullopt;
  if (dense.getElementType().isF32()) {
    auto values = dense.getValues<float>();
    return std::vector<float>(values.begin(), values.end());
  }
  if (!dense.getElementType().isF16())
    return std::nullopt;
  // fp16 weights (kiln-store-weights-f16): widening is exact.
  std::vector<float> values;
  values.reserve(dense.getNumElements());
  for (const APFloat &half : dense.getValues<APFloat>())
    values.push_back(half.convertToFloat());
  return values;
}

DenseElementsAttr mlir::kiln::floatAttr(ArrayRef<int64_t> shape,
                                        ArrayRef<float> values, Type element) {
  auto type = RankedTensorType::get(shape, element);
  if (element.isF32())
    return DenseElementsAttr::get(type, values);
  assert(element.isF16() && "weights are f32 or f16");
  std::vector<uint16_t> bits(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    bits[i] = halfBits(values[i]);
  return DenseElementsAttr::getFromRawBuffer(
      type, ArrayRef<char>(reinterpret_cast<const char *>(bits.data()),
                           bits.size() * sizeof(uint16_t)));
}

uint16_t mlir::kiln::halfBits(float value) {
  APFloat half(value);
  bool losesInfo;
  half.convert(APFloat::IEEEhalf(), APFloat::rmNearestTiesToEven, &losesInfo);
  return half.bitcastToAPInt().getZExtValue();
}

void mlir::kiln::collectNodeNames(Location loc,
                                  SmallVectorImpl<StringRef> &names) {
  if (auto name = dyn_cast<NameLoc>(loc)) {
    if (!llvm::is_contained(names, name.getName().strref()))
      names.push_back(name.getName().strref());
    return;
  }
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      collectNodeNames(inner, names);
}
