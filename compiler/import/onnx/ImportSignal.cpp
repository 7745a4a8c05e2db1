//===- ImportSignal.cpp - DFT, STFT, windows and mel filter banks ---------===//
//
// With static lengths a DFT is a matmul by compile-time cosine and sine
// matrices (the microkernel path for f32), and an STFT is a gather of the
// frames followed by that DFT. The window functions and MelWeightMatrix
// depend only on their (compile-time) arguments and become constants.
//
//===----------------------------------------------------------------------===//

#include "compiler/import/onnx/NodeImporter.h"

#include <cmath>

using namespace mlir;
using mlir::kiln::ConstantTensor;
namespace k = mlir::kiln;

namespace kiln::onnx_import {
namespace {

/// The DFT of `x` (real or complex: its last dim holds 1 or 2 components)
/// along `axis`, zero-padded or cut to `length` first, keeping the first
/// `bins` frequencies. Returns the complex result with the same layout.
FailureOr<Value> dft(NodeImporter &n, Value x, int64_t axis, int64_t length,
                     int64_t bins, bool inverse) {
  auto type = typeOf(x);
  int64_t rank = type.getRank(), last = rank - 2; // last signal dim
  int64_t components = type.getDimSize(rank - 1);
  if (components != 1 && components != 2)
    return n.error("the last dim must hold 1 (real) or 2 (complex) values");
  Type element = type.getElementType();
  if (!isa<FloatType>(element))
    return n.error("only floating-point signals are supported");
  // Each component as [..., signal] with the transformed axis last.
  SmallVector<Value> parts;
  for (int64_t c = 0; c < components; ++c) {
    KILN_TRY(part, n.takeAlong(x, rank - 1, c));
    KILN_TRY(moved, n.swapDims(part, axis, last));
    int64_t given = typeOf(moved).getDimSize(last);
    if (given > length) {
      KILN_TRY(cut, n.sliceAlong(moved, last, 0, length));
      moved = cut;
    } else if (given < length) {
      SmallVector<int64_t> pads(2 * (rank - 1), 0);
      pads[2 * (rank - 1) - 1] = length - given;
      KILN_TRY(padded,
               n.create<k::PadOp>(moved, pads, "constant", llvm::APFloat(0.0)));
      moved = padded;
    }
    parts.push_back(moved);
  }
  // e^{-+2 pi i j k / N} split into cosine and sine matrices [N, bins].
  ConstantTensor cosines(RankedTensorType::get({length, bins}, element));
  ConstantTensor sines(RankedTensorType::get({length, bins}, element));
  double scale = inverse ? 1.0 / length : 1.0;
  for (int64_t j = 0; j < length; ++j)
    for (int64_t f = 0; f < bins; ++f) {
      double angle = 2 * M_PI * double((j * f) % length) / length;
      cosines.set(j * bins + f, scale * std::cos(angle));
      sines.set(j * bins + f, scale * std::sin(angle) * (inverse ? -1 : 1));
    }
  Value cosine = n.constant(cosines.toAttr()),
        sine = n.constant(sines.toAttr());
  // Forward: re = xr C + xi S, im = xi C - xr S (inverse flips S's sign).
  KILN_TRY(realCos, n.create<k::MatMulOp>(parts[0], cosine));
  KILN_TRY(realSin, n.create<k::MatMulOp>(parts[0], sine));
  Value re = realCos;
  KILN_TRY(im, n.create<k::NegOp>(realSin));
  if (components == 2) {
    KILN_TRY(imagCos, n.create<k::MatMulOp>(parts[1], cosine));
    KILN_TRY(imagSin, n.create<k::MatMulOp>(parts[1], sine));
    KILN_TRY(sumRe, n.create<k::AddOp>(re, imagSin));
    KILN_TRY(sumIm, n.create<k::AddOp>(imagCos, im));
    re = sumRe;
    im = sumIm;
  }
  SmallVector<Value> outputs;
  for (Value part : {re, im}) {
    KILN_TRY(back, n.swapDims(part, axis, last));
    SmallVector<int64_t> shape(typeOf(back).getShape());
    shape.push_back(1);
    KILN_TRY(column, n.reshape(back, shape));
    outputs.push_back(column);
  }
  return n.create<k::ConcatOp>(outputs, (uint64_t)(rank - 1));
}

LogicalResult importDFT(NodeImporter &n) {
  if (failed(n.expectInputs(1, 2)))
    return failure();
  auto type = n.inputType(0);
  int64_t rank = type.getRank();
  if (rank < 3)
    return n.error("input must be [batch, signal..., 1 or 2]");
  int64_t axis = n.attrInt("axis", 1);
  if (failed(n.normalizeAxis(axis, rank)) || axis == 0 || axis == rank - 1)
    return n.error("axis must be a signal dim (not the batch or the last)");
  int64_t length = type.getDimSize(axis);
  if (n.hasInput(1)) {
    auto given = n.constantInts(1, "dft_length");
    if (failed(given))
      return failure();
    if (given->size() != 1 || given->front() <= 0)
      return n.error("dft_length must be one positive value");
    length = given->front();
  }
  bool inverse = n.attrInt("inverse", 0) != 0;
  bool onesided = n.attrInt("onesided", 0) != 0;
  if (inverse && onesided)
    return n.error("inverse and onesided cannot both be set");
  KILN_TRY(result, dft(n, n.input(0), axis, length,
                       onesided ? length / 2 + 1 : length, inverse));
  n.setOutput(0, result);
  return success();
}

/// STFT: the frames [batch, frames, frame_length, components] gathered at
/// compile-time positions, times the window, then a DFT of each frame.
LogicalResult importSTFT(NodeImporter &n) {
  if (failed(n.expectInputs(2, 4)))
    return failure();
  auto type = n.inputType(0);
  if (type.getRank() != 3)
    return n.error("signal must be [batch, length, 1 or 2]");
  auto step = n.constantInts(1, "frame_step");
  if (failed(step))
    return failure();
  int64_t frameLength = -1;
  if (n.hasInput(3)) {
    auto given = n.constantInts(3, "frame_length");
    if (failed(given))
      return failure();
    frameLength = given->empty() ? -1 : given->front();
  }
  if (n.hasInput(2)) {
    int64_t windowLength = n.inputType(2).getNumElements();
    if (frameLength >= 0 && frameLength != windowLength)
      return n.error("window and frame_length disagree");
    frameLength = windowLength;
  }
  if (frameLength <= 0)
    return n.error("frame_length or window is required");
  if (step->size() != 1 || step->front() <= 0)
    return n.error("frame_step must be one positive value");
  int64_t signal = type.getDimSize(1), hop = step->front();
  if (signal < frameLength)
    return n.error("the signal is shorter than one frame");
  int64_t frames = 1 + (signal - frameLength) / hop;
  ConstantTensor positions(RankedTensorType::get({frames, frameLength},
                                                 n.builder.getIntegerType(64)));
  for (int64_t f = 0; f < frames; ++f)
    for (int64_t i = 0; i < frameLength; ++i)
      positions.setInt(f * frameLength + i, f * hop + i);
  KILN_TRY(framed,
           n.create<k::GatherOp>(n.input(0), n.constant(positions.toAttr()),
                                 (uint64_t)1));
  Value windowed = framed; // [batch, frames, frame_length, components]
  if (n.hasInput(2)) {
    KILN_TRY(window, n.reshape(n.input(2), {frameLength, 1}));
    KILN_TRY(castWindow, n.castElements(window, type.getElementType()));
    KILN_TRY(product, n.create<k::MulOp>(framed, castWindow));
    windowed = product;
  }
  bool onesided = n.attrInt("onesided", 1) != 0;
  KILN_TRY(result, dft(n, windowed, 2, frameLength,
                       onesided ? frameLength / 2 + 1 : frameLength, false));
  n.setOutput(0, result);
  return success();
}

/// MelWeightMatrix, computed the way the ONNX reference does: mel-spaced
/// band edges (num_mel_bins + 2 steps) snapped to DFT bins, and triangular
/// filters between them.
LogicalResult importMelWeightMatrix(NodeImporter &n) {
  if (failed(n.expectInputs(5, 5)))
    return failure();
  const char *names[] = {"num_mel_bins", "dft_length", "sample_rate",
                         "lower_edge_hertz", "upper_edge_hertz"};
  double args[5];
  for (int i = 0; i < 5; ++i) {
    auto value = n.constantInput(i);
    if (!value || value->size() != 1)
      return n.notKnownAtCompileTime(i, names[i]);
    args[i] = value->getFloat(0);
  }
  int64_t melBins = (int64_t)args[0], dftLength = (int64_t)args[1];
  double sampleRate = args[2], lower = args[3], upper = args[4];
  if (melBins <= 0 || dftLength <= 0 || sampleRate <= 0)
    return n.error("num_mel_bins, dft_length and sample_rate must be positive");
  Type element = elementTypeFor(*n.context(), n.attrInt("output_datatype", 1));
  if (!element || !isa<FloatType>(element))
    return n.error("output_datatype must be a floating-point type");
  int64_t spectrumBins = dftLength / 2 + 1;
  auto toMel = [](double hz) { return 2595 * std::log10(1 + hz / 700); };
  double lowMel = toMel(lower), highMel = toMel(upper);
  double melStep = (highMel - lowMel) / double(melBins + 2);
  std::vector<int64_t> edges;
  for (int64_t i = 0; i < melBins + 2; ++i) {
    double hz = 700 * (std::pow(10, (i * melStep + lowMel) / 2595) - 1);
    edges.push_back((int64_t)std::floor((dftLength + 1) * hz / sampleRate));
  }
  ConstantTensor matrix(
      RankedTensorType::get({spectrumBins, melBins}, element));
  auto set = [&](int64_t bin, int64_t mel, double value) {
    if (bin >= 0 && bin < spectrumBins)
      matrix.set(bin * melBins + mel, value);
  };
  for (int64_t i = 0; i < melBins; ++i) {
    int64_t left = edges[i], center = edges[i + 1], right = edges[i + 2];
    if (center == left)
      set(center, i, 1);
    else
      for (int64_t j = left; j <= center; ++j)
        set(j, i, double(j - left) / double(center - left));
    if (right > center)
      for (int64_t j = center; j < right; ++j)
        set(j, i, double(right - j) / double(right - center));
  }
  n.setOutput(0, n.constant(matrix.toAttr()));
  return success();
}

/// Hann, Hamming and Blackman windows: compile-time constants of `size`.
template <int Kind> LogicalResult importWindow(NodeImporter &n) {
  if (failed(n.expectInputs(1, 1)))
    return failure();
  auto size = n.constantInput(0);
  if (!size || size->size() != 1)
    return n.notKnownAtCompileTime(0, "size");
  int64_t length = size->getInt(0);
  if (length < 0)
    return n.error("size must be non-negative");
  Type element = elementTypeFor(*n.context(), n.attrInt("output_datatype", 1));
  if (!element || !isa<FloatType>(element))
    return n.error("output_datatype must be a floating-point type");
  bool periodic = n.attrInt("periodic", 1) != 0;
  double span = periodic ? length : length - 1;
  ConstantTensor window(RankedTensorType::get({length}, element));
  for (int64_t i = 0; i < length; ++i) {
    double angle = span > 0 ? 2 * M_PI * i / span : 0;
    double v;
    if (Kind == 0) // Hann
      v = 0.5 - 0.5 * std::cos(angle);
    else if (Kind == 1) // Hamming, ONNX's coefficients
      v = 25.0 / 46.0 - 21.0 / 46.0 * std::cos(angle);
    else // Blackman
      v = 0.42 - 0.5 * std::cos(angle) + 0.08 * std::cos(2 * angle);
    window.set(i, v);
  }
  n.setOutput(0, n.constant(window.toAttr()));
  return success();
}

} // namespace

void registerSignalOps(OpTable &t) {
  t["DFT"] = {importDFT, 17, "matmuls by compile-time cosine/sine matrices"};
  t["STFT"] = {importSTFT, 17,
               "frame_step/frame_length known at compile time; gather + DFT"};
  t["MelWeightMatrix"] = {importMelWeightMatrix, 17, "a compile-time constant"};
  t["HannWindow"] = {importWindow<0>, 17, "a compile-time constant"};
  t["HammingWindow"] = {importWindow<1>, 17, "a compile-time constant"};
  t["BlackmanWindow"] = {importWindow<2>, 17, "a compile-time constant"};
}

} // namespace kiln::onnx_import
