//===- Passes.td - Kiln CUDA target passes -----------------*- tablegen -*-===//
#ifndef KILN_TARGETS_CUDA_PASSES_TD
#define KILN_TARGETS_CUDA_PASSES_TD

include "mlir/Pass/PassBase.td"

def CudaMapDispatches : Pass<"kiln-cuda-map-dispatches", "mlir::ModuleOp"> {
  let summary = "Turn each loop nest of a dispatch into a GPU kernel with "
                "coalesced threads";
  let description = [{
    Runs on the executable module once its dispatch functions are on buffers
    (the dispatch ABI of kiln-cpu-dispatch-abi: bindings, then the two
    workgroup arguments, which GPU kernels do not use). Every top-level op
    of a dispatch that touches memory becomes one kernel of the module's
    `gpu.module @kernels`, launched from the dispatch function in order:

    - a linalg op has its parallel dims moved outermost (keeping their
      order);
    - a contraction (parallel and reduction dims, one output indexed by
      every parallel dim: products, convolutions as
      kiln-cuda-expose-convolutions writes them, reductions along an axis)
      becomes a tiled kernel: a block computes up to 64 x 64 outputs along
      the last two parallel dims (one position of the others) on up to 256
      threads, each thread up to 4 x 4 of them in registers, neighbouring
      threads on neighbouring columns. The reduction dims, flattened, advance
      up to 32 at a time: the block copies every input that depends on them
      into shared memory, for the tile's positions and the chunk, indexed by
      iteration coordinates (so a convolution's window needs nothing
      special) and laid out so that the copy reads contiguous addresses;
      then waits (`gpu.barrier`), computes from shared memory, and waits
      again. Inputs that no reduction dim indexes are read once;
    - a contraction that sums products of two inputs into f32 where an
      input is f16 (a model's f16 tensors, or `--precision fp16`'s
      weights; an f32 model never) runs on tensor cores instead:
      `nvvm.mma.sync` m16n8k8 with f16 operands and f32 accumulators (sm_75
      and later). A block computes up to 64 x 64 outputs as 16 x 8
      fragments on up to 8 warps, each thread holding 4 accumulators per
      fragment in mma.sync's layout; 32 reduction steps at a time, A's rows
      and B's columns are staged in shared memory as f16, k contiguous
      (f32 operands rounded, zeros outside the ranges), rows padded so a
      warp's fragment loads hit distinct banks;
    - any other linalg op becomes a parallel loop nest whose iterations are
      flattened, one per thread, the last (contiguous) dim varying fastest
      so that neighbouring threads touch neighbouring elements (a coalesced
      mapping, unlike gpu-map-parallel-loops, which puts the outermost loop
      on thread x); reductions stay sequential loops inside each thread;
    - anything else runs on one thread.

    Every kernel takes all the dispatch's bindings, in order, as its
    parameters, so the runtime launches any kernel of a dispatch with the
    same argument list. Side-effect-free ops the kernel needs (constants,
    views of bindings) are cloned into it.

    Before:
    ```mlir
    func.func @dispatch_0(%a: memref<4x100xf32>, %b: memref<4x100xf32>,
                          %wg: index, %wgs: index) {
      linalg.generic {...} ins(%a : memref<4x100xf32>)
                           outs(%b : memref<4x100xf32>) { ... }
      return
    }
    ```

    After:
    ```mlir
    gpu.module @kernels {
      gpu.func @dispatch_0_0(%a: memref<4x100xf32>, %b: memref<4x100xf32>)
          kernel attributes {known_block_size = array<i32: 256, 1, 1>} {
        // i = blockIdx.x * 256 + threadIdx.x; if i < 400:
        //   b[i / 100, i % 100] = f(a[i / 100, i % 100])
      }
    }
    func.func @dispatch_0(%a: memref<4x100xf32>, %b: memref<4x100xf32>,
                          %wg: index, %wgs: index) {
      gpu.launch_func @kernels::@dispatch_0_0 blocks in (%c2, %c1, %c1)
          threads in (%c256, %c1, %c1) args(%a : ..., %b : ...)
      return
    }
    ```
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect", "mlir::scf::SCFDialect",
                           "mlir::LLVM::LLVMDialect", "mlir::NVVM::NVVMDialect",
                           "mlir::arith::ArithDialect"];
}

def CudaLibdeviceMath : Pass<"kiln-cuda-libdevice-math",
                             "mlir::gpu::GPUModuleOp"> {
  let summary = "Call libdevice for the math ops convert-gpu-to-nvvm leaves";
  let description = [{
    MLIR 19's convert-gpu-to-nvvm maps most math ops to libdevice
    (`__nv_expf`, ...) but not the inverse and hyperbolic trigonometric
    functions nor round-half-even, which then fail translation to LLVM IR.
    This pass calls libdevice for those: `__nv_<name>f` for f32,
    `__nv_<name>` for f64, through f32 for f16.

    ```mlir
    %y = math.acosh %x : f32
    // becomes
    %y = llvm.call @__nv_acoshf(%x) : (f32) -> f32
    ```
  }];
  let dependentDialects = ["mlir::LLVM::LLVMDialect",
                           "mlir::arith::ArithDialect"];
}

def CudaExposeConvolutions : Pass<"kiln-cuda-expose-convolutions",
                                  "mlir::ModuleOp"> {
  let summary = "Write NCHWc convolutions as reductions a GPU kernel can tile";
  let description = [{
    Runs on the CUDA target's copy of the executable module, on tensors,
    before kiln-to-linalg. For the CPU, kiln-to-linalg writes a
    `kiln.conv2d_nchwc` on f32 activations (its filter f32, or f16 with
    `--precision fp16`) as an all-parallel generic whose body loops over the
    window, the reference its microkernels replace; on a GPU that would be a
    thread per output reading its whole window from global memory. Here it
    becomes
    - a copy of the input with its zero padding written out (where it has
      padding), so that every index is an affine function of the loops;
    - `linalg.fill` 0 and a generic over (n, fb, oy, ox, f | cb, y, x, c)
      ((n, fb, oy, ox, f | y, x) when depthwise) summing input * filter
      (an f16 filter extended to f32), which kiln-cuda-map-dispatches tiles
      through shared memory;
    - an elementwise generic for the epilogue (bias, residual, relu or clip),
      where there is one.

    Before:
    ```mlir
    %y = kiln.conv2d_nchwc %x, %w bias %b {activation = "relu",
        pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>, ...}
        : (tensor<1x1x8x8x16xf32>, tensor<1x1x3x3x16x16xf32>,
           tensor<1x16xf32>) -> tensor<1x1x8x8x16xf32>
    ```

    After:
    ```mlir
    %p = linalg.generic {...} outs(%e0 : tensor<1x1x10x10x16xf32>) {
      // x[n, cb, i - 1, j - 1, c] inside the image, else 0
    }
    %z = linalg.fill ins(%cst : f32) outs(%e1 : tensor<1x1x8x8x16xf32>)
    %s = linalg.generic {indexing_maps = [
        (n, fb, oy, ox, f, cb, y, x, c) -> (n, cb, oy + y, ox + x, c),
        (...) -> (fb, cb, y, x, c, f), (...) -> (n, fb, oy, ox, f)],
        iterator_types = [5 x parallel, 4 x reduction]}
        ins(%p, %w) outs(%z) { acc + x * w }
    %y = linalg.generic {...} ins(%s, %b) outs(%e2) { max(s + b, 0) }
    ```
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect",
                           "mlir::tensor::TensorDialect",
                           "mlir::arith::ArithDialect"];
}

#endif // KILN_TARGETS_CUDA_PASSES_TD
