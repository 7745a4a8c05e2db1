//===- Passes.td - Kiln graph passes -----------------------*- tablegen -*-===//
//
// The target-independent passes of the pipeline, in phase order. Each has a
// lit test under test/lit/passes/ named after the pass.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PASSES_TD
#define KILN_PASSES_TD

include "mlir/Pass/PassBase.td"

def CountFlops : Pass<"kiln-count-flops", "mlir::func::FuncOp"> {
  let summary = "Record each ONNX node's contraction work, for profiles";
  let description = [{
    Runs before fusion, while every contraction is still the ONNX node it
    came from: each `kiln.conv`, `kiln.conv_transpose`, `kiln.matmul`,
    `kiln.matmul_integer` and `kiln.gemm` adds 2 operations per
    multiply-add to its node (the name in its location). The counts go
    into the function's `kiln.node_flops` dictionary, which
    `kiln-form-dispatches` reads to give each dispatch the work of the
    nodes it covers. Counting here, not after blocking, leaves out the
    padded channels that the NCHWc kernels compute but nobody asked for.

    Before:
    ```mlir
    func.func @main(%x: tensor<1x3x8x8xf32>) -> tensor<1x4x8x8xf32> {
      %y = kiln.conv %x, %w {...} loc("conv1")   // 4x3x3x3 filter
    ```
    After:
    ```mlir
    func.func @main(...) attributes {kiln.node_flops = {conv1 = 13824 : i64}}
    ```
  }];
  let dependentDialects = ["mlir::kiln::KilnDialect"];
}

def FoldBatchNorm : Pass<"kiln-fold-batch-norm", "mlir::func::FuncOp"> {
  let summary = "Fold inference batch normalisation into the producer's weights";
  let description = [{
    A `kiln.batch_norm` with constant parameters is an affine map per channel,
    y = x * a + b with a = scale / sqrt(var + eps) and b = bias - mean * a.
    When x comes from a `kiln.conv` with a constant filter and no other user,
    a and b are folded into the filter and bias and the batch norm disappears;
    otherwise it becomes a `kiln.mul` and `kiln.add` with constant operands.

    Before:
    ```mlir
    %c = kiln.conv %x, %w, %b {...}
    %y = kiln.batch_norm %c, %scale, %bias, %mean, %var {epsilon = 1.0e-05}
    ```
    After:
    ```mlir
    %c = kiln.conv %x, %w2, %b2 {...}   // %w2 = %w * a, %b2 = %b * a + b
    ```
  }];
  let dependentDialects = ["mlir::kiln::KilnDialect"];
}

def FormIntegerOps : Pass<"kiln-form-integer-ops", "mlir::func::FuncOp"> {
  let summary = "Run the float ops between dequantize and quantize on integers";
  let description = [{
    The quantize phase. A QDQ model (ONNX Runtime's `quantize_static`,
    `kiln quantize`, or `kiln compile --quantize int8`, which goes through
    the same model) states each int8 computation as a float op whose inputs
    are `kiln.dequantize`d and whose result is `kiln.quantize`d. Where a
    Kiln op computes the same on the stored integers, the pattern becomes
    that op:
    - `kiln.matmul` and `kiln.gemm` (alpha 1, A not transposed) of two
      dequantized 8-bit values, per tensor or per column of a [K, N]
      matrix, become `kiln.matmul_integer` (exact in i32) times the product
      of the scales, plus C;
    - `kiln.reshape`, `kiln.transpose` and `kiln.max_pool` of a value
      dequantized with per-tensor parameters, quantized again with the same
      ones, move or select the stored values instead;
    - a 2-D `kiln.conv` of a dequantized uint8 input (per tensor) by
      dequantized constant int8 weights (zero point 0) that would run on
      NCHWc data (blocked input, depthwise, or an image input of fewer
      than 16 channels with adjacent window columns), with its constant
      bias and what follows it (Relu or Clip; QuantizeLinear to uint8; or
      a residual block's end: quantize, dequantize, Add of a dequantized
      uint8 shortcut, activation, quantize), becomes one
      `kiln.quantized_conv2d_nchwc`: the filter packed for 4-byte
      dot-product lanes and summed per output channel, the scales folded
      into one per-channel scale and bias.

    Before:
    ```mlir
    %a = kiln.dequantize %qa : tensor<4x8x!quant.uniform<u8:f32, 0.1:3>> to tensor<4x8xf32>
    %b = kiln.dequantize %qb : tensor<8x2x!quant.uniform<i8:f32:1, {0.5,0.25}>> to tensor<8x2xf32>
    %y = kiln.matmul %a, %b
    ```
    After:
    ```mlir
    %p = kiln.matmul_integer %ia, %ib, %c3, %c0 : (tensor<4x8xui8>, tensor<8x2xi8>, ...) -> tensor<4x2xi32>
    %y = kiln.mul (kiln.cast %p to f32), dense<[0.05, 0.025]>
    ```

    And a convolution:
    ```mlir
    %c = kiln.conv (kiln.dequantize %x), (kiln.dequantize %w), %b
    %q = kiln.quantize (kiln.relu %c) : ... to tensor<1x16x4x4x!quant.uniform<u8:f32, 0.125:2>>
    ```
    becomes
    ```mlir
    %y = kiln.quantized_conv2d_nchwc (kiln.to_nchwc %ix), %packed, %sums, %scale_bias
           {activation = "relu", input_zero_point = 3, output_zero_point = 2, ...}
           : (tensor<1x1x4x4x16xui8>, ...) -> tensor<1x1x4x4x16xui8>
    %q = kiln.from_nchwc %y : ... -> tensor<1x16x4x4xui8>
    ```
  }];
  let dependentDialects = ["mlir::kiln::KilnDialect"];
}

def LowerQuantizedTypes
    : Pass<"kiln-lower-quantized-types", "mlir::func::FuncOp"> {
  let summary = "Lower !quant.uniform tensors to their storage integers";
  let description = [{
    Ends the quantize phase: a `kiln.quantize` or `kiln.dequantize` that no
    integer op absorbed becomes float arithmetic on the stored integers
    (`saturate(round_half_even(x / s) + z)`, `(q - z) * s`, the parameters as
    constants broadcast along a per-axis type's axis), `kiln.storage_cast`
    disappears, and every remaining tensor of a quantized type takes its
    ONNX storage type (`ui8`, `i8`, `i32`). The phases after it see no quant
    types; a dequantized constant (a weight) folds to a float constant.

    Before:
    ```mlir
    %q = kiln.quantize %x : tensor<8xf32> to tensor<8x!quant.uniform<u8:f32, 0.5:3>>
    ```
    After:
    ```mlir
    %s = kiln.div %x, %c0_5
    %r = kiln.round %s
    %z = kiln.add %r, %c3
    %c = kiln.clip %z {max = 255.0, min = 0.0}
    %q = kiln.cast %c : tensor<8xf32> to tensor<8xui8>
    ```
  }];
  let dependentDialects = ["mlir::kiln::KilnDialect"];
}

def StoreWeightsF16 : Pass<"kiln-store-weights-f16", "mlir::func::FuncOp"> {
  let summary = "Store the weights of convolutions and matrix products as f16";
  let description = [{
    `kiln compile --precision fp16`, in the quantize phase. A constant f32
    tensor used only as the weights of f32 ops that read f16 weights (a
    `kiln.conv` filter, a `kiln.matmul` right-hand side, `kiln.gemm`'s B)
    becomes an f16 constant, rounded to nearest even, that those ops read
    directly. Their result types follow the data operand and stay f32:
    the op widens each weight as it loads it (exactly), so only the
    weights' rounding changes the result. The bundle's weights take about
    half the bytes, and so do the kernels' weight loads. A constant with a
    finite value beyond f16's range (65504) stays f32. Other constants
    (biases, normalisation parameters, tables read by Gather) stay f32.

    Before:
    ```mlir
    %w = kiln.constant dense<...> : tensor<64x256xf32>
    %y = kiln.matmul %x, %w : tensor<8x64xf32>, tensor<64x256xf32> -> tensor<8x256xf32>
    ```
    After:
    ```mlir
    %w = kiln.constant dense<...> : tensor<64x256xf16>
    %y = kiln.matmul %x, %w : tensor<8x64xf32>, tensor<64x256xf16> -> tensor<8x256xf32>
    ```
  }];
  let dependentDialects = ["mlir::kiln::KilnDialect"];
}

def ComputeF16 : Pass<"kiln-compute-f16", "mlir::func::FuncOp"> {
  let summary = "Compute in f16, keeping f32 for reductions and normalisations";
  let description = [{
    `kiln compile --precision fp16` for targets with fp16 arithmetic
    (`aarch64-neon-dotprod-fp16`), in the quantize phase after
    `kiln-store-weights-f16`. Every op's f32 tensors become f16: its f32
    operands are cast to f16 (casts of constants fold into f16 constants)
    and its f32 results become f16. Reductions (`kiln.reduce_sum`, `_mean`,
    `_prod`, `_sum_square`, `_l1`, `_l2`, `_log_sum`, `_log_sum_exp`,
    `kiln.cumsum`, `kiln.average_pool`), normalisations (`kiln.layer_norm`,
    `kiln.batch_norm`) and softmax stay f32, so that their sums and
    statistics accumulate in f32. Matrix products and convolutions compute
    in f16, as XNNPACK's and MLAS's f16 kernels do. An op kept in f32 reads
    an f32 value itself where the graph had one (not its f16 cast), and an
    f16 one through a cast to f32; its results are cast to f16 where the
    next op reads them. The function's signature does not change: each f32
    input is cast to f16 once, and each f32 output cast back before the
    return. A graph's own f16 tensors stay f16.

    Before:
    ```mlir
    func.func @main(%x: tensor<1x3x8x8xf32>) -> tensor<1x16xf32> {
      %w = kiln.constant dense<...> : tensor<16x3x3x3xf16>
      %y = kiln.conv %x, %w {...} : (tensor<1x3x8x8xf32>, tensor<16x3x3x3xf16>) -> tensor<1x16x8x8xf32>
      %r = kiln.relu %y : tensor<1x16x8x8xf32>
      %m = kiln.reduce_mean %r {axes = array<i64: 2, 3>, keepdims = false} : (tensor<1x16x8x8xf32>) -> tensor<1x16xf32>
      return %m : tensor<1x16xf32>
    }
    ```
    After:
    ```mlir
    func.func @main(%x: tensor<1x3x8x8xf32>) -> tensor<1x16xf32> {
      %h = kiln.cast %x : tensor<1x3x8x8xf32> to tensor<1x3x8x8xf16>
      %w = kiln.constant dense<...> : tensor<16x3x3x3xf16>
      %y = kiln.conv %h, %w {...} : (tensor<1x3x8x8xf16>, tensor<16x3x3x3xf16>) -> tensor<1x16x8x8xf16>
      %r = kiln.relu %y : tensor<1x16x8x8xf16>
      %f = kiln.cast %r : tensor<1x16x8x8xf16> to tensor<1x16x8x8xf32>
      %m = kiln.reduce_mean %f {axes = array<i64: 2, 3>, keepdims = false} : (tensor<1x16x8x8xf32>) -> tensor<1x16xf32>
      return %m : tensor<1x16xf32>
    }
    ```
  }];
  let dependentDialects = ["mlir::kiln::KilnDialect"];
}

def BlockConvolutions : Pass<"kiln-block-convolutions", "mlir::func::FuncOp"> {
  let summary = "Run 2-D convolutions on channel-blocked (NCHW16c) data";
  let description = [{
    A `kiln.conv` with 2 spatial dims, f32 data, group 1 or depthwise
    (group = C = F) and constant weights becomes a `kiln.conv2d_nchwc`: the
    input goes to [N, C/16, H, W, 16] (`kiln.to_nchwc`, channels padded with
    zeros to whole blocks), the filter is packed at compile time to
    [F/16, C/16, KH, KW, 16, 16] ([C/16, KH, KW, 16] when depthwise), the
    bias to [F/16, 16]. An input of fewer than 16 channels (an image) stays
    NCHW and the filter is [F/16, 1, KH, KW, C, 16]. Convolutions whose
    channel padding would cost more than half their work again keep the GEMM
    kernel. A following
    `kiln.add` of a same-shape value (the residual) and a following
    `kiln.relu` or `kiln.clip` fold into the op, which applies them before
    storing its output (a clip with 0 outside its range only without padded
    output channels, which must stay zero). The result goes back to NCHW by
    `kiln.from_nchwc`; canonicalization cancels that against the next
    blocked convolution's `kiln.to_nchwc`, so consecutive convolutions stay
    blocked. A 2-D `kiln.max_pool` or `kiln.average_pool` of a blocked
    result pools the blocks instead (a 3-D pool over (H, W, 16) with a
    window of 1 along the 16), and a `kiln.reduce_mean` over H and W (kept)
    reduces dims 2 and 3 of the blocks, so the layout change moves past them.

    Before:
    ```mlir
    %c = kiln.conv %x, %w, %b {...} : (tensor<1x64x56x56xf32>, ...) -> tensor<1x64x56x56xf32>
    %s = kiln.add %c, %r : ...
    %y = kiln.relu %s : tensor<1x64x56x56xf32>
    ```
    After:
    ```mlir
    %xb = kiln.to_nchwc %x : (tensor<1x64x56x56xf32>) -> tensor<1x4x56x56x16xf32>
    %rb = kiln.to_nchwc %r : ...
    %yb = kiln.conv2d_nchwc %xb, %wb bias %bb residual %rb {activation = "relu", ...}
    %y = kiln.from_nchwc %yb : (tensor<1x4x56x56x16xf32>) -> tensor<1x64x56x56xf32>
    ```
  }];
  let dependentDialects = ["mlir::kiln::KilnDialect"];
}

def PackMatmulWeights : Pass<"kiln-pack-matmul-weights", "mlir::func::FuncOp"> {
  let summary = "Pack constant matmul operands into the microkernel's panels";
  let description = [{
    A `kiln.matmul` of f32 (or f16) data by a constant 2-D matrix B [K, N]
    (a linear layer), with more than two rows, becomes `kiln.matmul_packed`:
    B is packed at compile time into 16-column panels [P, K, 16] (B(k, n) at
    [n / 16, k, n % 16], zero past N, P = 2 * ceil(N / 32)), the layout
    every CPU target's register tile reads in place, so the kernel packs
    nothing of B at run time. One or two rows stay a `kiln.matmul`: the
    matrix-vector kernel reads B unpacked.

    Before:
    ```mlir
    %w = kiln.constant dense<...> : tensor<256x1024xf32>
    %y = kiln.matmul %x, %w : tensor<1x128x256xf32>, tensor<256x1024xf32> -> tensor<1x128x1024xf32>
    ```
    After:
    ```mlir
    %p = kiln.constant dense<...> : tensor<64x256x16xf32>
    %y = kiln.matmul_packed %x, %p : tensor<1x128x256xf32>, tensor<64x256x16xf32> -> tensor<1x128x1024xf32>
    ```
  }];
  let dependentDialects = ["mlir::kiln::KilnDialect"];
}

def FuseDecomposedOps : Pass<"kiln-fuse-decomposed-ops", "mlir::func::FuncOp"> {
  let summary = "Recognise LayerNorm and GELU written out as elementwise ops";
  let description = [{
    Exporters write LayerNorm before opset 17 (PyTorch always) as
    (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) * gamma + beta over
    trailing dims. This pass matches that graph (Pow by 2 or a product for
    the square, Div or a multiplication by the reciprocal, gamma and beta
    optional) and replaces it by one `kiln.layer_norm`, which is one
    dispatch instead of five. It also replaces x * (1 + erf(x / sqrt(2))) *
    0.5 (either product order, or x * 0.7071...) by `kiln.gelu`, which can
    join the producing matmul's epilogue. Values inside a pattern that have
    other users keep it from matching.

    Before:
    ```mlir
    %m = kiln.reduce_mean %x {axes = array<i64: 2>, keepdims = true}
    %d = kiln.sub %x, %m
    %p = kiln.pow %d, %two
    %v = kiln.reduce_mean %p {axes = array<i64: 2>, keepdims = true}
    %a = kiln.add %v, %eps
    %s = kiln.sqrt %a
    %n = kiln.div %d, %s
    %g = kiln.mul %n, %gamma
    %y = kiln.add %g, %beta
    %q = kiln.div %y, %sqrt2
    %e = kiln.erf %q
    %o = kiln.add %e, %one
    %h = kiln.mul %y, %o
    %z = kiln.mul %h, %half
    ```
    After:
    ```mlir
    %y = kiln.layer_norm %x, %gamma, %beta {axis = 2, epsilon = 1.0e-05}
    %z = kiln.gelu %y
    ```
  }];
  let dependentDialects = ["mlir::kiln::KilnDialect"];
}

def PropagateTransposes
    : Pass<"kiln-propagate-transposes", "mlir::func::FuncOp"> {
  let summary = "Sink transposes through elementwise ops so that pairs cancel";
  let description = [{
    NHWC graphs (tf2onnx) wrap every convolution in a Transpose to NCHW and
    one back. This pass moves a transpose below the elementwise op that
    consumes it when the op's other operands are constants, scalars or the
    same transpose, and composes consecutive transposes, so that a
    transpose back and the next transpose forward meet and fold away.

    Before:
    ```mlir
    %t = kiln.transpose %c {perm = array<i64: 0, 2, 3, 1>}  // NCHW -> NHWC
    %r = kiln.relu %t
    %u = kiln.transpose %r {perm = array<i64: 0, 3, 1, 2>}  // NHWC -> NCHW
    ```
    After:
    ```mlir
    %r = kiln.relu %c
    ```
  }];
  let dependentDialects = ["mlir::kiln::KilnDialect"];
}

def Partition : Pass<"kiln-partition", "mlir::func::FuncOp"> {
  let summary = "Place every op on a device and insert the transfers between "
                "devices";
  let description = [{
    Runs where a model is compiled for a GPU as well as the CPU, once kernel
    layouts are chosen (every target computes the same ops). Each op that
    computes gets `kiln.device = "cuda"` or `"cpu"`:

    1. An op the GPU target lacks (`unsupported`), or whose element types
       it lacks, goes to the CPU; the others start on the GPU.
    2. A cost model then moves ops where that lowers the estimated time of
       the whole graph: an op's compute time on each device (its
       contraction work and the bytes it touches, over each device's
       throughput) plus, for every edge whose ends are on different
       devices, a transfer (latency plus bytes over the host link, and the
       wait for the stream it brings). GPU launches are not counted: they
       are asynchronous and overlap the GPU's work. Nor are the edges to
       model inputs and outputs: a model compiled for a GPU crosses the
       link there wherever its first and last ops run. So a graph the GPU
       can run runs there, however small, and what moves to the CPU are
       cheap ops between ops the GPU lacks, which would cost two transfers
       each. Moves repeat until none helps.
    3. `placement` (a JSON file) overrides both: `{"nodes": {"Conv_0":
       "cpu"}, "op_types": {"Softmax": "cpu"}}` places ops by ONNX node
       name or by ONNX op type (node names win); it may not put an op on a
       device whose target lacks it.

    Then a `kiln.transfer` is inserted wherever a value is used on another
    device than the one it was produced on (a model input counts as
    produced on the CPU, a constant as everywhere), once per value and
    device, and before every output that a GPU produced.

    Before:
    ```mlir
    %0 = kiln.conv %x, %w, %b {...}
    %1 = kiln.scatter_elements %0, %i, %u {...}
    return %1
    ```

    After (scatter_elements lacked by the GPU target):
    ```mlir
    %t = kiln.transfer %x to "cuda"
    %0 = kiln.conv %t, %w, %b {kiln.device = "cuda", ...}
    %1 = kiln.transfer %0 to "cpu"
    %2 = kiln.scatter_elements %1, %i, %u {kiln.device = "cpu", ...}
    return %2
    ```
  }];
  let options = [
    Option<"gpu", "gpu", "std::string", "\"\"",
           "The GPU device (cuda); empty: everything stays on the CPU and "
           "nothing is marked">,
    ListOption<"unsupported", "unsupported", "std::string",
               "Ops the GPU target lacks, by name (kiln.cum_sum, ...)">,
    Option<"placement", "placement", "std::string", "\"\"",
           "JSON file overriding the placement by node name or op type">,
  ];
}

def FormDispatches : Pass<"kiln-form-dispatches", "mlir::func::FuncOp"> {
  let summary = "Fuse ops into dispatch regions (the unit of code generation)";
  let description = [{
    Walks the graph in order and groups each op with the elementwise ops
    that consume its result and nothing else: a convolution or matmul with
    its bias, activation and residual add; a chain of elementwise ops. Each
    group becomes one `kiln.dispatch`. Large constants become operands
    (weights); small ones are cloned into the region. Reshapes stay outside:
    they are buffer aliases. A graph output that is a constant gets a copy
    dispatch so that it has a buffer.

    Before:
    ```mlir
    %0 = kiln.conv %x, %w, %b {...}
    %1 = kiln.relu %0 : tensor<1x8x4x4xf32>
    ```
    After:
    ```mlir
    %1 = kiln.dispatch "conv_relu" (%x, %w, %b) : (...) -> tensor<1x8x4x4xf32> {
    ^bb0(%a: ..., %b: ..., %c: ...):
      %0 = kiln.conv %a, %b, %c {...}
      %1 = kiln.relu %0 : tensor<1x8x4x4xf32>
      kiln.yield %1 : tensor<1x8x4x4xf32>
    }
    ```
  }];
  let options = [
    Option<"inlineConstantLimit", "inline-constant-limit", "int64_t", "16",
           "Constants with at most this many elements are cloned into the "
           "dispatch instead of being bound as weights">,
  ];
  let dependentDialects = ["mlir::kiln::KilnDialect"];
}

def OutlineDispatches : Pass<"kiln-outline-dispatches", "mlir::ModuleOp"> {
  let summary = "Move dispatch bodies into functions of the executable module";
  let description = [{
    Each `kiln.dispatch` in `@main` becomes `func.func @dispatch_<i>` in a
    nested `module @kiln_executable`, and a `kiln.dispatch_call` of it takes
    its place. Code generation then works on the executable
    module alone; the schedule is the list of calls left in `@main`.

    Before:
    ```mlir
    func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
      %0 = kiln.dispatch "relu" (%x) : (tensor<4xf32>) -> tensor<4xf32> {...}
      return %0 : tensor<4xf32>
    }
    ```
    After:
    ```mlir
    module @kiln_executable {
      func.func @dispatch_0(%a: tensor<4xf32>) -> tensor<4xf32> {...}
    }
    func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
      %0 = kiln.dispatch_call @dispatch_0(%x) {kiln.name = "relu"}
      return %0 : tensor<4xf32>
    }
    ```
  }];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

def ConvertKilnToLinalg : Pass<"kiln-to-linalg", "mlir::func::FuncOp"> {
  let summary = "Lower Kiln ops to linalg, tensor, arith and math on tensors";
  let description = [{
    Elementwise ops become `linalg.generic` with broadcasting indexing maps
    (so that linalg's elementwise fusion merges chains); matmul, gemm and
    convolution become contractions whose innermost loop runs along the
    contiguous output dim; pooling and reductions become reductions over a
    window; data movement uses tensor slices or index arithmetic.

    Before:
    ```mlir
    %0 = kiln.relu %x : tensor<4xf32>
    ```
    After:
    ```mlir
    %e = tensor.empty() : tensor<4xf32>
    %0 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
        ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) {
    ^bb0(%in: f32, %out: f32):
      %z = arith.constant 0.0 : f32
      %r = arith.maximumf %in, %z : f32
      linalg.yield %r : f32
    } -> tensor<4xf32>
    ```
  }];
  let dependentDialects = [
    "mlir::linalg::LinalgDialect", "mlir::tensor::TensorDialect",
    "mlir::arith::ArithDialect", "mlir::math::MathDialect",
    "mlir::scf::SCFDialect"
  ];
}

def PlanMemory : Pass<"kiln-plan-memory", "mlir::ModuleOp"> {
  let summary = "Pack all intermediate tensors into one arena by liveness";
  let description = [{
    Runs on `@main` after outlining. Every graph input, dispatch result and
    dispatch scratch area gets a 64-byte-aligned offset in one arena; buffers
    whose lifetimes do not overlap share bytes (largest first, lowest free
    offset). Reshapes alias their operand. Inputs and outputs live for the
    whole run, so a session can be run again with the same inputs.

    Results are attributes: `kiln.arena_offset` on arguments and as an array
    `kiln.arena_offsets` on dispatch calls and reshapes, `kiln.scratch_offset`
    on calls with scratch, and `kiln.arena_size` on `@main`.
  }];
}

#endif // KILN_PASSES_TD
