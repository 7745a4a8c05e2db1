//===- CodeGen.h - LLVM dialect -> CPU executable ---------------*- C++ -*-===//
#ifndef KILN_TARGETS_CPU_CODEGEN_H
#define KILN_TARGETS_CPU_CODEGEN_H

#include "kiln/bundle_format.h"
#include "targets/TargetBackend.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::kiln::cpu {

/// A CPU code target: what `--target` names and what LLVM is told.
struct CpuTarget {
  kiln_target id;
  llvm::StringRef name;     // e.g. "x86_64-avx2"
  llvm::StringRef triple;   // LLVM target triple
  llvm::StringRef cpu;      // LLVM CPU name
  llvm::StringRef features; // LLVM feature string
  llvm::StringRef builtins; // builtins bitcode flavour (targets/cpu/CMakeLists)

  /// Whether the target computes in fp16 (ARMv8.2-A's FP16 extension), so
  /// that `--precision fp16` computes in f16 there.
  bool hasFp16Arithmetic() const { return features.contains("+fullfp16"); }
};

/// Every CPU target Kiln can generate code for.
llvm::ArrayRef<CpuTarget> cpuTargets();
/// The target called `name`, or null.
const CpuTarget *findCpuTarget(llvm::StringRef name);

/// The TargetBackend of `target` (CpuBackend.cpp).
std::unique_ptr<TargetBackend> createCpuBackend(const CpuTarget &target);

/// Registers the LLVM IR translations and initialises the LLVM targets:
/// once per context, before any emit call. The emit calls then only read the
/// context, so executables for different targets may be emitted on
/// different threads at once (each has its own LLVMContext).
void prepareCpuCodeGen(MLIRContext &context);

/// Compiles the lowered executable module (in the LLVM dialect; functions
/// with bare-pointer buffer arguments followed by workgroup id and count)
/// for `target` into a relocatable object whose entry table `tableSymbol`
/// lists `entryFunctions` in order. Every other symbol (the builtins' memcpy
/// included) is local, so the object links into any program (`kiln compile
/// --emit static-lib`) and builtins nothing calls are dropped.
/// When `optimizedIR` is given, the optimised LLVM IR is printed there.
/// On failure returns false and sets `error`.
bool emitCpuObject(ModuleOp executable, const CpuTarget &target,
                   llvm::ArrayRef<std::string> entryFunctions,
                   llvm::StringRef tableSymbol, llvm::SmallString<0> &object,
                   std::string &error,
                   llvm::raw_ostream *optimizedIR = nullptr);

/// The same object linked by ld.lld into the bundle's executable: a
/// position-independent shared object with no imports.
bool emitCpuExecutable(ModuleOp executable, const CpuTarget &target,
                       llvm::ArrayRef<std::string> entryFunctions,
                       std::vector<uint8_t> &elf, std::string &error,
                       llvm::raw_ostream *optimizedIR = nullptr);

} // namespace mlir::kiln::cpu

#endif // KILN_TARGETS_CPU_CODEGEN_H
