//===- CodeGen.cpp - NVVM kernels -> cubins and PTX -----------------------===//
//
// Translates `gpu.module @kernels` (NVVM dialect) to LLVM IR once per sm,
// links the libdevice functions the kernels call, optimises and emits PTX
// with LLVM's NVPTX back end, and assembles the PTX with the CUDA toolkit's
// ptxas into a cubin for that sm. The image keeps every cubin and the PTX of
// the newest sm, which the driver compiles for GPUs newer than any cubin.
//
// LLVM reports some code generation failures (an instruction the selected
// PTX version lacks, say) by report_fatal_error, which would end the
// process. Code generation runs in a CrashRecoveryContext with a fatal error
// handler that returns to it, so such a failure becomes an error naming the
// sm.
//
//===----------------------------------------------------------------------===//

#include "targets/cuda/CodeGen.h"
#include "targets/OptimizeModule.h"
#include "targets/RunTool.h"
#include "targets/cuda/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Linker/Linker.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/CrashRecoveryContext.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

extern "C" {
void LLVMInitializeNVPTXTargetInfo();
void LLVMInitializeNVPTXTarget();
void LLVMInitializeNVPTXTargetMC();
void LLVMInitializeNVPTXAsmPrinter();
}

namespace mlir::kiln::cuda {

llvm::ArrayRef<unsigned> defaultSms() {
  static const unsigned sms[] = {75, 80, 86, 89, 90};
  return sms;
}

bool isSupportedSm(unsigned sm) {
  // CUDA 13's ptxas starts at sm_75; LLVM 19's NVPTX stops at sm_90.
  for (unsigned known : {75u, 80u, 86u, 87u, 89u, 90u})
    if (sm == known)
      return true;
  return false;
}

std::optional<std::vector<unsigned>> parseCudaTarget(llvm::StringRef name,
                                                     std::string &error) {
  if (name == "cuda")
    return std::vector<unsigned>(defaultSms().begin(), defaultSms().end());
  if (!name.consume_front("cuda:"))
    return std::nullopt;
  std::vector<unsigned> sms;
  llvm::SmallVector<llvm::StringRef> items;
  name.split(items, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef item : items) {
    unsigned sm = 0;
    llvm::StringRef digits = item.trim();
    if (!digits.consume_front("sm_") || digits.getAsInteger(10, sm) ||
        !isSupportedSm(sm)) {
      error = "cuda target: unsupported sm '" + item.trim().str() +
              "' (supported: sm_75, sm_80, sm_86, sm_87, sm_89, sm_90)";
      return std::nullopt;
    }
    if (llvm::is_contained(sms, sm)) {
      error = "cuda target: sm_" + std::to_string(sm) + " is named twice";
      return std::nullopt;
    }
    sms.push_back(sm);
  }
  if (sms.empty()) {
    error = "cuda target: no sm after 'cuda:'";
    return std::nullopt;
  }
  llvm::sort(sms);
  return sms;
}

namespace {

/// The CUDA toolkit: $KILN_CUDA_ROOT, else where Kiln was configured to
/// find it.
std::string cudaRoot() {
  if (const char *root = std::getenv("KILN_CUDA_ROOT"); root && *root)
    return root;
  return KILN_CUDA_ROOT;
}

/// ptxas from the toolkit, else from PATH; empty when there is none.
std::string findPtxas() {
  llvm::SmallString<256> path(cudaRoot());
  llvm::sys::path::append(path, "bin", "ptxas");
  if (llvm::sys::fs::can_execute(path))
    return path.str().str();
  if (auto found = llvm::sys::findProgramByName("ptxas"))
    return *found;
  return "";
}

/// The PTX ISA version to emit for `sm`: the first that has the sm, and at
/// least 7.0, which LLVM 19 needs for the m16n8k8 tensor-core instruction.
llvm::StringRef ptxFeatures(unsigned sm) {
  if (sm >= 89)
    return "+ptx78";
  if (sm >= 86)
    return "+ptx71";
  return "+ptx70";
}

/// Fatal errors inside LLVM return to the CrashRecoveryContext of the
/// thread that raised them, with the reason kept for the message.
thread_local std::string fatalReason;
void recoverFromFatalError(void *, const char *reason, bool) {
  fatalReason = reason;
  if (llvm::CrashRecoveryContext *context =
          llvm::CrashRecoveryContext::GetCurrent())
    context->HandleExit(1);
}

struct SmResult {
  std::string ptx;
  std::vector<uint8_t> cubin;
  std::string error;
};

/// LLVM IR of the kernels for `sm`, optimised, with libdevice linked; PTX
/// out. Returns false with `result.error` set.
bool emitPtx(gpu::GPUModuleOp kernels, llvm::StringRef libdevice, unsigned sm,
             SmResult &result) {
  std::string smName = "sm_" + std::to_string(sm);
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> module =
      translateModuleToLLVMIR(kernels, context, "kiln_kernels");
  if (!module) {
    result.error = "translation to LLVM IR failed";
    return false;
  }
  std::string lookupError;
  llvm::StringRef triple = "nvptx64-nvidia-cuda";
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple.str(), lookupError);
  if (!target) {
    result.error = lookupError;
    return false;
  }
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, smName, ptxFeatures(sm), llvm::TargetOptions(), std::nullopt,
      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  module->setTargetTriple(triple);
  module->setDataLayout(machine->createDataLayout());

  // libdevice: only the functions the kernels call.
  auto bitcode = llvm::MemoryBuffer::getFile(libdevice);
  if (!bitcode) {
    result.error = "cannot read libdevice at " + libdevice.str() +
                   " (set KILN_CUDA_ROOT to the CUDA toolkit)";
    return false;
  }
  auto library = llvm::parseBitcodeFile((*bitcode)->getMemBufferRef(), context);
  if (!library) {
    result.error = "cannot parse " + libdevice.str() + ": " +
                   llvm::toString(library.takeError());
    return false;
  }
  (*library)->setTargetTriple(triple);
  (*library)->setDataLayout(module->getDataLayout());
  if (llvm::Linker::linkModules(*module, std::move(*library),
                                llvm::Linker::Flags::LinkOnlyNeeded)) {
    result.error = "linking libdevice failed";
    return false;
  }
  // Exact fp32: no flush of denormals to zero in libdevice's functions.
  module->addModuleFlag(llvm::Module::Override, "nvvm-reflect-ftz",
                        uint32_t(0));
  // Only the kernels are entry points.
  llvm::StringSet<> kernelNames;
  for (auto func : kernels.getOps<LLVM::LLVMFuncOp>())
    if (func->hasAttr("nvvm.kernel"))
      kernelNames.insert(func.getSymName());
  for (llvm::Function &function : *module)
    if (!function.isDeclaration() && !kernelNames.contains(function.getName()))
      function.setLinkage(llvm::GlobalValue::InternalLinkage);

  optimizeModule(*module, machine.get(), llvm::OptimizationLevel::O3);

  llvm::SmallString<0> ptx;
  llvm::raw_svector_ostream out(ptx);
  llvm::legacy::PassManager codegen;
  if (machine->addPassesToEmitFile(codegen, out, nullptr,
                                   llvm::CodeGenFileType::AssemblyFile)) {
    result.error = "NVPTX cannot emit PTX";
    return false;
  }
  codegen.run(*module);
  result.ptx = ptx.str().str();
  return true;
}

/// Appends `bytes` to `image` at the next multiple of `alignment`; returns
/// their offset.
uint64_t append(std::vector<uint8_t> &image, const void *bytes, size_t size,
                size_t alignment = 1) {
  image.resize((image.size() + alignment - 1) / alignment * alignment, 0);
  uint64_t offset = image.size();
  const auto *begin = static_cast<const uint8_t *>(bytes);
  image.insert(image.end(), begin, begin + size);
  return offset;
}

} // namespace

bool launchDimensions(gpu::LaunchFuncOp launch, uint32_t grid[3],
                      uint32_t block[3]) {
  Value sizes[] = {launch.getGridSizeX(),  launch.getGridSizeY(),
                   launch.getGridSizeZ(),  launch.getBlockSizeX(),
                   launch.getBlockSizeY(), launch.getBlockSizeZ()};
  for (unsigned i = 0; i < 6; ++i) {
    std::optional<int64_t> size = getConstantIntValue(sizes[i]);
    if (!size || *size <= 0 || *size > INT32_MAX)
      return false;
    (i < 3 ? grid[i] : block[i - 3]) = uint32_t(*size);
  }
  return true;
}

void prepareCudaCodeGen(MLIRContext &context) {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
  });
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  context.appendDialectRegistry(registry);
}

bool emitCudaImage(ModuleOp lowered, llvm::ArrayRef<unsigned> sms,
                   llvm::ArrayRef<EntryPoint> entries,
                   std::vector<uint8_t> &image, std::string &error,
                   llvm::raw_ostream *listing) {
  auto kernels = lowered.lookupSymbol<gpu::GPUModuleOp>(kKernelModuleName);
  if (!kernels) {
    error = "the lowered module has no kernels";
    return false;
  }

  // Each entry's launches, from its dispatch function.
  std::vector<kiln_cuda_entry> entryTable;
  std::vector<kiln_cuda_launch> launches;
  std::string strings;
  llvm::StringMap<uint32_t> nameOffsets;
  for (const EntryPoint &entry : entries) {
    kiln_cuda_entry record = {uint32_t(launches.size()), 0};
    if (entry.phase == 0) {
      // A dispatch placed on the CPU has no function here and no launches.
      auto dispatch = lowered.lookupSymbol<func::FuncOp>(entry.dispatch);
      WalkResult walk =
          !dispatch
              ? WalkResult::advance()
              : dispatch.walk([&](gpu::LaunchFuncOp launch) {
                  kiln_cuda_launch record = {};
                  if (!launchDimensions(launch, record.grid, record.block)) {
                    error =
                        "dispatch " + entry.dispatch +
                        " launches a kernel with a grid that is not constant";
                    return WalkResult::interrupt();
                  }
                  llvm::StringRef name = launch.getKernelName().getValue();
                  auto [it, inserted] =
                      nameOffsets.try_emplace(name, strings.size());
                  if (inserted) {
                    strings += name.str();
                    strings.push_back('\0');
                  }
                  record.kernel_name = it->second;
                  launches.push_back(record);
                  return WalkResult::advance();
                });
      if (walk.wasInterrupted())
        return false;
    }
    record.launch_count = uint32_t(launches.size()) - record.launch_first;
    entryTable.push_back(record);
  }

  // $KILN_CUDA_DUMP_LLVM_IR: the kernels' LLVM IR as translated from NVVM
  // (before libdevice and NVPTX), as bitcode, for the GPU emulator's tests
  // (compiler/tools/kiln-cuda-emulate) and for reading with llvm-dis.
  if (const char *dump = std::getenv("KILN_CUDA_DUMP_LLVM_IR"); dump && *dump) {
    llvm::LLVMContext context;
    std::unique_ptr<llvm::Module> module =
        translateModuleToLLVMIR(kernels, context, "kiln_kernels");
    std::error_code failure;
    llvm::raw_fd_ostream out(dump, failure);
    if (!module || failure) {
      error = "cannot write the kernels' LLVM IR to " + std::string(dump);
      return false;
    }
    llvm::WriteBitcodeToFile(*module, out);
  }

  // PTX and cubins, one sm per thread.
  static std::once_flag handlerOnce;
  std::call_once(handlerOnce, [] {
    llvm::install_fatal_error_handler(recoverFromFatalError, nullptr);
  });
  llvm::CrashRecoveryContext::Enable();
  llvm::SmallString<256> libdevice(cudaRoot());
  llvm::sys::path::append(libdevice, "nvvm", "libdevice", "libdevice.10.bc");
  std::string ptxas = findPtxas();
  std::vector<SmResult> results(sms.size());
  auto compile = [&](size_t i) {
    SmResult &result = results[i];
    std::string smName = "sm_" + std::to_string(sms[i]);
    llvm::CrashRecoveryContext recovery;
    bool ok = false;
    if (!recovery.RunSafely(
            [&] { ok = emitPtx(kernels, libdevice, sms[i], result); })) {
      result.error = "LLVM failed: " + fatalReason;
      return;
    }
    if (!ok || ptxas.empty())
      return;
    if (!runTool(ptxas, {"-arch=" + smName, "-O3", "-o", "{out}", "{in}"},
                 result.ptx, "ptx", "cubin", result.cubin, result.error))
      return;
  };
  std::vector<std::thread> threads;
  for (size_t i = 1; i < sms.size(); ++i)
    threads.emplace_back(compile, i);
  compile(0);
  for (std::thread &thread : threads)
    thread.join();
  llvm::CrashRecoveryContext::Disable();
  for (size_t i = 0; i < sms.size(); ++i)
    if (!results[i].error.empty()) {
      error = "sm_" + std::to_string(sms[i]) + ": " + results[i].error;
      return false;
    }
  if (ptxas.empty())
    llvm::errs() << "kiln: warning: no ptxas in " << cudaRoot()
                 << "/bin or on PATH (set KILN_CUDA_ROOT): the CUDA "
                    "executable carries PTX only, which the driver compiles "
                    "when the model is loaded\n";
  if (listing)
    for (size_t i = 0; i < sms.size(); ++i)
      *listing << "// kiln: cuda sm_" << sms[i] << "\n" << results[i].ptx;

  // The image.
  std::vector<kiln_cuda_binary> binaries;
  for (size_t i = 0; i < sms.size(); ++i)
    if (!results[i].cubin.empty())
      binaries.push_back(
          {KILN_CUDA_BINARY_CUBIN, sms[i], 0, results[i].cubin.size()});
  for (size_t i = 0; i < sms.size(); ++i)
    if (ptxas.empty() || i + 1 == sms.size())
      binaries.push_back(
          {KILN_CUDA_BINARY_PTX, sms[i], 0, results[i].ptx.size()});

  kiln_cuda_image_header header = {};
  header.magic = KILN_CUDA_IMAGE_MAGIC;
  header.version = KILN_CUDA_IMAGE_VERSION;
  header.binary_count = binaries.size();
  header.entry_count = entryTable.size();
  header.launch_count = launches.size();
  header.strings_size = strings.size();
  size_t tables = sizeof(header) + binaries.size() * sizeof(kiln_cuda_binary) +
                  entryTable.size() * sizeof(kiln_cuda_entry) +
                  launches.size() * sizeof(kiln_cuda_launch);
  header.strings_offset = tables;
  image.clear();
  append(image, &header, sizeof(header));
  uint64_t binaryTable = append(image, binaries.data(),
                                binaries.size() * sizeof(kiln_cuda_binary));
  append(image, entryTable.data(), entryTable.size() * sizeof(kiln_cuda_entry));
  append(image, launches.data(), launches.size() * sizeof(kiln_cuda_launch));
  append(image, strings.data(), strings.size());
  for (kiln_cuda_binary &binary : binaries) {
    size_t i = llvm::find(sms, binary.sm) - sms.begin();
    if (binary.kind == KILN_CUDA_BINARY_CUBIN) {
      binary.offset =
          append(image, results[i].cubin.data(), results[i].cubin.size(), 16);
    } else {
      binary.offset =
          append(image, results[i].ptx.c_str(), results[i].ptx.size() + 1, 16);
    }
  }
  std::memcpy(image.data() + binaryTable, binaries.data(),
              binaries.size() * sizeof(kiln_cuda_binary));
  return true;
}

} // namespace mlir::kiln::cuda
