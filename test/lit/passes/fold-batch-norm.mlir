// RUN: kiln-opt %s -kiln-fold-batch-norm -canonicalize | FileCheck %s

// A batch norm after a conv with constant weights folds into them:
// a = scale / sqrt(var + eps) = [2, 0.5], b = bias - mean * a = [1, -1].
// CHECK-LABEL: func.func @into_conv
func.func @into_conv(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32> {
  // CHECK-DAG: %[[W:.*]] = kiln.constant dense<{{\[\[\[\[}}2.000000e+00]]], {{\[\[\[}}5.000000e-01]]]]> : tensor<2x1x1x1xf32>
  // CHECK-DAG: %[[B:.*]] = kiln.constant dense<[7.000000e+00, 5.000000e-01]> : tensor<2xf32>
  // CHECK: %[[C:.*]] = kiln.conv %{{.*}}, %[[W]], %[[B]]
  // CHECK-NOT: kiln.batch_norm
  // CHECK: return %[[C]]
  %w = kiln.constant dense<1.0> : tensor<2x1x1x1xf32>
  %b = kiln.constant dense<[3.0, 3.0]> : tensor<2xf32>
  %c = kiln.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  %scale = kiln.constant dense<[2.0, 1.0]> : tensor<2xf32>
  %bias = kiln.constant dense<[1.0, 0.0]> : tensor<2xf32>
  %mean = kiln.constant dense<[0.0, 2.0]> : tensor<2xf32>
  %var = kiln.constant dense<[1.0, 4.0]> : tensor<2xf32>
  %y = kiln.batch_norm %c, %scale, %bias, %mean, %var {epsilon = 0.0 : f32} : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  return %y : tensor<1x2x2x2xf32>
}

// Without a foldable producer it becomes a per-channel multiply-add.
// CHECK-LABEL: func.func @standalone
func.func @standalone(%x: tensor<1x2x3xf32>) -> tensor<1x2x3xf32> {
  // CHECK-DAG: %[[A:.*]] = kiln.constant dense<{{\[\[}}2.000000e+00], [5.000000e-01]]> : tensor<2x1xf32>
  // CHECK-DAG: %[[S:.*]] = kiln.constant dense<{{\[\[}}1.000000e+00], [-1.000000e+00]]> : tensor<2x1xf32>
  // CHECK: %[[M:.*]] = kiln.mul %{{.*}}, %[[A]]
  // CHECK: kiln.add %[[M]], %[[S]]
  %scale = kiln.constant dense<[2.0, 1.0]> : tensor<2xf32>
  %bias = kiln.constant dense<[1.0, 0.0]> : tensor<2xf32>
  %mean = kiln.constant dense<[0.0, 2.0]> : tensor<2xf32>
  %var = kiln.constant dense<[1.0, 4.0]> : tensor<2xf32>
  %y = kiln.batch_norm %x, %scale, %bias, %mean, %var {epsilon = 0.0 : f32} : (tensor<1x2x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x3xf32>
  return %y : tensor<1x2x3xf32>
}
