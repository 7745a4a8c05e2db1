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
      order) and becomes a parallel loop nest; its parallel iterations are
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

#endif // KILN_TARGETS_CUDA_PASSES_TD
