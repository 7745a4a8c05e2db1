//===- kiln-cuda-emulate.cpp - run the CUDA target's kernels on the CPU ---===//
//
// Development and CI machines have no GPU, so the kernels the CUDA target
// writes would otherwise be checked only by their structure. This tool runs
// them: it lowers a dispatch function on buffers with the CUDA target's own
// kernel pipeline (kiln-cuda-lower-kernels), translates the kernels to LLVM
// IR as the code generator does, and compiles that IR for the host instead
// of NVPTX, with the few NVVM intrinsics the kernels use (thread and block
// ids, bar.sync, mma.sync) replaced by calls into an emulator. The emulator
// runs every thread of a block as a fiber: a thread runs until it reaches a
// barrier (or, for mma.sync, until its whole warp has reached it), so the
// kernels' shared memory, barriers and warp-level tensor-core fragments
// behave as on a GPU, one block after another. libdevice's functions
// (`__nv_expf`, ...) become the C library's.
//
//   kiln-cuda-emulate dispatch.mlir --dispatch dispatch_0 --bindings DIR
//
// reads each binding i of the dispatch from DIR/binding_<i>.bin (raw
// little-endian elements, the binding's exact size), runs the dispatch's
// launches in order and writes every binding back. Lit tests compare the
// results with numpy.
//
// What it cannot tell: timing, memory coalescing, bank conflicts, and
// anything about ptxas or a real device; the emulated mma.sync follows the
// PTX ISA's fragment layout for m16n8k8.
//
//===----------------------------------------------------------------------===//

#include "compiler/pipeline/Registration.h"
#include "targets/cuda/CodeGen.h"
#include "targets/cuda/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/Module.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"

#include <cstring>
#include <fstream>
#include <ucontext.h>

using namespace mlir;

namespace {

llvm::cl::opt<std::string> inputPath(llvm::cl::Positional,
                                     llvm::cl::desc("<dispatch.mlir>"),
                                     llvm::cl::Required);
llvm::cl::opt<std::string>
    dispatchName("dispatch", llvm::cl::desc("The dispatch function to run"),
                 llvm::cl::Required);
llvm::cl::opt<std::string> bindingsDir(
    "bindings",
    llvm::cl::desc("Folder of binding_<i>.bin, read before and written after"),
    llvm::cl::Required);

[[noreturn]] void fail(const llvm::Twine &message) {
  llvm::errs() << "kiln-cuda-emulate: error: " << message << "\n";
  std::exit(1);
}

//===----------------------------------------------------------------------===//
// The emulated GPU: a block's threads as fibers.
//===----------------------------------------------------------------------===//

enum class FiberState { Runnable, AtBarrier, AtMma, Done };

struct Fiber {
  ucontext_t context;
  std::vector<char> stack;
  unsigned thread = 0;
  FiberState state = FiberState::Runnable;
  // The operands of its mma.sync: A's two f16 pairs, B's one, C's four
  // floats; D comes back in `d`.
  uint32_t a[2] = {}, b = 0;
  float c[4] = {}, d[4] = {};
};

struct Launch {
  unsigned grid[3], block[3];
  unsigned blockId[3];
  std::vector<Fiber> fibers;
  Fiber *current = nullptr;
  ucontext_t scheduler;
  void (*entry)(void **) = nullptr;
  void **arguments = nullptr;
};

Launch *running = nullptr;

float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h >> 15) << 31, exponent = (h >> 10) & 0x1f,
           mantissa = h & 0x3ff, bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000 | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else { // subnormal: normalise
    int shift = 0;
    while (!(mantissa & 0x400)) {
      mantissa <<= 1;
      ++shift;
    }
    bits = sign | uint32_t(113 - shift) << 23 | ((mantissa & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 for one warp, with the
/// PTX ISA's fragments: for lane l, g = l / 4 and t = l % 4; A's first pair
/// is row g, columns 2t and 2t + 1, its second pair row g + 8; B's pair is
/// rows (k) 2t and 2t + 1 of column g; C and D are row g, columns 2t and
/// 2t + 1, then row g + 8. The lower half of a pair is its first element.
void multiplyAccumulate(Fiber *lanes) {
  float a[16][8], b[8][8], c[16][8];
  for (unsigned lane = 0; lane < 32; ++lane) {
    unsigned g = lane / 4, t = lane % 4;
    const Fiber &f = lanes[lane];
    for (unsigned i = 0; i < 2; ++i) {
      a[g][2 * t + i] = halfToFloat(uint16_t(f.a[0] >> (16 * i)));
      a[g + 8][2 * t + i] = halfToFloat(uint16_t(f.a[1] >> (16 * i)));
      b[2 * t + i][g] = halfToFloat(uint16_t(f.b >> (16 * i)));
      c[g][2 * t + i] = f.c[i];
      c[g + 8][2 * t + i] = f.c[2 + i];
    }
  }
  for (unsigned lane = 0; lane < 32; ++lane) {
    unsigned g = lane / 4, t = lane % 4;
    for (unsigned q = 0; q < 4; ++q) {
      unsigned row = g + (q / 2) * 8, column = 2 * t + q % 2;
      float sum = c[row][column];
      for (unsigned k = 0; k < 8; ++k)
        sum += a[row][k] * b[k][column];
      lanes[lane].d[q] = sum;
    }
  }
}

void yieldToScheduler() {
  swapcontext(&running->current->context, &running->scheduler);
}

extern "C" int32_t kiln_emu_sreg(int32_t which) {
  unsigned dim = which % 3, thread = running->current->thread;
  switch (which / 3) {
  case 0: { // tid
    unsigned x = thread % running->block[0];
    unsigned y = thread / running->block[0] % running->block[1];
    unsigned z = thread / (running->block[0] * running->block[1]);
    return int32_t(dim == 0 ? x : dim == 1 ? y : z);
  }
  case 1: // ntid
    return int32_t(running->block[dim]);
  case 2: // ctaid
    return int32_t(running->blockId[dim]);
  case 3: // nctaid
    return int32_t(running->grid[dim]);
  case 4: // laneid
    return int32_t(thread % 32);
  default: // warpsize
    return 32;
  }
}

extern "C" void kiln_emu_barrier() {
  running->current->state = FiberState::AtBarrier;
  yieldToScheduler();
}

extern "C" void kiln_emu_mma_m16n8k8_f32_f16(float *d, uint32_t a0, uint32_t a1,
                                             uint32_t b0, float c0, float c1,
                                             float c2, float c3) {
  Fiber *f = running->current;
  f->a[0] = a0, f->a[1] = a1, f->b = b0;
  f->c[0] = c0, f->c[1] = c1, f->c[2] = c2, f->c[3] = c3;
  f->state = FiberState::AtMma;
  yieldToScheduler();
  std::memcpy(d, f->d, sizeof(f->d));
}

void fiberMain() {
  running->entry(running->arguments);
  running->current->state = FiberState::Done;
  // uc_link returns to the scheduler.
}

/// Runs one block: every thread until it ends, a barrier releasing the
/// block once all its live threads wait at it, an mma.sync its warp once
/// all 32 lanes are at one.
void runBlock(Launch &launch, llvm::StringRef kernel) {
  unsigned threads = launch.block[0] * launch.block[1] * launch.block[2];
  launch.fibers.resize(threads);
  for (unsigned i = 0; i < threads; ++i) {
    Fiber &f = launch.fibers[i];
    f.thread = i;
    f.state = FiberState::Runnable;
    f.stack.resize(256 * 1024);
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.stack.data();
    f.context.uc_stack.ss_size = f.stack.size();
    f.context.uc_link = &launch.scheduler;
    makecontext(&f.context, fiberMain, 0);
  }
  while (true) {
    for (Fiber &f : launch.fibers)
      if (f.state == FiberState::Runnable) {
        launch.current = &f;
        swapcontext(&launch.scheduler, &f.context);
      }
    bool released = false;
    for (unsigned warp = 0; warp * 32 < threads; ++warp) {
      Fiber *lanes = &launch.fibers[warp * 32];
      unsigned count = std::min(32u, threads - warp * 32), atMma = 0;
      for (unsigned l = 0; l < count; ++l)
        atMma += lanes[l].state == FiberState::AtMma;
      if (atMma == 0 || atMma != count)
        continue;
      if (count != 32)
        fail("kernel " + kernel + ": mma.sync in a warp of " +
             llvm::Twine(count) + " threads");
      multiplyAccumulate(lanes);
      for (unsigned l = 0; l < 32; ++l)
        lanes[l].state = FiberState::Runnable;
      released = true;
    }
    if (released)
      continue;
    unsigned done = 0, atBarrier = 0, atMma = 0;
    for (const Fiber &f : launch.fibers) {
      done += f.state == FiberState::Done;
      atBarrier += f.state == FiberState::AtBarrier;
      atMma += f.state == FiberState::AtMma;
    }
    if (done == threads)
      return;
    if (atBarrier + done == threads) {
      if (done != 0)
        fail("kernel " + kernel + ": " + llvm::Twine(done) +
             " threads ended while others wait at a barrier");
      for (Fiber &f : launch.fibers)
        f.state = FiberState::Runnable;
      continue;
    }
    fail("kernel " + kernel + ": deadlock (" + llvm::Twine(atBarrier) +
         " threads at a barrier, " + llvm::Twine(atMma) +
         " at an mma.sync whose warp diverged, " + llvm::Twine(done) +
         " ended)");
  }
}

//===----------------------------------------------------------------------===//
// NVVM LLVM IR -> host LLVM IR.
//===----------------------------------------------------------------------===//

/// Replaces the NVVM intrinsics by calls into the emulator and libdevice's
/// functions by the C library's; makes shared memory visible to those calls
/// (so that values stored before a barrier are not assumed unchanged after
/// it); adds `kiln_emu_call_<kernel>(void **arguments)` for each kernel.
void retargetToHost(llvm::Module &module, const llvm::DataLayout &layout,
                    llvm::StringRef triple,
                    const llvm::StringSet<> &kernelNames) {
  llvm::LLVMContext &context = module.getContext();
  llvm::Type *i32 = llvm::Type::getInt32Ty(context);
  llvm::Type *f32 = llvm::Type::getFloatTy(context);
  llvm::Type *ptr = llvm::PointerType::get(context, 0);
  llvm::Type *voidType = llvm::Type::getVoidTy(context);
  llvm::FunctionCallee sreg = module.getOrInsertFunction(
      "kiln_emu_sreg", llvm::FunctionType::get(i32, {i32}, false));
  llvm::FunctionCallee barrier = module.getOrInsertFunction(
      "kiln_emu_barrier", llvm::FunctionType::get(voidType, {}, false));
  llvm::FunctionCallee mma = module.getOrInsertFunction(
      "kiln_emu_mma_m16n8k8_f32_f16",
      llvm::FunctionType::get(voidType,
                              {ptr, i32, i32, i32, f32, f32, f32, f32}, false));

  for (llvm::Function &function : llvm::make_early_inc_range(module)) {
    llvm::StringRef name = function.getName();
    if (name.starts_with("__nv_") && function.isDeclaration()) {
      function.setName(name.drop_front(5));
      continue;
    }
    if (!name.starts_with("llvm.nvvm."))
      continue;
    for (llvm::User *user : llvm::make_early_inc_range(function.users())) {
      auto *call = llvm::dyn_cast<llvm::CallInst>(user);
      if (!call)
        fail("intrinsic " + name + " used other than by a call");
      llvm::IRBuilder<> b(call);
      llvm::Value *replacement = nullptr;
      llvm::StringRef rest = name;
      if (rest.consume_front("llvm.nvvm.read.ptx.sreg.")) {
        static const char *kinds[] = {"tid", "ntid", "ctaid", "nctaid"};
        int code = -1;
        for (int k = 0; k < 4; ++k)
          for (int d = 0; d < 3; ++d)
            if (rest == std::string(kinds[k]) + "." + "xyz"[d])
              code = k * 3 + d;
        if (rest == "laneid")
          code = 12;
        if (rest == "warpsize")
          code = 13;
        if (code < 0)
          fail("the emulator lacks " + name);
        replacement = b.CreateCall(sreg, {b.getInt32(code)});
      } else if (name == "llvm.nvvm.barrier0") {
        b.CreateCall(barrier, {});
      } else if (name == "llvm.nvvm.mma.m16n8k8.row.col.f32.f32") {
        llvm::Value *d = b.CreateAlloca(llvm::ArrayType::get(f32, 4));
        llvm::SmallVector<llvm::Value *> operands = {d};
        for (unsigned i = 0; i < 3; ++i)
          operands.push_back(b.CreateBitCast(call->getArgOperand(i), i32));
        for (unsigned i = 3; i < 7; ++i)
          operands.push_back(call->getArgOperand(i));
        b.CreateCall(mma, operands);
        llvm::Value *result = llvm::PoisonValue::get(call->getType());
        for (unsigned i = 0; i < 4; ++i)
          result = b.CreateInsertValue(
              result, b.CreateLoad(f32, b.CreateConstGEP1_32(f32, d, i)), {i});
        replacement = result;
      } else {
        fail("the emulator lacks " + name);
      }
      if (replacement)
        call->replaceAllUsesWith(replacement);
      call->eraseFromParent();
    }
    function.eraseFromParent();
  }

  for (llvm::GlobalVariable &global : module.globals())
    if (global.getAddressSpace() != 0)
      global.setLinkage(llvm::GlobalValue::ExternalLinkage);
  for (llvm::Function &function : module) {
    function.setCallingConv(llvm::CallingConv::C);
    for (llvm::User *user : function.users())
      if (auto *call = llvm::dyn_cast<llvm::CallInst>(user))
        call->setCallingConv(llvm::CallingConv::C);
  }
  if (llvm::NamedMDNode *annotations =
          module.getNamedMetadata("nvvm.annotations"))
    module.eraseNamedMetadata(annotations);
  module.setTargetTriple(triple);
  module.setDataLayout(layout);

  for (const auto &entry : kernelNames) {
    llvm::Function *kernel = module.getFunction(entry.getKey());
    auto *wrapper =
        llvm::Function::Create(llvm::FunctionType::get(voidType, {ptr}, false),
                               llvm::GlobalValue::ExternalLinkage,
                               "kiln_emu_call_" + entry.getKey(), module);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(context, "entry", wrapper));
    llvm::SmallVector<llvm::Value *> arguments;
    for (unsigned i = 0; i < kernel->arg_size(); ++i) {
      llvm::Value *slot = b.CreateConstGEP1_32(ptr, wrapper->getArg(0), i);
      llvm::Value *value = b.CreateLoad(ptr, slot);
      llvm::Type *type = kernel->getArg(i)->getType();
      if (!type->isPointerTy())
        fail("kernel " + entry.getKey() + " takes a non-pointer parameter");
      arguments.push_back(b.CreateAddrSpaceCast(value, type));
    }
    b.CreateCall(kernel, arguments);
    b.CreateRetVoid();
  }
}

void optimize(llvm::Module &module, llvm::TargetMachine *machine) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder builder(machine);
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2)
      .run(module, mam);
}

std::vector<char> readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail("cannot read " + path);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  llvm::cl::ParseCommandLineOptions(argc, argv,
                                    "Runs the CUDA target's kernels of a "
                                    "dispatch on the CPU\n");
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();

  DialectRegistry registry;
  ::kiln::registerKilnDialects(registry);
  MLIRContext mlirContext(registry);
  mlir::kiln::cuda::prepareCudaCodeGen(mlirContext);
  llvm::SourceMgr sources;
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(inputPath, sources, &mlirContext);
  if (!module)
    fail("cannot parse " + inputPath);
  PassManager pm(&mlirContext);
  mlir::kiln::cuda::buildCudaKernelPipeline(pm);
  if (failed(pm.run(*module)))
    fail("the CUDA kernel pipeline failed");

  auto dispatch = module->lookupSymbol<func::FuncOp>(dispatchName);
  auto kernels = module->lookupSymbol<gpu::GPUModuleOp>(
      mlir::kiln::cuda::kKernelModuleName);
  if (!dispatch || !kernels)
    fail("no dispatch function " + dispatchName + " with kernels");

  // The bindings.
  unsigned numBindings = dispatch.getNumArguments() - 2;
  std::vector<std::vector<char>> buffers(numBindings);
  for (unsigned i = 0; i < numBindings; ++i) {
    auto type = cast<MemRefType>(dispatch.getArgument(i).getType());
    std::string path = bindingsDir + "/binding_" + std::to_string(i) + ".bin";
    buffers[i] = readFile(path);
    size_t bytes =
        type.getNumElements() * ((type.getElementTypeBitWidth() + 7) / 8);
    if (buffers[i].size() != bytes)
      fail(path + " holds " + llvm::Twine(buffers[i].size()) + " bytes; " +
           llvm::Twine(bytes) + " expected");
  }

  // The kernels, for the host.
  auto llvmContext = std::make_unique<llvm::LLVMContext>();
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(kernels, *llvmContext, "kiln_kernels");
  if (!llvmModule)
    fail("translation to LLVM IR failed");
  llvm::StringSet<> kernelNames;
  for (auto func : kernels.getOps<LLVM::LLVMFuncOp>())
    if (func->hasAttr("nvvm.kernel"))
      kernelNames.insert(func.getSymName());
  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machineBuilder)
    fail(llvm::toString(machineBuilder.takeError()));
  auto machine = machineBuilder->createTargetMachine();
  if (!machine)
    fail(llvm::toString(machine.takeError()));
  retargetToHost(*llvmModule, (*machine)->createDataLayout(),
                 (*machine)->getTargetTriple().str(), kernelNames);
  optimize(*llvmModule, machine->get());

  auto jit = llvm::orc::LLJITBuilder().create();
  if (!jit)
    fail(llvm::toString(jit.takeError()));
  llvm::orc::JITDylib &library = (*jit)->getMainJITDylib();
  auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*jit)->getDataLayout().getGlobalPrefix());
  if (!process)
    fail(llvm::toString(process.takeError()));
  library.addGenerator(std::move(*process));
  llvm::orc::MangleAndInterner mangle((*jit)->getExecutionSession(),
                                      (*jit)->getDataLayout());
  llvm::orc::SymbolMap emulator;
  auto define = [&](const char *name, auto *address) {
    emulator[mangle(name)] = {llvm::orc::ExecutorAddr::fromPtr(address),
                              llvm::JITSymbolFlags::Exported};
  };
  define("kiln_emu_sreg", &kiln_emu_sreg);
  define("kiln_emu_barrier", &kiln_emu_barrier);
  define("kiln_emu_mma_m16n8k8_f32_f16", &kiln_emu_mma_m16n8k8_f32_f16);
  if (auto error = library.define(llvm::orc::absoluteSymbols(emulator)))
    fail(llvm::toString(std::move(error)));
  if (auto error = (*jit)->addIRModule(llvm::orc::ThreadSafeModule(
          std::move(llvmModule), std::move(llvmContext))))
    fail(llvm::toString(std::move(error)));

  // The launches, in order.
  WalkResult walk = dispatch.walk([&](gpu::LaunchFuncOp op) {
    Launch launch;
    Value sizes[] = {op.getGridSizeX(),  op.getGridSizeY(),
                     op.getGridSizeZ(),  op.getBlockSizeX(),
                     op.getBlockSizeY(), op.getBlockSizeZ()};
    for (unsigned i = 0; i < 6; ++i) {
      std::optional<int64_t> size = getConstantIntValue(sizes[i]);
      if (!size || *size <= 0)
        fail("a launch of " + dispatchName +
             " has a grid that is not constant");
      (i < 3 ? launch.grid[i] : launch.block[i - 3]) = unsigned(*size);
    }
    std::vector<void *> arguments;
    for (Value operand : op.getKernelOperands()) {
      auto argument = dyn_cast<BlockArgument>(operand);
      if (!argument || argument.getOwner() != &dispatch.getBody().front() ||
          argument.getArgNumber() >= numBindings)
        fail("a launch of " + dispatchName + " passes other than a binding");
      arguments.push_back(buffers[argument.getArgNumber()].data());
    }
    llvm::StringRef kernel = op.getKernelName().getValue();
    auto entry = (*jit)->lookup(("kiln_emu_call_" + kernel).str());
    if (!entry)
      fail(llvm::toString(entry.takeError()));
    launch.entry = entry->toPtr<void (*)(void **)>();
    launch.arguments = arguments.data();
    running = &launch;
    for (unsigned z = 0; z < launch.grid[2]; ++z)
      for (unsigned y = 0; y < launch.grid[1]; ++y)
        for (unsigned x = 0; x < launch.grid[0]; ++x) {
          launch.blockId[0] = x, launch.blockId[1] = y, launch.blockId[2] = z;
          runBlock(launch, kernel);
        }
    running = nullptr;
    return WalkResult::advance();
  });
  (void)walk;

  for (unsigned i = 0; i < numBindings; ++i) {
    std::string path = bindingsDir + "/binding_" + std::to_string(i) + ".bin";
    std::ofstream out(path, std::ios::binary);
    out.write(buffers[i].data(), std::streamsize(buffers[i].size()));
    if (!out)
      fail("cannot write " + path);
  }
  return 0;
}
