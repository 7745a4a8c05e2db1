//===- CountFlops.cpp - each ONNX node's contraction work -----------------===//
//
// The work of a dispatch, for `kiln bench --profile`'s GFLOP/s column, is the
// work of the ONNX nodes it covers, counted here before fusion rewrites the
// contractions (kiln-form-dispatches adds it up per dispatch).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_COUNTFLOPS
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {

int64_t elementsOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getNumElements();
}

/// The product of `shape`'s dims after the first.
int64_t trailingProduct(Value value) {
  ArrayRef<int64_t> shape = cast<RankedTensorType>(value.getType()).getShape();
  int64_t product = 1;
  for (int64_t dim : shape.drop_front())
    product *= dim;
  return product;
}

/// Multiply-adds of a matrix product whose result is `output` and whose
/// reduction runs over `lhs`'s last dim.
int64_t matmulMacs(Value lhs, Value output) {
  auto shape = cast<RankedTensorType>(lhs.getType()).getShape();
  return shape.empty() ? 0 : elementsOf(output) * shape.back();
}

/// Multiply-adds of `op`, or 0 when it is not a contraction.
int64_t multiplyAdds(Operation *op) {
  if (auto conv = dyn_cast<ConvOp>(op))
    // Each output reads C/group channels of the kernel window: the filter's
    // [C/group, k...] part.
    return elementsOf(conv.getOutput()) * trailingProduct(conv.getFilter());
  if (auto conv = dyn_cast<ConvTransposeOp>(op))
    // Each input element meets F/group x k... filter values.
    return elementsOf(conv.getInput()) * trailingProduct(conv.getFilter());
  if (auto matmul = dyn_cast<MatMulOp>(op))
    return matmulMacs(matmul.getLhs(), matmul.getOutput());
  if (auto matmul = dyn_cast<MatMulIntegerOp>(op))
    return matmulMacs(matmul.getLhs(), matmul.getOutput());
  if (auto gemm = dyn_cast<GemmOp>(op)) {
    auto a = cast<RankedTensorType>(gemm.getA().getType()).getShape();
    return a.size() != 2
               ? 0
               : elementsOf(gemm.getOutput()) * a[gemm.getTransA() ? 0 : 1];
  }
  return 0;
}

struct CountFlopsPass
    : public mlir::kiln::impl::CountFlopsBase<CountFlopsPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    llvm::MapVector<StringRef, int64_t> flops;
    func.walk([&](Operation *op) {
      int64_t macs = multiplyAdds(op);
      if (macs <= 0)
        return;
      SmallVector<StringRef> names;
      collectNodeNames(op->getLoc(), names);
      if (!names.empty())
        flops[names.front()] += 2 * macs;
    });
    if (flops.empty())
      return;
    Builder builder(&getContext());
    SmallVector<NamedAttribute> entries;
    for (auto [name, count] : flops)
      entries.push_back(
          builder.getNamedAttr(name, builder.getI64IntegerAttr(count)));
    func->setAttr(kNodeFlopsAttr, builder.getDictionaryAttr(entries));
  }
};

} // namespace
