//===- NchwcLayout.h - Which convolutions run on NCHW16c data --*- C++ -*-===//
//
// The choice kiln-block-convolutions (float) and kiln-form-integer-ops
// (int8) both make: which 2-D convolutions the NCHWc kernels run, and in
// which form.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PASSES_NCHWCLAYOUT_H
#define KILN_PASSES_NCHWCLAYOUT_H

#include "dialects/kiln/IR/KilnDialect.h"

namespace mlir::kiln {

/// 16-channel blocks holding `channels` channels.
inline int64_t nchwcBlocks(int64_t channels) {
  constexpr int64_t block = Conv2DNchwcOp::kChannelBlock;
  return (channels + block - 1) / block;
}

enum class NchwcConvForm {
  /// Not run on blocked data: it stays a kiln.conv.
  None,
  /// Blocked input, filter [F/16, C/16, KH, KW, ...].
  Blocked,
  /// An image of fewer than 16 channels read plain, [N, C, H, W].
  PlainInput,
  /// group = C = F: one filter per channel.
  Depthwise,
};

/// The form a 2-D convolution of rank-4 data takes on NCHWc data, from its
/// shapes and group alone (element types and constant weights are the
/// caller's to check). Padding channels to whole blocks costs work; beyond
/// half as much again the GEMM kernel is faster, and the convolution stays.
NchwcConvForm nchwcConvForm(ConvOp conv);

} // namespace mlir::kiln

#endif // KILN_PASSES_NCHWCLAYOUT_H
