//===- ImportRecurrent.cpp - RNN, GRU and LSTM, unrolled
//--------------------===//
//
// With static shapes the sequence length is known, so a recurrent op is its
// cell unrolled over time: per step a few gemms and elementwise ops, which
// fusion turns into a handful of dispatches. Directions forward, reverse and
// bidirectional; layouts 0 and 1; LSTM peepholes; GRU linear_before_reset.
//
//===----------------------------------------------------------------------===//

#include "compiler/import/onnx/NodeImporter.h"

using namespace mlir;
using mlir::kiln::ConstantTensor;
namespace k = mlir::kiln;

namespace kiln::onnx_import {
namespace {

enum class Cell { Rnn, Gru, Lstm };

/// Rows [index * size, (index + 1) * size) of dim `axis` of `value`.
FailureOr<Value> block(NodeImporter &n, Value value, int64_t axis,
                       int64_t index, int64_t size) {
  return n.sliceAlong(value, axis, index * size, size);
}

/// Drops leading unit dims down to `shape`.
FailureOr<Value> squeezeTo(NodeImporter &n, Value value,
                           ArrayRef<int64_t> shape) {
  return n.reshape(value, shape);
}

class RecurrentImporter {
public:
  RecurrentImporter(NodeImporter &n, Cell cell) : n(n), cell(cell) {}
  LogicalResult run();

private:
  int gates() const {
    return cell == Cell::Rnn ? 1 : cell == Cell::Gru ? 3 : 4;
  }
  FailureOr<Value> activate(Value v, int which);
  FailureOr<Value> gemm(Value x, Value weights); // x [B, I] @ weights^T
  LogicalResult direction(int64_t d, bool reverse, SmallVector<Value> &hs,
                          Value &lastH, Value &lastC);

  NodeImporter &n;
  Cell cell;
  Type element;
  int64_t seq = 0, batch = 0, input = 0, hidden = 0;
  Value x; // [seq, batch, input]
  SmallVector<std::string> activations;
  SmallVector<float> alphas, betas;
  std::optional<float> clip;
  bool linearBeforeReset = false;
};

FailureOr<Value> RecurrentImporter::activate(Value v, int which) {
  const std::string &name = activations[which];
  Type type = v.getType();
  if (name == "Sigmoid")
    return n.createTyped<k::SigmoidOp>(type, v);
  if (name == "Tanh")
    return n.createTyped<k::TanhOp>(type, v);
  if (name == "Relu")
    return n.createTyped<k::ReluOp>(type, v);
  return n.error("activation '" + name + "' is not supported");
}

FailureOr<Value> RecurrentImporter::gemm(Value value, Value weights) {
  return n.create<k::GemmOp>(
      value, weights, Value(), n.builder.getF32FloatAttr(1.0f),
      n.builder.getF32FloatAttr(1.0f), n.builder.getBoolAttr(false),
      n.builder.getBoolAttr(true));
}

LogicalResult RecurrentImporter::direction(int64_t d, bool reverse,
                                           SmallVector<Value> &hs, Value &lastH,
                                           Value &lastC) {
  int64_t g = gates();
  // This direction's weights: W [G*H, I], R [G*H, H], biases [G*H] each.
  KILN_TRY(w3, block(n, n.input(1), 0, d, 1));
  KILN_TRY(w, squeezeTo(n, w3, {g * hidden, input}));
  KILN_TRY(r3, block(n, n.input(2), 0, d, 1));
  KILN_TRY(r, squeezeTo(n, r3, {g * hidden, hidden}));
  SmallVector<Value> wGate, rGate, wBias, rBias, peep;
  for (int64_t i = 0; i < g; ++i) {
    KILN_TRY(wi, block(n, w, 0, i, hidden));
    KILN_TRY(ri, block(n, r, 0, i, hidden));
    wGate.push_back(wi);
    rGate.push_back(ri);
    if (n.hasInput(3)) {
      KILN_TRY(b2, block(n, n.input(3), 0, d, 1));
      KILN_TRY(b, squeezeTo(n, b2, {2 * g * hidden}));
      KILN_TRY(wb, block(n, b, 0, i, hidden));
      KILN_TRY(rb, block(n, b, 0, g + i, hidden));
      wBias.push_back(wb);
      rBias.push_back(rb);
    }
  }
  if (cell == Cell::Lstm && n.hasInput(7)) {
    KILN_TRY(p2, block(n, n.input(7), 0, d, 1));
    KILN_TRY(p, squeezeTo(n, p2, {3 * hidden}));
    for (int64_t i = 0; i < 3; ++i) {
      KILN_TRY(pi, block(n, p, 0, i, hidden));
      peep.push_back(pi);
    }
  }
  auto zeros = [&]() {
    ConstantTensor t(RankedTensorType::get({batch, hidden}, element));
    return n.constant(t.toAttr());
  };
  Value h = zeros(), c = zeros();
  if (n.hasInput(5)) {
    KILN_TRY(h3, block(n, n.input(5), 0, d, 1));
    KILN_TRY(h0, squeezeTo(n, h3, {batch, hidden}));
    h = h0;
  }
  if (cell == Cell::Lstm && n.hasInput(6)) {
    KILN_TRY(c3, block(n, n.input(6), 0, d, 1));
    KILN_TRY(c0, squeezeTo(n, c3, {batch, hidden}));
    c = c0;
  }
  // Activation slots: f, g (and h for LSTM) per direction.
  int offset = d * (cell == Cell::Rnn ? 1 : cell == Cell::Gru ? 2 : 3);

  // One gate's pre-activation: x W^T + h R^T + biases.
  auto gate = [&](Value xt, Value state, int i) -> FailureOr<Value> {
    KILN_TRY(xw, gemm(xt, wGate[i]));
    KILN_TRY(hr, gemm(state, rGate[i]));
    KILN_TRY(sum, n.create<k::AddOp>(xw, hr));
    Value v = sum;
    if (!wBias.empty()) {
      KILN_TRY(a, n.create<k::AddOp>(v, wBias[i]));
      KILN_TRY(b, n.create<k::AddOp>(a, rBias[i]));
      v = b;
    }
    return v;
  };
  auto clipped = [&](Value v) -> FailureOr<Value> {
    if (!clip)
      return v;
    return n.createTyped<k::ClipOp>(v.getType(), v,
                                    n.builder.getF64FloatAttr(-*clip),
                                    n.builder.getF64FloatAttr(*clip));
  };

  hs.assign(seq, Value());
  for (int64_t step = 0; step < seq; ++step) {
    int64_t t = reverse ? seq - 1 - step : step;
    KILN_TRY(xt3, block(n, x, 0, t, 1));
    KILN_TRY(xt, squeezeTo(n, xt3, {batch, input}));
    if (cell == Cell::Rnn) {
      KILN_TRY(pre, gate(xt, h, 0));
      KILN_TRY(pc, clipped(pre));
      KILN_TRY(next, activate(pc, offset));
      h = next;
    } else if (cell == Cell::Gru) {
      // Gates z, r, h.
      KILN_TRY(zPre, gate(xt, h, 0));
      KILN_TRY(zc, clipped(zPre));
      KILN_TRY(z, activate(zc, offset));
      KILN_TRY(rPre, gate(xt, h, 1));
      KILN_TRY(rc, clipped(rPre));
      KILN_TRY(rg, activate(rc, offset));
      KILN_TRY(xh, gemm(xt, wGate[2]));
      Value candidate;
      if (linearBeforeReset) {
        KILN_TRY(hr, gemm(h, rGate[2]));
        Value recurrent = hr;
        if (!rBias.empty()) {
          KILN_TRY(withBias, n.create<k::AddOp>(hr, rBias[2]));
          recurrent = withBias;
        }
        KILN_TRY(reset, n.create<k::MulOp>(rg, recurrent));
        KILN_TRY(sum, n.create<k::AddOp>(xh, reset));
        candidate = sum;
      } else {
        KILN_TRY(resetH, n.create<k::MulOp>(rg, h));
        KILN_TRY(hr, gemm(resetH, rGate[2]));
        KILN_TRY(sum, n.create<k::AddOp>(xh, hr));
        candidate = sum;
        if (!rBias.empty()) {
          KILN_TRY(withBias, n.create<k::AddOp>(candidate, rBias[2]));
          candidate = withBias;
        }
      }
      if (!wBias.empty()) {
        KILN_TRY(withBias, n.create<k::AddOp>(candidate, wBias[2]));
        candidate = withBias;
      }
      KILN_TRY(cc, clipped(candidate));
      KILN_TRY(hNew, activate(cc, offset + 1));
      // h = (1 - z) * hNew + z * h = hNew + z * (h - hNew)
      KILN_TRY(diff, n.create<k::SubOp>(h, hNew));
      KILN_TRY(keep, n.create<k::MulOp>(z, diff));
      KILN_TRY(next, n.create<k::AddOp>(hNew, keep));
      h = next;
    } else {
      // Gates i, o, f, c; peepholes i, o, f.
      auto peephole = [&](Value pre, int which,
                          Value state) -> FailureOr<Value> {
        if (peep.empty())
          return pre;
        KILN_TRY(term, n.create<k::MulOp>(peep[which], state));
        return n.create<k::AddOp>(pre, term);
      };
      KILN_TRY(iPre, gate(xt, h, 0));
      KILN_TRY(iPeep, peephole(iPre, 0, c));
      KILN_TRY(ic, clipped(iPeep));
      KILN_TRY(ig, activate(ic, offset));
      KILN_TRY(fPre, gate(xt, h, 2));
      KILN_TRY(fPeep, peephole(fPre, 2, c));
      KILN_TRY(fc, clipped(fPeep));
      KILN_TRY(fg, activate(fc, offset));
      KILN_TRY(cPre, gate(xt, h, 3));
      KILN_TRY(cc, clipped(cPre));
      KILN_TRY(cg, activate(cc, offset + 1));
      KILN_TRY(kept, n.create<k::MulOp>(fg, c));
      KILN_TRY(added, n.create<k::MulOp>(ig, cg));
      KILN_TRY(cNew, n.create<k::AddOp>(kept, added));
      KILN_TRY(oPre, gate(xt, h, 1));
      KILN_TRY(oPeep, peephole(oPre, 1, cNew));
      KILN_TRY(oc, clipped(oPeep));
      KILN_TRY(og, activate(oc, offset));
      KILN_TRY(ch, activate(cNew, offset + 2));
      KILN_TRY(next, n.create<k::MulOp>(og, ch));
      h = next;
      c = cNew;
    }
    hs[t] = h;
  }
  lastH = h;
  lastC = c;
  return success();
}

LogicalResult RecurrentImporter::run() {
  if (failed(n.expectInputs(3, cell == Cell::Lstm ? 8 : 6)))
    return failure();
  element = n.inputType(0).getElementType();
  if (!isa<FloatType>(element))
    return n.error("only floating-point inputs are supported");
  bool batchMajor = n.attrInt("layout", 0) != 0;
  x = n.input(0);
  if (batchMajor) {
    KILN_TRY(t, n.create<k::TransposeOp>(x, ArrayRef<int64_t>{1, 0, 2}));
    x = t;
  }
  auto shape = typeOf(x).getShape();
  seq = shape[0];
  batch = shape[1];
  input = shape[2];
  hidden = n.attrInt("hidden_size", 0);
  if (hidden <= 0)
    return n.error("hidden_size must be positive");
  std::string dir = n.attrString("direction", "forward");
  if (dir != "forward" && dir != "reverse" && dir != "bidirectional")
    return n.error("unknown direction '" + dir + "'");
  int64_t directions = dir == "bidirectional" ? 2 : 1;
  linearBeforeReset = n.attrInt("linear_before_reset", 0) != 0;
  if (n.hasAttr("clip"))
    clip = n.attrFloat("clip", 0);
  if (n.attrInt("input_forget", 0) != 0)
    return n.error("input_forget is not supported");
  alphas = n.attrFloats("activation_alpha");
  betas = n.attrFloats("activation_beta");
  if (!alphas.empty() || !betas.empty())
    return n.error("activation_alpha/beta are not supported");
  const onnx::AttributeProto *given = nullptr;
  for (const auto &a : n.node.attribute())
    if (a.name() == "activations")
      given = &a;
  n.ignoreAttr("activations");
  SmallVector<std::string> defaults =
      cell == Cell::Rnn   ? SmallVector<std::string>{"Tanh"}
      : cell == Cell::Gru ? SmallVector<std::string>{"Sigmoid", "Tanh"}
                          : SmallVector<std::string>{"Sigmoid", "Tanh", "Tanh"};
  for (int64_t d = 0; d < directions; ++d)
    for (size_t i = 0; i < defaults.size(); ++i) {
      size_t at = d * defaults.size() + i;
      activations.push_back(given && at < (size_t)given->strings_size()
                                ? given->strings(at)
                                : defaults[i]);
    }
  if (n.hasInput(4)) {
    auto lengths = n.constantInput(4);
    if (!lengths)
      return n.notKnownAtCompileTime(4, "sequence_lens");
    for (int64_t i = 0; i < lengths->size(); ++i)
      if (lengths->getInt(i) != seq)
        return n.error("sequences shorter than the input are not supported");
  }

  SmallVector<Value> ys, lastHs, lastCs;
  for (int64_t d = 0; d < directions; ++d) {
    SmallVector<Value> hs;
    Value lastH, lastC;
    bool reverse = dir == "reverse" || d == 1;
    if (failed(direction(d, reverse, hs, lastH, lastC)))
      return failure();
    SmallVector<Value> steps;
    for (Value h : hs) {
      KILN_TRY(step, n.reshape(h, {1, 1, batch, hidden}));
      steps.push_back(step);
    }
    KILN_TRY(y, n.create<k::ConcatOp>(steps, (uint64_t)0));
    ys.push_back(y);
    KILN_TRY(h1, n.reshape(lastH, {1, batch, hidden}));
    KILN_TRY(c1, n.reshape(lastC, {1, batch, hidden}));
    lastHs.push_back(h1);
    lastCs.push_back(c1);
  }
  KILN_TRY(y, n.create<k::ConcatOp>(ys, (uint64_t)1));
  KILN_TRY(yh, n.create<k::ConcatOp>(lastHs, (uint64_t)0));
  KILN_TRY(yc, n.create<k::ConcatOp>(lastCs, (uint64_t)0));
  if (batchMajor) {
    // Y [batch, seq, dirs, hidden]; Y_h, Y_c [batch, dirs, hidden].
    KILN_TRY(yt, n.create<k::TransposeOp>(y, ArrayRef<int64_t>{2, 0, 1, 3}));
    KILN_TRY(yht, n.create<k::TransposeOp>(yh, ArrayRef<int64_t>{1, 0, 2}));
    KILN_TRY(yct, n.create<k::TransposeOp>(yc, ArrayRef<int64_t>{1, 0, 2}));
    y = yt;
    yh = yht;
    yc = yct;
  }
  n.setOutput(0, y);
  n.setOutput(1, yh);
  if (cell == Cell::Lstm)
    n.setOutput(2, yc);
  return success();
}

} // namespace

void registerRecurrentOps(OpTable &t) {
  t["RNN"] = {
      [](NodeImporter &n) { return RecurrentImporter(n, Cell::Rnn).run(); }, 7,
      "unrolled over the (static) sequence"};
  t["GRU"] = {
      [](NodeImporter &n) { return RecurrentImporter(n, Cell::Gru).run(); }, 7,
      "unrolled over the (static) sequence"};
  t["LSTM"] = {
      [](NodeImporter &n) { return RecurrentImporter(n, Cell::Lstm).run(); }, 7,
      "unrolled over the (static) sequence; no input_forget"};
}

} // namespace kiln::onnx_import
