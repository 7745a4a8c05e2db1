//===- kiln-cuda-emulate.cpp - run one dispatch's kernels on the CPU ------===//
//
// Lowers a dispatch function on buffers with the CUDA target's own kernel
// pipeline (kiln-cuda-lower-kernels), translates the kernels to LLVM IR as
// the code generator does, and runs the dispatch's launches in order on the
// GPU emulator (GpuEmulator.h), for lit tests on machines without a GPU:
//
//   kiln-cuda-emulate dispatch.mlir --dispatch dispatch_0 --bindings DIR
//
// reads each binding i of the dispatch from DIR/binding_<i>.bin (raw
// little-endian elements, the binding's exact size), runs the dispatch's
// launches in order and writes every binding back. Lit tests compare the
// results with numpy.
//
//===----------------------------------------------------------------------===//

#include "compiler/pipeline/Registration.h"
#include "compiler/tools/kiln-cuda-emulate/GpuEmulator.h"
#include "targets/cuda/CodeGen.h"
#include "targets/cuda/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <fstream>

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
  std::string error;
  std::unique_ptr<::kiln::GpuEmulator> emulator = ::kiln::GpuEmulator::create(
      std::move(llvmModule), std::move(llvmContext), error);
  if (!emulator)
    fail(error);

  // The launches, in order.
  dispatch.walk([&](gpu::LaunchFuncOp op) {
    uint32_t grid[3], block[3];
    if (!mlir::kiln::cuda::launchDimensions(op, grid, block))
      fail("a launch of " + dispatchName + " has a grid that is not constant");
    std::vector<void *> arguments, parameters;
    for (Value operand : op.getKernelOperands()) {
      auto argument = dyn_cast<BlockArgument>(operand);
      if (!argument || argument.getOwner() != &dispatch.getBody().front() ||
          argument.getArgNumber() >= numBindings)
        fail("a launch of " + dispatchName + " passes other than a binding");
      arguments.push_back(buffers[argument.getArgNumber()].data());
    }
    llvm::StringRef kernel = op.getKernelName().getValue();
    std::optional<::kiln::GpuEmulator::Kernel> entry = emulator->lookup(kernel);
    if (!entry)
      fail("no kernel " + kernel);
    for (void *&argument : arguments)
      parameters.push_back(&argument);
    if (!::kiln::GpuEmulator::launch(*entry, grid, block, parameters.data(),
                                     error))
      fail("kernel " + kernel + ": " + error);
  });

  for (unsigned i = 0; i < numBindings; ++i) {
    std::string path = bindingsDir + "/binding_" + std::to_string(i) + ".bin";
    std::ofstream out(path, std::ios::binary);
    out.write(buffers[i].data(), std::streamsize(buffers[i].size()));
    if (!out)
      fail("cannot write " + path);
  }
  return 0;
}
