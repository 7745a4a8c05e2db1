// RUN: kiln-opt %s -kiln-fuse-layer-norm -canonicalize | FileCheck %s

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
