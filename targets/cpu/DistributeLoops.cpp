//===- DistributeLoops.cpp - linalg loops divided between workgroups ------===//
//
// Every dispatch is called with its workgroup id and count. Microkernel calls
// divide their own work by them; this pass makes the loop nests do the same:
// a large linalg op at a dispatch's top level runs on a slice of one of its
// parallel loops, [E * id / count, E * (id + 1) / count), with every operand
// cut to what that slice reads and writes. Consecutive sliced ops that split
// their shared buffers alike form one phase (no barrier between them);
// kiln-cpu-split-dispatches cuts the dispatch into phases.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "targets/cpu/Passes.h"

#include "mlir/Dialect/Linalg/Utils/Utils.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include <optional>

namespace mlir::kiln::cpu {
#define GEN_PASS_DEF_CPUDISTRIBUTELOOPS
#include "targets/cpu/Passes.h.inc"
} // namespace mlir::kiln::cpu

using namespace mlir;

namespace {

// Below this many loop iterations an op stays whole: a second thread's wake
// and the data it pulls from the other core's cache cost more (a vectorized
// elementwise op does 32K iterations in a few microseconds).
constexpr int64_t kMinIterationsToSplit = int64_t(1) << 15;
using mlir::kiln::cpu::kMaxWorkgroups;

/// How an op touches one buffer when its loop `loop` is sliced.
struct Access {
  Value buffer;
  bool writes = false;
  /// The buffer dim the sliced loop indexes alone, or nullopt when the op
  /// reads the buffer other than slice by slice (whole, or a window).
  std::optional<unsigned> dim;
  int64_t extent = 0;
  /// The op reads the buffer in windows along the sliced loop.
  bool windowed = false;
};

/// `expr` is d_i * c + ... + constant with c >= 0 (a window's input index):
/// a slice of the loops maps to one range of it.
bool isMonotonic(AffineExpr expr) {
  if (isa<AffineDimExpr, AffineConstantExpr>(expr))
    return true;
  auto binary = dyn_cast<AffineBinaryOpExpr>(expr);
  if (!binary)
    return false;
  if (binary.getKind() == AffineExprKind::Add)
    return isMonotonic(binary.getLHS()) && isMonotonic(binary.getRHS());
  if (binary.getKind() == AffineExprKind::Mul) {
    auto constant = dyn_cast<AffineConstantExpr>(binary.getRHS());
    return constant && constant.getValue() >= 0 &&
           isa<AffineDimExpr>(binary.getLHS());
  }
  return false;
}

/// The accesses of `op` when its loop `loop` is sliced, or nullopt when it
/// cannot be: a written operand must have the loop alone in one dim, a read
/// one may also have it in window sums.
std::optional<SmallVector<Access>>
accessesWhenSliced(linalg::LinalgOp op, unsigned loop, int64_t extent) {
  SmallVector<Access> accesses;
  for (OpOperand &operand : op->getOpOperands()) {
    AffineMap map = op.getMatchingIndexingMap(&operand);
    Access access{operand.get(), op.isDpsInit(&operand), std::nullopt, extent};
    unsigned uses = 0;
    bool alone = false;
    for (auto [position, expr] : llvm::enumerate(map.getResults())) {
      if (!expr.isFunctionOfDim(loop))
        continue;
      ++uses;
      if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
        alone = true;
        access.dim = position;
      } else if (access.writes || !isMonotonic(expr)) {
        return std::nullopt;
      }
    }
    if (uses > 1 || (uses == 1 && !alone)) {
      access.dim.reset();
      access.windowed = true;
    }
    if (access.writes && !access.dim)
      return std::nullopt;
    accesses.push_back(access);
  }
  // Buffers the body reads by itself (gathers): whole.
  op->walk([&](Operation *inner) {
    if (inner == op.getOperation())
      return;
    for (Value value : inner->getOperands())
      if (isa<MemRefType>(value.getType()) &&
          !op->isAncestor(value.getParentBlock()->getParentOp()))
        accesses.push_back(Access{value, false, std::nullopt, 0, false});
  });
  return accesses;
}

/// The buffer a view (subview, reshape, cast) reads or writes; scratch
/// temporaries (memref.view) are distinct buffers of their own. With `dim`,
/// keeps it only through subviews that keep that dim whole (offset 0, the
/// source's size, stride 1), so that slicing the view along it slices the
/// buffer alike; through any other view it is reset.
Value rootBuffer(Value buffer, std::optional<unsigned> *dim = nullptr) {
  while (Operation *def = buffer.getDefiningOp()) {
    auto view = dyn_cast<ViewLikeOpInterface>(def);
    if (!view || isa<memref::ViewOp>(def))
      break;
    if (dim && *dim) {
      // Past anything but a subview keeping the dim whole, the slice is not
      // the buffer's slice along one dim: the buffer is still the root.
      auto subview = dyn_cast<memref::SubViewOp>(def);
      unsigned d = **dim;
      if (!subview ||
          subview.getSourceType().getRank() != subview.getType().getRank() ||
          subview.getStaticOffsets()[d] != 0 ||
          subview.getStaticStrides()[d] != 1 ||
          subview.getStaticSizes()[d] != subview.getSourceType().getDimSize(d))
        dim->reset();
    }
    buffer = view.getViewSource();
  }
  return buffer;
}

/// The sliced ops of one phase so far and how they touch each buffer.
struct Phase {
  /// Whether sliced ops have started it (a barrier closes it).
  bool open = false;
  /// Per buffer: whether the phase writes it, and the dim and extent every
  /// access slices it at (nullopt: some access reads it whole or in windows).
  struct Use {
    bool written = false;
    std::optional<unsigned> dim;
    int64_t extent = 0;
  };
  DenseMap<Value, SmallVector<Use>> uses;

  static std::pair<Value, Use> use(const Access &access) {
    Use use{access.writes, access.dim, access.extent};
    Value root = rootBuffer(access.buffer, &use.dim);
    return {root, use};
  }

  /// Whether `accesses` can run in this phase: every buffer written on
  /// either side is sliced by all its accesses at the same dim of the same
  /// extent, so every workgroup touches only its own slice.
  bool admits(ArrayRef<Access> accesses) const {
    for (const Access &access : accesses) {
      auto [root, mine] = use(access);
      auto it = uses.find(root);
      if (it == uses.end())
        continue;
      for (const Use &other : it->second) {
        if (!mine.written && !other.written)
          continue;
        if (!other.dim || !mine.dim || *other.dim != *mine.dim ||
            other.extent != mine.extent)
          return false;
      }
    }
    return true;
  }

  void add(ArrayRef<Access> accesses) {
    for (const Access &access : accesses) {
      auto [root, mine] = use(access);
      uses[root].push_back(mine);
    }
  }
};

/// The loop chooseLoop picked, the accesses slicing it gives, and whether
/// the current phase admits them.
struct LoopChoice {
  unsigned loop;
  SmallVector<Access> accesses;
  bool admitted;
};

/// The loop to slice, preferring one the current phase admits, then one of
/// at least kMaxWorkgroups iterations (every workgroup busy), then the
/// outermost. A loop that indexes the last dim of a written buffer would cut
/// its vectors and is not taken; one that a read operand takes in a window
/// sum needs kMaxWorkgroups iterations, so that no slice is empty (an empty
/// slice's window would have a negative size).
std::optional<LoopChoice> chooseLoop(linalg::LinalgOp op, const Phase &phase) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  std::optional<LoopChoice> best;
  int bestScore = -1;
  for (unsigned loop = 0; loop < ranges.size(); ++loop) {
    if (iterators[loop] != utils::IteratorType::parallel || ranges[loop] < 2)
      continue;
    auto accesses = accessesWhenSliced(op, loop, ranges[loop]);
    if (!accesses)
      continue;
    bool usable = true;
    for (const Access &access : *accesses) {
      int64_t rank = cast<MemRefType>(access.buffer.getType()).getRank();
      if (access.writes && rank > 1 && *access.dim == rank - 1)
        usable = false;
      if (access.windowed && ranges[loop] < kMaxWorkgroups)
        usable = false;
    }
    if (!usable)
      continue;
    bool admitted = phase.admits(*accesses);
    int score = (admitted ? 2 : 0) + (ranges[loop] >= kMaxWorkgroups ? 1 : 0);
    if (score > bestScore) {
      bestScore = score;
      best = LoopChoice{loop, std::move(*accesses), admitted};
    }
  }
  return best;
}

/// Replaces `op` by the same op on the slice [E * id / count, E * (id + 1) /
/// count) of loop `loop` (E its range), on subviews of its operands, tagged
/// with the workgroups and phase. The slice's size is dynamic: static chunk
/// sizes invite LLVM to unroll small loop nests in full (the encoder's
/// row-sliced copies took it a minute to compile).
void sliceLoop(linalg::LinalgOp op, unsigned loop, int64_t phaseId) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto [id, count] =
      kiln::cpu::workgroupIdAndCount(op->getParentOfType<func::FuncOp>());
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  Value extent = b.create<arith::ConstantIndexOp>(loc, ranges[loop]);
  Value one = b.create<arith::ConstantIndexOp>(loc, 1);
  Value begin = b.create<arith::DivUIOp>(
      loc, b.create<arith::MulIOp>(loc, extent, id), count);
  Value end = b.create<arith::DivUIOp>(
      loc,
      b.create<arith::MulIOp>(loc, extent,
                              b.create<arith::AddIOp>(loc, id, one)),
      count);
  Value size = b.create<arith::SubIOp>(loc, end, begin);

  SmallVector<OpFoldResult> tileSizes(ranges.size(), b.getIndexAttr(0));
  tileSizes[loop] = size;
  SmallVector<OpFoldResult> bounds;
  for (int64_t range : ranges)
    bounds.push_back(b.getIndexAttr(range));
  SmallVector<Value> operands(op->getOperands());
  SmallVector<Value> sliced =
      linalg::makeTiledShapes(b, loc, op, operands, {OpFoldResult(begin)},
                              tileSizes, bounds, /*omitPartialTileCheck=*/true);
  auto slice = clone(b, op, TypeRange{}, sliced);
  SmallVector<OpFoldResult> offsets(ranges.size(), b.getIndexAttr(0));
  offsets[loop] = begin;
  linalg::offsetIndices(b, cast<linalg::LinalgOp>(slice.getOperation()),
                        offsets);
  slice->setAttr(kiln::kWorkgroupsAttr, b.getI64IntegerAttr(kMaxWorkgroups));
  slice->setAttr(kiln::kPhaseAttr, b.getI64IntegerAttr(phaseId));
  op->erase();
}

/// Whether the op may be sliced at all: on buffers, with static loops, not
/// a microkernel call's.
bool isSliceable(Operation *op) {
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  return linalgOp && linalgOp.hasPureBufferSemantics() &&
         !linalgOp.hasDynamicShape() && !op->hasAttr(kiln::kWorkgroupsAttr);
}

int64_t iterationsOf(linalg::LinalgOp op) {
  int64_t iterations = 1;
  for (int64_t range : op.getStaticLoopRanges())
    iterations *= range;
  return iterations;
}

struct CpuDistributeLoopsPass
    : public mlir::kiln::cpu::impl::CpuDistributeLoopsBase<
          CpuDistributeLoopsPass> {
  void runOnOperation() override {
    int64_t nextPhase = 0;
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      // Group first, then slice the groups with work enough: a small op
      // (a row maximum's fill) joins its phase instead of ending it.
      struct Slice {
        linalg::LinalgOp op;
        unsigned loop;
      };
      SmallVector<SmallVector<Slice>> groups;
      Phase phase;
      for (Operation &op : func.getBody().front()) {
        if (isMemoryEffectFree(&op))
          continue;
        auto choice = isSliceable(&op)
                          ? chooseLoop(cast<linalg::LinalgOp>(op), phase)
                          : std::nullopt;
        if (!choice) {
          phase = Phase(); // a barrier: later slices start a new phase
          continue;
        }
        if (!phase.open || !choice->admitted) {
          phase = Phase();
          phase.open = true;
          groups.emplace_back();
        }
        phase.add(choice->accesses);
        groups.back().push_back({cast<linalg::LinalgOp>(op), choice->loop});
      }
      for (auto &group : groups) {
        int64_t iterations = 0;
        for (Slice &slice : group)
          iterations += iterationsOf(slice.op);
        if (iterations < kMinIterationsToSplit)
          continue;
        for (Slice &slice : group)
          sliceLoop(slice.op, slice.loop, nextPhase);
        ++nextPhase;
      }
    }
  }
};

} // namespace
