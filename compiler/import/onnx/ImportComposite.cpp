//===- ImportComposite.cpp - ops imported as several Kiln ops
//--------------===//
//
// ONNX ops that are compositions of Kiln ops: normalisations with extra
// statistics outputs, index-mask tricks (Trilu, OneHot, Hardmax), layout
// shuffles (DepthToSpace, Tile) and predicates (IsNaN, IsInf). After fusion
// each is usually one or two dispatches, as a dedicated op would be.
//
//===----------------------------------------------------------------------===//

#include "compiler/import/onnx/NodeImporter.h"

using namespace mlir;
using mlir::kiln::ConstantTensor;
namespace k = mlir::kiln;

namespace kiln::onnx_import {
namespace {

LogicalResult importCastLike(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  auto type = RankedTensorType::get(n.inputType(0).getShape(),
                                    n.inputType(1).getElementType());
  KILN_TRY(result, n.createTyped<k::CastOp>(type, n.input(0)));
  n.setOutput(0, result);
  return success();
}

LogicalResult importIsNaN(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  KILN_TRY(same, n.create<k::EqualOp>(n.input(0), n.input(0)));
  KILN_TRY(result, n.createTyped<k::NotOp>(same.getType(), same));
  n.setOutput(0, result);
  return success();
}

LogicalResult importIsInf(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  Value x = n.input(0);
  Type element = n.inputType(0).getElementType();
  bool negative = n.attrInt("detect_negative", 1) != 0;
  bool positive = n.attrInt("detect_positive", 1) != 0;
  double inf = std::numeric_limits<double>::infinity();
  Value result;
  for (auto [detect, value] : {std::pair{positive, inf}, {negative, -inf}}) {
    if (!detect)
      continue;
    KILN_TRY(hit, n.create<k::EqualOp>(x, n.splat(element, value)));
    if (result) {
      KILN_TRY(either, n.create<k::OrOp>(result, hit));
      result = either;
    } else {
      result = hit;
    }
  }
  if (!result) {
    KILN_TRY(none, n.create<k::EqualOp>(x, n.splat(element, inf)));
    KILN_TRY(never,
             n.create<k::AndOp>(none, n.splat(n.builder.getI1Type(), 0)));
    result = never;
  }
  n.setOutput(0, result);
  return success();
}

LogicalResult importShrink(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  Value x = n.input(0);
  Type element = n.inputType(0).getElementType();
  double lambd = n.attrFloat("lambd", 0.5f), bias = n.attrFloat("bias", 0.0f);
  KILN_TRY(low, n.create<k::LessOp>(x, n.splat(element, -lambd)));
  KILN_TRY(high, n.create<k::GreaterOp>(x, n.splat(element, lambd)));
  KILN_TRY(up, n.create<k::AddOp>(x, n.splat(element, bias)));
  KILN_TRY(down, n.create<k::SubOp>(x, n.splat(element, bias)));
  KILN_TRY(inner, n.create<k::WhereOp>(high, down, n.splat(element, 0)));
  KILN_TRY(result, n.create<k::WhereOp>(low, up, inner));
  n.setOutput(0, result);
  return success();
}

/// Normalises `x` over `axes`: returns (x - mean) and 1/sqrt(var + eps),
/// both broadcastable against x (kept dims).
LogicalResult normalize(NodeImporter &n, Value x, ArrayRef<int64_t> axes,
                        double epsilon, Value &centered, Value &mean,
                        Value &invStdDev) {
  Type element = typeOf(x).getElementType();
  KILN_TRY(m, n.create<k::ReduceMeanOp>(x, axes, true));
  KILN_TRY(d, n.create<k::SubOp>(x, m));
  KILN_TRY(sq, n.create<k::MulOp>(d, d));
  KILN_TRY(var, n.create<k::ReduceMeanOp>(sq, axes, true));
  KILN_TRY(shifted, n.create<k::AddOp>(var, n.splat(element, epsilon)));
  KILN_TRY(stddev, n.createTyped<k::SqrtOp>(shifted.getType(), shifted));
  KILN_TRY(inv, n.createTyped<k::ReciprocalOp>(stddev.getType(), stddev));
  centered = d;
  mean = m;
  invStdDev = inv;
  return success();
}

/// LayerNormalization when Mean or InvStdDev is requested (with only Y it is
/// kiln.layer_norm, see ImportNeuralNetwork.cpp).
LogicalResult importLayerNormWithStatistics(NodeImporter &n) {
  int64_t rank = n.inputType(0).getRank();
  int64_t axis = n.attrInt("axis", -1);
  if (failed(n.normalizeAxis(axis, rank)))
    return failure();
  if (n.attrInt("stash_type", 1) != 1)
    return n.error("stash_type other than float is not supported");
  SmallVector<int64_t> axes;
  for (int64_t d = axis; d < rank; ++d)
    axes.push_back(d);
  Value centered, mean, inv;
  if (failed(normalize(n, n.input(0), axes, n.attrFloat("epsilon", 1e-5f),
                       centered, mean, inv)))
    return failure();
  KILN_TRY(normalized, n.create<k::MulOp>(centered, inv));
  KILN_TRY(scaled, n.create<k::MulOp>(normalized, n.input(1)));
  Value y = scaled;
  if (n.hasInput(2)) {
    KILN_TRY(shifted, n.create<k::AddOp>(y, n.input(2)));
    y = shifted;
  }
  n.setOutput(0, y);
  n.setOutput(1, mean);
  n.setOutput(2, inv);
  return success();
}

LogicalResult importInstanceNorm(NodeImporter &n) {
  if (failed(n.expectInputs(3, 3)))
    return failure();
  auto type = n.inputType(0);
  int64_t rank = type.getRank();
  if (rank < 3)
    return n.error("input must have rank >= 3");
  SmallVector<int64_t> axes;
  for (int64_t d = 2; d < rank; ++d)
    axes.push_back(d);
  Value centered, mean, inv;
  if (failed(normalize(n, n.input(0), axes, n.attrFloat("epsilon", 1e-5f),
                       centered, mean, inv)))
    return failure();
  SmallVector<int64_t> paramShape(rank - 1, 1);
  paramShape[0] = type.getDimSize(1);
  KILN_TRY(scale, n.reshape(n.input(1), paramShape));
  KILN_TRY(bias, n.reshape(n.input(2), paramShape));
  KILN_TRY(normalized, n.create<k::MulOp>(centered, inv));
  KILN_TRY(scaled, n.create<k::MulOp>(normalized, scale));
  KILN_TRY(result, n.create<k::AddOp>(scaled, bias));
  n.setOutput(0, result);
  return success();
}

LogicalResult importMeanVarianceNormalization(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  int64_t rank = n.inputType(0).getRank();
  SmallVector<int64_t> axes = n.attrInts("axes", {0, 2, 3});
  for (int64_t &axis : axes)
    if (failed(n.normalizeAxis(axis, rank)))
      return failure();
  llvm::sort(axes);
  Value centered, mean, inv;
  if (failed(normalize(n, n.input(0), axes, 1e-9, centered, mean, inv)))
    return failure();
  KILN_TRY(result, n.create<k::MulOp>(centered, inv));
  n.setOutput(0, result);
  return success();
}

/// y = x / (bias + alpha/size * sum of x^2 over `size` neighbouring
/// channels)^beta; the channel window sum is an average pool times size.
LogicalResult importLRN(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  auto type = n.inputType(0);
  if (type.getRank() < 3)
    return n.error("input must have rank >= 3");
  Type element = type.getElementType();
  int64_t size = n.attrInt("size", 0);
  if (size <= 0)
    return n.error("size must be positive");
  double alpha = n.attrFloat("alpha", 1e-4f), beta = n.attrFloat("beta", 0.75f),
         bias = n.attrFloat("bias", 1.0f);
  int64_t batch = type.getDimSize(0), channels = type.getDimSize(1);
  int64_t rest = type.getNumElements() / (batch * channels);
  KILN_TRY(square, n.create<k::MulOp>(n.input(0), n.input(0)));
  KILN_TRY(planes, n.reshape(square, {batch, 1, channels, rest}));
  int64_t before = (size - 1) / 2, after = size - 1 - before;
  KILN_TRY(window,
           n.create<k::AveragePoolOp>(
               planes, ArrayRef<int64_t>{size, 1}, ArrayRef<int64_t>{1, 1},
               ArrayRef<int64_t>{before, 0, after, 0}, false, true));
  KILN_TRY(sums, n.reshape(window, type.getShape()));
  KILN_TRY(scaled, n.create<k::MulOp>(sums, n.splat(element, alpha)));
  KILN_TRY(shifted, n.create<k::AddOp>(scaled, n.splat(element, bias)));
  KILN_TRY(power, n.create<k::PowOp>(shifted, n.splat(element, beta)));
  KILN_TRY(result, n.create<k::DivOp>(n.input(0), power));
  n.setOutput(0, result);
  return success();
}

LogicalResult importHardmax(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  auto type = n.inputType(0);
  int64_t rank = type.getRank();
  int64_t axis = n.attrInt("axis", n.opset < 13 ? 1 : -1);
  if (failed(n.normalizeAxis(axis, rank)))
    return failure();
  Value x = n.input(0);
  int64_t workRank = rank, workAxis = axis;
  if (n.opset < 13) {
    // Coerced to 2-D [prod(dims[:axis]), prod(dims[axis:])], along dim 1.
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < rank; ++d)
      (d < axis ? outer : inner) *= type.getDimSize(d);
    KILN_TRY(flat, n.reshape(x, {outer, inner}));
    x = flat;
    workRank = 2;
    workAxis = 1;
  }
  int64_t size = typeOf(x).getDimSize(workAxis);
  KILN_TRY(index, n.create<k::ArgMaxOp>(x, (uint64_t)workAxis, true, false));
  KILN_TRY(hit, n.create<k::EqualOp>(index, n.iota(workRank, workAxis, size)));
  KILN_TRY(values, n.createTyped<k::CastOp>(
                       RankedTensorType::get(typeOf(hit).getShape(),
                                             type.getElementType()),
                       hit));
  KILN_TRY(result, n.reshape(values, type.getShape()));
  n.setOutput(0, result);
  return success();
}

LogicalResult importOneHot(NodeImporter &n) {
  if (failed(n.expectInputs(3, 3)))
    return failure();
  auto depthValue = n.constantInput(1);
  if (!depthValue || depthValue->size() != 1)
    return n.notKnownAtCompileTime(1, "depth");
  int64_t depth = (int64_t)depthValue->getFloat(0);
  if (depth <= 0)
    return n.error("depth must be positive");
  auto values = n.inputType(2);
  if (values.getNumElements() != 2)
    return n.error("values must hold [off, on]");
  auto indicesType = n.inputType(0);
  int64_t rank = indicesType.getRank() + 1;
  int64_t axis = n.attrInt("axis", -1);
  if (failed(n.normalizeAxis(axis, rank)))
    return failure();
  Type i64 = n.builder.getIntegerType(64);
  KILN_TRY(indices,
           n.createTyped<k::CastOp>(
               RankedTensorType::get(indicesType.getShape(), i64), n.input(0)));
  // Negative indices count from the end.
  KILN_TRY(negative, n.create<k::LessOp>(indices, n.splat(i64, 0)));
  KILN_TRY(wrapped, n.create<k::AddOp>(indices, n.splat(i64, depth)));
  KILN_TRY(positions, n.create<k::WhereOp>(negative, wrapped, indices));
  SmallVector<int64_t> expanded(indicesType.getShape());
  expanded.insert(expanded.begin() + axis, 1);
  KILN_TRY(column, n.reshape(positions, expanded));
  KILN_TRY(hit, n.create<k::EqualOp>(column, n.iota(rank, axis, depth)));
  KILN_TRY(flatValues, n.reshape(n.input(2), {2}));
  KILN_TRY(off,
           n.create<k::SliceOp>(flatValues, ArrayRef<int64_t>{0},
                                ArrayRef<int64_t>{1}, ArrayRef<int64_t>{1}));
  KILN_TRY(on,
           n.create<k::SliceOp>(flatValues, ArrayRef<int64_t>{1},
                                ArrayRef<int64_t>{1}, ArrayRef<int64_t>{1}));
  KILN_TRY(result, n.create<k::WhereOp>(hit, on, off));
  n.setOutput(0, result);
  return success();
}

LogicalResult importTrilu(NodeImporter &n) {
  if (failed(n.expectInputs(1, 2)))
    return failure();
  auto type = n.inputType(0);
  if (type.getRank() < 2)
    return n.error("input must have rank >= 2");
  int64_t k = 0;
  if (n.hasInput(1)) {
    auto given = n.constantInts(1, "k");
    if (failed(given))
      return failure();
    k = given->front();
  }
  bool upper = n.attrInt("upper", 1) != 0;
  int64_t rows = type.getDimSize(type.getRank() - 2),
          cols = type.getDimSize(type.getRank() - 1);
  ConstantTensor mask(
      RankedTensorType::get({rows, cols}, n.builder.getI1Type()));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      mask.setInt(i * cols + j, upper ? j - i >= k : j - i <= k);
  KILN_TRY(result, n.create<k::WhereOp>(n.constant(mask.toAttr()), n.input(0),
                                        n.splat(type.getElementType(), 0)));
  n.setOutput(0, result);
  return success();
}

/// Reshape -> transpose -> reshape, the shape of every layout shuffle.
LogicalResult shuffle(NodeImporter &n, ArrayRef<int64_t> split,
                      ArrayRef<int64_t> perm, ArrayRef<int64_t> result) {
  KILN_TRY(expanded, n.reshape(n.input(0), split));
  KILN_TRY(moved, n.create<k::TransposeOp>(expanded, perm));
  KILN_TRY(out, n.reshape(moved, result));
  n.setOutput(0, out);
  return success();
}

LogicalResult importDepthToSpace(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  auto type = n.inputType(0);
  int64_t b = n.attrInt("blocksize", 0);
  if (type.getRank() != 4 || b <= 0 || type.getDimSize(1) % (b * b))
    return n.error("needs a 4-D input whose channels divide by blocksize^2");
  int64_t N = type.getDimSize(0), C = type.getDimSize(1),
          H = type.getDimSize(2), W = type.getDimSize(3);
  std::string mode = n.attrString("mode", "DCR");
  if (mode == "DCR")
    return shuffle(n, {N, b, b, C / (b * b), H, W}, {0, 3, 4, 1, 5, 2},
                   {N, C / (b * b), H * b, W * b});
  if (mode == "CRD")
    return shuffle(n, {N, C / (b * b), b, b, H, W}, {0, 1, 4, 2, 5, 3},
                   {N, C / (b * b), H * b, W * b});
  return n.error("unknown mode '" + mode + "'");
}

LogicalResult importSpaceToDepth(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  auto type = n.inputType(0);
  int64_t b = n.attrInt("blocksize", 0);
  if (type.getRank() != 4 || b <= 0 || type.getDimSize(2) % b ||
      type.getDimSize(3) % b)
    return n.error("needs a 4-D input whose spatial dims divide by blocksize");
  int64_t N = type.getDimSize(0), C = type.getDimSize(1),
          H = type.getDimSize(2), W = type.getDimSize(3);
  return shuffle(n, {N, C, H / b, b, W / b, b}, {0, 3, 5, 1, 2, 4},
                 {N, C * b * b, H / b, W / b});
}

LogicalResult importTile(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  auto repeats = n.constantInts(1, "repeats");
  if (failed(repeats))
    return failure();
  auto type = n.inputType(0);
  if ((int64_t)repeats->size() != type.getRank())
    return n.error("repeats must have one entry per dim");
  // [d0, d1] -> [1, d0, 1, d1] -> [r0, d0, r1, d1] -> [r0*d0, r1*d1]
  SmallVector<int64_t> interleaved, expanded, result;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    int64_t r = (*repeats)[d];
    if (r < 0)
      return n.error("negative repeat");
    interleaved.append({1, type.getDimSize(d)});
    expanded.append({r, type.getDimSize(d)});
    result.push_back(r * type.getDimSize(d));
  }
  KILN_TRY(spread, n.reshape(n.input(0), interleaved));
  KILN_TRY(copies,
           n.createTyped<k::ExpandOp>(
               RankedTensorType::get(expanded, type.getElementType()), spread));
  KILN_TRY(out, n.reshape(copies, result));
  n.setOutput(0, out);
  return success();
}

LogicalResult importEyeLike(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  auto type = n.inputType(0);
  if (type.getRank() != 2)
    return n.error("input must be 2-D");
  Type element = type.getElementType();
  if (n.hasAttr("dtype")) {
    element = elementTypeFor(*n.context(), n.attrInt("dtype", 1));
    if (!element)
      return n.error("unsupported dtype");
  }
  int64_t k = n.attrInt("k", 0);
  int64_t rows = type.getDimSize(0), cols = type.getDimSize(1);
  ConstantTensor eye(RankedTensorType::get({rows, cols}, element));
  for (int64_t i = 0; i < rows; ++i)
    if (i + k >= 0 && i + k < cols)
      eye.set(i * cols + i + k, 1);
  n.setOutput(0, n.constant(eye.toAttr()));
  return success();
}

/// -input[n, target[n, d], d] * weight[target], zero where target is
/// ignore_index, then reduced ("none", "sum", or a weighted "mean").
LogicalResult negativeLogLikelihood(NodeImporter &n, Value input, Value target,
                                    Value weight, Value &loss) {
  auto inputType = typeOf(input), targetType = typeOf(target);
  Type element = inputType.getElementType();
  Type index = targetType.getElementType();
  if (inputType.getRank() < 2 ||
      targetType.getRank() != inputType.getRank() - 1)
    return n.error("input must be [N, C, d...] and target [N, d...]");
  std::string reduction = n.attrString("reduction", "mean");
  if (reduction != "none" && reduction != "sum" && reduction != "mean")
    return n.error("unknown reduction '" + reduction + "'");
  Value mask, safeTarget = target;
  if (n.hasAttr("ignore_index")) {
    Value ignored = n.splat(index, n.attrInt("ignore_index", 0));
    KILN_TRY(hit, n.create<k::EqualOp>(target, ignored));
    KILN_TRY(keep, n.createTyped<k::NotOp>(hit.getType(), hit));
    KILN_TRY(safe, n.create<k::WhereOp>(keep, target, n.splat(index, 0)));
    mask = keep;
    safeTarget = safe;
  }
  SmallVector<int64_t> column(targetType.getShape());
  column.insert(column.begin() + 1, 1);
  KILN_TRY(indices, n.reshape(safeTarget, column));
  KILN_TRY(picked, n.create<k::GatherElementsOp>(input, indices, (uint64_t)1));
  KILN_TRY(values, n.reshape(picked, targetType.getShape()));
  Value weights = n.splat(element, 1);
  if (weight) {
    KILN_TRY(perTarget, n.create<k::GatherOp>(weight, safeTarget, (uint64_t)0));
    weights = perTarget;
  }
  if (mask) {
    KILN_TRY(masked, n.create<k::WhereOp>(mask, weights, n.splat(element, 0)));
    weights = masked;
  }
  KILN_TRY(weighted, n.create<k::MulOp>(values, weights));
  KILN_TRY(negated, n.createTyped<k::NegOp>(weighted.getType(), weighted));
  if (reduction == "none") {
    loss = negated;
    return success();
  }
  SmallVector<int64_t> all;
  for (int64_t d = 0; d < targetType.getRank(); ++d)
    all.push_back(d);
  KILN_TRY(total, n.create<k::ReduceSumOp>(negated, all, false));
  if (reduction == "sum") {
    loss = total;
    return success();
  }
  Value count;
  if (weight || mask) {
    KILN_TRY(full, n.create<k::MulOp>(
                       weights, n.splat(element, 1, targetType.getShape())));
    KILN_TRY(sum, n.create<k::ReduceSumOp>(full, all, false));
    count = sum;
  } else {
    count = n.splat(element, (double)targetType.getNumElements());
  }
  KILN_TRY(mean, n.create<k::DivOp>(total, count));
  loss = mean;
  return success();
}

LogicalResult importNegativeLogLikelihoodLoss(NodeImporter &n) {
  if (failed(n.expectInputs(2, 3)))
    return failure();
  Value loss;
  if (failed(negativeLogLikelihood(n, n.input(0), n.input(1),
                                   n.hasInput(2) ? n.input(2) : Value(), loss)))
    return failure();
  n.setOutput(0, loss);
  return success();
}

LogicalResult importSoftmaxCrossEntropyLoss(NodeImporter &n) {
  if (failed(n.expectInputs(2, 3)))
    return failure();
  KILN_TRY(logProb, n.createTyped<k::LogSoftmaxOp>(n.inputType(0), n.input(0),
                                                   (uint64_t)1));
  Value loss;
  if (failed(negativeLogLikelihood(n, logProb, n.input(1),
                                   n.hasInput(2) ? n.input(2) : Value(), loss)))
    return failure();
  n.setOutput(0, loss);
  n.setOutput(1, logProb);
  return success();
}

/// One dim of ONNX Resize as a dense [out, in] interpolation matrix, built
/// at compile time the way the ONNX reference computes each output: the
/// source coordinate from the coordinate transformation, the n nearest
/// source indices (edge-clamped), and the mode's coefficients. `outside`
/// marks outputs that tf_crop_and_resize fills with the extrapolation value.
struct ResizeSpec {
  std::string mode, transform, nearestMode;
  double cubicA;
  bool excludeOutside;
};

LogicalResult resizeMatrix(NodeImporter &n, const ResizeSpec &spec, int64_t in,
                           int64_t out, double scale, double roiStart,
                           double roiEnd, std::vector<double> &weights,
                           std::vector<bool> &outside) {
  weights.assign(out * in, 0.0);
  outside.assign(out, false);
  // The reference scales the length without flooring it (in * scale, not
  // out): with scales that do not divide evenly, align_corners and
  // tf_crop_and_resize divide by that unrounded length.
  double length = in * scale;
  for (int64_t x = 0; x < out; ++x) {
    double source;
    const std::string &t = spec.transform;
    if (t == "half_pixel")
      source = (x + 0.5) / scale - 0.5;
    else if (t == "pytorch_half_pixel")
      source = length > 1 ? (x + 0.5) / scale - 0.5 : -0.5;
    else if (t == "align_corners")
      source = length == 1 ? 0 : x * double(in - 1) / (length - 1);
    else if (t == "asymmetric")
      source = x / scale;
    else if (t == "tf_half_pixel_for_nn")
      source = (x + 0.5) / scale;
    else if (t == "tf_crop_and_resize") {
      source = length > 1 ? roiStart * (in - 1) + x * (roiEnd - roiStart) *
                                                      (in - 1) / (length - 1)
                          : 0.5 * (roiStart + roiEnd) * (in - 1);
      if (source < 0 || source > in - 1) {
        outside[x] = true;
        continue;
      }
    } else {
      return n.error("unknown coordinate_transformation_mode '" + t + "'");
    }
    double whole = std::floor(source);
    double ratio = source == whole ? 1.0 : source - whole;
    std::vector<double> coeffs;
    if (spec.mode == "nearest") {
      // On a whole source coordinate every rounding mode picks it: the
      // right one of the two taps (whole - 1, whole).
      const std::string &m = spec.nearestMode;
      if (source == whole)
        coeffs = {0, 1};
      else if (m == "round_prefer_floor")
        coeffs = {double(ratio <= 0.5), double(ratio > 0.5)};
      else if (m == "round_prefer_ceil")
        coeffs = {double(ratio < 0.5), double(ratio >= 0.5)};
      else if (m == "floor")
        coeffs = {1, 0};
      else if (m == "ceil")
        coeffs = {0, 1};
      else
        return n.error("unknown nearest_mode '" + m + "'");
    } else if (spec.mode == "linear") {
      coeffs = {1 - ratio, ratio};
    } else if (spec.mode == "cubic") {
      double a = spec.cubicA, r = ratio, q = 1 - ratio;
      coeffs = {((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
                ((a + 2) * r - (a + 3)) * r * r + 1,
                ((a + 2) * q - (a + 3)) * q * q + 1,
                ((a * (q + 1) - 5 * a) * (q + 1) + 8 * a) * (q + 1) - 4 * a};
    } else {
      return n.error("unknown mode '" + spec.mode + "'");
    }
    // The len(coeffs) indices nearest to the source, ties to the left.
    int64_t taps = coeffs.size();
    int64_t first = (int64_t)std::ceil(source) - taps / 2;
    if (source != whole && taps % 2 == 0)
      first = (int64_t)whole - taps / 2 + 1;
    else if (source == whole)
      first = (int64_t)whole - taps / 2;
    if (spec.excludeOutside) {
      double sum = 0;
      for (int64_t i = 0; i < taps; ++i) {
        if (first + i < 0 || first + i >= in)
          coeffs[i] = 0;
        sum += coeffs[i];
      }
      for (double &c : coeffs)
        c = sum != 0 ? c / sum : 0;
    }
    for (int64_t i = 0; i < taps; ++i) {
      int64_t at = std::clamp<int64_t>(first + i, 0, in - 1);
      weights[x * in + at] += coeffs[i];
    }
  }
  return success();
}

/// Resizes `x` to `outShape` one dim at a time, last dim first (the order
/// the reference's recursion composes them in): move the dim last, multiply
/// by the interpolation matrix, apply the extrapolation mask, move it back.
LogicalResult resize(NodeImporter &n, Value x, ArrayRef<int64_t> outShape,
                     ArrayRef<double> scales, ArrayRef<double> roi,
                     const ResizeSpec &spec, double extrapolation) {
  auto type = typeOf(x);
  Type element = type.getElementType();
  if (!isa<FloatType>(element))
    return n.error("only floating-point inputs are supported");
  int64_t rank = type.getRank();
  Value value = x;
  for (int64_t d = rank - 1; d >= 0; --d) {
    int64_t in = type.getDimSize(d), out = outShape[d];
    double start = roi.empty() ? 0 : roi[d],
           end = roi.empty() ? 1 : roi[rank + d];
    std::vector<double> weights;
    std::vector<bool> outside;
    if (failed(resizeMatrix(n, spec, in, out, scales[d], start, end, weights,
                            outside)))
      return failure();
    bool identity =
        in == out && llvm::none_of(outside, [](bool b) { return b; });
    for (int64_t i = 0; identity && i < out; ++i)
      for (int64_t j = 0; j < in; ++j)
        identity &= weights[i * in + j] == (i == j ? 1.0 : 0.0);
    if (identity)
      continue;
    KILN_TRY(moved, n.swapDims(value, d, rank - 1));
    ConstantTensor matrix(RankedTensorType::get({in, out}, element));
    for (int64_t i = 0; i < out; ++i)
      for (int64_t j = 0; j < in; ++j)
        matrix.set(j * out + i, weights[i * in + j]);
    KILN_TRY(resized,
             n.create<k::MatMulOp>(moved, n.constant(matrix.toAttr())));
    if (llvm::any_of(outside, [](bool b) { return b; })) {
      ConstantTensor mask(RankedTensorType::get({out}, n.builder.getI1Type()));
      for (int64_t i = 0; i < out; ++i)
        mask.setInt(i, outside[i]);
      KILN_TRY(filled,
               n.create<k::WhereOp>(n.constant(mask.toAttr()),
                                    n.splat(element, extrapolation), resized));
      resized = filled;
    }
    KILN_TRY(back, n.swapDims(resized, d, rank - 1));
    value = back;
  }
  if (value == x) { // nothing to do: the output is still a new tensor
    KILN_TRY(copy, n.createTyped<k::IdentityOp>(x.getType(), x));
    value = copy;
  }
  n.setOutput(0, value);
  return success();
}

LogicalResult importResize(NodeImporter &n) {
  auto type = n.inputType(0);
  int64_t rank = type.getRank();
  ResizeSpec spec{n.attrString("mode", "nearest"),
                  n.attrString("coordinate_transformation_mode",
                               n.opset >= 11 ? "half_pixel" : "asymmetric"),
                  n.attrString("nearest_mode", "round_prefer_floor"),
                  n.attrFloat("cubic_coeff_a", -0.75f),
                  n.attrInt("exclude_outside", 0) != 0};
  double extrapolation = n.attrFloat("extrapolation_value", 0.0f);
  int scalesInput = n.opset >= 11 ? 2 : 1;
  if (failed(n.expectInputs(n.opset >= 11 ? 1 : 2, n.opset >= 11 ? 4 : 2)))
    return failure();
  SmallVector<double> scales, roi;
  SmallVector<int64_t> outShape;
  auto readFloats = [&](int i, SmallVector<double> &values) -> LogicalResult {
    if (!n.hasInput(i))
      return success();
    auto c = n.constantInput(i);
    if (!c)
      return n.notKnownAtCompileTime(i, i == 1 ? "roi" : "scales");
    for (int64_t j = 0; j < c->size(); ++j)
      values.push_back(c->getFloat(j));
    return success();
  };
  if (failed(readFloats(scalesInput, scales)) ||
      (n.opset >= 11 && failed(readFloats(1, roi))))
    return failure();
  if (n.opset >= 11 && n.hasInput(3)) {
    auto sizes = n.constantInts(3, "sizes");
    if (failed(sizes))
      return failure();
    outShape = *sizes;
    scales.clear();
    for (int64_t d = 0; d < rank; ++d)
      scales.push_back(double(outShape[d]) / type.getDimSize(d));
  } else {
    if ((int64_t)scales.size() != rank)
      return n.error("scales must have one entry per dim");
    for (int64_t d = 0; d < rank; ++d)
      outShape.push_back((int64_t)std::floor(type.getDimSize(d) * scales[d]));
  }
  if ((int64_t)outShape.size() != rank ||
      (!roi.empty() && (int64_t)roi.size() != 2 * rank))
    return n.error("sizes/roi do not match the input's rank");
  return resize(n, n.input(0), outShape, scales, roi, spec, extrapolation);
}

/// Upsample (opsets 7-9): Resize with asymmetric coordinates.
LogicalResult importUpsample(NodeImporter &n) {
  auto type = n.inputType(0);
  SmallVector<double> scales;
  if (n.opset >= 9) {
    if (failed(n.expectInputs(2, 2)))
      return failure();
    auto c = n.constantInput(1);
    if (!c)
      return n.notKnownAtCompileTime(1, "scales");
    for (int64_t j = 0; j < c->size(); ++j)
      scales.push_back(c->getFloat(j));
  } else {
    for (float f : n.attrFloats("scales"))
      scales.push_back(f);
  }
  if ((int64_t)scales.size() != type.getRank())
    return n.error("scales must have one entry per dim");
  SmallVector<int64_t> outShape;
  for (int64_t d = 0; d < type.getRank(); ++d)
    outShape.push_back((int64_t)std::floor(type.getDimSize(d) * scales[d]));
  ResizeSpec spec{n.attrString("mode", "nearest"), "asymmetric", "floor", -0.75,
                  false};
  if (spec.mode == "bilinear")
    spec.mode = "linear";
  return resize(n, n.input(0), outShape, scales, {}, spec, 0);
}

/// GatherND as a Gather on the flattened leading dims: each index tuple
/// (plus its batch position) becomes one linear row index.
LogicalResult importGatherND(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  auto dataType = n.inputType(0), indexType = n.inputType(1);
  int64_t batch = n.attrInt("batch_dims", 0);
  int64_t last = indexType.getDimSize(indexType.getRank() - 1);
  int64_t dataRank = dataType.getRank(), indexRank = indexType.getRank();
  if (batch < 0 || batch >= indexRank || batch + last > dataRank)
    return n.error("indices do not fit the data's rank and batch_dims");
  for (int64_t d = 0; d < batch; ++d)
    if (dataType.getDimSize(d) != indexType.getDimSize(d))
      return n.error("batch dims of data and indices differ");
  Type i64 = n.builder.getIntegerType(64);
  KILN_TRY(indices, n.castElements(n.input(1), i64));
  ArrayRef<int64_t> indexShape = indexType.getShape();
  SmallVector<int64_t> rowShape(indexShape.drop_back());
  // Row index within the gathered dims, one tuple component at a time.
  Value row = n.splat(i64, 0);
  int64_t stride = 1;
  for (int64_t j = last - 1; j >= 0; --j) {
    int64_t dim = dataType.getDimSize(batch + j);
    SmallVector<int64_t> starts(indexRank, 0), sizes(indexShape),
        steps(indexRank, 1);
    starts.back() = j;
    sizes.back() = 1;
    KILN_TRY(component, n.create<k::SliceOp>(indices, starts, sizes, steps));
    KILN_TRY(negative, n.create<k::LessOp>(component, n.splat(i64, 0)));
    KILN_TRY(wrapped, n.create<k::AddOp>(component, n.splat(i64, dim)));
    KILN_TRY(positive, n.create<k::WhereOp>(negative, wrapped, component));
    KILN_TRY(scaled, n.create<k::MulOp>(positive, n.splat(i64, stride)));
    KILN_TRY(sum, n.create<k::AddOp>(row, scaled));
    row = sum;
    stride *= dim;
  }
  // Batch positions: each batch index times the gathered block count.
  int64_t blocks = stride;
  for (int64_t d = batch - 1; d >= 0; --d) {
    SmallVector<int64_t> shape(indexRank, 1);
    shape[d] = indexShape[d];
    ConstantTensor offsets(RankedTensorType::get(shape, i64));
    for (int64_t i = 0; i < indexShape[d]; ++i)
      offsets.setInt(i, i * blocks);
    KILN_TRY(sum, n.create<k::AddOp>(row, n.constant(offsets.toAttr())));
    row = sum;
    blocks *= indexShape[d];
  }
  KILN_TRY(rows, n.reshape(row, rowShape));
  SmallVector<int64_t> flatData = {blocks};
  for (int64_t d = batch + last; d < dataRank; ++d)
    flatData.push_back(dataType.getDimSize(d));
  KILN_TRY(flat, n.reshape(n.input(0), flatData));
  KILN_TRY(gathered, n.create<k::GatherOp>(flat, rows, (uint64_t)0));
  // The gather already has the output's shape: batch dims come from rows.
  n.setOutput(0, gathered);
  return success();
}

/// out[b, t] = t < len[b] ? in[b, len[b] - 1 - t] : in[b, t], as a
/// GatherElements along the time axis.
LogicalResult importReverseSequence(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  auto type = n.inputType(0);
  int64_t rank = type.getRank();
  int64_t batchAxis = n.attrInt("batch_axis", 1),
          timeAxis = n.attrInt("time_axis", 0);
  if (rank < 2 || batchAxis == timeAxis || batchAxis < 0 || timeAxis < 0 ||
      batchAxis > 1 || timeAxis > 1)
    return n.error("batch_axis and time_axis must be 0 and 1");
  Type i64 = n.builder.getIntegerType(64);
  SmallVector<int64_t> lengthShape(rank, 1);
  lengthShape[batchAxis] = type.getDimSize(batchAxis);
  KILN_TRY(lengths64, n.castElements(n.input(1), i64));
  KILN_TRY(lengths, n.reshape(lengths64, lengthShape));
  Value time = n.iota(rank, timeAxis, type.getDimSize(timeAxis));
  KILN_TRY(inside, n.create<k::LessOp>(time, lengths));
  KILN_TRY(lastIndex, n.create<k::SubOp>(lengths, n.splat(i64, 1)));
  KILN_TRY(reversed, n.create<k::SubOp>(lastIndex, time));
  KILN_TRY(source, n.create<k::WhereOp>(inside, reversed, time));
  KILN_TRY(full, n.createTyped<k::ExpandOp>(
                     RankedTensorType::get(type.getShape(), i64), source));
  KILN_TRY(result,
           n.create<k::GatherElementsOp>(n.input(0), full, (uint64_t)timeAxis));
  n.setOutput(0, result);
  return success();
}

/// Einsum as broadcast products and sums: every operand is transposed and
/// reshaped onto one axis per label (1 where it lacks the label), the
/// operands are multiplied, the labels not in the output are summed, and
/// the rest transposed into the output's order. Repeated labels within one
/// operand (diagonals) are not supported.
LogicalResult importEinsum(NodeImporter &n) {
  if (failed(n.expectInputs(1, n.numInputs())))
    return failure();
  std::string equation;
  for (char c : n.attrString("equation", ""))
    if (c != ' ')
      equation += c;
  size_t arrow = equation.find("->");
  std::string lhs = equation.substr(0, arrow);
  SmallVector<StringRef> pieces;
  StringRef(lhs).split(pieces, ',');
  SmallVector<std::string> terms;
  for (StringRef term : pieces)
    terms.push_back(term.str());
  if ((int)terms.size() != n.numInputs())
    return n.error("equation has " + std::to_string(terms.size()) +
                   " operands for " + std::to_string(n.numInputs()) +
                   " inputs");
  // Ellipses become labels '0'... of the broadcast dims they stand for.
  int64_t ellipsisRank = 0;
  for (size_t i = 0; i < terms.size(); ++i)
    if (terms[i].find("...") != std::string::npos)
      ellipsisRank = std::max<int64_t>(ellipsisRank, n.inputType(i).getRank() -
                                                         (terms[i].size() - 3));
  auto expand = [&](std::string term, int64_t rank) {
    size_t at = term.find("...");
    if (at == std::string::npos)
      return term;
    std::string dims;
    for (int64_t d = ellipsisRank - rank; d < ellipsisRank; ++d)
      dims += char('0' + d);
    return term.substr(0, at) + dims + term.substr(at + 3);
  };
  std::string labels; // every label, first appearance order
  for (size_t i = 0; i < terms.size(); ++i) {
    int64_t rank =
        n.inputType(i).getRank() -
        (terms[i].size() - (terms[i].find("...") != std::string::npos ? 3 : 0));
    terms[i] =
        expand(terms[i], terms[i].find("...") != std::string::npos ? rank : 0);
    if ((int64_t)terms[i].size() != n.inputType(i).getRank())
      return n.error("operand " + std::to_string(i) +
                     " does not match its labels");
    for (char c : terms[i]) {
      if (llvm::count(terms[i], c) > 1)
        return n.error("repeated labels within an operand are not supported");
      if (labels.find(c) == std::string::npos)
        labels += c;
    }
  }
  std::string output;
  if (arrow != std::string::npos) {
    output = expand(equation.substr(arrow + 2), ellipsisRank);
  } else { // implicit: ellipsis dims, then labels seen once, sorted
    for (int64_t d = 0; d < ellipsisRank; ++d)
      output += char('0' + d);
    std::string once;
    for (char c : labels) {
      int count = 0;
      for (auto &t : terms)
        count += llvm::count(t, c);
      if (count == 1 && !(c >= '0' && c <= '9'))
        once += c;
    }
    llvm::sort(once);
    output += once;
  }
  // Order: output labels first, then the summed ones.
  std::string order = output;
  for (char c : labels)
    if (order.find(c) == std::string::npos)
      order += c;
  Value product;
  for (size_t i = 0; i < terms.size(); ++i) {
    auto type = n.inputType(i);
    SmallVector<int64_t> perm, shape;
    for (char c : order) {
      size_t at = terms[i].find(c);
      if (at != std::string::npos)
        perm.push_back(at);
    }
    KILN_TRY(moved, n.create<k::TransposeOp>(n.input(i), perm));
    for (char c : order) {
      size_t at = terms[i].find(c);
      shape.push_back(at == std::string::npos ? 1 : type.getDimSize(at));
    }
    KILN_TRY(aligned, n.reshape(moved, shape));
    if (!product) {
      product = aligned;
      continue;
    }
    KILN_TRY(next, n.create<k::MulOp>(product, aligned));
    product = next;
  }
  SmallVector<int64_t> summed;
  for (size_t d = output.size(); d < order.size(); ++d)
    summed.push_back(d);
  Value result = product;
  if (!summed.empty()) {
    KILN_TRY(sum, n.create<k::ReduceSumOp>(product, summed, false));
    result = sum;
  } else if (terms.size() == 1 && result == n.input(0)) {
    KILN_TRY(copy, n.createTyped<k::IdentityOp>(result.getType(), result));
    result = copy;
  }
  n.setOutput(0, result);
  return success();
}

} // namespace

/// LayerNormalization with statistics outputs (see ImportNeuralNetwork.cpp).
LogicalResult importLayerNormStatistics(NodeImporter &n) {
  return importLayerNormWithStatistics(n);
}

void registerCompositeOps(OpTable &t) {
  t["CastLike"] = {importCastLike, 15, "composed of Kiln ops"};
  t["IsNaN"] = {importIsNaN, 9, "composed of Kiln ops"};
  t["IsInf"] = {importIsInf, 10, "composed of Kiln ops"};
  t["Shrink"] = {importShrink, 9, "composed of Kiln ops"};
  t["InstanceNormalization"] = {importInstanceNorm, 6, "composed of Kiln ops"};
  t["MeanVarianceNormalization"] = {importMeanVarianceNormalization, 9,
                                    "composed of Kiln ops"};
  t["LRN"] = {importLRN, 1, "composed of Kiln ops"};
  t["Hardmax"] = {importHardmax, 7, "composed of Kiln ops"};
  t["OneHot"] = {importOneHot, 9, "composed of Kiln ops"};
  t["Trilu"] = {importTrilu, 14, "composed of Kiln ops"};
  t["DepthToSpace"] = {importDepthToSpace, 7, "composed of Kiln ops"};
  t["SpaceToDepth"] = {importSpaceToDepth, 7, "composed of Kiln ops"};
  t["Tile"] = {importTile, 7, "composed of Kiln ops"};
  t["EyeLike"] = {importEyeLike, 9, "composed of Kiln ops"};
  t["Einsum"] = {importEinsum, 12, "broadcast products and sums; no diagonals"};
  t["GatherND"] = {importGatherND, 11, "composed of Kiln ops"};
  t["ReverseSequence"] = {importReverseSequence, 10, "composed of Kiln ops"};
  t["Resize"] = {importResize, 10,
                 "every mode; scales/sizes/roi must be known at compile time"};
  t["Upsample"] = {importUpsample, 7, "composed of Kiln ops"};
  t["NegativeLogLikelihoodLoss"] = {importNegativeLogLikelihoodLoss, 12,
                                    "composed of Kiln ops"};
  t["SoftmaxCrossEntropyLoss"] = {importSoftmaxCrossEntropyLoss, 12,
                                  "composed of Kiln ops"};
}

} // namespace kiln::onnx_import
