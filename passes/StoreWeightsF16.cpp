//===- StoreWeightsF16.cpp - fp16 weights for --precision fp16 ------------===//
//
// The weights of convolutions and matrix products become f16 constants
// that the ops read directly: the bundle's WEIGHTS section is about half the
// size and the kernels load half the bytes. Each op still computes in its
// data type (f32), widening every weight as it loads it, which is exact.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

#include <cmath>

namespace mlir::kiln {
#define GEN_PASS_DEF_STOREWEIGHTSF16
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {

/// The largest finite f16.
constexpr float kHalfMax = 65504.0f;

/// Whether `use` is the weight operand of an op that reads f16 weights:
/// a convolution's filter, a matrix product's right-hand side, Gemm's B.
bool isWeightOperand(OpOperand &use) {
  Operation *owner = use.getOwner();
  if (use.getOperandNumber() != 1 || !isa<ConvOp, MatMulOp, GemmOp>(owner))
    return false;
  auto data = dyn_cast<RankedTensorType>(owner->getOperand(0).getType());
  return data && data.getElementType().isF32();
}

struct StoreWeightsF16Pass
    : public mlir::kiln::impl::StoreWeightsF16Base<StoreWeightsF16Pass> {
  void runOnOperation() override {
    SmallVector<ConstantOp> weights;
    getOperation().walk([&](ConstantOp constant) {
      auto type = dyn_cast<RankedTensorType>(constant.getType());
      if (type && type.getElementType().isF32() && !constant->use_empty() &&
          llvm::all_of(constant->getUses(), isWeightOperand))
        weights.push_back(constant);
    });
    for (ConstantOp constant : weights)
      convert(constant);
  }

  void convert(ConstantOp constant) {
    std::optional<std::vector<float>> values = floatValues(constant);
    if (!values)
      return;
    // A weight beyond f16's range stays f32 rather than become infinite.
    for (float v : *values)
      if (std::isfinite(v) && std::fabs(v) > kHalfMax)
        return;
    auto type = cast<RankedTensorType>(constant.getType());
    OpBuilder b(constant);
    auto half = b.create<ConstantOp>(
        constant.getLoc(), floatAttr(type.getShape(), *values, b.getF16Type()));
    // The users' result types do not change: they follow their data
    // operand, which stays f32.
    constant.getResult().replaceAllUsesWith(half.getResult());
    constant->erase();
  }
};

} // namespace
