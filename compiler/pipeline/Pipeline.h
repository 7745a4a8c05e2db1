//===- Pipeline.h - the phases of `kiln compile` ----------------*- C++ -*-===//
#ifndef KILN_COMPILER_PIPELINE_PIPELINE_H
#define KILN_COMPILER_PIPELINE_PIPELINE_H

#include "compiler/import/onnx/OnnxImporter.h"

#include "llvm/ADT/StringRef.h"

#include <optional>
#include <string>
#include <vector>

namespace kiln {

/// The phases of compilation, in order (ARCHITECTURE.md §2).
enum class Phase {
  Import,
  Graph,
  Quantize,
  Partition,
  Fuse,
  Lower,
  Codegen,
  Bundle
};

/// Phase names as `--compile-to` takes them.
std::vector<llvm::StringRef> phaseNames();
std::optional<Phase> parsePhase(llvm::StringRef name);

struct CompileOptions {
  std::string modelPath;
  std::string outputPath;
  /// Targets by name (x86_64-avx2, aarch64-neon, ..., cuda or
  /// cuda:sm_80,sm_90). Without a CPU target among them, the default CPU
  /// targets are added, which serve every x86-64 host Kiln runs on (the
  /// runtime picks AVX-512 where the host has it, else AVX2): x86_64-avx2
  /// and x86_64-avx512, and x86_64-avx512-vnni too when the quantize phase
  /// leaves int8 contractions.
  std::vector<std::string> targets;
  OnnxImportOptions import;
  /// Stop after this phase and print its IR to stdout.
  std::optional<Phase> compileTo;
  /// The precision of float weights: fp32 as the model has them, or fp16
  /// (`--precision fp16`): convolution and matrix-product weights stored as
  /// f16 and widened as the kernels load them.
  enum class Precision { FP32, FP16 } precision = Precision::FP32;
  /// `--placement FILE.json`: kiln-partition's placement overrides.
  std::string placementPath;
  /// Print each phase and its time to stderr.
  bool verbose = false;
  /// What to write: a bundle (default), or `--emit static-lib`'s object
  /// file, header and code-less bundle for firmware (outputPath without
  /// extension is their common base).
  enum class Emit { Bundle, StaticLib } emit = Emit::Bundle;
};

/// Target names `--target` accepts.
std::vector<std::string> targetNames();

/// Runs the pipeline. Errors are printed to stderr as `kiln: error: ...`
/// with the ONNX node they concern; returns false after an error, leaving no
/// output file behind.
bool compile(const CompileOptions &options);

} // namespace kiln

#endif // KILN_COMPILER_PIPELINE_PIPELINE_H
