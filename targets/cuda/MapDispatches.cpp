//===- MapDispatches.cpp - dispatch loop nests -> coalesced GPU kernels ---===//

#include "targets/cuda/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

#include <limits>

namespace mlir::kiln::cuda {
#define GEN_PASS_DEF_CUDAMAPDISPATCHES
#include "targets/cuda/Passes.h.inc"
} // namespace mlir::kiln::cuda

using namespace mlir;

namespace {

/// Threads per block of a flattened loop nest: enough to hide latency on
/// every sm from 7.5 on, few enough that small nests still fill the GPU.
constexpr int64_t kThreadsPerBlock = 256;

// Contractions: a block computes a tile of up to kTileM x kTileN outputs
// (along the last two parallel dims) with up to kThreadsN x (256 /
// kThreadsN) threads, so each thread keeps up to 4 x 4 accumulators in
// registers; kTileK reduction iterations are staged in shared memory at a
// time, within kSharedBytes (under the 48 KiB every kernel may use).
constexpr int64_t kTileM = 64, kTileN = 64, kThreadsN = 16, kTileK = 32;
constexpr int64_t kSharedBytes = 40 * 1024;

int64_t powerOfTwoAtLeast(int64_t n) {
  int64_t p = 1;
  while (p < n)
    p *= 2;
  return p;
}

/// Ops a kernel may recompute from the bindings instead of receiving them:
/// constants and views.
bool isRecomputable(Operation *op) {
  return op->getNumRegions() == 0 && isMemoryEffectFree(op);
}

/// The iteration order of `generic` with its parallel dims first, each group
/// in its original order.
SmallVector<unsigned> parallelDimsFirst(linalg::GenericOp generic) {
  SmallVector<unsigned> order;
  auto iterators = generic.getIteratorTypesArray();
  for (unsigned i = 0; i < iterators.size(); ++i)
    if (linalg::isParallelIterator(iterators[i]))
      order.push_back(i);
  for (unsigned i = 0; i < iterators.size(); ++i)
    if (!linalg::isParallelIterator(iterators[i]))
      order.push_back(i);
  return order;
}

/// Whether `generic` (parallel dims first) becomes a tiled contraction
/// kernel: some parallel and some reduction dims, static ranges, one output
/// indexed by every parallel dim once, and a body of pure scalar ops.
bool isTiledContraction(linalg::GenericOp generic) {
  if (generic.getNumDpsInits() != 1 || !generic.hasPureBufferSemantics())
    return false;
  unsigned parallel = generic.getNumParallelLoops();
  unsigned loops = generic.getNumLoops();
  if (parallel == 0 || parallel == loops)
    return false;
  for (int64_t range : generic.getStaticLoopRanges())
    if (ShapedType::isDynamic(range) || range <= 0)
      return false;
  AffineMap output =
      generic.getMatchingIndexingMap(generic.getDpsInitOperand(0));
  if (!output.isProjectedPermutation() || output.getNumResults() != parallel)
    return false;
  for (AffineExpr result : output.getResults())
    if (cast<AffineDimExpr>(result).getPosition() >= parallel)
      return false;
  for (Operation &op : generic.getBody()->without_terminator())
    if (op.getNumRegions() != 0 ||
        (!isMemoryEffectFree(&op) && !isa<linalg::IndexOp>(op)))
      return false;
  for (OpOperand *input : generic.getDpsInputOperands()) {
    auto type = dyn_cast<MemRefType>(input->get().getType());
    if (!type || !type.hasStaticShape())
      return false;
  }
  return true;
}

/// Rewrites the dispatch's linalg ops into loops: parallel dims as one
/// scf.parallel (outermost), reductions as scf.for inside it. Contractions
/// (isTiledContraction) stay linalg.generic, with their parallel dims first,
/// for mapContraction.
LogicalResult lowerLinalgToParallelLoops(func::FuncOp func) {
  IRRewriter rewriter(func.getContext());
  for (Operation &op :
       llvm::make_early_inc_range(func.getBody().front().getOperations())) {
    auto linalgOp = dyn_cast<linalg::LinalgOp>(&op);
    if (!linalgOp)
      continue;
    rewriter.setInsertionPoint(&op);
    auto generic = dyn_cast<linalg::GenericOp>(&op);
    if (!generic) {
      FailureOr<linalg::GenericOp> generalized =
          linalg::generalizeNamedOp(rewriter, linalgOp);
      if (failed(generalized))
        return op.emitError("kiln: the CUDA target cannot lower this op");
      generic = *generalized;
    }
    SmallVector<unsigned> order = parallelDimsFirst(generic);
    if (!llvm::equal(order, llvm::seq<unsigned>(0, order.size()))) {
      FailureOr<linalg::GenericOp> interchanged =
          linalg::interchangeGenericOp(rewriter, generic, order);
      if (failed(interchanged))
        return generic.emitError("kiln: cannot reorder this op's loops");
      generic = *interchanged;
    }
    if (isTiledContraction(generic))
      continue;
    rewriter.setInsertionPoint(generic);
    if (failed(linalg::linalgOpToParallelLoops(rewriter, generic)))
      return generic.emitError("kiln: cannot lower this op to loops");
    rewriter.eraseOp(generic);
  }
  return success();
}

/// The constant trip counts of `loop`'s dims, or nothing.
std::optional<SmallVector<int64_t>> tripCounts(scf::ParallelOp loop) {
  SmallVector<int64_t> trips;
  for (auto [lb, ub, step] :
       llvm::zip(loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
    auto l = getConstantIntValue(lb), u = getConstantIntValue(ub),
         s = getConstantIntValue(step);
    if (!l || !u || !s || *s <= 0)
      return std::nullopt;
    trips.push_back(*u > *l ? (*u - *l + *s - 1) / *s : 0);
  }
  return trips;
}

class DispatchMapper {
public:
  DispatchMapper(func::FuncOp func, gpu::GPUModuleOp kernels,
                 SymbolTable &kernelSymbols, ModuleOp module)
      : func(func), kernels(kernels), kernelSymbols(kernelSymbols),
        module(module) {}

  LogicalResult run() {
    unsigned numBindings = func.getNumArguments() - 2;
    for (BlockArgument binding : func.getArguments().take_front(numBindings)) {
      auto type = dyn_cast<MemRefType>(binding.getType());
      if (!type || !type.hasStaticShape() || !type.getLayout().isIdentity())
        return func.emitError("kiln: a CUDA kernel binding must be a "
                              "static, contiguous buffer");
      bindings.push_back(binding);
    }
    if (failed(lowerLinalgToParallelLoops(func)))
      return failure();

    // Kernels, in order: each parallel loop nest, and each run of other ops
    // with effects (on one thread), with the side-effect-free ops among
    // them.
    SmallVector<Operation *> serial;
    for (Operation &op : llvm::make_early_inc_range(
             func.getBody().front().without_terminator())) {
      auto loop = dyn_cast<scf::ParallelOp>(&op);
      if (loop && loop.getNumReductions() == 0) {
        if (failed(flushSerial(serial)) || failed(mapParallel(loop)))
          return failure();
        continue;
      }
      if (auto generic = dyn_cast<linalg::GenericOp>(&op)) {
        if (failed(flushSerial(serial)) || failed(mapContraction(generic)))
          return failure();
        continue;
      }
      if (!serial.empty() || !isRecomputable(&op))
        serial.push_back(&op);
    }
    return flushSerial(serial);
  }

private:
  /// A new kernel taking every binding, with `map` sending the bindings to
  /// its parameters.
  gpu::GPUFuncOp createKernel(Location loc, IRMapping &map) {
    OpBuilder b(func.getContext());
    SmallVector<Type> types;
    for (Value binding : bindings)
      types.push_back(binding.getType());
    std::string name = (func.getSymName() + "_" + Twine(kernelCount++)).str();
    auto kernel = b.create<gpu::GPUFuncOp>(
        loc, name, b.getFunctionType(types, TypeRange{}));
    kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
    kernelSymbols.insert(kernel);
    Block &entry = kernel.getBody().front();
    for (auto [binding, parameter] : llvm::zip(bindings, entry.getArguments()))
      map.map(binding, parameter);
    return kernel;
  }

  /// Clones into the kernel (at `b`) what computes `value` outside of it.
  LogicalResult materialize(OpBuilder &b, IRMapping &map, Value value) {
    if (map.contains(value))
      return success();
    Operation *def = value.getDefiningOp();
    if (!def)
      return func.emitError("kiln: a CUDA kernel would use the workgroup "
                            "arguments");
    if (!isRecomputable(def))
      return def->emitError("kiln: the result of ")
             << def->getName() << " would cross CUDA kernels";
    for (Value operand : def->getOperands())
      if (failed(materialize(b, map, operand)))
        return failure();
    if (auto get = dyn_cast<memref::GetGlobalOp>(def))
      if (!kernelSymbols.lookup(get.getName())) {
        auto global = module.lookupSymbol<memref::GlobalOp>(get.getName());
        if (!global)
          return get.emitError("kiln: no global ") << get.getName();
        kernelSymbols.insert(global.clone());
      }
    b.clone(*def, map);
    return success();
  }

  /// Clones the values `ops` use from outside themselves into the kernel.
  LogicalResult materializeInputs(OpBuilder &b, IRMapping &map,
                                  ArrayRef<Operation *> ops) {
    llvm::SmallPtrSet<Operation *, 8> inside(ops.begin(), ops.end());
    SetVector<Value> used;
    for (Operation *op : ops) {
      used.insert(op->getOperands().begin(), op->getOperands().end());
      getUsedValuesDefinedAbove(op->getRegions(), used);
    }
    for (Value value : used) {
      Operation *def = value.getDefiningOp();
      if (def && inside.contains(def))
        continue;
      if (failed(materialize(b, map, value)))
        return failure();
    }
    return success();
  }

  /// Replaces `ops` by a launch of `kernel` over `grid` blocks of `block`
  /// threads. Side-effect-free ops among them that later ops still use stay.
  LogicalResult launch(ArrayRef<Operation *> ops, gpu::GPUFuncOp kernel,
                       int64_t grid, int64_t block) {
    OpBuilder b(ops.front());
    Location loc = ops.front()->getLoc();
    auto index = [&](int64_t v) -> Value {
      return b.create<arith::ConstantIndexOp>(loc, v);
    };
    Value one = index(1);
    b.create<gpu::LaunchFuncOp>(loc, kernel,
                                gpu::KernelDim3{index(grid), one, one},
                                gpu::KernelDim3{index(block), one, one},
                                /*dynamicSharedMemorySize=*/Value(), bindings);
    for (Operation *op : llvm::reverse(ops)) {
      if (op->use_empty())
        op->erase();
      else if (!isRecomputable(op))
        return op->emitError("kiln: the result of ")
               << op->getName() << " would cross CUDA kernels";
    }
    return success();
  }

  LogicalResult flushSerial(SmallVector<Operation *> &ops) {
    if (ops.empty())
      return success();
    IRMapping map;
    gpu::GPUFuncOp kernel = createKernel(ops.front()->getLoc(), map);
    kernel.setKnownBlockSizeAttr(
        OpBuilder(kernel).getDenseI32ArrayAttr({1, 1, 1}));
    OpBuilder b = OpBuilder::atBlockEnd(&kernel.getBody().front());
    if (failed(materializeInputs(b, map, ops)))
      return failure();
    for (Operation *op : ops)
      b.clone(*op, map);
    b.create<gpu::ReturnOp>(ops.front()->getLoc());
    if (failed(launch(ops, kernel, 1, 1)))
      return failure();
    ops.clear();
    return success();
  }

  LogicalResult mapParallel(scf::ParallelOp loop) {
    std::optional<SmallVector<int64_t>> trips = tripCounts(loop);
    if (!trips)
      return loop.emitError("kiln: the CUDA target needs constant loop "
                            "bounds");
    int64_t total = 1;
    for (int64_t trip : *trips) {
      if (trip != 0 && total > std::numeric_limits<int64_t>::max() / trip)
        return loop.emitError("kiln: loop nest too large for one kernel");
      total *= trip;
    }
    if (total == 0) {
      loop->erase();
      return success();
    }
    int64_t block = std::min(kThreadsPerBlock, (total + 31) / 32 * 32);
    int64_t grid = (total + block - 1) / block;
    if (grid > std::numeric_limits<int32_t>::max())
      return loop.emitError("kiln: loop nest of ")
             << total << " iterations is too large for one kernel";

    IRMapping map;
    Location loc = loop.getLoc();
    gpu::GPUFuncOp kernel = createKernel(loc, map);
    OpBuilder b = OpBuilder::atBlockEnd(&kernel.getBody().front());
    kernel.setKnownBlockSizeAttr(
        b.getDenseI32ArrayAttr({int32_t(block), 1, 1}));
    if (failed(materializeInputs(b, map, {loop})))
      return failure();
    auto index = [&](int64_t v) -> Value {
      return b.create<arith::ConstantIndexOp>(loc, v);
    };
    // One iteration per thread; the last dim varies fastest so that the
    // threads of a warp touch consecutive elements.
    Value thread = b.create<gpu::ThreadIdOp>(loc, gpu::Dimension::x);
    Value blockId = b.create<gpu::BlockIdOp>(loc, gpu::Dimension::x);
    Value linear = b.create<arith::AddIOp>(
        loc, b.create<arith::MulIOp>(loc, blockId, index(block)), thread);
    Value inRange = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult,
                                            linear, index(total));
    auto guard = b.create<scf::IfOp>(loc, inRange, /*withElseRegion=*/false);
    b.setInsertionPointToStart(&guard.getThenRegion().front());
    Value rest = linear;
    for (int64_t d = int64_t(trips->size()) - 1; d >= 0; --d) {
      Value position =
          d == 0 ? rest
                 : b.create<arith::RemUIOp>(loc, rest, index((*trips)[d]))
                       .getResult();
      if (d != 0)
        rest = b.create<arith::DivUIOp>(loc, rest, index((*trips)[d]));
      Value step = map.lookupOrDefault(loop.getStep()[d]);
      Value lower = map.lookupOrDefault(loop.getLowerBound()[d]);
      Value iv = b.create<arith::AddIOp>(
          loc, lower, b.create<arith::MulIOp>(loc, position, step));
      map.map(loop.getInductionVars()[d], iv);
    }
    for (Operation &op : loop.getBody()->without_terminator())
      b.clone(op, map);
    b.setInsertionPointToEnd(&kernel.getBody().front());
    b.create<gpu::ReturnOp>(loc);
    return launch({loop}, kernel, grid, block);
  }

  /// A contraction as a kernel that stages its operands through shared
  /// memory. Each block computes a tile of tileM x tileN outputs along the
  /// last two parallel dims (M, N; one position of every other parallel
  /// dim), each thread rm x rn of them, at rows ty + i * threadsM and
  /// columns tx + j * threadsN of the tile (neighbouring threads,
  /// neighbouring columns), with its accumulators in registers. The
  /// reduction dims, flattened (the last fastest), advance tileK at a time:
  /// the block copies every input that depends on them into shared memory,
  /// for the positions of the tile and the chunk it needs (indexed by
  /// iteration coordinates, so any indexing map works: a convolution's
  /// window included), waits, computes from there, and waits again. Inputs
  /// that depend on no reduction dim are read once, before the loop.
  LogicalResult mapContraction(linalg::GenericOp generic) {
    Location loc = generic.getLoc();
    SmallVector<int64_t> ranges = generic.getStaticLoopRanges();
    const int64_t numParallel = generic.getNumParallelLoops();
    const int64_t numLoops = ranges.size();
    const int64_t dimN = numParallel - 1;
    const int64_t dimM = numParallel >= 2 ? numParallel - 2 : -1;
    const int64_t rangeN = ranges[dimN];
    const int64_t rangeM = dimM >= 0 ? ranges[dimM] : 1;
    const int64_t tileN = std::min(kTileN, powerOfTwoAtLeast(rangeN));
    const int64_t threadsN = std::min(kThreadsN, tileN);
    const int64_t tileM =
        dimM >= 0 ? std::min(kTileM, powerOfTwoAtLeast(rangeM)) : 1;
    const int64_t threadsM = std::min(kThreadsPerBlock / threadsN, tileM);
    const int64_t rn = tileN / threadsN, rm = tileM / threadsM;
    const int64_t blockSize = threadsM * threadsN;
    const int64_t tilesN = (rangeN + tileN - 1) / tileN;
    const int64_t tilesM = (rangeM + tileM - 1) / tileM;
    int64_t grid = tilesN * tilesM;
    for (int64_t d = 0; d < numParallel; ++d)
      if (d != dimN && d != dimM)
        grid *= ranges[d];
    int64_t reduction = 1;
    for (int64_t d = numParallel; d < numLoops; ++d)
      reduction *= ranges[d];
    if (grid > std::numeric_limits<int32_t>::max())
      return generic.emitError("kiln: contraction too large for one kernel");

    // The inputs staged in shared memory, and how: extents along M, N and
    // the chunk, and which of the three is contiguous (the one the input's
    // last index follows), so that the copy reads neighbouring addresses.
    struct Staged {
      OpOperand *input;
      AffineMap map;
      bool usesM, usesN;
      int64_t order; // 0: n fastest, 1: k fastest, 2: m fastest
      Value shared;
    };
    SmallVector<Staged> staged;
    auto uses = [](AffineMap map, int64_t dim) {
      return dim >= 0 && map.isFunctionOfDim(dim);
    };
    int64_t tileK = std::min(kTileK, powerOfTwoAtLeast(reduction));
    int64_t bytesPerK = 0;
    for (OpOperand *input : generic.getDpsInputOperands()) {
      AffineMap map = generic.getMatchingIndexingMap(input);
      bool usesReduction = false;
      for (int64_t d = numParallel; d < numLoops; ++d)
        usesReduction |= map.isFunctionOfDim(d);
      if (!usesReduction)
        continue;
      Staged s{input, map, uses(map, dimM), uses(map, dimN), 2, Value()};
      if (map.getNumResults() > 0) {
        AffineExpr last = map.getResults().back();
        bool lastUsesReduction = false;
        for (int64_t d = numParallel; d < numLoops; ++d)
          lastUsesReduction |= last.isFunctionOfDim(d);
        s.order = s.usesN && last.isFunctionOfDim(dimN) ? 0
                  : lastUsesReduction                   ? 1
                                                        : 2;
      }
      auto type = cast<MemRefType>(input->get().getType());
      bytesPerK += (s.usesM ? tileM : 1) * (s.usesN ? tileN : 1) *
                   ((type.getElementTypeBitWidth() + 7) / 8);
      staged.push_back(s);
    }
    while (tileK > 1 && tileK * bytesPerK > kSharedBytes)
      tileK /= 2;

    IRMapping map;
    gpu::GPUFuncOp kernel = createKernel(loc, map);
    kernel.setKnownBlockSizeAttr(
        OpBuilder(kernel).getDenseI32ArrayAttr({int32_t(blockSize), 1, 1}));
    auto workgroup = gpu::AddressSpaceAttr::get(func.getContext(),
                                                gpu::AddressSpace::Workgroup);
    for (Staged &s : staged) {
      auto type = cast<MemRefType>(s.input->get().getType());
      int64_t size = tileK * (s.usesM ? tileM : 1) * (s.usesN ? tileN : 1);
      s.shared = kernel.addWorkgroupAttribution(
          MemRefType::get({size}, type.getElementType(), AffineMap(),
                          workgroup),
          loc);
    }
    OpBuilder b = OpBuilder::atBlockEnd(&kernel.getBody().front());
    if (failed(materializeInputs(b, map, {generic})))
      return failure();
    auto index = [&](int64_t v) -> Value {
      return b.create<arith::ConstantIndexOp>(loc, v);
    };
    auto add = [&](Value x, Value y) -> Value {
      return b.create<arith::AddIOp>(loc, x, y);
    };
    auto mul = [&](Value x, int64_t y) -> Value {
      return y == 1 ? x : b.create<arith::MulIOp>(loc, x, index(y));
    };
    auto div = [&](Value x, int64_t y) -> Value {
      return y == 1 ? x : b.create<arith::DivUIOp>(loc, x, index(y));
    };
    auto rem = [&](Value x, int64_t y) -> Value {
      return b.create<arith::RemUIOp>(loc, x, index(y));
    };
    auto less = [&](Value x, int64_t y) -> Value {
      return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, x,
                                     index(y));
    };
    auto both = [&](Value x, Value y) -> Value {
      if (!x)
        return y;
      return y ? b.create<arith::AndIOp>(loc, x, y).getResult() : x;
    };
    /// The indices `indexing` gives for the loop coordinates `coords`.
    auto apply = [&](AffineMap indexing, ArrayRef<Value> coords) {
      SmallVector<Value> indices;
      for (unsigned r = 0; r < indexing.getNumResults(); ++r)
        indices.push_back(b.create<affine::AffineApplyOp>(
            loc, indexing.getSubMap({r}), coords));
      return indices;
    };
    /// The reduction coordinates of flattened position `r`.
    auto reductionCoords = [&](Value r, MutableArrayRef<Value> coords) {
      for (int64_t d = numLoops - 1; d >= numParallel; --d) {
        coords[d] = d == numParallel ? r : rem(r, ranges[d]);
        if (d != numParallel)
          r = div(r, ranges[d]);
      }
    };

    // Where this thread and block are.
    Value thread = b.create<gpu::ThreadIdOp>(loc, gpu::Dimension::x);
    Value blockId = b.create<gpu::BlockIdOp>(loc, gpu::Dimension::x);
    Value tx = rem(thread, threadsN), ty = div(thread, threadsN);
    SmallVector<Value> coords(numLoops);
    Value rest = blockId;
    Value n0 = mul(rem(rest, tilesN), tileN);
    rest = div(rest, tilesN);
    Value m0 = index(0);
    if (dimM >= 0) {
      m0 = mul(rem(rest, tilesM), tileM);
      rest = div(rest, tilesM);
    }
    for (int64_t d = numParallel - 1; d >= 0; --d) {
      if (d == dimN || d == dimM)
        continue;
      coords[d] = rem(rest, ranges[d]);
      rest = div(rest, ranges[d]);
    }
    // Placeholders where a map has no use for the dim (affine.apply takes
    // every loop coordinate).
    coords[dimN] = n0;
    if (dimM >= 0)
      coords[dimM] = m0;
    for (int64_t d = numParallel; d < numLoops; ++d)
      coords[d] = index(0);
    // The loop coordinates of output (i, j) of this thread: in range, and
    // clamped into range for reads (out-of-range outputs are not stored).
    Value lastM = index(rangeM - 1), lastN = index(rangeN - 1);
    auto outputCoords = [&](int64_t i, int64_t j, bool clamp, Value *inRange) {
      SmallVector<Value> c(coords);
      Value n = add(n0, add(tx, index(j * threadsN)));
      Value m = add(m0, add(ty, index(i * threadsM)));
      if (inRange)
        *inRange = both(dimM >= 0 ? less(m, rangeM) : Value(), less(n, rangeN));
      if (clamp) {
        n = b.create<arith::MinUIOp>(loc, n, lastN);
        m = b.create<arith::MinUIOp>(loc, m, lastM);
      }
      c[dimN] = n;
      if (dimM >= 0)
        c[dimM] = m;
      return c;
    };

    // Initial accumulators, and the inputs no reduction dim indexes.
    OpOperand *output = generic.getDpsInitOperand(0);
    Value outputBuffer = map.lookup(output->get());
    AffineMap outputMap = generic.getMatchingIndexingMap(output);
    SmallVector<Value> accumulators;
    SmallVector<SmallVector<Value>> unstaged(rm * rn);
    for (int64_t i = 0; i < rm; ++i)
      for (int64_t j = 0; j < rn; ++j) {
        SmallVector<Value> c = outputCoords(i, j, /*clamp=*/true, nullptr);
        accumulators.push_back(
            b.create<memref::LoadOp>(loc, outputBuffer, apply(outputMap, c)));
        for (OpOperand *input : generic.getDpsInputOperands()) {
          if (llvm::any_of(staged,
                           [&](const Staged &s) { return s.input == input; }))
            continue;
          unstaged[i * rn + j].push_back(b.create<memref::LoadOp>(
              loc, map.lookup(input->get()),
              apply(generic.getMatchingIndexingMap(input), c)));
        }
      }

    /// Offset in `s`'s shared buffer of chunk position kl at tile row ml and
    /// column nl.
    auto sharedOffset = [&](const Staged &s, Value kl, Value ml, Value nl) {
      int64_t extentM = s.usesM ? tileM : 1, extentN = s.usesN ? tileN : 1;
      Value m = s.usesM ? ml : index(0), n = s.usesN ? nl : index(0);
      switch (s.order) {
      case 0: // [k][m][n]
        return add(mul(add(mul(kl, extentM), m), extentN), n);
      case 1: // [m][n][k]
        return add(mul(add(mul(m, extentN), n), tileK), kl);
      default: // [k][n][m]
        return add(mul(add(mul(kl, extentN), n), extentM), m);
      }
    };

    auto chunks = b.create<scf::ForOp>(loc, index(0), index(reduction),
                                       index(tileK), accumulators);
    b.setInsertionPointToStart(chunks.getBody());
    Value k0 = chunks.getInductionVar();
    // Stage: the block copies each input's positions for the tile and the
    // chunk, blockSize elements at a time.
    for (Staged &s : staged) {
      int64_t extentM = s.usesM ? tileM : 1, extentN = s.usesN ? tileN : 1;
      int64_t count = tileK * extentM * extentN;
      auto copy =
          b.create<scf::ForOp>(loc, thread, index(count), index(blockSize));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(copy.getBody());
      Value e = copy.getInductionVar();
      Value kl, ml, nl;
      switch (s.order) {
      case 0:
        nl = rem(e, extentN), ml = rem(div(e, extentN), extentM),
        kl = div(e, extentN * extentM);
        break;
      case 1:
        kl = rem(e, tileK), nl = rem(div(e, tileK), extentN),
        ml = div(e, tileK * extentN);
        break;
      default:
        ml = rem(e, extentM), nl = rem(div(e, extentM), extentN),
        kl = div(e, extentM * extentN);
        break;
      }
      Value r = add(k0, kl);
      Value valid = less(r, reduction);
      SmallVector<Value> c(coords);
      if (s.usesM) {
        c[dimM] = add(m0, ml);
        valid = both(valid, less(c[dimM], rangeM));
      }
      if (s.usesN) {
        c[dimN] = add(n0, nl);
        valid = both(valid, less(c[dimN], rangeN));
      }
      auto ifValid = b.create<scf::IfOp>(loc, valid, /*withElseRegion=*/false);
      b.setInsertionPointToStart(&ifValid.getThenRegion().front());
      reductionCoords(r, c);
      Value value = b.create<memref::LoadOp>(loc, map.lookup(s.input->get()),
                                             apply(s.map, c));
      b.create<memref::StoreOp>(loc, value, s.shared, ValueRange{e});
    }
    b.create<gpu::BarrierOp>(loc);

    // Compute from shared memory: the chunk's valid positions.
    Value kCount = b.create<arith::MinUIOp>(
        loc, index(tileK), b.create<arith::SubIOp>(loc, index(reduction), k0));
    auto steps = b.create<scf::ForOp>(loc, index(0), kCount, index(1),
                                      chunks.getRegionIterArgs());
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(steps.getBody());
      Value kl = steps.getInductionVar();
      bool needsReductionCoords = false;
      generic.getBody()->walk([&](linalg::IndexOp op) {
        needsReductionCoords |= op.getDim() >= uint64_t(numParallel);
      });
      SmallVector<Value> stepCoords(coords);
      if (needsReductionCoords)
        reductionCoords(add(k0, kl), stepCoords);
      SmallVector<Value> results;
      Block *body = generic.getBody();
      for (int64_t i = 0; i < rm; ++i)
        for (int64_t j = 0; j < rn; ++j) {
          Value ml = add(ty, index(i * threadsM));
          Value nl = add(tx, index(j * threadsN));
          // Values the body uses from above are already in the kernel.
          IRMapping bodyMap = map;
          unsigned next = 0;
          for (OpOperand *input : generic.getDpsInputOperands()) {
            BlockArgument argument =
                body->getArgument(input->getOperandNumber());
            auto it = llvm::find_if(
                staged, [&](const Staged &s) { return s.input == input; });
            if (it == staged.end()) {
              bodyMap.map(argument, unstaged[i * rn + j][next++]);
              continue;
            }
            bodyMap.map(argument,
                        b.create<memref::LoadOp>(
                            loc, it->shared,
                            ValueRange{sharedOffset(*it, kl, ml, nl)}));
          }
          bodyMap.map(body->getArgument(output->getOperandNumber()),
                      steps.getRegionIterArgs()[i * rn + j]);
          SmallVector<Value> here(stepCoords);
          here[dimN] = add(n0, nl);
          if (dimM >= 0)
            here[dimM] = add(m0, ml);
          for (Operation &op : body->without_terminator()) {
            if (auto indexOp = dyn_cast<linalg::IndexOp>(op)) {
              bodyMap.map(indexOp.getResult(), here[indexOp.getDim()]);
              continue;
            }
            b.clone(op, bodyMap);
          }
          results.push_back(
              bodyMap.lookupOrDefault(body->getTerminator()->getOperand(0)));
        }
      b.create<scf::YieldOp>(loc, results);
    }
    b.create<gpu::BarrierOp>(loc);
    b.create<scf::YieldOp>(loc, steps.getResults());

    // Store the outputs of the tile that are in range.
    b.setInsertionPointAfter(chunks);
    for (int64_t i = 0; i < rm; ++i)
      for (int64_t j = 0; j < rn; ++j) {
        Value inRange;
        SmallVector<Value> c = outputCoords(i, j, /*clamp=*/false, &inRange);
        auto ifIn = b.create<scf::IfOp>(loc, inRange, false);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&ifIn.getThenRegion().front());
        b.create<memref::StoreOp>(loc, chunks.getResult(i * rn + j),
                                  outputBuffer, apply(outputMap, c));
      }
    b.create<gpu::ReturnOp>(loc);
    return launch({generic}, kernel, grid, blockSize);
  }

  func::FuncOp func;
  gpu::GPUModuleOp kernels;
  SymbolTable &kernelSymbols;
  ModuleOp module;
  SmallVector<Value> bindings;
  unsigned kernelCount = 0;
};

struct CudaMapDispatchesPass
    : public mlir::kiln::cuda::impl::CudaMapDispatchesBase<
          CudaMapDispatchesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    OpBuilder b(module.getContext());
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
    b.setInsertionPointToStart(module.getBody());
    auto kernels = b.create<gpu::GPUModuleOp>(
        module.getLoc(), mlir::kiln::cuda::kKernelModuleName);
    SymbolTable kernelSymbols(kernels);
    for (auto func : llvm::to_vector(module.getOps<func::FuncOp>())) {
      if (func.isExternal() || func.getNumArguments() < 2)
        continue;
      if (failed(DispatchMapper(func, kernels, kernelSymbols, module).run()))
        return signalPassFailure();
    }
  }
};

} // namespace
