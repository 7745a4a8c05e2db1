//===- Calibration.cpp - activation ranges from observed values -----------===//

#include "compiler/quantize/Calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kiln::quantize {

AffineParams uint8ParamsForRange(float lo, float hi) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  AffineParams params;
  if (!(hi - lo > 0) || !std::isfinite(hi - lo))
    return params; // all zeros (or nothing finite): any scale is exact
  params.scale = (hi - lo) / 255.0f;
  params.zeroPoint = static_cast<int32_t>(
      std::clamp(std::nearbyint(-lo / params.scale), 0.0f, 255.0f));
  return params;
}

void TensorObserver::observeRange(const float *values, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    float v = values[i];
    if (!std::isfinite(v))
      continue;
    if (!seen) {
      lo = hi = v;
      seen = true;
    }
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
}

void TensorObserver::observeHistogram(Calibrator calibrator,
                                      const float *values, size_t count) {
  if (histogram.empty()) {
    histogram.assign(kBins, 0);
    if (calibrator == Calibrator::Entropy) {
      histogramLo = 0;
      histogramHi = std::max(std::fabs(lo), std::fabs(hi));
    } else {
      histogramLo = lo;
      histogramHi = hi;
    }
  }
  float width = histogramHi - histogramLo;
  if (!(width > 0))
    return;
  float binsPerUnit = kBins / width;
  bool magnitudes = calibrator == Calibrator::Entropy;
  for (size_t i = 0; i < count; ++i) {
    float v = values[i];
    if (!std::isfinite(v))
      continue;
    if (magnitudes) {
      // Exact zeros (a ReLU's half of the values) are exact in every
      // range; counted, their spike would push the divergence towards
      // small thresholds that clip the real values.
      if (v == 0)
        continue;
      v = std::fabs(v);
    }
    float position = (v - histogramLo) * binsPerUnit;
    size_t bin = position <= 0           ? 0
                 : position >= kBins - 1 ? kBins - 1
                                         : static_cast<size_t>(position);
    ++histogram[bin];
  }
}

size_t entropyThresholdBins(const std::vector<uint64_t> &magnitudes,
                            size_t levels) {
  size_t bins = magnitudes.size();
  if (bins <= levels)
    return bins;
  std::vector<double> p(bins), q(bins);
  double bestDivergence = std::numeric_limits<double>::infinity();
  size_t best = bins;
  for (size_t threshold = levels; threshold <= bins; ++threshold) {
    // P: the histogram clipped at the threshold, outliers in its last bin.
    double outliers = 0;
    for (size_t i = threshold; i < bins; ++i)
      outliers += magnitudes[i];
    for (size_t i = 0; i < threshold; ++i)
      p[i] = magnitudes[i];
    p[threshold - 1] += outliers;
    // Q: the unclipped bins merged into `levels` levels, each level's count
    // spread again over the bins of it that were not empty.
    for (size_t level = 0; level < levels; ++level) {
      size_t begin = level * threshold / levels;
      size_t end = (level + 1) * threshold / levels;
      double total = 0;
      size_t nonEmpty = 0;
      for (size_t i = begin; i < end; ++i) {
        total += magnitudes[i];
        nonEmpty += magnitudes[i] != 0;
      }
      for (size_t i = begin; i < end; ++i)
        q[i] = magnitudes[i] != 0 ? total / nonEmpty : 0;
    }
    double pSum = 0, qSum = 0;
    for (size_t i = 0; i < threshold; ++i) {
      pSum += p[i];
      qSum += q[i];
    }
    if (pSum == 0 || qSum == 0)
      continue;
    double divergence = 0;
    for (size_t i = 0; i < threshold; ++i) {
      if (p[i] == 0)
        continue;
      double pi = p[i] / pSum;
      // A bin that P has and Q lost (only the outlier bin can be one):
      // count it as if Q kept a tiny share.
      double qi = q[i] > 0 ? q[i] / qSum : 1e-9;
      divergence += pi * std::log(pi / qi);
    }
    if (divergence < bestDivergence) {
      bestDivergence = divergence;
      best = threshold;
    }
  }
  return best;
}

AffineParams TensorObserver::params(Calibrator calibrator) const {
  if (!seen)
    return AffineParams();
  if (calibrator == Calibrator::MinMax || histogram.empty())
    return uint8ParamsForRange(lo, hi);
  float binWidth = (histogramHi - histogramLo) / kBins;
  if (calibrator == Calibrator::Percentile) {
    // The 0.001st and 99.999th percentiles (ONNX Runtime's default).
    uint64_t total = 0;
    for (uint64_t count : histogram)
      total += count;
    auto cut = static_cast<uint64_t>(std::floor(total * 1e-5));
    size_t first = 0, last = kBins - 1;
    for (uint64_t below = 0; first < kBins - 1; ++first) {
      below += histogram[first];
      if (below > cut)
        break;
    }
    for (uint64_t above = 0; last > first; --last) {
      above += histogram[last];
      if (above > cut)
        break;
    }
    return uint8ParamsForRange(histogramLo + first * binWidth,
                               histogramLo + (last + 1) * binWidth);
  }
  // Entropy: a signed tensor is clipped to [-T, T] (128 levels a side), a
  // non-negative one to [0, T] (all 256).
  bool nonNegative = lo >= 0;
  size_t threshold = entropyThresholdBins(histogram, nonNegative ? 256 : 128);
  float t = threshold * binWidth;
  return uint8ParamsForRange(nonNegative ? 0 : std::max(-t, lo),
                             std::min(t, hi));
}

} // namespace kiln::quantize
