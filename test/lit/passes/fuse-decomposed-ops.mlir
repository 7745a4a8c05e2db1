// RUN: kiln-opt %s -kiln-fuse-decomposed-ops -canonicalize | FileCheck %s

// PyTorch's LayerNorm export: the whole chain is one layer_norm.
// CHECK-LABEL: func.func @torch_export
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x8xf32>, %[[G:.*]]: tensor<8xf32>, %[[B:.*]]: tensor<8xf32>)
func.func @torch_export(%x: tensor<2x3x8xf32>, %gamma: tensor<8xf32>, %beta: tensor<8xf32>) -> tensor<2x3x8xf32> {
  // CHECK: %[[Y:.*]] = kiln.layer_norm %[[X]], %[[G]], %[[B]] {axis = 2 : i64, epsilon = 9.99999974E-6 : f32}
  // CHECK-NOT: kiln.reduce_mean
  // CHECK: return %[[Y]]
  %m = kiln.reduce_mean %x {axes = array<i64: 2>, keepdims = true} : (tensor<2x3x8xf32>) -> tensor<2x3x1xf32>
  %d = kiln.sub %x, %m : tensor<2x3x8xf32>, tensor<2x3x1xf32> -> tensor<2x3x8xf32>
  %two = kiln.constant dense<2.0> : tensor<f32>
  %p = kiln.pow %d, %two : tensor<2x3x8xf32>, tensor<f32> -> tensor<2x3x8xf32>
  %v = kiln.reduce_mean %p {axes = array<i64: 2>, keepdims = true} : (tensor<2x3x8xf32>) -> tensor<2x3x1xf32>
  %eps = kiln.constant dense<9.99999974E-6> : tensor<f32>
  %a = kiln.add %v, %eps : tensor<2x3x1xf32>, tensor<f32> -> tensor<2x3x1xf32>
  %s = kiln.sqrt %a : tensor<2x3x1xf32>
  %n = kiln.div %d, %s : tensor<2x3x8xf32>, tensor<2x3x1xf32> -> tensor<2x3x8xf32>
  %g = kiln.mul %n, %gamma : tensor<2x3x8xf32>, tensor<8xf32> -> tensor<2x3x8xf32>
  %y = kiln.add %g, %beta : tensor<2x3x8xf32>, tensor<8xf32> -> tensor<2x3x8xf32>
  return %y : tensor<2x3x8xf32>
}

// Over the last two dims, the square as a product, a multiplication by the
// reciprocal, no gamma or beta: the scale is a constant 1.
// CHECK-LABEL: func.func @two_axes_no_affine
func.func @two_axes_no_affine(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  // CHECK: %[[ONE:.*]] = kiln.constant dense<1.000000e+00> : tensor<f32>
  // CHECK: %[[Y:.*]] = kiln.layer_norm %{{.*}}, %[[ONE]] {axis = 1 : i64, epsilon = 1.000000e-03 : f32}
  // CHECK: return %[[Y]]
  %m = kiln.reduce_mean %x {axes = array<i64: 1, 2>, keepdims = true} : (tensor<2x3x4xf32>) -> tensor<2x1x1xf32>
  %d = kiln.sub %x, %m : tensor<2x3x4xf32>, tensor<2x1x1xf32> -> tensor<2x3x4xf32>
  %p = kiln.mul %d, %d : tensor<2x3x4xf32>, tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  %v = kiln.reduce_mean %p {axes = array<i64: 1, 2>, keepdims = true} : (tensor<2x3x4xf32>) -> tensor<2x1x1xf32>
  %eps = kiln.constant dense<1.0e-3> : tensor<f32>
  %a = kiln.add %eps, %v : tensor<f32>, tensor<2x1x1xf32> -> tensor<2x1x1xf32>
  %s = kiln.sqrt %a : tensor<2x1x1xf32>
  %r = kiln.reciprocal %s : tensor<2x1x1xf32>
  %y = kiln.mul %r, %d : tensor<2x1x1xf32>, tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  return %y : tensor<2x3x4xf32>
}

// Not a layer norm: the mean is over a leading dim.
// CHECK-LABEL: func.func @leading_axis
func.func @leading_axis(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // CHECK-NOT: kiln.layer_norm
  %m = kiln.reduce_mean %x {axes = array<i64: 0>, keepdims = true} : (tensor<2x3xf32>) -> tensor<1x3xf32>
  %d = kiln.sub %x, %m : tensor<2x3xf32>, tensor<1x3xf32> -> tensor<2x3xf32>
  %p = kiln.mul %d, %d : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
  %v = kiln.reduce_mean %p {axes = array<i64: 0>, keepdims = true} : (tensor<2x3xf32>) -> tensor<1x3xf32>
  %eps = kiln.constant dense<1.0e-5> : tensor<f32>
  %a = kiln.add %v, %eps : tensor<1x3xf32>, tensor<f32> -> tensor<1x3xf32>
  %s = kiln.sqrt %a : tensor<1x3xf32>
  %y = kiln.div %d, %s : tensor<2x3xf32>, tensor<1x3xf32> -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// Not fused when an intermediate value is also a result: it would be
// computed twice.
// CHECK-LABEL: func.func @shared_variance
func.func @shared_variance(%x: tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x1xf32>) {
  // CHECK-NOT: kiln.layer_norm
  %m = kiln.reduce_mean %x {axes = array<i64: 1>, keepdims = true} : (tensor<2x4xf32>) -> tensor<2x1xf32>
  %d = kiln.sub %x, %m : tensor<2x4xf32>, tensor<2x1xf32> -> tensor<2x4xf32>
  %p = kiln.mul %d, %d : tensor<2x4xf32>, tensor<2x4xf32> -> tensor<2x4xf32>
  %v = kiln.reduce_mean %p {axes = array<i64: 1>, keepdims = true} : (tensor<2x4xf32>) -> tensor<2x1xf32>
  %eps = kiln.constant dense<1.0e-5> : tensor<f32>
  %a = kiln.add %v, %eps : tensor<2x1xf32>, tensor<f32> -> tensor<2x1xf32>
  %s = kiln.sqrt %a : tensor<2x1xf32>
  %y = kiln.div %d, %s : tensor<2x4xf32>, tensor<2x1xf32> -> tensor<2x4xf32>
  return %y, %v : tensor<2x4xf32>, tensor<2x1xf32>
}

// PyTorch's exact GELU export, and the x * 0.5 first variant with a
// multiplication by 1/sqrt(2).
// CHECK-LABEL: func.func @gelu
func.func @gelu(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  // CHECK: %[[M:.*]] = kiln.matmul
  // CHECK: %[[G1:.*]] = kiln.gelu %[[M]] : tensor<4x8xf32>
  // CHECK: %[[G2:.*]] = kiln.gelu %{{.*}} : tensor<4x8xf32>
  // CHECK-NOT: kiln.erf
  // CHECK: return %[[G1]], %[[G2]]
  %m = kiln.matmul %x, %w : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %sqrt2 = kiln.constant dense<1.41421354> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %d = kiln.div %m, %sqrt2 : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %e = kiln.erf %d : tensor<4x8xf32>
  %a = kiln.add %e, %one : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %p = kiln.mul %m, %a : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %y = kiln.mul %p, %half : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>

  %inv = kiln.constant dense<0.707106769> : tensor<f32>
  %h = kiln.mul %half, %x : tensor<f32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %d2 = kiln.mul %x, %inv : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %e2 = kiln.erf %d2 : tensor<4x8xf32>
  %a2 = kiln.add %one, %e2 : tensor<f32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %z = kiln.mul %h, %a2 : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  return %y, %z : tensor<4x8xf32>, tensor<4x8xf32>
}

// Not GELU: the constant inside erf is not 1/sqrt(2).
// CHECK-LABEL: func.func @not_gelu
func.func @not_gelu(%x: tensor<8xf32>) -> tensor<8xf32> {
  // CHECK-NOT: kiln.gelu
  // CHECK: kiln.erf
  %c = kiln.constant dense<2.0> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %d = kiln.div %x, %c : tensor<8xf32>, tensor<f32> -> tensor<8xf32>
  %e = kiln.erf %d : tensor<8xf32>
  %a = kiln.add %e, %one : tensor<8xf32>, tensor<f32> -> tensor<8xf32>
  %p = kiln.mul %x, %a : tensor<8xf32>, tensor<8xf32> -> tensor<8xf32>
  %y = kiln.mul %p, %half : tensor<8xf32>, tensor<f32> -> tensor<8xf32>
  return %y : tensor<8xf32>
}
