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

/// The f32 elements of a constant filter (weights can be 100 MB: copied as
/// floats, not through ConstantTensor's doubles), or nothing.
std::optional<std::vector<float>> filterValues(Value filter) {
  auto constant = filter.getDefiningOp<ConstantOp>();
  auto dense =
      constant ? dyn_cast<DenseElementsAttr>(constant.getValue()) : nullptr;
  if (!dense || !dense.getElementType().isF32())
    return std::nullopt;
  auto values = dense.getValues<float>();
  return std::vector<float>(values.begin(), values.end());
}

DenseElementsAttr floatAttr(ArrayRef<int64_t> shape, ArrayRef<float> values,
                            MLIRContext *context) {
  auto type = RankedTensorType::get(shape, Float32Type::get(context));
  return DenseElementsAttr::get(type, values);
}

/// Filter [F, C, KH, KW] -> [F/16, C/16, KH, KW, 16 (c), 16 (f)], zero for
/// the padding channels.
std::vector<float> packFilter(ArrayRef<float> filter, int64_t features,
                              int64_t channels, int64_t kh, int64_t kw) {
  int64_t fbs = blocksOf(features), cbs = blocksOf(channels);
  std::vector<float> packed(fbs * cbs * kh * kw * kBlock * kBlock, 0.0f);
  for (int64_t f = 0; f < features; ++f)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t y = 0; y < kh; ++y)
        for (int64_t x = 0; x < kw; ++x)
          packed[((((f / kBlock * cbs + c / kBlock) * kh + y) * kw + x) *
                      kBlock +
                  c % kBlock) *
                     kBlock +
                 f % kBlock] = filter[((f * channels + c) * kh + y) * kw + x];
  return packed;
}

/// Filter [F, C, KH, KW] of a plain input (C < 16) -> [F/16, 1, KH, KW, C,
/// 16 (f)], zero for the padding output channels.
std::vector<float> packPlainInputFilter(ArrayRef<float> filter,
                                        int64_t features, int64_t channels,
                                        int64_t kh, int64_t kw) {
  std::vector<float> packed(blocksOf(features) * kh * kw * channels * kBlock,
                            0.0f);
  for (int64_t f = 0; f < features; ++f)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t y = 0; y < kh; ++y)
        for (int64_t x = 0; x < kw; ++x)
          packed[(((f / kBlock * kh + y) * kw + x) * channels + c) * kBlock +
                 f % kBlock] = filter[((f * channels + c) * kh + y) * kw + x];
  return packed;
}

/// Depthwise filter [C, 1, KH, KW] -> [C/16, KH, KW, 16], zero for the
/// padding channels.
std::vector<float> packDepthwiseFilter(ArrayRef<float> filter, int64_t channels,
                                       int64_t kh, int64_t kw) {
  std::vector<float> packed(blocksOf(channels) * kh * kw * kBlock, 0.0f);
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t y = 0; y < kh; ++y)
      for (int64_t x = 0; x < kw; ++x)
        packed[((c / kBlock * kh + y) * kw + x) * kBlock + c % kBlock] =
            filter[(c * kh + y) * kw + x];
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
    std::optional<ConstantTensor> bias = constantOf(conv.getBias());
    if (inType.getRank() != 4 || !inType.getElementType().isF32() ||
        (conv.getBias() && !bias))
      return;
    ArrayRef<int64_t> filterShape = conv.getFilter().getType().getShape();
    int64_t channels = inType.getDimSize(1), features = filterShape[0];
    int64_t kh = filterShape[2], kw = filterShape[3];
    bool depthwise =
        conv.getGroup() == channels && features == channels && channels > 1;
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
    // Copied last: a filter can be 100 MB and most refusals are cheaper.
    std::optional<std::vector<float>> filter = filterValues(conv.getFilter());
    if (!filter)
      return;

    // The epilogue: [add of a same-shape residual], [relu or clip].
    SmallVector<Operation *> chain = {conv};
    Value residual;
    if (auto add = dyn_cast_or_null<AddOp>(soleUser(conv.getResult()))) {
      Value other =
          add.getLhs() == conv.getResult() ? add.getRhs() : add.getLhs();
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
    MLIRContext *context = conv.getContext();
    DenseElementsAttr packedFilter =
        depthwise
            ? floatAttr({blocksOf(channels), kh, kw, kBlock},
                        packDepthwiseFilter(*filter, channels, kh, kw), context)
        : plainInput
            ? floatAttr(
                  {blocksOf(features), 1, kh, kw, channels, kBlock},
                  packPlainInputFilter(*filter, features, channels, kh, kw),
                  context)
            : floatAttr({blocksOf(features), blocksOf(channels), kh, kw, kBlock,
                         kBlock},
                        packFilter(*filter, features, channels, kh, kw),
                        context);
    Value packed =
        b.create<ConstantOp>(conv.getFilter().getLoc(), packedFilter);
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
        loc, input, packed, blockedBias, blockedResidual, conv.getStridesAttr(),
        conv.getPadsAttr(), conv.getDilationsAttr(),
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
