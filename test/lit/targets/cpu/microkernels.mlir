// RUN: kiln-opt %s -kiln-cpu-microkernels -cse | FileCheck %s --check-prefixes=CHECK,F32ONLY
// RUN: kiln-opt %s -kiln-cpu-microkernels="target-features=+neon,+dotprod,+fullfp16" -cse | FileCheck %s --check-prefixes=CHECK,FP16

// A tagged matmul on contiguous buffers becomes a microkernel call with a
// packing workspace; the strides come from the indexing maps (B is read
// transposed here: B(k, n) at b[n][k]).
// CHECK: func.func private @kiln_ukernel_matmul_f32(!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, i64, i64, i64, i64, i64, i64, i64, i64, i64)
// CHECK-LABEL: func.func @matmul
// CHECK: memref.alloc() : memref<598016xi8>
// CHECK-DAG: %[[M:.*]] = arith.constant 4 : i64
// CHECK-DAG: %[[N:.*]] = arith.constant 16 : i64
// CHECK-DAG: %[[K:.*]] = arith.constant 8 : i64
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1 : i64
// CHECK: %[[WG:.*]] = arith.index_cast %[[ID:.*]] : index to i64
// CHECK: %[[WGS:.*]] = arith.index_cast %[[COUNT:.*]] : index to i64
// CHECK: call @kiln_ukernel_matmul_f32(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[M]], %[[N]], %[[K]], %[[K]], %[[ONE]], %[[ONE]], %[[K]], %[[WG]], %[[WGS]]) {kiln.workgroups = 1 : i64}
// CHECK-NOT: linalg.generic
#a = affine_map<(m, k, n) -> (m, k)>
#b = affine_map<(m, k, n) -> (n, k)>
#c = affine_map<(m, k, n) -> (m, n)>
func.func @matmul(%a: memref<4x8xf32>, %b: memref<16x8xf32>, %c: memref<4x16xf32>, %id: index, %count: index) {
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %b : memref<4x8xf32>, memref<16x8xf32>) outs(%c : memref<4x16xf32>)
      attrs = {kiln.microkernel = "matmul"} {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// A product by packed panels calls the packed kernel with A's strides and
// a workspace for A's blocks only.
// CHECK-LABEL: func.func @matmul_packed
// CHECK: memref.alloc() : memref<73728xi8>
// CHECK-DAG: %[[M:.*]] = arith.constant 6 : i64
// CHECK-DAG: %[[N:.*]] = arith.constant 20 : i64
// CHECK-DAG: %[[K:.*]] = arith.constant 4 : i64
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1 : i64
// CHECK: call @kiln_ukernel_matmul_packed_f32(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[M]], %[[N]], %[[K]], %[[K]], %[[ONE]], %{{.*}}, %{{.*}}) {kiln.workgroups = 1 : i64} : (!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, i64, i64, i64, i64, i64, i64, i64) -> ()
// CHECK-NOT: linalg.generic
func.func @matmul_packed(%a: memref<6x4xf32>, %p: memref<2x4x16xf32>, %c: memref<6x20xf32>, %id: index, %count: index) {
  linalg.generic {indexing_maps = [affine_map<(m, k, n) -> (m, k)>, affine_map<(m, k, n) -> (n floordiv 16, k, n mod 16)>, affine_map<(m, k, n) -> (m, n)>], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %p : memref<6x4xf32>, memref<2x4x16xf32>) outs(%c : memref<6x20xf32>)
      attrs = {kiln.microkernel = "matmul_packed"} {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %q = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %q : f32
    linalg.yield %s : f32
  }
  return
}

// f16 panels (--precision fp16) call the kernel that widens them into the
// workspace, which then holds a B block as well as A's.
// CHECK-LABEL: func.func @matmul_packed_f16
// CHECK: memref.alloc() : memref<598016xi8>
// CHECK: call @kiln_ukernel_matmul_packed_f32_f16w(
func.func @matmul_packed_f16(%a: memref<6x4xf32>, %p: memref<2x4x16xf16>, %c: memref<6x20xf32>, %id: index, %count: index) {
  linalg.generic {indexing_maps = [affine_map<(m, k, n) -> (m, k)>, affine_map<(m, k, n) -> (n floordiv 16, k, n mod 16)>, affine_map<(m, k, n) -> (m, n)>], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %p : memref<6x4xf32>, memref<2x4x16xf16>) outs(%c : memref<6x20xf32>)
      attrs = {kiln.microkernel = "matmul_packed"} {
  ^bb0(%x: f32, %y: f16, %acc: f32):
    %w = arith.extf %y : f16 to f32
    %q = arith.mulf %x, %w : f32
    %s = arith.addf %acc, %q : f32
    linalg.yield %s : f32
  }
  return
}

// f16 data computes in f16 where the target has fp16 arithmetic, with the
// f32 kernel's workspace; elsewhere its loops stay.
// CHECK-LABEL: func.func @matmul_f16_data
// F32ONLY-NOT: call
// F32ONLY: linalg.generic
// FP16: memref.alloc() : memref<598016xi8>
// FP16: call @kiln_ukernel_matmul_f16_fp16(
// FP16-NOT: linalg.generic
func.func @matmul_f16_data(%a: memref<4x8xf16>, %b: memref<8x16xf16>, %c: memref<4x16xf16>, %id: index, %count: index) {
  linalg.generic {indexing_maps = [affine_map<(m, k, n) -> (m, k)>, affine_map<(m, k, n) -> (k, n)>, affine_map<(m, k, n) -> (m, n)>], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %b : memref<4x8xf16>, memref<8x16xf16>) outs(%c : memref<4x16xf16>)
      attrs = {kiln.microkernel = "matmul"} {
  ^bb0(%x: f16, %y: f16, %acc: f16):
    %p = arith.mulf %x, %y : f16
    %s = arith.addf %acc, %p : f16
    linalg.yield %s : f16
  }
  return
}

// f16 data by f16 panels reads them in place: A's block only.
// CHECK-LABEL: func.func @matmul_packed_f16_data
// F32ONLY-NOT: call
// F32ONLY: linalg.generic
// FP16: memref.alloc() : memref<73728xi8>
// FP16: call @kiln_ukernel_matmul_packed_f16_fp16(
// FP16-NOT: linalg.generic
func.func @matmul_packed_f16_data(%a: memref<6x4xf16>, %p: memref<2x4x16xf16>, %c: memref<6x20xf16>, %id: index, %count: index) {
  linalg.generic {indexing_maps = [affine_map<(m, k, n) -> (m, k)>, affine_map<(m, k, n) -> (n floordiv 16, k, n mod 16)>, affine_map<(m, k, n) -> (m, n)>], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %p : memref<6x4xf16>, memref<2x4x16xf16>) outs(%c : memref<6x20xf16>)
      attrs = {kiln.microkernel = "matmul_packed"} {
  ^bb0(%x: f16, %y: f16, %acc: f16):
    %q = arith.mulf %x, %y : f16
    %s = arith.addf %acc, %q : f16
    linalg.yield %s : f16
  }
  return
}

// Strided buffers keep their loops.
// CHECK-LABEL: func.func @strided
// CHECK-NOT: call
// CHECK: linalg.generic
func.func @strided(%a: memref<4x8xf32, strided<[16, 1]>>, %b: memref<8x16xf32>, %c: memref<4x16xf32>, %id: index, %count: index) {
  linalg.generic {indexing_maps = [#a, affine_map<(m, k, n) -> (k, n)>, #c], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %b : memref<4x8xf32, strided<[16, 1]>>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
      attrs = {kiln.microkernel = "matmul"} {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// A conv2d_nchwc generic (its body abridged to the loads the pass reads:
// the first is the input, the second the filter) becomes a call with no
// workspace: input, filter, bias, no residual, output, then the shapes,
// strides, dilations, pads, the activation (2: clip) and its bounds as
// float bits (0.0, 6.0 = 0x40C00000).
// CHECK-LABEL: func.func @conv2d_nchwc
// CHECK-DAG: %[[NULL:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK-DAG: %[[SIX:.*]] = arith.constant 1086324736 : i64
// CHECK: call @kiln_ukernel_conv2d_nchwc_f32(%{{.*}}, %{{.*}}, %{{.*}}, %[[NULL]], %{{.*}}, %[[NULL]], {{.*}}, %[[SIX]], %{{.*}}, %{{.*}}) {kiln.workgroups = 1 : i64}
// CHECK-NOT: linalg.generic
#bias = affine_map<(n, f, y, x, c) -> (f, c)>
#out = affine_map<(n, f, y, x, c) -> (n, f, y, x, c)>
func.func @conv2d_nchwc(%x: memref<1x1x4x4x16xf32>, %w: memref<2x1x3x3x16x16xf32>, %b: memref<2x16xf32>, %o: memref<1x2x4x4x16xf32>, %id: index, %count: index) {
  linalg.generic {indexing_maps = [#bias, #out], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%b : memref<2x16xf32>) outs(%o : memref<1x2x4x4x16xf32>)
      attrs = {kiln.microkernel = "conv2d_nchwc", kiln.strides = array<i64: 1, 1>, kiln.dilations = array<i64: 1, 1>, kiln.pads = array<i64: 1, 1, 1, 1>,
               kiln.epilogue = {activation = "clip", bias = true, depthwise = false, max = 6.0 : f32, min = 0.0 : f32, residual = false}} {
  ^bb0(%bias: f32, %acc: f32):
    %c0 = arith.constant 0 : index
    %v = memref.load %x[%c0, %c0, %c0, %c0, %c0] : memref<1x1x4x4x16xf32>
    %k = memref.load %w[%c0, %c0, %c0, %c0, %c0, %c0] : memref<2x1x3x3x16x16xf32>
    %p = arith.mulf %v, %k : f32
    %s = arith.addf %p, %bias : f32
    linalg.yield %s : f32
  }
  return
}

// The same with an f16 filter calls the kernel that widens it as it loads.
// CHECK-LABEL: func.func @conv2d_nchwc_f16
// CHECK: call @kiln_ukernel_conv2d_nchwc_f32_f16w(
// CHECK-NOT: linalg.generic
func.func @conv2d_nchwc_f16(%x: memref<1x1x4x4x16xf32>, %w: memref<2x1x3x3x16x16xf16>, %o: memref<1x2x4x4x16xf32>, %id: index, %count: index) {
  linalg.generic {indexing_maps = [#out], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]}
      outs(%o : memref<1x2x4x4x16xf32>)
      attrs = {kiln.microkernel = "conv2d_nchwc", kiln.strides = array<i64: 1, 1>, kiln.dilations = array<i64: 1, 1>, kiln.pads = array<i64: 1, 1, 1, 1>,
               kiln.epilogue = {activation = "none", bias = false, depthwise = false, max = 0.0 : f32, min = 0.0 : f32, residual = false}} {
  ^bb0(%acc: f32):
    %c0 = arith.constant 0 : index
    %v = memref.load %x[%c0, %c0, %c0, %c0, %c0] : memref<1x1x4x4x16xf32>
    %k = memref.load %w[%c0, %c0, %c0, %c0, %c0, %c0] : memref<2x1x3x3x16x16xf16>
    %e = arith.extf %k : f16 to f32
    %p = arith.mulf %v, %e : f32
    linalg.yield %p : f32
  }
  return
}

// A max_pool_nchwc generic (its body abridged to the load the pass reads,
// the input) becomes a call with no workspace: input, output, then the
// shapes, window, strides, dilations and leading pads. 2x112x112x16 inputs
// through a 3x3 window are work enough for 8 workgroups.
// CHECK-LABEL: func.func @max_pool_nchwc
// CHECK-DAG: %[[NULL:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK-DAG: %[[C112:.*]] = arith.constant 112 : i64
// CHECK-DAG: %[[C56:.*]] = arith.constant 56 : i64
// CHECK: call @kiln_ukernel_max_pool_nchwc_f32(%{{.*}}, %{{.*}}, %[[NULL]], %{{.*}}, %{{.*}}, %[[C112]], %[[C112]], %{{.*}}, %{{.*}}, %[[C56]], %[[C56]], {{.*}}) {kiln.workgroups = 8 : i64}
// CHECK-NOT: linalg.generic
#pool = affine_map<(n, c, y, x, l) -> (n, c, y, x, l)>
func.func @max_pool_nchwc(%x: memref<1x2x112x112x16xf32>, %o: memref<1x2x56x56x16xf32>, %id: index, %count: index) {
  linalg.generic {indexing_maps = [#pool], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]}
      outs(%o : memref<1x2x56x56x16xf32>)
      attrs = {kiln.microkernel = "max_pool_nchwc", kiln.strides = array<i64: 2, 2>, kiln.dilations = array<i64: 1, 1>, kiln.pads = array<i64: 1, 1, 1, 1>, kiln.window = array<i64: 3, 3>} {
  ^bb0(%acc: f32):
    %c0 = arith.constant 0 : index
    %v = memref.load %x[%c0, %c0, %c0, %c0, %c0] : memref<1x2x112x112x16xf32>
    %m = arith.maximumf %v, %acc : f32
    linalg.yield %m : f32
  }
  return
}
