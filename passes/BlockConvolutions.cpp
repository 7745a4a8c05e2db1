//===- BlockConvolutions.cpp - NCHW convolutions -> NCHW16c ---------------===//
//
// Rewrites 2-D convolutions to kiln.conv2d_nchwc: the data in 16-channel
// blocks (channels padded with zeros to whole blocks), the filter packed at
// compile time into the order the direct-convolution microkernel reads, and
// the residual add and activation that follow folded into the op, so that
// the kernel applies them while the output tile is in registers. Layout
// changes are kiln.to_nchwc / kiln.from_nchwc on each side; between two
// blocked convolutions they fold away, so a chain of convolutions (a ResNet,
// a MobileNet) changes layout only at its ends. Pooling of blocked data
// pools the blocks, so pools between convolutions keep the layout too.
//
//===----------------------------------------------------------------------===//

#include "dialects/kiln/IR/ConstantTensor.h"
#include "passes/NchwcLayout.h"
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

int64_t blocksOf(int64_t channels) { return nchwcBlocks(channels); }

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

} // namespace

NchwcConvForm mlir::kiln::nchwcConvForm(ConvOp conv) {
  auto inType = conv.getInput().getType();
  if (inType.getRank() != 4)
    return NchwcConvForm::None;
  ArrayRef<int64_t> filterShape = conv.getFilter().getType().getShape();
  int64_t channels = inType.getDimSize(1), features = filterShape[0];
  bool depthwise =
      conv.getGroup() == channels && features == channels && channels > 1;
  if (conv.getGroup() != 1 && !depthwise)
    return NchwcConvForm::None;
  // An input of fewer than 16 channels (an image) is read plain instead of
  // padded.
  bool plainInput = !depthwise && channels < kBlock;
  int64_t padded = blocksOf(features) * kBlock *
                   (depthwise || plainInput ? 1 : blocksOf(channels) * kBlock);
  if (2 * padded > 3 * features * (depthwise || plainInput ? 1 : channels))
    return NchwcConvForm::None;
  return depthwise    ? NchwcConvForm::Depthwise
         : plainInput ? NchwcConvForm::PlainInput
                      : NchwcConvForm::Blocked;
}

namespace {

struct BlockConvolutionsPass
    : public mlir::kiln::impl::BlockConvolutionsBase<BlockConvolutionsPass> {
  void runOnOperation() override {
    SmallVector<ConvOp> convs;
    getOperation().walk([&](ConvOp conv) { convs.push_back(conv); });
    for (ConvOp conv : convs)
      block(conv);
    // Pooling of a blocked convolution's output pools the blocks, so the
    // data stays blocked through it (resnet's stem max pool, global
    // average pools before classifiers).
    SmallVector<Operation *> pools;
    getOperation().walk([&](Operation *op) {
      if (isa<MaxPoolOp, AveragePoolOp, ReduceMeanOp>(op))
        pools.push_back(op);
    });
    for (Operation *pool : pools)
      blockPooling(pool);
  }

  /// `pool(from_nchwc(x))` -> `from_nchwc(pool'(x))`: a 2-D max or average
  /// pool becomes a 3-D one over (H, W, 16) with a window of 1 along the
  /// channels of a block; a mean over H and W (kept) takes the blocked dims
  /// 2 and 3. The padding channels stay zero: every window of them holds
  /// zeros only.
  void blockPooling(Operation *pool) {
    auto from = pool->getOperand(0).getDefiningOp<FromNchwcOp>();
    auto inType = cast<RankedTensorType>(pool->getOperand(0).getType());
    if (!from || inType.getRank() != 4)
      return;
    OpBuilder b(pool);
    Location loc = pool->getLoc();
    Value blocked = from.getInput();
    auto extend = [&](ArrayRef<int64_t> values, int64_t with) {
      SmallVector<int64_t> extended(values);
      extended.push_back(with);
      return b.getDenseI64ArrayAttr(extended);
    };
    // Pads are [begin..., end...]: a 0 goes after each half.
    auto extendPads = [&](ArrayRef<int64_t> pads) {
      return b.getDenseI64ArrayAttr({pads[0], pads[1], 0, pads[2], pads[3], 0});
    };
    Value result;
    if (auto max = dyn_cast<MaxPoolOp>(pool)) {
      if (max.getKernelShape().size() != 2)
        return;
      result = b.create<MaxPoolOp>(
          loc, blocked, extend(max.getKernelShape(), 1),
          extend(max.getStrides(), 1), extendPads(max.getPads()),
          extend(max.getDilations(), 1), max.getCeilModeAttr());
    } else if (auto average = dyn_cast<AveragePoolOp>(pool)) {
      if (average.getKernelShape().size() != 2)
        return;
      result = b.create<AveragePoolOp>(
          loc, blocked, extend(average.getKernelShape(), 1),
          extend(average.getStrides(), 1), extendPads(average.getPads()),
          average.getCeilModeAttr(), average.getCountIncludePadAttr());
    } else {
      auto mean = cast<ReduceMeanOp>(pool);
      if (mean.getAxes() != ArrayRef<int64_t>{2, 3} || !mean.getKeepdims())
        return;
      result = b.create<ReduceMeanOp>(loc, blocked, mean.getAxesAttr(),
                                      mean.getKeepdimsAttr());
    }
    pool->getResult(0).replaceAllUsesWith(
        b.create<FromNchwcOp>(loc, pool->getResult(0).getType(), result));
    pool->erase();
  }

  void block(ConvOp conv) {
    auto inType = conv.getInput().getType();
    std::optional<ConstantTensor> bias = constantOf(conv.getBias());
    NchwcConvForm form = nchwcConvForm(conv);
    // f32 data (with f32 or f16 weights), or f16 data and weights.
    Type data = inType.getElementType();
    if (form == NchwcConvForm::None || !(data.isF32() || data.isF16()) ||
        (conv.getBias() && !bias))
      return;
    ArrayRef<int64_t> filterShape = conv.getFilter().getType().getShape();
    int64_t channels = inType.getDimSize(1), features = filterShape[0];
    int64_t kh = filterShape[2], kw = filterShape[3];
    bool depthwise = form == NchwcConvForm::Depthwise;
    bool plainInput = form == NchwcConvForm::PlainInput;
    // Copied last: a filter can be 100 MB and most refusals are cheaper.
    std::optional<std::vector<float>> filter = floatValues(conv.getFilter());
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
    // The blocked op covers every node of the chain (profiles list them).
    Location loc = b.getFusedLoc(
        llvm::map_to_vector(chain, [](Operation *op) { return op->getLoc(); }));
    Value input = plainInput
                      ? conv.getInput()
                      : b.create<ToNchwcOp>(loc, conv.getInput()).getResult();
    // The filter keeps its element type: f32, or f16 weights
    // (kiln-store-weights-f16), which the kernels widen as they load.
    Type weight = conv.getFilter().getType().getElementType();
    DenseElementsAttr packedFilter =
        depthwise
            ? floatAttr({blocksOf(channels), kh, kw, kBlock},
                        packDepthwiseFilter(*filter, channels, kh, kw), weight)
        : plainInput
            ? floatAttr(
                  {blocksOf(features), 1, kh, kw, channels, kBlock},
                  packPlainInputFilter(*filter, features, channels, kh, kw),
                  weight)
            : floatAttr({blocksOf(features), blocksOf(channels), kh, kw, kBlock,
                         kBlock},
                        packFilter(*filter, features, channels, kh, kw),
                        weight);
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
