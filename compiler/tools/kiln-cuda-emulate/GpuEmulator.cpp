//===- GpuEmulator.cpp - the CUDA target's kernels on the CPU -------------===//
//
// Development and CI machines have no GPU, so the kernels the CUDA target
// writes would otherwise be checked only by their structure. The emulator
// compiles their LLVM IR (as translated from the NVVM dialect, before
// libdevice and NVPTX) for the host, with the few NVVM intrinsics the
// kernels use (thread and block ids, bar.sync, mma.sync) replaced by calls
// into it, and runs every thread of a block as a fiber: a thread runs until
// it reaches a barrier (or, for mma.sync, until its whole warp has reached
// it), so shared memory, barriers and warp-level tensor-core fragments
// behave as on a GPU, one block after another. libdevice's functions
// (`__nv_expf`, ...) become the C library's.
//
// What it cannot tell: timing, coalescing, bank conflicts, and anything
// about ptxas or a device; its mma.sync follows the PTX ISA's fragment
// layout for m16n8k8.
//
//===----------------------------------------------------------------------===//

#include "compiler/tools/kiln-cuda-emulate/GpuEmulator.h"
#include "RandomTensor.h"
#include "targets/OptimizeModule.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/TargetSelect.h"

#include <cstring>
#include <mutex>
#include <ucontext.h>

namespace kiln {
namespace {

//===----------------------------------------------------------------------===//
// The emulated GPU: a block's threads as fibers.
//===----------------------------------------------------------------------===//

/// A fiber's saved execution context. On x86-64 a switch saves and restores
/// the callee-saved registers and the stack pointer (a few nanoseconds);
/// elsewhere it is ucontext's, which also sets the signal mask (a system
/// call per switch).
#if defined(__x86_64__)
struct Context {
  void *stack = nullptr;
};
extern "C" void kiln_emu_switch(void **from, void *to);
asm(R"(
  .text
  .p2align 4
  .type kiln_emu_switch,@function
kiln_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size kiln_emu_switch, .-kiln_emu_switch
)");
void switchContext(Context &from, Context &to) {
  kiln_emu_switch(&from.stack, to.stack);
}
/// Makes `context` start `function` on `stack` at its first switch.
void startContext(Context &context, std::vector<char> &stack,
                  void (*function)()) {
  auto top = reinterpret_cast<uintptr_t>(stack.data() + stack.size()) & ~15ul;
  auto *slots = reinterpret_cast<void **>(top - 16);
  slots[0] = reinterpret_cast<void *>(function); // kiln_emu_switch's ret
  slots[1] = nullptr;
  context.stack = slots - 6; // r15, r14, r13, r12, rbx, rbp: anything
}
#else
struct Context {
  ucontext_t context;
};
void switchContext(Context &from, Context &to) {
  swapcontext(&from.context, &to.context);
}
void startContext(Context &context, std::vector<char> &stack,
                  void (*function)()) {
  getcontext(&context.context);
  context.context.uc_stack.ss_sp = stack.data();
  context.context.uc_stack.ss_size = stack.size();
  context.context.uc_link = nullptr;
  makecontext(&context.context, function, 0);
}
#endif

enum class FiberState { Runnable, AtBarrier, AtMma, Done };

struct Fiber {
  Context context;
  std::vector<char> stack;
  unsigned thread = 0;
  FiberState state = FiberState::Runnable;
  // The operands of its mma.sync: A's two f16 pairs, B's one, C's four
  // floats; D comes back in `d`.
  uint32_t a[2] = {}, b = 0;
  float c[4] = {}, d[4] = {};
};

struct Launch {
  bool synchronizes = true;
  unsigned grid[3], block[3];
  unsigned blockId[3];
  std::vector<Fiber> fibers;
  Fiber *current = nullptr;
  Context scheduler;
  void (*entry)(void **) = nullptr;
  void **arguments = nullptr;
};

Launch *running = nullptr;

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
      a[g][2 * t + i] = tools::halfBitsToFloat(uint16_t(f.a[0] >> (16 * i)));
      a[g + 8][2 * t + i] =
          tools::halfBitsToFloat(uint16_t(f.a[1] >> (16 * i)));
      b[2 * t + i][g] = tools::halfBitsToFloat(uint16_t(f.b >> (16 * i)));
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
  switchContext(running->current->context, running->scheduler);
}

int32_t kiln_emu_sreg(int32_t which) {
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

void kiln_emu_barrier() {
  running->current->state = FiberState::AtBarrier;
  yieldToScheduler();
}

void kiln_emu_mma_m16n8k8_f32_f16(float *d, uint32_t a0, uint32_t a1,
                                  uint32_t b0, float c0, float c1, float c2,
                                  float c3) {
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
  yieldToScheduler(); // for good: the scheduler never resumes it
}

/// Runs one block: every thread until it ends, a barrier releasing the
/// block once all its live threads wait at it, an mma.sync its warp once
/// all 32 lanes are at one.
bool runBlock(Launch &launch, std::string &error) {
  unsigned threads = launch.block[0] * launch.block[1] * launch.block[2];
  launch.fibers.resize(threads);
  if (!launch.synchronizes) { // one thread after another, on this stack
    for (unsigned i = 0; i < threads; ++i) {
      launch.fibers[i].thread = i;
      launch.current = &launch.fibers[i];
      launch.entry(launch.arguments);
    }
    return true;
  }
  for (unsigned i = 0; i < threads; ++i) {
    Fiber &f = launch.fibers[i];
    f.thread = i;
    f.state = FiberState::Runnable;
    f.stack.resize(256 * 1024);
    startContext(f.context, f.stack, fiberMain);
  }
  while (true) {
    for (Fiber &f : launch.fibers)
      if (f.state == FiberState::Runnable) {
        launch.current = &f;
        switchContext(launch.scheduler, f.context);
      }
    bool released = false;
    for (unsigned warp = 0; warp * 32 < threads; ++warp) {
      Fiber *lanes = &launch.fibers[warp * 32];
      unsigned count = std::min(32u, threads - warp * 32), atMma = 0;
      for (unsigned l = 0; l < count; ++l)
        atMma += lanes[l].state == FiberState::AtMma;
      if (atMma == 0 || atMma != count)
        continue;
      if (count != 32) {
        error = "mma.sync in a warp of " + std::to_string(count) + " threads";
        return false;
      }
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
      return true;
    if (atBarrier + done == threads) {
      if (done != 0) {
        error = std::to_string(done) +
                " threads ended while others wait at a barrier";
        return false;
      }
      for (Fiber &f : launch.fibers)
        f.state = FiberState::Runnable;
      continue;
    }
    error = "deadlock (" + std::to_string(atBarrier) +
            " threads at a barrier, " + std::to_string(atMma) +
            " at an mma.sync whose warp diverged, " + std::to_string(done) +
            " ended)";
    return false;
  }
}

//===----------------------------------------------------------------------===//
// NVVM LLVM IR -> host LLVM IR.
//===----------------------------------------------------------------------===//

/// Replaces the NVVM intrinsics by calls into the emulator and libdevice's
/// functions by the C library's; makes shared memory visible to those calls
/// (so that values stored before a barrier are not assumed unchanged after
/// it); adds `kiln_emu_call_<kernel>(void **parameters)` for each kernel, which
/// takes its parameters as cuLaunchKernel does (parameters[i] points to the
/// value of parameter i).
bool retargetToHost(llvm::Module &module, const llvm::DataLayout &layout,
                    llvm::StringRef triple,
                    const llvm::StringSet<> &kernelNames, std::string &error) {
  auto fail = [&](const llvm::Twine &message) {
    error = message.str();
    return false;
  };
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
        return fail("intrinsic " + name + " used other than by a call");
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
          return fail("the emulator lacks " + name);
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
        return fail("the emulator lacks " + name);
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
      llvm::Value *value = b.CreateLoad(ptr, b.CreateLoad(ptr, slot));
      llvm::Type *type = kernel->getArg(i)->getType();
      if (!type->isPointerTy())
        return fail("kernel " + entry.getKey() +
                    " takes a non-pointer parameter");
      arguments.push_back(b.CreateAddrSpaceCast(value, type));
    }
    b.CreateCall(kernel, arguments);
    b.CreateRetVoid();
  }
  return true;
}

/// The kernels of `module`: functions the NVVM annotations mark as kernels,
/// or with the PTX kernel calling convention.
llvm::StringSet<> kernelsOf(llvm::Module &module) {
  llvm::StringSet<> names;
  for (llvm::Function &function : module)
    if (function.getCallingConv() == llvm::CallingConv::PTX_Kernel)
      names.insert(function.getName());
  if (llvm::NamedMDNode *annotations =
          module.getNamedMetadata("nvvm.annotations"))
    for (llvm::MDNode *node : annotations->operands()) {
      if (node->getNumOperands() < 2)
        continue;
      auto *kind = llvm::dyn_cast<llvm::MDString>(node->getOperand(1));
      auto *value =
          llvm::dyn_cast_or_null<llvm::ValueAsMetadata>(node->getOperand(0));
      if (kind && kind->getString() == "kernel" && value)
        names.insert(value->getValue()->getName());
    }
  return names;
}

/// Whether `kernel`'s threads wait for each other: it calls bar.sync or
/// mma.sync.
bool synchronizes(llvm::Function &kernel) {
  for (llvm::Instruction &instruction : llvm::instructions(kernel))
    if (auto *call = llvm::dyn_cast<llvm::CallInst>(&instruction))
      if (llvm::Function *callee = call->getCalledFunction())
        if (callee->getName().starts_with("llvm.nvvm.barrier") ||
            callee->getName().starts_with("llvm.nvvm.mma"))
          return true;
  return false;
}

} // namespace

std::unique_ptr<GpuEmulator>
GpuEmulator::create(std::unique_ptr<llvm::Module> module,
                    std::unique_ptr<llvm::LLVMContext> context,
                    std::string &error) {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
  auto fail = [&](llvm::Error e) -> std::unique_ptr<GpuEmulator> {
    error = llvm::toString(std::move(e));
    return nullptr;
  };
  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machineBuilder)
    return fail(machineBuilder.takeError());
  auto machine = machineBuilder->createTargetMachine();
  if (!machine)
    return fail(machine.takeError());
  auto emulator = std::unique_ptr<GpuEmulator>(new GpuEmulator());
  llvm::StringSet<> kernels = kernelsOf(*module);
  for (const auto &name : kernels)
    if (synchronizes(*module->getFunction(name.getKey())))
      emulator->synchronizing.insert(name.getKey());
  if (!retargetToHost(*module, (*machine)->createDataLayout(),
                      (*machine)->getTargetTriple().str(), kernels, error))
    return nullptr;
  mlir::kiln::optimizeModule(*module, machine->get(),
                             llvm::OptimizationLevel::O2);

  auto jit = llvm::orc::LLJITBuilder().create();
  if (!jit)
    return fail(jit.takeError());
  emulator->jit = std::move(*jit);
  llvm::orc::JITDylib &library = emulator->jit->getMainJITDylib();
  auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      emulator->jit->getDataLayout().getGlobalPrefix());
  if (!process)
    return fail(process.takeError());
  library.addGenerator(std::move(*process));
  llvm::orc::MangleAndInterner mangle(emulator->jit->getExecutionSession(),
                                      emulator->jit->getDataLayout());
  llvm::orc::SymbolMap symbols;
  auto define = [&](const char *name, auto *address) {
    symbols[mangle(name)] = {llvm::orc::ExecutorAddr::fromPtr(address),
                             llvm::JITSymbolFlags::Exported};
  };
  define("kiln_emu_sreg", &kiln_emu_sreg);
  define("kiln_emu_barrier", &kiln_emu_barrier);
  define("kiln_emu_mma_m16n8k8_f32_f16", &kiln_emu_mma_m16n8k8_f32_f16);
  if (auto e = library.define(llvm::orc::absoluteSymbols(symbols)))
    return fail(std::move(e));
  if (auto e = emulator->jit->addIRModule(
          llvm::orc::ThreadSafeModule(std::move(module), std::move(context))))
    return fail(std::move(e));
  return emulator;
}

GpuEmulator::~GpuEmulator() = default;

std::optional<GpuEmulator::Kernel> GpuEmulator::lookup(llvm::StringRef name) {
  auto entry = jit->lookup(("kiln_emu_call_" + name).str());
  if (!entry) {
    llvm::consumeError(entry.takeError());
    return std::nullopt;
  }
  return Kernel{entry->toPtr<void (*)(void **)>(),
                synchronizing.contains(name)};
}

bool GpuEmulator::launch(const Kernel &kernel, const unsigned grid[3],
                         const unsigned block[3], void **parameters,
                         std::string &error) {
  Launch launch;
  std::copy_n(grid, 3, launch.grid);
  std::copy_n(block, 3, launch.block);
  launch.entry = kernel.entry;
  launch.synchronizes = kernel.synchronizes;
  launch.arguments = parameters;
  running = &launch;
  bool ok = true;
  for (unsigned z = 0; ok && z < grid[2]; ++z)
    for (unsigned y = 0; ok && y < grid[1]; ++y)
      for (unsigned x = 0; ok && x < grid[0]; ++x) {
        launch.blockId[0] = x, launch.blockId[1] = y, launch.blockId[2] = z;
        ok = runBlock(launch, error);
      }
  running = nullptr;
  return ok;
}

} // namespace kiln
