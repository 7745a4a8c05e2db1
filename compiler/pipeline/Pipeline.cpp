//===- Pipeline.cpp - the phases of `kiln compile`
//-------------------------===//

#include "compiler/pipeline/Pipeline.h"
#include "compiler/pipeline/EmitBundle.h"
#include "compiler/pipeline/Registration.h"
#include "passes/Passes.h"
#include "targets/TargetBackend.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <thread>

using namespace mlir;

namespace kiln {

namespace {
constexpr std::pair<Phase, llvm::StringLiteral> kPhases[] = {
    {Phase::Import, "import"},     {Phase::Graph, "graph"},
    {Phase::Quantize, "quantize"}, {Phase::Partition, "partition"},
    {Phase::Fuse, "fuse"},         {Phase::Lower, "lower"},
    {Phase::Codegen, "codegen"},   {Phase::Bundle, "bundle"},
};

llvm::StringRef phaseName(Phase phase) {
  for (auto [p, name] : kPhases)
    if (p == phase)
      return name;
  return "";
}

/// "model.onnx: node 'conv1'" for a node location, "model.onnx" for a file.
std::string describeLocation(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc)) {
    std::string file = describeLocation(name.getChildLoc());
    return (file.empty() ? "" : file + ": ") + "node '" + name.getName().str() +
           "'";
  }
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return file.getFilename().str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    if (!fused.getLocations().empty())
      return describeLocation(fused.getLocations().front());
  return "";
}

class Compiler {
public:
  explicit Compiler(const CompileOptions &options)
      : options(options), diagnostics(&context, [](Diagnostic &diag) {
          if (diag.getSeverity() != DiagnosticSeverity::Error &&
              diag.getSeverity() != DiagnosticSeverity::Warning)
            return success();
          std::string where = describeLocation(diag.getLocation());
          llvm::errs() << "kiln: "
                       << (diag.getSeverity() == DiagnosticSeverity::Error
                               ? "error: "
                               : "warning: ")
                       << (where.empty() ? "" : where + ": ") << diag.str()
                       << "\n";
          return success();
        }) {
    DialectRegistry registry;
    registerKilnDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  bool run();

private:
  /// Runs `body` as phase `phase`, timing it; true when compilation goes on.
  template <typename Fn> bool phase(Phase phase, Fn body);
  bool runPasses(Operation *op, function_ref<void(OpPassManager &)> build);
  bool stopsAfter(Phase p) const { return options.compileTo == p; }
  /// --emit static-lib's output path without its extension.
  std::string staticLibBase() const {
    llvm::StringRef path = options.outputPath;
    for (llvm::StringRef ext : {".kiln", ".o", ".h"})
      if (path.ends_with(ext))
        return path.drop_back(ext.size()).str();
    return path.str();
  }
  void printIR(Operation *op) {
    OpPrintingFlags flags;
    flags.elideLargeElementsAttrs(16);
    op->print(llvm::outs(), flags);
    llvm::outs() << "\n";
  }

  const CompileOptions &options;
  MLIRContext context;
  ScopedDiagnosticHandler diagnostics;
  OwningOpRef<ModuleOp> module;
  std::vector<std::unique_ptr<mlir::kiln::TargetBackend>> targets;
  std::vector<OwningOpRef<ModuleOp>> loweredExecutables;
  std::vector<bundle::Executable> executables;
};

template <typename Fn> bool Compiler::phase(Phase phase, Fn body) {
  auto start = std::chrono::steady_clock::now();
  bool ok = body();
  if (options.verbose) {
    double ms = std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - start)
                    .count();
    llvm::errs() << llvm::format("kiln: %-8s %9.1f ms\n",
                                 phaseName(phase).str().c_str(), ms);
  }
  return ok;
}

bool Compiler::runPasses(Operation *op,
                         function_ref<void(OpPassManager &)> build) {
  PassManager pm(&context, op->getName().getStringRef());
  build(pm);
  return succeeded(pm.run(op));
}

bool Compiler::run() {
  std::string targetError;
  targets = mlir::kiln::parseTargets(options.targets, targetError);
  if (!targetError.empty()) {
    llvm::errs() << "kiln: error: " << targetError << "\n";
    return false;
  }
  if (options.emit == CompileOptions::Emit::StaticLib && targets.size() != 1) {
    llvm::errs() << "kiln: error: --emit static-lib needs exactly one "
                    "--target (an object file holds code for one CPU)\n";
    return false;
  }

  if (!phase(Phase::Import, [&] {
        module = importOnnxModel(context, options.modelPath, options.import);
        return bool(module);
      }))
    return false;
  if (stopsAfter(Phase::Import))
    return printIR(*module), true;

  if (!phase(Phase::Graph, [&] {
        return runPasses(*module, [](OpPassManager &pm) {
          pm.addPass(createCanonicalizerPass());
          pm.addNestedPass<func::FuncOp>(
              mlir::kiln::createPropagateTransposes());
          pm.addNestedPass<func::FuncOp>(mlir::kiln::createCountFlops());
          pm.addNestedPass<func::FuncOp>(mlir::kiln::createFuseDecomposedOps());
          pm.addNestedPass<func::FuncOp>(mlir::kiln::createFoldBatchNorm());
          pm.addPass(createCanonicalizerPass());
          pm.addPass(createCSEPass());
        });
      }))
    return false;
  if (stopsAfter(Phase::Graph))
    return printIR(*module), true;

  // Quantized models (QDQ) become integer ops; what stays float loses its
  // quantized types, and with --precision fp16 its weights become f16, and
  // where every target has fp16 arithmetic its activations too. A float
  // model at fp32 passes through unchanged.
  bool fp16 = options.precision == CompileOptions::Precision::FP16;
  bool computeF16 =
      fp16 && !targets.empty() && llvm::all_of(targets, [](const auto &target) {
        return target->hasFp16Arithmetic();
      });
  if (!phase(Phase::Quantize, [&] {
        return runPasses(*module, [&](OpPassManager &pm) {
          pm.addNestedPass<func::FuncOp>(mlir::kiln::createFormIntegerOps());
          pm.addNestedPass<func::FuncOp>(
              mlir::kiln::createLowerQuantizedTypes());
          if (fp16)
            pm.addNestedPass<func::FuncOp>(mlir::kiln::createStoreWeightsF16());
          if (computeF16)
            pm.addNestedPass<func::FuncOp>(mlir::kiln::createComputeF16());
          pm.addPass(createCanonicalizerPass());
          pm.addPass(createCSEPass());
        });
      }))
    return false;
  if (stopsAfter(Phase::Quantize))
    return printIR(*module), true;
  // Without a CPU target named, the default ones: a bundle always runs on
  // the CPU, GPU dispatches included, where no GPU is usable.
  if (llvm::none_of(targets, [](const auto &t) { return t->isCpu(); })) {
    for (const char *name : {"x86_64-avx2", "x86_64-avx512"})
      targets.push_back(mlir::kiln::createTarget(name, targetError));
    bool int8 = false;
    module->walk([&](Operation *op) {
      int8 |=
          isa<mlir::kiln::QuantizedConv2DNchwcOp, mlir::kiln::MatMulIntegerOp>(
              op);
    });
    if (int8)
      targets.push_back(
          mlir::kiln::createTarget("x86_64-avx512-vnni", targetError));
  }

  // Kernel layouts (blocked convolutions with their epilogues, packed
  // matrices) are chosen once every weight is a constant, for every target
  // alike; then, for a GPU, every op gets a device.
  const mlir::kiln::TargetBackend *gpu = nullptr;
  for (const auto &target : targets)
    if (!target->isCpu())
      gpu = target.get();
  if (!phase(Phase::Partition, [&] {
        return runPasses(*module, [&](OpPassManager &pm) {
          pm.addNestedPass<func::FuncOp>(mlir::kiln::createBlockConvolutions());
          pm.addNestedPass<func::FuncOp>(mlir::kiln::createPackMatmulWeights());
          pm.addPass(createCanonicalizerPass());
          pm.addPass(createCSEPass());
          if (gpu) {
            mlir::kiln::PartitionOptions partition;
            partition.gpu = gpu->device().str();
            partition.unsupported = gpu->unsupportedOps();
            partition.placement = options.placementPath;
            pm.addNestedPass<func::FuncOp>(
                mlir::kiln::createPartition(partition));
          }
        });
      }))
    return false;
  if (stopsAfter(Phase::Partition))
    return printIR(*module), true;

  // Ops are grouped into dispatches, each on one device.
  if (!phase(Phase::Fuse, [&] {
        return runPasses(*module, [](OpPassManager &pm) {
          pm.addNestedPass<func::FuncOp>(mlir::kiln::createFormDispatches());
          pm.addPass(mlir::kiln::createOutlineDispatches());
          pm.addPass(createCanonicalizerPass());
        });
      }))
    return false;
  if (stopsAfter(Phase::Fuse))
    return printIR(*module), true;

  auto main = module->lookupSymbol<func::FuncOp>("main");
  auto executable =
      module->lookupSymbol<ModuleOp>(mlir::kiln::kExecutableModuleName);
  // The executables' entries, in schedule order.
  std::vector<mlir::kiln::EntryPoint> entries;

  if (!phase(Phase::Lower, [&] {
        // Each target lowers its own copy. A dispatch may run as several
        // phases (kiln-cpu-split-dispatches); its scratch is the largest any
        // phase of any target needs. All targets that split must split
        // alike; the others run the whole dispatch on its first phase.
        using Phases = std::vector<std::pair<std::string, int64_t>>;
        llvm::StringMap<Phases> phasesOf;
        llvm::StringMap<int64_t> scratch;
        for (const auto &target : targets) {
          OwningOpRef<ModuleOp> copy(executable.clone());
          llvm::StringMap<mlir::kiln::DispatchLowering> lowered;
          if (failed(target->lower(*copy, lowered)))
            return false;
          for (auto call :
               main.getBody().front().getOps<mlir::kiln::DispatchCallOp>()) {
            StringRef callee = call.getCallee();
            const mlir::kiln::DispatchLowering &lowering = lowered[callee];
            scratch[callee] = std::max(scratch[callee], lowering.scratchBytes);
            if (lowering.phases.empty())
              continue;
            auto [it, inserted] = phasesOf.try_emplace(callee, lowering.phases);
            if (!inserted && it->second != lowering.phases) {
              llvm::errs() << "kiln: error: targets split dispatch " << callee
                           << " differently\n";
              return false;
            }
          }
          loweredExecutables.push_back(std::move(copy));
        }
        Builder b(&context);
        for (auto call :
             main.getBody().front().getOps<mlir::kiln::DispatchCallOp>()) {
          StringRef callee = call.getCallee();
          if (int64_t size = scratch.lookup(callee))
            call->setAttr(mlir::kiln::kScratchSizeAttr,
                          b.getI64IntegerAttr(size));
          SmallVector<int64_t> entryIndices, workgroups;
          Phases phases = phasesOf.lookup(callee);
          if (phases.empty())
            phases.emplace_back(callee.str(), 1);
          for (auto [index, phase] : llvm::enumerate(phases)) {
            entryIndices.push_back(entries.size());
            entries.push_back({phase.first, callee.str(), unsigned(index)});
            workgroups.push_back(phase.second);
          }
          call->setAttr(mlir::kiln::kEntriesAttr,
                        b.getDenseI64ArrayAttr(entryIndices));
          call->setAttr(mlir::kiln::kWorkgroupsAttr,
                        b.getDenseI64ArrayAttr(workgroups));
        }
        executable->erase();
        return runPasses(*module, [](OpPassManager &pm) {
          pm.addPass(mlir::kiln::createPlanMemory());
        });
      }))
    return false;
  if (stopsAfter(Phase::Lower)) {
    printIR(*module);
    for (auto &lowered : loweredExecutables)
      printIR(*lowered);
    return true;
  }

  bool staticLib = options.emit == CompileOptions::Emit::StaticLib;
  llvm::SmallString<0> staticObject;
  if (!phase(Phase::Codegen, [&] {
        for (const auto &target : targets)
          target->prepareCodeGen(context);
        llvm::raw_ostream *listing =
            stopsAfter(Phase::Codegen) ? &llvm::outs() : nullptr;
        if (staticLib) {
          std::string error;
          if (!targets[0]->emitObject(*loweredExecutables[0], entries,
                                      "kiln_" + staticLibName(staticLibBase()) +
                                          "_entry_table",
                                      staticObject, error, listing)) {
            llvm::errs() << "kiln: error: " << options.modelPath << ": "
                         << targets[0]->name() << " code generation: " << error
                         << "\n";
            return false;
          }
          return true;
        }
        // Targets are independent LLVM modules: each gets a thread (LLVM's
        // optimisation and code generation are most of the compile time),
        // except when their code is printed, which must not interleave.
        size_t count = targets.size();
        std::vector<bundle::Executable> results(count);
        std::vector<std::string> errors(count);
        std::vector<char> ok(count, 0);
        auto emit = [&](size_t i) {
          results[i].target = targets[i]->id();
          ok[i] = targets[i]->emit(*loweredExecutables[i], entries,
                                   results[i].image, errors[i], listing);
        };
        if (listing || count == 1) {
          for (size_t i = 0; i < count; ++i)
            emit(i);
        } else {
          std::vector<std::thread> threads;
          for (size_t i = 1; i < count; ++i)
            threads.emplace_back(emit, i);
          emit(0);
          for (std::thread &thread : threads)
            thread.join();
        }
        for (size_t i = 0; i < count; ++i)
          if (!ok[i]) {
            llvm::errs() << "kiln: error: " << options.modelPath << ": "
                         << targets[i]->name()
                         << " code generation: " << errors[i] << "\n";
            return false;
          }
        for (bundle::Executable &result : results)
          executables.push_back(std::move(result));
        return true;
      }))
    return false;
  if (stopsAfter(Phase::Codegen))
    return true;

  return phase(Phase::Bundle, [&] {
    std::string error;
    if (staticLib ? !writeStaticLib(*module, staticObject, targets[0]->name(),
                                    staticLibBase(), error)
                  : !writeBundle(*module, std::move(executables),
                                 options.outputPath, error)) {
      llvm::errs() << "kiln: error: " << error << "\n";
      return false;
    }
    return true;
  });
}

} // namespace

std::vector<llvm::StringRef> phaseNames() {
  std::vector<llvm::StringRef> names;
  for (auto [phase, name] : kPhases)
    names.push_back(name);
  return names;
}

std::optional<Phase> parsePhase(llvm::StringRef name) {
  for (auto [phase, phaseName] : kPhases)
    if (phaseName == name)
      return phase;
  return std::nullopt;
}

std::vector<std::string> targetNames() { return mlir::kiln::targetNames(); }

bool compile(const CompileOptions &options) { return Compiler(options).run(); }

} // namespace kiln
