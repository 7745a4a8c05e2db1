//===- KilnFolding.cpp - Kiln folders and constant evaluation
//--------------===//
//
// Folders let the importer and canonicalizer evaluate whatever is known at
// compile time: the Shape -> Gather -> Concat -> Reshape chains exporters
// write, casts and transposes of weights, and identities such as a reshape
// to the same type.
//
//===----------------------------------------------------------------------===//

#include "dialects/kiln/IR/ConstantTensor.h"
#include "dialects/kiln/IR/KilnDialect.h"

#include "llvm/ADT/APFloat.h"

#include <cmath>

using namespace mlir;
using namespace mlir::kiln;

//===----------------------------------------------------------------------===//
// ConstantTensor
//===----------------------------------------------------------------------===//

ConstantTensor::ConstantTensor(RankedTensorType type) : type(type) {
  if (isFloat())
    floats.assign(size(), 0.0);
  else
    ints.assign(size(), 0);
}

std::optional<ConstantTensor> ConstantTensor::fromAttr(Attribute attr) {
  auto dense = dyn_cast_or_null<DenseElementsAttr>(attr);
  if (!dense)
    return std::nullopt;
  auto type = dyn_cast<RankedTensorType>(dense.getType());
  if (!type || !type.hasStaticShape())
    return std::nullopt;
  Type element = type.getElementType();
  if (!isa<FloatType, IntegerType>(element))
    return std::nullopt;
  ConstantTensor result(type);
  int64_t n = result.size();
  if (element.isF32()) {
    auto values = dense.getValues<float>();
    for (int64_t i = 0; i < n; ++i)
      result.floats[i] = values[i];
  } else if (element.isF64()) {
    auto values = dense.getValues<double>();
    for (int64_t i = 0; i < n; ++i)
      result.floats[i] = values[i];
  } else if (isa<FloatType>(element)) {
    auto values = dense.getValues<APFloat>();
    for (int64_t i = 0; i < n; ++i) {
      APFloat v = values[i];
      bool lost;
      v.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &lost);
      result.floats[i] = v.convertToDouble();
    }
  } else {
    auto intType = cast<IntegerType>(element);
    bool zeroExtend = intType.isUnsigned() || intType.getWidth() == 1;
    auto values = dense.getValues<APInt>();
    for (int64_t i = 0; i < n; ++i) {
      APInt v = values[i];
      result.ints[i] =
          zeroExtend ? (int64_t)v.getZExtValue() : v.getSExtValue();
    }
  }
  return result;
}

/// ONNX Cast of one value to an integer type: truncation toward zero for
/// floats, two's complement wrap for integers; bool is `!= 0`.
static int64_t castToInteger(double v, IntegerType type) {
  if (type.getWidth() == 1)
    return v != 0.0;
  if (std::isnan(v))
    return 0;
  return (int64_t)v;
}

ConstantTensor ConstantTensor::withType(RankedTensorType newType) const {
  ConstantTensor result(newType);
  int64_t n = size();
  Type element = newType.getElementType();
  if (result.isFloat()) {
    for (int64_t i = 0; i < n; ++i)
      result.floats[i] = getFloat(i);
  } else {
    auto intType = cast<IntegerType>(element);
    for (int64_t i = 0; i < n; ++i) {
      int64_t v = isFloat() ? castToInteger(floats[i], intType) : ints[i];
      if (intType.getWidth() == 1)
        v = v != 0;
      else if (intType.getWidth() < 64) {
        // Wrap into the target width, as a cast of a register would.
        APInt bits(64, (uint64_t)v, /*isSigned=*/true);
        APInt narrow = bits.trunc(intType.getWidth());
        v = intType.isUnsigned() ? (int64_t)narrow.getZExtValue()
                                 : narrow.getSExtValue();
      }
      result.ints[i] = v;
    }
  }
  return result;
}

DenseElementsAttr ConstantTensor::toAttr() const {
  Type element = type.getElementType();
  int64_t n = size();
  if (element.isF32()) {
    std::vector<float> values(floats.begin(), floats.end());
    return DenseElementsAttr::get(type, ArrayRef<float>(values));
  }
  if (element.isF64())
    return DenseElementsAttr::get(type, ArrayRef<double>(floats));
  if (auto floatType = dyn_cast<FloatType>(element)) {
    SmallVector<APFloat> values;
    values.reserve(n);
    for (double f : floats) {
      APFloat v(f);
      bool lost;
      v.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                &lost);
      values.push_back(v);
    }
    return DenseElementsAttr::get(type, values);
  }
  auto intType = cast<IntegerType>(element);
  if (intType.getWidth() == 1) {
    SmallVector<bool> values(ints.begin(), ints.end());
    return DenseElementsAttr::get(type, values);
  }
  SmallVector<APInt> values;
  values.reserve(n);
  for (int64_t v : ints)
    values.push_back(APInt(intType.getWidth(), (uint64_t)v,
                           /*isSigned=*/!intType.isUnsigned()));
  return DenseElementsAttr::get(type, values);
}

SmallVector<int64_t> ConstantTensor::stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t d = (int64_t)shape.size() - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

int64_t ConstantTensor::broadcastIndex(ArrayRef<int64_t> shape,
                                       ArrayRef<int64_t> index) {
  int64_t linear = 0, stride = 1;
  size_t offset = index.size() - shape.size();
  for (int64_t d = (int64_t)shape.size() - 1; d >= 0; --d) {
    if (shape[d] != 1)
      linear += index[offset + d] * stride;
    stride *= shape[d];
  }
  return linear;
}

ConstantTensor ConstantTensor::gather(
    RankedTensorType type, const ConstantTensor &source,
    function_ref<int64_t(ArrayRef<int64_t> index)> sourceIndex) {
  ConstantTensor result(type);
  SmallVector<int64_t> index(type.getRank(), 0);
  for (int64_t i = 0, n = result.size(); i < n; ++i) {
    result.copyElement(i, source, sourceIndex(index));
    for (int64_t d = type.getRank() - 1; d >= 0; --d) {
      if (++index[d] < type.getDimSize(d))
        break;
      index[d] = 0;
    }
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Folders
//===----------------------------------------------------------------------===//

namespace {
/// Evaluates an elementwise op over constant operands with broadcasting.
/// `floatFn`/`intFn` return nullopt when the value cannot be folded (e.g.
/// integer division by zero).
template <typename FloatFn, typename IntFn>
OpFoldResult foldElementwise(ArrayRef<Attribute> operands,
                             RankedTensorType resultType, FloatFn floatFn,
                             IntFn intFn) {
  SmallVector<ConstantTensor> inputs;
  for (Attribute a : operands) {
    auto t = ConstantTensor::fromAttr(a);
    if (!t)
      return {};
    inputs.push_back(std::move(*t));
  }
  // Folding huge elementwise ops only bloats the bundle; the kernel is cheap.
  if (resultType.getNumElements() > (1 << 20) &&
      llvm::any_of(inputs, [&](const ConstantTensor &t) {
        return t.size() != resultType.getNumElements();
      }))
    return {};
  ConstantTensor result(resultType);
  bool floatMath = inputs.back().isFloat();
  SmallVector<int64_t> index(resultType.getRank(), 0);
  SmallVector<double> floatArgs(inputs.size());
  SmallVector<int64_t> intArgs(inputs.size());
  for (int64_t i = 0, n = result.size(); i < n; ++i) {
    for (auto [k, input] : llvm::enumerate(inputs)) {
      int64_t j = ConstantTensor::broadcastIndex(input.getShape(), index);
      floatArgs[k] = input.getFloat(j);
      intArgs[k] = input.getInt(j);
    }
    if (floatMath) {
      std::optional<double> v = floatFn(floatArgs);
      if (!v)
        return {};
      result.set(i, *v);
    } else {
      std::optional<int64_t> v = intFn(intArgs);
      if (!v)
        return {};
      result.setInt(i, *v);
    }
    for (int64_t d = resultType.getRank() - 1; d >= 0; --d) {
      if (++index[d] < resultType.getDimSize(d))
        break;
      index[d] = 0;
    }
  }
  return result.toAttr();
}

RankedTensorType resultTypeOf(Operation *op) {
  return cast<RankedTensorType>(op->getResult(0).getType());
}
} // namespace

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

#define KILN_FOLD_BINARY(OP, FLOAT_EXPR, INT_EXPR)                             \
  OpFoldResult OP::fold(FoldAdaptor adaptor) {                                 \
    return foldElementwise(                                                    \
        adaptor.getOperands(), resultTypeOf(*this),                            \
        [](ArrayRef<double> x) -> std::optional<double> { FLOAT_EXPR; },       \
        [](ArrayRef<int64_t> x) -> std::optional<int64_t> { INT_EXPR; });      \
  }

KILN_FOLD_BINARY(AddOp, return x[0] + x[1], return x[0] + x[1])
KILN_FOLD_BINARY(SubOp, return x[0] - x[1], return x[0] - x[1])
KILN_FOLD_BINARY(MulOp, return x[0] * x[1], return x[0] * x[1])
KILN_FOLD_BINARY(DivOp, return x[0] / x[1], if (x[1] == 0) return std::nullopt;
                 return x[0] / x[1])
KILN_FOLD_BINARY(PowOp, return std::pow(x[0], x[1]),
                 return (int64_t)std::pow((double)x[0], (double)x[1]))
KILN_FOLD_BINARY(MinOp, return std::fmin(x[0], x[1]),
                 return std::min(x[0], x[1]))
KILN_FOLD_BINARY(MaxOp, return std::fmax(x[0], x[1]),
                 return std::max(x[0], x[1]))
KILN_FOLD_BINARY(ModOp, return std::nullopt, return std::nullopt)
KILN_FOLD_BINARY(PReluOp, return x[0] >= 0 ? x[0] : x[0] * x[1],
                 return x[0] >= 0 ? x[0] : x[0] * x[1])
KILN_FOLD_BINARY(AndOp, return x[0] && x[1], return x[0] && x[1])
KILN_FOLD_BINARY(OrOp, return x[0] || x[1], return x[0] || x[1])
KILN_FOLD_BINARY(XorOp, return (x[0] != 0) != (x[1] != 0),
                 return (x[0] != 0) != (x[1] != 0))
KILN_FOLD_BINARY(EqualOp, return x[0] == x[1], return x[0] == x[1])
KILN_FOLD_BINARY(LessOp, return x[0] < x[1], return x[0] < x[1])
KILN_FOLD_BINARY(LessEqualOp, return x[0] <= x[1], return x[0] <= x[1])
KILN_FOLD_BINARY(GreaterOp, return x[0] > x[1], return x[0] > x[1])
KILN_FOLD_BINARY(GreaterEqualOp, return x[0] >= x[1], return x[0] >= x[1])
#undef KILN_FOLD_BINARY

OpFoldResult WhereOp::fold(FoldAdaptor adaptor) {
  // The condition is i1 and so decodes as integers; pick by the data kind.
  return foldElementwise(
      adaptor.getOperands(), resultTypeOf(*this),
      [](ArrayRef<double> x) -> std::optional<double> {
        return x[0] != 0 ? x[1] : x[2];
      },
      [](ArrayRef<int64_t> x) -> std::optional<int64_t> {
        return x[0] != 0 ? x[1] : x[2];
      });
}

// Unary folds; integer ones that make no sense (sqrt of an int) decline.
#define KILN_FOLD_UNARY(OP, FLOAT_EXPR, INT_EXPR)                              \
  OpFoldResult OP::fold(FoldAdaptor adaptor) {                                 \
    return foldElementwise(                                                    \
        adaptor.getOperands(), resultTypeOf(*this),                            \
        [](ArrayRef<double> x) -> std::optional<double> { FLOAT_EXPR; },       \
        [](ArrayRef<int64_t> x) -> std::optional<int64_t> { INT_EXPR; });      \
  }

KILN_FOLD_UNARY(NegOp, return -x[0], return -x[0])
KILN_FOLD_UNARY(AbsOp, return std::fabs(x[0]), return std::abs(x[0]))
KILN_FOLD_UNARY(SqrtOp, return std::sqrt(x[0]), return std::nullopt)
KILN_FOLD_UNARY(ExpOp, return std::exp(x[0]), return std::nullopt)
KILN_FOLD_UNARY(LogOp, return std::log(x[0]), return std::nullopt)
KILN_FOLD_UNARY(ReciprocalOp, return 1 / x[0], return std::nullopt)
KILN_FOLD_UNARY(FloorOp, return std::floor(x[0]), return x[0])
KILN_FOLD_UNARY(CeilOp, return std::ceil(x[0]), return x[0])
// ONNX Round is half to even: nearbyint in the default rounding mode.
KILN_FOLD_UNARY(RoundOp, return std::nearbyint(x[0]), return x[0])
KILN_FOLD_UNARY(SignOp, return (x[0] > 0) - (x[0] < 0),
                return (x[0] > 0) - (x[0] < 0))
KILN_FOLD_UNARY(NotOp, return std::nullopt, return x[0] == 0)
KILN_FOLD_UNARY(ReluOp, return x[0] > 0 ? x[0] : 0.0,
                return x[0] > 0 ? x[0] : 0)
#undef KILN_FOLD_UNARY

/// quantize(dequantize(q)) with q's own parameters is q.
OpFoldResult QuantizeOp::fold(FoldAdaptor) {
  if (auto dequantize = getInput().getDefiningOp<DequantizeOp>())
    if (dequantize.getInput().getType() == getType())
      return dequantize.getInput();
  return {};
}

/// A cast back to what was cast is the original value.
OpFoldResult StorageCastOp::fold(FoldAdaptor) {
  if (auto inner = getInput().getDefiningOp<StorageCastOp>())
    if (inner.getInput().getType() == getType())
      return inner.getInput();
  return {};
}

OpFoldResult CastOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  auto input = ConstantTensor::fromAttr(adaptor.getInput());
  if (!input)
    return {};
  return input->withType(getType()).toAttr();
}

OpFoldResult ReshapeOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  if (auto dense = dyn_cast_or_null<DenseElementsAttr>(adaptor.getInput()))
    return dense.reshape(getType());
  // reshape(reshape(x)) == reshape(x)
  if (auto inner = getInput().getDefiningOp<ReshapeOp>()) {
    getInputMutable().assign(inner.getInput());
    return getResult();
  }
  return {};
}

OpFoldResult ExpandOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  if (auto dense = dyn_cast_or_null<DenseElementsAttr>(adaptor.getInput()))
    if (dense.isSplat())
      return SplatElementsAttr::get(getType(),
                                    dense.getSplatValue<Attribute>());
  auto input = ConstantTensor::fromAttr(adaptor.getInput());
  if (!input || getType().getNumElements() > (1 << 16))
    return {};
  ArrayRef<int64_t> inShape = input->getShape();
  return ConstantTensor::gather(getType(), *input,
                                [&](ArrayRef<int64_t> index) {
                                  return ConstantTensor::broadcastIndex(inShape,
                                                                        index);
                                })
      .toAttr();
}

// Sound because NCHWc producers keep the channels past C zero (see
// kiln.to_nchwc): blocking the plain form of y gives y back.
OpFoldResult ToNchwcOp::fold(FoldAdaptor) {
  if (auto plain = getInput().getDefiningOp<FromNchwcOp>())
    if (plain.getInput().getType() == getType())
      return plain.getInput();
  return {};
}

OpFoldResult FromNchwcOp::fold(FoldAdaptor) {
  if (auto blocked = getInput().getDefiningOp<ToNchwcOp>())
    if (blocked.getInput().getType() == getType())
      return blocked.getInput();
  return {};
}

OpFoldResult TransposeOp::fold(FoldAdaptor adaptor) {
  ArrayRef<int64_t> perm = getPerm();
  bool identity = llvm::all_of(llvm::enumerate(perm), [](auto it) {
    return (int64_t)it.index() == it.value();
  });
  if (identity)
    return getInput();
  // transpose(transpose(x, inner), perm) is one transpose of x.
  if (auto inner = getInput().getDefiningOp<TransposeOp>()) {
    SmallVector<int64_t> composed;
    for (int64_t d : perm)
      composed.push_back(inner.getPerm()[d]);
    setPerm(composed);
    getInputMutable().assign(inner.getInput());
    return getResult();
  }
  auto input = ConstantTensor::fromAttr(adaptor.getInput());
  if (!input)
    return {};
  SmallVector<int64_t> strides = ConstantTensor::stridesOf(input->getShape());
  return ConstantTensor::gather(getType(), *input,
                                [&](ArrayRef<int64_t> index) {
                                  int64_t linear = 0;
                                  for (size_t d = 0; d < perm.size(); ++d)
                                    linear += index[d] * strides[perm[d]];
                                  return linear;
                                })
      .toAttr();
}

OpFoldResult ConcatOp::fold(FoldAdaptor adaptor) {
  if (getInputs().size() == 1)
    return getInputs()[0];
  SmallVector<ConstantTensor> inputs;
  for (Attribute a : adaptor.getInputs()) {
    auto t = ConstantTensor::fromAttr(a);
    if (!t)
      return {};
    inputs.push_back(std::move(*t));
  }
  int64_t axis = getAxis();
  SmallVector<int64_t> firstIndex; // first position along axis of each input
  int64_t running = 0;
  for (auto &t : inputs) {
    firstIndex.push_back(running);
    running += t.getShape()[axis];
  }
  ConstantTensor result(getType());
  SmallVector<int64_t> index(getType().getRank(), 0);
  for (int64_t i = 0, n = result.size(); i < n; ++i) {
    size_t which =
        llvm::upper_bound(firstIndex, index[axis]) - firstIndex.begin() - 1;
    SmallVector<int64_t> local(index);
    local[axis] -= firstIndex[which];
    SmallVector<int64_t> strides =
        ConstantTensor::stridesOf(inputs[which].getShape());
    int64_t linear = 0;
    for (size_t d = 0; d < local.size(); ++d)
      linear += local[d] * strides[d];
    result.copyElement(i, inputs[which], linear);
    for (int64_t d = getType().getRank() - 1; d >= 0; --d) {
      if (++index[d] < getType().getDimSize(d))
        break;
      index[d] = 0;
    }
  }
  return result.toAttr();
}

OpFoldResult SliceOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType() &&
      llvm::all_of(getStarts(), [](int64_t s) { return s == 0; }) &&
      llvm::all_of(getSteps(), [](int64_t s) { return s == 1; }))
    return getInput();
  auto input = ConstantTensor::fromAttr(adaptor.getInput());
  if (!input)
    return {};
  SmallVector<int64_t> strides = ConstantTensor::stridesOf(input->getShape());
  ArrayRef<int64_t> starts = getStarts(), steps = getSteps();
  return ConstantTensor::gather(
             getType(), *input,
             [&](ArrayRef<int64_t> index) {
               int64_t linear = 0;
               for (size_t d = 0; d < index.size(); ++d)
                 linear += (starts[d] + index[d] * steps[d]) * strides[d];
               return linear;
             })
      .toAttr();
}

OpFoldResult GatherOp::fold(FoldAdaptor adaptor) {
  auto data = ConstantTensor::fromAttr(adaptor.getData());
  auto indices = ConstantTensor::fromAttr(adaptor.getIndices());
  if (!data || !indices)
    return {};
  int64_t axis = getAxis();
  int64_t axisSize = data->getShape()[axis];
  for (int64_t i = 0; i < indices->size(); ++i) {
    int64_t v = indices->getInt(i);
    if (v < -axisSize || v >= axisSize)
      return {}; // the verifier of the importer reports it
  }
  SmallVector<int64_t> dataStrides =
      ConstantTensor::stridesOf(data->getShape());
  SmallVector<int64_t> indexStrides =
      ConstantTensor::stridesOf(indices->getShape());
  int64_t indexRank = indices->getShape().size();
  return ConstantTensor::gather(
             getType(), *data,
             [&](ArrayRef<int64_t> index) {
               int64_t indexLinear = 0;
               for (int64_t d = 0; d < indexRank; ++d)
                 indexLinear += index[axis + d] * indexStrides[d];
               int64_t at = indices->getInt(indexLinear);
               if (at < 0)
                 at += axisSize;
               int64_t linear = at * dataStrides[axis];
               for (int64_t d = 0; d < axis; ++d)
                 linear += index[d] * dataStrides[d];
               for (size_t d = axis + 1; d < dataStrides.size(); ++d)
                 linear += index[d - 1 + indexRank] * dataStrides[d];
               return linear;
             })
      .toAttr();
}
