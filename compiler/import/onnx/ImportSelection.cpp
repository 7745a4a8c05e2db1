//===- ImportSelection.cpp - TopK, Compress and MaxUnpool -----------------===//
//
// Ops that pick or place elements by position. Their output shapes are
// static once K, the condition or the output shape is known at compile
// time; the picking itself is gathers and scatters of Kiln ops.
//
//===----------------------------------------------------------------------===//

#include "compiler/import/onnx/NodeImporter.h"

using namespace mlir;
using mlir::kiln::ConstantTensor;
namespace k = mlir::kiln;

namespace kiln::onnx_import {
namespace {

/// `value` with dims `a` and `b` swapped (itself when a == b).
FailureOr<Value> swapDims(NodeImporter &n, Value value, int64_t a, int64_t b) {
  if (a == b)
    return value;
  SmallVector<int64_t> perm;
  for (int64_t d = 0; d < typeOf(value).getRank(); ++d)
    perm.push_back(d);
  std::swap(perm[a], perm[b]);
  return n.create<k::TransposeOp>(value, perm);
}

/// TopK by ranking: element i's rank along the axis is the number of
/// elements that come before it (larger, or equal and earlier; smaller for
/// largest=0), and output p is the element of rank p. That is an N x N
/// comparison per row, cheap for the K-of-a-few-thousand uses in detection
/// and sampling heads, and it keeps equal values in index order.
LogicalResult importTopK(NodeImporter &n) {
  if (failed(n.expectInputs(n.opset >= 10 ? 2 : 1, n.opset >= 10 ? 2 : 1)))
    return failure();
  Value x = n.input(0);
  auto type = typeOf(x);
  int64_t rank = type.getRank();
  int64_t axis = n.attrInt("axis", -1);
  if (failed(n.normalizeAxis(axis, rank)))
    return failure();
  int64_t count;
  if (n.opset >= 10) {
    auto given = n.constantInts(1, "K");
    if (failed(given))
      return failure();
    if (given->size() != 1)
      return n.error("K must have one element");
    count = given->front();
  } else {
    count = n.attrInt("k", -1);
  }
  int64_t length = type.getDimSize(axis);
  if (count < 0 || count > length)
    return n.error("K = " + std::to_string(count) + " is outside [0, " +
                   std::to_string(length) + "]");
  bool largest = n.opset < 11 || n.attrInt("largest", 1) != 0;
  n.attrInt("sorted", 1); // the outputs are always sorted
  int64_t last = rank - 1;
  KILN_TRY(row, swapDims(n, x, axis, last));
  SmallVector<int64_t> shape(typeOf(row).getShape());
  SmallVector<int64_t> asColumn(shape), asRow(shape);
  asColumn.push_back(1);
  asRow.insert(asRow.end() - 1, 1);
  KILN_TRY(self, n.reshape(row, asColumn)); // [..., i, 1]
  KILN_TRY(other, n.reshape(row, asRow));   // [..., 1, j]
  Value beats;
  if (largest) {
    KILN_TRY(greater, n.create<k::GreaterOp>(other, self));
    beats = greater;
  } else {
    KILN_TRY(less, n.create<k::LessOp>(other, self));
    beats = less;
  }
  ConstantTensor earlier(
      RankedTensorType::get({length, length}, n.builder.getI1Type()));
  for (int64_t i = 0; i < length; ++i)
    for (int64_t j = 0; j < length; ++j)
      earlier.setInt(i * length + j, j < i);
  KILN_TRY(equal, n.create<k::EqualOp>(other, self));
  KILN_TRY(tie, n.create<k::AndOp>(equal, n.constant(earlier.toAttr())));
  KILN_TRY(before, n.create<k::OrOp>(beats, tie));
  Type i64 = n.builder.getIntegerType(64);
  KILN_TRY(counted, n.castElements(before, i64));
  KILN_TRY(ranks, n.create<k::ReduceSumOp>(counted, ArrayRef<int64_t>{rank},
                                           false)); // [..., N]
  KILN_TRY(ranksAsRow, n.reshape(ranks, asRow));    // [..., 1, N]
  KILN_TRY(hit, n.create<k::EqualOp>(ranksAsRow,
                                     n.iota(rank + 1, rank - 1, count)));
  KILN_TRY(positions, n.create<k::WhereOp>(hit, n.iota(rank + 1, rank, length),
                                           n.splat(i64, 0))); // [..., K, N]
  KILN_TRY(indices,
           n.create<k::ReduceSumOp>(positions, ArrayRef<int64_t>{rank}, false));
  KILN_TRY(values,
           n.create<k::GatherElementsOp>(row, indices, (uint64_t)last));
  KILN_TRY(valuesOut, swapDims(n, values, axis, last));
  KILN_TRY(indicesOut, swapDims(n, indices, axis, last));
  n.setOutput(0, valuesOut);
  n.setOutput(1, indicesOut);
  return success();
}

/// Compress with a compile-time condition: a gather of the selected
/// positions (of the flattened input when there is no axis).
LogicalResult importCompress(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  auto condition = n.constantInput(1);
  if (!condition)
    return n.notKnownAtCompileTime(1, "condition");
  Value x = n.input(0);
  int64_t axis = 0;
  if (n.hasAttr("axis")) {
    axis = n.attrInt("axis", 0);
    if (failed(n.normalizeAxis(axis, n.inputType(0).getRank())))
      return failure();
  } else {
    KILN_TRY(flat, n.reshape(x, {n.inputType(0).getNumElements()}));
    x = flat;
  }
  int64_t length = typeOf(x).getDimSize(axis);
  if (condition->size() > length)
    return n.error("condition has " + std::to_string(condition->size()) +
                   " entries for an axis of " + std::to_string(length));
  SmallVector<int64_t> selected;
  for (int64_t i = 0; i < condition->size(); ++i)
    if (condition->getInt(i) != 0)
      selected.push_back(i);
  ConstantTensor indices(RankedTensorType::get(
      {(int64_t)selected.size()}, n.builder.getIntegerType(64)));
  for (size_t i = 0; i < selected.size(); ++i)
    indices.setInt(i, selected[i]);
  KILN_TRY(result, n.create<k::GatherOp>(x, n.constant(indices.toAttr()),
                                         (uint64_t)axis));
  n.setOutput(0, result);
  return success();
}

/// MaxUnpool: zeros of the output shape with X scattered to the flat
/// positions in I (MaxPool's Indices).
LogicalResult importMaxUnpool(NodeImporter &n) {
  if (failed(n.expectInputs(2, 3)))
    return failure();
  auto type = n.inputType(0);
  int64_t rank = type.getRank();
  if (rank < 3)
    return n.error("input must have rank >= 3");
  size_t spatial = rank - 2;
  SmallVector<int64_t> kernel = n.attrInts("kernel_shape");
  SmallVector<int64_t> ones(spatial, 1);
  SmallVector<int64_t> strides = n.attrInts("strides", ones);
  SmallVector<int64_t> pads = n.attrInts("pads");
  if (pads.empty())
    pads.assign(2 * spatial, 0);
  if (kernel.size() != spatial || strides.size() != spatial ||
      pads.size() != 2 * spatial)
    return n.error("kernel_shape/strides/pads do not match the " +
                   std::to_string(spatial) + " spatial dims");
  // The indices address the shape MaxPool's input had (the inferred one);
  // a larger output_shape adds zeros after it in every dim.
  SmallVector<int64_t> inferred{type.getDimSize(0), type.getDimSize(1)};
  for (size_t d = 0; d < spatial; ++d)
    inferred.push_back((type.getDimSize(2 + d) - 1) * strides[d] + kernel[d] -
                       pads[d] - pads[spatial + d]);
  SmallVector<int64_t> outShape = inferred;
  if (n.hasInput(2)) {
    auto given = n.constantInts(2, "output_shape");
    if (failed(given))
      return failure();
    outShape = *given;
    if ((int64_t)outShape.size() != rank)
      return n.error("output_shape must have one entry per dim");
    for (int64_t d = 0; d < rank; ++d)
      if (outShape[d] < inferred[d])
        return n.error("output_shape is smaller than the unpooled shape");
  }
  int64_t total = 1;
  for (int64_t dim : inferred)
    total *= dim;
  Type element = type.getElementType();
  KILN_TRY(flatValues, n.reshape(n.input(0), {type.getNumElements()}));
  KILN_TRY(flatIndices, n.reshape(n.input(1), {type.getNumElements()}));
  KILN_TRY(scattered,
           n.create<k::ScatterElementsOp>(n.splat(element, 0, {total}),
                                          flatIndices, flatValues,
                                          (uint64_t)0, "none"));
  KILN_TRY(result, n.reshape(scattered, inferred));
  if (outShape != inferred) {
    SmallVector<int64_t> padding(rank, 0);
    for (int64_t d = 0; d < rank; ++d)
      padding.push_back(outShape[d] - inferred[d]);
    KILN_TRY(padded, n.create<k::PadOp>(result, padding, "constant",
                                        llvm::APFloat(0.0)));
    result = padded;
  }
  n.setOutput(0, result);
  return success();
}

} // namespace

void registerSelectionOps(OpTable &t) {
  t["TopK"] = {importTopK, 1,
               "K known at compile time; ranks by an N x N comparison"};
  t["Compress"] = {importCompress, 9,
                   "condition must be known at compile time"};
  t["MaxUnpool"] = {importMaxUnpool, 9, "composed of Kiln ops"};
}

} // namespace kiln::onnx_import
