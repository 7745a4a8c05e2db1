//===- NodeImporter.cpp - per-node context for ONNX op importers
//-----------===//

#include "compiler/import/onnx/NodeImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseSet.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cstring>

using namespace mlir;
using mlir::kiln::ConstantTensor;

namespace kiln::onnx_import {

Type elementTypeFor(MLIRContext &context, int onnxType) {
  Builder b(&context);
  switch (onnxType) {
  case onnx::TensorProto::FLOAT:
    return b.getF32Type();
  case onnx::TensorProto::DOUBLE:
    return b.getF64Type();
  case onnx::TensorProto::FLOAT16:
    return b.getF16Type();
  case onnx::TensorProto::BFLOAT16:
    return b.getBF16Type();
  case onnx::TensorProto::INT8:
    return b.getIntegerType(8);
  case onnx::TensorProto::INT16:
    return b.getIntegerType(16);
  case onnx::TensorProto::INT32:
    return b.getIntegerType(32);
  case onnx::TensorProto::INT64:
    return b.getIntegerType(64);
  case onnx::TensorProto::UINT8:
    return b.getIntegerType(8, /*isSigned=*/false);
  case onnx::TensorProto::UINT16:
    return b.getIntegerType(16, /*isSigned=*/false);
  case onnx::TensorProto::UINT32:
    return b.getIntegerType(32, /*isSigned=*/false);
  case onnx::TensorProto::UINT64:
    return b.getIntegerType(64, /*isSigned=*/false);
  case onnx::TensorProto::BOOL:
    return b.getI1Type();
  default:
    return nullptr;
  }
}

bool readExternalData(const onnx::TensorProto &tensor, llvm::StringRef baseDir,
                      std::string &bytes, std::string &error) {
  std::string location;
  uint64_t offset = 0, length = UINT64_MAX;
  for (const auto &entry : tensor.external_data()) {
    if (entry.key() == "location")
      location = entry.value();
    else if (entry.key() == "offset")
      offset = std::stoull(entry.value());
    else if (entry.key() == "length")
      length = std::stoull(entry.value());
  }
  if (location.empty() || llvm::sys::path::is_absolute(location) ||
      llvm::StringRef(location).contains("..")) {
    error = "external data location '" + location +
            "' must be a relative path inside the model's directory";
    return false;
  }
  llvm::SmallString<256> file(baseDir);
  llvm::sys::path::append(file, location);
  auto buffer = llvm::MemoryBuffer::getFile(file, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    error = "cannot read external data '" + std::string(file) +
            "': " + buffer.getError().message();
    return false;
  }
  uint64_t size = (*buffer)->getBufferSize();
  if (length == UINT64_MAX)
    length = size >= offset ? size - offset : 0;
  if (offset > size || length > size - offset) {
    error = "external data '" + std::string(file) +
            "' is shorter than offset + length";
    return false;
  }
  bytes.assign((*buffer)->getBufferStart() + offset, length);
  return true;
}

DenseElementsAttr tensorToAttr(MLIRContext &context,
                               const onnx::TensorProto &tensor,
                               llvm::StringRef baseDir, std::string &error) {
  Type element = elementTypeFor(context, tensor.data_type());
  if (!element) {
    error = "unsupported element type " +
            onnx::TensorProto_DataType_Name(
                (onnx::TensorProto_DataType)tensor.data_type());
    return nullptr;
  }
  SmallVector<int64_t> shape(tensor.dims().begin(), tensor.dims().end());
  if (llvm::any_of(shape, [](int64_t d) { return d < 0; })) {
    error = "negative dim";
    return nullptr;
  }
  auto type = RankedTensorType::get(shape, element);
  int64_t count = type.getNumElements();
  unsigned bits = element.getIntOrFloatBitWidth();
  size_t elementBytes = bits == 1 ? 1 : bits / 8;

  std::string external;
  const std::string *raw = nullptr;
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    if (!readExternalData(tensor, baseDir, external, error))
      return nullptr;
    raw = &external;
  } else if (tensor.has_raw_data()) {
    raw = &tensor.raw_data();
  }

  if (raw) {
    if (raw->size() != count * elementBytes) {
      error = "holds " + std::to_string(raw->size()) + " bytes, expected " +
              std::to_string(count * elementBytes);
      return nullptr;
    }
    if (bits == 1) {
      SmallVector<bool> values(count);
      for (int64_t i = 0; i < count; ++i)
        values[i] = (*raw)[i] != 0;
      return DenseElementsAttr::get(type, values);
    }
    return DenseElementsAttr::getFromRawBuffer(
        type, ArrayRef<char>(raw->data(), raw->size()));
  }

  // Typed fields: ONNX keeps each type in the widest field of its kind.
  auto checkCount = [&](int64_t have) {
    if (have == count)
      return true;
    error = "holds " + std::to_string(have) + " values, expected " +
            std::to_string(count);
    return false;
  };
  switch (tensor.data_type()) {
  case onnx::TensorProto::FLOAT: {
    if (!checkCount(tensor.float_data_size()))
      return nullptr;
    return DenseElementsAttr::get(
        type, ArrayRef<float>(tensor.float_data().data(), count));
  }
  case onnx::TensorProto::DOUBLE: {
    if (!checkCount(tensor.double_data_size()))
      return nullptr;
    return DenseElementsAttr::get(
        type, ArrayRef<double>(tensor.double_data().data(), count));
  }
  case onnx::TensorProto::INT64: {
    if (!checkCount(tensor.int64_data_size()))
      return nullptr;
    return DenseElementsAttr::get(
        type, ArrayRef<int64_t>(tensor.int64_data().data(), count));
  }
  case onnx::TensorProto::UINT32:
  case onnx::TensorProto::UINT64: {
    if (!checkCount(tensor.uint64_data_size()))
      return nullptr;
    SmallVector<APInt> values;
    for (uint64_t v : tensor.uint64_data())
      values.push_back(APInt(bits, v));
    return DenseElementsAttr::get(type, values);
  }
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16: {
    // Stored as the raw 16-bit patterns in int32_data.
    if (!checkCount(tensor.int32_data_size()))
      return nullptr;
    SmallVector<APInt> values;
    for (int32_t v : tensor.int32_data())
      values.push_back(APInt(16, (uint16_t)v));
    std::vector<uint16_t> words;
    for (const APInt &v : values)
      words.push_back((uint16_t)v.getZExtValue());
    return DenseElementsAttr::getFromRawBuffer(
        type, ArrayRef<char>((const char *)words.data(), words.size() * 2));
  }
  default: {
    // INT32, INT16, INT8, UINT16, UINT8, BOOL live in int32_data.
    if (!checkCount(tensor.int32_data_size()))
      return nullptr;
    if (bits == 1) {
      SmallVector<bool> values;
      for (int32_t v : tensor.int32_data())
        values.push_back(v != 0);
      return DenseElementsAttr::get(type, values);
    }
    SmallVector<APInt> values;
    for (int32_t v : tensor.int32_data())
      values.push_back(APInt(bits, (uint64_t)(int64_t)v, /*isSigned=*/true));
    return DenseElementsAttr::get(type, values);
  }
  }
}

NodeImporter::NodeImporter(const onnx::NodeProto &node, int64_t opset,
                           OpBuilder &builder, Location loc,
                           const llvm::StringMap<Value> &values)
    : node(node), opset(opset), builder(builder), loc(loc) {
  for (const std::string &name : node.input())
    inputs.push_back(name.empty() ? Value() : values.lookup(name));
}

LogicalResult NodeImporter::error(const llvm::Twine &message) {
  emitError(loc) << node.op_type() << " (opset " << opset << "): " << message;
  return failure();
}

std::optional<ConstantTensor> NodeImporter::constantInput(int i) const {
  if (!hasInput(i))
    return std::nullopt;
  auto constant = inputs[i].getDefiningOp<mlir::kiln::ConstantOp>();
  if (!constant)
    return std::nullopt;
  return ConstantTensor::fromAttr(constant.getValue());
}

FailureOr<SmallVector<int64_t>> NodeImporter::constantInts(int i,
                                                           StringRef what) {
  auto value = constantInput(i);
  if (!value || value->isFloat()) {
    (void)notKnownAtCompileTime(i, what);
    return failure();
  }
  SmallVector<int64_t> result;
  for (int64_t k = 0; k < value->size(); ++k)
    result.push_back(value->getInt(k));
  return result;
}

LogicalResult NodeImporter::notKnownAtCompileTime(int i,
                                                  const llvm::Twine &what) {
  std::string name = i < node.input_size() ? node.input(i) : "";
  std::string message = (what + " (input " + std::to_string(i) + " '" + name +
                         "') must be known at compile time")
                            .str();
  // When the value is computed from graph inputs, name them: those are what
  // `kiln compile --input-value` can fix.
  SmallVector<std::string> graphInputs;
  SmallVector<Value> worklist{inputs[i]};
  llvm::DenseSet<Value> seen;
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    if (!value || !seen.insert(value).second)
      continue;
    if (auto arg = dyn_cast<BlockArgument>(value)) {
      auto func = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
      auto argName = func ? func.getArgAttrOfType<StringAttr>(
                                arg.getArgNumber(), "kiln.name")
                          : StringAttr();
      if (argName && argName.getValue() != name)
        graphInputs.push_back(argName.str());
      continue;
    }
    llvm::append_range(worklist, value.getDefiningOp()->getOperands());
  }
  llvm::sort(graphInputs);
  for (size_t k = 0; k < graphInputs.size(); ++k)
    message += (k == 0 ? "; it is computed from graph input '" : ", '") +
               graphInputs[k] + "'";
  return error(message);
}

LogicalResult NodeImporter::normalizeAxis(int64_t &axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return error("axis " + std::to_string(axis) + " out of range");
  if (axis < 0)
    axis += rank;
  return success();
}

Value NodeImporter::iota(int64_t rank, int64_t axis, int64_t size) {
  SmallVector<int64_t> shape(rank, 1);
  shape[axis] = size;
  ConstantTensor t(RankedTensorType::get(shape, builder.getIntegerType(64)));
  for (int64_t i = 0; i < size; ++i)
    t.setInt(i, i);
  return constant(t.toAttr());
}

LogicalResult NodeImporter::expectInputs(int min, int max) {
  int count = 0;
  for (int i = 0; i < numInputs(); ++i)
    if (hasInput(i))
      count = i + 1;
  for (int i = 0; i < min; ++i)
    if (!hasInput(i))
      return error("missing required input " + std::to_string(i));
  if (count > max)
    return error("expected at most " + std::to_string(max) + " inputs, got " +
                 std::to_string(count));
  return success();
}

LogicalResult NodeImporter::expectOutputs(int count) {
  for (int i = count; i < numOutputs(); ++i)
    if (hasOutput(i))
      return error("optional output " + std::to_string(i) + " ('" +
                   node.output(i) + "') is not supported");
  return success();
}

const onnx::AttributeProto *NodeImporter::attr(StringRef name) {
  readAttrs.insert(name);
  for (const auto &a : node.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

bool NodeImporter::hasAttr(StringRef name) { return attr(name) != nullptr; }

int64_t NodeImporter::attrInt(StringRef name, int64_t defaultValue) {
  const auto *a = attr(name);
  return a ? a->i() : defaultValue;
}

float NodeImporter::attrFloat(StringRef name, float defaultValue) {
  const auto *a = attr(name);
  return a ? a->f() : defaultValue;
}

std::string NodeImporter::attrString(StringRef name, StringRef defaultValue) {
  const auto *a = attr(name);
  return a ? a->s() : defaultValue.str();
}

SmallVector<int64_t> NodeImporter::attrInts(StringRef name,
                                            ArrayRef<int64_t> defaultValue) {
  const auto *a = attr(name);
  if (!a)
    return SmallVector<int64_t>(defaultValue);
  return SmallVector<int64_t>(a->ints().begin(), a->ints().end());
}

SmallVector<float> NodeImporter::attrFloats(StringRef name) {
  const auto *a = attr(name);
  if (!a)
    return {};
  return SmallVector<float>(a->floats().begin(), a->floats().end());
}

const onnx::TensorProto *NodeImporter::attrTensor(StringRef name) {
  const auto *a = attr(name);
  return a && a->has_t() ? &a->t() : nullptr;
}

const onnx::GraphProto *NodeImporter::attrGraph(StringRef name) {
  const auto *a = attr(name);
  return a && a->has_g() ? &a->g() : nullptr;
}

std::optional<std::string> NodeImporter::unreadAttribute() const {
  for (const auto &a : node.attribute())
    if (!readAttrs.contains(a.name()))
      return a.name();
  return std::nullopt;
}

FailureOr<SmallVector<Value>> NodeImporter::finish(Operation *op) {
  if (failed(mlir::verify(op))) {
    op->erase();
    return failure();
  }
  SmallVector<Value> folded;
  if (succeeded(builder.tryFold(op, folded)) && !folded.empty()) {
    op->erase();
    return folded;
  }
  return SmallVector<Value>(op->getResults());
}

Value NodeImporter::splat(Type element, double value, ArrayRef<int64_t> shape) {
  ConstantTensor t(RankedTensorType::get(shape, element));
  for (int64_t i = 0; i < t.size(); ++i)
    t.set(i, value);
  return constant(t.toAttr());
}

Value NodeImporter::constant(DenseElementsAttr value) {
  return builder.create<mlir::kiln::ConstantOp>(loc, value).getResult();
}

FailureOr<Value> NodeImporter::castElements(Value value, Type element) {
  auto type = cast<RankedTensorType>(value.getType());
  return createTyped<mlir::kiln::CastOp>(
      RankedTensorType::get(type.getShape(), element), value);
}

FailureOr<Value> NodeImporter::swapDims(Value value, int64_t a, int64_t b) {
  if (a == b)
    return value;
  SmallVector<int64_t> perm;
  for (int64_t d = 0; d < typeOf(value).getRank(); ++d)
    perm.push_back(d);
  std::swap(perm[a], perm[b]);
  return create<mlir::kiln::TransposeOp>(value, perm);
}

FailureOr<Value> NodeImporter::sliceAlong(Value value, int64_t axis,
                                          int64_t start, int64_t size) {
  auto shape = typeOf(value).getShape();
  SmallVector<int64_t> starts(shape.size(), 0), sizes(shape),
      steps(shape.size(), 1);
  starts[axis] = start;
  sizes[axis] = size;
  return create<mlir::kiln::SliceOp>(value, starts, sizes, steps);
}

FailureOr<Value> NodeImporter::takeAlong(Value value, int64_t axis,
                                         int64_t index) {
  auto part = sliceAlong(value, axis, index, 1);
  if (failed(part))
    return failure();
  SmallVector<int64_t> shape(typeOf(value).getShape());
  shape.erase(shape.begin() + axis);
  return reshape(*part, shape);
}

FailureOr<Value> NodeImporter::reshape(Value value, ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(value.getType());
  return createTyped<mlir::kiln::ReshapeOp>(
      RankedTensorType::get(shape, type.getElementType()), value);
}

} // namespace kiln::onnx_import
