//===- ImportNeuralNetwork.cpp - conv, matmul, pooling, normalisation
//------===//

#include "compiler/import/onnx/NodeImporter.h"

#include <cmath>
#include <limits>

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

/// BatchNormalization with training_mode=1 (opset 14+): normalises with the
/// batch's own mean and (population) variance, and returns the running
/// statistics updated by momentum.
LogicalResult batchNormTraining(NodeImporter &n) {
  if (failed(n.expectOutputs(3)))
    return failure();
  Value x = n.input(0);
  auto type = typeOf(x);
  if (type.getRank() < 2)
    return n.error("input must have rank >= 2");
  Type element = type.getElementType();
  double epsilon = n.attrFloat("epsilon", 1e-5f),
         momentum = n.attrFloat("momentum", 0.9f);
  SmallVector<int64_t> axes{0};
  for (int64_t d = 2; d < type.getRank(); ++d)
    axes.push_back(d);
  // Per-channel parameters broadcast as [C, 1, ..., 1] against [N, C, ...].
  SmallVector<int64_t> channelShape(type.getRank() - 1, 1);
  channelShape[0] = type.getDimSize(1);
  auto channel = [&](Value v) { return n.reshape(v, channelShape); };
  KILN_TRY(mean, n.create<mlir::kiln::ReduceMeanOp>(x, axes, false));
  KILN_TRY(meanKept, channel(mean));
  KILN_TRY(centered, n.create<mlir::kiln::SubOp>(x, meanKept));
  KILN_TRY(squared, n.create<mlir::kiln::MulOp>(centered, centered));
  KILN_TRY(variance, n.create<mlir::kiln::ReduceMeanOp>(squared, axes, false));
  KILN_TRY(varianceKept, channel(variance));
  KILN_TRY(shifted, n.create<mlir::kiln::AddOp>(varianceKept,
                                                n.splat(element, epsilon)));
  KILN_TRY(stddev, n.create<mlir::kiln::SqrtOp>(shifted));
  KILN_TRY(normalized, n.create<mlir::kiln::DivOp>(centered, stddev));
  KILN_TRY(scale, channel(n.input(1)));
  KILN_TRY(bias, channel(n.input(2)));
  KILN_TRY(scaled, n.create<mlir::kiln::MulOp>(normalized, scale));
  KILN_TRY(y, n.create<mlir::kiln::AddOp>(scaled, bias));
  n.setOutput(0, y);
  for (int i = 1; i <= 2; ++i) {
    if (!n.hasOutput(i))
      continue;
    Value running = n.input(2 + i), batch = i == 1 ? mean : variance;
    Type statElement = typeOf(running).getElementType();
    KILN_TRY(batchStat, n.castElements(batch, statElement));
    KILN_TRY(kept, n.create<mlir::kiln::MulOp>(running,
                                               n.splat(statElement, momentum)));
    KILN_TRY(added, n.create<mlir::kiln::MulOp>(
                        batchStat, n.splat(statElement, 1 - momentum)));
    KILN_TRY(updated, n.create<mlir::kiln::AddOp>(kept, added));
    n.setOutput(i, updated);
  }
  return success();
}

LogicalResult importBatchNorm(NodeImporter &n) {
  if (failed(n.expectInputs(5, 5)))
    return failure();
  if (n.opset >= 14 && n.attrInt("training_mode", 0) != 0)
    return batchNormTraining(n);
  if (failed(n.expectOutputs(1)))
    return failure();
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

/// MaxPool's Indices output: for each output, the flat index (over the
/// whole input, spatial dims row-major, or column-major with storage_order
/// 1) of the first maximum in its window. The windows' source positions are
/// a compile-time table; the input is gathered through it, padding taps get
/// the lowest value, and an argmax picks the tap.
FailureOr<Value> maxPoolIndices(NodeImporter &n, Value x, Value pooled,
                                ArrayRef<int64_t> kernel,
                                ArrayRef<int64_t> strides,
                                ArrayRef<int64_t> dilations,
                                ArrayRef<int64_t> pads, bool columnMajor) {
  auto type = typeOf(x);
  auto outType = typeOf(pooled);
  size_t spatial = kernel.size();
  ArrayRef<int64_t> inShape = type.getShape().drop_front(2),
                    outShape = outType.getShape().drop_front(2);
  int64_t batch = type.getDimSize(0), channels = type.getDimSize(1);
  int64_t inSize = 1, outSize = 1, taps = 1;
  for (size_t d = 0; d < spatial; ++d) {
    inSize *= inShape[d];
    outSize *= outShape[d];
    taps *= kernel[d];
  }
  Type i64 = n.builder.getIntegerType(64);
  ConstantTensor source(RankedTensorType::get({outSize, taps}, i64));
  ConstantTensor flatIndex(RankedTensorType::get({1, 1, outSize, taps}, i64));
  ConstantTensor valid(
      RankedTensorType::get({outSize, taps}, n.builder.getI1Type()));
  SmallVector<int64_t> at(spatial), tap(spatial);
  for (int64_t o = 0; o < outSize; ++o) {
    for (int64_t rest = o, d = spatial - 1; d >= 0; --d) {
      at[d] = rest % outShape[d];
      rest /= outShape[d];
    }
    for (int64_t t = 0; t < taps; ++t) {
      for (int64_t rest = t, d = spatial - 1; d >= 0; --d) {
        tap[d] = rest % kernel[d];
        rest /= kernel[d];
      }
      int64_t rowMajor = 0, colMajor = 0, stride = 1;
      bool inside = true;
      for (size_t d = 0; d < spatial; ++d) {
        int64_t p = at[d] * strides[d] - pads[d] + tap[d] * dilations[d];
        inside &= p >= 0 && p < inShape[d];
        rowMajor = rowMajor * inShape[d] + p;
        colMajor += p * stride;
        stride *= inShape[d];
      }
      source.setInt(o * taps + t, inside ? rowMajor : 0);
      flatIndex.setInt(o * taps + t,
                       inside ? (columnMajor ? colMajor : rowMajor) : 0);
      valid.setInt(o * taps + t, inside);
    }
  }
  Type element = type.getElementType();
  KILN_TRY(flat, n.reshape(x, {batch, channels, inSize}));
  KILN_TRY(windows, n.create<mlir::kiln::GatherOp>(
                        flat, n.constant(source.toAttr()), (uint64_t)2));
  double lowest = -std::numeric_limits<double>::infinity();
  if (auto integer = dyn_cast<IntegerType>(element))
    lowest =
        integer.isUnsigned() ? 0 : -std::ldexp(1.0, integer.getWidth() - 1);
  KILN_TRY(masked,
           n.create<mlir::kiln::WhereOp>(n.constant(valid.toAttr()), windows,
                                         n.splat(element, lowest)));
  KILN_TRY(best,
           n.create<mlir::kiln::ArgMaxOp>(masked, (uint64_t)3, true, false));
  KILN_TRY(table,
           n.createTyped<mlir::kiln::ExpandOp>(
               RankedTensorType::get({batch, channels, outSize, taps}, i64),
               n.constant(flatIndex.toAttr())));
  KILN_TRY(picked,
           n.create<mlir::kiln::GatherElementsOp>(table, best, (uint64_t)3));
  // Offsets of each (batch, channel) plane in the flattened input.
  ConstantTensor planes(RankedTensorType::get({batch, channels, 1}, i64));
  for (int64_t p = 0; p < batch * channels; ++p)
    planes.setInt(p, p * inSize);
  KILN_TRY(indices, n.reshape(picked, {batch, channels, outSize}));
  KILN_TRY(global,
           n.create<mlir::kiln::AddOp>(indices, n.constant(planes.toAttr())));
  return n.reshape(global, outType.getShape());
}

LogicalResult importMaxPool(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)) ||
      failed(n.expectOutputs(n.opset >= 8 ? 2 : 1)))
    return failure();
  auto input = n.inputType(0);
  if (input.getRank() < 3)
    return n.error("input must have rank >= 3");
  size_t spatial = input.getRank() - 2;
  SmallVector<int64_t> kernel = n.attrInts("kernel_shape");
  if (kernel.size() != spatial)
    return n.error("kernel_shape must have one entry per spatial dim");
  bool columnMajor = n.attrInt("storage_order", 0) != 0;
  SmallVector<int64_t> strides, dilations, pads;
  if (failed(
          windowAttrs(n, spatial, strides, dilations, pads, n.opset >= 10)) ||
      failed(resolveAutoPad(n, input.getShape().drop_front(2), kernel, strides,
                            dilations, pads)))
    return failure();
  bool ceil = n.opset >= 10 && n.attrInt("ceil_mode", 0) != 0;
  KILN_TRY(pooled, n.create<mlir::kiln::MaxPoolOp>(n.input(0), kernel, strides,
                                                   pads, dilations, ceil));
  n.setOutput(0, pooled);
  if (n.hasOutput(1)) {
    KILN_TRY(indices, maxPoolIndices(n, n.input(0), pooled, kernel, strides,
                                     dilations, pads, columnMajor));
    n.setOutput(1, indices);
  }
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
  t["BatchNormalization"] = {
      importBatchNorm, 7,
      "inference folds into a preceding Conv; training_mode from opset 14"};
  t["LayerNormalization"] = {importLayerNorm, 17};
  t["Softmax"] = {importSoftmax<mlir::kiln::SoftmaxOp>};
  t["LogSoftmax"] = {importSoftmax<mlir::kiln::LogSoftmaxOp>};
  t["MaxPool"] = {importMaxPool, 7,
                  "Indices through a compile-time window table and argmax"};
  t["AveragePool"] = {importAveragePool};
  t["GlobalAveragePool"] = {importGlobalPool<mlir::kiln::ReduceMeanOp>, 1};
  t["GlobalMaxPool"] = {importGlobalPool<mlir::kiln::ReduceMaxOp>, 1};
}

} // namespace kiln::onnx_import
