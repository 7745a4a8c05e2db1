//===- KilnOps.cpp - Kiln op verification and shape inference -------------===//
//
// Every op that can compute its result type does so here (InferTypeOpAdaptor):
// the importer builds ops without result types, and the verifier rejects IR
// whose stated types disagree with the inferred ones.
//
//===----------------------------------------------------------------------===//

#include "dialects/kiln/IR/KilnDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallSet.h"

using namespace mlir;
using namespace mlir::kiln;

FailureOr<SmallVector<int64_t>>
mlir::kiln::broadcastShapes(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> result(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return failure();
    result[i] = da == 1 ? db : da;
  }
  return result;
}

namespace {
RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s;
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? "x" : "") + std::to_string(d);
  return s.empty() ? "scalar" : s;
}

/// Output size of a sliding window along one dim (conv and pooling).
int64_t windowOutputSize(int64_t in, int64_t kernel, int64_t stride,
                         int64_t padBegin, int64_t padEnd, int64_t dilation,
                         bool ceilMode) {
  int64_t span = in + padBegin + padEnd - dilation * (kernel - 1) - 1;
  if (span < 0)
    return 0;
  int64_t out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1;
  // ONNX drops a last window that would start entirely in the end padding.
  if (ceilMode && (out - 1) * stride >= in + padBegin)
    --out;
  return out;
}

LogicalResult checkSpatialAttrs(std::optional<Location> loc, StringRef opName,
                                int64_t spatialRank, ArrayRef<int64_t> strides,
                                ArrayRef<int64_t> pads,
                                ArrayRef<int64_t> dilations) {
  if ((int64_t)strides.size() != spatialRank ||
      (int64_t)pads.size() != 2 * spatialRank ||
      (int64_t)dilations.size() != spatialRank)
    return emitOptionalError(loc, opName, ": expected ", spatialRank,
                             " strides and dilations and ", 2 * spatialRank,
                             " pads");
  if (llvm::any_of(strides, [](int64_t s) { return s <= 0; }) ||
      llvm::any_of(dilations, [](int64_t d) { return d <= 0; }) ||
      llvm::any_of(pads, [](int64_t p) { return p < 0; }))
    return emitOptionalError(loc, opName,
                             ": strides and dilations must be positive and "
                             "pads non-negative");
  return success();
}

LogicalResult inferBroadcast(std::optional<Location> loc, StringRef opName,
                             ArrayRef<Value> operands, Type elementType,
                             SmallVectorImpl<Type> &inferred) {
  SmallVector<int64_t> shape;
  for (Value v : operands) {
    auto next = broadcastShapes(shape, tensorType(v).getShape());
    if (failed(next))
      return emitOptionalError(loc, opName,
                               ": shapes cannot be broadcast together (",
                               shapeString(shape), " and ",
                               shapeString(tensorType(v).getShape()), ")");
    shape = *next;
  }
  inferred.push_back(RankedTensorType::get(shape, elementType));
  return success();
}

LogicalResult checkAxis(std::optional<Location> loc, StringRef opName,
                        int64_t axis, int64_t rank) {
  if (axis < 0 || axis >= std::max<int64_t>(rank, 1))
    return emitOptionalError(loc, opName, ": axis ", axis,
                             " out of range for rank ", rank);
  return success();
}
} // namespace

//===----------------------------------------------------------------------===//
// Shape inference
//===----------------------------------------------------------------------===//

LogicalResult ConstantOp::inferReturnTypes(MLIRContext *,
                                           std::optional<Location>,
                                           Adaptor adaptor,
                                           SmallVectorImpl<Type> &inferred) {
  inferred.push_back(cast<TypedAttr>(adaptor.getValue()).getType());
  return success();
}

#define KILN_BINARY_INFER(OP, RESULT_ELEMENT)                                  \
  LogicalResult OP::inferReturnTypes(                                          \
      MLIRContext *context, std::optional<Location> loc, Adaptor adaptor,      \
      SmallVectorImpl<Type> &inferred) {                                       \
    Type lhsElement = tensorType(adaptor.getLhs()).getElementType();           \
    (void)context;                                                             \
    return inferBroadcast(loc, getOperationName(),                             \
                          {adaptor.getLhs(), adaptor.getRhs()},                \
                          RESULT_ELEMENT, inferred);                           \
  }
KILN_BINARY_INFER(AddOp, lhsElement)
KILN_BINARY_INFER(SubOp, lhsElement)
KILN_BINARY_INFER(MulOp, lhsElement)
KILN_BINARY_INFER(DivOp, lhsElement)
KILN_BINARY_INFER(PowOp, lhsElement)
KILN_BINARY_INFER(MinOp, lhsElement)
KILN_BINARY_INFER(MaxOp, lhsElement)
KILN_BINARY_INFER(ModOp, lhsElement)
KILN_BINARY_INFER(PReluOp, lhsElement)
KILN_BINARY_INFER(BitShiftOp, lhsElement)
KILN_BINARY_INFER(AndOp, lhsElement)
KILN_BINARY_INFER(OrOp, lhsElement)
KILN_BINARY_INFER(XorOp, lhsElement)
KILN_BINARY_INFER(EqualOp, IntegerType::get(context, 1))
KILN_BINARY_INFER(LessOp, IntegerType::get(context, 1))
KILN_BINARY_INFER(LessEqualOp, IntegerType::get(context, 1))
KILN_BINARY_INFER(GreaterOp, IntegerType::get(context, 1))
KILN_BINARY_INFER(GreaterEqualOp, IntegerType::get(context, 1))
#undef KILN_BINARY_INFER

LogicalResult WhereOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &inferred) {
  Type element = tensorType(adaptor.getX()).getElementType();
  if (element != tensorType(adaptor.getY()).getElementType())
    return emitOptionalError(loc, "kiln.where: x and y element types differ");
  return inferBroadcast(
      loc, getOperationName(),
      {adaptor.getCondition(), adaptor.getX(), adaptor.getY()}, element,
      inferred);
}

LogicalResult ExpandOp::verify() {
  auto in = getInput().getType().getShape();
  auto out = getOutput().getType().getShape();
  auto shape = broadcastShapes(in, out);
  if (failed(shape) || ArrayRef<int64_t>(*shape) != out)
    return emitOpError("cannot broadcast ")
           << shapeString(in) << " to " << shapeString(out);
  if (getInput().getType().getElementType() !=
      getOutput().getType().getElementType())
    return emitOpError("element types differ");
  return success();
}

namespace {
/// The result shape of ONNX MatMul's rules for `lhs` x `rhs`.
FailureOr<SmallVector<int64_t>> matmulShape(std::optional<Location> loc,
                                            StringRef opName,
                                            RankedTensorType lhsType,
                                            RankedTensorType rhsType) {
  SmallVector<int64_t> lhs(lhsType.getShape()), rhs(rhsType.getShape());
  if (lhs.empty() || rhs.empty())
    return emitOptionalError(loc, opName, ": operands must have rank >= 1");
  bool lhsVector = lhs.size() == 1, rhsVector = rhs.size() == 1;
  if (lhsVector)
    lhs.insert(lhs.begin(), 1);
  if (rhsVector)
    rhs.push_back(1);
  int64_t k = lhs.back();
  if (rhs[rhs.size() - 2] != k)
    return emitOptionalError(loc, opName, ": contraction sizes differ (",
                             shapeString(lhsType.getShape()), " x ",
                             shapeString(rhsType.getShape()), ")");
  auto batch = broadcastShapes(ArrayRef<int64_t>(lhs).drop_back(2),
                               ArrayRef<int64_t>(rhs).drop_back(2));
  if (failed(batch))
    return emitOptionalError(loc, opName, ": batch dims cannot broadcast (",
                             shapeString(lhsType.getShape()), " x ",
                             shapeString(rhsType.getShape()), ")");
  SmallVector<int64_t> shape(*batch);
  if (!lhsVector)
    shape.push_back(lhs[lhs.size() - 2]);
  if (!rhsVector)
    shape.push_back(rhs.back());
  return shape;
}
} // namespace

LogicalResult MatMulOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  auto lhsType = tensorType(adaptor.getLhs());
  auto rhsType = tensorType(adaptor.getRhs());
  auto shape = matmulShape(loc, getOperationName(), lhsType, rhsType);
  if (failed(shape))
    return failure();
  // f32 data by f16 weights (kiln-store-weights-f16) computes in f32.
  Type lhsElement = lhsType.getElementType(),
       rhsElement = rhsType.getElementType();
  if (lhsElement != rhsElement && !(lhsElement.isF32() && rhsElement.isF16()))
    return emitOptionalError(loc, "kiln.matmul: element types differ");
  inferred.push_back(RankedTensorType::get(*shape, lhsType.getElementType()));
  return success();
}

LogicalResult
MatMulIntegerOp::inferReturnTypes(MLIRContext *context,
                                  std::optional<Location> loc, Adaptor adaptor,
                                  SmallVectorImpl<Type> &inferred) {
  StringRef name = getOperationName();
  auto lhsType = tensorType(adaptor.getLhs());
  auto rhsType = tensorType(adaptor.getRhs());
  for (RankedTensorType type : {lhsType, rhsType})
    if (!type.getElementType().isInteger(8))
      return emitOptionalError(loc, name, ": operands must be i8 or ui8, not ",
                               type.getElementType());
  auto shape = matmulShape(loc, name, lhsType, rhsType);
  if (failed(shape))
    return failure();
  // Rows of lhs and columns of rhs, as 1 for a vector operand.
  int64_t rows = lhsType.getRank() == 1 ? 1 : lhsType.getShape().end()[-2];
  int64_t columns = rhsType.getRank() == 1 ? 1 : rhsType.getShape().back();
  auto checkZeroPoint = [&](Value zeroPoint, StringRef which,
                            int64_t count) -> LogicalResult {
    auto type = tensorType(zeroPoint);
    if (!type.getElementType().isSignlessInteger(32))
      return emitOptionalError(loc, name, ": ", which,
                               " zero point must be i32");
    if (type.getRank() == 0 ||
        (type.getRank() == 1 && type.getDimSize(0) == count))
      return success();
    return emitOptionalError(loc, name, ": ", which,
                             " zero point must be a scalar or have ", count,
                             " elements, not ", shapeString(type.getShape()));
  };
  if (failed(checkZeroPoint(adaptor.getLhsZeroPoint(), "lhs", rows)) ||
      failed(checkZeroPoint(adaptor.getRhsZeroPoint(), "rhs", columns)))
    return failure();
  inferred.push_back(
      RankedTensorType::get(*shape, IntegerType::get(context, 32)));
  return success();
}

LogicalResult GemmOp::inferReturnTypes(MLIRContext *,
                                       std::optional<Location> loc,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &inferred) {
  auto a = tensorType(adaptor.getA()), b = tensorType(adaptor.getB());
  if (a.getRank() != 2 || b.getRank() != 2)
    return emitOptionalError(loc, "kiln.gemm: A and B must be 2-D");
  int64_t m = a.getDimSize(adaptor.getTransA() ? 1 : 0);
  int64_t ka = a.getDimSize(adaptor.getTransA() ? 0 : 1);
  int64_t kb = b.getDimSize(adaptor.getTransB() ? 1 : 0);
  int64_t n = b.getDimSize(adaptor.getTransB() ? 0 : 1);
  if (ka != kb)
    return emitOptionalError(loc, "kiln.gemm: contraction sizes differ (", ka,
                             " vs ", kb, ")");
  if (Value c = adaptor.getC()) {
    auto shape = broadcastShapes(tensorType(c).getShape(), {m, n});
    if (failed(shape) || (*shape)[0] != m || (*shape)[1] != n)
      return emitOptionalError(loc, "kiln.gemm: C (",
                               shapeString(tensorType(c).getShape()),
                               ") does not broadcast to ", m, "x", n);
  }
  inferred.push_back(RankedTensorType::get({m, n}, a.getElementType()));
  return success();
}

LogicalResult ToNchwcOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &inferred) {
  constexpr int64_t block = Conv2DNchwcOp::kChannelBlock;
  auto in = tensorType(adaptor.getInput());
  if (in.getRank() != 4)
    return emitOptionalError(loc,
                             "kiln.to_nchwc: input must be [N, C, H, W], "
                             "got ",
                             shapeString(in.getShape()));
  ArrayRef<int64_t> s = in.getShape();
  inferred.push_back(RankedTensorType::get(
      {s[0], (s[1] + block - 1) / block, s[2], s[3], block},
      in.getElementType()));
  return success();
}

LogicalResult MatMulPackedOp::verify() {
  ArrayRef<int64_t> lhs = getLhs().getType().getShape(),
                    packed = getPacked().getType().getShape(),
                    out = getType().getShape();
  if (lhs.size() < 2 || packed.size() != 3 || out.size() != lhs.size())
    return emitOpError("expects lhs [..., M, K], packed [P, K, 16] and a "
                       "result of lhs's rank");
  if (packed[2] != kPanel || packed[1] != lhs.back() ||
      packed[0] != panelsFor(out.back()) || out.drop_back() != lhs.drop_back())
    return emitOpError("packed ")
           << shapeString(packed) << " and lhs " << shapeString(lhs)
           << " do not give " << shapeString(out);
  return success();
}

LogicalResult FromNchwcOp::verify() {
  constexpr int64_t block = Conv2DNchwcOp::kChannelBlock;
  ArrayRef<int64_t> in = getInput().getType().getShape(),
                    out = getType().getShape();
  if (in.size() != 5 || out.size() != 4 || in[4] != block || in[0] != out[0] ||
      in[2] != out[2] || in[3] != out[3] ||
      (out[1] + block - 1) / block != in[1])
    return emitOpError("input ")
           << shapeString(in) << " is not the NCHW16c form of "
           << shapeString(out);
  return success();
}

LogicalResult Conv2DNchwcOp::inferReturnTypes(MLIRContext *,
                                              std::optional<Location> loc,
                                              Adaptor adaptor,
                                              SmallVectorImpl<Type> &inferred) {
  const char *name = "kiln.conv2d_nchwc";
  constexpr int64_t block = kChannelBlock;
  auto in = tensorType(adaptor.getInput());
  auto filter = tensorType(adaptor.getFilter());
  bool depthwise = adaptor.getDepthwise();
  bool plain = in.getRank() == 4;
  bool matches = plain
                     ? !depthwise && in.getDimSize(1) < block &&
                           filter.getRank() == 6 && filter.getDimSize(1) == 1 &&
                           filter.getDimSize(4) == in.getDimSize(1) &&
                           filter.getDimSize(5) == block
                 : depthwise ? in.getRank() == 5 && in.getDimSize(4) == block &&
                                   filter.getRank() == 4 &&
                                   filter.getDimSize(0) == in.getDimSize(1) &&
                                   filter.getDimSize(3) == block
                             : in.getRank() == 5 && in.getDimSize(4) == block &&
                                   filter.getRank() == 6 &&
                                   filter.getDimSize(1) == in.getDimSize(1) &&
                                   filter.getDimSize(4) == block &&
                                   filter.getDimSize(5) == block;
  if (!matches)
    return emitOptionalError(
        loc, name, ": input [N, C/16, H, W, 16] or [N, C < 16, H, W] (got ",
        shapeString(in.getShape()), ") and filter ",
        depthwise ? "[C/16, KH, KW, 16]"
                  : "[F/16, C/16, KH, KW, 16, 16] or [F/16, 1, KH, KW, C, 16]",
        " (got ", shapeString(filter.getShape()), ") do not match");
  // Filter dims: (blocks, [input blocks,] KH, KW, ...).
  int64_t kernelDim = depthwise ? 1 : 2;
  if (failed(checkSpatialAttrs(loc, name, 2, adaptor.getStrides(),
                               adaptor.getPads(), adaptor.getDilations())))
    return failure();
  int64_t blocks = filter.getDimSize(0);
  SmallVector<int64_t> shape = {in.getDimSize(0), blocks};
  for (int64_t i = 0; i < 2; ++i) {
    int64_t out =
        windowOutputSize(in.getDimSize(2 + i), filter.getDimSize(kernelDim + i),
                         adaptor.getStrides()[i], adaptor.getPads()[i],
                         adaptor.getPads()[2 + i], adaptor.getDilations()[i],
                         /*ceilMode=*/false);
    if (out <= 0)
      return emitOptionalError(loc, name, ": empty output along spatial dim ",
                               i);
    shape.push_back(out);
  }
  shape.push_back(block);
  if (Value bias = adaptor.getBias())
    if (tensorType(bias).getShape() != ArrayRef<int64_t>{blocks, block})
      return emitOptionalError(loc, name, ": bias must have shape [", blocks,
                               ", ", block, "]");
  if (Value residual = adaptor.getResidual())
    if (tensorType(residual).getShape() != ArrayRef<int64_t>(shape))
      return emitOptionalError(loc, name, ": residual must have shape ",
                               shapeString(shape));
  StringRef activation = adaptor.getActivation();
  if (activation != "none" && activation != "relu" && activation != "clip")
    return emitOptionalError(loc, name, ": unknown activation '", activation,
                             "' (none, relu, clip)");
  if (activation == "clip" && (!adaptor.getClipMin() || !adaptor.getClipMax()))
    return emitOptionalError(loc, name, ": clip needs clip_min and clip_max");
  inferred.push_back(RankedTensorType::get(shape, in.getElementType()));
  return success();
}

LogicalResult QuantizedConv2DNchwcOp::verify() {
  constexpr int64_t block = Conv2DNchwcOp::kChannelBlock;
  auto in = getInput().getType(), filter = getFilter().getType();
  auto out = getType();
  bool depthwise = getDepthwise();
  bool plain = in.getRank() == 4;
  bool matches =
      in.getElementType().isUnsignedInteger(8) &&
      filter.getElementType().isSignlessInteger(8) &&
      (plain
           ? !depthwise && in.getDimSize(1) < block && filter.getRank() == 6 &&
                 filter.getDimSize(1) == in.getDimSize(1) &&
                 filter.getDimSize(4) == block && filter.getDimSize(5) == 4
       : depthwise
           ? in.getRank() == 5 && in.getDimSize(4) == block &&
                 filter.getRank() == 4 &&
                 filter.getDimSize(0) == in.getDimSize(1) &&
                 filter.getDimSize(3) == block
           : in.getRank() == 5 && in.getDimSize(4) == block &&
                 filter.getRank() == 7 &&
                 filter.getDimSize(1) == in.getDimSize(1) &&
                 filter.getDimSize(4) == block / 4 &&
                 filter.getDimSize(5) == block && filter.getDimSize(6) == 4);
  if (!matches)
    return emitOpError("input ui8 [N, C/16, H, W, 16] or [N, C < 16, H, W] "
                       "(got ")
           << in << ") and filter i8 "
           << (depthwise ? "[C/16, KH, KW, 16]"
                         : "[F/16, C/16, KH, KW, 4, 16, 4] or [F/16, C, KH, "
                           "KW/4, 16, 4]")
           << " (got " << filter << ") do not match";
  int64_t blocks = filter.getDimSize(0), kernelDim = depthwise ? 1 : 2;
  if (failed(checkSpatialAttrs(getLoc(), getOperationName(), 2, getStrides(),
                               getPads(), getDilations())))
    return failure();
  SmallVector<int64_t> shape = {in.getDimSize(0), blocks};
  for (int64_t i = 0; i < 2; ++i) {
    int64_t window = filter.getDimSize(kernelDim + i);
    int64_t size = windowOutputSize(
        in.getDimSize(2 + i), window, getStrides()[i], getPads()[i],
        getPads()[2 + i], getDilations()[i], /*ceilMode=*/false);
    // An image input's filter holds the window width rounded up to 4
    // columns: the result's width says which of the 4 widths it is.
    if (plain && i == 1)
      for (int64_t width = 4 * window - 3; width <= 4 * window; ++width) {
        int64_t candidate = windowOutputSize(
            in.getDimSize(3), width, getStrides()[1], getPads()[1],
            getPads()[3], getDilations()[1], /*ceilMode=*/false);
        if (out.getRank() == 5 && candidate == out.getDimSize(3))
          size = candidate;
      }
    shape.push_back(size);
  }
  shape.push_back(block);
  Type element = out.getElementType();
  bool quantized = getOutputZeroPoint().has_value();
  if (out.getShape() != ArrayRef<int64_t>(shape) ||
      (quantized ? !element.isUnsignedInteger(8) : !element.isF32()))
    return emitOpError("result must be ")
           << (quantized ? "ui8 " : "f32 ") << shapeString(shape) << ", got "
           << out;
  auto sums = cast<RankedTensorType>(getFilterSums().getType());
  auto scaleBias = cast<RankedTensorType>(getScaleBias().getType());
  if (sums.getShape() != ArrayRef<int64_t>{blocks, block} ||
      !sums.getElementType().isSignlessInteger(32) ||
      scaleBias.getShape() != ArrayRef<int64_t>{blocks, 2, block} ||
      !scaleBias.getElementType().isF32())
    return emitOpError("filter_sums must be i32 [")
           << blocks << ", " << block << "] and scale_bias f32 [" << blocks
           << ", 2, " << block << "]";
  StringRef activation = getActivation();
  if (activation != "none" && activation != "relu" && activation != "clip")
    return emitOpError("unknown activation '") << activation << "'";
  if (activation == "clip" && (!getClipMin() || !getClipMax()))
    return emitOpError("clip needs clip_min and clip_max");
  if (Value residual = getResidual()) {
    auto type = cast<RankedTensorType>(residual.getType());
    if (type.getShape() != ArrayRef<int64_t>(shape) ||
        !type.getElementType().isUnsignedInteger(8))
      return emitOpError("residual must be ui8 ") << shapeString(shape);
    if (!getSumZeroPoint() || !getSumScale() || !getResidualZeroPoint() ||
        !getResidualScale())
      return emitOpError("a residual needs sum_zero_point, sum_scale, "
                         "residual_zero_point and residual_scale");
  }
  if (getInputZeroPoint() < 0 || getInputZeroPoint() > 255 ||
      (quantized && (*getOutputZeroPoint() < 0 || *getOutputZeroPoint() > 255)))
    return emitOpError("zero points must be in [0, 255]");
  return success();
}

LogicalResult ConvOp::inferReturnTypes(MLIRContext *,
                                       std::optional<Location> loc,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &inferred) {
  auto in = tensorType(adaptor.getInput());
  auto filter = tensorType(adaptor.getFilter());
  int64_t spatial = in.getRank() - 2;
  if (spatial < 1 || filter.getRank() != in.getRank())
    return emitOptionalError(loc, "kiln.conv: input and filter must have the "
                                  "same rank >= 3");
  if (failed(checkSpatialAttrs(loc, "kiln.conv", spatial, adaptor.getStrides(),
                               adaptor.getPads(), adaptor.getDilations())))
    return failure();
  int64_t group = adaptor.getGroup();
  int64_t channels = in.getDimSize(1), features = filter.getDimSize(0);
  if (group <= 0 || channels % group || features % group ||
      filter.getDimSize(1) * group != channels)
    return emitOptionalError(
        loc, "kiln.conv: input channels (", channels, ") do not match filter (",
        shapeString(filter.getShape()), ") and group ", group);
  if (Value bias = adaptor.getBias()) {
    auto biasType = tensorType(bias);
    if (biasType.getRank() != 1 || biasType.getDimSize(0) != features)
      return emitOptionalError(loc, "kiln.conv: bias must have shape [",
                               features, "]");
  }
  SmallVector<int64_t> shape = {in.getDimSize(0), features};
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t out = windowOutputSize(
        in.getDimSize(2 + i), filter.getDimSize(2 + i), adaptor.getStrides()[i],
        adaptor.getPads()[i], adaptor.getPads()[spatial + i],
        adaptor.getDilations()[i], /*ceilMode=*/false);
    if (out <= 0)
      return emitOptionalError(loc,
                               "kiln.conv: empty output along spatial "
                               "dim ",
                               i);
    shape.push_back(out);
  }
  inferred.push_back(RankedTensorType::get(shape, in.getElementType()));
  return success();
}

LogicalResult
ConvTransposeOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                  Adaptor adaptor,
                                  SmallVectorImpl<Type> &inferred) {
  auto in = tensorType(adaptor.getInput());
  auto filter = tensorType(adaptor.getFilter());
  int64_t spatial = in.getRank() - 2;
  if (spatial < 1 || filter.getRank() != in.getRank())
    return emitOptionalError(loc, "kiln.conv_transpose: input and filter must "
                                  "have the same rank >= 3");
  if (failed(checkSpatialAttrs(loc, "kiln.conv_transpose", spatial,
                               adaptor.getStrides(), adaptor.getPads(),
                               adaptor.getDilations())))
    return failure();
  if ((int64_t)adaptor.getOutputPadding().size() != spatial)
    return emitOptionalError(loc, "kiln.conv_transpose: expected ", spatial,
                             " output_padding values");
  int64_t group = adaptor.getGroup();
  if (group <= 0 || filter.getDimSize(0) != in.getDimSize(1) ||
      in.getDimSize(1) % group)
    return emitOptionalError(loc, "kiln.conv_transpose: input channels do not "
                                  "match the filter and group");
  int64_t features = filter.getDimSize(1) * group;
  SmallVector<int64_t> shape = {in.getDimSize(0), features};
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t out = adaptor.getStrides()[i] * (in.getDimSize(2 + i) - 1) +
                  adaptor.getOutputPadding()[i] +
                  adaptor.getDilations()[i] * (filter.getDimSize(2 + i) - 1) +
                  1 - adaptor.getPads()[i] - adaptor.getPads()[spatial + i];
    if (out <= 0)
      return emitOptionalError(loc, "kiln.conv_transpose: empty output");
    shape.push_back(out);
  }
  inferred.push_back(RankedTensorType::get(shape, in.getElementType()));
  return success();
}

LogicalResult BatchNormOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  auto in = tensorType(adaptor.getInput());
  int64_t channels = in.getRank() > 1 ? in.getDimSize(1) : 1;
  for (Value v : {adaptor.getScale(), adaptor.getBias(), adaptor.getMean(),
                  adaptor.getVariance()})
    if (tensorType(v).getNumElements() != channels)
      return emitOptionalError(loc, "kiln.batch_norm: parameters must have ",
                               channels, " elements");
  inferred.push_back(in);
  return success();
}

LogicalResult LayerNormOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  auto in = tensorType(adaptor.getInput());
  if (failed(
          checkAxis(loc, "kiln.layer_norm", adaptor.getAxis(), in.getRank())))
    return failure();
  auto normalized = in.getShape().drop_front(adaptor.getAxis());
  for (Value v : {adaptor.getScale(), adaptor.getBias()}) {
    if (!v)
      continue;
    auto shape = broadcastShapes(tensorType(v).getShape(), normalized);
    if (failed(shape) || ArrayRef<int64_t>(*shape) != normalized)
      return emitOptionalError(loc, "kiln.layer_norm: scale/bias shape ",
                               shapeString(tensorType(v).getShape()),
                               " does not broadcast to ",
                               shapeString(normalized));
  }
  inferred.push_back(in);
  return success();
}

LogicalResult SoftmaxOp::verify() {
  return checkAxis(getLoc(), getOperationName(), getAxis(),
                   getInput().getType().getRank());
}
LogicalResult LogSoftmaxOp::verify() {
  return checkAxis(getLoc(), getOperationName(), getAxis(),
                   getInput().getType().getRank());
}

static LogicalResult inferPool(std::optional<Location> loc, StringRef opName,
                               RankedTensorType in, ArrayRef<int64_t> kernel,
                               ArrayRef<int64_t> strides,
                               ArrayRef<int64_t> pads,
                               ArrayRef<int64_t> dilations, bool ceilMode,
                               SmallVectorImpl<Type> &inferred) {
  int64_t spatial = in.getRank() - 2;
  if (spatial < 1 || (int64_t)kernel.size() != spatial)
    return emitOptionalError(loc, opName, ": expected ", spatial,
                             " kernel dims for input of rank ", in.getRank());
  if (failed(checkSpatialAttrs(loc, opName, spatial, strides, pads, dilations)))
    return failure();
  SmallVector<int64_t> shape(in.getShape().take_front(2));
  for (int64_t i = 0; i < spatial; ++i) {
    if (pads[i] >= kernel[i] || pads[spatial + i] >= kernel[i])
      return emitOptionalError(loc, opName,
                               ": pads must be smaller than the "
                               "kernel");
    int64_t out =
        windowOutputSize(in.getDimSize(2 + i), kernel[i], strides[i], pads[i],
                         pads[spatial + i], dilations[i], ceilMode);
    if (out <= 0)
      return emitOptionalError(loc, opName, ": empty output");
    shape.push_back(out);
  }
  inferred.push_back(RankedTensorType::get(shape, in.getElementType()));
  return success();
}

LogicalResult MaxPoolOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &inferred) {
  return inferPool(loc, getOperationName(), tensorType(adaptor.getInput()),
                   adaptor.getKernelShape(), adaptor.getStrides(),
                   adaptor.getPads(), adaptor.getDilations(),
                   adaptor.getCeilMode(), inferred);
}

LogicalResult AveragePoolOp::inferReturnTypes(MLIRContext *,
                                              std::optional<Location> loc,
                                              Adaptor adaptor,
                                              SmallVectorImpl<Type> &inferred) {
  SmallVector<int64_t> dilations(adaptor.getKernelShape().size(), 1);
  return inferPool(loc, getOperationName(), tensorType(adaptor.getInput()),
                   adaptor.getKernelShape(), adaptor.getStrides(),
                   adaptor.getPads(), dilations, adaptor.getCeilMode(),
                   inferred);
}

static LogicalResult inferReduce(std::optional<Location> loc, StringRef opName,
                                 RankedTensorType in, ArrayRef<int64_t> axes,
                                 bool keepdims, Type element,
                                 SmallVectorImpl<Type> &inferred) {
  for (auto [i, axis] : llvm::enumerate(axes)) {
    if (axis < 0 || axis >= in.getRank() || (i > 0 && axes[i - 1] >= axis))
      return emitOptionalError(loc, opName,
                               ": axes must be sorted, unique and in range");
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < in.getRank(); ++d) {
    if (!llvm::is_contained(axes, d))
      shape.push_back(in.getDimSize(d));
    else if (keepdims)
      shape.push_back(1);
  }
  inferred.push_back(RankedTensorType::get(shape, element));
  return success();
}

#define KILN_REDUCE_INFER(OP)                                                  \
  LogicalResult OP::inferReturnTypes(                                          \
      MLIRContext *, std::optional<Location> loc, Adaptor adaptor,             \
      SmallVectorImpl<Type> &inferred) {                                       \
    auto in = tensorType(adaptor.getInput());                                  \
    return inferReduce(loc, getOperationName(), in, adaptor.getAxes(),         \
                       adaptor.getKeepdims(), in.getElementType(), inferred);  \
  }
KILN_REDUCE_INFER(ReduceSumOp)
KILN_REDUCE_INFER(ReduceMeanOp)
KILN_REDUCE_INFER(ReduceMaxOp)
KILN_REDUCE_INFER(ReduceMinOp)
KILN_REDUCE_INFER(ReduceProdOp)
KILN_REDUCE_INFER(ReduceSumSquareOp)
KILN_REDUCE_INFER(ReduceL1Op)
KILN_REDUCE_INFER(ReduceL2Op)
KILN_REDUCE_INFER(ReduceLogSumExpOp)
KILN_REDUCE_INFER(ReduceLogSumOp)
#undef KILN_REDUCE_INFER

#define KILN_ARG_INFER(OP)                                                     \
  LogicalResult OP::inferReturnTypes(                                          \
      MLIRContext *context, std::optional<Location> loc, Adaptor adaptor,      \
      SmallVectorImpl<Type> &inferred) {                                       \
    auto in = tensorType(adaptor.getInput());                                  \
    int64_t axis = adaptor.getAxis();                                          \
    if (failed(checkAxis(loc, getOperationName(), axis, in.getRank())))        \
      return failure();                                                        \
    return inferReduce(loc, getOperationName(), in, {axis},                    \
                       adaptor.getKeepdims(), IntegerType::get(context, 64),   \
                       inferred);                                              \
  }
KILN_ARG_INFER(ArgMaxOp)
KILN_ARG_INFER(ArgMinOp)
#undef KILN_ARG_INFER

LogicalResult ReshapeOp::verify() {
  if (getInput().getType().getNumElements() !=
      getOutput().getType().getNumElements())
    return emitOpError("cannot reshape ")
           << shapeString(getInput().getType().getShape()) << " to "
           << shapeString(getOutput().getType().getShape());
  if (getInput().getType().getElementType() !=
      getOutput().getType().getElementType())
    return emitOpError("element types differ");
  return success();
}

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  auto in = tensorType(adaptor.getInput());
  ArrayRef<int64_t> perm = adaptor.getPerm();
  if ((int64_t)perm.size() != in.getRank())
    return emitOptionalError(loc, "kiln.transpose: perm has ", perm.size(),
                             " entries for rank ", in.getRank());
  SmallVector<int64_t> shape;
  llvm::SmallSet<int64_t, 8> seen;
  for (int64_t p : perm) {
    if (p < 0 || p >= in.getRank() || !seen.insert(p).second)
      return emitOptionalError(loc, "kiln.transpose: perm is not a "
                                    "permutation");
    shape.push_back(in.getDimSize(p));
  }
  inferred.push_back(RankedTensorType::get(shape, in.getElementType()));
  return success();
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  if (adaptor.getInputs().empty())
    return emitOptionalError(loc, "kiln.concat: needs at least one input");
  auto first = tensorType(adaptor.getInputs()[0]);
  int64_t axis = adaptor.getAxis();
  if (failed(checkAxis(loc, "kiln.concat", axis, first.getRank())))
    return failure();
  SmallVector<int64_t> shape(first.getShape());
  shape[axis] = 0;
  for (Value v : adaptor.getInputs()) {
    auto t = tensorType(v);
    if (t.getRank() != first.getRank() ||
        t.getElementType() != first.getElementType())
      return emitOptionalError(loc, "kiln.concat: inputs differ in rank or "
                                    "element type");
    for (int64_t d = 0; d < t.getRank(); ++d)
      if (d != axis && t.getDimSize(d) != first.getDimSize(d))
        return emitOptionalError(loc, "kiln.concat: inputs differ in dim ", d,
                                 " (", shapeString(first.getShape()), " vs ",
                                 shapeString(t.getShape()), ")");
    shape[axis] += t.getDimSize(axis);
  }
  inferred.push_back(RankedTensorType::get(shape, first.getElementType()));
  return success();
}

LogicalResult SplitOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &inferred) {
  auto in = tensorType(adaptor.getInput());
  int64_t axis = adaptor.getAxis();
  if (failed(checkAxis(loc, "kiln.split", axis, in.getRank())))
    return failure();
  int64_t total = 0;
  for (int64_t size : adaptor.getSizes()) {
    if (size < 0)
      return emitOptionalError(loc, "kiln.split: negative size");
    SmallVector<int64_t> shape(in.getShape());
    shape[axis] = size;
    total += size;
    inferred.push_back(RankedTensorType::get(shape, in.getElementType()));
  }
  if (total != in.getDimSize(axis))
    return emitOptionalError(loc, "kiln.split: sizes sum to ", total,
                             " but dim ", axis, " is ", in.getDimSize(axis));
  return success();
}

LogicalResult SliceOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &inferred) {
  auto in = tensorType(adaptor.getInput());
  auto starts = adaptor.getStarts(), sizes = adaptor.getSizes(),
       steps = adaptor.getSteps();
  int64_t rank = in.getRank();
  if ((int64_t)starts.size() != rank || (int64_t)sizes.size() != rank ||
      (int64_t)steps.size() != rank)
    return emitOptionalError(loc, "kiln.slice: starts/sizes/steps need ", rank,
                             " entries");
  for (int64_t d = 0; d < rank; ++d) {
    if (steps[d] == 0 || sizes[d] < 0)
      return emitOptionalError(loc, "kiln.slice: bad step or size in dim ", d);
    if (sizes[d] == 0)
      continue;
    int64_t last = starts[d] + (sizes[d] - 1) * steps[d];
    if (starts[d] < 0 || starts[d] >= in.getDimSize(d) || last < 0 ||
        last >= in.getDimSize(d))
      return emitOptionalError(loc, "kiln.slice: window out of bounds in dim ",
                               d);
  }
  inferred.push_back(RankedTensorType::get(sizes, in.getElementType()));
  return success();
}

LogicalResult GatherOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  auto data = tensorType(adaptor.getData());
  auto indices = tensorType(adaptor.getIndices());
  int64_t axis = adaptor.getAxis();
  if (data.getRank() < 1 ||
      failed(checkAxis(loc, "kiln.gather", axis, data.getRank())))
    return failure();
  SmallVector<int64_t> shape(data.getShape().take_front(axis));
  llvm::append_range(shape, indices.getShape());
  llvm::append_range(shape, data.getShape().drop_front(axis + 1));
  inferred.push_back(RankedTensorType::get(shape, data.getElementType()));
  return success();
}

LogicalResult
GatherElementsOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                   Adaptor adaptor,
                                   SmallVectorImpl<Type> &inferred) {
  auto data = tensorType(adaptor.getData());
  auto indices = tensorType(adaptor.getIndices());
  if (data.getRank() != indices.getRank() || data.getRank() < 1)
    return emitOptionalError(loc, "kiln.gather_elements: data and indices "
                                  "must have the same rank >= 1");
  if (failed(checkAxis(loc, "kiln.gather_elements", adaptor.getAxis(),
                       data.getRank())))
    return failure();
  inferred.push_back(
      RankedTensorType::get(indices.getShape(), data.getElementType()));
  return success();
}

static LogicalResult checkReduction(Operation *op, StringRef reduction) {
  if (reduction != "none" && reduction != "add" && reduction != "mul")
    return op->emitOpError("unknown reduction '") << reduction << "'";
  return success();
}

LogicalResult ScatterElementsOp::verify() {
  auto data = getData().getType(), indices = getIndices().getType(),
       updates = getUpdates().getType();
  if (indices.getShape() != updates.getShape() ||
      indices.getRank() != data.getRank())
    return emitOpError("indices and updates must have one shape, of the "
                       "data's rank");
  if (updates.getElementType() != data.getElementType())
    return emitOpError("updates and data element types differ");
  for (int64_t d = 0; d < data.getRank(); ++d)
    if (d != (int64_t)getAxis() && indices.getDimSize(d) > data.getDimSize(d))
      return emitOpError("indices are larger than data in dim ") << d;
  if (failed(
          checkAxis(getLoc(), getOperationName(), getAxis(), data.getRank())))
    return failure();
  return checkReduction(*this, getReduction());
}

LogicalResult ScatterNDOp::verify() {
  auto data = getData().getType(), indices = getIndices().getType(),
       updates = getUpdates().getType();
  int64_t k = indices.getRank() ? indices.getShape().back() : 0;
  if (indices.getRank() < 1 || k > data.getRank())
    return emitOpError("index tuples longer than the data's rank");
  SmallVector<int64_t> expected(indices.getShape().drop_back());
  llvm::append_range(expected, data.getShape().drop_front(k));
  if (ArrayRef<int64_t>(expected) != updates.getShape())
    return emitOpError("updates must have shape ") << shapeString(expected);
  if (updates.getElementType() != data.getElementType())
    return emitOpError("updates and data element types differ");
  return checkReduction(*this, getReduction());
}

LogicalResult CumSumOp::verify() {
  return checkAxis(getLoc(), getOperationName(), getAxis(),
                   getInput().getType().getRank());
}

LogicalResult PadOp::inferReturnTypes(MLIRContext *,
                                      std::optional<Location> loc,
                                      Adaptor adaptor,
                                      SmallVectorImpl<Type> &inferred) {
  auto in = tensorType(adaptor.getInput());
  auto pads = adaptor.getPads();
  int64_t rank = in.getRank();
  StringRef mode = adaptor.getMode();
  if (mode != "constant" && mode != "reflect" && mode != "edge")
    return emitOptionalError(loc, "kiln.pad: unknown mode '", mode, "'");
  if ((int64_t)pads.size() != 2 * rank)
    return emitOptionalError(loc, "kiln.pad: expected ", 2 * rank, " pads");
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t size = in.getDimSize(d) + pads[d] + pads[rank + d];
    if (size < 0)
      return emitOptionalError(loc, "kiln.pad: negative result size");
    if (mode == "reflect" &&
        (pads[d] >= in.getDimSize(d) || pads[rank + d] >= in.getDimSize(d)))
      return emitOptionalError(loc, "kiln.pad: reflect pads must be smaller "
                                    "than the dim");
    shape.push_back(size);
  }
  inferred.push_back(RankedTensorType::get(shape, in.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Dispatch regions
//===----------------------------------------------------------------------===//

void DispatchOp::build(OpBuilder &builder, OperationState &state,
                       StringRef name, TypeRange resultTypes,
                       ValueRange inputs) {
  state.addAttribute(getNameAttrName(state.name), builder.getStringAttr(name));
  state.addOperands(inputs);
  state.addTypes(resultTypes);
  Region *body = state.addRegion();
  Block *block = new Block();
  body->push_back(block);
  for (Value input : inputs)
    block->addArgument(input.getType(), input.getLoc());
}

LogicalResult DispatchOp::verify() {
  Block &block = getBody().front();
  if (block.getArgumentTypes() != getInputs().getTypes())
    return emitOpError("region argument types must match the inputs");
  auto yield = cast<YieldOp>(block.getTerminator());
  if (yield.getValues().getTypes() != getResultTypes())
    return emitOpError("yielded types must match the results");
  return success();
}

#define GET_OP_CLASSES
//===----------------------------------------------------------------------===//
// Quantized values
//===----------------------------------------------------------------------===//

namespace {
/// The uniform quantized element type of `type`, or null.
quant::QuantizedType uniformElement(Type type) {
  Type element = cast<ShapedType>(type).getElementType();
  if (isa<quant::UniformQuantizedType, quant::UniformQuantizedPerAxisType>(
          element))
    return cast<quant::QuantizedType>(element);
  return nullptr;
}

/// A per-axis type's axis must exist and its parameters cover it.
LogicalResult verifyQuantizedTensor(Operation *op, Type type) {
  auto element = uniformElement(type);
  if (!element)
    return op->emitOpError("expects a !quant.uniform element type, not ")
           << cast<ShapedType>(type).getElementType();
  if (auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(element)) {
    auto shaped = cast<ShapedType>(type);
    int32_t axis = perAxis.getQuantizedDimension();
    if (axis < 0 || axis >= shaped.getRank() ||
        (int64_t)perAxis.getScales().size() != shaped.getDimSize(axis))
      return op->emitOpError("per-axis parameters do not match the shape");
  }
  return success();
}
} // namespace

LogicalResult QuantizeOp::verify() {
  if (failed(verifyQuantizedTensor(*this, getType())))
    return failure();
  if (uniformElement(getType()).getExpressedType() !=
      getInput().getType().getElementType())
    return emitOpError("quantizes ")
           << getInput().getType().getElementType() << " into a type of "
           << uniformElement(getType()).getExpressedType();
  return success();
}

LogicalResult DequantizeOp::verify() {
  if (failed(verifyQuantizedTensor(*this, getInput().getType())))
    return failure();
  if (uniformElement(getInput().getType()).getExpressedType() !=
      getType().getElementType())
    return emitOpError("dequantizes to ")
           << getType().getElementType() << ", not the expressed type";
  return success();
}

LogicalResult StorageCastOp::verify() {
  Type from = getInput().getType(), to = getType();
  bool fromQuantized = uniformElement(from) != nullptr;
  if (fromQuantized == (uniformElement(to) != nullptr))
    return emitOpError("casts between a quantized and an integer type");
  Type quantized = fromQuantized ? from : to;
  Type integer = fromQuantized ? to : from;
  if (failed(verifyQuantizedTensor(*this, quantized)))
    return failure();
  auto storage = uniformElement(quantized).getStorageType();
  auto element =
      dyn_cast<IntegerType>(cast<ShapedType>(integer).getElementType());
  if (!element || element.getWidth() != storage.getIntOrFloatBitWidth())
    return emitOpError("storage is ")
           << storage << ", not " << cast<ShapedType>(integer).getElementType();
  return success();
}

#include "dialects/kiln/KilnOps.cpp.inc"
