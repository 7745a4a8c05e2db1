//===- Quantizer.h - post-training int8 quantization ------------*- C++ -*-===//
//
// `kiln compile --quantize int8` and `kiln quantize`: calibrate a float ONNX
// model on the user's samples with Kiln's own runtime, choose int8
// parameters, and write the decisions as a standard QDQ model
// (QuantizeLinear/DequantizeLinear pairs). `kiln compile` then compiles that
// model like any QDQ model, so the exported file and the compiled bundle
// carry the same numbers.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_COMPILER_QUANTIZE_QUANTIZER_H
#define KILN_COMPILER_QUANTIZE_QUANTIZER_H

#include "compiler/import/onnx/OnnxImporter.h"

#include <string>
#include <utility>
#include <vector>

namespace kiln {

/// How an activation's range is chosen from what calibration observed.
enum class Calibrator {
  MinMax,     // the whole observed range
  Percentile, // the 0.001st to 99.999th percentile
  Entropy,    // the range whose int8 histogram loses least (KL divergence)
};

struct QuantizeOptions {
  /// Graph input name and .npy file: that input's samples stacked along a
  /// new leading axis, [N, *input shape].
  std::vector<std::pair<std::string, std::string>> calibration;
  Calibrator calibrator = Calibrator::Percentile;
  /// ONNX node names whose computation stays float.
  std::vector<std::string> keepFloat;
  /// Where to write the per-node int8-vs-float error; empty for none.
  std::string reportPath;
  /// Print what calibration does and how long it takes to stderr.
  bool verbose = false;
};

/// Parses "minmax", "percentile" or "entropy".
bool parseCalibrator(const std::string &name, Calibrator &calibrator);

/// Quantizes the model at `modelPath` (shapes from `import`) into `qdq`: the
/// same graph with int8 weights (per output channel, symmetric), int32
/// biases, and a QuantizeLinear/DequantizeLinear pair (uint8, per tensor) on
/// every activation a quantized node reads or writes. Errors are printed as
/// `kiln: error: ...`; returns false after one.
bool quantizeModel(const std::string &modelPath,
                   const OnnxImportOptions &import,
                   const QuantizeOptions &options, onnx::ModelProto &qdq);

/// Writes `model` to `path` (a temporary file renamed into place, so a
/// failure leaves nothing behind).
bool writeOnnxModel(const onnx::ModelProto &model, const std::string &path,
                    std::string &error);

} // namespace kiln

#endif // KILN_COMPILER_QUANTIZE_QUANTIZER_H
