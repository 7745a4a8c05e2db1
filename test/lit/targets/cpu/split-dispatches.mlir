// RUN: kiln-opt %s -split-input-file -kiln-cpu-split-dispatches | FileCheck %s

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

// -----

// Sliced linalg ops (kiln-cpu-distribute-loops) of one phase run together;
// a serial op between two phases gets its own phase.
// CHECK: dispatch_1 = {{\[\[}}"dispatch_1_0", 8], ["dispatch_1_1", 1], ["dispatch_1_2", 8]]
// CHECK-LABEL: func.func @dispatch_1_0(
// CHECK-COUNT-2: linalg.generic {{.*}}kiln.phase = 0
// CHECK-NOT: linalg.fill
// CHECK-LABEL: func.func @dispatch_1_1(
// CHECK-NEXT: arith.constant
// CHECK-NEXT: linalg.fill
// CHECK-NEXT: return
// CHECK-LABEL: func.func @dispatch_1_2(
// CHECK-NEXT: linalg.generic {{.*}}kiln.phase = 1
#map = affine_map<(d0) -> (d0)>
module {
  func.func @dispatch_1(%a: memref<16xf32>, %b: memref<16xf32>, %wg: index, %wgs: index) {
    linalg.generic {indexing_maps = [#map], iterator_types = ["parallel"]} outs(%a : memref<16xf32>) attrs = {kiln.phase = 0 : i64, kiln.workgroups = 8 : i64} {
    ^bb0(%x: f32):
      %r = arith.addf %x, %x : f32
      linalg.yield %r : f32
    }
    linalg.generic {indexing_maps = [#map], iterator_types = ["parallel"]} outs(%b : memref<16xf32>) attrs = {kiln.phase = 0 : i64, kiln.workgroups = 8 : i64} {
    ^bb0(%x: f32):
      %r = arith.mulf %x, %x : f32
      linalg.yield %r : f32
    }
    %zero = arith.constant 0.0 : f32
    linalg.fill ins(%zero : f32) outs(%a : memref<16xf32>)
    linalg.generic {indexing_maps = [#map], iterator_types = ["parallel"]} outs(%b : memref<16xf32>) attrs = {kiln.phase = 1 : i64, kiln.workgroups = 8 : i64} {
    ^bb0(%x: f32):
      %r = arith.subf %x, %x : f32
      linalg.yield %r : f32
    }
    return
  }
}
