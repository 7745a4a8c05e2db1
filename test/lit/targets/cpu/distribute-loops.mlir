// RUN: kiln-opt %s -split-input-file -kiln-cpu-distribute-loops | FileCheck %s

// An elementwise op runs on workgroup id's slice of its outer loop:
// [64 * id / count, 64 * (id + 1) / count), on subviews of both operands.
// CHECK-LABEL: func.func @relu(
// CHECK-SAME: %[[X:[^:]*]]: memref<64x4096xf32>, %[[Y:[^:]*]]: memref<64x4096xf32>, %[[ID:[^:]*]]: index, %[[COUNT:[^:]*]]: index)
// CHECK-DAG: %[[E:.*]] = arith.constant 64 : index
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1 : index
// CHECK: %[[M0:.*]] = arith.muli %[[E]], %[[ID]]
// CHECK: %[[BEGIN:.*]] = arith.divui %[[M0]], %[[COUNT]]
// CHECK: %[[NEXT:.*]] = arith.addi %[[ID]], %[[ONE]]
// CHECK: %[[M1:.*]] = arith.muli %[[E]], %[[NEXT]]
// CHECK: %[[END:.*]] = arith.divui %[[M1]], %[[COUNT]]
// CHECK: %[[SIZE:.*]] = arith.subi %[[END]], %[[BEGIN]]
// CHECK: %[[XS:.*]] = memref.subview %[[X]][%[[BEGIN]], 0] [%[[SIZE]], 4096] [1, 1]
// CHECK: %[[YS:.*]] = memref.subview %[[Y]][%[[BEGIN]], 0] [%[[SIZE]], 4096] [1, 1]
// CHECK: linalg.generic {{.*}} ins(%[[XS]] : {{.*}}) outs(%[[YS]] : {{.*}}) attrs = {kiln.phase = 0 : i64, kiln.workgroups = 8 : i64}
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @relu(%x: memref<64x4096xf32>, %y: memref<64x4096xf32>, %id: index, %count: index) {
  %zero = arith.constant 0.0 : f32
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<64x4096xf32>) outs(%y : memref<64x4096xf32>) {
  ^bb0(%a: f32, %b: f32):
    %r = arith.maximumf %a, %zero : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// A padded copy then max pooling over 3x3 windows: the pool reads the
// padded temporary in windows along h and w, but only its own channels, so
// both ops slice the channel loop and share one phase. A loop over channels
// never needs the other workgroups' slices.
// CHECK-LABEL: func.func @pad_then_pool(
// CHECK: linalg.copy {kiln.phase = [[PHASE:[0-9]+]] : i64, kiln.workgroups = 8 : i64}
// CHECK: linalg.generic
// CHECK-SAME: kiln.phase = [[PHASE]] : i64, kiln.workgroups = 8 : i64
#in = affine_map<(c, kh, kw, oh, ow) -> (c, oh * 2 + kh, ow * 2 + kw)>
#window = affine_map<(c, kh, kw, oh, ow) -> (kh, kw)>
#out = affine_map<(c, kh, kw, oh, ow) -> (c, oh, ow)>
func.func @pad_then_pool(%x: memref<64x112x112xf32>, %y: memref<64x56x56xf32>, %scratch: memref<3326976xi8>, %id: index, %count: index) {
  %at = arith.constant 0 : index
  %padded = memref.view %scratch[%at][] : memref<3326976xi8> to memref<64x114x114xf32>
  %interior = memref.subview %padded[0, 1, 1] [64, 112, 112] [1, 1, 1] : memref<64x114x114xf32> to memref<64x112x112xf32, strided<[12996, 114, 1], offset: 115>>
  linalg.copy ins(%x : memref<64x112x112xf32>) outs(%interior : memref<64x112x112xf32, strided<[12996, 114, 1], offset: 115>>)
  %window_at = arith.constant 3326464 : index
  %window = memref.view %scratch[%window_at][] : memref<3326976xi8> to memref<3x3xf32>
  linalg.generic {indexing_maps = [#in, #window, #out], iterator_types = ["parallel", "reduction", "reduction", "parallel", "parallel"]}
      ins(%padded, %window : memref<64x114x114xf32>, memref<3x3xf32>) outs(%y : memref<64x56x56xf32>) {
  ^bb0(%a: f32, %w: f32, %b: f32):
    %r = arith.maximumf %a, %b : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// A padded copy whose fill sliced rows (h): the copy writes the interior,
// rows shifted by one, so its slices are not the fill's and it starts a new
// phase; the pool's windows read rows of other slices and start another.
// CHECK-LABEL: func.func @fill_then_shifted_copy
// CHECK: linalg.fill {kiln.phase = [[FILL:[0-9]+]] : i64
// CHECK: linalg.copy
// CHECK-NOT: kiln.phase = [[FILL]] :
// CHECK-SAME: kiln.workgroups = 8 : i64
// CHECK: linalg.generic
// CHECK-NOT: kiln.phase = [[FILL]] :
// CHECK-SAME: kiln.workgroups = 8 : i64
#in3 = affine_map<(c, kh, kw, oh, ow) -> (c, oh * 2 + kh, ow * 2 + kw)>
#window3 = affine_map<(c, kh, kw, oh, ow) -> (kh, kw)>
#out3 = affine_map<(c, kh, kw, oh, ow) -> (c, oh, ow)>
func.func @fill_then_shifted_copy(%x: memref<4x112x112xf32>, %y: memref<4x56x56xf32>, %scratch: memref<207936xi8>, %id: index, %count: index) {
  %at = arith.constant 0 : index
  %padded = memref.view %scratch[%at][] : memref<207936xi8> to memref<4x114x114xf32>
  %lowest = arith.constant -3.4e38 : f32
  linalg.fill ins(%lowest : f32) outs(%padded : memref<4x114x114xf32>)
  %interior = memref.subview %padded[0, 1, 1] [4, 112, 112] [1, 1, 1] : memref<4x114x114xf32> to memref<4x112x112xf32, strided<[12996, 114, 1], offset: 115>>
  linalg.copy ins(%x : memref<4x112x112xf32>) outs(%interior : memref<4x112x112xf32, strided<[12996, 114, 1], offset: 115>>)
  %window_at = arith.constant 207900 : index
  %window = memref.view %scratch[%window_at][] : memref<207936xi8> to memref<3x3xf32>
  linalg.generic {indexing_maps = [#in3, #window3, #out3], iterator_types = ["parallel", "reduction", "reduction", "parallel", "parallel"]}
      ins(%padded, %window : memref<4x114x114xf32>, memref<3x3xf32>) outs(%y : memref<4x56x56xf32>) {
  ^bb0(%a: f32, %w: f32, %b: f32):
    %r = arith.maximumf %a, %b : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// The second op reads row 0 of what the first wrote, whatever its slice:
// it starts a new phase (the schedule's barrier comes between them).
// CHECK-LABEL: func.func @broadcast_row_needs_barrier(
// CHECK: linalg.generic {{.*}} attrs = {kiln.phase = [[FIRST:[0-9]+]] : i64, kiln.workgroups = 8 : i64}
// CHECK: linalg.generic
// CHECK-NOT: kiln.phase = [[FIRST]] :
// CHECK-SAME: kiln.workgroups = 8 : i64
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#row0 = affine_map<(d0, d1) -> (0, d1)>
func.func @broadcast_row_needs_barrier(%x: memref<256x256xf32>, %t: memref<256x256xf32>, %y: memref<256x256xf32>, %id: index, %count: index) {
  linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<256x256xf32>) outs(%t : memref<256x256xf32>) {
  ^bb0(%a: f32, %b: f32):
    %r = arith.addf %a, %a : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#row0, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%t : memref<256x256xf32>) outs(%y : memref<256x256xf32>) {
  ^bb0(%a: f32, %b: f32):
    linalg.yield %a : f32
  }
  return
}

// -----

// Row softmax pieces: the row maximum (a fill and a reduction into a
// temporary) and the shifted exponentials that read it slice the same row
// loop, one phase, the small fill included; a reduction over every element
// has no parallel loop and stays whole, and so does a phase below 2^15
// iterations.
// CHECK-LABEL: func.func @rows(
// CHECK: linalg.fill {kiln.phase = [[P:[0-9]+]] : i64, kiln.workgroups = 8 : i64}
// CHECK: linalg.generic
// CHECK-SAME: kiln.phase = [[P]] : i64
// CHECK: linalg.generic
// CHECK-SAME: kiln.phase = [[P]] : i64
// CHECK: linalg.generic
// CHECK-NOT: kiln.workgroups
// CHECK: linalg.generic
// CHECK-NOT: kiln.workgroups
// CHECK: return
#x2 = affine_map<(d0, d1) -> (d0, d1)>
#r2 = affine_map<(d0, d1) -> (d0)>
#all = affine_map<(d0, d1) -> ()>
func.func @rows(%x: memref<512x128xf32>, %y: memref<512x128xf32>, %total: memref<f32>, %small: memref<16x16xf32>, %scratch: memref<2048xi8>, %id: index, %count: index) {
  %at = arith.constant 0 : index
  %max = memref.view %scratch[%at][] : memref<2048xi8> to memref<512xf32>
  %lowest = arith.constant -3.4e38 : f32
  linalg.fill ins(%lowest : f32) outs(%max : memref<512xf32>)
  linalg.generic {indexing_maps = [#x2, #r2], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<512x128xf32>) outs(%max : memref<512xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#x2, #r2, #x2], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : memref<512x128xf32>, memref<512xf32>) outs(%y : memref<512x128xf32>) {
  ^bb0(%a: f32, %m: f32, %b: f32):
    %s = arith.subf %a, %m : f32
    %e = math.exp %s : f32
    linalg.yield %e : f32
  }
  linalg.generic {indexing_maps = [#x2, #all], iterator_types = ["reduction", "reduction"]}
      ins(%y : memref<512x128xf32>) outs(%total : memref<f32>) {
  ^bb0(%a: f32, %t: f32):
    %r = arith.addf %a, %t : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#x2, #x2], iterator_types = ["parallel", "parallel"]}
      ins(%small : memref<16x16xf32>) outs(%small : memref<16x16xf32>) {
  ^bb0(%a: f32, %b: f32):
    %r = arith.addf %a, %a : f32
    linalg.yield %r : f32
  }
  return
}
