//===- CodeGen.h - NVVM kernels -> cubins and PTX ---------------*- C++ -*-===//
#ifndef KILN_TARGETS_CUDA_CODEGEN_H
#define KILN_TARGETS_CUDA_CODEGEN_H

#include "targets/TargetBackend.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir::kiln::cuda {

/// The sms a plain `--target cuda` compiles cubins for: T4, A100, A10 and
/// RTX 30, L4 and RTX 40, H100 and H200. The PTX of the newest serves GPUs
/// newer still.
llvm::ArrayRef<unsigned> defaultSms();
/// The sms CUDA 13's ptxas and LLVM 19's NVPTX both support.
bool isSupportedSm(unsigned sm);

/// The sms of a `--target` item: `cuda` (the default sms) or
/// `cuda:sm_75,sm_80,...`. Returns nothing and sets `error` for another
/// spelling or an sm Kiln cannot compile for.
std::optional<std::vector<unsigned>> parseCudaTarget(llvm::StringRef name,
                                                     std::string &error);

/// The TargetBackend for these sms (CudaBackend.cpp).
std::unique_ptr<TargetBackend> createCudaBackend(std::vector<unsigned> sms);

/// Registers the LLVM IR translations and initialises NVPTX: once per
/// context before emitCudaImage.
void prepareCudaCodeGen(MLIRContext &context);

/// The grid and block sizes of `launch`, which must be constants in
/// [1, INT32_MAX] (the kiln_cuda_launch record and the emulator need them
/// so); false where they are not.
bool launchDimensions(gpu::LaunchFuncOp launch, uint32_t grid[3],
                      uint32_t block[3]);

/// Compiles the lowered module's kernels (`gpu.module @kernels` in NVVM)
/// with libdevice to PTX for each sm through LLVM's NVPTX back end,
/// assembles each with ptxas into a cubin, and writes the kiln_cuda_image:
/// the cubins, the PTX of the newest sm, and each entry's launches (read off
/// the dispatch functions' gpu.launch_func ops). A failure inside LLVM or
/// ptxas is an error naming the sm. `listing` gets the PTX.
bool emitCudaImage(ModuleOp lowered, llvm::ArrayRef<unsigned> sms,
                   llvm::ArrayRef<EntryPoint> entries,
                   std::vector<uint8_t> &image, std::string &error,
                   llvm::raw_ostream *listing = nullptr);

} // namespace mlir::kiln::cuda

#endif // KILN_TARGETS_CUDA_CODEGEN_H
