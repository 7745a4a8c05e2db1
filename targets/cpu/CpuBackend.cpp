//===- CpuBackend.cpp - the CPU targets behind TargetBackend --------------===//
//
// Each CPU target (x86_64-avx2, aarch64-neon, ...) lowers its copy of the
// executable module in two halves (buildCpuBufferizationPipeline, then
// buildCpuToLLVMPipeline), reading between them how kiln-cpu-split-dispatches
// split each dispatch into phases and how much scratch each phase needs, and
// emits a position-independent ELF (CodeGen.cpp).
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/CodeGen.h"
#include "targets/cpu/Passes.h"

#include "passes/Passes.h"

#include "mlir/Pass/PassManager.h"

namespace mlir::kiln::cpu {
namespace {

std::vector<std::string>
entryFunctionNames(llvm::ArrayRef<EntryPoint> entries) {
  std::vector<std::string> names;
  for (const EntryPoint &entry : entries)
    names.push_back(entry.function);
  return names;
}

class CpuBackend final : public TargetBackend {
public:
  explicit CpuBackend(const CpuTarget &target) : target(target) {}

  llvm::StringRef name() const override { return target.name; }
  kiln_target id() const override { return target.id; }
  bool isCpu() const override { return true; }
  bool hasFp16Arithmetic() const override { return target.hasFp16Arithmetic(); }

  LogicalResult
  lower(ModuleOp executable,
        llvm::StringMap<DispatchLowering> &dispatches) const override {
    // Every public function is a dispatch; kiln-cpu-split-dispatches
    // replaces those it splits by their phases and lists them.
    std::vector<std::string> dispatchNames;
    for (auto func : executable.getOps<func::FuncOp>())
      if (func.isPublic())
        dispatchNames.push_back(func.getSymName().str());
    PassManager bufferize(executable.getContext());
    buildCpuBufferizationPipeline(bufferize, target.features);
    if (failed(bufferize.run(executable)))
      return failure();

    auto split =
        executable->getAttrOfType<DictionaryAttr>("kiln.dispatch_phases");
    for (const std::string &dispatch : dispatchNames) {
      DispatchLowering lowering;
      if (auto list = split ? split.getAs<ArrayAttr>(dispatch) : nullptr)
        for (Attribute entry : list) {
          auto pair = cast<ArrayAttr>(entry);
          lowering.phases.emplace_back(cast<StringAttr>(pair[0]).str(),
                                       cast<IntegerAttr>(pair[1]).getInt());
        }
      else
        lowering.phases.emplace_back(dispatch, 1);
      for (auto &[phase, workgroups] : lowering.phases)
        if (auto size = executable.lookupSymbol<func::FuncOp>(phase)
                            ->getAttrOfType<IntegerAttr>(kScratchSizeAttr))
          lowering.scratchBytes =
              std::max(lowering.scratchBytes, size.getInt());
      dispatches[dispatch] = std::move(lowering);
    }

    PassManager toLLVM(executable.getContext());
    buildCpuToLLVMPipeline(toLLVM);
    return toLLVM.run(executable);
  }

  void prepareCodeGen(MLIRContext &context) const override {
    prepareCpuCodeGen(context);
  }

  bool emit(ModuleOp lowered, llvm::ArrayRef<EntryPoint> entries,
            std::vector<uint8_t> &image, std::string &error,
            llvm::raw_ostream *listing) const override {
    return emitCpuExecutable(lowered, target, entryFunctionNames(entries),
                             image, error, listing);
  }

  bool emitObject(ModuleOp lowered, llvm::ArrayRef<EntryPoint> entries,
                  llvm::StringRef tableSymbol, llvm::SmallString<0> &object,
                  std::string &error,
                  llvm::raw_ostream *listing) const override {
    return emitCpuObject(lowered, target, entryFunctionNames(entries),
                         tableSymbol, object, error, listing);
  }

private:
  const CpuTarget &target;
};

} // namespace

std::unique_ptr<TargetBackend> createCpuBackend(const CpuTarget &target) {
  return std::make_unique<CpuBackend>(target);
}

} // namespace mlir::kiln::cpu
