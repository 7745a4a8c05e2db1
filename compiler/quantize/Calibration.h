//===- Calibration.h - activation ranges from observed values ---*- C++ -*-===//
//
// An observer per calibrated tensor keeps its range (first pass over the
// samples) and, for the percentile and entropy calibrators, a histogram
// over that range (second pass): never the activations themselves.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_COMPILER_QUANTIZE_CALIBRATION_H
#define KILN_COMPILER_QUANTIZE_CALIBRATION_H

#include "compiler/quantize/Quantizer.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kiln::quantize {

/// uint8 affine parameters: real = scale * (q - zeroPoint).
struct AffineParams {
  float scale = 1.0f;
  int32_t zeroPoint = 0;
};

/// Parameters that represent [lo, hi] (widened to include 0, so that zero
/// padding and ReLU's zeros are exact) with 256 levels.
AffineParams uint8ParamsForRange(float lo, float hi);

class TensorObserver {
public:
  static constexpr size_t kBins = 2048;

  /// First pass: the range of the finite values.
  void observeRange(const float *values, size_t count);
  /// Whether `calibrator` needs the second pass.
  static bool needsHistogram(Calibrator calibrator) {
    return calibrator != Calibrator::MinMax;
  }
  /// Second pass: values into the histogram `calibrator` reads (signed
  /// values over the range for percentile, magnitudes for entropy).
  void observeHistogram(Calibrator calibrator, const float *values,
                        size_t count);
  /// The range to quantize, as `calibrator` chooses it.
  AffineParams params(Calibrator calibrator) const;

  float min() const { return lo; }
  float max() const { return hi; }

private:
  float lo = 0, hi = 0;
  bool seen = false;
  std::vector<uint64_t> histogram;
  float histogramLo = 0, histogramHi = 0;
};

/// The threshold T (in bins of the magnitude histogram) whose quantization
/// to `levels` levels diverges least from the histogram clipped at T
/// (TensorRT's entropy calibration). Exposed for the unit tests.
size_t entropyThresholdBins(const std::vector<uint64_t> &magnitudes,
                            size_t levels);

} // namespace kiln::quantize

#endif // KILN_COMPILER_QUANTIZE_CALIBRATION_H
