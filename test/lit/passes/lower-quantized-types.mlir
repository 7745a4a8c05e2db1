// RUN: kiln-opt %s -kiln-lower-quantized-types -canonicalize | FileCheck %s

// quantize: saturate(round(x / s) + z) as the storage type; dequantize:
// (q - z) * s with the difference in i32.
// CHECK-LABEL: func.func @per_tensor
func.func @per_tensor(%x: tensor<8xf32>) -> tensor<8xf32> {
  // CHECK-DAG: %[[S:.*]] = kiln.constant dense<5.000000e-01> : tensor<f32>
  // CHECK-DAG: %[[ZF:.*]] = kiln.constant dense<3.000000e+00> : tensor<f32>
  // CHECK-DAG: %[[ZI:.*]] = kiln.constant dense<3> : tensor<i32>
  // CHECK: %[[D:.*]] = kiln.div %{{.*}}, %[[S]]
  // CHECK: %[[R:.*]] = kiln.round %[[D]]
  // CHECK: %[[A:.*]] = kiln.add %[[R]], %[[ZF]]
  // CHECK: %[[C:.*]] = kiln.clip %[[A]] {max = 2.550000e+02 : f64, min = 0.000000e+00 : f64}
  // CHECK: %[[Q:.*]] = kiln.cast %[[C]] : tensor<8xf32> to tensor<8xui8>
  // CHECK: %[[W:.*]] = kiln.cast %[[Q]] : tensor<8xui8> to tensor<8xi32>
  // CHECK: %[[B:.*]] = kiln.sub %[[W]], %[[ZI]]
  // CHECK: %[[F:.*]] = kiln.cast %[[B]] : tensor<8xi32> to tensor<8xf32>
  // CHECK: kiln.mul %[[F]], %[[S]]
  %q = kiln.quantize %x : tensor<8xf32> to tensor<8x!quant.uniform<u8:f32, 0.5:3>>
  %y = kiln.dequantize %q : tensor<8x!quant.uniform<u8:f32, 0.5:3>> to tensor<8xf32>
  return %y : tensor<8xf32>
}

// Per-axis parameters broadcast along their axis; a storage cast of a
// weight disappears, and ops kept on quantized values take the storage type.
// CHECK-LABEL: func.func @per_axis
func.func @per_axis(%w: tensor<2x3xi8>) -> (tensor<2x3xf32>, tensor<3x2xi8>) {
  // CHECK-DAG: kiln.constant dense<{{\[\[}}2.500000e-01], [1.250000e-01]]> : tensor<2x1xf32>
  // CHECK-NOT: kiln.storage_cast
  // CHECK: kiln.transpose %{{.*}} : (tensor<2x3xi8>) -> tensor<3x2xi8>
  %q = kiln.storage_cast %w : tensor<2x3xi8> to tensor<2x3x!quant.uniform<i8:f32:0, {0.25, 0.125}>>
  %y = kiln.dequantize %q : tensor<2x3x!quant.uniform<i8:f32:0, {0.25, 0.125}>> to tensor<2x3xf32>
  %p = kiln.storage_cast %w : tensor<2x3xi8> to tensor<2x3x!quant.uniform<i8:f32, 0.5>>
  %t = kiln.transpose %p {perm = array<i64: 1, 0>} : (tensor<2x3x!quant.uniform<i8:f32, 0.5>>) -> tensor<3x2x!quant.uniform<i8:f32, 0.5>>
  %i = kiln.storage_cast %t : tensor<3x2x!quant.uniform<i8:f32, 0.5>> to tensor<3x2xi8>
  return %y, %i : tensor<2x3xf32>, tensor<3x2xi8>
}
