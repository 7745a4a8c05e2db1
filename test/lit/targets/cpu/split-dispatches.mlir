// RUN: kiln-opt %s -kiln-cpu-split-dispatches | FileCheck %s

// The fill before the parallel call, the call, and the loop after it become
// three functions on the same arguments; the pointer computations the call
// needs move with it.
// CHECK: module attributes {kiln.dispatch_phases = {dispatch_0 = {{\[\[}}"dispatch_0_0", 1], ["dispatch_0_1", 8], ["dispatch_0_2", 1]]}}
// CHECK-NOT: func.func @dispatch_0(
// CHECK: func.func @dispatch_0_0(%[[OUT:.*]]: memref<16xf32>, %{{.*}}: index, %{{.*}}: index)
// CHECK-NEXT: %[[ZERO:.*]] = arith.constant
// CHECK-NEXT: linalg.fill ins(%[[ZERO]] : f32) outs(%[[OUT]] : memref<16xf32>)
// CHECK-NEXT: return
// CHECK-LABEL: func.func @dispatch_0_1(
// CHECK-NOT: linalg
// CHECK: memref.extract_aligned_pointer_as_index
// CHECK: call @kernel({{.*}}) {kiln.workgroups = 8 : i64}
// CHECK-NEXT: return
// CHECK-LABEL: func.func @dispatch_0_2(
// CHECK-NOT: call
// CHECK: linalg.generic
// CHECK: return
module {
  func.func private @kernel(index, i64)
  func.func @dispatch_0(%out: memref<16xf32>, %wg: index, %wgs: index) {
    %zero = arith.constant 0.0 : f32
    linalg.fill ins(%zero : f32) outs(%out : memref<16xf32>)
    %p = memref.extract_aligned_pointer_as_index %out : memref<16xf32> -> index
    %n = arith.constant 16 : i64
    func.call @kernel(%p, %n) {kiln.workgroups = 8 : i64} : (index, i64) -> ()
    linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} outs(%out : memref<16xf32>) {
    ^bb0(%x: f32):
      %r = arith.maximumf %x, %zero : f32
      linalg.yield %r : f32
    }
    return
  }
}
