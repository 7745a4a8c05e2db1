//===- PackMatmulWeights.cpp - constant matmul operands packed ------------===//
//
// A matrix product by a constant matrix (a linear layer's weights) reads
// that matrix in the panels the microkernel's register tile consumes. Packed
// at run time, every call copies the whole matrix (1 MB for a transformer's
// 256 x 1024 feed-forward weights) before it computes anything; packed here,
// once, the bundle stores the panels and the kernel reads them in place.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_PACKMATMULWEIGHTS
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {

constexpr int64_t kPanel = MatMulPackedOp::kPanel;

/// B [K, N] -> [P, K, 16]: B(k, n) at [n / 16, k, n % 16], zero past N,
/// P = 2 * ceil(N / 32).
std::vector<float> packPanels(ArrayRef<float> b, int64_t k, int64_t n,
                              int64_t panels) {
  std::vector<float> packed(panels * k * kPanel, 0.0f);
  for (int64_t row = 0; row < k; ++row)
    for (int64_t column = 0; column < n; ++column)
      packed[(column / kPanel * k + row) * kPanel + column % kPanel] =
          b[row * n + column];
  return packed;
}

struct PackMatmulWeightsPass
    : public mlir::kiln::impl::PackMatmulWeightsBase<PackMatmulWeightsPass> {
  void runOnOperation() override {
    SmallVector<MatMulOp> products;
    getOperation().walk([&](MatMulOp op) { products.push_back(op); });
    for (MatMulOp op : products)
      pack(op);
  }

  void pack(MatMulOp op) {
    auto lhsType = op.getLhs().getType();
    auto rhsType = op.getRhs().getType();
    if (lhsType.getRank() < 2 || rhsType.getRank() != 2 ||
        !isa<Float32Type, Float16Type>(lhsType.getElementType()) ||
        !op.getType().hasStaticShape())
      return;
    // One or two rows (a classifier at batch 1) are a matrix-vector
    // product: the kernel reads B in place along its rows, unpacked.
    int64_t rows = 1;
    for (int64_t dim : lhsType.getShape().drop_back())
      rows *= dim;
    if (rows <= 2)
      return;
    // Copied last: weights can be large and most refusals are cheaper.
    std::optional<std::vector<float>> b = floatValues(op.getRhs());
    if (!b)
      return;
    int64_t k = rhsType.getDimSize(0), n = rhsType.getDimSize(1);
    int64_t panels = MatMulPackedOp::panelsFor(n);
    OpBuilder builder(op);
    Value packed = builder.create<ConstantOp>(
        op.getRhs().getLoc(),
        floatAttr({panels, k, kPanel}, packPanels(*b, k, n, panels),
                  rhsType.getElementType()));
    Value product = builder.create<MatMulPackedOp>(op.getLoc(), op.getType(),
                                                   op.getLhs(), packed);
    op.replaceAllUsesWith(product);
    op->erase();
  }
};

} // namespace
