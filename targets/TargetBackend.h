//===- TargetBackend.h - one interface for every code target -*- C++ -*-===//
//
// A target turns the dispatches placed on it into one executable of the
// bundle: a CPU target into a position-independent ELF, the CUDA target into
// cubins and PTX. The pipeline drives every target through this interface
// and knows the phases, not the targets (ARCHITECTURE.md §5b).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TARGETS_TARGETBACKEND_H
#define KILN_TARGETS_TARGETBACKEND_H

#include "kiln/bundle_format.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mlir::kiln {

/// What a target's lowering says about one dispatch function.
struct DispatchLowering {
  /// The entry functions the dispatch runs as, in order, each with its
  /// workgroup count: one, or several phases when the dispatch splits
  /// (kiln-cpu-split-dispatches). Empty when the target takes the phases
  /// the other targets chose and runs the whole dispatch on the first
  /// phase's entry (the CUDA target: its kernels carry their own grids).
  std::vector<std::pair<std::string, int64_t>> phases;
  /// Arena bytes the dispatch needs for intermediates, 0 for none.
  int64_t scratchBytes = 0;
};

/// One entry of the schedule's entry table, which every executable of the
/// bundle implements in the same order.
struct EntryPoint {
  std::string function; // the entry function, as the phases name it
  std::string dispatch; // the dispatch function the phase belongs to
  unsigned phase = 0;   // its index among the dispatch's phases
};

class TargetBackend {
public:
  virtual ~TargetBackend() = default;

  /// The name `--target` gives it (e.g. "x86_64-avx2", "cuda").
  virtual llvm::StringRef name() const = 0;
  /// The bundle's code for the executable it emits.
  virtual kiln_target id() const = 0;
  /// Whether it runs on the host CPU (its executable is what a bundle falls
  /// back to where no GPU is usable).
  virtual bool isCpu() const = 0;
  /// The device kiln-partition places ops on for it: "cpu" or "cuda".
  virtual llvm::StringRef device() const { return isCpu() ? "cpu" : ""; }
  /// Ops it lacks, by name; kiln-partition keeps them on the CPU.
  virtual std::vector<std::string> unsupportedOps() const { return {}; }
  /// Whether it computes in f16 where a model is compiled for fp16.
  virtual bool hasFp16Arithmetic() const { return false; }

  /// Lowers `executable`, the target's own copy of the executable module
  /// (Kiln dispatch functions on tensors), to what `emit` takes, and says
  /// for each dispatch function how it runs. A CPU target lowers every
  /// dispatch (the CPU runs them all where no GPU is usable); another, those
  /// placed on its device. Diagnostics go to the context.
  virtual LogicalResult
  lower(ModuleOp executable,
        llvm::StringMap<DispatchLowering> &dispatches) const = 0;

  /// Once per context before any `emit` (registers translations and
  /// initialises LLVM targets). After it, `emit` only reads the context,
  /// so targets may emit on different threads at once.
  virtual void prepareCodeGen(MLIRContext &context) const = 0;

  /// Emits the lowered module as the bundle's executable for this target,
  /// exporting `entries` in order. When `listing` is given, the generated
  /// code (optimised LLVM IR, PTX) is printed there. On failure returns
  /// false and says why in `error`.
  virtual bool emit(ModuleOp lowered, llvm::ArrayRef<EntryPoint> entries,
                    std::vector<uint8_t> &image, std::string &error,
                    llvm::raw_ostream *listing = nullptr) const = 0;

  /// `kiln compile --emit static-lib`: the same code as a relocatable
  /// object whose entry table is `tableSymbol`. Targets without one say so.
  virtual bool emitObject(ModuleOp lowered, llvm::ArrayRef<EntryPoint> entries,
                          llvm::StringRef tableSymbol,
                          llvm::SmallString<0> &object, std::string &error,
                          llvm::raw_ostream *listing = nullptr) const {
    error = "target " + name().str() + " cannot emit an object file";
    return false;
  }
};

/// The targets a `--target` list names, in order: CPU target names and
/// `cuda` (optionally `cuda:sm_75,sm_80,...`; the `sm_` items that follow
/// belong to it). On an unknown name returns an empty list and sets `error`.
std::vector<std::unique_ptr<TargetBackend>>
parseTargets(llvm::ArrayRef<std::string> names, std::string &error);

/// The target called `name` (one item of a `--target` list), or null; null
/// with `error` set for a known target spelled wrongly (`cuda:sm_70`).
std::unique_ptr<TargetBackend> createTarget(llvm::StringRef name,
                                            std::string &error);

/// Target names `--target` accepts.
std::vector<std::string> targetNames();

} // namespace mlir::kiln

#endif // KILN_TARGETS_TARGETBACKEND_H
