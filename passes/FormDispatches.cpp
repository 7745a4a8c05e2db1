//===- FormDispatches.cpp - group ops into dispatch regions
//----------------===//
//
// The fusion policy: an op starts a group; an elementwise op joins the group
// whose most recent op produces one of its operands, when that value has no
// other user and the same shape as the result (so an epilogue never
// recomputes its producer for broadcast positions).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_FORMDISPATCHES
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {

/// A buffer alias, a compile-time value or a transfer between devices:
/// never the body of a dispatch.
bool staysInGraph(Operation *op) {
  return isa<ConstantOp, ReshapeOp, TransferOp>(op);
}

/// The constant a value is (possibly through reshapes).
bool isConstantValue(Value v) {
  while (auto reshape = v.getDefiningOp<ReshapeOp>())
    v = reshape.getInput();
  return v.getDefiningOp<ConstantOp>() != nullptr;
}

/// The (first) ONNX node `op` came from, or its op name.
std::string nodeName(Operation *op) {
  SmallVector<StringRef> names;
  collectNodeNames(op->getLoc(), names);
  return names.empty() ? op->getName().stripDialect().str()
                       : names.front().str();
}

struct FormDispatchesPass
    : public mlir::kiln::impl::FormDispatchesBase<FormDispatchesPass> {
  using FormDispatchesBase::FormDispatchesBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    Block &body = func.getBody().front();
    OpBuilder builder(&getContext());

    // A graph output must live in a buffer the schedule writes: copy
    // constants that are returned. An output with no elements has no bytes
    // to write and stays a constant.
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    builder.setInsertionPoint(ret);
    for (OpOperand &operand : ret->getOpOperands())
      if (isConstantValue(operand.get()) &&
          cast<RankedTensorType>(operand.get().getType()).getNumElements() != 0)
        operand.set(builder.create<IdentityOp>(
            operand.get().getLoc(), operand.get().getType(), operand.get()));

    SmallVector<SmallVector<Operation *>> groups;
    DenseMap<Operation *, unsigned> groupOf;
    for (Operation &op : body) {
      if (staysInGraph(&op) || !isa<KilnDialect>(op.getDialect()))
        continue;
      std::optional<unsigned> joined;
      if (isElementwise(&op)) {
        auto resultType = cast<RankedTensorType>(op.getResult(0).getType());
        for (Value operand : op.getOperands()) {
          Operation *producer = operand.getDefiningOp();
          if (!producer || !groupOf.count(producer))
            continue;
          unsigned g = groupOf[producer];
          if (groups[g].back() != producer || producer->getNumResults() != 1 ||
              producer->getAttr(kDeviceAttr) != op.getAttr(kDeviceAttr) ||
              !operand.hasOneUse() ||
              cast<RankedTensorType>(operand.getType()).getShape() !=
                  resultType.getShape())
            continue;
          joined = g;
          break;
        }
      }
      if (!joined) {
        joined = groups.size();
        groups.emplace_back();
      }
      groups[*joined].push_back(&op);
      groupOf[&op] = *joined;
    }

    nodeFlops = func->getAttrOfType<DictionaryAttr>(kNodeFlopsAttr);
    credited.clear();
    for (auto &group : groups)
      materialize(builder, group);
  }

  /// Sets the dispatch's kNodesAttr and kFlopsAttr: the nodes its ops came
  /// from, and the work kiln-count-flops counted for the contractions among
  /// them (each node's once, should two dispatches share a node).
  void describe(DispatchOp dispatch, ArrayRef<Operation *> group) {
    SmallVector<StringRef> names;
    int64_t flops = 0;
    for (Operation *op : group) {
      SmallVector<StringRef> covered;
      collectNodeNames(op->getLoc(), covered);
      for (StringRef name : covered)
        if (!llvm::is_contained(names, name))
          names.push_back(name);
      if (!nodeFlops || !isCountedContraction(op))
        continue;
      for (StringRef name : covered)
        if (auto count = nodeFlops.getAs<IntegerAttr>(name))
          if (credited.insert(name).second)
            flops += count.getInt();
    }
    Builder builder(dispatch.getContext());
    if (!names.empty())
      dispatch->setAttr(kNodesAttr,
                        builder.getStringAttr(llvm::join(names, ", ")));
    if (flops)
      dispatch->setAttr(kFlopsAttr, builder.getI64IntegerAttr(flops));
  }

  DictionaryAttr nodeFlops;
  llvm::StringSet<> credited;

  void materialize(OpBuilder &builder, ArrayRef<Operation *> group) {
    llvm::SmallPtrSet<Operation *, 8> members(group.begin(), group.end());
    SmallVector<Value> inputs;
    SmallVector<Operation *> inlinedConstants;
    llvm::SmallPtrSet<Operation *, 8> seenConstants;
    for (Operation *op : group)
      for (Value operand : op->getOperands()) {
        Operation *def = operand.getDefiningOp();
        if (def && members.contains(def))
          continue;
        auto constant = dyn_cast_or_null<ConstantOp>(def);
        if (constant &&
            cast<RankedTensorType>(constant.getType()).getNumElements() <=
                inlineConstantLimit) {
          if (seenConstants.insert(def).second)
            inlinedConstants.push_back(def);
          continue;
        }
        if (!llvm::is_contained(inputs, operand))
          inputs.push_back(operand);
      }

    Operation *last = group.back();
    std::string name = nodeName(group.front());
    for (Operation *op : group)
      name += (op == group.front() ? ":" : "+") +
              op->getName().stripDialect().str();
    builder.setInsertionPoint(last);
    auto dispatch = builder.create<DispatchOp>(last->getLoc(), name,
                                               last->getResultTypes(), inputs);
    describe(dispatch, group);
    if (Attribute device = group.front()->getAttr(kDeviceAttr))
      dispatch->setAttr(kDeviceAttr, device);
    Block &block = dispatch.getBody().front();
    IRMapping mapping;
    for (auto [input, arg] : llvm::zip(inputs, block.getArguments()))
      mapping.map(input, arg);
    OpBuilder inner = OpBuilder::atBlockBegin(&block);
    for (Operation *constant : inlinedConstants)
      inner.clone(*constant, mapping);
    for (Operation *op : group)
      inner.clone(*op, mapping);
    SmallVector<Value> yielded;
    for (Value result : last->getResults())
      yielded.push_back(mapping.lookup(result));
    inner.create<YieldOp>(last->getLoc(), yielded);

    last->replaceAllUsesWith(dispatch.getResults());
    for (Operation *op : llvm::reverse(group))
      op->erase();
  }
};

} // namespace
