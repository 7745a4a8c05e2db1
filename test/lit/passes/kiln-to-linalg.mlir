// RUN: kiln-opt %s -split-input-file -kiln-to-linalg | FileCheck %s

// Broadcasting: the [3] operand is read at (d1) of the 2x3 loop nest.
// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[ROW:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @add_broadcast
// CHECK: linalg.generic {indexing_maps = [#[[ID]], #[[ROW]], #[[ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK: arith.addf
func.func @add_broadcast(%a: tensor<2x3xf32>, %b: tensor<3xf32>) -> tensor<2x3xf32> {
  %0 = kiln.add %a, %b : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Unsigned integers compute on signless values with unsigned arith ops.
// CHECK-LABEL: func.func @unsigned_div(%{{.*}}: tensor<4xi8>, %{{.*}}: tensor<4xi8>) -> tensor<4xi8>
// CHECK: arith.divui
func.func @unsigned_div(%a: tensor<4xui8>, %b: tensor<4xui8>) -> tensor<4xui8> {
  %0 = kiln.div %a, %b : tensor<4xui8>, tensor<4xui8> -> tensor<4xui8>
  return %0 : tensor<4xui8>
}

// -----

// Matmul loops run m, k, n: the reduction sits outside the contiguous n loop.
// CHECK-DAG: #[[A:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[B:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[C:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func.func @matmul
// CHECK: linalg.fill
// CHECK: linalg.generic {indexing_maps = [#[[A]], #[[B]], #[[C]]], iterator_types = ["parallel", "reduction", "parallel"]}
// CHECK: arith.mulf
// CHECK: arith.addf
func.func @matmul(%a: tensor<4x8xf32>, %b: tensor<8x16xf32>) -> tensor<4x16xf32> {
  %0 = kiln.matmul %a, %b : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

// Grouped convolution: pad, expose the group dim, accumulate with the output
// window loops innermost, fold back.
// CHECK-DAG: #[[IN:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d3, d6 * 2 + d4, d7 * 2 + d5)>
// CHECK-DAG: #[[W:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d1, d2, d3, d4, d5)>
// CHECK-DAG: #[[OUT:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d2, d6, d7)>
// CHECK-LABEL: func.func @grouped_conv
// CHECK: tensor.pad
// CHECK: tensor.expand_shape {{.*}} into tensor<1x2x2x10x10xf32>
// CHECK: linalg.generic {indexing_maps = [#[[IN]], #[[W]], #[[OUT]]], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction", "parallel", "parallel"]}
// CHECK: tensor.expand_shape {{.*}} into tensor<1x6x4x4xf32>
func.func @grouped_conv(%x: tensor<1x4x8x8xf32>, %w: tensor<6x2x3x3xf32>) -> tensor<1x6x4x4xf32> {
  %0 = kiln.conv %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 2 : i64} : (tensor<1x4x8x8xf32>, tensor<6x2x3x3xf32>) -> tensor<1x6x4x4xf32>
  return %0 : tensor<1x6x4x4xf32>
}

// -----

// Softmax: max, exp of the shifted input, sum, divide.
// CHECK-LABEL: func.func @softmax
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: arith.addf
// CHECK: arith.divf
func.func @softmax(%x: tensor<2x5xf32>) -> tensor<2x5xf32> {
  %0 = kiln.softmax %x {axis = 1 : i64} : tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

// Gather reads data through tensor.extract at a clamped, wrapped index.
// CHECK-LABEL: func.func @gather
// CHECK: linalg.generic
// CHECK: arith.index_cast
// CHECK: arith.select
// CHECK: tensor.extract
func.func @gather(%x: tensor<5x3xf32>, %i: tensor<2xi64>) -> tensor<2x3xf32> {
  %0 = kiln.gather %x, %i {axis = 0 : i64} : (tensor<5x3xf32>, tensor<2xi64>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// Scatter as a reduction: each output element scans the updates along the
// axis and keeps the last one whose index hits it.
// CHECK-LABEL: func.func @scatter_elements
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME: outs(%{{.*}} : tensor<3x4xf32>)
// CHECK: tensor.extract %{{.*}} : tensor<2x4xi64>
// CHECK: arith.cmpi eq
// CHECK: tensor.extract %{{.*}} : tensor<2x4xf32>
// CHECK: arith.select
func.func @scatter_elements(%d: tensor<3x4xf32>, %i: tensor<2x4xi64>, %u: tensor<2x4xf32>) -> tensor<3x4xf32> {
  %0 = kiln.scatter_elements %d, %i, %u {axis = 0 : i64, reduction = "none"} : (tensor<3x4xf32>, tensor<2x4xi64>, tensor<2x4xf32>) -> tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// -----

// 8-bit matmul: the bytes are widened in the body. The splat zero point of
// the lhs becomes a constant there; the per-column one of the rhs is an
// input read along n. The 2-D product is tagged for the int8 microkernel.
// CHECK-DAG: #[[A:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[B:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[COL:.*]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-DAG: #[[C:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func.func @matmul_integer
// CHECK: linalg.generic {indexing_maps = [#[[A]], #[[B]], #[[COL]], #[[C]]], iterator_types = ["parallel", "reduction", "parallel"]}
// CHECK-SAME: ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<4x8xi8>, tensor<8x16xi8>, tensor<16xi32>)
// CHECK-SAME: kiln.microkernel = "matmul_i8"
// CHECK: ^bb0(%[[X:.*]]: i8, %[[Y:.*]]: i8, %[[ZB:.*]]: i32, %[[OUT:.*]]: i32):
// CHECK: %[[XW:.*]] = arith.extui %[[X]] : i8 to i32
// CHECK: %[[ZA:.*]] = arith.constant 128 : i32
// CHECK: %[[XC:.*]] = arith.subi %[[XW]], %[[ZA]]
// CHECK: %[[YW:.*]] = arith.extsi %[[Y]] : i8 to i32
// CHECK: %[[YC:.*]] = arith.subi %[[YW]], %[[ZB]]
// CHECK: arith.muli %[[XC]], %[[YC]]
func.func @matmul_integer(%a: tensor<4x8xui8>, %b: tensor<8x16xi8>, %zb: tensor<16xi32>) -> tensor<4x16xi32> {
  %za = kiln.constant dense<128> : tensor<i32>
  %0 = kiln.matmul_integer %a, %b, %za, %zb : (tensor<4x8xui8>, tensor<8x16xi8>, tensor<i32>, tensor<16xi32>) -> tensor<4x16xi32>
  return %0 : tensor<4x16xi32>
}

// -----

// A zero point of 0 leaves no subtraction; a run-time scalar one is
// broadcast to one per row, so that it stays an input of the product.
// CHECK-LABEL: func.func @matmul_integer_zero_and_runtime
// CHECK: %[[ROWS:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<i32>) outs(%{{.*}} : tensor<1x4xi32>)
// CHECK: %[[ZA:.*]] = tensor.collapse_shape %[[ROWS]] {{.*}} into tensor<4xi32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %[[ZA]] : tensor<4x8xi8>, tensor<8x16xi8>, tensor<4xi32>)
// CHECK: arith.extsi
// CHECK-NEXT: arith.subi
// CHECK-NEXT: arith.extsi
// CHECK-NEXT: arith.muli
func.func @matmul_integer_zero_and_runtime(%a: tensor<4x8xi8>, %b: tensor<8x16xi8>, %za: tensor<i32>) -> tensor<4x16xi32> {
  %zb = kiln.constant dense<0> : tensor<i32>
  %0 = kiln.matmul_integer %a, %b, %za, %zb : (tensor<4x8xi8>, tensor<8x16xi8>, tensor<i32>, tensor<i32>) -> tensor<4x16xi32>
  return %0 : tensor<4x16xi32>
}

// -----

// An NCHWc convolution is one all-parallel generic over the output, tagged
// for the microkernel: bias and residual are its inputs; its body loops over
// input blocks, window and channels reading input and filter (zero outside
// the image), then adds bias and residual and applies the activation.
// CHECK-LABEL: func.func @conv2d_nchwc
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]{{.*}} ins(%arg2, %arg3 : tensor<2x16xf32>, tensor<1x2x4x4x16xf32>)
// CHECK-SAME: kiln.epilogue = {activation = "relu", bias = true, depthwise = false, {{.*}}residual = true}, kiln.microkernel = "conv2d_nchwc", kiln.pads = array<i64: 1, 1, 1, 1>
// CHECK: scf.for
// CHECK: %[[IN:.*]] = tensor.extract %arg0[
// CHECK: arith.select %{{.*}}, %[[IN]], %{{.*}} : f32
// CHECK: tensor.extract %arg1[
// CHECK: arith.addf
// CHECK: arith.addf
// CHECK: arith.maximumf
func.func @conv2d_nchwc(%x: tensor<1x1x4x4x16xf32>, %w: tensor<2x1x3x3x16x16xf32>, %b: tensor<2x16xf32>, %r: tensor<1x2x4x4x16xf32>) -> tensor<1x2x4x4x16xf32> {
  %0 = kiln.conv2d_nchwc %x, %w bias %b residual %r {activation = "relu", strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x1x4x4x16xf32>, tensor<2x1x3x3x16x16xf32>, tensor<2x16xf32>, tensor<1x2x4x4x16xf32>) -> tensor<1x2x4x4x16xf32>
  return %0 : tensor<1x2x4x4x16xf32>
}

// -----

// Layout changes: channels padded to a whole block, then one copy reading
// (n, 16 cb + c, h, w); back, (n, c / 16, h, w, c % 16).
// CHECK-DAG: #[[TO:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1 * 16 + d4, d2, d3)>
// CHECK-DAG: #[[FROM:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1 floordiv 16, d2, d3, d1 mod 16)>
// CHECK-LABEL: func.func @nchwc_layout
// CHECK: %[[P:.*]] = tensor.pad %arg0 low[0, 0, 0, 0] high[0, 8, 0, 0]
// CHECK: linalg.generic {indexing_maps = [#[[TO]], {{.*}} ins(%[[P]] : tensor<1x32x4x4xf32>)
// CHECK: linalg.generic {indexing_maps = [#[[FROM]], {{.*}} ins(%arg1 : tensor<1x2x4x4x16xf32>)
func.func @nchwc_layout(%x: tensor<1x24x4x4xf32>, %y: tensor<1x2x4x4x16xf32>) -> (tensor<1x2x4x4x16xf32>, tensor<1x24x4x4xf32>) {
  %0 = kiln.to_nchwc %x : (tensor<1x24x4x4xf32>) -> tensor<1x2x4x4x16xf32>
  %1 = kiln.from_nchwc %y : (tensor<1x2x4x4x16xf32>) -> tensor<1x24x4x4xf32>
  return %0, %1 : tensor<1x2x4x4x16xf32>, tensor<1x24x4x4xf32>
}

// -----

// A product by packed panels reads B(k, n) at [n floordiv 16, k, n mod 16]
// of the panels, on the lhs viewed as [M, K], tagged for its microkernel.
// CHECK-DAG: #[[A:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[P:.*]] = affine_map<(d0, d1, d2) -> (d2 floordiv 16, d1, d2 mod 16)>
// CHECK-DAG: #[[C:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func.func @matmul_packed
// CHECK: %[[X:.*]] = tensor.expand_shape {{.*}} into tensor<6x4xf32>
// CHECK: %[[Y:.*]] = linalg.generic {indexing_maps = [#[[A]], #[[P]], #[[C]]], iterator_types = ["parallel", "reduction", "parallel"]} ins(%[[X]], %arg1 : tensor<6x4xf32>, tensor<2x4x16xf32>) {{.*}} attrs =  {kiln.microkernel = "matmul_packed"}
// CHECK: tensor.collapse_shape %[[Y]]
// CHECK: into tensor<2x3x20xf32>
func.func @matmul_packed(%x: tensor<2x3x4xf32>, %p: tensor<2x4x16xf32>) -> tensor<2x3x20xf32> {
  %y = kiln.matmul_packed %x, %p : tensor<2x3x4xf32>, tensor<2x4x16xf32> -> tensor<2x3x20xf32>
  return %y : tensor<2x3x20xf32>
}

// -----

// f16 weights (kiln-store-weights-f16) are widened in the body: the product
// and its sum are f32.
// CHECK-LABEL: func.func @matmul_f16_weights
// CHECK: linalg.generic {{.*}} ins(%arg0, %arg1 : tensor<3x4xf32>, tensor<4x5xf16>)
// CHECK: ^bb0(%[[X:.*]]: f32, %[[W:.*]]: f16, %[[ACC:.*]]: f32):
// CHECK: %[[E:.*]] = arith.extf %[[W]] : f16 to f32
// CHECK: %[[P:.*]] = arith.mulf %[[X]], %[[E]] : f32
// CHECK: arith.addf %[[ACC]], %[[P]] : f32
func.func @matmul_f16_weights(%x: tensor<3x4xf32>, %w: tensor<4x5xf16>) -> tensor<3x5xf32> {
  %y = kiln.matmul %x, %w : tensor<3x4xf32>, tensor<4x5xf16> -> tensor<3x5xf32>
  return %y : tensor<3x5xf32>
}

// -----

// f16 data (kiln-compute-f16) is tagged for the microkernel too: targets
// with fp16 arithmetic have an f16 kernel, the others keep the loops.
// CHECK-LABEL: func.func @matmul_f16_data
// CHECK: linalg.generic {{.*}} ins(%arg0, %arg1 : tensor<3x4xf16>, tensor<4x5xf16>)
// CHECK-SAME: kiln.microkernel = "matmul"
func.func @matmul_f16_data(%x: tensor<3x4xf16>, %w: tensor<4x5xf16>) -> tensor<3x5xf16> {
  %y = kiln.matmul %x, %w : tensor<3x4xf16>, tensor<4x5xf16> -> tensor<3x5xf16>
  return %y : tensor<3x5xf16>
}

// -----

// A pool's window loops sit inside the output loops but the last, which stays
// innermost: (n, c, oh, kh, kw, ow).
// CHECK-DAG: #[[IN:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2 * 2 + d3, d5 * 2 + d4)>
// CHECK-DAG: #[[WINDOW:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d3, d4)>
// CHECK-DAG: #[[OUT:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d5)>
// CHECK-LABEL: func.func @max_pool
// CHECK: linalg.generic {indexing_maps = [#[[IN]], #[[WINDOW]], #[[OUT]]], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "parallel"]}
// CHECK: arith.maximumf
func.func @max_pool(%x: tensor<1x2x9x9xf32>) -> tensor<1x2x4x4xf32> {
  %0 = kiln.max_pool %x {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = false} : (tensor<1x2x9x9xf32>) -> tensor<1x2x4x4xf32>
  return %0 : tensor<1x2x4x4xf32>
}

// -----

// A max pool of channel-blocked data is one all-parallel generic over the
// output, tagged for the microkernel: no padded copy; its body loops over
// the window, skipping positions outside the input.
// CHECK-LABEL: func.func @max_pool_blocked
// CHECK-NOT: tensor.pad
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]
// CHECK-SAME: kiln.dilations = array<i64: 1, 1>, kiln.microkernel = "max_pool_nchwc", kiln.pads = array<i64: 1, 1, 1, 1>, kiln.strides = array<i64: 2, 2>, kiln.window = array<i64: 3, 3>
// CHECK: scf.for
// CHECK: scf.for
// CHECK: %[[IN:.*]] = tensor.extract %{{.*}}[
// CHECK: %[[V:.*]] = arith.select %{{.*}}, %[[IN]], %{{.*}} : f32
// CHECK: arith.maximumf %{{.*}}, %[[V]]
func.func @max_pool_blocked(%x: tensor<1x2x9x9x16xf32>) -> tensor<1x2x5x5x16xf32> {
  %0 = kiln.max_pool %x {kernel_shape = array<i64: 3, 3, 1>, strides = array<i64: 2, 2, 1>, pads = array<i64: 1, 1, 0, 1, 1, 0>, dilations = array<i64: 1, 1, 1>, ceil_mode = false} : (tensor<1x2x9x9x16xf32>) -> tensor<1x2x5x5x16xf32>
  return %0 : tensor<1x2x5x5x16xf32>
}
