//===- OnnxImporter.h - ONNX model -> Kiln dialect --------------*- C++ -*-===//
#ifndef KILN_COMPILER_IMPORT_ONNX_ONNXIMPORTER_H
#define KILN_COMPILER_IMPORT_ONNX_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringMap.h"

#include <string>
#include <vector>

namespace onnx {
class ModelProto;
} // namespace onnx

namespace kiln {

struct OnnxImportOptions {
  /// Shapes for graph inputs, by name; required for inputs with symbolic or
  /// unknown dims, and must agree with any dims the model fixes.
  llvm::StringMap<std::vector<int64_t>> inputShapes;
  /// Graph inputs fixed at compile time, by name: ONNX TensorProto (.pb)
  /// files. The input becomes a constant and leaves the bundle's inputs
  /// (for shapes, axes or scales a model takes as inputs).
  llvm::StringMap<std::string> inputValues;
  /// A model already in memory (the quantizer's QDQ model), imported instead
  /// of reading the file; the path still names it in messages and locates
  /// external data.
  const onnx::ModelProto *model = nullptr;
};

/// Oldest and newest default-domain opsets a model may import. Opsets 7-17
/// are implemented for every op; older models import when each op they use
/// is unchanged since their opset (OpImporter::minOpset).
constexpr int64_t kMinOnnxOpset = 1;
constexpr int64_t kMaxOnnxOpset = 17;

/// One ONNX op the importer handles, for `kiln ops` and the generated
/// docs/supported-ops.md.
struct OnnxOpSupport {
  std::string name;           // "<domain>.<op>" outside the default domain
  int64_t minOpset, maxOpset; // of the op's domain
  std::string notes;
};
/// Every op the importer handles, sorted by name (other domains last).
std::vector<OnnxOpSupport> supportedOnnxOps();

/// Parses the ONNX file at `path`; false with `error` when it cannot be read
/// or is not an ONNX model.
bool readOnnxModel(const std::string &path, onnx::ModelProto &model,
                   std::string &error);

/// Reads the ONNX model at `path` into a module holding `func.func @main`
/// of Kiln ops. Problems are reported through the context's diagnostic
/// handler, located at the ONNX node; returns null after reporting.
mlir::OwningOpRef<mlir::ModuleOp>
importOnnxModel(mlir::MLIRContext &context, const std::string &path,
                const OnnxImportOptions &options);

} // namespace kiln

#endif // KILN_COMPILER_IMPORT_ONNX_ONNXIMPORTER_H
