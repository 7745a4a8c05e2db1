//===- EmitBundle.cpp - planned IR -> bundle file
//--------------------------===//
//
// Reads the schedule straight off `@main`: arguments are inputs, each
// kiln.dispatch_call a dispatch whose bindings are its operands (weights or
// arena), its results and its scratch, and the returned values the outputs.
//
//===----------------------------------------------------------------------===//

#include "compiler/pipeline/EmitBundle.h"
#include "passes/Passes.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cctype>
#include <cstdio>

using namespace mlir;

namespace kiln {
namespace {

kiln_dtype dtypeOf(Type type) {
  if (type.isF32())
    return KILN_DTYPE_F32;
  if (type.isF16())
    return KILN_DTYPE_F16;
  if (type.isF64())
    return KILN_DTYPE_F64;
  if (type.isBF16())
    return KILN_DTYPE_BF16;
  auto integer = dyn_cast<IntegerType>(type);
  if (!integer)
    return KILN_DTYPE_INVALID;
  bool isUnsigned = integer.isUnsigned();
  switch (integer.getWidth()) {
  case 1:
    return KILN_DTYPE_BOOL;
  case 8:
    return isUnsigned ? KILN_DTYPE_U8 : KILN_DTYPE_I8;
  case 16:
    return isUnsigned ? KILN_DTYPE_U16 : KILN_DTYPE_I16;
  case 32:
    return isUnsigned ? KILN_DTYPE_U32 : KILN_DTYPE_I32;
  case 64:
    return isUnsigned ? KILN_DTYPE_U64 : KILN_DTYPE_I64;
  default:
    return KILN_DTYPE_INVALID;
  }
}

/// The bytes of a constant as the kernels read them: dense, row-major,
/// one byte per bool.
std::vector<char> constantBytes(DenseElementsAttr value) {
  auto type = cast<RankedTensorType>(value.getType());
  int64_t count = type.getNumElements();
  int64_t elementSize = mlir::kiln::elementByteSize(type.getElementType());
  std::vector<char> bytes(count * elementSize);
  if (type.getElementType().isInteger(1)) {
    auto values = value.getValues<bool>();
    for (int64_t i = 0; i < count; ++i)
      bytes[i] = values[i];
  } else if (value.isSplat()) {
    ArrayRef<char> one = value.getRawData();
    for (int64_t i = 0; i < count; ++i)
      std::copy(one.begin(), one.begin() + elementSize,
                bytes.begin() + i * elementSize);
  } else {
    ArrayRef<char> raw = value.getRawData();
    std::copy(raw.begin(), raw.end(), bytes.begin());
  }
  return bytes;
}

class BundleBuilder {
public:
  explicit BundleBuilder(func::FuncOp main) : main(main) {}

  bool build(bundle::BundleWriter &writer, std::string &error);

private:
  /// Arena offset of a value (through reshapes), or nullopt for constants.
  std::optional<int64_t> arenaOffset(Value value);
  bundle::Binding bindingFor(Value value, bundle::BundleWriter &writer);

  func::FuncOp main;
  llvm::DenseMap<Attribute, uint64_t> weightOffsets;
};

std::optional<int64_t> BundleBuilder::arenaOffset(Value value) {
  if (auto arg = dyn_cast<BlockArgument>(value))
    return main
        .getArgAttrOfType<IntegerAttr>(arg.getArgNumber(),
                                       mlir::kiln::kArenaOffsetAttr)
        .getInt();
  Operation *def = value.getDefiningOp();
  auto offsets =
      def->getAttrOfType<DenseI64ArrayAttr>(mlir::kiln::kArenaOffsetsAttr);
  if (!offsets)
    return std::nullopt;
  int64_t offset = offsets[cast<OpResult>(value).getResultNumber()];
  if (offset < 0)
    return std::nullopt;
  return offset;
}

bundle::Binding BundleBuilder::bindingFor(Value value,
                                          bundle::BundleWriter &writer) {
  auto type = cast<RankedTensorType>(value.getType());
  uint64_t size = mlir::kiln::tensorByteSize(type);
  if (auto offset = arenaOffset(value))
    return {KILN_BUFFER_ARENA, (uint64_t)*offset, size};
  // A weight, possibly seen through reshapes (the bytes are the same).
  Value source = value;
  while (auto reshape = source.getDefiningOp<mlir::kiln::ReshapeOp>())
    source = reshape.getInput();
  auto constant = source.getDefiningOp<mlir::kiln::ConstantOp>();
  auto dense = cast<DenseElementsAttr>(constant.getValue());
  auto [it, inserted] = weightOffsets.try_emplace(dense, 0);
  if (inserted) {
    // Most weights are stored as they are in the attribute: no copy.
    if (!dense.isSplat() && !type.getElementType().isInteger(1)) {
      ArrayRef<char> raw = dense.getRawData();
      it->second = writer.addWeight(raw.data(), raw.size());
    } else {
      std::vector<char> bytes = constantBytes(dense);
      it->second = writer.addWeight(bytes.data(), bytes.size());
    }
  }
  return {KILN_BUFFER_WEIGHTS, it->second, size};
}

bool BundleBuilder::build(bundle::BundleWriter &writer, std::string &error) {
  writer.setArenaSize(
      main->getAttrOfType<IntegerAttr>(mlir::kiln::kArenaSizeAttr).getInt());
  // The weights section grows once, not by doubling 100 MB buffers.
  uint64_t weightBytes = 0;
  main.walk([&](mlir::kiln::ConstantOp constant) {
    weightBytes +=
        mlir::kiln::tensorByteSize(constant.getType()) + KILN_TENSOR_ALIGNMENT;
  });
  writer.reserveWeights(weightBytes);
  auto tensorSpec = [&](Value value, StringAttr name,
                        bundle::TensorSpec &spec) {
    auto type = cast<RankedTensorType>(value.getType());
    spec.name = name ? name.str() : std::string();
    spec.dtype = dtypeOf(type.getElementType());
    spec.dims.assign(type.getShape().begin(), type.getShape().end());
    spec.sizeBytes = mlir::kiln::tensorByteSize(type);
    if (spec.dtype == KILN_DTYPE_INVALID) {
      error = "tensor '" + spec.name +
              "' has element type without a bundle "
              "dtype";
      return false;
    }
    // An empty output owns no bytes, so any offset is right for it.
    auto offset = spec.sizeBytes == 0 ? 0 : arenaOffset(value);
    if (!offset) {
      error = "tensor '" + spec.name + "' has no arena buffer";
      return false;
    }
    spec.arenaOffset = *offset;
    return true;
  };
  for (BlockArgument arg : main.getArguments()) {
    bundle::TensorSpec spec;
    if (!tensorSpec(arg,
                    main.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                      mlir::kiln::kNameAttr),
                    spec))
      return false;
    writer.addInput(std::move(spec));
  }
  auto ret = cast<func::ReturnOp>(main.getBody().front().getTerminator());
  for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
    bundle::TensorSpec spec;
    if (!tensorSpec(
            value,
            main.getResultAttrOfType<StringAttr>(i, mlir::kiln::kNameAttr),
            spec))
      return false;
    writer.addOutput(std::move(spec));
  }
  uint32_t entries = 0;
  auto deviceOf = [](StringAttr name) -> uint32_t {
    return name && name.getValue() == "cuda" ? KILN_DEVICE_CUDA
                                             : KILN_DEVICE_CPU;
  };
  for (Operation &op : main.getBody().front()) {
    if (auto transfer = dyn_cast<mlir::kiln::TransferOp>(op)) {
      bundle::Dispatch dispatch;
      dispatch.name = "transfer to " + transfer.getTo().str();
      dispatch.flags = KILN_DISPATCH_FLAG_TRANSFER;
      dispatch.device = deviceOf(transfer.getToAttr());
      dispatch.workgroupCount = {0, 0, 0};
      dispatch.bindings = {bindingFor(transfer.getOutput(), writer)};
      dispatch.bindings[0].access = KILN_ACCESS_READ | KILN_ACCESS_WRITE;
      SmallVector<StringRef> nodes;
      mlir::kiln::collectNodeNames(transfer.getLoc(), nodes);
      dispatch.nodes = llvm::join(nodes, ", ");
      writer.addDispatch(std::move(dispatch));
      continue;
    }
    auto call = dyn_cast<mlir::kiln::DispatchCallOp>(op);
    if (!call)
      continue;
    uint32_t device =
        deviceOf(call->getAttrOfType<StringAttr>(mlir::kiln::kDeviceAttr));
    std::vector<bundle::Binding> bindings;
    for (Value operand : call.getInputs()) {
      bindings.push_back(bindingFor(operand, writer));
      bindings.back().access = KILN_ACCESS_READ;
    }
    for (Value result : call.getResults()) {
      bindings.push_back(bindingFor(result, writer));
      bindings.back().access = KILN_ACCESS_WRITE;
    }
    if (auto offset =
            call->getAttrOfType<IntegerAttr>(mlir::kiln::kScratchOffsetAttr))
      bindings.push_back(
          {KILN_BUFFER_ARENA, (uint64_t)offset.getInt(),
           (uint64_t)call
               ->getAttrOfType<IntegerAttr>(mlir::kiln::kScratchSizeAttr)
               .getInt(),
           KILN_ACCESS_SCRATCH});
    std::string name;
    if (auto attr = call->getAttrOfType<StringAttr>(mlir::kiln::kNameAttr))
      name = attr.str();
    std::string nodes;
    if (auto attr = call->getAttrOfType<StringAttr>(mlir::kiln::kNodesAttr))
      nodes = attr.str();
    uint64_t flops = 0;
    if (auto attr = call->getAttrOfType<IntegerAttr>(mlir::kiln::kFlopsAttr))
      flops = attr.getInt();
    // One schedule entry per phase, all on the same bindings; the work is
    // counted on the first.
    auto phaseEntries =
        call->getAttrOfType<DenseI64ArrayAttr>(mlir::kiln::kEntriesAttr);
    auto phaseWorkgroups =
        call->getAttrOfType<DenseI64ArrayAttr>(mlir::kiln::kWorkgroupsAttr);
    for (size_t i = 0; i < phaseEntries.size(); ++i) {
      bundle::Dispatch dispatch;
      dispatch.name =
          phaseEntries.size() > 1 ? name + " #" + std::to_string(i) : name;
      dispatch.entry = phaseEntries[i];
      dispatch.workgroupCount[0] = phaseWorkgroups[i];
      // Split phases are microkernel calls that divide their work by the
      // workgroup count they are given.
      if (phaseWorkgroups[i] > 1)
        dispatch.flags = KILN_DISPATCH_FLAG_ELASTIC_WORKGROUPS;
      dispatch.bindings = bindings;
      dispatch.nodes = nodes;
      dispatch.flops = i == 0 ? flops : 0;
      dispatch.device = device;
      writer.addDispatch(std::move(dispatch));
      ++entries;
    }
  }
  writer.setEntryCount(entries);
  return true;
}

} // namespace

bool writeBundle(ModuleOp module, std::vector<bundle::Executable> executables,
                 const std::string &path, std::string &error, bool codeLinked) {
  auto main = module.lookupSymbol<func::FuncOp>("main");
  bundle::BundleWriter writer;
  if (auto name = module->getAttrOfType<StringAttr>("kiln.model_name"))
    writer.setModelName(name.str());
  writer.setCodeLinked(codeLinked);
  BundleBuilder builder(main);
  if (!builder.build(writer, error))
    return false;
  for (auto &executable : executables)
    writer.addExecutable(std::move(executable));
  return writer.writeFile(path, error);
}

std::string staticLibName(const std::string &base) {
  std::string name;
  for (char c : llvm::sys::path::filename(base).str())
    name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])))
    name = "m" + name;
  return name;
}

namespace {

/// A C identifier for a tensor name (the macro suffix in the header).
std::string macroPart(llvm::StringRef text) {
  std::string part;
  for (char c : text)
    part += std::isalnum(static_cast<unsigned char>(c))
                ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                : '_';
  return part;
}

std::string tensorComment(Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type.getElementType() << "[";
  llvm::interleaveComma(type.getShape(), os);
  os << "], " << mlir::kiln::tensorByteSize(type) << " bytes";
  return text;
}

std::string staticLibHeader(ModuleOp module, const std::string &name,
                            llvm::StringRef targetName) {
  auto main = module.lookupSymbol<func::FuncOp>("main");
  std::string macro = "KILN_" + macroPart(name);
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "/* " << name << ".h - generated by `kiln compile --emit static-lib` "
     << "(target " << targetName << "). */\n"
     << "#ifndef " << macro << "_H\n#define " << macro << "_H\n\n"
     << "#include \"kiln/kiln_core.h\"\n\n"
     << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
     << "/* The model's code (" << name << ".o); open the bundle " << name
     << ".kiln with it:\n"
     << " *   kiln_core_open(&model, bundle_bytes, bundle_size, &kiln_" << name
     << "_entry_table); */\n"
     << "extern const kiln_entry_table_header kiln_" << name
     << "_entry_table;\n\n"
     << "/* Bytes of arena kiln_core_run needs (KILN_CORE_ARENA_ALIGNMENT "
        "aligned). */\n"
     << "#define " << macro << "_ARENA_SIZE "
     << main->getAttrOfType<IntegerAttr>(mlir::kiln::kArenaSizeAttr).getInt()
     << "u\n\n/* Input and output indices for kiln_core_input/output. */\n";
  for (BlockArgument arg : main.getArguments()) {
    auto argName = main.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                     mlir::kiln::kNameAttr);
    os << "#define " << macro << "_INPUT_" << macroPart(argName.getValue())
       << " " << arg.getArgNumber() << "u /* '" << argName.getValue()
       << "': " << tensorComment(arg) << " */\n";
  }
  auto ret = cast<func::ReturnOp>(main.getBody().front().getTerminator());
  for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
    auto resultName =
        main.getResultAttrOfType<StringAttr>(i, mlir::kiln::kNameAttr);
    os << "#define " << macro << "_OUTPUT_" << macroPart(resultName.getValue())
       << " " << i << "u /* '" << resultName.getValue()
       << "': " << tensorComment(value) << " */\n";
  }
  os << "\n#ifdef __cplusplus\n}\n#endif\n\n#endif /* " << macro << "_H */\n";
  return text;
}

} // namespace

bool writeStaticLib(ModuleOp module, llvm::StringRef object,
                    llvm::StringRef targetName, const std::string &base,
                    std::string &error) {
  std::string name = staticLibName(base);
  std::string header = staticLibHeader(module, name, targetName);
  std::vector<std::string> written;
  auto cleanUp = [&] {
    for (const std::string &path : written)
      std::remove(path.c_str());
    return false;
  };
  if (!writeBundle(module, {}, base + ".kiln", error, /*codeLinked=*/true))
    return cleanUp();
  written.push_back(base + ".kiln");
  if (!bundle::writeFileAtomically(base + ".o", object.data(), object.size(),
                                   error))
    return cleanUp();
  written.push_back(base + ".o");
  if (!bundle::writeFileAtomically(base + ".h", header.data(), header.size(),
                                   error))
    return cleanUp();
  return true;
}

} // namespace kiln
