//===- NodeImporter.h - per-node context for ONNX op importers --*- C++ -*-===//
//
// Each ONNX op has an import function taking a NodeImporter: typed access to
// the node's inputs (and their compile-time values), attributes with ONNX
// defaults, and builders that check shapes before creating anything, so a
// malformed model becomes an error naming the node, never an assertion.
//
// Attributes a function does not read are reported as unsupported after it
// returns: an importer that ignores an attribute is a silent wrong answer.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_COMPILER_IMPORT_ONNX_NODEIMPORTER_H
#define KILN_COMPILER_IMPORT_ONNX_NODEIMPORTER_H

#include "dialects/kiln/IR/ConstantTensor.h"
#include "dialects/kiln/IR/KilnDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <onnx/onnx_pb.h>

#include <functional>
#include <optional>
#include <string>

namespace kiln::onnx_import {

using mlir::FailureOr;
using mlir::LogicalResult;
using mlir::RankedTensorType;
using mlir::SmallVector;
using mlir::Type;
using mlir::Value;

/// Maps an ONNX TensorProto data type to the Kiln element type; null when
/// Kiln has none (strings, complex).
Type elementTypeFor(mlir::MLIRContext &context, int onnxType);

class NodeImporter {
public:
  NodeImporter(const onnx::NodeProto &node, int64_t opset,
               mlir::OpBuilder &builder, mlir::Location loc,
               const llvm::StringMap<Value> &values);

  const onnx::NodeProto &node;
  const int64_t opset;
  mlir::OpBuilder &builder;
  const mlir::Location loc;
  mlir::MLIRContext *context() { return builder.getContext(); }

  /// Emits "<op> node '<name>' (opset N): <message>" and returns failure.
  LogicalResult error(const llvm::Twine &message);

  //===--------------------------------------------------------------------===//
  // Inputs
  //===--------------------------------------------------------------------===//

  /// Number of inputs, counting omitted optional ones ("" names).
  int numInputs() const { return node.input_size(); }
  bool hasInput(int i) const {
    return i < node.input_size() && !node.input(i).empty();
  }
  Value input(int i) const { return inputs[i]; }
  RankedTensorType inputType(int i) const {
    return mlir::cast<RankedTensorType>(inputs[i].getType());
  }
  /// The compile-time value of input i, when it has one.
  std::optional<mlir::kiln::ConstantTensor> constantInput(int i) const;
  /// The error for input i when it is not a compile-time value; names the
  /// value so `kiln compile --input-value` can supply it.
  LogicalResult notKnownAtCompileTime(int i, const llvm::Twine &what);
  /// Input i as compile-time integers; an error naming `what` otherwise.
  FailureOr<SmallVector<int64_t>> constantInts(int i, llvm::StringRef what);
  /// Requires inputs [min, max] to be present.
  LogicalResult expectInputs(int min, int max);
  /// Maps a negative axis into [0, rank); an error when out of range.
  LogicalResult normalizeAxis(int64_t &axis, int64_t rank);

  //===--------------------------------------------------------------------===//
  // Attributes (each read marks the attribute as understood)
  //===--------------------------------------------------------------------===//

  bool hasAttr(llvm::StringRef name);
  int64_t attrInt(llvm::StringRef name, int64_t defaultValue);
  float attrFloat(llvm::StringRef name, float defaultValue);
  std::string attrString(llvm::StringRef name, llvm::StringRef defaultValue);
  SmallVector<int64_t> attrInts(llvm::StringRef name,
                                llvm::ArrayRef<int64_t> defaultValue = {});
  SmallVector<float> attrFloats(llvm::StringRef name);
  const onnx::TensorProto *attrTensor(llvm::StringRef name);
  /// A subgraph attribute (If's branches, Loop's and Scan's body).
  const onnx::GraphProto *attrGraph(llvm::StringRef name);
  /// Marks attributes as read without using them (their value is checked
  /// by the caller or does not change inference results).
  void ignoreAttr(llvm::StringRef name) { readAttrs.insert(name); }
  /// The first attribute the import function did not read, if any.
  std::optional<std::string> unreadAttribute() const;

  /// Imports a subgraph inline, at the current insertion point: its inputs
  /// bound to `inputs`, the enclosing graphs' values visible. Returns its
  /// outputs. Control flow with static shapes is built on it (unrolled
  /// loops, both branches of an If).
  std::function<FailureOr<SmallVector<Value>>(const onnx::GraphProto &,
                                              llvm::ArrayRef<Value>)>
      importSubgraph;

  //===--------------------------------------------------------------------===//
  // Outputs
  //===--------------------------------------------------------------------===//

  int numOutputs() const { return node.output_size(); }
  bool hasOutput(int i) const {
    return i < node.output_size() && !node.output(i).empty();
  }
  void setOutput(int i, Value value) {
    if (outputs.size() <= (size_t)i)
      outputs.resize(i + 1);
    outputs[i] = value;
  }
  const SmallVector<Value> &getOutputs() const { return outputs; }
  /// Requires that outputs past `count` are absent or unnamed: ops whose
  /// extra outputs Kiln does not compute (training statistics, indices).
  LogicalResult expectOutputs(int count);

  //===--------------------------------------------------------------------===//
  // Building
  //===--------------------------------------------------------------------===//

  /// Builds an op whose result types are inferred, checking shapes first and
  /// folding it when its operands are constant. `args` are the ODS builder
  /// arguments after the result types.
  template <typename OpTy, typename... Args>
  FailureOr<SmallVector<Value>> createAll(Args &&...args) {
    mlir::OperationState state(loc, OpTy::getOperationName());
    OpTy::build(builder, state, mlir::TypeRange{}, std::forward<Args>(args)...);
    SmallVector<Type> types;
    if (failed(OpTy::inferReturnTypes(context(), loc, state.operands,
                                      state.attributes.getDictionary(context()),
                                      state.getRawProperties(), state.regions,
                                      types)))
      return mlir::failure();
    state.addTypes(types);
    return finish(builder.create(state));
  }
  template <typename OpTy, typename... Args>
  FailureOr<Value> create(Args &&...args) {
    auto results = createAll<OpTy>(std::forward<Args>(args)...);
    if (failed(results))
      return mlir::failure();
    return results->front();
  }
  /// Same for ops whose result type is given (reshape, cast, expand).
  template <typename OpTy, typename... Args>
  FailureOr<Value> createTyped(Type type, Args &&...args) {
    mlir::OperationState state(loc, OpTy::getOperationName());
    OpTy::build(builder, state, type, std::forward<Args>(args)...);
    auto results = finish(builder.create(state));
    if (failed(results))
      return mlir::failure();
    return results->front();
  }
  Value constant(mlir::DenseElementsAttr value);
  /// An int64 constant of `rank` dims, `size` long along `axis` and 1
  /// elsewhere, holding 0..size-1: positions along an axis.
  Value iota(int64_t rank, int64_t axis, int64_t size);
  /// A constant of `shape` (a scalar by default) filled with `value`.
  Value splat(Type element, double value, llvm::ArrayRef<int64_t> shape = {});
  FailureOr<Value> reshape(Value value, llvm::ArrayRef<int64_t> shape);
  /// `value` with dims `a` and `b` exchanged (itself when a == b).
  FailureOr<Value> swapDims(Value value, int64_t a, int64_t b);
  /// `size` entries of dim `axis` from `start` on; the other dims whole.
  FailureOr<Value> sliceAlong(Value value, int64_t axis, int64_t start,
                              int64_t size);
  /// Entry `index` of dim `axis`, with that dim removed.
  FailureOr<Value> takeAlong(Value value, int64_t axis, int64_t index);
  /// `value` with its elements converted to `element` (ONNX Cast).
  FailureOr<Value> castElements(Value value, Type element);

private:
  FailureOr<SmallVector<Value>> finish(mlir::Operation *op);
  const onnx::AttributeProto *attr(llvm::StringRef name);

  SmallVector<Value> inputs;
  SmallVector<Value> outputs;
  llvm::StringSet<> readAttrs;
};

/// In import functions: unwraps a FailureOr<Value> into `var`, or returns
/// failure (the diagnostic is already emitted).
#define KILN_TRY(var, expr)                                                    \
  auto var##OrFailure = (expr);                                                \
  if (failed(var##OrFailure))                                                  \
    return failure();                                                          \
  Value var = *var##OrFailure

inline RankedTensorType typeOf(Value value) {
  return mlir::cast<RankedTensorType>(value.getType());
}

/// An op's import function. On success it has set every named output.
using ImportFunction = std::function<LogicalResult(NodeImporter &)>;

struct OpImporter {
  ImportFunction function;
  int64_t minOpset = 7;   // earliest opset whose semantics it implements
  const char *notes = ""; // for docs/supported-ops.md (`kiln ops`)
};

using OpTable = llvm::StringMap<OpImporter>;

/// Op families, one file each.
void registerElementwiseOps(OpTable &table);
void registerNeuralNetworkOps(OpTable &table);
void registerReductionOps(OpTable &table);
void registerTensorOps(OpTable &table);
void registerCompositeOps(OpTable &table);
void registerQuantizationOps(OpTable &table);
void registerRecurrentOps(OpTable &table);
void registerTrainingOps(OpTable &table);
void registerSelectionOps(OpTable &table);
void registerSignalOps(OpTable &table);
void registerTextOps(OpTable &table);
void registerControlFlowOps(OpTable &table);

/// The optimizer ops' domain; its ops are keyed "<domain>.<op>".
constexpr const char *kTrainingDomain = "ai.onnx.preview.training";

/// A kiln.conv of `input` and `filter` with the node's Conv attributes
/// (kernel_shape, strides, dilations, pads, auto_pad, group).
FailureOr<Value> convolution(NodeImporter &n, Value input, Value filter,
                             Value bias);

/// LayerNormalization with its Mean/InvStdDev outputs, decomposed.
LogicalResult importLayerNormStatistics(NodeImporter &n);

/// Reads the bytes of an externally stored tensor (its location relative to
/// `baseDir`, which it may not leave).
bool readExternalData(const onnx::TensorProto &tensor, llvm::StringRef baseDir,
                      std::string &bytes, std::string &error);

/// Decodes an ONNX tensor (raw or typed fields, or external data relative
/// to `baseDir`) into an attribute; on failure returns null and sets `error`.
mlir::DenseElementsAttr tensorToAttr(mlir::MLIRContext &context,
                                     const onnx::TensorProto &tensor,
                                     llvm::StringRef baseDir,
                                     std::string &error);

} // namespace kiln::onnx_import

#endif // KILN_COMPILER_IMPORT_ONNX_NODEIMPORTER_H
