//===- MapDispatches.cpp - dispatch loop nests -> coalesced GPU kernels ---===//

#include "targets/cuda/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
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

// Tensor-core contractions: mma.sync m16n8k8 (f16 operands, f32
// accumulators; sm_75 and later) on fragments of a tile of up to kTileM x
// kTileN outputs, by up to kMaxWarps warps, kTileK reduction steps staged at
// a time. Shared memory rows are padded by kSharedPad halves so that a
// warp's fragment loads hit 32 different banks.
constexpr int64_t kMaxWarps = 8, kSharedPad = 8;

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

/// The inputs of a contraction tensor cores compute: A indexed by M and
/// not N, B by N and not M, both by reduction dims.
struct TensorCoreOperands {
  OpOperand *a, *b;
};

/// Whether tiled contraction `generic` (parallel dims first) computes on
/// tensor cores: it sums products of two inputs (`out + a * b`, each input
/// possibly extended from f16) into an f32 output, and an input is f16.
/// Only models or options that chose f16 (`--precision fp16` stores
/// weights as f16) get there: an f32 model stays exact f32.
std::optional<TensorCoreOperands>
matchTensorCoreContraction(linalg::GenericOp generic) {
  int64_t numParallel = generic.getNumParallelLoops();
  if (numParallel < 2 || generic.getNumDpsInputs() != 2 ||
      !cast<MemRefType>(generic.getDpsInitOperand(0)->get().getType())
           .getElementType()
           .isF32())
    return std::nullopt;
  int64_t dimM = numParallel - 2, dimN = numParallel - 1;
  TensorCoreOperands operands = {nullptr, nullptr};
  bool anyF16 = false;
  for (OpOperand *input : generic.getDpsInputOperands()) {
    Type element = cast<MemRefType>(input->get().getType()).getElementType();
    if (!element.isF16() && !element.isF32())
      return std::nullopt;
    anyF16 |= element.isF16();
    AffineMap map = generic.getMatchingIndexingMap(input);
    bool usesReduction = false;
    for (int64_t d = numParallel; d < generic.getNumLoops(); ++d)
      usesReduction |= map.isFunctionOfDim(d);
    bool usesM = map.isFunctionOfDim(dimM), usesN = map.isFunctionOfDim(dimN);
    if (!usesReduction || usesM == usesN)
      return std::nullopt;
    (usesM ? operands.a : operands.b) = input;
  }
  if (!anyF16 || !operands.a || !operands.b)
    return std::nullopt;

  // The body: out + ext?(a) * ext?(b), in any operand order.
  Block *body = generic.getBody();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  auto sum = yield.getValues()[0].getDefiningOp<arith::AddFOp>();
  if (!sum)
    return std::nullopt;
  Value out = body->getArgument(2);
  Value product = sum.getLhs() == out ? sum.getRhs() : sum.getLhs();
  if (product == out || (sum.getLhs() != out && sum.getRhs() != out))
    return std::nullopt;
  auto mul = product.getDefiningOp<arith::MulFOp>();
  if (!mul)
    return std::nullopt;
  auto inputArgument = [&](Value v) -> int {
    if (auto ext = v.getDefiningOp<arith::ExtFOp>())
      v = ext.getIn();
    auto argument = dyn_cast<BlockArgument>(v);
    return argument && argument.getOwner() == body &&
                   argument.getArgNumber() < 2
               ? int(argument.getArgNumber())
               : -1;
  };
  int lhs = inputArgument(mul.getLhs()), rhs = inputArgument(mul.getRhs());
  if (lhs < 0 || rhs < 0 || lhs == rhs)
    return std::nullopt;
  // Nothing else in the body (extensions, the product, the sum).
  if (llvm::range_size(body->without_terminator()) >
      2 + size_t(mul.getLhs() != body->getArgument(lhs)) +
          size_t(mul.getRhs() != body->getArgument(rhs)))
    return std::nullopt;
  return operands;
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

/// Index arithmetic for the kernels built here, at `b`'s position.
struct IndexMath {
  OpBuilder &b;
  Location loc;

  Value index(int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v); }
  Value add(Value x, Value y) { return b.create<arith::AddIOp>(loc, x, y); }
  Value mul(Value x, int64_t y) {
    return y == 1 ? x : b.create<arith::MulIOp>(loc, x, index(y));
  }
  Value div(Value x, int64_t y) {
    return y == 1 ? x : b.create<arith::DivUIOp>(loc, x, index(y));
  }
  Value rem(Value x, int64_t y) {
    return b.create<arith::RemUIOp>(loc, x, index(y));
  }
  Value less(Value x, int64_t y) {
    return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, x, index(y));
  }
  /// x && y, where a missing condition holds.
  Value both(Value x, Value y) {
    if (!x)
      return y;
    return y ? b.create<arith::AndIOp>(loc, x, y).getResult() : x;
  }
  /// The indices `indexing` gives for the loop coordinates `coords`.
  SmallVector<Value> apply(AffineMap indexing, ArrayRef<Value> coords) {
    SmallVector<Value> indices;
    for (unsigned r = 0; r < indexing.getNumResults(); ++r)
      indices.push_back(b.create<affine::AffineApplyOp>(
          loc, indexing.getSubMap({r}), coords));
    return indices;
  }
};

/// How a contraction's kernel divides its iterations: each block a tile of
/// up to tileM x tileN outputs along the last two parallel dims (M, N; M
/// absent when there is one parallel dim) at one position of the other
/// parallel dims, the blocks numbered N fastest, then M, then the others.
struct ContractionTiles {
  ArrayRef<int64_t> ranges;
  int64_t numParallel, dimM, dimN, tileM, tileN;

  int64_t rangeM() const { return dimM >= 0 ? ranges[dimM] : 1; }
  int64_t tilesM() const { return (rangeM() + tileM - 1) / tileM; }
  int64_t tilesN() const { return (ranges[dimN] + tileN - 1) / tileN; }
  int64_t blocks() const {
    int64_t grid = tilesM() * tilesN();
    for (int64_t d = 0; d < numParallel; ++d)
      if (d != dimN && d != dimM)
        grid *= ranges[d];
    return grid;
  }
  int64_t reduction() const {
    int64_t size = 1;
    for (int64_t d = numParallel; d < int64_t(ranges.size()); ++d)
      size *= ranges[d];
    return size;
  }

  /// The loop coordinates of block `blockId`'s first output, with its
  /// first M and N positions in `m0` and `n0`; 0 for the reduction dims
  /// (affine.apply takes every loop coordinate, used or not).
  SmallVector<Value> origin(IndexMath &math, Value blockId, Value &m0,
                            Value &n0) const {
    SmallVector<Value> coords(ranges.size());
    Value rest = blockId;
    n0 = math.mul(math.rem(rest, tilesN()), tileN);
    rest = math.div(rest, tilesN());
    m0 = math.index(0);
    if (dimM >= 0) {
      m0 = math.mul(math.rem(rest, tilesM()), tileM);
      rest = math.div(rest, tilesM());
    }
    for (int64_t d = numParallel - 1; d >= 0; --d) {
      if (d == dimN || d == dimM)
        continue;
      coords[d] = math.rem(rest, ranges[d]);
      rest = math.div(rest, ranges[d]);
    }
    coords[dimN] = n0;
    if (dimM >= 0)
      coords[dimM] = m0;
    for (int64_t d = numParallel; d < int64_t(ranges.size()); ++d)
      coords[d] = math.index(0);
    return coords;
  }

  /// `coords` with output position (m, n) (m ignored without an M dim):
  /// whether it is in range in `*inRange` when asked, clamped into range
  /// (for reads of positions that are not stored) with `clamp`.
  SmallVector<Value> outputCoords(IndexMath &math, ArrayRef<Value> coords,
                                  Value m, Value n, bool clamp,
                                  Value *inRange) const {
    if (inRange)
      *inRange = math.both(dimM >= 0 ? math.less(m, rangeM()) : Value(),
                           math.less(n, ranges[dimN]));
    auto clamped = [&](Value v, int64_t range) -> Value {
      return clamp ? math.b.create<arith::MinUIOp>(math.loc, v,
                                                   math.index(range - 1))
                   : v;
    };
    SmallVector<Value> c(coords);
    c[dimN] = clamped(n, ranges[dimN]);
    if (dimM >= 0)
      c[dimM] = clamped(m, rangeM());
    return c;
  }

  /// Sets the reduction coordinates in `coords` to those of flattened
  /// reduction position `r` (the last dim fastest).
  void reductionCoords(IndexMath &math, Value r,
                       MutableArrayRef<Value> coords) const {
    for (int64_t d = int64_t(ranges.size()) - 1; d >= numParallel; --d) {
      coords[d] = d == numParallel ? r : math.rem(r, ranges[d]);
      if (d != numParallel)
        r = math.div(r, ranges[d]);
    }
  }
};

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
    if (std::optional<TensorCoreOperands> operands =
            matchTensorCoreContraction(generic))
      return mapTensorCoreContraction(generic, *operands);
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
    ContractionTiles tiles{ranges, numParallel, dimM, dimN, tileM, tileN};
    const int64_t grid = tiles.blocks(), reduction = tiles.reduction();
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
    IndexMath math{b, loc};
    auto reductionCoords = [&](Value r, MutableArrayRef<Value> coords) {
      tiles.reductionCoords(math, r, coords);
    };

    // Where this thread and block are.
    Value thread = b.create<gpu::ThreadIdOp>(loc, gpu::Dimension::x);
    Value blockId = b.create<gpu::BlockIdOp>(loc, gpu::Dimension::x);
    Value tx = math.rem(thread, threadsN), ty = math.div(thread, threadsN);
    Value m0, n0;
    SmallVector<Value> coords = tiles.origin(math, blockId, m0, n0);
    // The loop coordinates of output (i, j) of this thread: in range, and
    // clamped into range for reads (out-of-range outputs are not stored).
    auto outputCoords = [&](int64_t i, int64_t j, bool clamp, Value *inRange) {
      Value n = math.add(n0, math.add(tx, math.index(j * threadsN)));
      Value m = math.add(m0, math.add(ty, math.index(i * threadsM)));
      return tiles.outputCoords(math, coords, m, n, clamp, inRange);
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
        accumulators.push_back(b.create<memref::LoadOp>(
            loc, outputBuffer, math.apply(outputMap, c)));
        for (OpOperand *input : generic.getDpsInputOperands()) {
          if (llvm::any_of(staged,
                           [&](const Staged &s) { return s.input == input; }))
            continue;
          unstaged[i * rn + j].push_back(b.create<memref::LoadOp>(
              loc, map.lookup(input->get()),
              math.apply(generic.getMatchingIndexingMap(input), c)));
        }
      }

    /// Offset in `s`'s shared buffer of chunk position kl at tile row ml and
    /// column nl.
    auto sharedOffset = [&](const Staged &s, Value kl, Value ml, Value nl) {
      int64_t extentM = s.usesM ? tileM : 1, extentN = s.usesN ? tileN : 1;
      Value m = s.usesM ? ml : math.index(0), n = s.usesN ? nl : math.index(0);
      switch (s.order) {
      case 0: // [k][m][n]
        return math.add(math.mul(math.add(math.mul(kl, extentM), m), extentN),
                        n);
      case 1: // [m][n][k]
        return math.add(math.mul(math.add(math.mul(m, extentN), n), tileK), kl);
      default: // [k][n][m]
        return math.add(math.mul(math.add(math.mul(kl, extentN), n), extentM),
                        m);
      }
    };

    auto chunks =
        b.create<scf::ForOp>(loc, math.index(0), math.index(reduction),
                             math.index(tileK), accumulators);
    b.setInsertionPointToStart(chunks.getBody());
    Value k0 = chunks.getInductionVar();
    // Stage: the block copies each input's positions for the tile and the
    // chunk, blockSize elements at a time.
    for (Staged &s : staged) {
      int64_t extentM = s.usesM ? tileM : 1, extentN = s.usesN ? tileN : 1;
      int64_t count = tileK * extentM * extentN;
      auto copy = b.create<scf::ForOp>(loc, thread, math.index(count),
                                       math.index(blockSize));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(copy.getBody());
      Value e = copy.getInductionVar();
      Value kl, ml, nl;
      switch (s.order) {
      case 0:
        nl = math.rem(e, extentN), ml = math.rem(math.div(e, extentN), extentM),
        kl = math.div(e, extentN * extentM);
        break;
      case 1:
        kl = math.rem(e, tileK), nl = math.rem(math.div(e, tileK), extentN),
        ml = math.div(e, tileK * extentN);
        break;
      default:
        ml = math.rem(e, extentM), nl = math.rem(math.div(e, extentM), extentN),
        kl = math.div(e, extentM * extentN);
        break;
      }
      Value r = math.add(k0, kl);
      Value valid = math.less(r, reduction);
      SmallVector<Value> c(coords);
      if (s.usesM) {
        c[dimM] = math.add(m0, ml);
        valid = math.both(valid, math.less(c[dimM], rangeM));
      }
      if (s.usesN) {
        c[dimN] = math.add(n0, nl);
        valid = math.both(valid, math.less(c[dimN], rangeN));
      }
      auto ifValid = b.create<scf::IfOp>(loc, valid, /*withElseRegion=*/false);
      b.setInsertionPointToStart(&ifValid.getThenRegion().front());
      reductionCoords(r, c);
      Value value = b.create<memref::LoadOp>(loc, map.lookup(s.input->get()),
                                             math.apply(s.map, c));
      b.create<memref::StoreOp>(loc, value, s.shared, ValueRange{e});
    }
    b.create<gpu::BarrierOp>(loc);

    // Compute from shared memory: the chunk's valid positions.
    Value kCount = b.create<arith::MinUIOp>(
        loc, math.index(tileK),
        b.create<arith::SubIOp>(loc, math.index(reduction), k0));
    auto steps = b.create<scf::ForOp>(loc, math.index(0), kCount, math.index(1),
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
        reductionCoords(math.add(k0, kl), stepCoords);
      SmallVector<Value> results;
      Block *body = generic.getBody();
      for (int64_t i = 0; i < rm; ++i)
        for (int64_t j = 0; j < rn; ++j) {
          Value ml = math.add(ty, math.index(i * threadsM));
          Value nl = math.add(tx, math.index(j * threadsN));
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
          here[dimN] = math.add(n0, nl);
          if (dimM >= 0)
            here[dimM] = math.add(m0, ml);
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
                                  outputBuffer, math.apply(outputMap, c));
      }
    b.create<gpu::ReturnOp>(loc);
    return launch({generic}, kernel, grid, blockSize);
  }

  /// A contraction on tensor cores (matchTensorCoreContraction). Each block
  /// computes a tile of tileM x tileN outputs (multiples of 16 x 8) as
  /// m16n8 fragments, each warp up to 4 of them with 4 f32 accumulators per
  /// thread and fragment, in mma.sync's layout: lane l holds rows l / 4 and
  /// l / 4 + 8, columns 2 (l % 4) and 2 (l % 4) + 1 of its fragment. The
  /// reduction advances tileK at a time: the block copies A's tileM x tileK
  /// and B's tileN x tileK positions into shared memory as f16 (rounding f32
  /// operands, zero outside the ranges, so padding adds nothing), k
  /// contiguous, waits, multiplies, and waits again.
  LogicalResult mapTensorCoreContraction(linalg::GenericOp generic,
                                         TensorCoreOperands operands) {
    Location loc = generic.getLoc();
    SmallVector<int64_t> ranges = generic.getStaticLoopRanges();
    const int64_t numParallel = generic.getNumParallelLoops();
    const int64_t dimN = numParallel - 1, dimM = numParallel - 2;
    const int64_t rangeM = ranges[dimM], rangeN = ranges[dimN];
    const int64_t tileM =
        std::clamp(powerOfTwoAtLeast(rangeM), int64_t(16), kTileM);
    const int64_t tileN =
        std::clamp(powerOfTwoAtLeast(rangeN), int64_t(8), kTileN);
    ContractionTiles tiles{ranges, numParallel, dimM, dimN, tileM, tileN};
    const int64_t grid = tiles.blocks(), reduction = tiles.reduction();
    const int64_t tileK =
        std::clamp(powerOfTwoAtLeast(reduction), int64_t(8), kTileK);
    const int64_t stride = tileK + kSharedPad;
    const int64_t fragmentsN = tileN / 8;
    const int64_t fragments = tileM / 16 * fragmentsN;
    const int64_t warps = std::min(kMaxWarps, fragments);
    const int64_t perWarp = fragments / warps, blockSize = warps * 32;
    if (grid > std::numeric_limits<int32_t>::max())
      return generic.emitError("kiln: contraction too large for one kernel");

    IRMapping map;
    gpu::GPUFuncOp kernel = createKernel(loc, map);
    kernel.setKnownBlockSizeAttr(
        OpBuilder(kernel).getDenseI32ArrayAttr({int32_t(blockSize), 1, 1}));
    MLIRContext *context = func.getContext();
    auto workgroup =
        gpu::AddressSpaceAttr::get(context, gpu::AddressSpace::Workgroup);
    Type f16 = Float16Type::get(context), f32 = Float32Type::get(context);
    Value sharedA = kernel.addWorkgroupAttribution(
        MemRefType::get({tileM * stride}, f16, AffineMap(), workgroup), loc);
    Value sharedB = kernel.addWorkgroupAttribution(
        MemRefType::get({tileN * stride}, f16, AffineMap(), workgroup), loc);
    OpBuilder b = OpBuilder::atBlockEnd(&kernel.getBody().front());
    if (failed(materializeInputs(b, map, {generic})))
      return failure();
    IndexMath math{b, loc};

    Value thread = b.create<gpu::ThreadIdOp>(loc, gpu::Dimension::x);
    Value blockId = b.create<gpu::BlockIdOp>(loc, gpu::Dimension::x);
    Value lane = math.rem(thread, 32), warp = math.div(thread, 32);
    Value group = math.div(lane, 4), inGroup = math.rem(lane, 4);
    Value m0, n0;
    SmallVector<Value> coords = tiles.origin(math, blockId, m0, n0);
    // The first row and column (in the tile) of this warp's fragments.
    SmallVector<Value> fragmentRow, fragmentColumn;
    for (int64_t j = 0; j < perWarp; ++j) {
      Value fragment = math.add(warp, math.index(j * warps));
      fragmentRow.push_back(math.mul(math.div(fragment, fragmentsN), 16));
      fragmentColumn.push_back(math.mul(math.rem(fragment, fragmentsN), 8));
    }
    /// The output coordinates of accumulator q of fragment j.
    auto accumulatorCoords = [&](int64_t j, int64_t q, bool clamp,
                                 Value *inRange) {
      Value m = math.add(math.add(m0, fragmentRow[j]),
                         math.add(group, math.index(q / 2 * 8)));
      Value n = math.add(math.add(n0, fragmentColumn[j]),
                         math.add(math.mul(inGroup, 2), math.index(q % 2)));
      return tiles.outputCoords(math, coords, m, n, clamp, inRange);
    };

    OpOperand *output = generic.getDpsInitOperand(0);
    Value outputBuffer = map.lookup(output->get());
    AffineMap outputMap = generic.getMatchingIndexingMap(output);
    SmallVector<Value> accumulators;
    for (int64_t j = 0; j < perWarp; ++j)
      for (int64_t q = 0; q < 4; ++q)
        accumulators.push_back(b.create<memref::LoadOp>(
            loc, outputBuffer,
            math.apply(outputMap, accumulatorCoords(j, q, true, nullptr))));

    auto chunks =
        b.create<scf::ForOp>(loc, math.index(0), math.index(reduction),
                             math.index(tileK), accumulators);
    b.setInsertionPointToStart(chunks.getBody());
    Value k0 = chunks.getInductionVar();
    // Stage `input`'s tile positions along `dim` (from `origin`, `extent`
    // of them) and the chunk into `shared` as f16, [position][k]; the copy
    // follows the input's contiguous index.
    auto stage = [&](OpOperand *input, Value shared, int64_t dim, Value origin,
                     int64_t extent, int64_t range) {
      AffineMap inputMap = generic.getMatchingIndexingMap(input);
      bool positionFastest = inputMap.getNumResults() > 0 &&
                             inputMap.getResults().back().isFunctionOfDim(dim);
      auto copy = b.create<scf::ForOp>(loc, thread, math.index(extent * tileK),
                                       math.index(blockSize));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(copy.getBody());
      Value e = copy.getInductionVar();
      Value position =
          positionFastest ? math.rem(e, extent) : math.div(e, tileK);
      Value kl = positionFastest ? math.div(e, extent) : math.rem(e, tileK);
      Value r = math.add(k0, kl);
      SmallVector<Value> c(coords);
      c[dim] = math.add(origin, position);
      Value valid =
          math.both(math.less(r, reduction), math.less(c[dim], range));
      auto ifValid = b.create<scf::IfOp>(loc, f16, valid, true);
      b.setInsertionPointToStart(&ifValid.getThenRegion().front());
      tiles.reductionCoords(math, r, c);
      Value value = b.create<memref::LoadOp>(loc, map.lookup(input->get()),
                                             math.apply(inputMap, c));
      if (!value.getType().isF16())
        value = b.create<arith::TruncFOp>(loc, f16, value);
      b.create<scf::YieldOp>(loc, value);
      b.setInsertionPointToStart(&ifValid.getElseRegion().front());
      b.create<scf::YieldOp>(loc, ValueRange{b.create<arith::ConstantOp>(
                                      loc, b.getFloatAttr(f16, 0.0))});
      b.setInsertionPointAfter(ifValid);
      b.create<memref::StoreOp>(
          loc, ifValid.getResult(0), shared,
          ValueRange{math.add(math.mul(position, stride), kl)});
    };
    stage(operands.a, sharedA, dimM, m0, tileM, rangeM);
    stage(operands.b, sharedB, dimN, n0, tileN, rangeN);
    b.create<gpu::BarrierOp>(loc);

    // mma.sync per 8 reduction steps and fragment.
    auto pairType = VectorType::get({2}, f16);
    auto i32 = b.getI32Type();
    Value first = b.create<LLVM::ConstantOp>(loc, i32, b.getI32IntegerAttr(0));
    Value second = b.create<LLVM::ConstantOp>(loc, i32, b.getI32IntegerAttr(1));
    /// The two f16 at `row` (in the tile), k = 8 step + 2 (lane % 4) and the
    /// next, of `shared`.
    auto pair = [&](Value shared, Value row, int64_t step) -> Value {
      Value offset =
          math.add(math.mul(row, stride),
                   math.add(math.mul(inGroup, 2), math.index(step * 8)));
      Value low = b.create<memref::LoadOp>(loc, shared, offset);
      Value high = b.create<memref::LoadOp>(loc, shared,
                                            math.add(offset, math.index(1)));
      Value v = b.create<LLVM::UndefOp>(loc, pairType);
      v = b.create<LLVM::InsertElementOp>(loc, v, low, first);
      return b.create<LLVM::InsertElementOp>(loc, v, high, second);
    };
    auto resultType =
        LLVM::LLVMStructType::getLiteral(context, {f32, f32, f32, f32});
    SmallVector<Value> sums(chunks.getRegionIterArgs());
    for (int64_t step = 0; step < tileK / 8; ++step)
      for (int64_t j = 0; j < perWarp; ++j) {
        Value row = math.add(fragmentRow[j], group);
        Value a[] = {pair(sharedA, row, step),
                     pair(sharedA, math.add(row, math.index(8)), step)};
        Value bPair = pair(sharedB, math.add(fragmentColumn[j], group), step);
        auto mma = b.create<NVVM::MmaOp>(
            loc, resultType, a, ValueRange{bPair},
            ArrayRef<Value>(sums).slice(j * 4, 4), ArrayRef<int64_t>{16, 8, 8},
            std::nullopt, std::nullopt,
            std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::f16,
                                          NVVM::MMATypes::f16},
            std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                           NVVM::MMALayout::col});
        for (int64_t q = 0; q < 4; ++q)
          sums[j * 4 + q] = b.create<LLVM::ExtractValueOp>(
              loc, mma.getResult(), ArrayRef<int64_t>{q});
      }
    b.create<gpu::BarrierOp>(loc);
    b.create<scf::YieldOp>(loc, sums);

    // Store the accumulators that are in range.
    b.setInsertionPointAfter(chunks);
    for (int64_t j = 0; j < perWarp; ++j)
      for (int64_t q = 0; q < 4; ++q) {
        Value inRange;
        SmallVector<Value> c = accumulatorCoords(j, q, false, &inRange);
        auto ifIn = b.create<scf::IfOp>(loc, inRange, false);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&ifIn.getThenRegion().front());
        b.create<memref::StoreOp>(loc, chunks.getResult(j * 4 + q),
                                  outputBuffer, math.apply(outputMap, c));
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
