// RUN: kiln-opt %s -canonicalize -kiln-block-convolutions -canonicalize --mlir-print-elementsattrs-with-hex-if-larger=100000 | FileCheck %s

// A conv with 16-channel multiples becomes kiln.conv2d_nchwc; the residual
// add and the relu after it fold into the op; the filter is packed at
// compile time to [F/16, C/16, KH, KW, 16 (c), 16 (f)].
// CHECK-LABEL: func.func @residual_relu
func.func @residual_relu(%x: tensor<1x16x4x4xf32>, %r: tensor<1x32x4x4xf32>) -> tensor<1x32x4x4xf32> {
  // CHECK-DAG: %[[W:.*]] = kiln.constant {{.*}} : tensor<2x1x3x3x16x16xf32>
  // CHECK-DAG: %[[B:.*]] = kiln.constant dense<5.000000e-01> : tensor<2x16xf32>
  // CHECK: %[[XB:.*]] = kiln.to_nchwc %arg0 : (tensor<1x16x4x4xf32>) -> tensor<1x1x4x4x16xf32>
  // CHECK: %[[RB:.*]] = kiln.to_nchwc %arg1 : (tensor<1x32x4x4xf32>) -> tensor<1x2x4x4x16xf32>
  // CHECK: %[[Y:.*]] = kiln.conv2d_nchwc %[[XB]], %[[W]] bias %[[B]] residual %[[RB]] {activation = "relu", {{.*}}} : (tensor<1x1x4x4x16xf32>, tensor<2x1x3x3x16x16xf32>, tensor<2x16xf32>, tensor<1x2x4x4x16xf32>) -> tensor<1x2x4x4x16xf32>
  // CHECK: %[[O:.*]] = kiln.from_nchwc %[[Y]] : (tensor<1x2x4x4x16xf32>) -> tensor<1x32x4x4xf32>
  // CHECK-NOT: kiln.relu
  // CHECK: return %[[O]]
  %w = kiln.constant dense<1.0> : tensor<32x16x3x3xf32>
  %b = kiln.constant dense<0.5> : tensor<32xf32>
  %c = kiln.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x16x4x4xf32>, tensor<32x16x3x3xf32>, tensor<32xf32>) -> tensor<1x32x4x4xf32>
  %s = kiln.add %c, %r : tensor<1x32x4x4xf32>, tensor<1x32x4x4xf32> -> tensor<1x32x4x4xf32>
  %y = kiln.relu %s : tensor<1x32x4x4xf32>
  return %y : tensor<1x32x4x4xf32>
}

// The packed filter puts input channel c, output channel f of block (0, 0)
// at [0, 0, 0, 0, c, f]: W[f, c] = 16 f + c, so packed row c is c, 16 + c, ...
// CHECK-LABEL: func.func @packing
func.func @packing(%x: tensor<1x16x1x1xf32>) -> tensor<1x16x1x1xf32> {
  // CHECK: kiln.constant dense<{{\[\[\[\[\[\[}}0.000000e+00, 1.600000e+01, 3.200000e+01
  %w0 = kiln.constant dense<[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0]> : tensor<16xf32>
  %step = kiln.constant dense<[[0.0], [16.0], [32.0], [48.0], [64.0], [80.0], [96.0], [112.0], [128.0], [144.0], [160.0], [176.0], [192.0], [208.0], [224.0], [240.0]]> : tensor<16x1xf32>
  %grid = kiln.add %step, %w0 : tensor<16x1xf32>, tensor<16xf32> -> tensor<16x16xf32>
  %w = kiln.reshape %grid : tensor<16x16xf32> to tensor<16x16x1x1xf32>
  // CHECK: kiln.conv2d_nchwc {{.*}} {activation = "clip", clip_max = 6.000000e+00 : f64, clip_min = 0.000000e+00 : f64
  %c = kiln.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x16x1x1xf32>, tensor<16x16x1x1xf32>) -> tensor<1x16x1x1xf32>
  %y = kiln.clip %c {min = 0.0 : f64, max = 6.0 : f64} : tensor<1x16x1x1xf32>
  return %y : tensor<1x16x1x1xf32>
}

// Two blocked convs in a row: the layout change between them folds away.
// CHECK-LABEL: func.func @chain
func.func @chain(%x: tensor<1x16x4x4xf32>) -> tensor<1x16x4x4xf32> {
  // CHECK: %[[A:.*]] = kiln.conv2d_nchwc
  // CHECK-NOT: kiln.from_nchwc
  // CHECK: kiln.conv2d_nchwc %[[A]]
  %w = kiln.constant dense<1.0> : tensor<16x16x1x1xf32>
  %a = kiln.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x16x4x4xf32>, tensor<16x16x1x1xf32>) -> tensor<1x16x4x4xf32>
  %b = kiln.conv %a, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x16x4x4xf32>, tensor<16x16x1x1xf32>) -> tensor<1x16x4x4xf32>
  return %b : tensor<1x16x4x4xf32>
}

// A depthwise conv (group = C = F) packs its filter to [C/16, KH, KW, 16].
// CHECK-LABEL: func.func @depthwise
func.func @depthwise(%x: tensor<1x32x8x8xf32>) -> tensor<1x32x4x4xf32> {
  // CHECK: kiln.conv2d_nchwc {{.*}} {activation = "clip", clip_max = 6.000000e+00 : f64, clip_min = 0.000000e+00 : f64, depthwise, {{.*}}strides = array<i64: 2, 2>} : (tensor<1x2x8x8x16xf32>, tensor<2x3x3x16xf32>) -> tensor<1x2x4x4x16xf32>
  %w = kiln.constant dense<1.0> : tensor<32x1x3x3xf32>
  %c = kiln.conv %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 32 : i64} : (tensor<1x32x8x8xf32>, tensor<32x1x3x3xf32>) -> tensor<1x32x4x4xf32>
  %y = kiln.clip %c {min = 0.0 : f64, max = 6.0 : f64} : tensor<1x32x4x4xf32>
  return %y : tensor<1x32x4x4xf32>
}

// 24 output channels are padded to 32: zero weights and bias for the
// padding channels. A clip that moves 0 stays outside when output channels
// are padded (they must stay zero).
// CHECK-LABEL: func.func @padded
func.func @padded(%x: tensor<1x32x4x4xf32>) -> tensor<1x24x4x4xf32> {
  // CHECK: kiln.to_nchwc %arg0 : (tensor<1x32x4x4xf32>) -> tensor<1x2x4x4x16xf32>
  // CHECK: %[[Y:.*]] = kiln.conv2d_nchwc {{.*}} : (tensor<1x2x4x4x16xf32>, tensor<2x2x1x1x16x16xf32>) -> tensor<1x2x4x4x16xf32>
  // CHECK: %[[P:.*]] = kiln.from_nchwc %[[Y]] : (tensor<1x2x4x4x16xf32>) -> tensor<1x24x4x4xf32>
  // CHECK: kiln.clip %[[P]] {max = 6.000000e+00 : f64, min = 1.000000e+00 : f64}
  %w = kiln.constant dense<1.0> : tensor<24x32x1x1xf32>
  %c = kiln.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x32x4x4xf32>, tensor<24x32x1x1xf32>) -> tensor<1x24x4x4xf32>
  %y = kiln.clip %c {min = 1.0 : f64, max = 6.0 : f64} : tensor<1x24x4x4xf32>
  return %y : tensor<1x24x4x4xf32>
}

// 24 input channels padded to 32: in the second input block, channels 16-23
// have weights, the padding channels 24-31 zeros (rows of the [c][f] block).
// CHECK-LABEL: func.func @padded_weights
func.func @padded_weights(%x: tensor<1x24x4x4xf32>) -> tensor<1x16x4x4xf32> {
  // CHECK: kiln.constant dense<{{.*}}]]]], {{\[\[\[}}[1.000000e+00, {{.*}}], [1.000000e+00, {{.*}}], [0.000000e+00, {{.*}}]]]]]]> : tensor<1x2x1x1x16x16xf32>
  %w = kiln.constant dense<1.0> : tensor<16x24x1x1xf32>
  %c = kiln.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x24x4x4xf32>, tensor<16x24x1x1xf32>) -> tensor<1x16x4x4xf32>
  return %c : tensor<1x16x4x4xf32>
}

// An image (3 channels) stays NCHW: the filter is [F/16, 1, KH, KW, 3, 16].
// CHECK-LABEL: func.func @plain_input
func.func @plain_input(%x: tensor<1x3x8x8xf32>) -> tensor<1x16x4x4xf32> {
  // CHECK-NOT: kiln.to_nchwc
  // CHECK: kiln.conv2d_nchwc %arg0, {{.*}} : (tensor<1x3x8x8xf32>, tensor<1x1x3x3x3x16xf32>, tensor<1x16xf32>) -> tensor<1x1x4x4x16xf32>
  %w = kiln.constant dense<1.0> : tensor<16x3x3x3xf32>
  %b = kiln.constant dense<1.0> : tensor<16xf32>
  %c = kiln.conv %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<16x3x3x3xf32>, tensor<16xf32>) -> tensor<1x16x4x4xf32>
  return %c : tensor<1x16x4x4xf32>
}

// Channel padding of more than half the work again (24 x 24 padded to
// 32 x 32), other groupings and non-constant filters keep kiln.conv.
// CHECK-LABEL: func.func @not_blocked
func.func @not_blocked(%x: tensor<1x24x4x4xf32>, %y: tensor<1x16x4x4xf32>, %f: tensor<16x16x1x1xf32>) -> (tensor<1x24x4x4xf32>, tensor<1x16x4x4xf32>, tensor<1x16x4x4xf32>) {
  // CHECK-NOT: kiln.conv2d_nchwc
  // CHECK-COUNT-3: kiln.conv {{.*}}
  // CHECK-NOT: kiln.conv2d_nchwc
  %w = kiln.constant dense<1.0> : tensor<24x24x1x1xf32>
  %a = kiln.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x24x4x4xf32>, tensor<24x24x1x1xf32>) -> tensor<1x24x4x4xf32>
  %g = kiln.constant dense<1.0> : tensor<16x8x1x1xf32>
  %b = kiln.conv %y, %g {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 2 : i64} : (tensor<1x16x4x4xf32>, tensor<16x8x1x1xf32>) -> tensor<1x16x4x4xf32>
  %c = kiln.conv %y, %f {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x16x4x4xf32>, tensor<16x16x1x1xf32>) -> tensor<1x16x4x4xf32>
  return %a, %b, %c : tensor<1x24x4x4xf32>, tensor<1x16x4x4xf32>, tensor<1x16x4x4xf32>
}

// A max pool and a global average pool of blocked data pool the blocks: the
// layout changes once, after the mean. The max pool's window gets a third
// dim of 1 along the 16 channels of a block.
// CHECK-LABEL: func.func @pools_stay_blocked
func.func @pools_stay_blocked(%x: tensor<1x16x8x8xf32>) -> tensor<1x32x1x1xf32> {
  // CHECK: %[[Y:.*]] = kiln.conv2d_nchwc
  // CHECK-NOT: kiln.from_nchwc
  // CHECK: %[[P:.*]] = kiln.max_pool %[[Y]] {ceil_mode = false, dilations = array<i64: 1, 1, 1>, kernel_shape = array<i64: 3, 3, 1>, pads = array<i64: 1, 1, 0, 1, 1, 0>, strides = array<i64: 2, 2, 1>} : (tensor<1x2x8x8x16xf32>) -> tensor<1x2x4x4x16xf32>
  // CHECK: %[[M:.*]] = kiln.reduce_mean %[[P]] {axes = array<i64: 2, 3>, keepdims = true} : (tensor<1x2x4x4x16xf32>) -> tensor<1x2x1x1x16xf32>
  // CHECK: %[[O:.*]] = kiln.from_nchwc %[[M]] : (tensor<1x2x1x1x16xf32>) -> tensor<1x32x1x1xf32>
  // CHECK: return %[[O]]
  %w = kiln.constant dense<1.0> : tensor<32x16x3x3xf32>
  %c = kiln.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x16x8x8xf32>, tensor<32x16x3x3xf32>) -> tensor<1x32x8x8xf32>
  %p = kiln.max_pool %c {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, ceil_mode = false} : (tensor<1x32x8x8xf32>) -> tensor<1x32x4x4xf32>
  %m = kiln.reduce_mean %p {axes = array<i64: 2, 3>, keepdims = true} : (tensor<1x32x4x4xf32>) -> tensor<1x32x1x1xf32>
  return %m : tensor<1x32x1x1xf32>
}
