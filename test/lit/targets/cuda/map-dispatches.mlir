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

// A contraction (a matrix product written k-middle): its parallel dims move
// outermost; a block computes a tile of the output with its operands staged
// through shared memory, indexed by iteration coordinates: A as [m][k] (k
// contiguous), B as [k][n] (n contiguous), each copy guarded by the
// ranges. Small ranges give small tiles: 4 x 8 outputs, one per thread of
// 32, and a chunk of 8 reduction steps (the 5 that exist). The block waits
// after staging and after computing; the accumulator starts from the output
// (read at a clamped position) and is stored where it is in range.
// CHECK: gpu.func @dispatch_1_0(%[[A1:.*]]: memref<3x5xf32>, %[[B1:.*]]: memref<5x7xf32>, %[[C1:.*]]: memref<3x7xf32>)
// CHECK-SAME: workgroup(%[[SA:.*]] : memref<32xf32, #gpu.address_space<workgroup>>, %[[SB:.*]] : memref<64xf32, #gpu.address_space<workgroup>>)
// CHECK-SAME: kernel attributes {known_block_size = array<i32: 32, 1, 1>}
// CHECK: %[[TX:.*]] = arith.remui %{{.*}}, %c8
// CHECK: %[[TY:.*]] = arith.divui %{{.*}}, %c8
// CHECK: %[[INIT:.*]] = memref.load %[[C1]]
// CHECK: scf.for %[[E:.*]] = %{{.*}} to %c32 step %c32
// CHECK: memref.load %[[A1]]
// CHECK: memref.store %{{.*}}, %[[SA]][%[[E]]]
// CHECK: scf.for %[[E2:.*]] = %{{.*}} to %c64 step %c32
// CHECK: memref.load %[[B1]]
// CHECK: memref.store %{{.*}}, %[[SB]][%[[E2]]]
// CHECK: gpu.barrier
// CHECK: %[[SUM:.*]] = scf.for %{{.*}} = %c0 to %c5 step %c1 iter_args(%[[ACC:.*]] = %[[INIT]]) -> (f32)
// CHECK: memref.load %[[SA]]
// CHECK: memref.load %[[SB]]
// CHECK: arith.mulf
// CHECK: arith.addf %[[ACC]]
// CHECK: gpu.barrier
// CHECK: scf.if
// CHECK: memref.store %[[SUM]], %[[C1]]
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

// A large product: 64 x 64 output tiles (2 x 3 of them) on 256 threads, each
// with 4 x 4 accumulators in registers (loop-carried values), k staged 32 at
// a time (96 = 3 chunks) in 2 x 8 KiB of shared memory.
// CHECK-LABEL: gpu.func @dispatch_3_0
// CHECK-SAME: workgroup(%{{.*}} : memref<2048xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<2048xf32, #gpu.address_space<workgroup>>)
// CHECK-SAME: known_block_size = array<i32: 256, 1, 1>
// CHECK: scf.for %{{.*}} = %c0 to %c96 step %c32 iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK: gpu.barrier
// CHECK-COUNT-16: arith.mulf
// CHECK: gpu.barrier
// CHECK-COUNT-16: memref.store %{{.*}}, %{{.*}} : memref<128x192xf32>
// CHECK: gpu.launch_func @kernels::@dispatch_3_0 blocks in (%c6, %c1, %c1) threads in (%c256, %c1, %c1)
#ma = affine_map<(i, j, k) -> (i, k)>
#mb = affine_map<(i, j, k) -> (k, j)>
#mc = affine_map<(i, j, k) -> (i, j)>
func.func @dispatch_3(%a: memref<128x96xf32>, %b: memref<96x192xf32>, %c: memref<128x192xf32>, %wg: index, %wgs: index) {
  linalg.generic {indexing_maps = [#ma, #mb, #mc], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<128x96xf32>, memref<96x192xf32>) outs(%c : memref<128x192xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %0 = arith.mulf %x, %y : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// A convolution's window (kiln-cuda-expose-convolutions' form): the input is
// staged by iteration coordinates, ox and the reduction, not by its own
// index space, so its index oy + y, ox + x is an affine function evaluated
// in the copy; the filter by f and the reduction. Each block takes one
// (n, fb, oy) and a tile of ox x f.
// CHECK-LABEL: gpu.func @dispatch_4_0
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>
// CHECK: scf.for %{{.*}} = %c0 to %c288 step %c32
// CHECK: scf.if
// CHECK: %[[IY:.*]] = affine.apply #{{.*}}(%{{.*}}, %{{.*}})
// CHECK: %[[IX:.*]] = affine.apply #{{.*}}(%{{.*}}, %{{.*}})
// CHECK: memref.load %{{.*}}[%c0, %{{.*}}, %[[IY]], %[[IX]], %{{.*}}] : memref<1x2x10x10x16xf32>
// CHECK: memref.load %{{.*}} : memref<2x2x3x3x16x16xf32>
// CHECK: gpu.barrier
// CHECK: gpu.launch_func @kernels::@dispatch_4_0 blocks in (%c16, %c1, %c1) threads in (%c128, %c1, %c1)
#in = affine_map<(n, fb, oy, ox, f, cb, y, x, c) -> (n, cb, oy + y, ox + x, c)>
#w = affine_map<(n, fb, oy, ox, f, cb, y, x, c) -> (fb, cb, y, x, c, f)>
#out = affine_map<(n, fb, oy, ox, f, cb, y, x, c) -> (n, fb, oy, ox, f)>
func.func @dispatch_4(%x: memref<1x2x10x10x16xf32>, %w: memref<2x2x3x3x16x16xf32>, %y: memref<1x2x8x8x16xf32>, %wg: index, %wgs: index) {
  linalg.generic {indexing_maps = [#in, #w, #out], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction", "reduction"]}
      ins(%x, %w : memref<1x2x10x10x16xf32>, memref<2x2x3x3x16x16xf32>) outs(%y : memref<1x2x8x8x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %0 = arith.mulf %a, %b : f32
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
