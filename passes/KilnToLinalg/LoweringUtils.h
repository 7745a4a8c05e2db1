//===- LoweringUtils.h - helpers for Kiln -> linalg patterns ----*- C++ -*-===//
#ifndef KILN_PASSES_KILNTOLINALG_LOWERINGUTILS_H
#define KILN_PASSES_KILNTOLINALG_LOWERINGUTILS_H

#include "dialects/kiln/IR/ConstantTensor.h"
#include "passes/Passes.h"

#include "mlir/Transforms/DialectConversion.h"

namespace mlir::kiln::lowering {

/// Kiln tensors may hold unsigned integers; linalg and arith work on
/// signless ones (the ops pick signed or unsigned semantics). These map a
/// type to its signless form.
Type signless(Type type);
RankedTensorType signless(RankedTensorType type);

inline RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// `value` as a constant of a scalar int or float type.
Value scalarConstant(OpBuilder &b, Location loc, Type type, double value);
/// The smallest (or largest) value of a scalar type: the identity of max
/// (or min) reductions.
Value lowestConstant(OpBuilder &b, Location loc, Type type, bool highest,
                     bool isUnsigned = false);

Value emptyTensor(OpBuilder &b, Location loc, RankedTensorType type);
/// A tensor of `type` filled with `value`.
Value filledTensor(OpBuilder &b, Location loc, RankedTensorType type,
                   Value value);

/// Indexing map reading an operand of `operandShape` broadcast (NumPy rules)
/// to a loop nest over `resultShape`.
AffineMap broadcastMap(MLIRContext *context, ArrayRef<int64_t> operandShape,
                       ArrayRef<int64_t> resultShape);

using ScalarBuilder =
    function_ref<Value(OpBuilder &b, Location loc, ValueRange args)>;

/// A linalg.generic computing `body` at every position of `resultType` from
/// the broadcast `inputs`.
Value elementwise(OpBuilder &b, Location loc, RankedTensorType resultType,
                  ValueRange inputs, ScalarBuilder body);

/// `input` padded by `low`/`high` elements per dim with `value`.
Value padTensor(OpBuilder &b, Location loc, RankedTensorType type, Value input,
                ArrayRef<int64_t> low, ArrayRef<int64_t> high, Value value);

/// Static reshape of a tensor (collapse to 1-D, then expand).
Value reshapeTensor(OpBuilder &b, Location loc, Value value,
                    RankedTensorType type);

/// Reduces `input` over `axes` with `combine` starting from `init`; the
/// result drops the reduced dims.
Value reduce(OpBuilder &b, Location loc, Value input, ArrayRef<int64_t> axes,
             Value init, ScalarBuilder combine);

/// Computes the scalar result of an elementwise Kiln op from its scalar
/// operands; failure (with a diagnostic) when the element type is not
/// supported.
FailureOr<Value> buildElementwiseScalar(Operation *op, OpBuilder &b,
                                        Location loc, ValueRange args,
                                        Type resultElement);

void populateElementwisePatterns(RewritePatternSet &patterns);
void populateContractionPatterns(RewritePatternSet &patterns);
void populateReductionPatterns(RewritePatternSet &patterns);
void populateDataMovementPatterns(RewritePatternSet &patterns);

} // namespace mlir::kiln::lowering

#endif // KILN_PASSES_KILNTOLINALG_LOWERINGUTILS_H
