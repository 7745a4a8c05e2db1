//===- ImportReduction.cpp - Reduce* and Arg* ops
//--------------------------===//

#include "compiler/import/onnx/NodeImporter.h"

using namespace mlir;
using mlir::kiln::ConstantTensor;

namespace kiln::onnx_import {
namespace {

/// Reads the axes of a Reduce op: an attribute, or (ReduceSum from opset 13)
/// the optional second input. Returns normalised, sorted, unique axes; an
/// empty list means all axes unless noop_with_empty_axes is set.
template <typename OpTy>
LogicalResult importReduce(NodeImporter &n, bool axesAreInput) {
  if (failed(n.expectInputs(1, axesAreInput ? 2 : 1)))
    return failure();
  int64_t rank = n.inputType(0).getRank();
  SmallVector<int64_t> axes;
  if (axesAreInput) {
    if (n.hasInput(1)) {
      auto given = n.constantInts(1, "axes");
      if (failed(given))
        return failure();
      axes = *given;
    }
  } else {
    axes = n.attrInts("axes");
  }
  bool noop = n.attrInt("noop_with_empty_axes", 0) != 0;
  bool keepDims = n.attrInt("keepdims", 1) != 0;
  if (axes.empty() && noop) {
    n.setOutput(0, n.input(0));
    return success();
  }
  if (axes.empty())
    for (int64_t d = 0; d < rank; ++d)
      axes.push_back(d);
  for (int64_t &axis : axes) {
    if (axis < -rank || axis >= rank)
      return n.error("axis " + std::to_string(axis) + " out of range");
    if (axis < 0)
      axis += rank;
  }
  llvm::sort(axes);
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  auto result = n.create<OpTy>(n.input(0), axes, keepDims);
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

template <typename OpTy> OpImporter reduce(bool axesInputFromOpset13) {
  // Reductions keep opset 1's axes/keepdims semantics until 13 (ReduceSum)
  // or 18 (the rest).
  return {[axesInputFromOpset13](NodeImporter &n) {
            return importReduce<OpTy>(n, axesInputFromOpset13 && n.opset >= 13);
          },
          1};
}

template <typename OpTy> LogicalResult importArg(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  int64_t rank = n.inputType(0).getRank();
  int64_t axis = n.attrInt("axis", 0);
  if (axis < -rank || axis >= rank)
    return n.error("axis out of range");
  if (axis < 0)
    axis += rank;
  auto result =
      n.create<OpTy>(n.input(0), (uint64_t)axis, n.attrInt("keepdims", 1) != 0,
                     n.attrInt("select_last_index", 0) != 0);
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

} // namespace

void registerReductionOps(OpTable &t) {
  t["ReduceSum"] = reduce<mlir::kiln::ReduceSumOp>(true);
  t["ReduceMean"] = reduce<mlir::kiln::ReduceMeanOp>(false);
  t["ReduceMax"] = reduce<mlir::kiln::ReduceMaxOp>(false);
  t["ReduceMin"] = reduce<mlir::kiln::ReduceMinOp>(false);
  t["ReduceProd"] = reduce<mlir::kiln::ReduceProdOp>(false);
  t["ReduceSumSquare"] = reduce<mlir::kiln::ReduceSumSquareOp>(false);
  t["ReduceL1"] = reduce<mlir::kiln::ReduceL1Op>(false);
  t["ReduceL2"] = reduce<mlir::kiln::ReduceL2Op>(false);
  t["ReduceLogSumExp"] = reduce<mlir::kiln::ReduceLogSumExpOp>(false);
  t["ReduceLogSum"] = reduce<mlir::kiln::ReduceLogSumOp>(false);
  t["ArgMax"] = {importArg<mlir::kiln::ArgMaxOp>};
  t["ArgMin"] = {importArg<mlir::kiln::ArgMinOp>};
}

} // namespace kiln::onnx_import
