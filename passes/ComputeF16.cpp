//===- ComputeF16.cpp - fp16 arithmetic for --precision fp16 --------------===//
//
// On targets with fp16 arithmetic, `--precision fp16` computes the graph in
// f16: every op's f32 tensors become f16, except the ops whose sums need f32
// (reductions, normalisations, softmax), which run in f32 between casts.
// Graph inputs and outputs keep their types: a cast follows each f32 input
// and precedes each f32 output.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_COMPUTEF16
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {

bool isF32Tensor(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && tensor.getElementType().isF32();
}

/// `type` with f16 for f32 (other types unchanged).
Type withF16(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.getElementType().isF32())
    return type;
  return RankedTensorType::get(tensor.getShape(),
                               Float16Type::get(type.getContext()));
}

/// Ops that keep f32: those whose sums or statistics f16 would round too
/// coarsely (reductions over many values, pooled averages, running sums,
/// normalisation statistics, softmax); and the int8 convolution's float
/// epilogue, whose scale operand is f32. Matrix products and convolutions
/// compute in f16, as XNNPACK's and MLAS's f16 kernels do.
bool keepsF32(Operation *op) {
  return isa<SoftmaxOp, LogSoftmaxOp, LayerNormOp, BatchNormOp, AveragePoolOp,
             CumSumOp, ReduceSumOp, ReduceMeanOp, ReduceProdOp,
             ReduceSumSquareOp, ReduceL1Op, ReduceL2Op, ReduceLogSumExpOp,
             ReduceLogSumOp, QuantizedConv2DNchwcOp>(op);
}

struct ComputeF16Pass
    : public mlir::kiln::impl::ComputeF16Base<ComputeF16Pass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    Block &body = func.getBody().front();
    SmallVector<Operation *> ops =
        llvm::map_to_vector(body, [](Operation &op) { return &op; });

    OpBuilder b(&body, body.begin());
    for (BlockArgument input : body.getArguments())
      if (isF32Tensor(input.getType())) {
        auto cast =
            b.create<CastOp>(input.getLoc(), withF16(input.getType()), input);
        input.replaceAllUsesExcept(cast.getResult(), cast.getOperation());
      }

    for (Operation *op : ops) {
      b.setInsertionPoint(op);
      // Operands to the type the op computes in.
      bool f32 = keepsF32(op) || isa<func::ReturnOp>(op);
      for (OpOperand &operand : op->getOpOperands()) {
        Type type = operand.get().getType();
        auto tensor = dyn_cast<RankedTensorType>(type);
        if (!tensor || !isa<FloatType>(tensor.getElementType()))
          continue;
        if (!f32) {
          if (tensor.getElementType().isF32())
            operand.set(
                b.create<CastOp>(op->getLoc(), withF16(type), operand.get()));
          continue;
        }
        if (!tensor.getElementType().isF16() ||
            !producedByConversion(operand.get()))
          continue;
        // An f32 value cast to f16 is read before the cast, not rounded.
        auto cast = operand.get().getDefiningOp<CastOp>();
        if (cast && isF32Tensor(cast.getInput().getType()))
          operand.set(cast.getInput());
        else
          operand.set(b.create<CastOp>(
              op->getLoc(),
              RankedTensorType::get(tensor.getShape(), b.getF32Type()),
              operand.get()));
      }
      // An op that reads no float tensor (a constant, a cast from integers
      // aside) has its result type from its attributes: it stays f32, and
      // the casts its users get fold into it.
      bool readsFloat = llvm::any_of(op->getOperandTypes(), [](Type type) {
        auto tensor = dyn_cast<RankedTensorType>(type);
        return tensor && isa<FloatType>(tensor.getElementType());
      });
      if (f32 || (!readsFloat && !isa<CastOp>(op)))
        continue;
      for (OpResult result : op->getResults())
        if (isF32Tensor(result.getType())) {
          result.setType(withF16(result.getType()));
          converted.insert(result);
        }
    }
  }

  /// Whether `value` is f16 because this pass made it so (a graph's own f16
  /// tensors stay f16 everywhere).
  bool producedByConversion(Value value) {
    if (converted.contains(value))
      return true;
    auto cast = value.getDefiningOp<CastOp>();
    return cast && isF32Tensor(cast.getInput().getType());
  }

  llvm::DenseSet<Value> converted;
};

} // namespace
