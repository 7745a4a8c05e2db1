//===- ImportTensor.cpp - shape, layout and constant ops
//-------------------===//
//
// With static shapes, Reshape/Flatten/Squeeze/Unsqueeze are one operation
// (kiln.reshape) and Shape/Size/Constant/ConstantOfShape/Range are
// compile-time values (kiln.constant).
//
//===----------------------------------------------------------------------===//

#include "compiler/import/onnx/NodeImporter.h"

using namespace mlir;
using mlir::kiln::ConstantTensor;

namespace kiln::onnx_import {
namespace {

DenseElementsAttr int64Tensor(NodeImporter &n, ArrayRef<int64_t> values,
                              ArrayRef<int64_t> shape) {
  return DenseElementsAttr::get(
      RankedTensorType::get(shape, n.builder.getIntegerType(64)), values);
}

LogicalResult setReshape(NodeImporter &n, ArrayRef<int64_t> shape) {
  auto result = n.reshape(n.input(0), shape);
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importReshape(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  auto requested = n.constantInts(1, "shape");
  if (failed(requested))
    return failure();
  auto in = n.inputType(0);
  bool allowZero = n.attrInt("allowzero", 0) != 0;
  SmallVector<int64_t> shape(*requested);
  int64_t inferAt = -1, known = 1;
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (d == 0 && !allowZero) {
      if ((int64_t)i >= in.getRank())
        return n.error("shape has 0 at dim " + std::to_string(i) +
                       " beyond the input's rank");
      d = in.getDimSize(i);
    }
    if (d == -1) {
      if (inferAt >= 0)
        return n.error("shape has more than one -1");
      inferAt = i;
    } else if (d < 0) {
      return n.error("shape has negative dim " + std::to_string(d));
    } else {
      known *= d;
    }
  }
  if (inferAt >= 0) {
    if (known == 0 || in.getNumElements() % known)
      return n.error("cannot infer the -1 dim");
    shape[inferAt] = in.getNumElements() / known;
  }
  return setReshape(n, shape);
}

LogicalResult importFlatten(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  auto in = n.inputType(0);
  int64_t axis = n.attrInt("axis", 1);
  if (axis < 0)
    axis += in.getRank();
  if (axis < 0 || axis > in.getRank())
    return n.error("axis out of range");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < in.getRank(); ++d)
    (d < axis ? outer : inner) *= in.getDimSize(d);
  return setReshape(n, {outer, inner});
}

FailureOr<SmallVector<int64_t>> squeezeAxes(NodeImporter &n) {
  if (n.opset >= 13) {
    if (!n.hasInput(1))
      return SmallVector<int64_t>();
    return n.constantInts(1, "axes");
  }
  return n.attrInts("axes");
}

LogicalResult importSqueeze(NodeImporter &n) {
  if (failed(n.expectInputs(1, n.opset >= 13 ? 2 : 1)))
    return failure();
  auto axes = squeezeAxes(n);
  if (failed(axes))
    return failure();
  auto in = n.inputType(0);
  SmallVector<bool> drop(in.getRank(), false);
  for (int64_t axis : *axes) {
    if (failed(n.normalizeAxis(axis, in.getRank())))
      return failure();
    if (in.getDimSize(axis) != 1)
      return n.error("cannot squeeze dim " + std::to_string(axis) +
                     " of size " + std::to_string(in.getDimSize(axis)));
    drop[axis] = true;
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < in.getRank(); ++d)
    if (!(axes->empty() ? in.getDimSize(d) == 1 : drop[d]))
      shape.push_back(in.getDimSize(d));
  return setReshape(n, shape);
}

LogicalResult importUnsqueeze(NodeImporter &n) {
  if (failed(n.expectInputs(n.opset >= 13 ? 2 : 1, n.opset >= 13 ? 2 : 1)))
    return failure();
  auto axes = squeezeAxes(n);
  if (failed(axes))
    return failure();
  auto in = n.inputType(0);
  int64_t rank = in.getRank() + axes->size();
  SmallVector<bool> inserted(rank, false);
  for (int64_t axis : *axes) {
    if (failed(n.normalizeAxis(axis, rank)))
      return failure();
    if (inserted[axis])
      return n.error("repeated axis " + std::to_string(axis));
    inserted[axis] = true;
  }
  SmallVector<int64_t> shape;
  int64_t next = 0;
  for (int64_t d = 0; d < rank; ++d)
    shape.push_back(inserted[d] ? 1 : in.getDimSize(next++));
  return setReshape(n, shape);
}

LogicalResult importTranspose(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  int64_t rank = n.inputType(0).getRank();
  SmallVector<int64_t> reversed;
  for (int64_t d = rank - 1; d >= 0; --d)
    reversed.push_back(d);
  auto result = n.create<mlir::kiln::TransposeOp>(n.input(0),
                                                  n.attrInts("perm", reversed));
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importConcat(NodeImporter &n) {
  if (failed(n.expectInputs(1, n.numInputs())))
    return failure();
  if (!n.hasAttr("axis"))
    return n.error("missing required attribute 'axis'");
  int64_t axis = n.attrInt("axis", 0);
  if (failed(n.normalizeAxis(axis, n.inputType(0).getRank())))
    return failure();
  SmallVector<Value> inputs;
  for (int i = 0; i < n.numInputs(); ++i)
    inputs.push_back(n.input(i));
  auto result = n.create<mlir::kiln::ConcatOp>(inputs, (uint64_t)axis);
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importSplit(NodeImporter &n) {
  if (failed(n.expectInputs(1, n.opset >= 13 ? 2 : 1)))
    return failure();
  auto in = n.inputType(0);
  int64_t axis = n.attrInt("axis", 0);
  if (failed(n.normalizeAxis(axis, in.getRank())))
    return failure();
  SmallVector<int64_t> sizes;
  if (n.opset >= 13 && n.hasInput(1)) {
    auto given = n.constantInts(1, "split");
    if (failed(given))
      return failure();
    sizes = *given;
  } else if (n.opset < 13) {
    sizes = n.attrInts("split");
  }
  int64_t parts = n.numOutputs();
  if (sizes.empty()) {
    if (in.getDimSize(axis) % parts)
      return n.error("dim " + std::to_string(axis) +
                     " does not split evenly into " + std::to_string(parts));
    sizes.assign(parts, in.getDimSize(axis) / parts);
  }
  if ((int64_t)sizes.size() != parts)
    return n.error("split has " + std::to_string(sizes.size()) + " sizes for " +
                   std::to_string(parts) + " outputs");
  auto results =
      n.createAll<mlir::kiln::SplitOp>(n.input(0), (uint64_t)axis, sizes);
  if (failed(results))
    return failure();
  for (auto [i, v] : llvm::enumerate(*results))
    n.setOutput(i, v);
  return success();
}

LogicalResult importSlice(NodeImporter &n) {
  auto in = n.inputType(0);
  int64_t rank = in.getRank();
  SmallVector<int64_t> starts, ends, axes, steps;
  if (n.opset < 10) {
    if (failed(n.expectInputs(1, 1)))
      return failure();
    starts = n.attrInts("starts");
    ends = n.attrInts("ends");
    axes = n.attrInts("axes");
  } else {
    if (failed(n.expectInputs(3, 5)))
      return failure();
    auto s = n.constantInts(1, "starts");
    auto e = n.constantInts(2, "ends");
    if (failed(s) || failed(e))
      return failure();
    starts = *s;
    ends = *e;
    if (n.hasInput(3)) {
      auto a = n.constantInts(3, "axes");
      if (failed(a))
        return failure();
      axes = *a;
    }
    if (n.hasInput(4)) {
      auto st = n.constantInts(4, "steps");
      if (failed(st))
        return failure();
      steps = *st;
    }
  }
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i)
      axes.push_back(i);
  if (steps.empty())
    steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size())
    return n.error("starts, ends, axes and steps differ in length");

  SmallVector<int64_t> outStarts(rank, 0), sizes(in.getShape()),
      outSteps(rank, 1);
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t axis = axes[i];
    if (failed(n.normalizeAxis(axis, rank)))
      return failure();
    int64_t dim = in.getDimSize(axis), step = steps[i];
    if (step == 0)
      return n.error("step must be non-zero");
    int64_t start = starts[i], end = ends[i];
    if (start < 0)
      start += dim;
    if (end < 0)
      end += dim;
    int64_t size;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      size = end > start ? (end - start + step - 1) / step : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      size = start > end ? (start - end - step - 1) / -step : 0;
    }
    outStarts[axis] = size ? start : 0;
    sizes[axis] = size;
    outSteps[axis] = step;
  }
  auto result =
      n.create<mlir::kiln::SliceOp>(n.input(0), outStarts, sizes, outSteps);
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importGather(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  int64_t axis = n.attrInt("axis", 0);
  if (failed(n.normalizeAxis(axis, n.inputType(0).getRank())))
    return failure();
  int64_t dim = n.inputType(0).getDimSize(axis);
  if (auto indices = n.constantInput(1))
    for (int64_t i = 0; i < indices->size(); ++i)
      if (indices->getInt(i) < -dim || indices->getInt(i) >= dim)
        return n.error("index " + std::to_string(indices->getInt(i)) +
                       " out of range for dim of size " + std::to_string(dim));
  auto result =
      n.create<mlir::kiln::GatherOp>(n.input(0), n.input(1), (uint64_t)axis);
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importGatherElements(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  int64_t axis = n.attrInt("axis", 0);
  if (failed(n.normalizeAxis(axis, n.inputType(0).getRank())))
    return failure();
  auto result = n.create<mlir::kiln::GatherElementsOp>(n.input(0), n.input(1),
                                                       (uint64_t)axis);
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

/// ScatterElements, and Scatter (its older name, without reduction).
LogicalResult importScatterElements(NodeImporter &n) {
  if (failed(n.expectInputs(3, 3)))
    return failure();
  int64_t axis = n.attrInt("axis", 0);
  if (failed(n.normalizeAxis(axis, n.inputType(0).getRank())))
    return failure();
  std::string reduction = n.attrString("reduction", "none");
  auto result = n.createTyped<mlir::kiln::ScatterElementsOp>(
      n.inputType(0), n.input(0), n.input(1), n.input(2), (uint64_t)axis,
      reduction);
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importScatterND(NodeImporter &n) {
  if (failed(n.expectInputs(3, 3)))
    return failure();
  auto result = n.createTyped<mlir::kiln::ScatterNDOp>(
      n.inputType(0), n.input(0), n.input(1), n.input(2),
      n.attrString("reduction", "none"));
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importCumSum(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  auto axisValue = n.constantInts(1, "axis");
  if (failed(axisValue))
    return failure();
  int64_t axis = axisValue->front();
  if (failed(n.normalizeAxis(axis, n.inputType(0).getRank())))
    return failure();
  auto result = n.createTyped<mlir::kiln::CumSumOp>(
      n.inputType(0), n.input(0), (uint64_t)axis,
      n.attrInt("exclusive", 0) != 0, n.attrInt("reverse", 0) != 0);
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importExpand(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  auto shape = n.constantInts(1, "shape");
  if (failed(shape))
    return failure();
  auto in = n.inputType(0);
  auto broadcast = mlir::kiln::broadcastShapes(in.getShape(), *shape);
  if (failed(broadcast))
    return n.error("cannot expand input to the requested shape");
  auto result = n.createTyped<mlir::kiln::ExpandOp>(
      RankedTensorType::get(*broadcast, in.getElementType()), n.input(0));
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importPad(NodeImporter &n) {
  int64_t rank = n.inputType(0).getRank();
  SmallVector<int64_t> pads;
  double value = 0;
  if (n.opset < 11) {
    if (failed(n.expectInputs(1, 1)))
      return failure();
    pads = n.attrInts("pads");
    value = n.attrFloat("value", 0.0f);
  } else {
    if (failed(n.expectInputs(2, 3)))
      return failure();
    auto given = n.constantInts(1, "pads");
    if (failed(given))
      return failure();
    pads = *given;
    if (n.hasInput(2)) {
      auto c = n.constantInput(2);
      if (!c || c->size() != 1)
        return n.notKnownAtCompileTime(2, "constant_value");
      value = c->getFloat(0);
    }
  }
  if ((int64_t)pads.size() != 2 * rank)
    return n.error("expected " + std::to_string(2 * rank) + " pads");
  if (llvm::any_of(pads, [](int64_t p) { return p < 0; }))
    return n.error("negative pads are not supported");
  std::string mode = n.attrString("mode", "constant");
  auto result =
      n.create<mlir::kiln::PadOp>(n.input(0), pads, mode, llvm::APFloat(value));
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importShape(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  ArrayRef<int64_t> shape = n.inputType(0).getShape();
  int64_t rank = shape.size();
  int64_t start = n.attrInt("start", 0), end = n.attrInt("end", rank);
  if (start < 0)
    start += rank;
  if (end < 0)
    end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  auto dims = shape.slice(start, end - start);
  n.setOutput(0, n.constant(int64Tensor(n, dims, {(int64_t)dims.size()})));
  return success();
}

LogicalResult importSize(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  n.setOutput(
      0, n.constant(int64Tensor(n, {n.inputType(0).getNumElements()}, {})));
  return success();
}

LogicalResult importConstant(NodeImporter &n) {
  if (failed(n.expectInputs(0, 0)))
    return failure();
  auto f32 = n.builder.getF32Type();
  auto i64 = n.builder.getIntegerType(64);
  DenseElementsAttr value;
  if (const onnx::TensorProto *t = n.attrTensor("value")) {
    std::string message;
    value = tensorToAttr(*n.context(), *t, "", message);
    if (!value)
      return n.error("value: " + message);
  } else if (n.hasAttr("value_float")) {
    value = DenseElementsAttr::get(RankedTensorType::get({}, f32),
                                   n.attrFloat("value_float", 0));
  } else if (n.hasAttr("value_floats")) {
    auto floats = n.attrFloats("value_floats");
    value = DenseElementsAttr::get(
        RankedTensorType::get({(int64_t)floats.size()}, f32),
        ArrayRef<float>(floats));
  } else if (n.hasAttr("value_int")) {
    value = int64Tensor(n, {n.attrInt("value_int", 0)}, {});
  } else if (n.hasAttr("value_ints")) {
    auto ints = n.attrInts("value_ints");
    value = int64Tensor(n, ints, {(int64_t)ints.size()});
  } else {
    n.ignoreAttr("sparse_value");
    n.ignoreAttr("value_string");
    n.ignoreAttr("value_strings");
    return n.error("only dense numeric constants are supported");
  }
  (void)i64;
  n.setOutput(0, n.constant(value));
  return success();
}

LogicalResult importConstantOfShape(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  auto shape = n.constantInts(0, "shape");
  if (failed(shape))
    return failure();
  if (llvm::any_of(*shape, [](int64_t d) { return d < 0; }))
    return n.error("negative dim in shape");
  Attribute element = n.builder.getF32FloatAttr(0.0f);
  Type elementType = n.builder.getF32Type();
  if (const onnx::TensorProto *t = n.attrTensor("value")) {
    std::string message;
    auto value = tensorToAttr(*n.context(), *t, "", message);
    if (!value || value.getNumElements() != 1)
      return n.error("value must be a one-element tensor");
    elementType = value.getElementType();
    element = value.getValues<Attribute>()[0];
  }
  n.setOutput(0, n.constant(SplatElementsAttr::get(
                     RankedTensorType::get(*shape, elementType), element)));
  return success();
}

LogicalResult importRange(NodeImporter &n) {
  if (failed(n.expectInputs(3, 3)))
    return failure();
  auto start = n.constantInput(0), limit = n.constantInput(1),
       delta = n.constantInput(2);
  const char *names[] = {"start", "limit", "delta"};
  const std::optional<ConstantTensor> *inputs[] = {&start, &limit, &delta};
  for (int i = 0; i < 3; ++i)
    if (!*inputs[i])
      return n.notKnownAtCompileTime(i, names[i]);
  double s = start->getFloat(0), l = limit->getFloat(0), d = delta->getFloat(0);
  if (d == 0)
    return n.error("delta must be non-zero");
  int64_t count = std::max<int64_t>(0, (int64_t)std::ceil((l - s) / d));
  auto type = RankedTensorType::get({count}, n.inputType(0).getElementType());
  ConstantTensor result(type);
  for (int64_t i = 0; i < count; ++i) {
    if (start->isFloat())
      result.set(i, s + i * d);
    else
      result.setInt(i, start->getInt(0) + i * delta->getInt(0));
  }
  n.setOutput(0, n.constant(result.toAttr()));
  return success();
}

} // namespace

void registerTensorOps(OpTable &t) {
  t["Reshape"] = {importReshape, 7,
                  "shape input must be known at compile time"};
  t["Flatten"] = {importFlatten};
  t["Squeeze"] = {importSqueeze, 7,
                  "axes input (opset 13+) must be known at compile time"};
  t["Unsqueeze"] = {importUnsqueeze, 7,
                    "axes input (opset 13+) must be known at compile time"};
  t["Transpose"] = {importTranspose};
  t["Concat"] = {importConcat};
  t["Split"] = {importSplit, 7, "split sizes must be known at compile time"};
  t["Slice"] = {importSlice, 7,
                "starts/ends/axes/steps must be known at compile time"};
  t["Gather"] = {importGather};
  t["GatherElements"] = {importGatherElements, 11};
  t["ScatterElements"] = {importScatterElements, 11,
                          "reductions none, add, mul"};
  t["Scatter"] = {importScatterElements, 9, "as ScatterElements"};
  t["ScatterND"] = {importScatterND, 11, "reductions none, add, mul"};
  t["CumSum"] = {importCumSum, 11};
  t["Expand"] = {importExpand, 7, "shape input must be known at compile time"};
  t["Pad"] = {importPad, 7,
              "constant, reflect and edge; pads must be known at compile time"};
  t["Shape"] = {importShape, 7, "a compile-time constant"};
  t["Size"] = {importSize, 7, "a compile-time constant"};
  t["Constant"] = {importConstant};
  t["ConstantOfShape"] = {importConstantOfShape, 7, "a compile-time constant"};
  t["Range"] = {importRange, 7, "inputs must be known at compile time"};
}

} // namespace kiln::onnx_import
