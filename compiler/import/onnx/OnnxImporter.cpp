//===- OnnxImporter.cpp - ONNX model -> Kiln dialect
//-----------------------===//
//
// Walks the (topologically sorted) ONNX graph once, importing each node with
// the function registered for its op type. Values are tracked by name;
// initializers become kiln.constant; graph inputs become arguments of
// func.func @main with their ONNX names as `kiln.name` argument attributes.
//
//===----------------------------------------------------------------------===//

#include "compiler/import/onnx/OnnxImporter.h"
#include "compiler/import/onnx/NodeImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

using namespace mlir;
using namespace ::kiln::onnx_import;

namespace kiln {
namespace {

const OpTable &opTable() {
  static const OpTable table = [] {
    OpTable t;
    registerElementwiseOps(t);
    registerNeuralNetworkOps(t);
    registerReductionOps(t);
    registerTensorOps(t);
    registerCompositeOps(t);
    registerQuantizationOps(t);
    registerRecurrentOps(t);
    registerTrainingOps(t);
    registerSelectionOps(t);
    registerSignalOps(t);
    registerTextOps(t);
    registerControlFlowOps(t);
    return t;
  }();
  return table;
}

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s;
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? "x" : "") + std::to_string(d);
  return s;
}

class GraphImporter {
public:
  GraphImporter(MLIRContext &context, std::string path,
                const OnnxImportOptions &options)
      : context(context), path(std::move(path)), options(options),
        builder(&context) {}

  OwningOpRef<ModuleOp> run();

private:
  InFlightDiagnostic error(Location loc) { return emitError(loc); }
  InFlightDiagnostic error() { return emitError(fileLoc()); }
  Location fileLoc() { return FileLineColLoc::get(&context, path, 0, 0); }
  Location nodeLoc(const onnx::NodeProto &node, int index);

  LogicalResult loadModel(onnx::ModelProto &model);
  LogicalResult findOpset(const onnx::ModelProto &model);
  FailureOr<RankedTensorType> inputType(const onnx::ValueInfoProto &info);
  LogicalResult importNode(const onnx::NodeProto &node, int index);
  FailureOr<SmallVector<Value>> importSubgraph(const onnx::GraphProto &graph,
                                               ArrayRef<Value> inputs);
  /// Binds a graph input to its --input-value as a constant.
  LogicalResult fixInput(const onnx::ValueInfoProto &input);

  MLIRContext &context;
  std::string path;
  const OnnxImportOptions &options;
  OpBuilder builder;
  int64_t opset = 0; // of the default domain; 0 when the model imports none
  llvm::StringMap<int64_t> domainOpsets; // the other imported domains
  llvm::StringMap<Value> values;
  /// Each imported node's ONNX op type, by node name (kiln-partition's
  /// placement by op type reads it).
  llvm::MapVector<StringRef, StringRef> nodeOpTypes;
};

LogicalResult GraphImporter::loadModel(onnx::ModelProto &model) {
  std::string message;
  if (!readOnnxModel(path, model, message)) {
    error() << message;
    return failure();
  }
  return success();
}

LogicalResult GraphImporter::findOpset(const onnx::ModelProto &model) {
  for (const auto &entry : model.opset_import()) {
    if (entry.domain().empty() || entry.domain() == "ai.onnx")
      opset = entry.version();
    else
      domainOpsets[entry.domain()] = entry.version();
  }
  if (opset == 0 && model.opset_import_size() == 0)
    opset = 1; // IR version 1/2 models predate opset_import
  if (opset == 0 && !domainOpsets.count(kTrainingDomain)) {
    std::string domains;
    for (const auto &entry : model.opset_import())
      domains += (domains.empty() ? "'" : ", '") + entry.domain() + "'";
    error() << "the model imports no default-domain (ai.onnx) opset, only "
            << domains << ", which Kiln does not support";
    return failure();
  }
  if (opset != 0 && (opset < kMinOnnxOpset || opset > kMaxOnnxOpset)) {
    error() << "ONNX opset " << opset << " is not supported (Kiln supports "
            << "opsets " << kMinOnnxOpset << " to " << kMaxOnnxOpset << ")";
    return failure();
  }
  return success();
}

Location GraphImporter::nodeLoc(const onnx::NodeProto &node, int index) {
  std::string name = node.name().empty()
                         ? node.op_type() + "_" + std::to_string(index)
                         : node.name();
  return NameLoc::get(StringAttr::get(&context, name), fileLoc());
}

FailureOr<RankedTensorType>
GraphImporter::inputType(const onnx::ValueInfoProto &info) {
  const std::string &name = info.name();
  if (!info.type().has_tensor_type()) {
    error() << "graph input '" << name
            << "' is not a tensor (sequences, maps and optionals are not "
               "supported)";
    return failure();
  }
  const auto &tensor = info.type().tensor_type();
  Type element = elementTypeFor(context, tensor.elem_type());
  if (!element) {
    error() << "graph input '" << name << "' has unsupported element type "
            << onnx::TensorProto_DataType_Name(
                   (onnx::TensorProto_DataType)tensor.elem_type());
    return failure();
  }
  auto given = options.inputShapes.find(name);
  bool hasShape = tensor.has_shape();
  SmallVector<int64_t> shape;
  std::string symbolic;
  if (hasShape) {
    for (const auto &dim : tensor.shape().dim()) {
      if (dim.has_dim_value() && dim.dim_value() >= 0) {
        shape.push_back(dim.dim_value());
      } else {
        shape.push_back(ShapedType::kDynamic);
        if (symbolic.empty())
          symbolic = dim.has_dim_param() ? "'" + dim.dim_param() + "'"
                                         : "an unknown dim";
      }
    }
  }
  if (given != options.inputShapes.end()) {
    ArrayRef<int64_t> dims = given->second;
    if (hasShape && dims.size() != shape.size()) {
      error() << "--shape " << name << "=" << shapeString(dims) << " has rank "
              << dims.size() << " but the model declares rank " << shape.size();
      return failure();
    }
    for (size_t i = 0; hasShape && i < shape.size(); ++i)
      if (shape[i] != ShapedType::kDynamic && shape[i] != dims[i]) {
        error() << "--shape " << name << "=" << shapeString(dims)
                << " disagrees with the model's dim " << i << " (" << shape[i]
                << ")";
        return failure();
      }
    return RankedTensorType::get(dims, element);
  }
  if (!hasShape) {
    error() << "graph input '" << name << "' has no shape: set it with --shape "
            << name << "=DIMS";
    return failure();
  }
  if (!symbolic.empty()) {
    error() << "graph input '" << name << "' has symbolic dim " << symbolic
            << ": set it with --shape " << name << "=DIMS (e.g. " << name
            << "=1x3x224x224)";
    return failure();
  }
  return RankedTensorType::get(shape, element);
}

LogicalResult GraphImporter::fixInput(const onnx::ValueInfoProto &input) {
  const std::string &path = options.inputValues.lookup(input.name());
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  onnx::TensorProto tensor;
  if (!buffer || !tensor.ParseFromArray((*buffer)->getBufferStart(),
                                        (int)(*buffer)->getBufferSize())) {
    error() << "--input-value " << input.name() << "=" << path
            << ": cannot read an ONNX TensorProto from the file";
    return failure();
  }
  std::string message;
  DenseElementsAttr value = tensorToAttr(context, tensor, "", message);
  if (!value) {
    error() << "--input-value " << input.name() << "=" << path << ": "
            << message;
    return failure();
  }
  const auto &declared = input.type().tensor_type();
  if (value.getElementType() != elementTypeFor(context, declared.elem_type())) {
    error() << "--input-value " << input.name() << "=" << path
            << ": element type differs from the graph input's";
    return failure();
  }
  auto shape = cast<RankedTensorType>(value.getType()).getShape();
  bool shapeAgrees =
      !declared.has_shape() || declared.shape().dim_size() == (int)shape.size();
  for (int i = 0; shapeAgrees && declared.has_shape() && i < (int)shape.size();
       ++i) {
    const auto &dim = declared.shape().dim(i);
    shapeAgrees = !dim.has_dim_value() || dim.dim_value() == shape[i];
  }
  if (!shapeAgrees) {
    error() << "--input-value " << input.name() << "=" << path << ": shape "
            << shapeString(shape) << " differs from the graph input's";
    return failure();
  }
  Location loc = NameLoc::get(builder.getStringAttr(input.name()), fileLoc());
  values[input.name()] = builder.create<mlir::kiln::ConstantOp>(loc, value);
  return success();
}

LogicalResult GraphImporter::importNode(const onnx::NodeProto &node,
                                        int index) {
  Location loc = nodeLoc(node, index);
  nodeOpTypes[cast<NameLoc>(loc).getName().strref()] =
      builder.getStringAttr(node.op_type()).strref();
  builder.setInsertionPointToEnd(builder.getBlock());
  // Ops of other domains are in the table as "<domain>.<op>", with that
  // domain's version as their opset.
  std::string key = node.op_type();
  int64_t version = opset;
  if (!node.domain().empty() && node.domain() != "ai.onnx") {
    auto domain = domainOpsets.find(node.domain());
    if (domain == domainOpsets.end() ||
        !opTable().count(node.domain() + "." + node.op_type())) {
      emitError(loc) << node.op_type() << ": operators of domain '"
                     << node.domain() << "' are not supported";
      return failure();
    }
    key = node.domain() + "." + node.op_type();
    version = domain->second;
  } else if (opset == 0) {
    emitError(loc) << node.op_type()
                   << ": the model imports no default-domain (ai.onnx) opset";
    return failure();
  }
  for (const std::string &name : node.input())
    if (!name.empty() && !values.count(name)) {
      emitError(loc) << node.op_type() << ": input '" << name
                     << "' is not defined before this node (graph not "
                        "topologically sorted, or a subgraph reference)";
      return failure();
    }
  auto it = opTable().find(key);
  if (it == opTable().end()) {
    emitError(loc) << "unsupported op '" << node.op_type() << "' (opset "
                   << opset << ")";
    return failure();
  }
  if (version < it->second.minOpset) {
    emitError(loc) << node.op_type() << ": opset " << version
                   << " semantics are not supported (Kiln implements "
                   << node.op_type() << " from opset " << it->second.minOpset
                   << ")";
    return failure();
  }
  NodeImporter importer(node, version, builder, loc, values);
  importer.importSubgraph = [this](const onnx::GraphProto &graph,
                                   ArrayRef<Value> inputs) {
    return importSubgraph(graph, inputs);
  };
  if (failed(it->second.function(importer)))
    return failure();
  if (auto unread = importer.unreadAttribute())
    return importer.error("unsupported attribute '" + *unread + "'");
  const auto &outputs = importer.getOutputs();
  for (int i = 0; i < node.output_size(); ++i) {
    if (node.output(i).empty())
      continue;
    if ((size_t)i >= outputs.size() || !outputs[i])
      return importer.error("output " + std::to_string(i) + " ('" +
                            node.output(i) + "') is not supported");
    // A tensor with no elements has a single possible value: make it a
    // constant, so that no dispatch is generated to compute nothing.
    Value output = outputs[i];
    auto type = dyn_cast<RankedTensorType>(output.getType());
    if (type && type.hasStaticShape() && type.getNumElements() == 0 &&
        !output.getDefiningOp<mlir::kiln::ConstantOp>())
      output = importer.constant(mlir::kiln::ConstantTensor(type).toAttr());
    values[node.output(i)] = output;
  }
  return success();
}

FailureOr<SmallVector<Value>>
GraphImporter::importSubgraph(const onnx::GraphProto &graph,
                              ArrayRef<Value> inputs) {
  Location loc = builder.getInsertionBlock()->getParentOp()->getLoc();
  if (graph.input_size() != (int)inputs.size()) {
    emitError(loc) << "subgraph '" << graph.name() << "' has "
                   << graph.input_size() << " inputs, given " << inputs.size();
    return failure();
  }
  // The subgraph's names shadow the enclosing ones only inside it.
  llvm::StringMap<Value> enclosing = values;
  auto restore = llvm::make_scope_exit([&] { values = std::move(enclosing); });
  for (auto [input, value] : llvm::zip(graph.input(), inputs))
    values[input.name()] = value;
  std::string baseDir = llvm::sys::path::parent_path(path).str();
  for (const auto &init : graph.initializer()) {
    std::string message;
    DenseElementsAttr value = tensorToAttr(context, init, baseDir, message);
    if (!value) {
      emitError(loc) << "subgraph initializer '" << init.name()
                     << "': " << message;
      return failure();
    }
    values[init.name()] =
        builder.create<mlir::kiln::ConstantOp>(loc, value).getResult();
  }
  for (int i = 0; i < graph.node_size(); ++i)
    if (failed(importNode(graph.node(i), i)))
      return failure();
  SmallVector<Value> outputs;
  for (const auto &output : graph.output()) {
    Value value = values.lookup(output.name());
    if (!value) {
      emitError(loc) << "subgraph output '" << output.name()
                     << "' is not produced by any node";
      return failure();
    }
    outputs.push_back(value);
  }
  return outputs;
}

OwningOpRef<ModuleOp> GraphImporter::run() {
  onnx::ModelProto file;
  if (!options.model && failed(loadModel(file)))
    return nullptr;
  const onnx::ModelProto &model = options.model ? *options.model : file;
  if (failed(findOpset(model)))
    return nullptr;
  const onnx::GraphProto &graph = model.graph();
  std::string baseDir = llvm::sys::path::parent_path(path).str();

  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc());
  std::string modelName =
      graph.name().empty() ? llvm::sys::path::stem(path).str() : graph.name();
  (*module)->setAttr("kiln.model_name", builder.getStringAttr(modelName));

  llvm::StringSet<> initializerNames;
  for (const auto &init : graph.initializer())
    initializerNames.insert(init.name());

  // Function signature: graph inputs that are not initializers.
  SmallVector<Type> argTypes;
  SmallVector<std::string> argNames;
  SmallVector<const onnx::ValueInfoProto *> fixedInputs;
  for (const auto &input : graph.input()) {
    if (initializerNames.contains(input.name()))
      continue;
    if (options.inputValues.count(input.name())) {
      fixedInputs.push_back(&input);
      continue;
    }
    auto type = inputType(input);
    if (failed(type))
      return nullptr;
    argTypes.push_back(*type);
    argNames.push_back(input.name());
  }
  for (const auto &entry : options.inputValues)
    if (llvm::none_of(fixedInputs, [&](const onnx::ValueInfoProto *input) {
          return input->name() == entry.getKey();
        })) {
      error() << "--input-value names '" << entry.getKey()
              << "', which is not a graph input";
      return nullptr;
    }
  for (const auto &entry : options.inputShapes)
    if (!llvm::is_contained(argNames, entry.getKey().str()) &&
        !options.inputValues.count(entry.getKey())) {
      error() << "--shape names '" << entry.getKey()
              << "', which is not a graph input";
      return nullptr;
    }

  builder.setInsertionPointToEnd(module->getBody());
  auto func = builder.create<func::FuncOp>(
      fileLoc(), "main", builder.getFunctionType(argTypes, {}));
  Block *entry = func.addEntryBlock();
  for (auto [i, name] : llvm::enumerate(argNames)) {
    func.setArgAttr(i, "kiln.name", builder.getStringAttr(name));
    values[name] = entry->getArgument(i);
  }
  builder.setInsertionPointToEnd(entry);

  for (const auto &init : graph.initializer()) {
    std::string message;
    DenseElementsAttr value = tensorToAttr(context, init, baseDir, message);
    if (!value) {
      error() << "initializer '" << init.name() << "': " << message;
      return nullptr;
    }
    Location loc = NameLoc::get(builder.getStringAttr(init.name()), fileLoc());
    values[init.name()] =
        builder.create<mlir::kiln::ConstantOp>(loc, value).getResult();
  }

  for (const onnx::ValueInfoProto *input : fixedInputs)
    if (failed(fixInput(*input)))
      return nullptr;

  for (int i = 0; i < graph.node_size(); ++i)
    if (failed(importNode(graph.node(i), i)))
      return nullptr;

  SmallVector<Value> results;
  for (const auto &output : graph.output()) {
    auto it = values.find(output.name());
    if (it == values.end()) {
      error() << "graph output '" << output.name()
              << "' is not produced by any node";
      return nullptr;
    }
    results.push_back(it->second);
  }
  builder.create<func::ReturnOp>(fileLoc(), results);
  func.setFunctionType(
      builder.getFunctionType(argTypes, ValueRange(results).getTypes()));
  for (auto [i, output] : llvm::enumerate(graph.output()))
    func.setResultAttr(i, "kiln.name", builder.getStringAttr(output.name()));
  SmallVector<NamedAttribute> opTypes;
  for (auto [name, opType] : nodeOpTypes)
    opTypes.push_back(
        builder.getNamedAttr(name, builder.getStringAttr(opType)));
  func->setAttr(mlir::kiln::kNodeOpTypesAttr,
                builder.getDictionaryAttr(opTypes));

  if (failed(verify(*module)))
    return nullptr;
  return module;
}

} // namespace

bool readOnnxModel(const std::string &path, onnx::ModelProto &model,
                   std::string &error) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    error = "cannot read model: " + buffer.getError().message();
    return false;
  }
  google::protobuf::io::ArrayInputStream stream(
      (*buffer)->getBufferStart(), (int)(*buffer)->getBufferSize());
  google::protobuf::io::CodedInputStream coded(&stream);
  coded.SetTotalBytesLimit(INT32_MAX);
  if (!model.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage()) {
    error = "not a valid ONNX model (the protobuf does not parse; is the "
            "file truncated or not ONNX?)";
    return false;
  }
  if (!model.has_graph()) {
    error = "not a valid ONNX model (no graph)";
    return false;
  }
  return true;
}

std::vector<OnnxOpSupport> supportedOnnxOps() {
  std::vector<OnnxOpSupport> ops;
  for (const auto &entry : opTable()) {
    // Other domains (ai.onnx.preview.training) have only their version 1.
    bool otherDomain = entry.getKey().contains('.');
    int64_t min = otherDomain
                      ? entry.getValue().minOpset
                      : std::max(entry.getValue().minOpset, kMinOnnxOpset);
    ops.push_back({entry.getKey().str(), min, otherDomain ? min : kMaxOnnxOpset,
                   entry.getValue().notes});
  }
  llvm::sort(ops, [](const OnnxOpSupport &a, const OnnxOpSupport &b) {
    return a.name < b.name;
  });
  return ops;
}

OwningOpRef<ModuleOp> importOnnxModel(MLIRContext &context,
                                      const std::string &path,
                                      const OnnxImportOptions &options) {
  context.loadDialect<mlir::kiln::KilnDialect, func::FuncDialect>();
  return GraphImporter(context, path, options).run();
}

} // namespace kiln
