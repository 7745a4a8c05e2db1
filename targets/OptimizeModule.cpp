//===- OptimizeModule.cpp - LLVM's default pipeline on a module -----------===//

#include "targets/OptimizeModule.h"

#include "llvm/Analysis/TargetLibraryInfo.h"
#include "llvm/IR/Module.h"
#include "llvm/Passes/PassBuilder.h"

namespace mlir::kiln {

void optimizeModule(llvm::Module &module, llvm::TargetMachine *machine,
                    llvm::OptimizationLevel level,
                    const llvm::PipelineTuningOptions &tuning,
                    const llvm::TargetLibraryInfoImpl *library) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder builder(machine, tuning);
  if (library)
    fam.registerPass([&] { return llvm::TargetLibraryAnalysis(*library); });
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  builder.buildPerModuleDefaultPipeline(level).run(module, mam);
}

} // namespace mlir::kiln
