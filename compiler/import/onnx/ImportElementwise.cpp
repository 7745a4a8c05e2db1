//===- ImportElementwise.cpp - elementwise and activation ops
//--------------===//

#include "compiler/import/onnx/NodeImporter.h"

using namespace mlir;
using mlir::kiln::ConstantTensor;

namespace kiln::onnx_import {
namespace {

template <typename OpTy> OpImporter unary(int64_t minOpset = 6) {
  return {[](NodeImporter &n) -> LogicalResult {
            if (failed(n.expectInputs(1, 1)) || failed(n.expectOutputs(1)))
              return failure();
            auto result = n.createTyped<OpTy>(n.inputType(0), n.input(0));
            if (failed(result))
              return failure();
            n.setOutput(0, *result);
            return success();
          },
          minOpset};
}

template <typename OpTy> OpImporter binary() {
  return {[](NodeImporter &n) -> LogicalResult {
    if (failed(n.expectInputs(2, 2)))
      return failure();
    if (n.inputType(0).getElementType() != n.inputType(1).getElementType())
      return n.error("operand element types differ");
    auto result = n.create<OpTy>(n.input(0), n.input(1));
    if (failed(result))
      return failure();
    n.setOutput(0, *result);
    return success();
  }};
}

/// Sum, Min, Max and Mean take any number of inputs: a left fold.
template <typename OpTy> LogicalResult importVariadic(NodeImporter &n) {
  if (failed(n.expectInputs(1, n.numInputs())))
    return failure();
  Value acc = n.input(0);
  for (int i = 1; i < n.numInputs(); ++i) {
    auto next = n.create<OpTy>(acc, n.input(i));
    if (failed(next))
      return failure();
    acc = *next;
  }
  if (n.numInputs() == 1) {
    // A single input still needs its own value: the output is a new tensor.
    auto copy = n.createTyped<mlir::kiln::IdentityOp>(acc.getType(), acc);
    if (failed(copy))
      return failure();
    acc = *copy;
  }
  n.setOutput(0, acc);
  return success();
}

LogicalResult importMean(NodeImporter &n) {
  if (failed(importVariadic<mlir::kiln::AddOp>(n)))
    return failure();
  Value sum = n.getOutputs()[0];
  auto type = cast<RankedTensorType>(sum.getType());
  if (!isa<FloatType>(type.getElementType()))
    return n.error("Mean needs floating-point inputs");
  auto count = DenseElementsAttr::get(
      RankedTensorType::get({}, type.getElementType()),
      FloatAttr::get(type.getElementType(), (double)n.numInputs()));
  auto mean = n.create<mlir::kiln::DivOp>(sum, n.constant(count));
  if (failed(mean))
    return failure();
  n.setOutput(0, *mean);
  return success();
}

template <typename OpTy>
OpImporter unaryWithAlpha(float defaultAlpha, int64_t minOpset = 7) {
  return {[defaultAlpha](NodeImporter &n) -> LogicalResult {
            if (failed(n.expectInputs(1, 1)))
              return failure();
            auto result = n.createTyped<OpTy>(
                n.inputType(0), n.input(0),
                n.builder.getF32FloatAttr(n.attrFloat("alpha", defaultAlpha)));
            if (failed(result))
              return failure();
            n.setOutput(0, *result);
            return success();
          },
          minOpset};
}

LogicalResult importClip(NodeImporter &n) {
  if (failed(n.expectInputs(1, 3)))
    return failure();
  Value x = n.input(0);
  auto type = n.inputType(0);
  FloatAttr minAttr, maxAttr;
  if (n.opset < 11) {
    if (n.hasAttr("min"))
      minAttr = n.builder.getF64FloatAttr(n.attrFloat("min", 0));
    if (n.hasAttr("max"))
      maxAttr = n.builder.getF64FloatAttr(n.attrFloat("max", 0));
  } else {
    // Bounds are inputs; constant ones become attributes, others min/max ops.
    for (int i : {1, 2}) {
      if (!n.hasInput(i))
        continue;
      if (auto c = n.constantInput(i); c && c->size() == 1) {
        auto attr = n.builder.getF64FloatAttr(c->getFloat(0));
        (i == 1 ? minAttr : maxAttr) = attr;
        continue;
      }
      auto bounded = i == 1 ? n.create<mlir::kiln::MaxOp>(x, n.input(i))
                            : n.create<mlir::kiln::MinOp>(x, n.input(i));
      if (failed(bounded))
        return failure();
      x = *bounded;
    }
  }
  auto result = n.createTyped<mlir::kiln::ClipOp>(type, x, minAttr, maxAttr);
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importCast(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  int64_t to = n.attrInt("to", 0);
  Type element = elementTypeFor(*n.context(), to);
  if (!element)
    return n.error("cannot cast to ONNX type " + std::to_string(to));
  auto type = RankedTensorType::get(n.inputType(0).getShape(), element);
  auto result = n.createTyped<mlir::kiln::CastOp>(type, n.input(0));
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importWhere(NodeImporter &n) {
  if (failed(n.expectInputs(3, 3)))
    return failure();
  auto result =
      n.create<mlir::kiln::WhereOp>(n.input(0), n.input(1), n.input(2));
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importPow(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  Value exponent = n.input(1);
  // Opset 12+ allows an exponent of another type; compute in the base type.
  Type base = n.inputType(0).getElementType();
  if (n.inputType(1).getElementType() != base) {
    auto cast = n.createTyped<mlir::kiln::CastOp>(
        RankedTensorType::get(n.inputType(1).getShape(), base), exponent);
    if (failed(cast))
      return failure();
    exponent = *cast;
  }
  auto result = n.create<mlir::kiln::PowOp>(n.input(0), exponent);
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importMod(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  bool fmod = n.attrInt("fmod", 0) != 0;
  if (!fmod && isa<FloatType>(n.inputType(0).getElementType()))
    return n.error("fmod=0 is only defined for integer inputs");
  auto result = n.create<mlir::kiln::ModOp>(n.input(0), n.input(1),
                                            n.builder.getBoolAttr(fmod));
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importBitShift(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  std::string direction = n.attrString("direction", "");
  if (direction != "LEFT" && direction != "RIGHT")
    return n.error("direction must be LEFT or RIGHT");
  if (!n.inputType(0).getElementType().isUnsignedInteger())
    return n.error("BitShift is defined for unsigned integers");
  auto result =
      n.create<mlir::kiln::BitShiftOp>(n.input(0), n.input(1), direction);
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importIdentity(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  n.setOutput(0, n.input(0));
  return success();
}

LogicalResult importDropout(NodeImporter &n) {
  // Inference: Dropout is the identity. Opset 12+ takes ratio and
  // training_mode as inputs; training mode is not supported.
  if (failed(n.expectInputs(1, 3)))
    return failure();
  n.ignoreAttr("ratio");
  n.ignoreAttr("is_test");
  n.ignoreAttr("seed"); // only drives the random mask of training mode
  if (n.hasInput(2)) {
    auto training = n.constantInput(2);
    if (!training || training->getInt(0) != 0)
      return n.error("training_mode must be a constant false");
  }
  n.setOutput(0, n.input(0));
  if (n.hasOutput(1)) // the mask keeps every element
    n.setOutput(1, n.constant(DenseElementsAttr::get(
                       RankedTensorType::get(n.inputType(0).getShape(),
                                             n.builder.getI1Type()),
                       true)));
  return success();
}

LogicalResult importHardSigmoid(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  auto result = n.createTyped<mlir::kiln::HardSigmoidOp>(
      n.inputType(0), n.input(0),
      n.builder.getF32FloatAttr(n.attrFloat("alpha", 0.2f)),
      n.builder.getF32FloatAttr(n.attrFloat("beta", 0.5f)));
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importSelu(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  auto result = n.createTyped<mlir::kiln::SeluOp>(
      n.inputType(0), n.input(0),
      n.builder.getF32FloatAttr(
          n.attrFloat("alpha", 1.67326319217681884765625f)),
      n.builder.getF32FloatAttr(
          n.attrFloat("gamma", 1.05070102214813232421875f)));
  if (failed(result))
    return failure();
  n.setOutput(0, *result);
  return success();
}

LogicalResult importPRelu(NodeImporter &n) {
  if (failed(n.expectInputs(2, 2)))
    return failure();
  auto result = n.create<mlir::kiln::PReluOp>(n.input(0), n.input(1));
  if (failed(result))
    return failure();
  if (cast<RankedTensorType>((*result).getType()) != n.inputType(0))
    return n.error("slope must broadcast to the input's shape");
  n.setOutput(0, *result);
  return success();
}

} // namespace

void registerElementwiseOps(OpTable &t) {
  t["Neg"] = unary<mlir::kiln::NegOp>();
  t["Abs"] = unary<mlir::kiln::AbsOp>();
  t["Sqrt"] = unary<mlir::kiln::SqrtOp>();
  t["Exp"] = unary<mlir::kiln::ExpOp>();
  t["Log"] = unary<mlir::kiln::LogOp>();
  t["Tanh"] = unary<mlir::kiln::TanhOp>();
  t["Erf"] = unary<mlir::kiln::ErfOp>();
  t["Reciprocal"] = unary<mlir::kiln::ReciprocalOp>();
  t["Floor"] = unary<mlir::kiln::FloorOp>();
  t["Ceil"] = unary<mlir::kiln::CeilOp>();
  t["Round"] = unary<mlir::kiln::RoundOp>();
  t["Sign"] = unary<mlir::kiln::SignOp>();
  t["Sin"] = unary<mlir::kiln::SinOp>();
  t["Cos"] = unary<mlir::kiln::CosOp>();
  t["Not"] = unary<mlir::kiln::NotOp>(1);
  t["Tan"] = unary<mlir::kiln::TanOp>();
  t["Asin"] = unary<mlir::kiln::AsinOp>();
  t["Acos"] = unary<mlir::kiln::AcosOp>();
  t["Atan"] = unary<mlir::kiln::AtanOp>();
  t["Sinh"] = unary<mlir::kiln::SinhOp>();
  t["Cosh"] = unary<mlir::kiln::CoshOp>();
  t["Asinh"] = unary<mlir::kiln::AsinhOp>();
  t["Acosh"] = unary<mlir::kiln::AcoshOp>();
  t["Atanh"] = unary<mlir::kiln::AtanhOp>();
  t["Relu"] = unary<mlir::kiln::ReluOp>();
  t["Sigmoid"] = unary<mlir::kiln::SigmoidOp>();
  t["Softplus"] = unary<mlir::kiln::SoftplusOp>(1);
  t["Softsign"] = unary<mlir::kiln::SoftsignOp>(1);
  t["HardSwish"] = unary<mlir::kiln::HardSwishOp>(14);
  t["LeakyRelu"] = unaryWithAlpha<mlir::kiln::LeakyReluOp>(0.01f);
  t["Elu"] = unaryWithAlpha<mlir::kiln::EluOp>(1.0f, 6);
  t["Celu"] = unaryWithAlpha<mlir::kiln::CeluOp>(1.0f);
  t["ThresholdedRelu"] = unaryWithAlpha<mlir::kiln::ThresholdedReluOp>(1.0f);
  t["HardSigmoid"] = {importHardSigmoid, 6};
  t["Selu"] = {importSelu, 6};
  t["Clip"] = {importClip};
  t["Cast"] = {importCast};
  t["Identity"] = {importIdentity};
  t["Dropout"] = {importDropout, 7, "inference (identity)"};

  t["Add"] = binary<mlir::kiln::AddOp>();
  t["Sub"] = binary<mlir::kiln::SubOp>();
  t["Mul"] = binary<mlir::kiln::MulOp>();
  t["Div"] = binary<mlir::kiln::DivOp>();
  t["Pow"] = {importPow};
  t["Mod"] = {importMod};
  t["BitShift"] = {importBitShift, 11};
  t["PRelu"] = {importPRelu};
  t["And"] = binary<mlir::kiln::AndOp>();
  t["Or"] = binary<mlir::kiln::OrOp>();
  t["Xor"] = binary<mlir::kiln::XorOp>();
  t["Equal"] = binary<mlir::kiln::EqualOp>();
  t["Less"] = binary<mlir::kiln::LessOp>();
  t["LessOrEqual"] = binary<mlir::kiln::LessEqualOp>();
  t["Greater"] = binary<mlir::kiln::GreaterOp>();
  t["GreaterOrEqual"] = binary<mlir::kiln::GreaterEqualOp>();
  t["Where"] = {importWhere};
  t["Sum"] = {importVariadic<mlir::kiln::AddOp>};
  t["Min"] = {importVariadic<mlir::kiln::MinOp>};
  t["Max"] = {importVariadic<mlir::kiln::MaxOp>};
  t["Mean"] = {importMean};
}

} // namespace kiln::onnx_import
