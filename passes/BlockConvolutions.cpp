//===- BlockConvolutions.cpp - NCHW convolutions -> NCHW16c ---------------===//
//
// Rewrites 2-D convolutions to kiln.conv2d_nchwc: the data in 16-channel
// blocks (channels padded with zeros to whole blocks), the filter packed at
// compile time into the order the direct-convolution microkernel reads, and
// the residual add and activation that follow folded into the op, so that
// the kernel applies them while the output tile is in registers. Layout
// changes are kiln.to_nchwc / kiln.from_nchwc on each side; between two
// blocked convolutions they fold away, so a chain of convolutions (a ResNet,
// a MobileNet) changes layout only at its ends.
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

int64_t blocksOf(int64_t channels) { return (channels + kBlock - 1) / kBlock; }

/// Filter [F, C, KH, KW] -> [F/16, C/16, KH, KW, 16 (c), 16 (f)], zero for
/// the padding channels.
ConstantTensor packFilter(const ConstantTensor &filter) {
  ArrayRef<int64_t> s = filter.getShape();
  int64_t features = s[0], channels = s[1], kh = s[2], kw = s[3];
  auto type = RankedTensorType::get(
      {blocksOf(features), blocksOf(channels), kh, kw, kBlock, kBlock},
      filter.getType().getElementType());
  ConstantTensor packed(type);
  int64_t to = 0;
  for (int64_t fb = 0; fb < blocksOf(features); ++fb)
    for (int64_t cb = 0; cb < blocksOf(channels); ++cb)
      for (int64_t y = 0; y < kh; ++y)
        for (int64_t x = 0; x < kw; ++x)
          for (int64_t c = 0; c < kBlock; ++c)
            for (int64_t f = 0; f < kBlock; ++f, ++to) {
              int64_t feature = fb * kBlock + f, channel = cb * kBlock + c;
              if (feature < features && channel < channels)
                packed.set(to, filter.getFloat(
                                   ((feature * channels + channel) * kh + y) *
                                       kw +
                                   x));
              else
                packed.set(to, 0.0);
            }
  return packed;
}

/// Filter [F, C, KH, KW] of a plain input (C < 16) -> [F/16, 1, KH, KW, C,
/// 16 (f)], zero for the padding output channels.
ConstantTensor packPlainInputFilter(const ConstantTensor &filter) {
  ArrayRef<int64_t> s = filter.getShape();
  int64_t features = s[0], channels = s[1], kh = s[2], kw = s[3];
  auto type = RankedTensorType::get(
      {blocksOf(features), 1, kh, kw, channels, kBlock},
      filter.getType().getElementType());
  ConstantTensor packed(type);
  int64_t to = 0;
  for (int64_t fb = 0; fb < blocksOf(features); ++fb)
    for (int64_t y = 0; y < kh; ++y)
      for (int64_t x = 0; x < kw; ++x)
        for (int64_t c = 0; c < channels; ++c)
          for (int64_t f = 0; f < kBlock; ++f, ++to) {
            int64_t feature = fb * kBlock + f;
            packed.set(to, feature < features
                               ? filter.getFloat(
                                     ((feature * channels + c) * kh + y) * kw +
                                     x)
                               : 0.0);
          }
  return packed;
}

/// Depthwise filter [C, 1, KH, KW] -> [C/16, KH, KW, 16], zero for the
/// padding channels.
ConstantTensor packDepthwiseFilter(const ConstantTensor &filter) {
  ArrayRef<int64_t> s = filter.getShape();
  int64_t channels = s[0], kh = s[2], kw = s[3];
  auto type = RankedTensorType::get({blocksOf(channels), kh, kw, kBlock},
                                    filter.getType().getElementType());
  ConstantTensor packed(type);
  int64_t to = 0;
  for (int64_t cb = 0; cb < blocksOf(channels); ++cb)
    for (int64_t y = 0; y < kh; ++y)
      for (int64_t x = 0; x < kw; ++x)
        for (int64_t c = 0; c < kBlock; ++c, ++to) {
          int64_t channel = cb * kBlock + c;
          packed.set(to, channel < channels
                             ? filter.getFloat(((channel * kh) + y) * kw + x)
                             : 0.0);
        }
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
    if (conv.getGroup() != 1 && !depthwise)
      return;
    // Padding channels to whole blocks costs work; beyond half as much
    // again the GEMM kernel is faster. An input of fewer than 16 channels
    // (an image) is read plain instead of padded.
    bool plainInput = !depthwise && channels < kBlock;
    int64_t padded =
        blocksOf(features) * kBlock *
        (depthwise || plainInput ? 1 : blocksOf(channels) * kBlock);
    if (2 * padded > 3 * features * (depthwise || plainInput ? 1 : channels))
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
      double lo = clip.getMin() ? clip.getMin()->convertToDouble()
                                : -std::numeric_limits<double>::infinity();
      double hi = clip.getMax() ? clip.getMax()->convertToDouble()
                                : std::numeric_limits<double>::infinity();
      // Padding channels must stay zero (see kiln.to_nchwc): a clip that
      // moves 0 stays a separate op when there are any.
      if ((lo <= 0 && hi >= 0) || features % kBlock == 0)
        activation = "clip", low = lo, high = hi, chain.push_back(clip);
    }

    Operation *last = chain.back();
    OpBuilder b(last);
    Location loc = conv.getLoc();
    Value input = plainInput
                      ? conv.getInput()
                      : b.create<ToNchwcOp>(loc, conv.getInput()).getResult();
    Value packed = b.create<ConstantOp>(
        conv.getFilter().getLoc(),
        (depthwise    ? packDepthwiseFilter(*filter)
         : plainInput ? packPlainInputFilter(*filter)
                      : packFilter(*filter))
            .toAttr());
    Value blockedBias;
    if (bias) {
      auto type = RankedTensorType::get({blocksOf(features), kBlock},
                                        inType.getElementType());
      ConstantTensor reshaped(type);
      for (int64_t f = 0; f < blocksOf(features) * kBlock; ++f)
        reshaped.set(f, f < features ? bias->getFloat(f) : 0.0);
      blockedBias = b.create<ConstantOp>(loc, reshaped.toAttr());
    }
    Value blockedResidual =
        residual ? b.create<ToNchwcOp>(residual.getLoc(), residual).getResult()
                 : Value();
    auto blocked = b.create<Conv2DNchwcOp>(
        loc, input, packed, blockedBias, blockedResidual,
        conv.getStridesAttr(), conv.getPadsAttr(), conv.getDilationsAttr(),
        depthwise ? b.getUnitAttr() : UnitAttr(), b.getStringAttr(activation),
        low ? b.getF64FloatAttr(*low) : FloatAttr(),
        high ? b.getF64FloatAttr(*high) : FloatAttr());
    last->getResult(0).replaceAllUsesWith(
        b.create<FromNchwcOp>(loc, last->getResult(0).getType(), blocked));
    for (Operation *op : llvm::reverse(chain))
      op->erase();
  }
};

} // namespace
