// RUN: kiln-opt %s -kiln-cuda-map-dispatches -canonicalize -split-input-file | FileCheck %s

// An elementwise op: one thread per element, the contiguous dim fastest
// (i / 100 picks the row, i % 100 the column), guarded against the last
// block's spare threads; the dispatch keeps only the launch.
// CHECK-LABEL: gpu.module @kernels
// CHECK: gpu.func @dispatch_0_0(%[[A:.*]]: memref<4x100xf32>, %[[B:.*]]: memref<4x100xf32>) kernel
// CHECK-SAME: known_block_size = array<i32: 256, 1, 1>
// CHECK-DAG: %[[T:.*]] = gpu.thread_id x
// CHECK-DAG: %[[BID:.*]] = gpu.block_id x
// CHECK: %[[BASE:.*]] = arith.muli %[[BID]], %c256
// CHECK: %[[I:.*]] = arith.addi %[[BASE]], %[[T]]
// CHECK: %[[IN:.*]] = arith.cmpi ult, %[[I]], %c400
// CHECK: scf.if %[[IN]]
// CHECK: %[[COL:.*]] = arith.remui %[[I]], %c100
// CHECK: %[[ROW:.*]] = arith.divui %[[I]], %c100
// CHECK: memref.load %[[A]][%[[ROW]], %[[COL]]]
// CHECK: memref.store %{{.*}}, %[[B]][%[[ROW]], %[[COL]]]
// CHECK: gpu.return
// CHECK: func.func @dispatch_0(%[[X:.*]]: memref<4x100xf32>, %[[Y:.*]]: memref<4x100xf32>, %{{.*}}: index, %{{.*}}: index)
// CHECK-NOT: linalg.generic
// CHECK: gpu.launch_func @kernels::@dispatch_0_0 blocks in (%c2, %c1, %c1) threads in (%c256, %c1, %c1) args(%[[X]] : memref<4x100xf32>, %[[Y]] : memref<4x100xf32>)
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @dispatch_0(%a: memref<4x100xf32>, %b: memref<4x100xf32>, %wg: index, %wgs: index) {
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<4x100xf32>) outs(%b : memref<4x100xf32>) {
  ^bb0(%x: f32, %y: f32):
    %0 = math.exp %x : f32
    linalg.yield %0 : f32
  }
  return
}

// -----

// A reduction between parallel dims (a matrix product written k-middle):
// the parallel dims move outermost and become the threads, the reduction
// stays a loop inside each thread. Small nests get fewer threads per block.
// CHECK: gpu.func @dispatch_1_0(%{{.*}}: memref<3x5xf32>, %{{.*}}: memref<5x7xf32>, %{{.*}}: memref<3x7xf32>) kernel
// CHECK-SAME: known_block_size = array<i32: 32, 1, 1>
// CHECK: arith.cmpi ult, %{{.*}}, %c21
// CHECK: scf.if
// CHECK: arith.remui %{{.*}}, %c7
// CHECK: arith.divui %{{.*}}, %c7
// CHECK: scf.for %{{.*}} = %c0 to %c5 step %c1
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: func.func @dispatch_1
// CHECK: gpu.launch_func @kernels::@dispatch_1_0 blocks in (%c1, %c1, %c1) threads in (%c32, %c1, %c1)
#a = affine_map<(i, k, j) -> (i, k)>
#b = affine_map<(i, k, j) -> (k, j)>
#c = affine_map<(i, k, j) -> (i, j)>
func.func @dispatch_1(%a: memref<3x5xf32>, %b: memref<5x7xf32>, %c: memref<3x7xf32>, %wg: index, %wgs: index) {
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %b : memref<3x5xf32>, memref<5x7xf32>) outs(%c : memref<3x7xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %0 = arith.mulf %x, %y : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// Several ops: one kernel each, launched in order, every kernel taking all
// the bindings (scratch included). A view of the scratch binding is
// recomputed inside the kernels that use it. A full reduction (no parallel
// dim) runs on one thread.
// CHECK: gpu.func @dispatch_2_0(%{{.*}}: memref<8xf32>, %{{.*}}: memref<f32>, %[[S0:.*]]: memref<64xi8>) kernel
// CHECK: memref.view %[[S0]]
// CHECK: gpu.func @dispatch_2_1(%{{.*}}: memref<8xf32>, %{{.*}}: memref<f32>, %[[S1:.*]]: memref<64xi8>) kernel
// CHECK-SAME: known_block_size = array<i32: 1, 1, 1>
// CHECK: memref.view %[[S1]]
// CHECK: scf.for
// CHECK: func.func @dispatch_2
// CHECK: gpu.launch_func @kernels::@dispatch_2_0 blocks in (%c1, %c1, %c1) threads in (%c32, %c1, %c1)
// CHECK: gpu.launch_func @kernels::@dispatch_2_1 blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
#v = affine_map<(d0) -> (d0)>
#s = affine_map<(d0) -> ()>
func.func @dispatch_2(%a: memref<8xf32>, %out: memref<f32>, %scratch: memref<64xi8>, %wg: index, %wgs: index) {
  %c0 = arith.constant 0 : index
  %t = memref.view %scratch[%c0][] : memref<64xi8> to memref<8xf32>
  linalg.generic {indexing_maps = [#v, #v], iterator_types = ["parallel"]}
      ins(%a : memref<8xf32>) outs(%t : memref<8xf32>) {
  ^bb0(%x: f32, %y: f32):
    %0 = arith.mulf %x, %x : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [#v, #s], iterator_types = ["reduction"]}
      ins(%t : memref<8xf32>) outs(%out : memref<f32>) {
  ^bb0(%x: f32, %acc: f32):
    %0 = arith.addf %acc, %x : f32
    linalg.yield %0 : f32
  }
  return
}
