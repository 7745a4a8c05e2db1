//===- Microkernels.cpp - tagged contractions -> microkernel calls
//---------===//

#include "targets/cpu/builtins/microkernels.h"
#include "passes/Passes.h"
#include "targets/cpu/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"

namespace mlir::kiln::cpu {
#define GEN_PASS_DEF_CPUMICROKERNELS
#include "targets/cpu/Passes.h.inc"
} // namespace mlir::kiln::cpu

using namespace mlir;

namespace {

// Below this many multiply-adds (about 10 us of work) a call stays one
// workgroup: waking a second thread and moving data between cores cost more
// than the split saves. mobilenet_v2 at 2 threads, medians of 100 runs on the
// AVX-512 Xeon: 8.6 ms with 2^24 (most of its convolutions then ran on one
// core), 6.6 ms with 2^21, 5.1-5.4 ms with 2^19 and 2^17.
constexpr int64_t kMinMacsToSplit = int64_t(1) << 19;

int64_t workgroupsFor(int64_t macs) {
  return macs < kMinMacsToSplit ? 1 : kiln::cpu::kMaxWorkgroups;
}

bool isContiguous(Value buffer, Type element) {
  auto type = dyn_cast<MemRefType>(buffer.getType());
  return type && type.hasStaticShape() && type.getLayout().isIdentity() &&
         type.getElementType() == element;
}

bool isContiguousF32(Value buffer) {
  return isContiguous(buffer, Float32Type::get(buffer.getContext()));
}

/// The kernel name suffix for a contiguous weight buffer: "" for f32
/// weights, "_f16w" for f16 ones (--precision fp16), which those kernels
/// widen as they load them; nothing for any other buffer.
std::optional<StringRef> weightSuffix(Value buffer) {
  if (isContiguousF32(buffer))
    return StringRef();
  if (isContiguous(buffer, Float16Type::get(buffer.getContext())))
    return StringRef("_f16w");
  return std::nullopt;
}

/// The suffix of the float matrix product kernels (gemm.inc's instances)
/// for contiguous A, B and C buffers: "_f32" (f32 A, B and C), "_f32_f16w"
/// (f32 A and C, f16 weights, which the kernel widens) or, where the target
/// has fp16 arithmetic, "_f16_fp16" (all f16); nothing for other buffers,
/// whose products keep their loops.
std::optional<StringRef> matmulSuffix(Value a, Value b, Value c,
                                      bool fp16Arithmetic) {
  Type f16 = Float16Type::get(a.getContext());
  if (isContiguousF32(a) && isContiguousF32(c)) {
    std::optional<StringRef> weights = weightSuffix(b);
    if (!weights)
      return std::nullopt;
    return StringRef(weights->empty() ? "_f32" : "_f32_f16w");
  }
  if (fp16Arithmetic && isContiguous(a, f16) && isContiguous(b, f16) &&
      isContiguous(c, f16))
    return StringRef("_f16_fp16");
  return std::nullopt;
}

/// Replaces `op` by a call of microkernel `name` on raw pointers to
/// `buffers` (null for a null Value) and a packing workspace of
/// `workspaceBytes` per workgroup (null when 0), then `integers`, then the
/// dispatch's workgroup id and count. `macs` (multiply-adds) decides how many
/// workgroups the call asks for.
void replaceByMicrokernel(ModuleOp module, linalg::GenericOp op, StringRef name,
                          ArrayRef<Value> buffers, int64_t workspaceBytes,
                          ArrayRef<int64_t> integers, int64_t macs) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Type ptr = LLVM::LLVMPointerType::get(b.getContext());
  int64_t workgroups = workgroupsFor(macs);
  Value workspace;
  if (workspaceBytes)
    workspace = b.create<memref::AllocOp>(
        loc, MemRefType::get({workgroups * workspaceBytes}, b.getI8Type()));
  SmallVector<Value> args;
  SmallVector<Value> pointers(buffers);
  pointers.push_back(workspace);
  for (Value buffer : pointers) {
    if (!buffer) {
      args.push_back(b.create<LLVM::ZeroOp>(loc, ptr));
      continue;
    }
    Value index = b.create<memref::ExtractAlignedPointerAsIndexOp>(loc, buffer);
    Value integer = b.create<arith::IndexCastOp>(loc, b.getI64Type(), index);
    args.push_back(b.create<LLVM::IntToPtrOp>(loc, ptr, integer));
  }
  for (int64_t v : integers)
    args.push_back(b.create<arith::ConstantIntOp>(loc, v, 64));
  auto [id, count] =
      kiln::cpu::workgroupIdAndCount(op->getParentOfType<func::FuncOp>());
  for (Value workgroup : {id, count})
    args.push_back(
        b.create<arith::IndexCastOp>(loc, b.getI64Type(), workgroup));
  auto type = b.getFunctionType(ValueRange(args).getTypes(), {});
  if (!module.lookupSymbol<func::FuncOp>(name)) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(module.getBody());
    b.create<func::FuncOp>(loc, name, type).setPrivate();
  }
  auto call = b.create<func::CallOp>(loc, name, TypeRange{}, args);
  call->setAttr(kiln::kWorkgroupsAttr, b.getI64IntegerAttr(workgroups));
  op->erase();
}

/// A product by compile-time packed panels (kiln.matmul_packed): A [M, K]
/// and the panels [P, K, 16] contiguous; the kernel reads the panels in
/// place and packs only A, except that f32 data widens f16 panels into a
/// whole f32 workspace.
LogicalResult replaceMatmulPacked(ModuleOp module, linalg::GenericOp op,
                                  bool fp16Arithmetic) {
  Value a = op.getDpsInputs()[0], packed = op.getDpsInputs()[1],
        c = op.getDpsInits()[0];
  std::optional<StringRef> suffix = matmulSuffix(a, packed, c, fp16Arithmetic);
  if (!suffix)
    return failure();
  auto cShape = cast<MemRefType>(c.getType()).getShape();
  int64_t m = cShape[0], n = cShape[1];
  int64_t k = cast<MemRefType>(a.getType()).getShape()[1];
  int64_t workspaceBytes = *suffix == "_f32_f16w"
                               ? KILN_UKERNEL_F32_WORKSPACE_BYTES
                               : KILN_UKERNEL_F32_PACKED_WORKSPACE_BYTES;
  replaceByMicrokernel(
      module, op, ("kiln_ukernel_matmul_packed" + *suffix).str(),
      {a, packed, c}, workspaceBytes, {m, n, k, k, 1}, m * n * k);
  return success();
}

/// Element strides (of the rows dim and the reduction dim) of a 2-D operand
/// read through `map` from loops (m|k, k, n|k...): see the callers.
std::pair<int64_t, int64_t> strides2d(AffineMap map, unsigned rowDim,
                                      ArrayRef<int64_t> shape) {
  // A row-major [d0, d1] buffer: dim 0 has stride shape[1], dim 1 stride 1.
  int64_t stride[2] = {shape[1], 1};
  unsigned first = cast<AffineDimExpr>(map.getResult(0)).getPosition();
  return first == rowDim ? std::pair{stride[0], stride[1]}
                         : std::pair{stride[1], stride[0]};
}

LogicalResult replaceMatmul(ModuleOp module, linalg::GenericOp op,
                            bool fp16Arithmetic) {
  Value a = op.getDpsInputs()[0], b = op.getDpsInputs()[1],
        c = op.getDpsInits()[0];
  std::optional<StringRef> suffix = matmulSuffix(a, b, c, fp16Arithmetic);
  if (!suffix)
    return failure();
  // Loops are (m, k, n); A is read at (m, k) or (k, m), B at (k, n) or (n, k).
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  auto cShape = cast<MemRefType>(c.getType()).getShape();
  auto aShape = cast<MemRefType>(a.getType()).getShape();
  auto bShape = cast<MemRefType>(b.getType()).getShape();
  int64_t m = cShape[0], n = cShape[1];
  int64_t k = maps[0].getResult(0) == getAffineDimExpr(0, op.getContext())
                  ? aShape[1]
                  : aShape[0];
  auto [sam, sak] = strides2d(maps[0], 0, aShape);
  auto [sbk, sbn] = strides2d(maps[1], 1, bShape);
  replaceByMicrokernel(module, op, ("kiln_ukernel_matmul" + *suffix).str(),
                       {a, b, c}, KILN_UKERNEL_F32_WORKSPACE_BYTES,
                       {m, n, k, sam, sak, sbk, sbn}, m * n * k);
  return success();
}

/// One operand of an 8-bit matmul body: `ext(input) [- zero]`.
struct CenteredOperand {
  unsigned input = 0;           // the generic's input holding the bytes
  bool isUnsigned = false;      // extui rather than extsi
  int64_t zeroConstant = 0;     // the zero point, when a constant
  std::optional<unsigned> zero; // or the input holding one per row/column
};

/// Matches `v` in the body of `op` as (extsi|extui)(in_i) [- zero] where
/// zero is a constant or the block argument of another input.
std::optional<CenteredOperand> matchCentered(linalg::GenericOp op, Value v) {
  CenteredOperand result;
  Block *body = op.getBlock();
  auto inputOf = [&](Value arg) -> std::optional<unsigned> {
    auto blockArg = dyn_cast<BlockArgument>(arg);
    if (!blockArg || blockArg.getOwner() != body ||
        blockArg.getArgNumber() >= op.getNumDpsInputs())
      return std::nullopt;
    return blockArg.getArgNumber();
  };
  if (auto sub = v.getDefiningOp<arith::SubIOp>()) {
    APInt constant;
    if (matchPattern(sub.getRhs(), m_ConstantInt(&constant)))
      result.zeroConstant = constant.getSExtValue();
    else if (auto input = inputOf(sub.getRhs()))
      result.zero = *input;
    else
      return std::nullopt;
    v = sub.getLhs();
  }
  Value narrow;
  if (auto ext = v.getDefiningOp<arith::ExtSIOp>())
    narrow = ext.getIn();
  else if (auto ext = v.getDefiningOp<arith::ExtUIOp>())
    narrow = ext.getIn(), result.isUnsigned = true;
  auto input = narrow ? inputOf(narrow) : std::nullopt;
  if (!input || !narrow.getType().isInteger(8))
    return std::nullopt;
  result.input = *input;
  return result;
}

/// A matmul_i8 generic (MatMulIntegerLowering): loops (m, k, n), body
/// out + (ext(a) - za) * (ext(b) - zb), zero points constants or inputs read
/// along m and n. Canonicalization may have reordered the body's operands.
/// `variant` ("", "_sdot", "_avx2") names the tile the target can run.
LogicalResult replaceMatmulI8(ModuleOp module, linalg::GenericOp op,
                              StringRef variant) {
  Block *body = op.getBlock();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  auto add = yield.getValues()[0].getDefiningOp<arith::AddIOp>();
  Value out = body->getArguments().back();
  if (!add || (add.getLhs() != out && add.getRhs() != out))
    return failure();
  auto mul = (add.getLhs() == out ? add.getRhs() : add.getLhs())
                 .getDefiningOp<arith::MulIOp>();
  if (!mul)
    return failure();
  auto x = matchCentered(op, mul.getLhs()), y = matchCentered(op, mul.getRhs());
  if (!x || !y)
    return failure();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  MLIRContext *context = op.getContext();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, context); };
  if (maps[x->input] != AffineMap::get(3, 0, {d(0), d(1)}, context))
    std::swap(x, y);
  if (maps[x->input] != AffineMap::get(3, 0, {d(0), d(1)}, context) ||
      maps[y->input] != AffineMap::get(3, 0, {d(1), d(2)}, context))
    return failure();

  Builder builder(context);
  Type i8 = builder.getI8Type(), i32 = builder.getI32Type();
  Value a = op.getDpsInputs()[x->input], b = op.getDpsInputs()[y->input],
        c = op.getDpsInits()[0];
  if (!isContiguous(a, i8) || !isContiguous(b, i8) || !isContiguous(c, i32))
    return failure();
  // A zero-point input must be one i32 per row (column), read along m (n).
  auto zeroBuffer = [&](const CenteredOperand &operand,
                        unsigned dim) -> FailureOr<Value> {
    if (!operand.zero)
      return Value();
    Value buffer = op.getDpsInputs()[*operand.zero];
    if (!isContiguous(buffer, i32) ||
        maps[*operand.zero] != AffineMap::get(3, 0, d(dim)))
      return failure();
    return buffer;
  };
  auto aZero = zeroBuffer(*x, 0), bZero = zeroBuffer(*y, 2);
  if (failed(aZero) || failed(bZero))
    return failure();

  auto cShape = cast<MemRefType>(c.getType()).getShape();
  auto aShape = cast<MemRefType>(a.getType()).getShape();
  int64_t m = cShape[0], n = cShape[1], k = aShape[1];
  auto [sam, sak] = strides2d(maps[x->input], 0, aShape);
  auto [sbk, sbn] =
      strides2d(maps[y->input], 1, cast<MemRefType>(b.getType()).getShape());
  replaceByMicrokernel(module, op, ("kiln_ukernel_matmul_i8" + variant).str(),
                       {a, b, c, *aZero, *bZero},
                       KILN_UKERNEL_I8_WORKSPACE_BYTES,
                       {m, n, k, sam, sak, sbk, sbn, x->zeroConstant,
                        y->zeroConstant, x->isUnsigned, y->isUnsigned},
                       m * n * k);
  return success();
}

LogicalResult replaceConv2d(ModuleOp module, linalg::GenericOp op) {
  Value input = op.getDpsInputs()[0], filter = op.getDpsInputs()[1],
        output = op.getDpsInits()[0];
  if (!isContiguousF32(input) || !isContiguousF32(filter) ||
      !isContiguousF32(output))
    return failure();
  auto strides =
      op->getAttrOfType<DenseI64ArrayAttr>(kiln::kMicrokernelStridesAttr);
  auto dilations =
      op->getAttrOfType<DenseI64ArrayAttr>(kiln::kMicrokernelDilationsAttr);
  if (!strides || !dilations || strides.size() != 2 || dilations.size() != 2)
    return failure();
  // input [N, G, C/G, H, W], filter [G, F/G, C/G, KH, KW], output
  // [N, G, F/G, OH, OW] (see buildConv in LowerContractions.cpp).
  auto in = cast<MemRefType>(input.getType()).getShape();
  auto w = cast<MemRefType>(filter.getType()).getShape();
  auto out = cast<MemRefType>(output.getType()).getShape();
  int64_t macs =
      out[0] * out[1] * out[2] * out[3] * out[4] * w[2] * w[3] * w[4];
  replaceByMicrokernel(
      module, op, "kiln_ukernel_conv2d_f32", {input, filter, output},
      KILN_UKERNEL_F32_WORKSPACE_BYTES,
      {in[0], in[1], in[2], in[3], in[4], w[1], w[3], w[4], out[3], out[4],
       strides[0], strides[1], dilations[0], dilations[1]},
      macs);
  return success();
}

/// The tag of an NCHWc convolution generic (tagNchwcGeneric in
/// LowerContractions.cpp): strides, dilations, pads and the epilogue's
/// entries.
struct NchwcTag {
  DenseI64ArrayAttr strides, dilations, pads;
  DictionaryAttr epilogue;

  static std::optional<NchwcTag> of(linalg::GenericOp op) {
    NchwcTag tag{
        op->getAttrOfType<DenseI64ArrayAttr>(kiln::kMicrokernelStridesAttr),
        op->getAttrOfType<DenseI64ArrayAttr>(kiln::kMicrokernelDilationsAttr),
        op->getAttrOfType<DenseI64ArrayAttr>(kiln::kMicrokernelPadsAttr),
        op->getAttrOfType<DictionaryAttr>(kiln::kMicrokernelEpilogueAttr)};
    if (!tag.strides || !tag.dilations || !tag.pads || !tag.epilogue)
      return std::nullopt;
    return tag;
  }
  bool flag(StringRef name) const {
    auto value = epilogue.getAs<BoolAttr>(name);
    return value && value.getValue();
  }
  /// An integer entry, -1 when absent.
  int64_t integer(StringRef name) const {
    auto value = epilogue.getAs<IntegerAttr>(name);
    return value ? value.getInt() : -1;
  }
  /// A float entry's f32 bits, as the kernels take them.
  int64_t floatBits(StringRef name) const {
    auto value = epilogue.getAs<FloatAttr>(name);
    float f = value ? (float)value.getValueAsDouble() : 0.0f;
    return llvm::bit_cast<uint32_t>(f);
  }
  int64_t activationCode() const {
    auto name = epilogue.getAs<StringAttr>("activation");
    StringRef activation = name ? name.getValue() : "none";
    return activation == "relu"   ? KILN_UKERNEL_ACTIVATION_RELU
           : activation == "clip" ? KILN_UKERNEL_ACTIVATION_CLIP
                                  : KILN_UKERNEL_ACTIVATION_NONE;
  }
};

/// The suffix of the float NCHWc convolution kernel for data and filter
/// buffers (conv_nchwc.inc's instances): "_f32", "_f32_f16w" (f16 weights),
/// "_f16" (f16 data and weights computed in f32) or, where the target has
/// fp16 arithmetic, "_f16_fp16"; nothing for other buffers.
std::optional<StringRef> convElementSuffix(Value data, Value filter,
                                           bool fp16Arithmetic) {
  Type f16 = Float16Type::get(data.getContext());
  if (isContiguousF32(data)) {
    std::optional<StringRef> weights = weightSuffix(filter);
    if (!weights)
      return std::nullopt;
    return StringRef(weights->empty() ? "_f32" : "_f32_f16w");
  }
  if (isContiguous(data, f16) && isContiguous(filter, f16))
    return StringRef(fp16Arithmetic ? "_f16_fp16" : "_f16");
  return std::nullopt;
}

/// A conv2d_nchwc generic (Conv2DNchwcLowering): inputs [bias], [residual]
/// as its epilogue attribute says, the input and filter buffers read by the
/// body's first and second loads. The kernel needs no workspace; bias,
/// residual and output have the input's element type.
LogicalResult replaceConv2dNchwc(ModuleOp module, linalg::GenericOp op,
                                 bool fp16Arithmetic) {
  std::optional<NchwcTag> tag = NchwcTag::of(op);
  if (!tag)
    return failure();
  auto flag = [&](StringRef name) { return tag->flag(name); };
  ValueRange inputs = op.getDpsInputs();
  unsigned next = 0;
  Value input, filter, bias, residual;
  if (inputs.size() != unsigned(flag("bias")) + unsigned(flag("residual")))
    return failure();
  if (flag("bias"))
    bias = inputs[next++];
  if (flag("residual"))
    residual = inputs[next++];
  bool depthwise = flag("depthwise");
  int64_t filterRank = depthwise ? 4 : 6;
  // The body reads the input first, then the filter (Conv2DNchwcLowering).
  op.getBlock()->walk([&](memref::LoadOp load) {
    if (!input)
      input = load.getMemRef();
    else if (!filter)
      filter = load.getMemRef();
  });
  if (!input || !filter ||
      cast<MemRefType>(filter.getType()).getRank() != filterRank)
    return failure();
  // A plain input [N, C, H, W] (C < 16) is one block of C channels.
  bool plain = cast<MemRefType>(input.getType()).getRank() == 4;
  Value output = op.getDpsInits()[0];
  std::optional<StringRef> suffix =
      convElementSuffix(input, filter, fp16Arithmetic);
  if (!suffix)
    return failure();
  Type data = cast<MemRefType>(input.getType()).getElementType();
  for (Value buffer : {bias, residual, output})
    if (buffer && !isContiguous(buffer, data))
      return failure();
  // input [N, C/16, H, W, 16], filter [F/16, C/16, KH, KW, 16, 16] or
  // depthwise [C/16, KH, KW, 16], output [N, F/16, OH, OW, 16].
  auto in = cast<MemRefType>(input.getType()).getShape();
  auto w = cast<MemRefType>(filter.getType()).getShape();
  auto out = cast<MemRefType>(output.getType()).getShape();
  int64_t kh = depthwise ? w[1] : w[2], kw = depthwise ? w[2] : w[3];
  int64_t macs = out[0] * out[1] * out[2] * out[3] * 16 * kh * kw *
                 (depthwise ? 1
                  : plain   ? in[1]
                            : in[1] * 16);
  StringRef kernel = depthwise ? "kiln_ukernel_depthwise_conv2d_nchwc"
                     : plain   ? "kiln_ukernel_conv2d_plain_input"
                               : "kiln_ukernel_conv2d_nchwc";
  replaceByMicrokernel(module, op, (kernel + *suffix).str(),
                       {input, filter, bias, residual, output},
                       /*workspaceBytes=*/0,
                       {in[0], in[1], in[2], in[3], out[1], kh, kw, out[2],
                        out[3], tag->strides[0], tag->strides[1],
                        tag->dilations[0], tag->dilations[1], tag->pads[0],
                        tag->pads[1], tag->activationCode(),
                        tag->floatBits("min"), tag->floatBits("max")},
                       macs);
  return success();
}

/// A quantized_conv2d_nchwc generic (QuantizedConv2DNchwcLowering): inputs
/// filter sums, scale, [bias]; the input and filter buffers read by the
/// body's first and second loads. `variant` ("", "_vnni", "_avx2", "_sdot")
/// names the dense tile the target can run; depthwise convolutions have a
/// VNNI kernel and one for every other target.
LogicalResult replaceQuantizedConv2dNchwc(ModuleOp module, linalg::GenericOp op,
                                          StringRef variant) {
  std::optional<NchwcTag> tag = NchwcTag::of(op);
  if (!tag)
    return failure();
  auto flag = [&](StringRef name) { return tag->flag(name); };
  auto integer = [&](StringRef name) { return tag->integer(name); };
  bool depthwise = flag("depthwise");
  ValueRange inputs = op.getDpsInputs();
  if (inputs.size() != 3u + unsigned(flag("residual")) ||
      inputs[1] != inputs[2])
    return failure();
  Value sums = inputs[0], scaleBias = inputs[1],
        residual = flag("residual") ? inputs[3] : Value();
  Value input, filter;
  op.getBlock()->walk([&](memref::LoadOp load) {
    if (!input)
      input = load.getMemRef();
    else if (!filter)
      filter = load.getMemRef();
  });
  Value output = op.getDpsInits()[0];
  Builder b(op.getContext());
  Type i8 = b.getI8Type();
  bool quantized = integer("output_zero_point") >= 0;
  bool plain = input && cast<MemRefType>(input.getType()).getRank() == 4;
  if (!input || !filter ||
      cast<MemRefType>(filter.getType()).getRank() != (depthwise ? 4
                                                       : plain   ? 6
                                                                 : 7) ||
      !isContiguous(input, i8) || !isContiguous(filter, i8) ||
      !isContiguous(sums, b.getI32Type()) || !isContiguousF32(scaleBias) ||
      (residual && !isContiguous(residual, i8)) ||
      !(quantized ? isContiguous(output, i8) : isContiguousF32(output)))
    return failure();
  auto in = cast<MemRefType>(input.getType()).getShape();
  auto w = cast<MemRefType>(filter.getType()).getShape();
  auto out = cast<MemRefType>(output.getType()).getShape();
  // An image input's kernel takes KW/4, its groups of window columns.
  int64_t kh = depthwise ? w[1] : w[2], kw = depthwise ? w[2] : w[3];
  // The other tiles keep each window position's pixel offsets on the
  // stack, for windows up to 7x7.
  if (!plain && kh * kw > 49)
    return failure();
  int64_t macs = out[0] * out[1] * out[2] * out[3] * 16 * kh * kw *
                 (depthwise ? 1
                  : plain   ? 4 * in[1]
                            : in[1] * 16);
  std::string name =
      depthwise ? ("kiln_ukernel_depthwise_conv2d_nchwc_u8s8" +
                   StringRef(variant == "_vnni" ? "_vnni" : ""))
                      .str()
      : plain ? ("kiln_ukernel_conv2d_plain_input_u8s8" + variant).str()
              : ("kiln_ukernel_conv2d_nchwc_u8s8" + variant).str();
  replaceByMicrokernel(module, op, name,
                       {input, filter, sums, scaleBias, residual, output},
                       /*workspaceBytes=*/0,
                       {in[0],
                        in[1],
                        in[2],
                        in[3],
                        out[1],
                        kh,
                        kw,
                        out[2],
                        out[3],
                        tag->strides[0],
                        tag->strides[1],
                        tag->dilations[0],
                        tag->dilations[1],
                        tag->pads[0],
                        tag->pads[1],
                        tag->activationCode(),
                        tag->floatBits("min"),
                        tag->floatBits("max"),
                        integer("input_zero_point"),
                        quantized ? integer("output_zero_point") : 0,
                        quantized ? 1 : 0,
                        integer("sum_zero_point"),
                        tag->floatBits("sum_scale"),
                        integer("residual_zero_point"),
                        tag->floatBits("residual_scale")},
                       // Dot-product instructions do 4 multiply-adds each: the
                       // split counts them as a quarter of float work.
                       macs / 4);
  return success();
}

/// A max_pool_nchwc generic (blockedMaxPool in LowerReductions.cpp): no
/// inputs, the body's one load reads the input [N, C/16, H, W, 16].
LogicalResult replaceMaxPoolNchwc(ModuleOp module, linalg::GenericOp op) {
  auto strides =
      op->getAttrOfType<DenseI64ArrayAttr>(kiln::kMicrokernelStridesAttr);
  auto dilations =
      op->getAttrOfType<DenseI64ArrayAttr>(kiln::kMicrokernelDilationsAttr);
  auto pads = op->getAttrOfType<DenseI64ArrayAttr>(kiln::kMicrokernelPadsAttr);
  auto window =
      op->getAttrOfType<DenseI64ArrayAttr>(kiln::kMicrokernelWindowAttr);
  if (!strides || !dilations || !pads || !window || !op.getDpsInputs().empty())
    return failure();
  Value input, output = op.getDpsInits()[0];
  op.getBlock()->walk([&](memref::LoadOp load) {
    if (!input)
      input = load.getMemRef();
  });
  if (!input || !isContiguousF32(input) || !isContiguousF32(output))
    return failure();
  auto in = cast<MemRefType>(input.getType()).getShape();
  auto out = cast<MemRefType>(output.getType()).getShape();
  // A comparison per window position and output value: counted as the
  // multiply-adds that decide the split.
  int64_t work =
      out[0] * out[1] * out[2] * out[3] * out[4] * window[0] * window[1];
  replaceByMicrokernel(
      module, op, "kiln_ukernel_max_pool_nchwc_f32", {input, output},
      /*workspaceBytes=*/0,
      {in[0], in[1], in[2], in[3], window[0], window[1], out[2], out[3],
       strides[0], strides[1], dilations[0], dilations[1], pads[0], pads[1]},
      work);
  return success();
}

struct CpuMicrokernelsPass
    : public mlir::kiln::cpu::impl::CpuMicrokernelsBase<CpuMicrokernelsPass> {
  using CpuMicrokernelsBase::CpuMicrokernelsBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // The int8 tile this target's features allow.
    SmallVector<StringRef> features;
    StringRef(targetFeatures).split(features, ',');
    StringRef int8Variant = llvm::is_contained(features, "+dotprod") ? "_sdot"
                            : llvm::is_contained(features, "+avx2")  ? "_avx2"
                                                                     : "";
    StringRef convInt8Variant =
        llvm::is_contained(features, "+dotprod")      ? "_sdot"
        : llvm::is_contained(features, "+avx512vnni") ? "_vnni"
        : llvm::is_contained(features, "+avx2")       ? "_avx2"
                                                      : "";
    bool fp16Arithmetic = llvm::is_contained(features, "+fullfp16");
    SmallVector<linalg::GenericOp> tagged;
    module.walk([&](linalg::GenericOp op) {
      if (op->hasAttr(kiln::kMicrokernelAttr) && op.hasPureBufferSemantics())
        tagged.push_back(op);
    });
    for (linalg::GenericOp op : tagged) {
      StringRef kind =
          op->getAttrOfType<StringAttr>(kiln::kMicrokernelAttr).getValue();
      // A failed match keeps the loops, which compute the same thing.
      if (kind == "matmul")
        (void)replaceMatmul(module, op, fp16Arithmetic);
      else if (kind == "matmul_packed")
        (void)replaceMatmulPacked(module, op, fp16Arithmetic);
      else if (kind == "matmul_i8")
        (void)replaceMatmulI8(module, op, int8Variant);
      else if (kind == "conv2d")
        (void)replaceConv2d(module, op);
      else if (kind == "conv2d_nchwc")
        (void)replaceConv2dNchwc(module, op, fp16Arithmetic);
      else if (kind == "quantized_conv2d_nchwc")
        (void)replaceQuantizedConv2dNchwc(module, op, convInt8Variant);
      else if (kind == "max_pool_nchwc")
        (void)replaceMaxPoolNchwc(module, op);
    }
  }
};

} // namespace
