//===- Passes.td - Kiln CPU target passes -----------------*- tablegen -*-===//
#ifndef KILN_TARGETS_CPU_PASSES_TD
#define KILN_TARGETS_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def CpuFuseElementwise : Pass<"kiln-cpu-fuse-elementwise", "mlir::ModuleOp"> {
  let summary = "Fuse producer-consumer linalg generics, sparing microkernel ones";
  let description = [{
    linalg's elementwise fusion, plus folding reshapes into generics by
    expansion, except where a generic tagged `kiln.microkernel` would be
    rewritten: rewriting it drops the tag and its microkernel with it.

    Before:
    ```mlir
    %0 = linalg.generic {...} ins(%x) ...   // x * 2
    %1 = linalg.generic {...} ins(%0) ...   // + 1
    ```
    After: one generic computing x * 2 + 1.

    With `keep-gathers-apart` (the CUDA target's), a generic that gathers
    (reads a tensor with `tensor.extract`, as a padded copy does) is not
    fused into a consumer with reduction loops: that consumer reads each
    element many times, and GPU kernels stage operands, not gathers,
    through shared memory.
  }];
  let options = [
    Option<"keepGathersApart", "keep-gathers-apart", "bool", "false",
           "Do not fuse gathering generics into reductions">,
  ];
  let dependentDialects = ["mlir::linalg::LinalgDialect",
                           "mlir::tensor::TensorDialect"];
}

def CpuDispatchAbi : Pass<"kiln-cpu-dispatch-abi", "mlir::ModuleOp"> {
  let summary = "Give dispatch functions the runtime's calling convention";
  let description = [{
    Rewrites every function of the executable module from tensors in and out
    to destination-passing style on buffers: one memref per input, one per
    result (written with `bufferization.materialize_in_destination`), then
    the workgroup id and count. Bufferization then writes results straight
    into the buffers the schedule binds. Pads are generalised to fill +
    insert_slice on the way, so every op left bufferizes in place.

    Before:
    ```mlir
    func.func @dispatch_0(%a: tensor<4xf32>) -> tensor<4xf32> {
      %0 = linalg.generic ... ins(%a) ...
      return %0 : tensor<4xf32>
    }
    ```
    After:
    ```mlir
    func.func @dispatch_0(%a: memref<4xf32>, %r: memref<4xf32>,
                          %wg: index, %wgs: index) {
      %t = bufferization.to_tensor %a restrict : memref<4xf32>
      %0 = linalg.generic ... ins(%t) ...
      bufferization.materialize_in_destination %0 in restrict writable %r
          : (tensor<4xf32>, memref<4xf32>) -> ()
      return
    }
    ```
  }];
  let dependentDialects = ["mlir::bufferization::BufferizationDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::linalg::LinalgDialect"];
}

def CpuMicrokernels : Pass<"kiln-cpu-microkernels", "mlir::ModuleOp"> {
  let summary = "Run tagged contractions with the register-tiled microkernels";
  let description = [{
    Kiln → linalg tags the matmul/gemm and 2-D convolution generics it emits
    with `kiln.microkernel`. After bufferization, each tagged generic whose
    buffers are contiguous becomes a call of the matching function in the
    builtins (`targets/cpu/builtins/microkernels.c`): blocked, packed, 6x16
    FMA register tiles. The call gets a packing workspace (a temporary, so
    it ends up in the dispatch's scratch). Untagged or strided cases keep
    their loops.

    Before:
    ```mlir
    linalg.generic {..., kiln.microkernel = "matmul"}
        ins(%a, %b : memref<64x576xf32>, memref<576x3136xf32>)
        outs(%c : memref<64x3136xf32>) {...}
    ```
    After:
    ```mlir
    %ws = memref.alloc() : memref<598016xi8>
    func.call @kiln_ukernel_matmul_f32(%pa, %pb, %pc, %pws, %m, %n, %k,
        %sam, %sak, %sbk, %sbn) : (!llvm.ptr, ..., i64) -> ()
    ```

    `matmul_i8` generics (kiln.matmul_integer) become calls of
    `kiln_ukernel_matmul_i8`: 8x8 int32 tiles over packed 8-bit panels, with
    the portable tile, or `kiln_ukernel_matmul_i8_sdot` when the target's
    features include `+dotprod` (ARMv8.2-A `sdot`), or
    `kiln_ukernel_matmul_i8_avx2` with `+avx2` (`vpmaddwd`). All ask for the
    same workgroups and workspace, so every target splits a dispatch alike.
  }];
  let options = [
    Option<"targetFeatures", "target-features", "std::string", "\"\"",
           "LLVM feature string of the target (picks the int8 tile)">
  ];
  let dependentDialects = ["mlir::LLVM::LLVMDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::func::FuncDialect"];
}

def CpuScratchBuffers : Pass<"kiln-cpu-scratch-buffers", "mlir::ModuleOp"> {
  let summary = "Place a dispatch's temporary buffers in an arena binding";
  let description = [{
    Generated code must not call malloc. Each `memref.alloc` left after
    bufferization (padded inputs, intermediates of multi-op dispatches)
    becomes a `memref.view` into one extra `memref<Nxi8>` argument placed
    before the workgroup arguments; N (64-byte aligned pieces) is recorded as
    `kiln.scratch_size` on the function so that memory planning can give the
    dispatch that much arena for the duration of its call.

    Before:
    ```mlir
    %0 = memref.alloc() : memref<16xf32>
    ```
    After:
    ```mlir
    // new argument %scratch: memref<64xi8>
    %c0 = arith.constant 0 : index
    %0 = memref.view %scratch[%c0][] : memref<64xi8> to memref<16xf32>
    ```
  }];
  let dependentDialects = ["mlir::memref::MemRefDialect",
                           "mlir::arith::ArithDialect"];
}

def CpuExpandMath : Pass<"kiln-cpu-expand-math", "mlir::ModuleOp"> {
  let summary = "Replace transcendental math ops by inline polynomials";
  let description = [{
    The executable has no imports, so libm is not available: exp, log, tanh,
    erf, sin, cos, ... become MLIR's polynomial approximations (f32, and
    f16/bf16 through f32) and powf becomes exp(y * log(x)) with the sign
    rules of pow. Approximations vectorize, unlike libm calls.

    Before:
    ```mlir
    %0 = math.exp %x : f32
    ```
    After: a sequence of arith ops (range reduction, polynomial, scaling).
  }];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::math::MathDialect",
                           "mlir::vector::VectorDialect"];
}

def CpuDistributeLoops : Pass<"kiln-cpu-distribute-loops", "mlir::ModuleOp"> {
  let summary = "Divide the loops of large linalg ops between workgroups";
  let description = [{
    Microkernel calls divide their work by the workgroup id and count every
    dispatch receives; elementwise ops, pooling, reductions, softmax, layer
    norm and layout changes are linalg loop nests and ran on one workgroup.
    This pass slices top-level linalg ops on one of their parallel loops: one
    that every written operand indexes alone in one dim (never its last dim,
    which would cut vectors; read operands may also take it in a window
    sum, then only with at least 8 iterations), preferring one the current
    phase admits, then one of at least 8 iterations, then the outermost.
    Workgroup `id` of `count` runs iterations [E * id / count,
    E * (id + 1) / count) of that loop, on subviews of the operands. The op
    gets `kiln.workgroups` (8: the runtime launches one or two per thread)
    and `kiln.phase`. Consecutive sliced ops share a phase when every buffer
    one of them writes is sliced alike by all of them (the same buffer, dim
    and extent, through subviews that keep that dim whole), so no workgroup
    reads another's slice; any other op ends the phase. A phase of fewer
    than 2^15 iterations in all stays whole. kiln-cpu-split-dispatches then
    cuts the dispatch at phase boundaries.

    Before:
    ```mlir
    func.func @dispatch_0(%x: memref<64x3136xf32>, %y: memref<64x3136xf32>,
                          %id: index, %count: index) {
      linalg.generic {...} ins(%x : ...) outs(%y : ...) { relu }
      return
    }
    ```
    After:
    ```mlir
      %begin = (64 * %id) / %count, %end = (64 * (%id + 1)) / %count
      %xs = memref.subview %x[%begin, 0] [%end - %begin, 3136] [1, 1]
      %ys = memref.subview %y[%begin, 0] [%end - %begin, 3136] [1, 1]
      linalg.generic {...} ins(%xs) outs(%ys) {kiln.phase = 0, kiln.workgroups = 8}
    ```
  }];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::affine::AffineDialect"];
}

def CpuSplitDispatches : Pass<"kiln-cpu-split-dispatches", "mlir::ModuleOp"> {
  let summary = "Split a dispatch into phases at its parallel parts";
  let description = [{
    A dispatch's parallel parts (a microkernel call with `kiln.workgroups` >
    1, a run of linalg ops of one `kiln.phase`) split their work over
    workgroups, but the ops around them (a padded copy, a small op left
    whole) must run once and in order. A dispatch with a parallel part
    becomes one function per part, on the same bindings: each parallel part,
    and each run of other ops between them. The schedule runs them one after
    the other, which is the barrier. The module attribute
    `kiln.dispatch_phases` maps each split dispatch to its phases
    `[[function, workgroups], ...]`.

    Before: `func.func @dispatch_3(...) { linalg.fill ...; call @kiln_ukernel_conv2d_f32(...) {kiln.workgroups = 8}; linalg.generic ... }`
    After: `@dispatch_3_0` (fill), `@dispatch_3_1` (call), `@dispatch_3_2` (generic),
    and `kiln.dispatch_phases = {dispatch_3 = [["dispatch_3_0", 1], ["dispatch_3_1", 8], ["dispatch_3_2", 1]]}`.
  }];
}

#endif // KILN_TARGETS_CPU_PASSES_TD
