//===- SplitDispatches.cpp - phases around a parallel microkernel call
//-----===//

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

/// The one top-level microkernel call that asks for several workgroups.
func::CallOp parallelCall(func::FuncOp func) {
  func::CallOp found;
  for (Operation &op : func.getBody().front()) {
    auto call = dyn_cast<func::CallOp>(op);
    auto workgroups =
        call ? call->getAttrOfType<IntegerAttr>(kiln::kWorkgroupsAttr)
             : IntegerAttr();
    if (!workgroups || workgroups.getInt() <= 1)
      continue;
    if (found)
      return nullptr; // two parallel calls: keep the dispatch whole
    found = call;
  }
  return found;
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
      func::CallOp call = parallelCall(func);
      if (!call)
        continue;
      Block &body = func.getBody().front();
      size_t callAt = 0;
      for (Operation &op : body) {
        if (&op == call.getOperation())
          break;
        ++callAt;
      }
      int64_t workgroups =
          call->getAttrOfType<IntegerAttr>(kiln::kWorkgroupsAttr).getInt();
      size_t size = body.getOperations().size();
      std::pair<size_t, size_t> ranges[] = {
          {0, callAt}, {callAt, callAt + 1}, {callAt + 1, size}};
      SmallVector<Attribute> list;
      for (auto [index, range] : llvm::enumerate(ranges)) {
        std::string name = (func.getSymName() + "_" + Twine(index)).str();
        func::FuncOp part = phase(func, name, range.first, range.second);
        if (!part)
          continue;
        module.push_back(part);
        list.push_back(
            b.getArrayAttr({b.getStringAttr(name),
                            b.getI64IntegerAttr(index == 1 ? workgroups : 1)}));
      }
      phases.push_back(b.getNamedAttr(func.getSymName(), b.getArrayAttr(list)));
      func->erase();
    }
    if (!phases.empty())
      module->setAttr("kiln.dispatch_phases", b.getDictionaryAttr(phases));
  }
};

} // namespace
