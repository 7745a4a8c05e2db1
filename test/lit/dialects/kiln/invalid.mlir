// RUN: kiln-opt %s -split-input-file -verify-diagnostics
// The verifier and shape inference reject inconsistent IR with a message.

func.func @bad_broadcast(%a: tensor<2x3xf32>, %b: tensor<4xf32>) -> tensor<2x3xf32> {
  // expected-error @+2 {{shapes cannot be broadcast together (2x3 and 4)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.add %a, %b : tensor<2x3xf32>, tensor<4xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @bad_result_type(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @+2 {{inferred type(s) 'tensor<2x3xf32>' are incompatible with return type(s) of operation 'tensor<3x2xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.add %a, %a : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @bad_matmul(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) -> tensor<2x5xf32> {
  // expected-error @+2 {{contraction sizes differ (2x3 x 4x5)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.matmul %a, %b : tensor<2x3xf32>, tensor<4x5xf32> -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

func.func @bad_conv_group(%x: tensor<1x3x8x8xf32>, %w: tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32> {
  // expected-error @+2 {{input channels (3) do not match filter (4x2x3x3) and group 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32>
  return %0 : tensor<1x4x6x6xf32>
}

// -----

func.func @bad_reshape(%x: tensor<2x3xf32>) -> tensor<7xf32> {
  // expected-error @+1 {{cannot reshape 2x3 to 7}}
  %0 = kiln.reshape %x : tensor<2x3xf32> to tensor<7xf32>
  return %0 : tensor<7xf32>
}

// -----

func.func @bad_slice(%x: tensor<4xf32>) -> tensor<3xf32> {
  // expected-error @+2 {{window out of bounds in dim 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.slice %x {starts = array<i64: 2>, sizes = array<i64: 3>, steps = array<i64: 1>} : (tensor<4xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @bad_axis(%x: tensor<4x5xf32>) -> tensor<4x5xf32> {
  // expected-error @+1 {{axis 2 out of range for rank 2}}
  %0 = kiln.softmax %x {axis = 2 : i64} : tensor<4x5xf32>
  return %0 : tensor<4x5xf32>
}

// -----

func.func @matmul_integer_not_8_bit(%a: tensor<2x3xi32>, %b: tensor<3x4xi8>, %z: tensor<i32>) -> tensor<2x4xi32> {
  // expected-error @+2 {{kiln.matmul_integer: operands must be i8 or ui8, not 'i32'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.matmul_integer %a, %b, %z, %z : (tensor<2x3xi32>, tensor<3x4xi8>, tensor<i32>, tensor<i32>) -> tensor<2x4xi32>
  return %0 : tensor<2x4xi32>
}

// -----

func.func @matmul_integer_zero_point_shape(%a: tensor<2x3xui8>, %b: tensor<3x4xi8>, %za: tensor<i32>, %zb: tensor<3xi32>) -> tensor<2x4xi32> {
  // expected-error @+2 {{kiln.matmul_integer: rhs zero point must be a scalar or have 4 elements, not 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.matmul_integer %a, %b, %za, %zb : (tensor<2x3xui8>, tensor<3x4xi8>, tensor<i32>, tensor<3xi32>) -> tensor<2x4xi32>
  return %0 : tensor<2x4xi32>
}

// -----

func.func @conv2d_nchwc_filter_blocks(%x: tensor<1x2x8x8x16xf32>, %w: tensor<1x1x3x3x16x16xf32>) -> tensor<1x1x8x8x16xf32> {
  // expected-error @+2 {{kiln.conv2d_nchwc: input [N, C/16, H, W, 16] or [N, C < 16, H, W] (got 1x2x8x8x16) and filter [F/16, C/16, KH, KW, 16, 16] or [F/16, 1, KH, KW, C, 16] (got 1x1x3x3x16x16) do not match}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.conv2d_nchwc %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x2x8x8x16xf32>, tensor<1x1x3x3x16x16xf32>) -> tensor<1x1x8x8x16xf32>
  return %0 : tensor<1x1x8x8x16xf32>
}

// -----

func.func @conv2d_nchwc_clip_bounds(%x: tensor<1x1x4x4x16xf32>, %w: tensor<1x1x1x1x16x16xf32>) -> tensor<1x1x4x4x16xf32> {
  // expected-error @+2 {{kiln.conv2d_nchwc: clip needs clip_min and clip_max}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = kiln.conv2d_nchwc %x, %w {activation = "clip", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : (tensor<1x1x4x4x16xf32>, tensor<1x1x1x1x16x16xf32>) -> tensor<1x1x4x4x16xf32>
  return %0 : tensor<1x1x4x4x16xf32>
}

// -----

func.func @from_nchwc_channels(%x: tensor<1x2x4x4x16xf32>) -> tensor<1x12x4x4xf32> {
  // expected-error @+1 {{'kiln.from_nchwc' op input 1x2x4x4x16 is not the NCHW16c form of 1x12x4x4}}
  %0 = kiln.from_nchwc %x : (tensor<1x2x4x4x16xf32>) -> tensor<1x12x4x4xf32>
  return %0 : tensor<1x12x4x4xf32>
}
