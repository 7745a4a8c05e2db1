//===- Quantizer.cpp - post-training int8 quantization --------------------===//
//
// Calibration compiles the float model for this host with every tensor to
// observe made a graph output, runs the samples through Kiln's runtime (one
// pass for ranges, a second for histograms when the calibrator needs them),
// and turns what the observers saw into uint8 parameters. The QDQ model
// then carries them; the report runs the float and the quantized model
// side by side on the same samples.
//
//===----------------------------------------------------------------------===//

#include "compiler/quantize/Quantizer.h"
#include "compiler/import/onnx/NodeImporter.h"
#include "compiler/pipeline/Pipeline.h"
#include "compiler/quantize/QdqGraph.h"
#include "runtime/tools/NpyFile.h"

#include "kiln/kiln.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <fstream>

namespace kiln {

using quantize::AffineParams;
using quantize::QdqGraph;
using quantize::TensorObserver;

bool parseCalibrator(const std::string &name, Calibrator &calibrator) {
  if (name == "minmax")
    calibrator = Calibrator::MinMax;
  else if (name == "percentile")
    calibrator = Calibrator::Percentile;
  else if (name == "entropy")
    calibrator = Calibrator::Entropy;
  else
    return false;
  return true;
}

bool writeOnnxModel(const onnx::ModelProto &model, const std::string &path,
                    std::string &error) {
  std::string bytes;
  if (!model.SerializeToString(&bytes)) {
    error = "cannot serialise the model (over protobuf's 2 GB limit?)";
    return false;
  }
  llvm::SmallString<256> temporary;
  int fd;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(path + ".tmp-%%%%%%",
                                                           fd, temporary)) {
    error = "cannot create a file beside '" + path + "': " + ec.message();
    return false;
  }
  {
    llvm::raw_fd_ostream out(fd, /*shouldClose=*/true);
    out << bytes;
    out.close();
    if (out.has_error()) {
      error = "cannot write '" + std::string(temporary) +
              "': " + out.error().message();
      out.clear_error();
      llvm::sys::fs::remove(temporary);
      return false;
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(temporary, path)) {
    error = "cannot write '" + path + "': " + ec.message();
    llvm::sys::fs::remove(temporary);
    return false;
  }
  return true;
}

namespace {

bool fail(const std::string &modelPath, const std::string &message) {
  llvm::errs() << "kiln: error: " << modelPath << ": " << message << "\n";
  return false;
}

int64_t defaultOpset(const onnx::ModelProto &model) {
  for (const auto &entry : model.opset_import())
    if (entry.domain().empty() || entry.domain() == "ai.onnx")
      return entry.version();
  return 0;
}

/// External initializers read into the model, so that the QDQ model stands
/// alone wherever it is written.
bool inlineExternalData(onnx::GraphProto &graph, llvm::StringRef baseDir,
                        std::string &error) {
  for (auto &init : *graph.mutable_initializer()) {
    if (init.data_location() != onnx::TensorProto::EXTERNAL)
      continue;
    std::string bytes;
    if (!onnx_import::readExternalData(init, baseDir, bytes, error)) {
      error = "initializer '" + init.name() + "': " + error;
      return false;
    }
    init.clear_external_data();
    init.set_data_location(onnx::TensorProto::DEFAULT);
    init.set_raw_data(std::move(bytes));
  }
  return true;
}

/// Each graph input's calibration samples, [N, *input shape], by name.
using Samples = llvm::StringMap<tools::HostTensor>;

/// Sample `index` of a graph input's samples, as floats.
std::pair<const float *, size_t> sampleOf(const tools::HostTensor &samples,
                                          int64_t index) {
  size_t bytes = samples.data.size() / samples.dims[0];
  return {reinterpret_cast<const float *>(samples.data.data() + index * bytes),
          bytes / sizeof(float)};
}

/// A model compiled for this host with some of its tensors as outputs.
class ObservedModel {
public:
  ~ObservedModel() {
    kiln_session_destroy(session);
    kiln_model_close(model);
  }

  /// Compiles `onnx` with `observed` tensors added to its outputs.
  bool build(const std::string &modelPath, const OnnxImportOptions &import,
             onnx::ModelProto onnx, const std::vector<std::string> &observed) {
    llvm::StringSet<> outputs;
    for (const auto &output : onnx.graph().output())
      outputs.insert(output.name());
    for (const std::string &name : observed)
      if (outputs.insert(name).second)
        onnx.mutable_graph()->add_output()->set_name(name);
    llvm::SmallString<128> bundle;
    if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
            "kiln-calibration", "kiln", bundle))
      return fail(modelPath,
                  "cannot create a temporary bundle: " + ec.message());
    CompileOptions options;
    options.modelPath = modelPath;
    options.outputPath = std::string(bundle);
    options.targets = {kiln_target_name(kiln_host_target())};
    options.import = import;
    options.import.model = &onnx;
    bool compiled = compile(options);
    bool opened = compiled &&
                  kiln_model_open_file(bundle.c_str(), 0, &model) == KILN_OK &&
                  kiln_session_create(model, nullptr, &session) == KILN_OK;
    llvm::sys::fs::remove(bundle);
    if (!compiled)
      return false;
    if (!opened)
      return fail(modelPath, std::string("calibration: ") + kiln_last_error());
    for (const std::string &name : observed) {
      int index = -1;
      for (uint32_t i = 0; i < kiln_model_output_count(model); ++i) {
        kiln_tensor_info info;
        kiln_model_output_info(model, i, &info);
        if (name == info.name && info.dtype == KILN_DTYPE_F32)
          index = i;
      }
      if (index < 0)
        return fail(modelPath, "calibration: tensor '" + name +
                                   "' is not a float32 output of the "
                                   "calibration model");
      outputIndex.push_back(index);
    }
    return true;
  }

  /// Binds the samples to the model's inputs by name; checks their shapes.
  bool bind(const std::string &modelPath, const Samples &samples,
            int64_t &count) {
    count = -1;
    for (uint32_t i = 0; i < kiln_model_input_count(model); ++i) {
      kiln_tensor_info info;
      kiln_model_input_info(model, i, &info);
      auto it = samples.find(info.name);
      if (it == samples.end())
        return fail(modelPath, std::string("--calibration gives no samples "
                                           "for graph input '") +
                                   info.name + "'");
      const tools::HostTensor &tensor = it->second;
      bool matches =
          tensor.dtype == info.dtype && tensor.dims.size() == info.rank + 1 &&
          std::equal(info.dims, info.dims + info.rank, tensor.dims.begin() + 1);
      if (!matches)
        return fail(
            modelPath,
            std::string("--calibration ") + info.name + ": samples " +
                tools::describeTensorType(tensor.dtype, tensor.dims.data(),
                                          tensor.dims.size()) +
                " are not the input's " +
                tools::describeTensorType(info.dtype, info.dims, info.rank) +
                " stacked along a new first axis");
      if (count >= 0 && tensor.dims[0] != count)
        return fail(modelPath, "--calibration files hold different numbers "
                               "of samples");
      count = tensor.dims[0];
      inputs.push_back({&tensor, info.size_bytes});
    }
    for (const auto &entry : samples)
      if (llvm::none_of(llvm::seq(0u, kiln_model_input_count(model)),
                        [&](uint32_t i) {
                          kiln_tensor_info info;
                          kiln_model_input_info(model, i, &info);
                          return entry.getKey() == info.name;
                        }))
        return fail(modelPath, "--calibration names '" + entry.getKey().str() +
                                   "', which is not a graph input");
    if (count == 0)
      return fail(modelPath, "--calibration files hold no samples");
    return true;
  }

  /// Runs sample `index`; false (after a message) on failure.
  bool run(const std::string &modelPath, int64_t index) {
    for (auto [i, input] : llvm::enumerate(inputs))
      kiln_session_set_input(session, i,
                             input.first->data.data() + index * input.second,
                             input.second);
    if (kiln_session_run(session) != KILN_OK)
      return fail(modelPath,
                  std::string("calibration run: ") + kiln_last_error());
    return true;
  }

  /// Observed tensor `i` of the last run.
  std::pair<const float *, size_t> observed(size_t i) const {
    const void *data = nullptr;
    uint64_t size = 0;
    kiln_session_output(session, outputIndex[i], &data, &size);
    return {static_cast<const float *>(data), size / sizeof(float)};
  }

private:
  kiln_model *model = nullptr;
  kiln_session *session = nullptr;
  std::vector<uint32_t> outputIndex;
  std::vector<std::pair<const tools::HostTensor *, uint64_t>> inputs;
};

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

/// Per quantized unit, the error of the int8 model against the float one
/// on the calibration samples, as a tab-separated table. `floatModel` is
/// the calibration model; `floatOutputs` its index of each unit's output.
bool writeReport(const std::string &modelPath, const OnnxImportOptions &import,
                 const QuantizeOptions &options, ObservedModel &floatModel,
                 const std::vector<size_t> &floatOutputs,
                 const onnx::ModelProto &input, const onnx::ModelProto &qdq,
                 const QdqGraph &plan, const Samples &samples) {
  std::vector<std::string> quantizedNames;
  for (const auto &unit : plan.units())
    quantizedNames.push_back(plan.dequantizedName(unit.output));
  ObservedModel quantizedModel;
  int64_t count;
  if (!quantizedModel.build(modelPath, import, qdq, quantizedNames) ||
      !quantizedModel.bind(modelPath, samples, count))
    return false;
  size_t units = quantizedNames.size();
  std::vector<double> signal(units), noise(units);
  std::vector<size_t> values(units);
  for (int64_t s = 0; s < count; ++s) {
    if (!floatModel.run(modelPath, s) || !quantizedModel.run(modelPath, s))
      return false;
    for (size_t i = 0; i < units; ++i) {
      auto [x, n] = floatModel.observed(floatOutputs[i]);
      auto [y, m] = quantizedModel.observed(i);
      for (size_t k = 0; k < std::min(n, m); ++k) {
        signal[i] += double(x[k]) * x[k];
        noise[i] += double(x[k] - y[k]) * (x[k] - y[k]);
      }
      values[i] += std::min(n, m);
    }
  }
  std::string text = "# int8 against float on " + std::to_string(count) +
                     " calibration samples; SQNR = 10 log10(sum x^2 / "
                     "sum (x - q)^2), higher is better\n"
                     "node\top\toutput\tsqnr_db\tfloat_rms\terror_rms\n";
  const onnx::GraphProto &graph = input.graph();
  for (auto [i, unit] : llvm::enumerate(plan.units())) {
    std::string ops;
    for (int n : unit.nodes)
      ops += (ops.empty() ? "" : "+") + graph.node(n).op_type();
    double sqnr = noise[i] > 0 ? 10 * std::log10(signal[i] / noise[i])
                               : std::numeric_limits<double>::infinity();
    size_t n = std::max<size_t>(values[i], 1);
    text += graph.node(unit.nodes.front()).name() + "\t" + ops + "\t" +
            unit.output + "\t" +
            llvm::formatv("{0:F2}\t{1:E3}\t{2:E3}\n", sqnr,
                          std::sqrt(signal[i] / n), std::sqrt(noise[i] / n))
                .str();
  }
  std::ofstream out(options.reportPath);
  out << text;
  out.close();
  if (!out)
    return fail(modelPath,
                "cannot write --quantize-report '" + options.reportPath + "'");
  return true;
}

} // namespace

bool quantizeModel(const std::string &modelPath,
                   const OnnxImportOptions &import,
                   const QuantizeOptions &options, onnx::ModelProto &qdq) {
  auto started = std::chrono::steady_clock::now();
  onnx::ModelProto model;
  std::string error;
  if (!readOnnxModel(modelPath, model, error))
    return fail(modelPath, error);
  std::string baseDir = llvm::sys::path::parent_path(modelPath).str();
  if (!inlineExternalData(*model.mutable_graph(), baseDir, error))
    return fail(modelPath, error);
  if (int64_t opset = defaultOpset(model); opset < 13)
    return fail(modelPath,
                "int8 quantization needs ONNX opset 13 or newer (per-channel "
                "DequantizeLinear); the model imports opset " +
                    std::to_string(opset) +
                    " (onnx.version_converter can convert it)");

  QdqGraph plan(model.graph(), options.keepFloat);
  for (const std::string &name : plan.unknownKeepFloat)
    return fail(modelPath, "--keep-float names node '" + name +
                               "', which the graph does not have");
  if (plan.units().empty())
    return fail(modelPath, "no node to quantize (Conv, Gemm, MatMul, Add, "
                           "pools and Concat are quantized)");

  Samples samples;
  for (const auto &[name, path] : options.calibration) {
    if (samples.count(name))
      return fail(modelPath, "--calibration names input '" + name + "' twice");
    if (!tools::readNpy(path, samples[name], error))
      return fail(modelPath, "--calibration " + name + ": " + error);
  }
  if (samples.empty())
    return fail(modelPath, "--quantize int8 needs calibration samples: "
                           "--calibration INPUT=FILE.npy");

  // Calibration: observe every tensor whose parameters are chosen here
  // (graph inputs are their samples), and each unit's output for the
  // report, which runs this model again beside the quantized one.
  std::vector<std::string> calibrated = plan.calibratedTensors();
  std::vector<std::string> observed;
  llvm::StringMap<size_t> observedIndex;
  auto observeTensor = [&](const std::string &tensor) {
    if (!plan.isGraphInput(tensor) &&
        observedIndex.try_emplace(tensor, observed.size()).second)
      observed.push_back(tensor);
  };
  for (const std::string &tensor : calibrated)
    observeTensor(tensor);
  bool report = !options.reportPath.empty();
  if (report)
    for (const auto &unit : plan.units())
      observeTensor(unit.output);
  ObservedModel calibration;
  int64_t count;
  if (!calibration.build(modelPath, import, model, observed) ||
      !calibration.bind(modelPath, samples, count))
    return false;
  for (const std::string &name : calibrated)
    if (plan.isGraphInput(name) &&
        samples.find(name)->second.dtype != KILN_DTYPE_F32)
      return fail(modelPath, "graph input '" + name + "' is not float32");
  llvm::StringMap<TensorObserver> observers;
  auto observe = [&](bool histogram) {
    for (int64_t s = 0; s < count; ++s) {
      if (!calibration.run(modelPath, s))
        return false;
      for (const std::string &name : calibrated) {
        auto [values, size] =
            plan.isGraphInput(name)
                ? sampleOf(samples.find(name)->second, s)
                : calibration.observed(observedIndex.lookup(name));
        TensorObserver &observer = observers[name];
        if (histogram)
          observer.observeHistogram(options.calibrator, values, size);
        else
          observer.observeRange(values, size);
      }
    }
    return true;
  };
  if (!observe(false) ||
      (TensorObserver::needsHistogram(options.calibrator) && !observe(true)))
    return false;
  llvm::StringMap<AffineParams> params;
  for (const std::string &name : calibrated)
    params[name] = observers[name].params(options.calibrator);

  mlir::MLIRContext context;
  auto readConstant = [&](const onnx::TensorProto &tensor,
                          std::vector<float> &values, std::string &message) {
    auto attr = onnx_import::tensorToAttr(context, tensor, baseDir, message);
    if (!attr)
      return false;
    if (!attr.getElementType().isF32()) {
      message = "not float32";
      return false;
    }
    auto range = attr.getValues<float>();
    values.assign(range.begin(), range.end());
    return true;
  };
  qdq = model;
  if (!plan.writeQdq(params, readConstant, *qdq.mutable_graph(), error))
    return fail(modelPath, error);
  qdq.set_producer_name("kiln quantize");
  if (options.verbose)
    llvm::errs() << llvm::format(
        "kiln: quantize: %zu units, %zu activations calibrated (%s) on %lld "
        "samples in %.1f s\n",
        plan.units().size(), calibrated.size(),
        options.calibrator == Calibrator::MinMax       ? "minmax"
        : options.calibrator == Calibrator::Percentile ? "percentile"
                                                       : "entropy",
        (long long)count, secondsSince(started));
  if (report) {
    std::vector<size_t> unitOutputs;
    for (const auto &unit : plan.units())
      unitOutputs.push_back(observedIndex.lookup(unit.output));
    if (!writeReport(modelPath, import, options, calibration, unitOutputs,
                     model, qdq, plan, samples))
      return false;
  }
  return true;
}

} // namespace kiln
