//===- ImportTraining.cpp - ai.onnx.preview.training optimizers -----------===//
//
// Adagrad, Momentum (standard and Nesterov) and Adam from the
// ai.onnx.preview.training domain (version 1): one optimizer step over n
// tensors, elementwise formulas of the learning rate R, the step count T,
// the weights X, their gradients G and the optimizer state. Static shapes
// make them ordinary elementwise graphs; T only enters through T > 0 and
// the bias corrections, so it stays a run-time input.
//
//===----------------------------------------------------------------------===//

#include "compiler/import/onnx/NodeImporter.h"

using namespace mlir;
namespace k = mlir::kiln;

namespace kiln::onnx_import {
namespace {

/// Inputs are R, T, then `groups` runs of n tensors (X, G, and the state);
/// returns n after checking the counts.
FailureOr<int> tensorsPerGroup(NodeImporter &n, int groups) {
  int tensors = n.numInputs() - 2;
  if (tensors <= 0 || tensors % groups != 0)
    return n.error("expects R, T and " + std::to_string(groups) +
                   " equally long lists of tensors");
  for (int i = 0; i < n.numInputs(); ++i)
    if (!n.hasInput(i))
      return n.error("input " + std::to_string(i) + " is missing");
  if (!isa<FloatType>(n.inputType(0).getElementType()) ||
      n.inputType(0).getNumElements() != 1)
    return n.error("R must be a floating-point scalar");
  if (n.inputType(1).getNumElements() != 1)
    return n.error("T must be a scalar");
  return tensors / groups;
}

/// The scalar input `i` (R or T) as a rank-0 tensor of `element`.
FailureOr<Value> scalarAs(NodeImporter &n, int i, Type element) {
  KILN_TRY(scalar, n.reshape(n.input(i), {}));
  return n.castElements(scalar, element);
}

/// norm_coefficient * X + G: the gradient with its L2 regularisation term.
FailureOr<Value> regularizedGradient(NodeImporter &n, Value x, Value g,
                                     double normCoefficient) {
  Type element = typeOf(x).getElementType();
  KILN_TRY(decay, n.create<k::MulOp>(n.splat(element, normCoefficient), x));
  return n.create<k::AddOp>(decay, g);
}

LogicalResult importAdagrad(NodeImporter &n) {
  auto count = tensorsPerGroup(n, 3);
  if (failed(count))
    return failure();
  double decayFactor = n.attrFloat("decay_factor", 0.0f),
         epsilon = n.attrFloat("epsilon", 1e-6f),
         normCoefficient = n.attrFloat("norm_coefficient", 0.0f);
  for (int i = 0; i < *count; ++i) {
    Value x = n.input(2 + i), g = n.input(2 + *count + i),
          h = n.input(2 + 2 * *count + i);
    Type element = typeOf(x).getElementType();
    // r = R / (1 + T * decay_factor)
    KILN_TRY(rate, scalarAs(n, 0, element));
    KILN_TRY(step, scalarAs(n, 1, element));
    KILN_TRY(decayed, n.create<k::MulOp>(step, n.splat(element, decayFactor)));
    KILN_TRY(denominator, n.create<k::AddOp>(n.splat(element, 1.0), decayed));
    KILN_TRY(r, n.create<k::DivOp>(rate, denominator));
    KILN_TRY(gradient, regularizedGradient(n, x, g, normCoefficient));
    KILN_TRY(squared, n.create<k::MulOp>(gradient, gradient));
    KILN_TRY(hNew, n.create<k::AddOp>(h, squared));
    KILN_TRY(root, n.create<k::SqrtOp>(hNew));
    KILN_TRY(adaptive, n.create<k::AddOp>(root, n.splat(element, epsilon)));
    KILN_TRY(scaled, n.create<k::MulOp>(r, gradient));
    KILN_TRY(update, n.create<k::DivOp>(scaled, adaptive));
    KILN_TRY(xNew, n.create<k::SubOp>(x, update));
    n.setOutput(i, xNew);
    n.setOutput(*count + i, hNew);
  }
  return success();
}

/// Momentum: V_new = alpha * V + beta' * G_reg with beta' = T > 0 ? beta : 1;
/// X_new = X - R * V_new (standard) or X - R * (G_reg + alpha * V_new)
/// (nesterov).
LogicalResult importMomentum(NodeImporter &n) {
  auto count = tensorsPerGroup(n, 3);
  if (failed(count))
    return failure();
  for (const char *required : {"alpha", "beta", "mode", "norm_coefficient"})
    if (!n.hasAttr(required))
      return n.error(std::string("attribute '") + required + "' is required");
  double alpha = n.attrFloat("alpha", 0), beta = n.attrFloat("beta", 0),
         normCoefficient = n.attrFloat("norm_coefficient", 0);
  std::string mode = n.attrString("mode", "");
  if (mode != "standard" && mode != "nesterov")
    return n.error("unknown mode '" + mode + "'");
  for (int i = 0; i < *count; ++i) {
    Value x = n.input(2 + i), g = n.input(2 + *count + i),
          v = n.input(2 + 2 * *count + i);
    Type element = typeOf(x).getElementType();
    KILN_TRY(rate, scalarAs(n, 0, element));
    KILN_TRY(step, scalarAs(n, 1, element));
    KILN_TRY(started, n.create<k::GreaterOp>(step, n.splat(element, 0.0)));
    KILN_TRY(betaAdjusted, n.create<k::WhereOp>(started, n.splat(element, beta),
                                                n.splat(element, 1.0)));
    KILN_TRY(gradient, regularizedGradient(n, x, g, normCoefficient));
    KILN_TRY(kept, n.create<k::MulOp>(n.splat(element, alpha), v));
    KILN_TRY(added, n.create<k::MulOp>(betaAdjusted, gradient));
    KILN_TRY(vNew, n.create<k::AddOp>(kept, added));
    Value direction = vNew;
    if (mode == "nesterov") {
      KILN_TRY(ahead, n.create<k::MulOp>(n.splat(element, alpha), vNew));
      KILN_TRY(sum, n.create<k::AddOp>(gradient, ahead));
      direction = sum;
    }
    KILN_TRY(update, n.create<k::MulOp>(rate, direction));
    KILN_TRY(xNew, n.create<k::SubOp>(x, update));
    n.setOutput(i, xNew);
    n.setOutput(*count + i, vNew);
  }
  return success();
}

/// Adam: V_new = alpha V + (1 - alpha) G_reg, H_new = beta H + (1 - beta)
/// G_reg^2, R' = R sqrt(1 - beta^T) / (1 - alpha^T) when T > 0 (else R),
/// X_new = (1 - norm_coefficient_post) (X - R' V_new / (sqrt(H_new) + eps)).
LogicalResult importAdam(NodeImporter &n) {
  auto count = tensorsPerGroup(n, 4);
  if (failed(count))
    return failure();
  double alpha = n.attrFloat("alpha", 0.9f), beta = n.attrFloat("beta", 0.999f),
         epsilon = n.attrFloat("epsilon", 1e-6f),
         normCoefficient = n.attrFloat("norm_coefficient", 0.0f),
         normCoefficientPost = n.attrFloat("norm_coefficient_post", 0.0f);
  for (int i = 0; i < *count; ++i) {
    Value x = n.input(2 + i), g = n.input(2 + *count + i),
          v = n.input(2 + 2 * *count + i), h = n.input(2 + 3 * *count + i);
    Type element = typeOf(x).getElementType();
    auto splat = [&](double value) { return n.splat(element, value); };
    KILN_TRY(rate, scalarAs(n, 0, element));
    KILN_TRY(step, scalarAs(n, 1, element));
    KILN_TRY(gradient, regularizedGradient(n, x, g, normCoefficient));
    KILN_TRY(vKept, n.create<k::MulOp>(splat(alpha), v));
    KILN_TRY(vAdded, n.create<k::MulOp>(splat(1 - alpha), gradient));
    KILN_TRY(vNew, n.create<k::AddOp>(vKept, vAdded));
    KILN_TRY(squared, n.create<k::MulOp>(gradient, gradient));
    KILN_TRY(hKept, n.create<k::MulOp>(splat(beta), h));
    KILN_TRY(hAdded, n.create<k::MulOp>(splat(1 - beta), squared));
    KILN_TRY(hNew, n.create<k::AddOp>(hKept, hAdded));
    KILN_TRY(root, n.create<k::SqrtOp>(hNew));
    KILN_TRY(hSqrt, n.create<k::AddOp>(root, splat(epsilon)));
    // Bias correction of the learning rate, only once T > 0.
    KILN_TRY(betaPower, n.create<k::PowOp>(splat(beta), step));
    KILN_TRY(alphaPower, n.create<k::PowOp>(splat(alpha), step));
    KILN_TRY(betaLeft, n.create<k::SubOp>(splat(1.0), betaPower));
    KILN_TRY(alphaLeft, n.create<k::SubOp>(splat(1.0), alphaPower));
    KILN_TRY(betaRoot, n.create<k::SqrtOp>(betaLeft));
    KILN_TRY(corrected, n.create<k::MulOp>(rate, betaRoot));
    KILN_TRY(correctedRate, n.create<k::DivOp>(corrected, alphaLeft));
    KILN_TRY(started, n.create<k::GreaterOp>(step, splat(0.0)));
    KILN_TRY(r, n.create<k::WhereOp>(started, correctedRate, rate));
    KILN_TRY(ratio, n.create<k::DivOp>(vNew, hSqrt));
    KILN_TRY(update, n.create<k::MulOp>(r, ratio));
    KILN_TRY(stepped, n.create<k::SubOp>(x, update));
    KILN_TRY(xNew, n.create<k::MulOp>(splat(1 - normCoefficientPost), stepped));
    n.setOutput(i, xNew);
    n.setOutput(*count + i, vNew);
    n.setOutput(2 * *count + i, hNew);
  }
  return success();
}

} // namespace

void registerTrainingOps(OpTable &t) {
  const char *note = "ai.onnx.preview.training domain; composed of Kiln ops";
  t[std::string(kTrainingDomain) + ".Adagrad"] = {importAdagrad, 1, note};
  t[std::string(kTrainingDomain) + ".Momentum"] = {importMomentum, 1, note};
  t[std::string(kTrainingDomain) + ".Adam"] = {importAdam, 1, note};
}

} // namespace kiln::onnx_import
