//===- Partition.cpp - place ops on devices, insert transfers -------------===//
//
// The cost model is deliberately coarse: it has to tell a convolution from
// an add, and a transfer of a feature map from one of a scalar, not to
// predict times. Its throughputs are round figures for a server CPU socket
// share and a current data-centre GPU; what matters is their ratios.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_PARTITION
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {

const StringRef kCpu = "cpu";

// Seconds per operation or byte, and fixed costs, of each device.
constexpr double kCpuFlops = 100e9, kCpuBytes = 20e9;
// GPU launches are asynchronous and overlap the GPU's work: they have no
// cost here. A transfer's latency includes the wait for the stream.
constexpr double kGpuFlops = 10e12, kGpuBytes = 1e12;
constexpr double kTransferLatency = 10e-6, kTransferBytes = 12e9;

double transferSeconds(int64_t bytes) {
  return kTransferLatency + double(bytes) / kTransferBytes;
}

/// An op that computes (as opposed to constants and buffer aliases).
bool isPlaced(Operation &op) {
  return isa<KilnDialect>(op.getDialect()) &&
         !isa<ConstantOp, ReshapeOp, TransferOp>(op);
}

int64_t valueBytes(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  return type ? tensorByteSize(type) : 0;
}

/// The op whose result `v` is, through buffer aliases; null for a model
/// input or a constant.
Operation *producerOf(Value v) {
  while (auto reshape = v.getDefiningOp<ReshapeOp>())
    v = reshape.getInput();
  Operation *def = v.getDefiningOp();
  return def && isPlaced(*def) ? def : nullptr;
}

bool isConstant(Value v) {
  while (auto reshape = v.getDefiningOp<ReshapeOp>())
    v = reshape.getInput();
  return v.getDefiningOp<ConstantOp>() != nullptr;
}

struct PartitionPass : public mlir::kiln::impl::PartitionBase<PartitionPass> {
  using PartitionBase::PartitionBase;

  void runOnOperation() override {
    if (gpu.empty())
      return;
    func::FuncOp func = getOperation();
    Block &body = func.getBody().front();
    llvm::StringSet<> lacked;
    for (const std::string &name : unsupported)
      lacked.insert(name);

    SmallVector<Operation *> ops;
    for (Operation &op : body)
      if (isPlaced(op))
        ops.push_back(&op);
    DenseMap<Operation *, StringRef> device;
    DenseSet<Operation *> pinned;
    for (Operation *op : ops) {
      bool supported = !lacked.contains(op->getName().getStringRef());
      device[op] = supported ? StringRef(gpu) : kCpu;
      if (!supported)
        pinned.insert(op);
    }
    if (!placement.empty() &&
        failed(applyPlacement(func, ops, lacked, device, pinned)))
      return signalPassFailure();
    improve(func, ops, device, pinned);

    Builder b(&getContext());
    for (Operation *op : ops)
      op->setAttr(kDeviceAttr, b.getStringAttr(device[op]));
    insertTransfers(body, ops, device);
  }

  /// Seconds `op` takes on `dev`, from its contraction work (kiln-count-
  /// flops, per node) and the bytes it reads and writes.
  double computeSeconds(Operation *op, StringRef dev, DictionaryAttr flops) {
    double work = 0, bytes = 0;
    if (flops && isCountedContraction(op)) {
      SmallVector<StringRef> names;
      collectNodeNames(op->getLoc(), names);
      for (StringRef name : names)
        if (auto count = flops.getAs<IntegerAttr>(name))
          work += double(count.getInt());
    }
    for (Value operand : op->getOperands())
      bytes += valueBytes(operand);
    for (Value result : op->getResults())
      bytes += valueBytes(result);
    if (dev == kCpu)
      return work / kCpuFlops + bytes / kCpuBytes;
    return work / kGpuFlops + bytes / kGpuBytes;
  }

  /// Local search: each op not pinned moves to the device where its compute
  /// time plus the transfers on its edges to other ops is least, until no
  /// move helps. Edges to model inputs and outputs are not counted: a model
  /// compiled for a GPU pays for those wherever its first and last ops run.
  void improve(func::FuncOp func, ArrayRef<Operation *> ops,
               DenseMap<Operation *, StringRef> &device,
               const DenseSet<Operation *> &pinned) {
    auto flops = func->getAttrOfType<DictionaryAttr>(kNodeFlopsAttr);
    for (int round = 0; round < 8; ++round) {
      bool moved = false;
      for (Operation *op : ops) {
        if (pinned.contains(op))
          continue;
        auto cost = [&](StringRef dev) {
          double seconds = computeSeconds(op, dev, flops);
          for (Value operand : op->getOperands())
            if (Operation *producer = producerOf(operand))
              if (device[producer] != dev)
                seconds += transferSeconds(valueBytes(operand));
          for (Value result : op->getResults()) {
            llvm::SmallPtrSet<Operation *, 4> users;
            for (Operation *user : result.getUsers()) {
              // Through aliases to the ops that compute with the value.
              SmallVector<Operation *> work = {user};
              while (!work.empty()) {
                Operation *u = work.pop_back_val();
                if (isa<ReshapeOp>(u))
                  work.append(u->getUsers().begin(), u->getUsers().end());
                else if (device.count(u))
                  users.insert(u);
              }
            }
            bool elsewhere = llvm::any_of(
                users, [&](Operation *u) { return device[u] != dev; });
            if (elsewhere)
              seconds += transferSeconds(valueBytes(result));
          }
          return seconds;
        };
        StringRef other = device[op] == kCpu ? StringRef(gpu) : kCpu;
        if (cost(other) < cost(device[op])) {
          device[op] = other;
          moved = true;
        }
      }
      if (!moved)
        return;
    }
  }

  /// Applies the `placement` file; pins the ops it places.
  LogicalResult applyPlacement(func::FuncOp func, ArrayRef<Operation *> ops,
                               const llvm::StringSet<> &lacked,
                               DenseMap<Operation *, StringRef> &device,
                               DenseSet<Operation *> &pinned) {
    auto fail = [&](const Twine &message) {
      return func.emitError("kiln: placement file ")
             << placement << ": " << message;
    };
    auto buffer = llvm::MemoryBuffer::getFile(placement);
    if (!buffer)
      return fail("cannot read it: " + buffer.getError().message());
    llvm::Expected<llvm::json::Value> json =
        llvm::json::parse((*buffer)->getBuffer());
    if (!json)
      return fail("not valid JSON: " + llvm::toString(json.takeError()));
    const llvm::json::Object *root = json->getAsObject();
    if (!root)
      return fail("expected an object with \"nodes\" and/or \"op_types\"");
    llvm::StringMap<std::string> byNode, byType;
    for (auto &[key, value] : *root) {
      llvm::StringMap<std::string> *table = key == "nodes"      ? &byNode
                                            : key == "op_types" ? &byType
                                                                : nullptr;
      const llvm::json::Object *entries = value.getAsObject();
      if (!table || !entries)
        return fail("unexpected key '" + key.str() +
                    "' (expected \"nodes\" and \"op_types\" objects)");
      for (auto &[name, target] : *entries) {
        std::optional<StringRef> dev = target.getAsString();
        if (!dev || (*dev != kCpu && *dev != gpu))
          return fail("'" + name.str() + "' must be placed on \"cpu\" or \"" +
                      gpu + "\"");
        (*table)[name.str()] = dev->str();
      }
    }
    auto opTypes = func->getAttrOfType<DictionaryAttr>(kNodeOpTypesAttr);
    llvm::StringSet<> usedNodes, usedTypes;
    for (Operation *op : ops) {
      SmallVector<StringRef> names;
      collectNodeNames(op->getLoc(), names);
      std::optional<std::string> chosen;
      for (StringRef name : names) {
        if (auto it = byNode.find(name); it != byNode.end()) {
          chosen = it->second;
          usedNodes.insert(name);
          break;
        }
      }
      if (!chosen && opTypes)
        for (StringRef name : names)
          if (auto type = opTypes.getAs<StringAttr>(name))
            if (auto it = byType.find(type.getValue()); it != byType.end()) {
              chosen = it->second;
              usedTypes.insert(type.getValue());
              break;
            }
      if (!chosen)
        continue;
      if (*chosen != kCpu && lacked.contains(op->getName().getStringRef()))
        return op->emitError("kiln: placement file ")
               << placement << " puts " << op->getName() << " on " << *chosen
               << ", whose target lacks it";
      device[op] = *chosen == kCpu ? kCpu : StringRef(gpu);
      pinned.insert(op);
    }
    for (auto &entry : byNode)
      if (!usedNodes.contains(entry.getKey()))
        func.emitWarning("kiln: placement file ")
            << placement << ": no op of the compiled graph comes from node '"
            << entry.getKey() << "'";
    for (auto &entry : byType)
      if (!usedTypes.contains(entry.getKey()))
        func.emitWarning("kiln: placement file ")
            << placement << ": no op of the compiled graph comes from a '"
            << entry.getKey() << "' node";
    return success();
  }

  /// Where `v` lives: the device of its producer, the CPU for a model
  /// input; nothing for a constant (every device has the weights).
  std::optional<StringRef>
  deviceOf(Value v, const DenseMap<Operation *, StringRef> &device) {
    if (isConstant(v))
      return std::nullopt;
    while (auto reshape = v.getDefiningOp<ReshapeOp>())
      v = reshape.getInput();
    if (auto transfer = v.getDefiningOp<TransferOp>())
      return transfer.getTo();
    Operation *def = v.getDefiningOp();
    if (!def)
      return kCpu;
    auto it = device.find(def);
    return it == device.end() ? std::optional<StringRef>() : it->second;
  }

  void insertTransfers(Block &body, ArrayRef<Operation *> ops,
                       const DenseMap<Operation *, StringRef> &device) {
    OpBuilder b(&getContext());
    DenseMap<std::pair<Value, StringRef>, Value> transferred;
    auto transfer = [&](Value v, StringRef to) {
      auto [it, inserted] = transferred.try_emplace({v, to}, Value());
      if (!inserted)
        return it->second;
      if (Operation *def = v.getDefiningOp())
        b.setInsertionPointAfter(def);
      else
        b.setInsertionPointToStart(&body);
      it->second =
          b.create<TransferOp>(v.getLoc(), v.getType(), v, b.getStringAttr(to));
      return it->second;
    };
    for (Operation *op : ops)
      for (OpOperand &operand : op->getOpOperands()) {
        std::optional<StringRef> from = deviceOf(operand.get(), device);
        StringRef to = device.lookup(op);
        if (from && *from != to)
          operand.set(transfer(operand.get(), to));
      }
    for (OpOperand &operand : body.getTerminator()->getOpOperands()) {
      std::optional<StringRef> from = deviceOf(operand.get(), device);
      if (from && *from != kCpu)
        operand.set(transfer(operand.get(), kCpu));
    }
  }
};

} // namespace
