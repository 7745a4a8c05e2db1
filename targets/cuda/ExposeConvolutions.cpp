//===- ExposeConvolutions.cpp - NCHWc convolutions as reductions ----------===//
//
// For the CPU, kiln-to-linalg writes kiln.conv2d_nchwc as an all-parallel
// generic whose body loops over the window (the reference the CPU
// microkernels replace). A GPU needs the reduction in the iteration space,
// where kiln-cuda-map-dispatches tiles it through shared memory; and affine
// indexing maps, so the zero padding becomes an explicit padded copy.
//
//===----------------------------------------------------------------------===//

#include "targets/cuda/Passes.h"

#include "dialects/kiln/IR/KilnDialect.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::kiln::cuda {
#define GEN_PASS_DEF_CUDAEXPOSECONVOLUTIONS
#include "targets/cuda/Passes.h.inc"
} // namespace mlir::kiln::cuda

using namespace mlir;

namespace {

Value floatConstant(OpBuilder &b, Location loc, Type type, double value) {
  return b.create<arith::ConstantOp>(loc, type, b.getFloatAttr(type, value));
}

struct ExposeConv2DNchwc : public OpRewritePattern<kiln::Conv2DNchwcOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(kiln::Conv2DNchwcOp op,
                                PatternRewriter &rewriter) const override {
    auto inputType = cast<RankedTensorType>(op.getInput().getType());
    auto filterType = cast<RankedTensorType>(op.getFilter().getType());
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Type f32 = rewriter.getF32Type();
    // f32 activations; f32 weights, or f16 (`--precision fp16`), which
    // kiln-cuda-map-dispatches computes on tensor cores.
    Type filterElement = filterType.getElementType();
    if (inputType.getElementType() != f32 ||
        (filterElement != f32 && !filterElement.isF16()) ||
        resultType.getElementType() != f32 || !inputType.hasStaticShape() ||
        !resultType.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "not a static f32 convolution");
    /// `v` as f32.
    auto extended = [&](OpBuilder &b, Location l, Value v) -> Value {
      return v.getType() == f32 ? v : b.create<arith::ExtFOp>(l, f32, v);
    };
    Location loc = op.getLoc();
    MLIRContext *context = op.getContext();
    ArrayRef<int64_t> strides = op.getStrides(), pads = op.getPads(),
                      dilations = op.getDilations();
    bool depthwise = op.getDepthwise();
    bool plain = inputType.getRank() == 4; // [N, C, H, W]: an image

    // The input with its zero padding written out.
    Value input = op.getInput();
    if (llvm::any_of(pads, [](int64_t p) { return p != 0; })) {
      SmallVector<int64_t> shape(inputType.getShape());
      shape[2] += pads[0] + pads[2];
      shape[3] += pads[1] + pads[3];
      auto paddedType = RankedTensorType::get(shape, f32);
      unsigned rank = shape.size();
      Value empty = rewriter.create<tensor::EmptyOp>(loc, shape, f32);
      auto copy = rewriter.create<linalg::GenericOp>(
          loc, paddedType, ValueRange{}, empty,
          ArrayRef<AffineMap>{AffineMap::getMultiDimIdentityMap(rank, context)},
          SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
          [&](OpBuilder &b, Location l, ValueRange) {
            SmallVector<Value> at;
            Value inside;
            for (unsigned d = 0; d < rank; ++d) {
              Value i = b.create<linalg::IndexOp>(l, d);
              if (d == 2 || d == 3) {
                int64_t before = pads[d - 2], size = inputType.getDimSize(d);
                Value from = b.create<arith::SubIOp>(
                    l, i, b.create<arith::ConstantIndexOp>(l, before));
                Value above = b.create<arith::CmpIOp>(
                    l, arith::CmpIPredicate::sge, from,
                    b.create<arith::ConstantIndexOp>(l, 0));
                Value below = b.create<arith::CmpIOp>(
                    l, arith::CmpIPredicate::slt, from,
                    b.create<arith::ConstantIndexOp>(l, size));
                Value in = b.create<arith::AndIOp>(l, above, below);
                inside = inside ? b.create<arith::AndIOp>(l, inside, in) : in;
                i = b.create<arith::SelectOp>(
                    l, in, from, b.create<arith::ConstantIndexOp>(l, 0));
              }
              at.push_back(i);
            }
            Value element = b.create<tensor::ExtractOp>(l, input, at);
            b.create<linalg::YieldOp>(
                l, ValueRange{b.create<arith::SelectOp>(
                       l, inside, element, floatConstant(b, l, f32, 0))});
          });
      input = copy.getResult(0);
    }

    // The reduction over (n, fb, oy, ox, f | cb, y, x, c), or
    // (n, fb, oy, ox, f | y, x) when depthwise.
    auto d = [&](unsigned i) { return getAffineDimExpr(i, context); };
    unsigned numDims = depthwise ? 7 : 9;
    AffineExpr y = d(5), x = d(6);
    AffineExpr iy = d(2) * strides[0] + y * dilations[0];
    AffineExpr ix = d(3) * strides[1] + x * dilations[1];
    SmallVector<AffineExpr> inputExprs, filterExprs;
    if (depthwise) {
      inputExprs = {d(0), d(1), iy, ix, d(4)};
      filterExprs = {d(1), y, x, d(4)};
    } else {
      AffineExpr cb = d(5), c = d(8);
      iy = d(2) * strides[0] + d(6) * dilations[0];
      ix = d(3) * strides[1] + d(7) * dilations[1];
      inputExprs = plain ? SmallVector<AffineExpr>{d(0), c, iy, ix}
                         : SmallVector<AffineExpr>{d(0), cb, iy, ix, c};
      filterExprs = {d(1), cb, d(6), d(7), c, d(4)};
    }
    SmallVector<utils::IteratorType> iterators(numDims,
                                               utils::IteratorType::reduction);
    std::fill_n(iterators.begin(), 5, utils::IteratorType::parallel);
    Value zero = floatConstant(rewriter, loc, f32, 0);
    Value init =
        rewriter
            .create<linalg::FillOp>(loc, zero,
                                    ValueRange{rewriter.create<tensor::EmptyOp>(
                                        loc, resultType.getShape(), f32)})
            .getResult(0);
    Value sum =
        rewriter
            .create<linalg::GenericOp>(
                loc, resultType, ValueRange{input, op.getFilter()}, init,
                ArrayRef<AffineMap>{
                    AffineMap::get(numDims, 0, inputExprs, context),
                    AffineMap::get(numDims, 0, filterExprs, context),
                    AffineMap::get(numDims, 0, {d(0), d(1), d(2), d(3), d(4)},
                                   context)},
                iterators,
                [&](OpBuilder &b, Location l, ValueRange args) {
                  Value product = b.create<arith::MulFOp>(
                      l, args[0], extended(b, l, args[1]));
                  b.create<linalg::YieldOp>(
                      l,
                      ValueRange{b.create<arith::AddFOp>(l, args[2], product)});
                })
            .getResult(0);

    // The epilogue: bias, residual, activation, as the CPU's.
    Value bias = op.getBias(), residual = op.getResidual();
    StringRef activation = op.getActivation();
    if (!bias && !residual && activation == "none") {
      rewriter.replaceOp(op, sum);
      return success();
    }
    AffineMap identity = AffineMap::getMultiDimIdentityMap(5, context);
    SmallVector<Value> inputs = {sum};
    SmallVector<AffineMap> maps = {identity};
    if (bias) {
      inputs.push_back(bias);
      maps.push_back(AffineMap::get(5, 0, {d(1), d(4)}, context));
    }
    if (residual) {
      inputs.push_back(residual);
      maps.push_back(identity);
    }
    maps.push_back(identity);
    double low = op.getClipMin() ? op.getClipMin()->convertToDouble() : 0.0;
    double high = op.getClipMax() ? op.getClipMax()->convertToDouble() : 0.0;
    Value output =
        rewriter
            .create<linalg::GenericOp>(
                loc, resultType, inputs,
                ValueRange{rewriter.create<tensor::EmptyOp>(
                    loc, resultType.getShape(), f32)},
                maps,
                SmallVector<utils::IteratorType>(5,
                                                 utils::IteratorType::parallel),
                [&](OpBuilder &b, Location l, ValueRange args) {
                  Value v = args[0];
                  for (unsigned i = 1; i < inputs.size(); ++i)
                    v = b.create<arith::AddFOp>(l, v, extended(b, l, args[i]));
                  if (activation == "relu" || activation == "clip")
                    v = b.create<arith::MaximumFOp>(
                        l, v,
                        floatConstant(b, l, f32,
                                      activation == "relu" ? 0.0 : low));
                  if (activation == "clip")
                    v = b.create<arith::MinimumFOp>(
                        l, v, floatConstant(b, l, f32, high));
                  b.create<linalg::YieldOp>(l, ValueRange{v});
                })
            .getResult(0);
    rewriter.replaceOp(op, output);
    return success();
  }
};

struct CudaExposeConvolutionsPass
    : public mlir::kiln::cuda::impl::CudaExposeConvolutionsBase<
          CudaExposeConvolutionsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ExposeConv2DNchwc>(&getContext());
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
