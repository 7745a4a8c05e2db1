//===- LowerQuantizedTypes.cpp - !quant.uniform to storage integers -------===//
//
// The end of the quantize phase: what the integer ops did not absorb runs
// as float arithmetic on the stored integers, and every tensor of a
// quantized type becomes a tensor of its ONNX storage type, so the phases
// after it see only plain integers and floats.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/QuantizedTypes.h"

using namespace mlir;
using namespace mlir::kiln;

namespace mlir::kiln {
#define GEN_PASS_DEF_LOWERQUANTIZEDTYPES
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

namespace {

/// saturate(round_half_even(x / scale) + zero_point), as storage integers.
Value lowerQuantize(OpBuilder &b, QuantizeOp op) {
  Location loc = op.getLoc();
  auto type = uniformElementOf(op.getType());
  int64_t rank = op.getType().getRank();
  Value x = op.getInput();
  Value scaled =
      b.create<DivOp>(loc, x, quantizationScales(b, loc, type, rank));
  Value rounded = b.create<RoundOp>(loc, scaled.getType(), scaled);
  Value shifted = b.create<AddOp>(
      loc, rounded, quantizationZeroPoints(b, loc, type, rank, b.getF32Type()));
  Value clipped = b.create<ClipOp>(loc, shifted.getType(), shifted,
                                   b.getF64FloatAttr(type.getStorageTypeMin()),
                                   b.getF64FloatAttr(type.getStorageTypeMax()));
  return b.create<CastOp>(
      loc, withElementType(op.getType(), storageIntegerType(type)), clipped);
}

/// (q - zero_point) * scale, the difference exact in i32.
Value lowerDequantize(OpBuilder &b, DequantizeOp op) {
  Location loc = op.getLoc();
  auto type = uniformElementOf(op.getInput().getType());
  int64_t rank = op.getType().getRank();
  Value wide = b.create<CastOp>(
      loc, withElementType(op.getType(), b.getI32Type()), op.getInput());
  Value centered = b.create<SubOp>(
      loc, wide, quantizationZeroPoints(b, loc, type, rank, b.getI32Type()));
  Value real = b.create<CastOp>(loc, op.getType(), centered);
  return b.create<MulOp>(loc, real, quantizationScales(b, loc, type, rank));
}

struct LowerQuantizedTypesPass
    : mlir::kiln::impl::LowerQuantizedTypesBase<LowerQuantizedTypesPass> {
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<QuantizeOp, DequantizeOp, StorageCastOp>(op))
        ops.push_back(op);
    });
    // Build every replacement before replacing any value: a dequantize
    // reads its parameters from its operand's type, which a replaced
    // quantize would no longer have.
    OpBuilder b(&getContext());
    SmallVector<Value> replacements;
    DenseMap<Value, Value> replaced;
    for (Operation *op : ops) {
      b.setInsertionPoint(op);
      if (auto quantize = dyn_cast<QuantizeOp>(op))
        replacements.push_back(lowerQuantize(b, quantize));
      else if (auto dequantize = dyn_cast<DequantizeOp>(op))
        replacements.push_back(lowerDequantize(b, dequantize));
      else // a storage cast of a value replaced before it takes the new one
        replacements.push_back(replaced.count(op->getOperand(0))
                                   ? replaced[op->getOperand(0)]
                                   : op->getOperand(0));
      replaced[op->getResult(0)] = replacements.back();
    }
    for (auto [op, replacement] : llvm::zip(ops, replacements))
      op->getResult(0).replaceAllUsesWith(replacement);
    for (Operation *op : llvm::reverse(ops))
      op->erase();
    // Values the integer ops kept quantized (moved, pooled) hold their
    // storage integers.
    getOperation().walk([](Operation *op) {
      for (Value result : op->getResults())
        if (auto type = uniformElementOf(result.getType()))
          result.setType(
              withElementType(result.getType(), storageIntegerType(type)));
    });
  }
};

} // namespace
