//===- ConstantTensor.h - compile-time tensor evaluation ---------*- C++
//-*-===//
//
// A decoded DenseElementsAttr for compile-time evaluation: folders, the
// importer's shape arithmetic and weight rewrites (batch-norm folding) all
// compute through it. Floats are held as double and integers as int64, which
// is exact for every element type Kiln folds.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_DIALECTS_KILN_IR_CONSTANTTENSOR_H
#define KILN_DIALECTS_KILN_IR_CONSTANTTENSOR_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <optional>
#include <vector>

namespace mlir::kiln {

class ConstantTensor {
public:
  /// Decodes `attr` when it is a DenseElementsAttr of a supported type.
  static std::optional<ConstantTensor> fromAttr(Attribute attr);
  /// A zero tensor of `type`.
  explicit ConstantTensor(RankedTensorType type);

  RankedTensorType getType() const { return type; }
  ArrayRef<int64_t> getShape() const { return type.getShape(); }
  int64_t size() const { return type.getNumElements(); }
  bool isFloat() const { return isa<FloatType>(type.getElementType()); }

  double getFloat(int64_t i) const { return isFloat() ? floats[i] : ints[i]; }
  int64_t getInt(int64_t i) const {
    return isFloat() ? (int64_t)floats[i] : ints[i];
  }
  void set(int64_t i, double v) {
    if (isFloat())
      floats[i] = v;
    else
      ints[i] = (int64_t)v;
  }
  void setInt(int64_t i, int64_t v) {
    if (isFloat())
      floats[i] = (double)v;
    else
      ints[i] = v;
  }
  /// Copies element `from` of `source` (same element kind) to element `to`.
  void copyElement(int64_t to, const ConstantTensor &source, int64_t from) {
    if (isFloat())
      floats[to] = source.getFloat(from);
    else
      ints[to] = source.getInt(from);
  }

  /// Same elements, new type (reshape, or a cast when `type`'s element type
  /// differs: values are converted with ONNX Cast semantics).
  ConstantTensor withType(RankedTensorType newType) const;
  DenseElementsAttr toAttr() const;

  /// Builds a tensor of `type` whose element at each multi-index `index` is
  /// element `sourceIndex(index)` of `source` (transpose, slice, broadcast,
  /// gather, concat are all this).
  static ConstantTensor
  gather(RankedTensorType type, const ConstantTensor &source,
         function_ref<int64_t(ArrayRef<int64_t> index)> sourceIndex);

  /// Row-major strides of `shape`.
  static SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape);
  /// Linear index into `shape` (broadcast from the right) of the result
  /// position `index`.
  static int64_t broadcastIndex(ArrayRef<int64_t> shape,
                                ArrayRef<int64_t> index);

private:
  RankedTensorType type;
  std::vector<double> floats;
  std::vector<int64_t> ints;
};

} // namespace mlir::kiln

#endif // KILN_DIALECTS_KILN_IR_CONSTANTTENSOR_H
