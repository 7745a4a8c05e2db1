//===- kiln.cpp - the Kiln command-line driver
//-----------------------------===//
//
// `kiln compile` runs the compiler pipeline; `kiln run`, `bench` and
// `inspect` are the runtime's commands (runtime/tools), shared with the
// runtime-only `kiln-run`.
//
//===----------------------------------------------------------------------===//

#include "compiler/pipeline/Pipeline.h"
#include "compiler/quantize/Quantizer.h"
#include "runtime/tools/RuntimeCommands.h"
#include "targets/TargetBackend.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"

#include <CLI/CLI.hpp>
#include <onnx/onnx_pb.h>

#include <cstdio>
#include <malloc.h>

namespace {

/// Parses "NAME=1x3x224x224" (or comma-separated dims).
bool parseShape(const std::string &text, kiln::OnnxImportOptions &options,
                std::string &error) {
  llvm::StringRef spec(text);
  auto [name, dims] = spec.rsplit('=');
  if (name.empty() || dims.empty() || !spec.contains('=')) {
    error = "--shape expects NAME=DIMS (e.g. input=1x3x224x224), got '" + text +
            "'";
    return false;
  }
  std::vector<int64_t> shape;
  llvm::SmallVector<llvm::StringRef> parts;
  dims.split(parts, dims.contains(',') ? ',' : 'x');
  for (llvm::StringRef part : parts) {
    int64_t d;
    if (part.trim().getAsInteger(10, d) || d < 0) {
      error = "--shape " + text + ": '" + part.str() +
              "' is not a non-negative dim";
      return false;
    }
    shape.push_back(d);
  }
  if (dims == "scalar")
    shape.clear();
  options.inputShapes[name] = shape;
  return true;
}

/// The flags `kiln compile --quantize int8` and `kiln quantize` share.
struct QuantizeFlags {
  std::vector<std::string> calibration, keepFloat;
  std::string calibrator = "percentile", report;

  void addTo(CLI::App *command) {
    command->add_option("--calibration", calibration,
                        "Calibration samples of a graph input, NAME=FILE.npy "
                        "([N, *input shape]); one per input");
    command
        ->add_option("--calibrator", calibrator,
                     "How activation ranges are chosen: minmax, percentile "
                     "(0.001-99.999%) or entropy (KL divergence)")
        ->capture_default_str();
    command
        ->add_option("--keep-float", keepFloat,
                     "ONNX nodes that stay float (comma-separated names)")
        ->delimiter(',');
    command->add_option("--quantize-report", report,
                        "Write each quantized node's int8-vs-float error "
                        "(SQNR) on the calibration samples to FILE (TSV)");
  }

  /// Fills `options`; false after printing an error.
  bool parse(kiln::QuantizeOptions &options, bool verbose) const {
    if (!kiln::parseCalibrator(calibrator, options.calibrator)) {
      std::fprintf(stderr,
                   "kiln: error: --calibrator takes minmax, percentile or "
                   "entropy, not '%s'\n",
                   calibrator.c_str());
      return false;
    }
    for (const std::string &spec : calibration) {
      auto [name, file] = llvm::StringRef(spec).split('=');
      if (name.empty() || file.empty()) {
        std::fprintf(stderr,
                     "kiln: error: --calibration expects NAME=FILE.npy, got "
                     "'%s'\n",
                     spec.c_str());
        return false;
      }
      options.calibration.emplace_back(name.str(), file.str());
    }
    options.keepFloat = keepFloat;
    options.reportPath = report;
    options.verbose = verbose;
    return true;
  }
};

} // namespace

int main(int argc, char **argv) {
  // A compile allocates and frees tensors of up to tens of MB (weights read,
  // folded, packed, written). glibc maps each one above 128 KB afresh and
  // unmaps it on free, so every page of every copy faults; on a virtual
  // machine that was a fifth of resnet50's compile (4.9 -> 3.9 s). Serving
  // them from the heap and keeping freed memory reuses the pages instead.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  CLI::App app{"kiln: ahead-of-time compiler and runtime for ONNX models"};
  app.require_subcommand(1);
  app.set_version_flag("--version",
                       "kiln " KILN_VERSION ", LLVM " LLVM_VERSION_STRING
                       ", bundle format " +
                           std::to_string(KILN_BUNDLE_VERSION_MAJOR) + "." +
                           std::to_string(KILN_BUNDLE_VERSION_MINOR));
  int exitCode = 0;

  kiln::CompileOptions options;
  std::string targets = llvm::join(options.targets, ","), compileTo;
  std::vector<std::string> shapes, inputValues;
  CLI::App *compile =
      app.add_subcommand("compile", "Compile an ONNX model into a bundle");
  compile->add_option("model", options.modelPath, "ONNX model (.onnx)")
      ->required();
  compile->add_option("-o,--output", options.outputPath, "Bundle to write");
  std::string targetHelp = "Comma-separated targets:";
  for (llvm::StringRef t : kiln::targetNames())
    targetHelp += " " + t.str();
  targetHelp += " (cuda: sm_75,80,86,89,90 cubins and PTX; cuda:sm_80,sm_90 "
                "to choose). Default CPU targets, added when none is named: "
                "x86_64-avx2,x86_64-avx512, and x86_64-avx512-vnni for a "
                "model with int8 kernels";
  compile->add_option("--target", targets, targetHelp);
  compile->add_option("--placement", options.placementPath,
                      "JSON file placing ops on \"cpu\" or \"cuda\" by "
                      "node name or op type: {\"nodes\": {\"Conv_0\": "
                      "\"cpu\"}, \"op_types\": {\"Softmax\": \"cpu\"}}");
  compile->add_option("--shape", shapes,
                      "Shape of a graph input, NAME=DIMS (e.g. "
                      "input=1x3x224x224); required for symbolic dims");
  compile->add_option("--input-value", inputValues,
                      "Fix a graph input at compile time, NAME=FILE.pb (an "
                      "ONNX TensorProto); it leaves the bundle's inputs");
  std::string phaseHelp = "Stop after a phase and print its IR:";
  for (llvm::StringRef p : kiln::phaseNames())
    phaseHelp += " " + p.str();
  compile->add_option("--compile-to", compileTo, phaseHelp);
  compile->add_flag("-v,--verbose", options.verbose,
                    "Print each phase with its time");
  std::string quantize;
  compile->add_option("--quantize", quantize,
                      "int8: post-training quantization calibrated on "
                      "--calibration samples (weights per channel, "
                      "activations per tensor)");
  QuantizeFlags quantizeFlags;
  quantizeFlags.addTo(compile);
  std::string precision = "fp32";
  compile
      ->add_option("--precision", precision,
                   "Precision of float weights: fp32, or fp16 (convolution "
                   "and matrix-product weights stored as f16, about half the "
                   "bundle; computed in f32)")
      ->capture_default_str();
  std::string emit = "bundle";
  compile
      ->add_option("--emit", emit,
                   "bundle, or static-lib: -o BASE writes BASE.o (code and "
                   "entry table), BASE.h and BASE.kiln (no code) for "
                   "firmware (kiln_core.h)")
      ->capture_default_str();
  compile->callback([&] {
    exitCode = 1;
    std::string error;
    for (const std::string &shape : shapes)
      if (!parseShape(shape, options.import, error)) {
        std::fprintf(stderr, "kiln: error: %s\n", error.c_str());
        return;
      }
    for (const std::string &spec : inputValues) {
      auto [name, file] = llvm::StringRef(spec).split('=');
      if (name.empty() || file.empty()) {
        std::fprintf(stderr,
                     "kiln: error: --input-value expects NAME=FILE.pb, got "
                     "'%s'\n",
                     spec.c_str());
        return;
      }
      options.import.inputValues[name] = file.str();
    }
    if (!compileTo.empty()) {
      options.compileTo = kiln::parsePhase(compileTo);
      if (!options.compileTo) {
        std::fprintf(stderr, "kiln: error: unknown phase '%s'\n",
                     compileTo.c_str());
        return;
      }
    } else if (options.outputPath.empty()) {
      std::fprintf(stderr, "kiln: error: compile needs -o OUT.kiln (or "
                           "--compile-to PHASE)\n");
      return;
    }
    if (emit == "static-lib") {
      options.emit = kiln::CompileOptions::Emit::StaticLib;
    } else if (emit != "bundle") {
      std::fprintf(stderr,
                   "kiln: error: --emit takes bundle or static-lib, not "
                   "'%s'\n",
                   emit.c_str());
      return;
    }
    if (precision == "fp16") {
      options.precision = kiln::CompileOptions::Precision::FP16;
    } else if (precision != "fp32") {
      std::fprintf(stderr,
                   "kiln: error: --precision takes fp32 or fp16, not '%s'\n",
                   precision.c_str());
      return;
    }
    options.targets.clear();
    llvm::SmallVector<llvm::StringRef> parts;
    llvm::StringRef(targets).split(parts, ',', -1, /*KeepEmpty=*/false);
    for (llvm::StringRef part : parts)
      options.targets.push_back(part.trim().str());
    onnx::ModelProto quantized;
    if (!quantize.empty()) {
      kiln::QuantizeOptions quantizeOptions;
      if (quantize != "int8") {
        std::fprintf(stderr, "kiln: error: --quantize takes int8, not '%s'\n",
                     quantize.c_str());
        return;
      }
      if (!quantizeFlags.parse(quantizeOptions, options.verbose) ||
          !kiln::quantizeModel(options.modelPath, options.import,
                               quantizeOptions, quantized))
        return;
      options.import.model = &quantized;
    } else if (!quantizeFlags.calibration.empty()) {
      std::fprintf(stderr, "kiln: error: --calibration needs --quantize "
                           "int8\n");
      return;
    }
    exitCode = kiln::compile(options) ? 0 : 1;
  });

  std::string quantizeModel, quantizeOutput;
  std::vector<std::string> quantizeShapes;
  bool quantizeVerbose = false;
  QuantizeFlags standaloneFlags;
  CLI::App *quantizeCommand = app.add_subcommand(
      "quantize", "Quantize a float ONNX model to int8 and write it as a QDQ "
                  "ONNX model (the decisions kiln compile --quantize int8 "
                  "makes)");
  quantizeCommand->add_option("model", quantizeModel, "ONNX model (.onnx)")
      ->required();
  quantizeCommand
      ->add_option("-o,--output", quantizeOutput, "QDQ ONNX model to write")
      ->required();
  quantizeCommand->add_option("--shape", quantizeShapes,
                              "Shape of a graph input, NAME=DIMS");
  quantizeCommand->add_flag("-v,--verbose", quantizeVerbose,
                            "Print what calibration does");
  standaloneFlags.addTo(quantizeCommand);
  quantizeCommand->callback([&] {
    exitCode = 1;
    kiln::OnnxImportOptions import;
    std::string error;
    for (const std::string &shape : quantizeShapes)
      if (!parseShape(shape, import, error)) {
        std::fprintf(stderr, "kiln: error: %s\n", error.c_str());
        return;
      }
    kiln::QuantizeOptions quantizeOptions;
    onnx::ModelProto quantized;
    if (!standaloneFlags.parse(quantizeOptions, quantizeVerbose) ||
        !kiln::quantizeModel(quantizeModel, import, quantizeOptions, quantized))
      return;
    if (!kiln::writeOnnxModel(quantized, quantizeOutput, error)) {
      std::fprintf(stderr, "kiln: error: %s\n", error.c_str());
      return;
    }
    exitCode = 0;
  });

  CLI::App *ops = app.add_subcommand(
      "ops",
      "List the ONNX ops kiln compiles (Markdown; docs/supported-ops.md)");
  ops->callback([&] {
    std::string cpuTargets, gpuNotes;
    for (const std::string &name : kiln::targetNames()) {
      std::string error;
      std::unique_ptr<mlir::kiln::TargetBackend> target =
          mlir::kiln::createTarget(name, error);
      if (!target)
        continue;
      if (target->isCpu()) {
        cpuTargets += (cpuTargets.empty() ? "" : ", ") + name;
        continue;
      }
      std::string lacked;
      for (const std::string &op : target->unsupportedOps())
        lacked += (lacked.empty() ? "`" : ", `") + op + "`";
      gpuNotes += "With `--target " + name +
                  "` every op runs on the GPU except those importing to " +
                  lacked +
                  ", which the partition phase places on the bundle's CPU "
                  "target.\n\n";
    }
    std::printf("# Supported ONNX ops\n\n"
                "Generated by `kiln ops` from the importer's op table; a ctest "
                "(`docs.supported_ops`) fails when this file is stale.\n\n"
                "Every op lowers through the same target-independent path "
                "(Kiln -> linalg), so each one compiles for every CPU target "
                "(%s); the tests run the x86-64 target the host ranks best. "
                "Opsets run from "
                "the first listed to %lld; ops of other domains list that "
                "domain's versions.\n\n%s"
                "| op | opsets | notes |\n|---|---|---|\n",
                cpuTargets.c_str(), (long long)kiln::kMaxOnnxOpset,
                gpuNotes.c_str());
    for (const auto &op : kiln::supportedOnnxOps()) {
      std::string opsets = std::to_string(op.minOpset);
      if (op.maxOpset != op.minOpset)
        opsets += "-" + std::to_string(op.maxOpset);
      std::printf("| %s | %s | %s |\n", op.name.c_str(), opsets.c_str(),
                  op.notes.c_str());
    }
    exitCode = 0;
  });

  kiln::tools::addRuntimeCommands(app, exitCode);
  return kiln::tools::runCommandLine(app, argc, argv, exitCode);
}
