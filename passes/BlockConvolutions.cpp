//===- BlockConvolutions.cpp - NCHW convolutions -> NCHW16c ---------------===//
//
// Rewrites 2-D convolutions whose channel counts are multiples of 16 to
// kiln.conv2d_nchwc: the data in 16-channel blocks, the filter packed at
// compile time into the order the direct-convolution microkernel reads, and
// the residual add and activation that follow folded into the op, so that
// the kernel applies them while the output tile is in registers. Layout
// changes are a reshape and a transpose on each side; between two blocked
// convolutions they compose to the identity and fold away, so a chain of
// convolutions (a ResNet) changes layout only at its ends.
//
//===----------------------------------------------------------------------===//

#include "dialects/kiln/IR/ConstantTensor.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

#include <limits>

namespace mlir::kiln {
#define GEN_PASS_DEF_BLOCKCONVOLUTIONS
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {

constexpr int64_t kBlock = Conv2DNchwcOp::kChannelBlock;

/// [N, C, H, W] -> [N, C/16, H, W, 16].
Value toBlocked(OpBuilder &b, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  ArrayRef<int64_t> s = type.getShape();
  auto split = RankedTensorType::get({s[0], s[1] / kBlock, kBlock, s[2], s[3]},
                                     type.getElementType());
  Value reshaped = b.create<ReshapeOp>(loc, split, value);
  return b.create<TransposeOp>(loc, reshaped,
                               b.getDenseI64ArrayAttr({0, 1, 3, 4, 2}));
}

/// [N, C/16, H, W, 16] -> [N, C, H, W].
Value toPlain(OpBuilder &b, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  ArrayRef<int64_t> s = type.getShape();
  Value moved = b.create<TransposeOp>(loc, value,
                                      b.getDenseI64ArrayAttr({0, 1, 4, 2, 3}));
  auto plain = RankedTensorType::get({s[0], s[1] * kBlock, s[2], s[3]},
                                     type.getElementType());
  return b.create<ReshapeOp>(loc, plain, moved);
}

/// Filter [F, C, KH, KW] -> [F/16, C/16, KH, KW, 16 (c), 16 (f)].
ConstantTensor packFilter(const ConstantTensor &filter) {
  ArrayRef<int64_t> s = filter.getShape();
  int64_t features = s[0], channels = s[1], kh = s[2], kw = s[3];
  auto type = RankedTensorType::get(
      {features / kBlock, channels / kBlock, kh, kw, kBlock, kBlock},
      filter.getType().getElementType());
  ConstantTensor packed(type);
  int64_t to = 0;
  for (int64_t fb = 0; fb < features / kBlock; ++fb)
    for (int64_t cb = 0; cb < channels / kBlock; ++cb)
      for (int64_t y = 0; y < kh; ++y)
        for (int64_t x = 0; x < kw; ++x)
          for (int64_t c = 0; c < kBlock; ++c)
            for (int64_t f = 0; f < kBlock; ++f) {
              int64_t from =
                  (((fb * kBlock + f) * channels + cb * kBlock + c) * kh + y) *
                      kw +
                  x;
              packed.set(to++, filter.getFloat(from));
            }
  return packed;
}

/// Depthwise filter [C, 1, KH, KW] -> [C/16, KH, KW, 16].
ConstantTensor packDepthwiseFilter(const ConstantTensor &filter) {
  ArrayRef<int64_t> s = filter.getShape();
  int64_t channels = s[0], kh = s[2], kw = s[3];
  auto type = RankedTensorType::get({channels / kBlock, kh, kw, kBlock},
                                    filter.getType().getElementType());
  ConstantTensor packed(type);
  int64_t to = 0;
  for (int64_t cb = 0; cb < channels / kBlock; ++cb)
    for (int64_t y = 0; y < kh; ++y)
      for (int64_t x = 0; x < kw; ++x)
        for (int64_t c = 0; c < kBlock; ++c)
          packed.set(to++, filter.getFloat(((cb * kBlock + c) * kh + y) * kw + x));
  return packed;
}

/// The value's only user, when it has exactly one.
Operation *soleUser(Value value) {
  return value.hasOneUse() ? *value.getUsers().begin() : nullptr;
}

struct BlockConvolutionsPass
    : public mlir::kiln::impl::BlockConvolutionsBase<BlockConvolutionsPass> {
  void runOnOperation() override {
    SmallVector<ConvOp> convs;
    getOperation().walk([&](ConvOp conv) { convs.push_back(conv); });
    for (ConvOp conv : convs)
      block(conv);
  }

  void block(ConvOp conv) {
    auto inType = conv.getInput().getType();
    auto filter = constantOf(conv.getFilter());
    std::optional<ConstantTensor> bias = constantOf(conv.getBias());
    if (inType.getRank() != 4 || !inType.getElementType().isF32() || !filter ||
        (conv.getBias() && !bias))
      return;
    int64_t channels = inType.getDimSize(1),
            features = filter->getShape()[0];
    bool depthwise = conv.getGroup() == channels && features == channels &&
                     channels > 1;
    if ((conv.getGroup() != 1 && !depthwise) || channels % kBlock ||
        features % kBlock)
      return;

    // The epilogue: [add of a same-shape residual], [relu or clip].
    SmallVector<Operation *> chain = {conv};
    Value residual;
    if (auto add = dyn_cast_or_null<AddOp>(soleUser(conv.getResult()))) {
      Value other = add.getLhs() == conv.getResult() ? add.getRhs()
                                                     : add.getLhs();
      if (other.getType() == conv.getType() && other != conv.getResult())
        residual = other, chain.push_back(add);
    }
    StringRef activation = "none";
    std::optional<double> low, high;
    Operation *user = soleUser(chain.back()->getResult(0));
    if (isa_and_nonnull<ReluOp>(user)) {
      activation = "relu", chain.push_back(user);
    } else if (auto clip = dyn_cast_or_null<ClipOp>(user)) {
      activation = "clip", chain.push_back(clip);
      low = clip.getMin() ? clip.getMin()->convertToDouble()
                          : -std::numeric_limits<double>::infinity();
      high = clip.getMax() ? clip.getMax()->convertToDouble()
                           : std::numeric_limits<double>::infinity();
    }

    Operation *last = chain.back();
    OpBuilder b(last);
    Location loc = conv.getLoc();
    Value input = toBlocked(b, loc, conv.getInput());
    Value packed = b.create<ConstantOp>(
        conv.getFilter().getLoc(),
        (depthwise ? packDepthwiseFilter(*filter) : packFilter(*filter))
            .toAttr());
    Value blockedBias;
    if (bias) {
      auto type = RankedTensorType::get({features / kBlock, kBlock},
                                        inType.getElementType());
      ConstantTensor reshaped(type);
      for (int64_t f = 0; f < features; ++f)
        reshaped.set(f, bias->getFloat(f));
      blockedBias = b.create<ConstantOp>(loc, reshaped.toAttr());
    }
    Value blockedResidual =
        residual ? toBlocked(b, residual.getLoc(), residual) : Value();
    auto blocked = b.create<Conv2DNchwcOp>(
        loc, input, packed, blockedBias, blockedResidual,
        conv.getStridesAttr(), conv.getPadsAttr(), conv.getDilationsAttr(),
        depthwise ? b.getUnitAttr() : UnitAttr(), b.getStringAttr(activation),
        low ? b.getF64FloatAttr(*low) : FloatAttr(),
        high ? b.getF64FloatAttr(*high) : FloatAttr());
    last->getResult(0).replaceAllUsesWith(toPlain(b, loc, blocked));
    for (Operation *op : llvm::reverse(chain))
      op->erase();
  }
};

} // namespace
