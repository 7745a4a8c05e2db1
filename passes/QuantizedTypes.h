//===- QuantizedTypes.h - !quant.uniform helpers for the passes -*- C++ -*-===//
#ifndef KILN_PASSES_QUANTIZEDTYPES_H
#define KILN_PASSES_QUANTIZEDTYPES_H

#include "dialects/kiln/IR/KilnDialect.h"

#include "mlir/IR/Builders.h"

namespace mlir::kiln {

/// The uniform quantized element type (per tensor or per axis) of a tensor
/// type, or null.
quant::QuantizedType uniformElementOf(Type type);
/// Per-tensor parameters of a tensor type, or null.
quant::UniformQuantizedType perTensorElementOf(Type type);

/// The ONNX integer type that stores `type`'s values: iN (signed) or uiN.
IntegerType storageIntegerType(quant::QuantizedType type);

/// A tensor type with `element` in place of its element type.
RankedTensorType withElementType(Type type, Type element);

/// `type`'s scales and zero points as constants shaped to broadcast against
/// a tensor of `rank` dims: scalars per tensor, [C, 1, ..., 1] (rank - axis
/// dims) per axis. Zero points are f32 or i32 as `zeroPointType` says.
Value quantizationScales(OpBuilder &b, Location loc, quant::QuantizedType type,
                         int64_t rank);
Value quantizationZeroPoints(OpBuilder &b, Location loc,
                             quant::QuantizedType type, int64_t rank,
                             Type zeroPointType);

} // namespace mlir::kiln

#endif // KILN_PASSES_QUANTIZEDTYPES_H
