//===- PassUtilities.cpp - helpers shared by the Kiln passes --------------===//

#include "passes/Passes.h"

using namespace mlir;
using namespace mlir::kiln;

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
  if (!dense || !dense.getElementType().isF32())
    return std::nullopt;
  auto values = dense.getValues<float>();
  return std::vector<float>(values.begin(), values.end());
}

DenseElementsAttr mlir::kiln::floatAttr(ArrayRef<int64_t> shape,
                                        ArrayRef<float> values,
                                        MLIRContext *context) {
  auto type = RankedTensorType::get(shape, Float32Type::get(context));
  return DenseElementsAttr::get(type, values);
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
