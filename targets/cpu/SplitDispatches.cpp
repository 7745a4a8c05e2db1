//===- SplitDispatches.cpp - Dispatches cut into phases -------------------===//

#include "passes/Passes.h"
#include "targets/cpu/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::kiln::cpu {
#define GEN_PASS_DEF_CPUSPLITDISPATCHES
#include "targets/cpu/Passes.h.inc"
} // namespace mlir::kiln::cpu

using namespace mlir;

namespace {

/// The workgroups of a top-level op that divides its work between them
/// (a microkernel call or a sliced linalg op), else 1.
int64_t workgroupsOf(Operation &op) {
  auto workgroups = op.getAttrOfType<IntegerAttr>(kiln::kWorkgroupsAttr);
  return workgroups ? std::max<int64_t>(workgroups.getInt(), 1) : 1;
}

/// Which part of the dispatch an effectful top-level op belongs to: ops with
/// the same key run in one phase. Each parallel call is a part of its own,
/// sliced linalg ops share their kiln.phase's, everything else is serial.
struct PartKey {
  enum Kind { Serial, Call, Sliced } kind;
  int64_t id;
  bool operator==(const PartKey &other) const {
    return kind == other.kind && id == other.id;
  }
};

PartKey partKey(Operation &op, int64_t position) {
  if (workgroupsOf(op) <= 1)
    return {PartKey::Serial, 0};
  if (auto phase = op.getAttrOfType<IntegerAttr>(kiln::kPhaseAttr))
    return {PartKey::Sliced, phase.getInt()};
  return {PartKey::Call, position};
}

/// A copy of `func` named `name` that keeps only the effectful top-level
/// ops at positions [begin, end); pure ops nothing uses are dropped.
func::FuncOp phase(func::FuncOp func, StringRef name, size_t begin,
                   size_t end) {
  auto copy = cast<func::FuncOp>(func->clone());
  copy.setSymName(name);
  Block &body = copy.getBody().front();
  SmallVector<Operation *> erase;
  size_t position = 0;
  bool kept = false;
  for (Operation &op : body.without_terminator()) {
    size_t at = position++;
    if (isMemoryEffectFree(&op))
      continue;
    if (at < begin || at >= end)
      erase.push_back(&op);
    else
      kept = true;
  }
  if (!kept) {
    copy->erase();
    return nullptr;
  }
  for (Operation *op : llvm::reverse(erase))
    op->erase();
  // Drop the pure ops (views, constants, pointer casts) nothing uses now.
  IRRewriter rewriter(copy.getContext());
  (void)runRegionDCE(rewriter, copy.getBody());
  return copy;
}

struct CpuSplitDispatchesPass
    : public mlir::kiln::cpu::impl::CpuSplitDispatchesBase<
          CpuSplitDispatchesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    Builder b(&getContext());
    SmallVector<NamedAttribute> phases;
    for (auto func : llvm::to_vector(module.getOps<func::FuncOp>())) {
      if (func.isExternal())
        continue;
      // Parts: runs of effectful top-level ops with one key, as [begin, end)
      // positions in the body, and their workgroups.
      struct Part {
        PartKey key;
        size_t begin, end;
        int64_t workgroups;
      };
      SmallVector<Part> parts;
      size_t position = 0;
      for (Operation &op : func.getBody().front().without_terminator()) {
        size_t at = position++;
        if (isMemoryEffectFree(&op))
          continue;
        PartKey key = partKey(op, at);
        if (!parts.empty() && parts.back().key == key) {
          parts.back().end = at + 1;
          continue;
        }
        parts.push_back({key, at, at + 1, workgroupsOf(op)});
      }
      if (llvm::none_of(parts, [](const Part &part) {
            return part.key.kind != PartKey::Serial;
          }))
        continue;
      // Pure ops between parts go with the part after them (phase() keeps
      // every pure op anyway and drops the unused ones).
      for (size_t i = 1; i < parts.size(); ++i)
        parts[i].begin = parts[i - 1].end;
      SmallVector<Attribute> list;
      for (auto [index, part] : llvm::enumerate(parts)) {
        std::string name = (func.getSymName() + "_" + Twine(index)).str();
        func::FuncOp copy = phase(func, name, part.begin, part.end);
        if (!copy)
          continue;
        module.push_back(copy);
        list.push_back(b.getArrayAttr(
            {b.getStringAttr(name), b.getI64IntegerAttr(part.workgroups)}));
      }
      phases.push_back(b.getNamedAttr(func.getSymName(), b.getArrayAttr(list)));
      func->erase();
    }
    if (!phases.empty())
      module->setAttr("kiln.dispatch_phases", b.getDictionaryAttr(phases));
  }
};

} // namespace
