// RUN: kiln-opt %s -split-input-file -kiln-compute-f16 | FileCheck %s

// The input is cast to f16 once; the product and the add compute in f16
// (the f32 bias is cast, a cast canonicalization folds); softmax runs in f32
// between casts; the output is cast back to f32.
// CHECK-LABEL: func.func @classifier
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>) -> tensor<2x4xf32>
// CHECK: %[[XH:.*]] = kiln.cast %[[X]] : tensor<2x8xf32> to tensor<2x8xf16>
// CHECK: %[[B:.*]] = kiln.constant dense<5.000000e-01> : tensor<4xf32>
// CHECK: %[[Y:.*]] = kiln.matmul %[[XH]], %{{.*}} : tensor<2x8xf16>, tensor<8x4xf16> -> tensor<2x4xf16>
// CHECK: %[[BH:.*]] = kiln.cast %[[B]] : tensor<4xf32> to tensor<4xf16>
// CHECK: %[[Z:.*]] = kiln.add %[[Y]], %[[BH]] : tensor<2x4xf16>, tensor<4xf16> -> tensor<2x4xf16>
// CHECK: %[[ZF:.*]] = kiln.cast %[[Z]] : tensor<2x4xf16> to tensor<2x4xf32>
// CHECK: %[[S:.*]] = kiln.softmax %[[ZF]] {{.*}} : tensor<2x4xf32>
// CHECK: %[[SH:.*]] = kiln.cast %[[S]] : tensor<2x4xf32> to tensor<2x4xf16>
// CHECK: %[[R:.*]] = kiln.relu %[[SH]] : tensor<2x4xf16>
// CHECK: %[[OUT:.*]] = kiln.cast %[[R]] : tensor<2x4xf16> to tensor<2x4xf32>
// CHECK: return %[[OUT]] : tensor<2x4xf32>
func.func @classifier(%x: tensor<2x8xf32>) -> tensor<2x4xf32> {
  %w = kiln.constant dense<0.25> : tensor<8x4xf16>
  %b = kiln.constant dense<0.5> : tensor<4xf32>
  %y = kiln.matmul %x, %w : tensor<2x8xf32>, tensor<8x4xf16> -> tensor<2x4xf32>
  %z = kiln.add %y, %b : tensor<2x4xf32>, tensor<4xf32> -> tensor<2x4xf32>
  %s = kiln.softmax %z {axis = 1 : i64} : tensor<2x4xf32>
  %r = kiln.relu %s : tensor<2x4xf32>
  return %r : tensor<2x4xf32>
}

// -----

// Reductions and normalisations read f32: the f32 input itself, not its f16
// cast. Integer tensors and the graph's own f16 tensors are left as they
// are; a cast from integers to f32 casts to f16 instead.
// CHECK-LABEL: func.func @kept
// CHECK: kiln.reduce_mean %arg0 {{.*}} -> tensor<4x1xf32>
// CHECK: %[[N:.*]] = kiln.layer_norm %arg0, %{{.*}} : (tensor<4x6xf32>, tensor<6xf32>) -> tensor<4x6xf32>
// CHECK: kiln.cast %arg1 : tensor<4x6xi32> to tensor<4x6xf16>
// CHECK: kiln.exp %arg2 : tensor<4x6xf16>
func.func @kept(%x: tensor<4x6xf32>, %i: tensor<4x6xi32>, %h: tensor<4x6xf16>) -> (tensor<4x1xf32>, tensor<4x6xf32>, tensor<4x6xf32>, tensor<4x6xf16>) {
  %m = kiln.reduce_mean %x {axes = array<i64: 1>, keepdims = true} : (tensor<4x6xf32>) -> tensor<4x1xf32>
  %g = kiln.constant dense<1.0> : tensor<6xf32>
  %n = kiln.layer_norm %x, %g {axis = 1 : i64, epsilon = 1.0e-5 : f32} : (tensor<4x6xf32>, tensor<6xf32>) -> tensor<4x6xf32>
  %c = kiln.cast %i : tensor<4x6xi32> to tensor<4x6xf32>
  %e = kiln.exp %h : tensor<4x6xf16>
  return %m, %n, %c, %e : tensor<4x1xf32>, tensor<4x6xf32>, tensor<4x6xf32>, tensor<4x6xf16>
}
