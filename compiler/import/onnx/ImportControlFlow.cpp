//===- ImportControlFlow.cpp - If, Loop and Scan with static shapes -------===//
//
// A static-shape compiler runs control flow by flattening it at import:
// - If: a compile-time condition imports only the branch taken; otherwise
//   both branches are imported and each output is a select (the branches
//   must then produce the same shapes).
// - Loop: unrolled; the trip count and the condition must be known at
//   compile time, and the body's condition output must fold to a constant
//   each iteration (loops whose exit depends on data are not static).
// - Scan: unrolled over the (static) scan axis.
// Each body is imported inline with the iteration's values bound to its
// inputs, so constant iteration counters fold (slices by the counter become
// static slices).
//
//===----------------------------------------------------------------------===//

#include "compiler/import/onnx/NodeImporter.h"

using namespace mlir;
using mlir::kiln::ConstantTensor;
namespace k = mlir::kiln;

namespace kiln::onnx_import {
namespace {

/// Loops are unrolled: beyond this many iterations the graph would be
/// larger than any real model's.
constexpr int64_t kMaxUnrolledIterations = 4096;

LogicalResult importIf(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  const onnx::GraphProto *thenBranch = n.attrGraph("then_branch");
  const onnx::GraphProto *elseBranch = n.attrGraph("else_branch");
  if (!thenBranch || !elseBranch)
    return n.error("then_branch and else_branch are required");
  if (n.inputType(0).getNumElements() != 1)
    return n.error("cond must have one element");
  if (auto cond = n.constantInput(0)) {
    auto outputs =
        n.importSubgraph(cond->getInt(0) ? *thenBranch : *elseBranch, {});
    if (failed(outputs))
      return failure();
    for (auto [i, value] : llvm::enumerate(*outputs))
      n.setOutput(i, value);
    return success();
  }
  auto thenOutputs = n.importSubgraph(*thenBranch, {});
  if (failed(thenOutputs))
    return failure();
  auto elseOutputs = n.importSubgraph(*elseBranch, {});
  if (failed(elseOutputs))
    return failure();
  if (thenOutputs->size() != elseOutputs->size())
    return n.error("the branches have different numbers of outputs");
  KILN_TRY(cond, n.reshape(n.input(0), {}));
  for (size_t i = 0; i < thenOutputs->size(); ++i) {
    Value a = (*thenOutputs)[i], b = (*elseOutputs)[i];
    if (typeOf(a) != typeOf(b))
      return n.error("output " + std::to_string(i) +
                     ": the branches produce different types, which a "
                     "run-time condition cannot select between");
    KILN_TRY(selected, n.create<k::WhereOp>(cond, a, b));
    n.setOutput(i, selected);
  }
  return success();
}

/// Stacks `values` (all one shape) along a new dim `axis`.
FailureOr<Value> stack(NodeImporter &n, ArrayRef<Value> values, int64_t axis) {
  SmallVector<Value> parts;
  for (Value value : values) {
    SmallVector<int64_t> shape(typeOf(value).getShape());
    shape.insert(shape.begin() + axis, 1);
    KILN_TRY(part, n.reshape(value, shape));
    parts.push_back(part);
  }
  if (parts.size() == 1)
    return parts.front();
  return n.create<k::ConcatOp>(parts, (uint64_t)axis);
}

LogicalResult importLoop(NodeImporter &n) {
  const onnx::GraphProto *body = n.attrGraph("body");
  if (!body)
    return n.error("body is required");
  int carried = n.numInputs() - 2;
  if (carried < 0)
    return n.error("expects M, cond and the loop-carried values");
  int64_t tripCount = kMaxUnrolledIterations + 1;
  if (n.hasInput(0)) {
    auto given = n.constantInts(0, "trip count M");
    if (failed(given))
      return failure();
    tripCount = given->front();
  }
  bool running = true;
  if (n.hasInput(1)) {
    auto cond = n.constantInput(1);
    if (!cond)
      return n.notKnownAtCompileTime(1, "cond");
    running = cond->getInt(0) != 0;
  }
  SmallVector<Value> values;
  for (int i = 0; i < carried; ++i) {
    if (!n.hasInput(2 + i))
      return n.error("loop-carried input " + std::to_string(2 + i) +
                     " is missing");
    values.push_back(n.input(2 + i));
  }
  int scanOutputs = body->output_size() - 1 - carried;
  if (scanOutputs < 0 || body->input_size() != 2 + carried)
    return n.error("the body must take (iteration, cond, carried...) and "
                   "return (cond, carried..., scan outputs...)");
  Type i64 = n.builder.getIntegerType(64), i1 = n.builder.getI1Type();
  SmallVector<SmallVector<Value>> scanned(scanOutputs);
  int64_t iteration = 0;
  for (; running && iteration < tripCount; ++iteration) {
    if (iteration == kMaxUnrolledIterations)
      return n.error("the loop runs more than " +
                     std::to_string(kMaxUnrolledIterations) +
                     " iterations, too many to unroll");
    SmallVector<Value> inputs{n.splat(i64, iteration), n.splat(i1, 1)};
    llvm::append_range(inputs, values);
    auto outputs = n.importSubgraph(*body, inputs);
    if (failed(outputs))
      return failure();
    auto condOp = (*outputs)[0].getDefiningOp<k::ConstantOp>();
    auto cond =
        condOp ? ConstantTensor::fromAttr(condOp.getValue()) : std::nullopt;
    if (!cond)
      return n.error("the body's condition output is computed from run-time "
                     "data; only loops whose iteration count is known at "
                     "compile time can be unrolled");
    running = cond->getInt(0) != 0;
    for (int i = 0; i < carried; ++i) {
      if (typeOf((*outputs)[1 + i]) != typeOf(values[i]))
        return n.error("loop-carried value " + std::to_string(i) +
                       " changes shape between iterations");
      values[i] = (*outputs)[1 + i];
    }
    for (int i = 0; i < scanOutputs; ++i)
      scanned[i].push_back((*outputs)[1 + carried + i]);
  }
  for (int i = 0; i < carried; ++i)
    n.setOutput(i, values[i]);
  for (int i = 0; i < scanOutputs; ++i) {
    if (scanned[i].empty())
      return n.error("the loop runs no iteration, so its scan outputs have "
                     "no shape");
    KILN_TRY(stacked, stack(n, scanned[i], 0));
    n.setOutput(carried + i, stacked);
  }
  return success();
}

/// Scan (opset 9+): states, then scan inputs sliced along their scan axes;
/// opset 8 has a leading batch dim on everything and runs the body per
/// batch entry.
LogicalResult importScan(NodeImporter &n) {
  const onnx::GraphProto *body = n.attrGraph("body");
  if (!body)
    return n.error("body is required");
  int64_t scanInputs = n.attrInt("num_scan_inputs", 0);
  bool batched = n.opset < 9;
  int first = batched ? 1 : 0; // opset 8: sequence_lens comes first
  if (batched && n.hasInput(0))
    return n.error("sequence_lens is not supported (every sequence must "
                   "have the full length)");
  int states = n.numInputs() - first - (int)scanInputs;
  int scanOutputs = body->output_size() - states;
  if (scanInputs < 1 || states < 0 || scanOutputs < 0)
    return n.error("num_scan_inputs does not fit the inputs and the body");
  auto perInput = [&](llvm::StringRef name, int64_t count) {
    SmallVector<int64_t> values = n.attrInts(name);
    if (values.empty())
      values.assign(count, 0);
    return values;
  };
  SmallVector<int64_t> inputAxes = perInput("scan_input_axes", scanInputs),
                       outputAxes = perInput("scan_output_axes", scanOutputs),
                       inputDirections = perInput(
                           batched ? "directions" : "scan_input_directions",
                           scanInputs),
                       outputDirections =
                           perInput("scan_output_directions", scanOutputs);
  if ((int64_t)inputAxes.size() != scanInputs ||
      (int64_t)inputDirections.size() != scanInputs ||
      (int64_t)outputAxes.size() != scanOutputs ||
      (int64_t)outputDirections.size() != scanOutputs)
    return n.error("scan axes/directions need one entry per scan input or "
                   "output");
  int64_t batch = batched ? n.inputType(first).getDimSize(0) : 1;
  SmallVector<SmallVector<Value>> finalStates(states), scanResults(scanOutputs);
  for (int64_t b = 0; b < batch; ++b) {
    // This batch entry's states and scan inputs (axes past the batch dim).
    SmallVector<Value> stateValues, sequences;
    for (int i = 0; i < states; ++i) {
      Value state = n.input(first + i);
      if (batched) {
        KILN_TRY(entry, n.takeAlong(state, 0, b));
        state = entry;
      }
      stateValues.push_back(state);
    }
    int64_t length = -1;
    for (int64_t i = 0; i < scanInputs; ++i) {
      Value sequence = n.input(first + states + i);
      if (batched) {
        KILN_TRY(entry, n.takeAlong(sequence, 0, b));
        sequence = entry;
      }
      int64_t axis = batched ? 0 : inputAxes[i];
      if (failed(n.normalizeAxis(axis, typeOf(sequence).getRank())))
        return failure();
      inputAxes[i] = axis;
      int64_t size = typeOf(sequence).getDimSize(axis);
      if (length >= 0 && size != length)
        return n.error("scan inputs have different lengths");
      length = size;
      sequences.push_back(sequence);
    }
    if (length > kMaxUnrolledIterations)
      return n.error("the scan is longer than " +
                     std::to_string(kMaxUnrolledIterations) +
                     " steps, too many to unroll");
    SmallVector<SmallVector<Value>> steps(scanOutputs);
    for (int64_t t = 0; t < length; ++t) {
      SmallVector<Value> inputs(stateValues);
      for (int64_t i = 0; i < scanInputs; ++i) {
        int64_t at = inputDirections[i] ? length - 1 - t : t;
        KILN_TRY(element, n.takeAlong(sequences[i], inputAxes[i], at));
        inputs.push_back(element);
      }
      auto outputs = n.importSubgraph(*body, inputs);
      if (failed(outputs))
        return failure();
      for (int i = 0; i < states; ++i)
        stateValues[i] = (*outputs)[i];
      for (int i = 0; i < scanOutputs; ++i)
        steps[i].push_back((*outputs)[states + i]);
    }
    for (int i = 0; i < states; ++i)
      finalStates[i].push_back(stateValues[i]);
    for (int i = 0; i < scanOutputs; ++i) {
      if (steps[i].empty())
        return n.error("the scan has no steps, so its outputs have no shape");
      if (outputDirections[i])
        std::reverse(steps[i].begin(), steps[i].end());
      int64_t axis = batched ? 0 : outputAxes[i];
      if (failed(n.normalizeAxis(axis, typeOf(steps[i][0]).getRank() + 1)))
        return failure();
      KILN_TRY(stacked, stack(n, steps[i], axis));
      scanResults[i].push_back(stacked);
    }
  }
  for (int i = 0; i < states; ++i) {
    Value state = finalStates[i].front();
    if (batched) {
      KILN_TRY(stacked, stack(n, finalStates[i], 0));
      state = stacked;
    }
    n.setOutput(i, state);
  }
  for (int i = 0; i < scanOutputs; ++i) {
    Value result = scanResults[i].front();
    if (batched) {
      KILN_TRY(stacked, stack(n, scanResults[i], 0));
      result = stacked;
    }
    n.setOutput(states + i, result);
  }
  return success();
}

} // namespace

void registerControlFlowOps(OpTable &t) {
  t["If"] = {importIf, 1,
             "compile-time cond imports one branch; otherwise both, selected "
             "per output (same shapes)"};
  t["Loop"] = {importLoop, 1,
               "unrolled; trip count and exit condition known at compile "
               "time"};
  t["Scan"] = {importScan, 8, "unrolled over the static scan axis"};
}

} // namespace kiln::onnx_import
