//===- KilnOps.td - Kiln graph ops -------------------------*- tablegen -*-===//
//
// Conventions shared by all ops:
//  * operands and results are ranked tensors with static shapes;
//  * axes are non-negative and in range (the importer normalises them);
//  * spatial attributes (strides, pads, dilations, kernel_shape) have one
//    entry per spatial dimension, pads two: all begins, then all ends
//    (ONNX order);
//  * ops that compute their result type from operands and attributes
//    implement InferTypeOpInterface, so building one needs no result type
//    and the verifier checks any given one.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_OPS_TD
#define KILN_OPS_TD

include "KilnDialect.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

def Kiln_Tensor : StaticShapeTensorOf<[AnyType]>;
def Kiln_BoolTensor : StaticShapeTensorOf<[I1]>;
def Kiln_IndexTensor : StaticShapeTensorOf<[I32, I64]>;

// Marks ops that compute each output element from the operand elements at
// the same (broadcast) position. The fusion pass groups chains of them.
def Kiln_ElementwiseTrait : NativeOpTrait<"Elementwise"> {
  let cppNamespace = "::mlir::kiln::OpTrait";
}

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

def Kiln_ConstantOp : Kiln_Op<"constant",
    [ConstantLike, Pure, InferTypeOpAdaptor]> {
  let summary = "compile-time tensor (weights, folded shapes)";
  let arguments = (ins ElementsAttr:$value);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "attr-dict $value";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise ops
//===----------------------------------------------------------------------===//

class Kiln_UnaryOp<string mnemonic, dag extraArgs = (ins),
                   list<Trait> traits = []>
    : Kiln_Op<mnemonic, traits # [Pure, SameOperandsAndResultType,
                                  Kiln_ElementwiseTrait]> {
  let arguments = !con((ins Kiln_Tensor:$input), extraArgs);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Kiln_NegOp : Kiln_UnaryOp<"neg"> { let summary = "-x"; let hasFolder = 1; }
def Kiln_AbsOp : Kiln_UnaryOp<"abs"> { let summary = "|x|";
  let hasFolder = 1;
}
def Kiln_SqrtOp : Kiln_UnaryOp<"sqrt"> { let summary = "square root";
  let hasFolder = 1;
}
def Kiln_ExpOp : Kiln_UnaryOp<"exp"> { let summary = "e^x";
  let hasFolder = 1;
}
def Kiln_LogOp : Kiln_UnaryOp<"log"> { let summary = "natural logarithm";
  let hasFolder = 1;
}
def Kiln_TanhOp : Kiln_UnaryOp<"tanh"> { let summary = "hyperbolic tangent"; }
def Kiln_ErfOp : Kiln_UnaryOp<"erf"> { let summary = "error function"; }
def Kiln_ReciprocalOp : Kiln_UnaryOp<"reciprocal"> { let summary = "1/x";
  let hasFolder = 1;
}
def Kiln_FloorOp : Kiln_UnaryOp<"floor"> { let summary = "round down";
  let hasFolder = 1;
}
def Kiln_CeilOp : Kiln_UnaryOp<"ceil"> { let summary = "round up";
  let hasFolder = 1;
}
def Kiln_RoundOp : Kiln_UnaryOp<"round"> {
  let hasFolder = 1;
  let summary = "round half to even";
}
def Kiln_SignOp : Kiln_UnaryOp<"sign"> { let summary = "-1, 0 or 1";
  let hasFolder = 1;
}
def Kiln_SinOp : Kiln_UnaryOp<"sin"> { let summary = "sine"; }
def Kiln_CosOp : Kiln_UnaryOp<"cos"> { let summary = "cosine"; }
def Kiln_TanOp : Kiln_UnaryOp<"tan"> { let summary = "tangent"; }
def Kiln_AsinOp : Kiln_UnaryOp<"asin"> { let summary = "arcsine"; }
def Kiln_AcosOp : Kiln_UnaryOp<"acos"> { let summary = "arccosine"; }
def Kiln_AtanOp : Kiln_UnaryOp<"atan"> { let summary = "arctangent"; }
def Kiln_SinhOp : Kiln_UnaryOp<"sinh"> { let summary = "hyperbolic sine"; }
def Kiln_CoshOp : Kiln_UnaryOp<"cosh"> { let summary = "hyperbolic cosine"; }
def Kiln_AsinhOp : Kiln_UnaryOp<"asinh"> {
  let summary = "inverse hyperbolic sine";
}
def Kiln_AcoshOp : Kiln_UnaryOp<"acosh"> {
  let summary = "inverse hyperbolic cosine";
}
def Kiln_AtanhOp : Kiln_UnaryOp<"atanh"> {
  let summary = "inverse hyperbolic tangent";
}
def Kiln_NotOp : Kiln_UnaryOp<"not"> { let summary = "logical not";
  let hasFolder = 1;
}
def Kiln_IdentityOp : Kiln_UnaryOp<"identity"> {
  let summary = "copy; kept only where a buffer must be materialised";
}
def Kiln_ReluOp : Kiln_UnaryOp<"relu"> { let summary = "max(x, 0)";
  let hasFolder = 1;
}
def Kiln_SigmoidOp : Kiln_UnaryOp<"sigmoid"> { let summary = "1/(1+e^-x)"; }
def Kiln_SoftplusOp : Kiln_UnaryOp<"softplus"> { let summary = "log(1+e^x)"; }
def Kiln_SoftsignOp : Kiln_UnaryOp<"softsign"> { let summary = "x/(1+|x|)"; }
def Kiln_GeluOp : Kiln_UnaryOp<"gelu"> {
  let summary = "x * (1 + erf(x / sqrt(2))) / 2 (exact GELU)";
  let description = [{
    No ONNX op before opset 20: exporters write it with Erf, and
    kiln-fuse-decomposed-ops recognises that. As one elementwise op it joins
    the producing matmul's epilogue, which the written-out form cannot (its
    input has two users).
  }];
}
def Kiln_HardSwishOp : Kiln_UnaryOp<"hard_swish"> {
  let summary = "x * max(0, min(1, x/6 + 1/2))";
}
def Kiln_LeakyReluOp : Kiln_UnaryOp<"leaky_relu", (ins F32Attr:$alpha)> {
  let summary = "x >= 0 ? x : alpha*x";
}
def Kiln_HardSigmoidOp
    : Kiln_UnaryOp<"hard_sigmoid", (ins F32Attr:$alpha, F32Attr:$beta)> {
  let summary = "max(0, min(1, alpha*x + beta))";
}
def Kiln_EluOp : Kiln_UnaryOp<"elu", (ins F32Attr:$alpha)> {
  let summary = "x >= 0 ? x : alpha*(e^x - 1)";
}
def Kiln_CeluOp : Kiln_UnaryOp<"celu", (ins F32Attr:$alpha)> {
  let summary = "max(0,x) + min(0, alpha*(e^(x/alpha) - 1))";
}
def Kiln_SeluOp : Kiln_UnaryOp<"selu", (ins F32Attr:$alpha, F32Attr:$gamma)> {
  let summary = "gamma * (x > 0 ? x : alpha*(e^x - 1))";
}
def Kiln_ThresholdedReluOp
    : Kiln_UnaryOp<"thresholded_relu", (ins F32Attr:$alpha)> {
  let summary = "x > alpha ? x : 0";
}
def Kiln_ClipOp : Kiln_UnaryOp<"clip",
    (ins OptionalAttr<F64Attr>:$min, OptionalAttr<F64Attr>:$max)> {
  let summary = "min(max(x, min), max) with constant bounds";
}

def Kiln_CastOp : Kiln_Op<"cast", [Pure, SameOperandsAndResultShape,
                                   Kiln_ElementwiseTrait]> {
  let summary = "element type conversion (ONNX Cast semantics)";
  let arguments = (ins Kiln_Tensor:$input);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($output)";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Quantized values (the quantize phase)
//===----------------------------------------------------------------------===//

def Kiln_QuantizedTensor
    : StaticShapeTensorOf<[AnyType]>; // of a !quant.uniform element type

def Kiln_QuantizeOp : Kiln_Op<"quantize", [Pure, SameOperandsAndResultShape,
                                           Kiln_ElementwiseTrait]> {
  let summary = "float to the result's !quant.uniform type";
  let description = [{
    ONNX QuantizeLinear with the scale and zero point in the result's element
    type (per tensor, or per axis): `saturate(round(x / scale) + zero_point)`,
    rounding half to even.

    ```mlir
    %q = kiln.quantize %x : tensor<8xf32> to tensor<8x!quant.uniform<u8:f32, 0.5:3>>
    ```
  }];
  let arguments = (ins Kiln_Tensor:$input);
  let results = (outs Kiln_QuantizedTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($output)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Kiln_DequantizeOp : Kiln_Op<"dequantize", [Pure,
    SameOperandsAndResultShape, Kiln_ElementwiseTrait]> {
  let summary = "a !quant.uniform tensor to its expressed float type";
  let description = [{
    ONNX DequantizeLinear: `(q - zero_point) * scale`, with the parameters of
    the operand's element type.
  }];
  let arguments = (ins Kiln_QuantizedTensor:$input);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($output)";
  let hasVerifier = 1;
}

def Kiln_StorageCastOp : Kiln_Op<"storage_cast", [Pure,
    SameOperandsAndResultShape, Kiln_ElementwiseTrait]> {
  let summary = "reinterprets integers as a !quant.uniform type or back";
  let description = [{
    The same bytes seen as quantized values or as their storage integers
    (ONNX's uint8/int8/int32 tensors), in either direction. The importer
    puts one on each side of a QuantizeLinear/DequantizeLinear so that ONNX
    values stay plain integers; back-to-back casts fold away, leaving
    `kiln.quantize` feeding `kiln.dequantize` directly.
  }];
  let arguments = (ins Kiln_Tensor:$input);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($output)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

class Kiln_BinaryOp<string mnemonic, list<Trait> traits = []>
    : Kiln_Op<mnemonic, traits # [Pure, InferTypeOpAdaptor,
                                  Kiln_ElementwiseTrait]> {
  let arguments = (ins Kiln_Tensor:$lhs, Kiln_Tensor:$rhs);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($output)
  }];
  let description = [{
    Multidirectional (NumPy) broadcasting: shapes are aligned at the right and
    each pair of dims must be equal or contain a 1.
  }];
  let hasFolder = 1;
}

def Kiln_AddOp : Kiln_BinaryOp<"add", [Commutative]> { let summary = "a + b"; }
def Kiln_SubOp : Kiln_BinaryOp<"sub"> { let summary = "a - b"; }
def Kiln_MulOp : Kiln_BinaryOp<"mul", [Commutative]> { let summary = "a * b"; }
def Kiln_DivOp : Kiln_BinaryOp<"div"> {
  let summary = "a / b (integer division truncates)";
}
def Kiln_PowOp : Kiln_BinaryOp<"pow"> { let summary = "a ^ b"; }
def Kiln_MinOp : Kiln_BinaryOp<"min", [Commutative]> { let summary = "min"; }
def Kiln_MaxOp : Kiln_BinaryOp<"max", [Commutative]> { let summary = "max"; }
def Kiln_ModOp : Kiln_BinaryOp<"mod"> {
  let summary = "remainder: sign of the divisor, or of the dividend if fmod";
  let arguments = (ins Kiln_Tensor:$lhs, Kiln_Tensor:$rhs, BoolAttr:$fmod);
}
def Kiln_PReluOp : Kiln_BinaryOp<"prelu"> {
  let summary = "a >= 0 ? a : a * slope";
}
def Kiln_BitShiftOp : Kiln_BinaryOp<"bit_shift"> {
  let summary = "a << b or a >> b (logical) on unsigned integers";
  let arguments = (ins Kiln_Tensor:$lhs, Kiln_Tensor:$rhs, StrAttr:$direction);
  let hasFolder = 0;
}
def Kiln_AndOp : Kiln_BinaryOp<"and", [Commutative]> { let summary = "logical and"; }
def Kiln_OrOp : Kiln_BinaryOp<"or", [Commutative]> { let summary = "logical or"; }
def Kiln_XorOp : Kiln_BinaryOp<"xor", [Commutative]> { let summary = "logical xor"; }
def Kiln_EqualOp : Kiln_BinaryOp<"equal", [Commutative]> {
  let summary = "a == b, as i1";
}
def Kiln_LessOp : Kiln_BinaryOp<"less"> { let summary = "a < b, as i1"; }
def Kiln_LessEqualOp : Kiln_BinaryOp<"less_equal"> {
  let summary = "a <= b, as i1";
}
def Kiln_GreaterOp : Kiln_BinaryOp<"greater"> { let summary = "a > b, as i1"; }
def Kiln_GreaterEqualOp : Kiln_BinaryOp<"greater_equal"> {
  let summary = "a >= b, as i1";
}

def Kiln_WhereOp : Kiln_Op<"where", [Pure, InferTypeOpAdaptor,
                                     Kiln_ElementwiseTrait]> {
  let summary = "condition ? x : y, with broadcasting";
  let arguments = (ins Kiln_BoolTensor:$condition, Kiln_Tensor:$x,
                       Kiln_Tensor:$y);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = [{
    $condition `,` $x `,` $y attr-dict `:` type($condition) `,` type($x) `,`
    type($y) `->` type($output)
  }];
  let hasFolder = 1;
}

def Kiln_ExpandOp : Kiln_Op<"expand", [Pure, Kiln_ElementwiseTrait]> {
  let summary = "broadcast to the result shape";
  let arguments = (ins Kiln_Tensor:$input);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($output)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Linear algebra and convolution
//===----------------------------------------------------------------------===//

def Kiln_MatMulOp : Kiln_Op<"matmul", [Pure, InferTypeOpAdaptor]> {
  let summary = "batched matrix product with NumPy broadcasting of batch dims";
  let description = [{
    ONNX MatMul: a 1-D lhs is a row vector and a 1-D rhs a column vector; the
    inserted dim is removed from the result.
  }];
  let arguments = (ins Kiln_Tensor:$lhs, Kiln_Tensor:$rhs);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($output)
  }];
}

def Kiln_MatMulPackedOp : Kiln_Op<"matmul_packed", [Pure]> {
  let summary = "matrix product by a weight matrix packed at compile time";
  let description = [{
    `lhs` [..., M, K] times a constant B [K, N] that `kiln-pack-matmul-weights`
    packed into 16-column panels, `packed` [P, K, 16]: B(k, n) is at
    [n / 16, k, n % 16], zero past N, with P = 2 * ceil(N / 32) (whole pairs
    of panels, so a 32-column register tile never reads past the end). The
    result is [..., M, N]. The layout is the same for every CPU target: the
    microkernel reads it in place and packs nothing of B at run time.
  }];
  let arguments = (ins Kiln_Tensor:$lhs, Kiln_Tensor:$packed);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = [{
    $lhs `,` $packed attr-dict `:` type($lhs) `,` type($packed) `->` type($output)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    static constexpr int64_t kPanel = 16;
    /// P for N columns: whole pairs of 16-column panels.
    static int64_t panelsFor(int64_t columns) {
      return 2 * ((columns + 2 * kPanel - 1) / (2 * kPanel));
    }
  }];
}

def Kiln_MatMulIntegerOp : Kiln_Op<"matmul_integer",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "8-bit integer matrix product with zero points, i32 result";
  let description = [{
    ONNX MatMulInteger: `(lhs - lhs_zero_point) x (rhs - rhs_zero_point)`
    accumulated in i32, with kiln.matmul's shape rules. `lhs` and `rhs` are
    i8 or ui8 (each its own); the zero points are i32, a scalar ([]) or one
    per row of lhs ([M]) and one per column of rhs ([N]).

    Keeping the 8-bit operands (instead of widening them to i32 before a
    kiln.matmul) keeps weights at one byte each and lets a target run the
    product with 8-bit dot-product instructions.
  }];
  let arguments = (ins Kiln_Tensor:$lhs, Kiln_Tensor:$rhs,
                       Kiln_Tensor:$lhs_zero_point,
                       Kiln_Tensor:$rhs_zero_point);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = [{
    $lhs `,` $rhs `,` $lhs_zero_point `,` $rhs_zero_point attr-dict `:`
    functional-type(operands, results)
  }];
}

def Kiln_GemmOp : Kiln_Op<"gemm", [Pure, InferTypeOpAdaptor]> {
  let summary = "alpha * op(A) * op(B) + beta * C, C broadcast to [M, N]";
  let arguments = (ins Kiln_Tensor:$a, Kiln_Tensor:$b,
                       Optional<Kiln_Tensor>:$c,
                       DefaultValuedAttr<F32Attr, "1.0">:$alpha,
                       DefaultValuedAttr<F32Attr, "1.0">:$beta,
                       DefaultValuedAttr<BoolAttr, "false">:$trans_a,
                       DefaultValuedAttr<BoolAttr, "false">:$trans_b);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = [{
    $a `,` $b (`,` $c^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Kiln_ConvOp : Kiln_Op<"conv", [Pure, InferTypeOpAdaptor]> {
  let summary = "N-d grouped convolution, NCHW data, FCHW filter";
  let description = [{
    `pads` are explicit: the importer resolves auto_pad. The optional bias has
    shape [F]. `activation` names an epilogue the fusion pass folded in
    ("" for none).
  }];
  let arguments = (ins Kiln_Tensor:$input, Kiln_Tensor:$filter,
                       Optional<Kiln_Tensor>:$bias,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                       DenseI64ArrayAttr:$dilations, I64Attr:$group);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = [{
    $input `,` $filter (`,` $bias^)? attr-dict `:`
    functional-type(operands, results)
  }];
}

def Kiln_ToNchwcOp : Kiln_Op<"to_nchwc", [Pure, InferTypeOpAdaptor]> {
  let summary = "NCHW data to 16-channel blocks, zero past the last channel";
  let description = [{
    [N, C, H, W] -> [N, ceil(C/16), H, W, 16]: element (n, c, h, w) moves to
    (n, c / 16, h, w, c % 16) and the channels past C are zero. Every op that
    produces NCHWc data keeps those channels zero (kiln.conv2d_nchwc gives
    them zero weights and bias and only folds activations with f(0) = 0),
    which is what lets `to_nchwc(from_nchwc(y))` fold to `y`.
  }];
  let arguments = (ins Kiln_Tensor:$input);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def Kiln_FromNchwcOp : Kiln_Op<"from_nchwc", [Pure]> {
  let summary = "16-channel blocks back to NCHW data";
  let description = [{
    [N, ceil(C/16), H, W, 16] -> [N, C, H, W], the inverse of
    `kiln.to_nchwc`; the result type gives C, and the channels past it are
    dropped.
  }];
  let arguments = (ins Kiln_Tensor:$input);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Kiln_Conv2DNchwcOp : Kiln_Op<"conv2d_nchwc",
    [Pure, InferTypeOpAdaptor, AttrSizedOperandSegments]> {
  let summary = "2-D convolution on channel-blocked data with a fused epilogue";
  let description = [{
    Data in NCHW16c: `input` is [N, C/16, H, W, 16], the result
    [N, F/16, OH, OW, 16]. `filter` is [F/16, C/16, KH, KW, 16, 16], indexed
    (output block, input block, y, x, input channel, output channel): the
    order the direct-convolution microkernel reads it, packed at compile time
    by `kiln-block-convolutions`. Channel counts that are not multiples of
    16 are padded: padded input channels have zero weights, padded output
    channels zero weights and bias. An input of fewer than 16 channels (an
    image) may stay plain, [N, C, H, W], with the filter
    [F/16, 1, KH, KW, C, 16]. With `depthwise` (group = C = F), each
    channel is convolved with its own filter, [C/16, KH, KW, 16]. The
    optional `bias` is [F/16, 16] and the optional `residual` has the
    result's shape. Each output is

      activation(sum + bias + residual)

    with `activation` "none", "relu" or "clip" (between `clip_min` and
    `clip_max`), applied before the value is stored. Pads are implicit zeros
    (begins, then ends, as in kiln.conv).
  }];
  let arguments = (ins Kiln_Tensor:$input, Kiln_Tensor:$filter,
                       Optional<Kiln_Tensor>:$bias,
                       Optional<Kiln_Tensor>:$residual,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                       DenseI64ArrayAttr:$dilations, UnitAttr:$depthwise,
                       DefaultValuedStrAttr<StrAttr, "none">:$activation,
                       OptionalAttr<F64Attr>:$clip_min,
                       OptionalAttr<F64Attr>:$clip_max);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = [{
    $input `,` $filter (`bias` $bias^)? (`residual` $residual^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// Channels per block in the NCHWc layout.
    static constexpr int64_t kChannelBlock = 16;
  }];
}

def Kiln_QuantizedConv2DNchwcOp : Kiln_Op<"quantized_conv2d_nchwc",
    [Pure]> {
  let summary = "8-bit 2-D convolution on channel-blocked data, requantized";
  let description = [{
    The integer form of `kiln.conv2d_nchwc`, which `kiln-form-integer-ops`
    builds from a QDQ convolution. `input` is ui8 [N, C/16, H, W, 16] with
    zero point `input_zero_point`; `filter` is i8 with zero point 0,
    [F/16, C/16, KH, KW, 4, 16, 4] indexed (output block, input block, y, x,
    input channel / 4, output channel, input channel % 4): the four input
    channels a 32-bit lane of a dot-product instruction (vpdpbusd, sdot)
    sums sit side by side. With `depthwise` the filter is [C/16, KH, KW, 16].
    An image input of fewer than 16 channels stays plain, ui8 [N, C, H, W],
    with the filter [F/16, C, KH, ceil(KW/4), 16, 4]: 4 adjacent window
    columns per lane, zero weights past KW (which the result's width
    gives).
    `filter_sums` (i32 [F/16, 16]) holds each output channel's sum of
    weights, `scale_bias` (f32 [F/16, 2, 16]) the epilogue's per-channel
    scale and bias: one operand, so that a constant bias of zeros (or one
    scale for every channel) is never a splat constant that canonicalization
    would fold into the lowered loops, out of the kernel's reach. Each
    output is

      acc = sum (input - input_zero_point) * filter      (exact, in i32)
      v   = activation(acc * scale + bias)

    with pads that read the zero point (adding nothing). With a `residual`
    (ui8, the result's shape), the convolution is first quantized as its
    own QDQ output states it, then the dequantized residual is added:

      v = activation((q - sum_zero_point) * sum_scale
                     + (residual - residual_zero_point) * residual_scale)
      q = clamp(roundeven(acc * scale + bias) + sum_zero_point, 0, 255)

    (a residual block's end: conv, QuantizeLinear, DequantizeLinear, Add of
    the dequantized shortcut, Relu, QuantizeLinear, in one pass). A ui8 result holds
    clamp(roundeven(v) + output_zero_point, 0, 255); an f32 result holds v.
    The filter sums let a kernel accumulate over the raw bytes and subtract
    `input_zero_point * filter_sums` once per output (or, reading bytes as
    int8, `(input_zero_point - 128) * filter_sums`). Padding channels have
    zero weights, sums, scales and biases: nothing reads the padding channels
    of the input, and the result's are act(0) (quantized).
  }];
  let arguments = (ins Kiln_Tensor:$input, Kiln_Tensor:$filter,
                       Kiln_Tensor:$filter_sums, Kiln_Tensor:$scale_bias,
                       Optional<Kiln_Tensor>:$residual,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                       DenseI64ArrayAttr:$dilations, UnitAttr:$depthwise,
                       I64Attr:$input_zero_point,
                       OptionalAttr<I64Attr>:$sum_zero_point,
                       OptionalAttr<F64Attr>:$sum_scale,
                       OptionalAttr<I64Attr>:$residual_zero_point,
                       OptionalAttr<F64Attr>:$residual_scale,
                       OptionalAttr<I64Attr>:$output_zero_point,
                       DefaultValuedStrAttr<StrAttr, "none">:$activation,
                       OptionalAttr<F64Attr>:$clip_min,
                       OptionalAttr<F64Attr>:$clip_max);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = [{
    $input `,` $filter `,` $filter_sums `,` $scale_bias
    (`residual` $residual^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Kiln_ConvTransposeOp : Kiln_Op<"conv_transpose",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "N-d transposed convolution, NCHW data, CFHW filter";
  let description = [{
    Output size per spatial dim: stride*(in-1) + output_padding +
    dilation*(kernel-1) + 1 - pad_begin - pad_end. The importer resolves
    output_shape and auto_pad into pads.
  }];
  let arguments = (ins Kiln_Tensor:$input, Kiln_Tensor:$filter,
                       Optional<Kiln_Tensor>:$bias,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                       DenseI64ArrayAttr:$dilations,
                       DenseI64ArrayAttr:$output_padding, I64Attr:$group);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = [{
    $input `,` $filter (`,` $bias^)? attr-dict `:`
    functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Normalisation
//===----------------------------------------------------------------------===//

def Kiln_BatchNormOp : Kiln_Op<"batch_norm", [Pure, InferTypeOpAdaptor]> {
  let summary = "inference batch normalisation over dim 1";
  let arguments = (ins Kiln_Tensor:$input, Kiln_Tensor:$scale,
                       Kiln_Tensor:$bias, Kiln_Tensor:$mean,
                       Kiln_Tensor:$variance, F32Attr:$epsilon);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = [{
    $input `,` $scale `,` $bias `,` $mean `,` $variance attr-dict `:`
    functional-type(operands, results)
  }];
}

def Kiln_LayerNormOp : Kiln_Op<"layer_norm", [Pure, InferTypeOpAdaptor]> {
  let summary = "normalise over dims [axis, rank), then scale and shift";
  let arguments = (ins Kiln_Tensor:$input, Kiln_Tensor:$scale,
                       Optional<Kiln_Tensor>:$bias, I64Attr:$axis,
                       F32Attr:$epsilon);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = [{
    $input `,` $scale (`,` $bias^)? attr-dict `:`
    functional-type(operands, results)
  }];
}

def Kiln_SoftmaxOp : Kiln_Op<"softmax", [Pure, SameOperandsAndResultType]> {
  let summary = "exp(x - max) / sum(exp(x - max)) along one axis";
  let arguments = (ins Kiln_Tensor:$input, I64Attr:$axis);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Kiln_LogSoftmaxOp : Kiln_Op<"log_softmax",
    [Pure, SameOperandsAndResultType]> {
  let summary = "x - max - log(sum(exp(x - max))) along one axis";
  let arguments = (ins Kiln_Tensor:$input, I64Attr:$axis);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Pooling and reductions
//===----------------------------------------------------------------------===//

def Kiln_MaxPoolOp : Kiln_Op<"max_pool", [Pure, InferTypeOpAdaptor]> {
  let summary = "N-d max pooling over the spatial dims of NC...";
  let arguments = (ins Kiln_Tensor:$input, DenseI64ArrayAttr:$kernel_shape,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                       DenseI64ArrayAttr:$dilations, BoolAttr:$ceil_mode);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Kiln_AveragePoolOp : Kiln_Op<"average_pool", [Pure, InferTypeOpAdaptor]> {
  let summary = "N-d average pooling over the spatial dims of NC...";
  let arguments = (ins Kiln_Tensor:$input, DenseI64ArrayAttr:$kernel_shape,
                       DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                       BoolAttr:$ceil_mode, BoolAttr:$count_include_pad);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

class Kiln_ReduceOp<string mnemonic, string what>
    : Kiln_Op<mnemonic, [Pure, InferTypeOpAdaptor]> {
  let summary = what # " over `axes` (sorted, unique)";
  let arguments = (ins Kiln_Tensor:$input, DenseI64ArrayAttr:$axes,
                       BoolAttr:$keepdims);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Kiln_ReduceSumOp : Kiln_ReduceOp<"reduce_sum", "sum">;
def Kiln_ReduceMeanOp : Kiln_ReduceOp<"reduce_mean", "mean">;
def Kiln_ReduceMaxOp : Kiln_ReduceOp<"reduce_max", "maximum">;
def Kiln_ReduceMinOp : Kiln_ReduceOp<"reduce_min", "minimum">;
def Kiln_ReduceProdOp : Kiln_ReduceOp<"reduce_prod", "product">;
def Kiln_ReduceSumSquareOp : Kiln_ReduceOp<"reduce_sum_square", "sum of x^2">;
def Kiln_ReduceL1Op : Kiln_ReduceOp<"reduce_l1", "sum of |x|">;
def Kiln_ReduceL2Op : Kiln_ReduceOp<"reduce_l2", "sqrt of the sum of x^2">;
def Kiln_ReduceLogSumExpOp
    : Kiln_ReduceOp<"reduce_log_sum_exp", "log of the sum of e^x">;
def Kiln_ReduceLogSumOp : Kiln_ReduceOp<"reduce_log_sum", "log of the sum">;

class Kiln_ArgReduceOp<string mnemonic, string what>
    : Kiln_Op<mnemonic, [Pure, InferTypeOpAdaptor]> {
  let summary = "index (i64) of the " # what # " along `axis`";
  let arguments = (ins Kiln_Tensor:$input, I64Attr:$axis, BoolAttr:$keepdims,
                       BoolAttr:$select_last_index);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Kiln_ArgMaxOp : Kiln_ArgReduceOp<"argmax", "maximum">;
def Kiln_ArgMinOp : Kiln_ArgReduceOp<"argmin", "minimum">;

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

def Kiln_ReshapeOp : Kiln_Op<"reshape", [Pure]> {
  let summary = "same elements, new static shape";
  let description = [{
    The importer maps ONNX Reshape, Flatten, Squeeze and Unsqueeze here:
    with static shapes they are all the same operation. Outside dispatches a
    reshape is free: the result aliases the operand's buffer.
  }];
  let arguments = (ins Kiln_Tensor:$input);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($output)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Kiln_TransferOp : Kiln_Op<"transfer", [Pure, SameOperandsAndResultType]> {
  let summary = "the same tensor, made available on another device";
  let description = [{
    Inserted by kiln-partition where a value produced on one device (or a
    model input, which arrives on the host) is used on another, and before
    results computed on a GPU are returned. Like a reshape outside
    dispatches, the result aliases the operand's arena buffer: every device
    has an arena of the same layout, and the schedule's transfer step copies
    the buffer's bytes into the arena of device `to` ("cpu" or "cuda").
    Where everything runs on the CPU a transfer does nothing.

    ```mlir
    %1 = kiln.transfer %0 to "cuda" : tensor<1x64x56x56xf32>
    ```
  }];
  let arguments = (ins Kiln_Tensor:$input, StrAttr:$to);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input `to` $to attr-dict `:` type($input)";
}

def Kiln_TransposeOp : Kiln_Op<"transpose", [Pure, InferTypeOpAdaptor]> {
  let summary = "permute dims: output dim i is input dim perm[i]";
  let arguments = (ins Kiln_Tensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def Kiln_ConcatOp : Kiln_Op<"concat", [Pure, InferTypeOpAdaptor]> {
  let summary = "join along `axis`";
  let arguments = (ins Variadic<Kiln_Tensor>:$inputs, I64Attr:$axis);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$inputs attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def Kiln_SplitOp : Kiln_Op<"split", [Pure, InferTypeOpAdaptor]> {
  let summary = "cut along `axis` into pieces of `sizes`";
  let arguments = (ins Kiln_Tensor:$input, I64Attr:$axis,
                       DenseI64ArrayAttr:$sizes);
  let results = (outs Variadic<Kiln_Tensor>:$outputs);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def Kiln_SliceOp : Kiln_Op<"slice", [Pure, InferTypeOpAdaptor]> {
  let summary = "strided window: output[i] = input[starts + i * steps]";
  let description = [{
    One entry per dim in `starts`, `sizes` and `steps`; starts are in range,
    steps non-zero (negative walks backwards), sizes the result shape.
  }];
  let arguments = (ins Kiln_Tensor:$input, DenseI64ArrayAttr:$starts,
                       DenseI64ArrayAttr:$sizes, DenseI64ArrayAttr:$steps);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

def Kiln_GatherOp : Kiln_Op<"gather", [Pure, InferTypeOpAdaptor]> {
  let summary = "take slices of `data` along `axis` at `indices`";
  let description = [{
    Result shape: data.shape[:axis] + indices.shape + data.shape[axis+1:].
    Negative indices count from the end.
  }];
  let arguments = (ins Kiln_Tensor:$data, Kiln_IndexTensor:$indices,
                       I64Attr:$axis);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = [{
    $data `,` $indices attr-dict `:` functional-type(operands, results)
  }];
  let hasFolder = 1;
}

def Kiln_GatherElementsOp : Kiln_Op<"gather_elements",
    [Pure, InferTypeOpAdaptor]> {
  let summary = "output[i] = data[i with dim axis replaced by indices[i]]";
  let arguments = (ins Kiln_Tensor:$data, Kiln_IndexTensor:$indices,
                       I64Attr:$axis);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = [{
    $data `,` $indices attr-dict `:` functional-type(operands, results)
  }];
}

def Kiln_ScatterElementsOp : Kiln_Op<"scatter_elements",
    [Pure, AllTypesMatch<["data", "output"]>]> {
  let summary = "data with updates written at indices along `axis`";
  let description = [{
    output = data; then for every position p of indices, output at p with
    dim `axis` replaced by indices[p] becomes updates[p] ("none"), or is
    combined with it ("add", "mul"). Negative indices count from the end.
  }];
  let arguments = (ins Kiln_Tensor:$data, Kiln_IndexTensor:$indices,
                       Kiln_Tensor:$updates, I64Attr:$axis,
                       StrAttr:$reduction);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = [{
    $data `,` $indices `,` $updates attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Kiln_ScatterNDOp : Kiln_Op<"scatter_nd",
    [Pure, AllTypesMatch<["data", "output"]>]> {
  let summary = "data with slices replaced at index tuples";
  let description = [{
    indices has shape [..., k]; each k-tuple addresses a slice
    data[i0, ..., ik-1, :, ...] that becomes the matching slice of updates
    ("none") or is combined with it ("add", "mul").
  }];
  let arguments = (ins Kiln_Tensor:$data, Kiln_IndexTensor:$indices,
                       Kiln_Tensor:$updates, StrAttr:$reduction);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = [{
    $data `,` $indices `,` $updates attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Kiln_CumSumOp : Kiln_Op<"cumsum", [Pure, SameOperandsAndResultType]> {
  let summary = "running sum along `axis` (optionally exclusive, reversed)";
  let arguments = (ins Kiln_Tensor:$input, I64Attr:$axis, BoolAttr:$exclusive,
                       BoolAttr:$reverse);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Kiln_PadOp : Kiln_Op<"pad", [Pure, InferTypeOpAdaptor]> {
  let summary = "pad with a constant, by reflection or by edge replication";
  let arguments = (ins Kiln_Tensor:$input, DenseI64ArrayAttr:$pads,
                       StrAttr:$mode, F64Attr:$value);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Dispatch regions
//===----------------------------------------------------------------------===//

def Kiln_DispatchOp : Kiln_Op<"dispatch", [IsolatedFromAbove,
    SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "a group of ops compiled into one kernel";
  let description = [{
    Created by the fusion pass. The region's arguments are the operands; the
    yielded values the results. Isolated from above, so constants the body
    needs are operands too.

    ```mlir
    %r = kiln.dispatch "conv_0" (%x, %w) : (tensor<1x3x8x8xf32>,
        tensor<4x3x3x3xf32>) -> tensor<1x4x6x6xf32> {
    ^bb0(%a: tensor<1x3x8x8xf32>, %b: tensor<4x3x3x3xf32>):
      %c = kiln.conv %a, %b ...
      %d = kiln.relu %c : tensor<1x4x6x6xf32>
      kiln.yield %d : tensor<1x4x6x6xf32>
    }
    ```
  }];
  let arguments = (ins StrAttr:$name, Variadic<Kiln_Tensor>:$inputs);
  let results = (outs Variadic<Kiln_Tensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $name `(` $inputs `)` attr-dict `:` functional-type($inputs, $results)
    $body
  }];
  let hasVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [OpBuilder<(ins "::llvm::StringRef":$name,
      "::mlir::TypeRange":$resultTypes, "::mlir::ValueRange":$inputs)>];
}

def Kiln_YieldOp : Kiln_Op<"yield", [Pure, Terminator,
    HasParent<"DispatchOp">, ReturnLike]> {
  let summary = "results of a dispatch region";
  let arguments = (ins Variadic<Kiln_Tensor>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
  let builders = [OpBuilder<(ins), [{ /* nothing */ }]>];
}

def Kiln_DispatchCallOp : Kiln_Op<"dispatch_call", [Pure]> {
  let summary = "run an outlined dispatch entry of the executables";
  let description = [{
    After outlining, each `kiln.dispatch` becomes a call of a function in the
    executable module `kiln_executable`. Lowering records, per phase of the
    call, its entry in the executables' entry table (`kiln.entries`) and its
    workgroup count (`kiln.workgroups`).
  }];
  let arguments = (ins FlatSymbolRefAttr:$callee,
                       Variadic<Kiln_Tensor>:$inputs);
  let results = (outs Variadic<Kiln_Tensor>:$results);
  let assemblyFormat = [{
    $callee `(` $inputs `)` attr-dict `:` functional-type($inputs, $results)
  }];
}

#endif // KILN_OPS_TD
