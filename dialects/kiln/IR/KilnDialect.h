//===- KilnDialect.h - Kiln dialect -------------------------------*- C++
//-*-===//
#ifndef KILN_DIALECTS_KILN_IR_KILNDIALECT_H
#define KILN_DIALECTS_KILN_IR_KILNDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Quant/QuantOps.h"
#include "mlir/Dialect/Quant/QuantTypes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/kiln/KilnDialect.h.inc"

namespace mlir::kiln::OpTrait {
/// Ops whose output element at each position depends only on the operand
/// elements at the same (broadcast) position.
template <typename ConcreteType>
class Elementwise
    : public ::mlir::OpTrait::TraitBase<ConcreteType, Elementwise> {};
} // namespace mlir::kiln::OpTrait

#define GET_OP_CLASSES
#include "dialects/kiln/KilnOps.h.inc"

namespace mlir::kiln {
/// On @main: each ONNX node's op type, by node name (set by the importer,
/// read by kiln-partition's placement by op type).
constexpr llvm::StringLiteral kNodeOpTypesAttr = "kiln.node_op_types";

/// True for ops marked Kiln_ElementwiseTrait.
inline bool isElementwise(Operation *op) {
  return op->hasTrait<OpTrait::Elementwise>();
}

/// NumPy broadcast of two shapes; failure when incompatible.
FailureOr<SmallVector<int64_t>> broadcastShapes(ArrayRef<int64_t> a,
                                                ArrayRef<int64_t> b);
} // namespace mlir::kiln

#endif // KILN_DIALECTS_KILN_IR_KILNDIALECT_H
