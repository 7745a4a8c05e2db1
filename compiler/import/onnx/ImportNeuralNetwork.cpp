//===- ImportNeuralNetwork.cpp - conv, matmul, pooling, normalisation
//------===//

#include "compiler/import/onnx/NodeImporter.h"

using namespace mlir;
using mlir::kiln::ConstantTensor;

namespace kiln::onnx_import {
namespace {

/// Resolves ONNX auto_pad into explicit pads (begins then ends) for a
/// sliding window; `pads` holds the explicit attribute value on entry.
LogicalResult resolveAutoPad(NodeImporter &n, ArrayRef<int64_t> inputShape,
                             ArrayRef<int64_t> kernel,
                             ArrayRef<int64_t> strides,
                             ArrayRef<int64_t> dilations,
                             SmallVectorImpl<int64_t> &pads) {
  size_t spatial = kernel.size();
  std::string autoPad = n.attrString("auto_pad", "NOTSET");
  if (autoPad == "NOTSET") {
    if (pads.empty())
      pads.assign(2 * spatial, 0);
    return success();
  }
  if (autoPad == "VALID") {
    pads.assign(2 * spatial, 0);
    return success();
  }
  if (autoPad != "SAME_UPPER" && autoPad != "SAME_LOWER")
    return n.error("unknown auto_pad '" + autoPad + "'");
  pads.assign(2 * spatial, 0);
  for (size_t i = 0; i < spatial; ++i) {
    int64_t in = inputShape[i];
    int64_t out = (in + strides[i] - 1) / strides[i];
    int64_t total = std::max<int64_t>(
        0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - in);
    int64_t small = total / 2, large = total - total / 2;
    pads[i] = autoPad == "SAME_UPPER" ? small : large;
    pads[spatial + i] = autoPad == "SAME_UPPER" ? large : small;
  }
  return success();
}

/// Reads strides/dilations/pads for a window op of `spatial` dims.
LogicalResult windowAttrs(NodeImporter &n, size_t spatial,
                          SmallVectorImpl<int64_t> &strides,
                          SmallVectorImpl<int64_t> &dilations,
                          SmallVectorImpl<int64_t> &pads, bool hasDilations) {
  SmallVector<int64_t> ones(spatial, 1);
  strides = n.attrInts("strides", ones);
  dilations = hasDilations ? n.attrInts("dilations", ones) : ones;
  pads = n.attrInts("pads");
  if (strides.size() != spatial || dilations.size() != spatial ||
      (!pads.empty() && pads.size() != 2 * spatial))
    return n.error("strides/dilations/pads do not match the " +
                   std::to_string(spatial) + " spatial dims");
  return success();
}

LogicalResult importConv(NodeImporter &n) {
  if (failed(n.expectInputs(2, 3)))
    return failure();
  auto result = convolution(n, n.input(0), n.input(1),
                            n.hasInput(2) ? n.input(2) : Value());
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importConvTranspose(NodeImporter &n) {
  if (failed(n.expectInputs(2, 3)))
    return failure();
  auto input = n.inputType(0), filter = n.inputType(1);
  if (input.getRank() < 3 || filter.getRank() != input.getRank())
    return n.error("input and filter must have the same rank >= 3");
  size_t spatial = input.getRank() - 2;
  SmallVector<int64_t> kernel(filter.getShape().drop_front(2));
  if (n.attrInts("kernel_shape", kernel) != kernel)
    return n.error("kernel_shape does not match the filter's shape");
  SmallVector<int64_t> strides, dilations, pads;
  if (failed(windowAttrs(n, spatial, strides, dilations, pads, true)))
    return failure();
  SmallVector<int64_t> outputPadding =
      n.attrInts("output_padding", SmallVector<int64_t>(spatial, 0));
  SmallVector<int64_t> outputShape = n.attrInts("output_shape");
  std::string autoPad = n.attrString("auto_pad", "NOTSET");
  if (outputPadding.size() != spatial)
    return n.error("output_padding does not match the spatial dims");
  if (!outputShape.empty() || autoPad == "SAME_UPPER" ||
      autoPad == "SAME_LOWER") {
    if (outputShape.size() == spatial + 2)
      outputShape.erase(outputShape.begin(), outputShape.begin() + 2);
    if (outputShape.empty())
      for (size_t i = 0; i < spatial; ++i)
        outputShape.push_back(input.getDimSize(2 + i) * strides[i]);
    if (outputShape.size() != spatial)
      return n.error("output_shape does not match the spatial dims");
    pads.assign(2 * spatial, 0);
    for (size_t i = 0; i < spatial; ++i) {
      int64_t total = strides[i] * (input.getDimSize(2 + i) - 1) +
                      outputPadding[i] + (kernel[i] - 1) * dilations[i] + 1 -
                      outputShape[i];
      if (total < 0)
        return n.error("output_shape larger than the full transposed "
                       "convolution is not supported");
      bool upper = autoPad != "SAME_LOWER";
      pads[i] = upper ? total / 2 : total - total / 2;
      pads[spatial + i] = upper ? total - total / 2 : total / 2;
    }
  } else if (autoPad == "VALID" || pads.empty()) {
    pads.assign(2 * spatial, 0);
  } else if (autoPad != "NOTSET") {
    return n.error("unknown auto_pad '" + autoPad + "'");
  }
  Value bias = n.hasInput(2) ? n.input(2) : Value();
  auto result = n.create<mlir::kiln::ConvTransposeOp>(
      n.input(0), n.input(1), bias, strides, pads, dilations, outputPadding,
      (uint64_t)n.attrInt("group", 1));
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importMatMul(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  auto result = n.create<mlir::kiln::MatMulOp>(n.input(0), n.input(1));
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importGemm(NodeImporter &n) {
  if (failed(n.expectInputs(2, 3)))
    return failure();
  n.ignoreAttr("broadcast"); // opset < 7 only; broadcasting is always on
  Value c = n.hasInput(2) ? n.input(2) : Value();
  auto result = n.create<mlir::kiln::GemmOp>(
      n.input(0), n.input(1), c,
      n.builder.getF32FloatAttr(n.attrFloat("alpha", 1.0f)),
      n.builder.getF32FloatAttr(n.attrFloat("beta", 1.0f)),
      n.builder.getBoolAttr(n.attrInt("transA", 0) != 0),
      n.builder.getBoolAttr(n.attrInt("transB", 0) != 0));
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importBatchNorm(NodeImporter &n) {
  if (failed(n.expectInputs(5, 5)) || failed(n.expectOutputs(1)))
    return failure();
  if (n.attrInt("training_mode", 0) != 0)
    return n.error("training_mode=1 is not supported (inference only)");
  if (n.attrInt("spatial", 1) != 1)
    return n.error("spatial=0 is not supported");
  n.ignoreAttr("momentum"); // only affects training statistics
  n.ignoreAttr("is_test");
  auto result = n.create<mlir::kiln::BatchNormOp>(
      n.input(0), n.input(1), n.input(2), n.input(3), n.input(4),
      n.builder.getF32FloatAttr(n.attrFloat("epsilon", 1e-5f)));
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importLayerNorm(NodeImporter &n) {
  if (failed(n.expectInputs(2, 3)))
    return failure();
  if (n.hasOutput(1) || n.hasOutput(2))
    return importLayerNormStatistics(n);
  int64_t rank = n.inputType(0).getRank();
  int64_t axis = n.attrInt("axis", -1);
  if (axis < -rank || axis >= rank)
    return n.error("axis out of range");
  if (axis < 0)
    axis += rank;
  if (n.attrInt("stash_type", 1) != 1)
    return n.error("stash_type other than float is not supported");
  Value bias = n.hasInput(2) ? n.input(2) : Value();
  auto result = n.create<mlir::kiln::LayerNormOp>(
      n.input(0), n.input(1), bias, n.builder.getI64IntegerAttr(axis),
      n.builder.getF32FloatAttr(n.attrFloat("epsilon", 1e-5f)));
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

/// Softmax and LogSoftmax: before opset 13 the input is viewed as 2-D
/// [prod(dims[:axis]), prod(dims[axis:])] and normalised along dim 1.
template <typename OpTy> LogicalResult importSoftmax(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  auto type = n.inputType(0);
  int64_t rank = type.getRank();
  int64_t axis = n.attrInt("axis", n.opset < 13 ? 1 : -1);
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1))
    return n.error("axis out of range");
  if (axis < 0)
    axis += rank;
  if (n.opset >= 13 || axis == rank - 1) {
    auto result = n.createTyped<OpTy>(type, n.input(0), (uint64_t)axis);
    if (failed(result))
      return failure();
    n.setOutput(0, *result);
    return success();
  }
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < rank; ++d)
    (d < axis ? outer : inner) *= type.getDimSize(d);
  auto flat = n.reshape(n.input(0), {outer, inner});
  if (failed(flat))
    return failure();
  auto normalized = n.createTyped<OpTy>((*flat).getType(), *flat, (uint64_t)1);
  if (failed(normalized))
    return failure();
  auto result = n.reshape(*normalized, type.getShape());
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importMaxPool(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)) || failed(n.expectOutputs(1)))
    return failure();
  auto input = n.inputType(0);
  if (input.getRank() < 3)
    return n.error("input must have rank >= 3");
  size_t spatial = input.getRank() - 2;
  SmallVector<int64_t> kernel = n.attrInts("kernel_shape");
  if (kernel.size() != spatial)
    return n.error("kernel_shape must have one entry per spatial dim");
  if (n.attrInt("storage_order", 0) != 0)
    return n.error("storage_order=1 is not supported");
  SmallVector<int64_t> strides, dilations, pads;
  if (failed(
          windowAttrs(n, spatial, strides, dilations, pads, n.opset >= 10)) ||
      failed(resolveAutoPad(n, input.getShape().drop_front(2), kernel, strides,
                            dilations, pads)))
    return failure();
  bool ceil = n.opset >= 10 && n.attrInt("ceil_mode", 0) != 0;
  auto result = n.create<mlir::kiln::MaxPoolOp>(n.input(0), kernel, strides,
                                                pads, dilations, ceil);
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importAveragePool(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  auto input = n.inputType(0);
  if (input.getRank() < 3)
    return n.error("input must have rank >= 3");
  size_t spatial = input.getRank() - 2;
  SmallVector<int64_t> kernel = n.attrInts("kernel_shape");
  if (kernel.size() != spatial)
    return n.error("kernel_shape must have one entry per spatial dim");
  SmallVector<int64_t> strides, dilations, pads;
  if (failed(windowAttrs(n, spatial, strides, dilations, pads, false)) ||
      failed(resolveAutoPad(n, input.getShape().drop_front(2), kernel, strides,
                            dilations, pads)))
    return failure();
  bool ceil = n.opset >= 10 && n.attrInt("ceil_mode", 0) != 0;
  bool includePad = n.attrInt("count_include_pad", 0) != 0;
  auto result = n.create<mlir::kiln::AveragePoolOp>(n.input(0), kernel, strides,
                                                    pads, ceil, includePad);
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

/// GlobalAveragePool and GlobalMaxPool reduce every spatial dim, keeping it.
template <typename ReduceOp> LogicalResult importGlobalPool(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  int64_t rank = n.inputType(0).getRank();
  if (rank < 3)
    return n.error("input must have rank >= 3");
  SmallVector<int64_t> axes;
  for (int64_t d = 2; d < rank; ++d)
    axes.push_back(d);
  auto result = n.create<ReduceOp>(n.input(0), axes, true);
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

} // namespace

FailureOr<Value> convolution(NodeImporter &n, Value input, Value filter,
                             Value bias) {
  auto inputType = cast<RankedTensorType>(input.getType());
  auto filterType = cast<RankedTensorType>(filter.getType());
  if (inputType.getRank() < 3 || filterType.getRank() != inputType.getRank())
    return n.error("input and filter must have the same rank >= 3");
  size_t spatial = inputType.getRank() - 2;
  SmallVector<int64_t> kernel(filterType.getShape().drop_front(2));
  SmallVector<int64_t> givenKernel = n.attrInts("kernel_shape", kernel);
  if (givenKernel != kernel)
    return n.error("kernel_shape does not match the filter's shape");
  SmallVector<int64_t> strides, dilations, pads;
  if (failed(windowAttrs(n, spatial, strides, dilations, pads, true)) ||
      failed(resolveAutoPad(n, inputType.getShape().drop_front(2), kernel,
                            strides, dilations, pads)))
    return failure();
  return n.create<mlir::kiln::ConvOp>(input, filter, bias, strides, pads,
                                      dilations,
                                      (uint64_t)n.attrInt("group", 1));
}

void registerNeuralNetworkOps(OpTable &t) {
  t["Conv"] = {importConv, 7, "2-D f32: register-tiled microkernel"};
  t["ConvTranspose"] = {importConvTranspose};
  t["MatMul"] = {importMatMul, 7, "f32 with a 2-D right operand: microkernel"};
  t["Gemm"] = {importGemm, 7, "f32 with alpha 1: microkernel"};
  t["BatchNormalization"] = {importBatchNorm, 7,
                             "inference; folded into a preceding Conv"};
  t["LayerNormalization"] = {importLayerNorm, 17};
  t["Softmax"] = {importSoftmax<mlir::kiln::SoftmaxOp>};
  t["LogSoftmax"] = {importSoftmax<mlir::kiln::LogSoftmaxOp>};
  t["MaxPool"] = {importMaxPool, 7, "no Indices output"};
  t["AveragePool"] = {importAveragePool};
  t["GlobalAveragePool"] = {importGlobalPool<mlir::kiln::ReduceMeanOp>, 1};
  t["GlobalMaxPool"] = {importGlobalPool<mlir::kiln::ReduceMaxOp>, 1};
}

} // namespace kiln::onnx_import
