//===- PlanMemory.cpp - pack intermediates into one arena
//------------------===//
//
// Classic offline buffer packing: each buffer has a lifetime [first step,
// last step] in schedule order; buffers are placed largest first at the
// lowest 64-byte-aligned offset that does not overlap a placed buffer with
// an intersecting lifetime.
//
//===----------------------------------------------------------------------===//

#include "kiln/bundle_format.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_PLANMEMORY
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {

struct Buffer {
  int64_t size;
  int64_t first, last; // schedule steps, inclusive
  int64_t offset = -1;
};

int64_t alignUp(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

struct PlanMemoryPass
    : public mlir::kiln::impl::PlanMemoryBase<PlanMemoryPass> {
  void runOnOperation() override {
    auto main = getOperation().lookupSymbol<func::FuncOp>("main");
    if (!main) {
      getOperation().emitError("kiln-plan-memory: no @main function");
      return signalPassFailure();
    }
    constexpr int64_t kForever = std::numeric_limits<int64_t>::max();
    std::vector<Buffer> buffers;
    DenseMap<Value, unsigned> bufferOf;
    auto newBuffer = [&](Value v, int64_t step) {
      bufferOf[v] = buffers.size();
      buffers.push_back(
          {tensorByteSize(cast<RankedTensorType>(v.getType())), step, step});
    };
    // Inputs stay intact for the whole run so sessions can run again.
    for (BlockArgument arg : main.getArguments()) {
      newBuffer(arg, 0);
      buffers.back().last = kForever;
    }
    DenseMap<Operation *, unsigned> scratchOf;
    int64_t step = 1;
    for (Operation &op : main.getBody().front()) {
      for (Value operand : op.getOperands()) {
        auto it = bufferOf.find(operand);
        if (it == bufferOf.end())
          continue; // a constant: weights, not arena
        buffers[it->second].last =
            isa<func::ReturnOp>(op) ? kForever
                                    : std::max(buffers[it->second].last, step);
      }
      if (isa<ReshapeOp, TransferOp>(op)) {
        // Aliases: a reshape's result is its input's buffer, and so is a
        // transfer's (in the arena of the device it transfers to).
        auto it = bufferOf.find(op.getOperand(0));
        if (it != bufferOf.end())
          bufferOf[op.getResult(0)] = it->second;
      } else if (auto call = dyn_cast<DispatchCallOp>(op)) {
        for (Value result : call.getResults())
          newBuffer(result, step);
        if (auto scratch = call->getAttrOfType<IntegerAttr>(kScratchSizeAttr);
            scratch && scratch.getInt() > 0) {
          scratchOf[call] = buffers.size();
          buffers.push_back({scratch.getInt(), step, step});
        }
      }
      ++step;
    }

    // Largest first; ties by first use, then creation order (deterministic).
    std::vector<unsigned> order(buffers.size());
    for (unsigned i = 0; i < order.size(); ++i)
      order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](unsigned a, unsigned b) {
      if (buffers[a].size != buffers[b].size)
        return buffers[a].size > buffers[b].size;
      return buffers[a].first < buffers[b].first;
    });
    int64_t arenaSize = 0;
    std::vector<unsigned> placed;
    for (unsigned i : order) {
      Buffer &buffer = buffers[i];
      // Candidate offsets: 0 and the end of every live-overlapping buffer.
      std::vector<std::pair<int64_t, int64_t>> busy;
      for (unsigned j : placed) {
        const Buffer &other = buffers[j];
        if (other.first <= buffer.last && buffer.first <= other.last)
          busy.push_back({other.offset, other.offset + other.size});
      }
      std::sort(busy.begin(), busy.end());
      int64_t offset = 0;
      for (auto [begin, end] : busy) {
        if (offset + buffer.size <= begin)
          break;
        offset = std::max(offset, alignUp(end, KILN_TENSOR_ALIGNMENT));
      }
      buffer.offset = offset;
      arenaSize = std::max(arenaSize, offset + buffer.size);
      placed.push_back(i);
    }

    Builder builder(&getContext());
    for (BlockArgument arg : main.getArguments())
      main.setArgAttr(arg.getArgNumber(), kArenaOffsetAttr,
                      builder.getI64IntegerAttr(buffers[bufferOf[arg]].offset));
    for (Operation &op : main.getBody().front()) {
      if (!isa<DispatchCallOp, ReshapeOp, TransferOp>(op))
        continue;
      SmallVector<int64_t> offsets;
      for (Value result : op.getResults()) {
        auto it = bufferOf.find(result);
        offsets.push_back(it == bufferOf.end() ? -1
                                               : buffers[it->second].offset);
      }
      op.setAttr(kArenaOffsetsAttr, builder.getDenseI64ArrayAttr(offsets));
      if (auto it = scratchOf.find(&op); it != scratchOf.end())
        op.setAttr(kScratchOffsetAttr,
                   builder.getI64IntegerAttr(buffers[it->second].offset));
    }
    main->setAttr(kArenaSizeAttr, builder.getI64IntegerAttr(alignUp(
                                      arenaSize, KILN_TENSOR_ALIGNMENT)));
  }
};

} // namespace
