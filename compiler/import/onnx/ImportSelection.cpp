//===- ImportSelection.cpp - TopK, Compress, MaxUnpool, GridSample --------===//
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
  KILN_TRY(row, n.swapDims(x, axis, last));
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
  KILN_TRY(hit,
           n.create<k::EqualOp>(ranksAsRow, n.iota(rank + 1, rank - 1, count)));
  KILN_TRY(positions, n.create<k::WhereOp>(hit, n.iota(rank + 1, rank, length),
                                           n.splat(i64, 0))); // [..., K, N]
  KILN_TRY(indices,
           n.create<k::ReduceSumOp>(positions, ArrayRef<int64_t>{rank}, false));
  KILN_TRY(values, n.create<k::GatherElementsOp>(row, indices, (uint64_t)last));
  KILN_TRY(valuesOut, n.swapDims(values, axis, last));
  KILN_TRY(indicesOut, n.swapDims(indices, axis, last));
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
  ConstantTensor indices(RankedTensorType::get({(int64_t)selected.size()},
                                               n.builder.getIntegerType(64)));
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
  KILN_TRY(scattered, n.create<k::ScatterElementsOp>(
                          n.splat(element, 0, {total}), flatIndices, flatValues,
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

/// GridSample (4-D), as PyTorch's grid_sample computes it: each output
/// samples X at the grid's (x, y), unnormalised from [-1, 1]. Every tap of
/// the interpolation (1 nearest, 4 bilinear, 16 bicubic) is a gather of X
/// at a flat position computed from the coordinates, weighted and zeroed
/// where it falls outside X.
class GridSampler {
public:
  GridSampler(NodeImporter &n, Value x, Value grid)
      : n(n), x(x), element(typeOf(grid).getElementType()) {
    auto type = typeOf(x);
    batch = type.getDimSize(0);
    channels = type.getDimSize(1);
    height = type.getDimSize(2);
    width = type.getDimSize(3);
    outHeight = typeOf(grid).getDimSize(1);
    outWidth = typeOf(grid).getDimSize(2);
  }

  LogicalResult run(Value grid, const std::string &mode,
                    const std::string &padding, bool alignCorners,
                    Value &result) {
    this->padding = padding;
    this->alignCorners = alignCorners;
    Value gx, gy;
    if (failed(component(grid, 0, gx)) || failed(component(grid, 1, gy)))
      return failure();
    auto sx = unnormalize(gx, width), sy = unnormalize(gy, height);
    if (failed(sx) || failed(sy))
      return failure();
    Value sum;
    auto addTap = [&](Value yCoord, Value xCoord, Value weight) {
      auto tap = sample(yCoord, xCoord, weight);
      if (failed(tap))
        return failure();
      if (!sum) {
        sum = *tap;
        return success();
      }
      auto added = n.create<k::AddOp>(sum, *tap);
      if (failed(added))
        return failure();
      sum = *added;
      return success();
    };
    if (mode == "bicubic") {
      // Taps at floor - 1 .. floor + 2, padding applied per tap.
      auto wx = cubicWeights(*sx), wy = cubicWeights(*sy);
      if (failed(wx) || failed(wy))
        return failure();
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
          KILN_TRY(weight,
                   n.create<k::MulOp>((*wy)[i].second, (*wx)[j].second));
          KILN_TRY(ty, pad((*wy)[i].first, height));
          KILN_TRY(tx, pad((*wx)[j].first, width));
          if (failed(addTap(ty, tx, weight)))
            return failure();
        }
    } else {
      KILN_TRY(px, pad(*sx, width));
      KILN_TRY(py, pad(*sy, height));
      if (mode == "nearest") {
        KILN_TRY(rx, n.create<k::RoundOp>(px)); // half to even, as nearbyint
        KILN_TRY(ry, n.create<k::RoundOp>(py));
        if (failed(addTap(ry, rx, n.splat(element, 1.0))))
          return failure();
      } else if (mode == "bilinear") {
        KILN_TRY(x0, n.create<k::FloorOp>(px));
        KILN_TRY(y0, n.create<k::FloorOp>(py));
        KILN_TRY(x1, n.create<k::AddOp>(x0, n.splat(element, 1.0)));
        KILN_TRY(y1, n.create<k::AddOp>(y0, n.splat(element, 1.0)));
        KILN_TRY(fx, n.create<k::SubOp>(px, x0)); // weight of x1
        KILN_TRY(fy, n.create<k::SubOp>(py, y0));
        KILN_TRY(gx0, n.create<k::SubOp>(n.splat(element, 1.0), fx));
        KILN_TRY(gy0, n.create<k::SubOp>(n.splat(element, 1.0), fy));
        Value ys[2] = {y0, y1}, xs[2] = {x0, x1}, wy[2] = {gy0, fy},
              wx[2] = {gx0, fx};
        for (int i = 0; i < 2; ++i)
          for (int j = 0; j < 2; ++j) {
            KILN_TRY(weight, n.create<k::MulOp>(wy[i], wx[j]));
            if (failed(addTap(ys[i], xs[j], weight)))
              return failure();
          }
      } else {
        return n.error("unknown mode '" + mode + "'");
      }
    }
    result = sum;
    return success();
  }

private:
  /// Grid component `c` (0: x, 1: y) as [N, Ho, Wo].
  LogicalResult component(Value grid, int64_t c, Value &out) {
    KILN_TRY(part, n.takeAlong(grid, 3, c));
    out = part;
    return success();
  }

  Value splat(double value) { return n.splat(element, value); }

  FailureOr<Value> affine(Value v, double scale, double offset) {
    KILN_TRY(scaled, n.create<k::MulOp>(v, splat(scale)));
    return n.create<k::AddOp>(scaled, splat(offset));
  }

  /// [-1, 1] to pixel coordinates: corner pixels' centres (align_corners)
  /// or their outer edges.
  FailureOr<Value> unnormalize(Value v, int64_t size) {
    if (alignCorners)
      return affine(v, (size - 1) / 2.0, (size - 1) / 2.0);
    return affine(v, size / 2.0, (size - 1) / 2.0);
  }

  FailureOr<Value> clip(Value v, int64_t size) {
    return n.createTyped<k::ClipOp>(v.getType(), v,
                                    n.builder.getF64FloatAttr(0),
                                    n.builder.getF64FloatAttr(size - 1));
  }

  /// The padding mode applied to a coordinate: border clamps it, reflection
  /// mirrors it about the edges (then clamps), zeros leaves it to the
  /// bounds check.
  FailureOr<Value> pad(Value v, int64_t size) {
    if (padding == "zeros")
      return v;
    if (padding == "border")
      return clip(v, size);
    if (padding != "reflection")
      return n.error("unknown padding_mode '" + padding + "'");
    double low = alignCorners ? 0 : -0.5, span = alignCorners ? size - 1 : size;
    if (span <= 0)
      return splat(0.0);
    KILN_TRY(shifted, n.create<k::SubOp>(v, splat(low)));
    KILN_TRY(distance, n.create<k::AbsOp>(shifted));
    KILN_TRY(ratio, n.create<k::DivOp>(distance, splat(span)));
    KILN_TRY(flips, n.create<k::FloorOp>(ratio));
    KILN_TRY(whole, n.create<k::MulOp>(flips, splat(span)));
    KILN_TRY(extra, n.create<k::SubOp>(distance, whole));
    KILN_TRY(half, n.create<k::MulOp>(flips, splat(0.5)));
    KILN_TRY(halfFloor, n.create<k::FloorOp>(half));
    KILN_TRY(even, n.create<k::EqualOp>(half, halfFloor));
    KILN_TRY(forward, n.create<k::AddOp>(extra, splat(low)));
    KILN_TRY(mirrored, n.create<k::SubOp>(splat(span + low), extra));
    KILN_TRY(reflected, n.create<k::WhereOp>(even, forward, mirrored));
    return clip(reflected, size);
  }

  /// The 4 bicubic taps along one axis: (coordinate, weight) for floor - 1
  /// .. floor + 2, with the cubic convolution kernel of A = -0.75.
  FailureOr<SmallVector<std::pair<Value, Value>>> cubicWeights(Value v) {
    const double a = -0.75;
    KILN_TRY(base, n.create<k::FloorOp>(v));
    KILN_TRY(t, n.create<k::SubOp>(v, base));
    // cc1(s) = ((a + 2) s - (a + 3)) s^2 + 1 for |s| <= 1;
    // cc2(s) = ((a s - 5a) s + 8a) s - 4a for 1 < |s| < 2.
    auto near = [&](Value s) -> FailureOr<Value> {
      KILN_TRY(p, affine(s, a + 2, -(a + 3)));
      KILN_TRY(ss, n.create<k::MulOp>(s, s));
      KILN_TRY(q, n.create<k::MulOp>(p, ss));
      return n.create<k::AddOp>(q, splat(1.0));
    };
    auto far = [&](Value s) -> FailureOr<Value> {
      KILN_TRY(p, affine(s, a, -5 * a));
      KILN_TRY(q, n.create<k::MulOp>(p, s));
      KILN_TRY(r, n.create<k::AddOp>(q, splat(8 * a)));
      KILN_TRY(u, n.create<k::MulOp>(r, s));
      return n.create<k::AddOp>(u, splat(-4 * a));
    };
    KILN_TRY(tPlus1, affine(t, 1, 1));
    KILN_TRY(oneMinusT, affine(t, -1, 1));
    KILN_TRY(twoMinusT, affine(t, -1, 2));
    auto w0 = far(tPlus1), w1 = near(t), w2 = near(oneMinusT),
         w3 = far(twoMinusT);
    if (failed(w0) || failed(w1) || failed(w2) || failed(w3))
      return failure();
    SmallVector<std::pair<Value, Value>> taps;
    Value weights[4] = {*w0, *w1, *w2, *w3};
    for (int i = 0; i < 4; ++i) {
      KILN_TRY(at, n.create<k::AddOp>(base, splat(i - 1)));
      taps.push_back({at, weights[i]});
    }
    return taps;
  }

  /// weight * X[n, c, y, x] for integral coordinates (as floats), zero
  /// where (y, x) is outside X.
  FailureOr<Value> sample(Value y, Value xCoord, Value weight) {
    KILN_TRY(xOk0, n.create<k::GreaterEqualOp>(xCoord, splat(0)));
    KILN_TRY(xOk1, n.create<k::LessEqualOp>(xCoord, splat(width - 1)));
    KILN_TRY(yOk0, n.create<k::GreaterEqualOp>(y, splat(0)));
    KILN_TRY(yOk1, n.create<k::LessEqualOp>(y, splat(height - 1)));
    KILN_TRY(xOk, n.create<k::AndOp>(xOk0, xOk1));
    KILN_TRY(yOk, n.create<k::AndOp>(yOk0, yOk1));
    KILN_TRY(inside, n.create<k::AndOp>(xOk, yOk));
    KILN_TRY(cx, clip(xCoord, width));
    KILN_TRY(cy, clip(y, height));
    KILN_TRY(row, n.create<k::MulOp>(cy, splat(width)));
    KILN_TRY(flat, n.create<k::AddOp>(row, cx));
    Type i64 = n.builder.getIntegerType(64);
    KILN_TRY(index, n.castElements(flat, i64));
    KILN_TRY(index3, n.reshape(index, {batch, 1, outHeight * outWidth}));
    KILN_TRY(indices, n.createTyped<k::ExpandOp>(
                          RankedTensorType::get(
                              {batch, channels, outHeight * outWidth}, i64),
                          index3));
    KILN_TRY(planes, n.reshape(x, {batch, channels, height * width}));
    KILN_TRY(picked,
             n.create<k::GatherElementsOp>(planes, indices, (uint64_t)2));
    KILN_TRY(values, n.reshape(picked, {batch, channels, outHeight, outWidth}));
    KILN_TRY(masked, n.create<k::WhereOp>(inside, weight, splat(0)));
    Type valueElement = typeOf(x).getElementType();
    KILN_TRY(castWeight, n.castElements(masked, valueElement));
    KILN_TRY(weight4, n.reshape(castWeight, {batch, 1, outHeight, outWidth}));
    return n.create<k::MulOp>(values, weight4);
  }

  NodeImporter &n;
  Value x;
  Type element;
  std::string padding;
  bool alignCorners = false;
  int64_t batch, channels, height, width, outHeight, outWidth;
};

LogicalResult importGridSample(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  auto type = n.inputType(0), gridType = n.inputType(1);
  if (type.getRank() != 4 || gridType.getRank() != 4 ||
      gridType.getDimSize(3) != 2 ||
      gridType.getDimSize(0) != type.getDimSize(0))
    return n.error("expects X [N, C, H, W] and grid [N, H_out, W_out, 2]");
  if (!isa<FloatType>(type.getElementType()) ||
      !isa<FloatType>(gridType.getElementType()))
    return n.error("X and grid must be floating-point");
  Value result;
  GridSampler sampler(n, n.input(0), n.input(1));
  if (failed(sampler.run(n.input(1), n.attrString("mode", "bilinear"),
                         n.attrString("padding_mode", "zeros"),
                         n.attrInt("align_corners", 0) != 0, result)))
    return failure();
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
  t["GridSample"] = {importGridSample, 16,
                     "4-D; every mode and padding mode, gathers of Kiln ops"};
}

} // namespace kiln::onnx_import
