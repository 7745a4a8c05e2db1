//===- FoldBatchNorm.cpp - fold inference batch norm into weights
//----------===//

#include "dialects/kiln/IR/ConstantTensor.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_FOLDBATCHNORM
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {

/// Folds `bn` into its producing convolution when that is possible, and
/// returns the replacement value; null otherwise.
Value foldIntoConv(OpBuilder &builder, BatchNormOp bn, ArrayRef<double> scale,
                   ArrayRef<double> shift) {
  auto conv = bn.getInput().getDefiningOp<ConvOp>();
  if (!conv || !conv->hasOneUse())
    return nullptr;
  auto filter = constantOf(conv.getFilter());
  std::optional<ConstantTensor> bias = constantOf(conv.getBias());
  if (!filter || !filter->isFloat() || (conv.getBias() && !bias))
    return nullptr;
  int64_t features = filter->getShape()[0];
  int64_t perFeature = filter->size() / features;
  ConstantTensor newFilter(filter->getType());
  for (int64_t i = 0; i < filter->size(); ++i)
    newFilter.set(i, filter->getFloat(i) * scale[i / perFeature]);
  auto biasType =
      RankedTensorType::get({features}, filter->getType().getElementType());
  ConstantTensor newBias(biasType);
  for (int64_t f = 0; f < features; ++f)
    newBias.set(f, (bias ? bias->getFloat(f) : 0.0) * scale[f] + shift[f]);
  builder.setInsertionPoint(conv);
  Value w =
      builder.create<ConstantOp>(conv.getFilter().getLoc(), newFilter.toAttr());
  Value b = builder.create<ConstantOp>(conv.getLoc(), newBias.toAttr());
  auto folded = builder.create<ConvOp>(
      builder.getFusedLoc({conv.getLoc(), bn.getLoc()}), conv.getType(),
      conv.getInput(), w, b, conv.getStridesAttr(), conv.getPadsAttr(),
      conv.getDilationsAttr(), conv.getGroupAttr());
  conv->replaceAllUsesWith(folded);
  conv->erase();
  return folded;
}

struct FoldBatchNormPass
    : public mlir::kiln::impl::FoldBatchNormBase<FoldBatchNormPass> {
  void runOnOperation() override {
    OpBuilder builder(&getContext());
    SmallVector<BatchNormOp> norms;
    getOperation().walk([&](BatchNormOp bn) { norms.push_back(bn); });
    for (BatchNormOp bn : norms) {
      auto gamma = constantOf(bn.getScale()), beta = constantOf(bn.getBias()),
           mean = constantOf(bn.getMean()), var = constantOf(bn.getVariance());
      if (!gamma || !beta || !mean || !var ||
          !isa<FloatType>(bn.getType().getElementType()))
        continue;
      double epsilon = bn.getEpsilon().convertToDouble();
      SmallVector<double> scale, shift;
      for (int64_t c = 0; c < gamma->size(); ++c) {
        double a = gamma->getFloat(c) / std::sqrt(var->getFloat(c) + epsilon);
        scale.push_back(a);
        shift.push_back(beta->getFloat(c) - mean->getFloat(c) * a);
      }
      Value replacement = foldIntoConv(builder, bn, scale, shift);
      if (!replacement) {
        // y = x * scale + shift with per-channel constants shaped [C,1,...].
        auto type = bn.getType();
        SmallVector<int64_t> shape = {(int64_t)scale.size()};
        shape.append(std::max<int64_t>(type.getRank() - 2, 0), 1);
        auto paramType = RankedTensorType::get(shape, type.getElementType());
        ConstantTensor a(paramType), b(paramType);
        for (size_t c = 0; c < scale.size(); ++c) {
          a.set(c, scale[c]);
          b.set(c, shift[c]);
        }
        builder.setInsertionPoint(bn);
        Value aValue = builder.create<ConstantOp>(bn.getLoc(), a.toAttr());
        Value bValue = builder.create<ConstantOp>(bn.getLoc(), b.toAttr());
        Value scaled =
            builder.create<MulOp>(bn.getLoc(), bn.getInput(), aValue);
        replacement = builder.create<AddOp>(bn.getLoc(), scaled, bValue);
      }
      bn.replaceAllUsesWith(replacement);
      bn->erase();
    }
  }
};

} // namespace
