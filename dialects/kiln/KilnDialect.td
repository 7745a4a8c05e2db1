//===- KilnDialect.td - Kiln graph dialect -----------------*- tablegen -*-===//
//
// The Kiln dialect is the graph level of the compiler: one op per model
// operator, on ranked tensors with value semantics and static shapes.
// Attributes carry resolved, normalised values (explicit pads, non-negative
// axes), so later phases never re-derive ONNX's defaults or opset rules.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_DIALECT_TD
#define KILN_DIALECT_TD

include "mlir/IR/OpBase.td"

def Kiln_Dialect : Dialect {
  let name = "kiln";
  let cppNamespace = "::mlir::kiln";
  let summary = "Kiln graph dialect: model operators on static-shape tensors";
  let description = [{
    Ops mirror the operators of the source model (ONNX) after import: shapes
    are static, optional ONNX inputs that carry compile-time values (shapes,
    axes, pads) have become attributes, and every op infers its result type
    from its operands and attributes. `kiln.dispatch` groups ops into the unit
    of code generation.
  }];
  let hasConstantMaterializer = 1;
  // Quantized tensors have the quant dialect's element types.
  let dependentDialects = ["::mlir::quant::QuantizationDialect"];
}

class Kiln_Op<string mnemonic, list<Trait> traits = []>
    : Op<Kiln_Dialect, mnemonic, traits>;

#endif // KILN_DIALECT_TD
