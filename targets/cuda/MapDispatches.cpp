//===- MapDispatches.cpp - dispatch loop nests -> coalesced GPU kernels ---===//

#include "targets/cuda/Passes.h"

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

/// Rewrites the dispatch's linalg ops into loops: parallel dims as one
/// scf.parallel (outermost), reductions as scf.for inside it.
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
