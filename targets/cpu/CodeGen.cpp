//===- CodeGen.cpp - LLVM dialect -> CPU executable
//------------------------===//
//
// Translates the executable module to LLVM IR, adds the entry wrappers and
// the entry table the runtime looks up, links the builtins bitcode (memcpy,
// memset), optimises at O3 for the target CPU, emits an object file and links
// it with ld.lld into a shared object. The result has no dynamic imports:
// `--no-undefined` turns any stray libm/libc call into a compile error rather
// than a bundle that fails to load.
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/CodeGen.h"
#include "targets/OptimizeModule.h"
#include "targets/RunTool.h"

#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/Analysis/TargetLibraryInfo.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Linker/Linker.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Triple.h"
#include "llvm/Transforms/IPO/GlobalDCE.h"
#include "llvm/Transforms/Utils/ModuleUtils.h"

#include <mutex>

extern "C" {
void LLVMInitializeX86TargetInfo();
void LLVMInitializeX86Target();
void LLVMInitializeX86TargetMC();
void LLVMInitializeX86AsmPrinter();
void LLVMInitializeAArch64TargetInfo();
void LLVMInitializeAArch64Target();
void LLVMInitializeAArch64TargetMC();
void LLVMInitializeAArch64AsmPrinter();

// Builtins bitcode, embedded at build time (EmbedBitcode.S.in).
extern const char kiln_builtins_x86_64_bc[], kiln_builtins_x86_64_bc_end[];
extern const char kiln_builtins_x86_64_avx512_bc[],
    kiln_builtins_x86_64_avx512_bc_end[];
extern const char kiln_builtins_aarch64_bc[], kiln_builtins_aarch64_bc_end[];
}

namespace mlir::kiln::cpu {

llvm::ArrayRef<CpuTarget> cpuTargets() {
  static const CpuTarget targets[] = {
      {KILN_TARGET_X86_64_AVX2, "x86_64-avx2", "x86_64-unknown-linux-gnu",
       "haswell", "+avx2,+fma,+f16c", "x86_64"},
      // x86-64-v4 is AVX-512 F/BW/DQ/VL/CD; evex512 must be named for the
      // builtins' 512-bit tiles once the features replace clang's.
      {KILN_TARGET_X86_64_AVX512, "x86_64-avx512", "x86_64-unknown-linux-gnu",
       "x86-64-v4",
       "+avx2,+fma,+f16c,+avx512f,+avx512bw,+avx512dq,+avx512vl,+evex512,"
       "+prefer-no-gather,+prefer-no-scatter",
       "x86_64_avx512"},
      // The same with the 8-bit dot product (vpdpbusd) the int8
      // convolutions use; the builtins' VNNI tiles carry their own target
      // attribute, so the AVX-512 builtins serve both.
      {KILN_TARGET_X86_64_AVX512_VNNI, "x86_64-avx512-vnni",
       "x86_64-unknown-linux-gnu", "x86-64-v4",
       "+avx2,+fma,+f16c,+avx512f,+avx512bw,+avx512dq,+avx512vl,+evex512,"
       "+avx512vnni,+prefer-no-gather,+prefer-no-scatter",
       "x86_64_avx512"},
      {KILN_TARGET_AARCH64_NEON, "aarch64-neon", "aarch64-unknown-linux-gnu",
       "generic", "+neon", "aarch64"},
      {KILN_TARGET_AARCH64_NEON_DOTPROD_FP16, "aarch64-neon-dotprod-fp16",
       "aarch64-unknown-linux-gnu", "cortex-a55", "+neon,+dotprod,+fullfp16",
       "aarch64"},
  };
  return targets;
}

const CpuTarget *findCpuTarget(llvm::StringRef name) {
  for (const CpuTarget &target : cpuTargets())
    if (target.name == name)
      return &target;
  return nullptr;
}

namespace {

void initializeLLVMTargets() {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeX86TargetInfo();
    LLVMInitializeX86Target();
    LLVMInitializeX86TargetMC();
    LLVMInitializeX86AsmPrinter();
    LLVMInitializeAArch64TargetInfo();
    LLVMInitializeAArch64Target();
    LLVMInitializeAArch64TargetMC();
    LLVMInitializeAArch64AsmPrinter();
  });
}

llvm::StringRef builtinsBitcode(const CpuTarget &target) {
  auto bytes = [](const char *begin, const char *end) {
    return llvm::StringRef(begin, end - begin);
  };
  if (target.builtins == "x86_64")
    return bytes(kiln_builtins_x86_64_bc, kiln_builtins_x86_64_bc_end);
  if (target.builtins == "x86_64_avx512")
    return bytes(kiln_builtins_x86_64_avx512_bc,
                 kiln_builtins_x86_64_avx512_bc_end);
  return bytes(kiln_builtins_aarch64_bc, kiln_builtins_aarch64_bc_end);
}

/// Adds `kiln_entry_<i>(void *const *bindings, i64 wg, i64 wgs)` for each
/// entry function and the exported table pointing at them.
bool addEntryTable(llvm::Module &module,
                   llvm::ArrayRef<std::string> entryFunctions,
                   llvm::StringRef tableSymbol, std::string &error) {
  unsigned entryCount = entryFunctions.size();
  llvm::LLVMContext &context = module.getContext();
  llvm::IRBuilder<> b(context);
  llvm::Type *ptr = b.getPtrTy(), *i64 = b.getInt64Ty(), *i32 = b.getInt32Ty();
  auto *entryType = llvm::FunctionType::get(b.getVoidTy(), {ptr, i64, i64},
                                            /*isVarArg=*/false);
  std::vector<llvm::Constant *> entries;
  for (unsigned i = 0; i < entryCount; ++i) {
    const std::string &name = entryFunctions[i];
    llvm::Function *dispatch = module.getFunction(name);
    if (!dispatch || dispatch->isDeclaration()) {
      error = "executable has no function " + name;
      return false;
    }
    dispatch->setLinkage(llvm::GlobalValue::InternalLinkage);
    auto *entry =
        llvm::Function::Create(entryType, llvm::GlobalValue::InternalLinkage,
                               "kiln_entry_" + std::to_string(i), module);
    b.SetInsertPoint(llvm::BasicBlock::Create(context, "entry", entry));
    llvm::Value *bindings = entry->getArg(0);
    std::vector<llvm::Value *> args;
    unsigned numBuffers = dispatch->arg_size() - 2;
    for (unsigned j = 0; j < numBuffers; ++j) {
      llvm::Value *slot = b.CreateConstInBoundsGEP1_64(ptr, bindings, j);
      auto *load = b.CreateAlignedLoad(ptr, slot, llvm::Align(8));
      args.push_back(load);
      // Bindings are 64-byte aligned and never alias each other's writes.
      dispatch->addParamAttr(j, llvm::Attribute::NoAlias);
      dispatch->addParamAttr(
          j, llvm::Attribute::getWithAlignment(context, llvm::Align(64)));
    }
    args.push_back(entry->getArg(1));
    args.push_back(entry->getArg(2));
    b.CreateCall(dispatch, args);
    b.CreateRetVoid();
    entries.push_back(entry);
  }
  auto *arrayType = llvm::ArrayType::get(ptr, entryCount);
  auto *tableType =
      llvm::StructType::get(context, {i32, i32, i32, i32, arrayType});
  auto *table = llvm::ConstantStruct::get(
      tableType, {b.getInt32(KILN_ENTRY_TABLE_MAGIC),
                  b.getInt32(KILN_ENTRY_TABLE_VERSION), b.getInt32(entryCount),
                  b.getInt32(0), llvm::ConstantArray::get(arrayType, entries)});
  auto *global = new llvm::GlobalVariable(
      module, tableType, /*isConstant=*/true,
      llvm::GlobalValue::ExternalLinkage, table, tableSymbol);
  global->setAlignment(llvm::Align(16));
  return true;
}

bool optimize(llvm::Module &module, llvm::TargetMachine &machine) {
  llvm::PipelineTuningOptions tuning;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  tuning.LoopUnrolling = true;
  // No C library: LLVM must not turn code into calls of library functions
  // beyond memcpy, memmove and memset, which the builtins provide. Copy
  // loops become calls of those; left as loops, LLVM vectorised and
  // unrolled every one (the encoder's O3 took 4.1 s instead of 1.1 s).
  llvm::TargetLibraryInfoImpl library(llvm::Triple(module.getTargetTriple()));
  library.disableAllFunctions();
  for (llvm::LibFunc function :
       {llvm::LibFunc_memcpy, llvm::LibFunc_memmove, llvm::LibFunc_memset})
    library.setAvailable(function);
  optimizeModule(module, &machine, llvm::OptimizationLevel::O3, tuning,
                 &library);
  return true;
}

/// Marks every function `module` defines as code for `target`'s CPU.
void setTargetAttributes(llvm::Module &module, const CpuTarget &target) {
  for (llvm::Function &f : module) {
    if (f.isDeclaration())
      continue;
    f.addFnAttr("target-cpu", target.cpu);
    f.addFnAttr("target-features", target.features);
    f.removeFnAttr("tune-cpu");
  }
}

/// Gives every global `module` defines but `exported` internal linkage.
void internalizeAllBut(llvm::Module &module, llvm::StringRef exported) {
  for (llvm::GlobalValue &global : module.global_values())
    if (!global.isDeclaration() && global.getName() != exported &&
        !global.getName().starts_with("llvm."))
      global.setLinkage(llvm::GlobalValue::InternalLinkage);
}

/// Drops the functions and globals nothing references (the builtins no
/// dispatch calls).
void dropUnusedGlobals(llvm::Module &module) {
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder builder;
  builder.registerModuleAnalyses(mam);
  llvm::ModulePassManager passes;
  passes.addPass(llvm::GlobalDCEPass());
  passes.run(module, mam);
}

/// Runs ld.lld on `object` and returns the shared object's bytes.
bool linkSharedObject(llvm::StringRef object, std::vector<uint8_t> &elf,
                      std::string &error) {
  std::vector<std::string> args = {"-shared",
                                   "--no-undefined",
                                   "-nostdlib",
                                   "-Bsymbolic",
                                   "--build-id=none",
                                   "--hash-style=both",
                                   "-z",
                                   "max-page-size=4096",
                                   "-z",
                                   "separate-loadable-segments",
                                   "-z",
                                   "norelro",
                                   "-z",
                                   "noexecstack",
                                   "-o",
                                   "{out}",
                                   "{in}"};
  if (runTool(KILN_LLD_PATH, args, object, "o", "so", elf, error))
    return true;
  error = "linking the executable failed: " + error;
  return false;
}

} // namespace

void prepareCpuCodeGen(MLIRContext &context) {
  initializeLLVMTargets();
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  context.appendDialectRegistry(registry);
}

bool emitCpuObject(ModuleOp executable, const CpuTarget &target,
                   llvm::ArrayRef<std::string> entryFunctions,
                   llvm::StringRef tableSymbol, llvm::SmallString<0> &object,
                   std::string &error, llvm::raw_ostream *optimizedIR) {

  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> module =
      translateModuleToLLVMIR(executable, context, "kiln_executable");
  if (!module) {
    error = "translation to LLVM IR failed";
    return false;
  }
  llvm::Triple triple(target.triple);
  std::string lookupError;
  const llvm::Target *llvmTarget =
      llvm::TargetRegistry::lookupTarget(triple.str(), lookupError);
  if (!llvmTarget) {
    error = lookupError;
    return false;
  }
  llvm::TargetOptions options;
  options.AllowFPOpFusion = llvm::FPOpFusion::Fast;
  std::unique_ptr<llvm::TargetMachine> machine(llvmTarget->createTargetMachine(
      triple.str(), target.cpu, target.features, options, llvm::Reloc::PIC_,
      llvm::CodeModel::Small, llvm::CodeGenOptLevel::Aggressive));
  module->setDataLayout(machine->createDataLayout());
  module->setTargetTriple(triple.str());
  if (!addEntryTable(*module, entryFunctions, tableSymbol, error))
    return false;

  // The generated code is optimised alone: the builtins come optimised from
  // their bitcode (-O2 at Kiln's build time), and optimising them again with
  // every executable cost about 1.5 s per target. Their calls stay calls.
  setTargetAttributes(*module, target);
  internalizeAllBut(*module, tableSymbol);
  optimize(*module, *machine);

  auto builtins = llvm::parseBitcodeFile(
      llvm::MemoryBufferRef(builtinsBitcode(target), "kiln-builtins"), context);
  if (!builtins) {
    error = "cannot read the builtins bitcode: " +
            llvm::toString(builtins.takeError());
    return false;
  }
  (*builtins)->setDataLayout(module->getDataLayout());
  (*builtins)->setTargetTriple(module->getTargetTriple());
  // Every builtin is code for the target CPU too.
  setTargetAttributes(**builtins, target);
  if (llvm::Linker::linkModules(*module, std::move(*builtins))) {
    error = "cannot link the builtins";
    return false;
  }
  // Code generation may emit calls to these (mem* for copies, fmod for
  // frem) after IR optimisation.
  std::vector<llvm::GlobalValue *> keep;
  for (const char *name : {"memcpy", "memmove", "memset", "fmod", "fmodf"})
    if (llvm::Function *f = module->getFunction(name))
      keep.push_back(f);
  llvm::appendToCompilerUsed(*module, keep);
  // The object exports its table alone: linked into a program, the
  // builtins' memcpy and the rest must not clash with the program's own, and
  // internal builtins nothing calls are dropped (the sdot kernel among them,
  // which a target without dotprod could not even compile).
  internalizeAllBut(*module, tableSymbol);
  dropUnusedGlobals(*module);
  if (optimizedIR)
    module->print(*optimizedIR, nullptr);

  {
    llvm::raw_svector_ostream stream(object);
    llvm::legacy::PassManager codegen;
    if (machine->addPassesToEmitFile(codegen, stream, nullptr,
                                     llvm::CodeGenFileType::ObjectFile)) {
      error = "the target cannot emit object files";
      return false;
    }
    codegen.run(*module);
  }
  return true;
}

bool emitCpuExecutable(ModuleOp executable, const CpuTarget &target,
                       llvm::ArrayRef<std::string> entryFunctions,
                       std::vector<uint8_t> &elf, std::string &error,
                       llvm::raw_ostream *optimizedIR) {
  llvm::SmallString<0> object;
  return emitCpuObject(executable, target, entryFunctions,
                       KILN_ENTRY_TABLE_SYMBOL, object, error, optimizedIR) &&
         linkSharedObject(object, elf, error);
}

} // namespace mlir::kiln::cpu
