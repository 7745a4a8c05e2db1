// RUN: kiln-opt %s | kiln-opt | FileCheck %s
// Round trip of the Kiln ops' custom syntax and inferred types.

// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%a: tensor<2x3xf32>, %b: tensor<3xf32>) -> tensor<2x3xi1> {
  // CHECK: kiln.add %{{.*}}, %{{.*}} : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
  %0 = kiln.add %a, %b : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
  // CHECK: kiln.leaky_relu %{{.*}} {alpha = 1.000000e-01 : f32} : tensor<2x3xf32>
  %1 = kiln.leaky_relu %0 {alpha = 0.1 : f32} : tensor<2x3xf32>
  // CHECK: kiln.clip %{{.*}} {max = 6.000000e+00 : f64, min = 0.000000e+00 : f64}
  %2 = kiln.clip %1 {min = 0.0 : f64, max = 6.0 : f64} : tensor<2x3xf32>
  // CHECK: kiln.less {{.*}} -> tensor<2x3xi1>
  %3 = kiln.less %2, %b : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xi1>
  return %3 : tensor<2x3xi1>
}

// CHECK-LABEL: func.func @conv_pool
func.func @conv_pool(%x: tensor<1x4x8x8xf32>, %w: tensor<8x2x3x3xf32>, %b: tensor<8xf32>) -> tensor<1x8x4x4xf32> {
  // CHECK: kiln.conv {{.*}} {dilations = array<i64: 1, 1>, group = 2 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>}
  %0 = kiln.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 2 : i64} : (tensor<1x4x8x8xf32>, tensor<8x2x3x3xf32>, tensor<8xf32>) -> tensor<1x8x8x8xf32>
  // CHECK: kiln.max_pool {{.*}} -> tensor<1x8x4x4xf32>
  %1 = kiln.max_pool %0 {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = false} : (tensor<1x8x8x8xf32>) -> tensor<1x8x4x4xf32>
  return %1 : tensor<1x8x4x4xf32>
}

// CHECK-LABEL: func.func @matmul_broadcast
func.func @matmul_broadcast(%a: tensor<2x1x4x5xf32>, %b: tensor<3x5x6xf32>) -> tensor<2x3x4x6xf32> {
  // CHECK: kiln.matmul {{.*}} -> tensor<2x3x4x6xf32>
  %0 = kiln.matmul %a, %b : tensor<2x1x4x5xf32>, tensor<3x5x6xf32> -> tensor<2x3x4x6xf32>
  return %0 : tensor<2x3x4x6xf32>
}

// CHECK-LABEL: func.func @data_movement
func.func @data_movement(%x: tensor<4x6xf32>, %i: tensor<2xi64>) -> (tensor<6x4xf32>, tensor<2x6xf32>, tensor<2x3xf32>, tensor<3x6xf32>, tensor<1x3xf32>) {
  // CHECK: kiln.transpose {{.*}} {perm = array<i64: 1, 0>}
  %0 = kiln.transpose %x {perm = array<i64: 1, 0>} : (tensor<4x6xf32>) -> tensor<6x4xf32>
  // CHECK: kiln.gather {{.*}} {axis = 0 : i64}
  %1 = kiln.gather %x, %i {axis = 0 : i64} : (tensor<4x6xf32>, tensor<2xi64>) -> tensor<2x6xf32>
  // CHECK: kiln.split {{.*}} -> (tensor<1x6xf32>, tensor<3x6xf32>)
  %2:2 = kiln.split %x {axis = 0 : i64, sizes = array<i64: 1, 3>} : (tensor<4x6xf32>) -> (tensor<1x6xf32>, tensor<3x6xf32>)
  // CHECK: kiln.slice {{.*}} -> tensor<2x3xf32>
  %3 = kiln.slice %x {starts = array<i64: 3, 0>, sizes = array<i64: 2, 3>, steps = array<i64: -1, 2>} : (tensor<4x6xf32>) -> tensor<2x3xf32>
  // CHECK: kiln.reduce_mean {{.*}} -> tensor<1x3xf32>
  %4 = kiln.reduce_mean %3 {axes = array<i64: 0>, keepdims = true} : (tensor<2x3xf32>) -> tensor<1x3xf32>
  return %0, %1, %3, %2#1, %4 : tensor<6x4xf32>, tensor<2x6xf32>, tensor<2x3xf32>, tensor<3x6xf32>, tensor<1x3xf32>
}

// CHECK-LABEL: func.func @matmul_integer
func.func @matmul_integer(%a: tensor<2x4x8xui8>, %b: tensor<8x16xi8>, %za: tensor<i32>, %zb: tensor<16xi32>) -> tensor<2x4x16xi32> {
  // CHECK: kiln.matmul_integer %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x4x8xui8>, tensor<8x16xi8>, tensor<i32>, tensor<16xi32>) -> tensor<2x4x16xi32>
  %0 = kiln.matmul_integer %a, %b, %za, %zb : (tensor<2x4x8xui8>, tensor<8x16xi8>, tensor<i32>, tensor<16xi32>) -> tensor<2x4x16xi32>
  return %0 : tensor<2x4x16xi32>
}
