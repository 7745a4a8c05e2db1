// RUN: kiln-opt %s -kiln-propagate-transposes | FileCheck %s

// tf2onnx's NHWC convolution chain: the transpose back to NHWC after the
// first conv and the one to NCHW before the second meet across the Relu and
// the bias Add (whose constant moves to NCHW) and cancel. Only the graph's
// own layout changes at the ends remain.
// CHECK-LABEL: func.func @nhwc_convs
func.func @nhwc_convs(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> {
  // CHECK: kiln.transpose %{{.*}} {perm = array<i64: 0, 3, 1, 2>}
  // CHECK: %[[C1:.*]] = kiln.conv
  // CHECK: %[[A:.*]] = kiln.add %[[C1]], %{{.*}} : tensor<1x2x4x4xf32>, tensor<1x2x1x1xf32>
  // CHECK: %[[R:.*]] = kiln.relu %[[A]] : tensor<1x2x4x4xf32>
  // CHECK-NEXT: %[[C2:.*]] = kiln.conv %[[R]]
  // CHECK-NEXT: %[[OUT:.*]] = kiln.transpose %[[C2]] {perm = array<i64: 0, 2, 3, 1>}
  // CHECK-NEXT: return %[[OUT]]
  %w = kiln.constant dense<0.5> : tensor<2x2x1x1xf32>
  %t0 = kiln.transpose %x {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x4x4x2xf32>) -> tensor<1x2x4x4xf32>
  %c1 = kiln.conv %t0, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %t1 = kiln.transpose %c1 {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x2x4x4xf32>) -> tensor<1x4x4x2xf32>
  %bias = kiln.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %a = kiln.add %t1, %bias : tensor<1x4x4x2xf32>, tensor<2xf32> -> tensor<1x4x4x2xf32>
  %r = kiln.relu %a : tensor<1x4x4x2xf32>
  %t2 = kiln.transpose %r {perm = array<i64: 0, 3, 1, 2>} : (tensor<1x4x4x2xf32>) -> tensor<1x2x4x4xf32>
  %c2 = kiln.conv %t2, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %t3 = kiln.transpose %c2 {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x2x4x4xf32>) -> tensor<1x4x4x2xf32>
  return %t3 : tensor<1x4x4x2xf32>
}

// A transpose with another user stays where it is: moving it would add one.
// CHECK-LABEL: func.func @shared_transpose
func.func @shared_transpose(%x: tensor<2x3xf32>) -> (tensor<3x2xf32>, tensor<3x2xf32>) {
  // CHECK: %[[T:.*]] = kiln.transpose %{{.*}} {perm = array<i64: 1, 0>}
  // CHECK: %[[R:.*]] = kiln.relu %[[T]]
  // CHECK: return %[[R]], %[[T]]
  %t = kiln.transpose %x {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %r = kiln.relu %t : tensor<3x2xf32>
  return %r, %t : tensor<3x2xf32>, tensor<3x2xf32>
}

// An operand that is neither a constant nor transposed the same way (a
// residual in the other layout) keeps the transpose in place.
// CHECK-LABEL: func.func @mixed_layouts
func.func @mixed_layouts(%x: tensor<2x3xf32>, %y: tensor<3x2xf32>) -> tensor<3x2xf32> {
  // CHECK: %[[T:.*]] = kiln.transpose
  // CHECK: kiln.add %[[T]], %{{.*}} : tensor<3x2xf32>, tensor<3x2xf32>
  %t = kiln.transpose %x {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %a = kiln.add %t, %y : tensor<3x2xf32>, tensor<3x2xf32> -> tensor<3x2xf32>
  return %a : tensor<3x2xf32>
}
