// RUN: kiln-opt %s -kiln-form-integer-ops | FileCheck %s

!qa = !quant.uniform<u8:f32, 0.5:3>
!qw = !quant.uniform<i8:f32:1, {0.25, 0.125}>

// A product of a dequantized activation and a dequantized weight with a
// scale per column runs on the stored integers; the float result is the
// i32 product times sa * sw per column.
// CHECK-LABEL: func.func @matmul
func.func @matmul(%a: tensor<4x8x!qa>, %wq: tensor<8x2xi8>) -> tensor<4x2xf32> {
  // CHECK-DAG: %[[A:.*]] = kiln.storage_cast %{{.*}} : tensor<4x8x!quant.uniform<u8:f32, 5.000000e-01:3>> to tensor<4x8xui8>
  // CHECK-DAG: %[[ZA:.*]] = kiln.constant dense<3> : tensor<i32>
  // CHECK-DAG: %[[ZW:.*]] = kiln.constant dense<0> : tensor<i32>
  // CHECK-DAG: %[[S:.*]] = kiln.constant dense<[1.250000e-01, 6.250000e-02]> : tensor<2xf32>
  // CHECK: %[[P:.*]] = kiln.matmul_integer %[[A]], %{{.*}}, %[[ZA]], %[[ZW]] : (tensor<4x8xui8>, tensor<8x2xi8>, tensor<i32>, tensor<i32>) -> tensor<4x2xi32>
  // CHECK: %[[R:.*]] = kiln.cast %[[P]] : tensor<4x2xi32> to tensor<4x2xf32>
  // CHECK: %[[Y:.*]] = kiln.mul %[[R]], %[[S]]
  // CHECK-NOT: kiln.matmul %
  // CHECK: return %[[Y]]
  %w = kiln.storage_cast %wq : tensor<8x2xi8> to tensor<8x2x!qw>
  %x = kiln.dequantize %a : tensor<4x8x!qa> to tensor<4x8xf32>
  %y = kiln.dequantize %w : tensor<8x2x!qw> to tensor<8x2xf32>
  %p = kiln.matmul %x, %y : tensor<4x8xf32>, tensor<8x2xf32> -> tensor<4x2xf32>
  return %p : tensor<4x2xf32>
}

// A max pool between a dequantize and a quantize with the same parameters
// pools the stored values.
// CHECK-LABEL: func.func @max_pool
func.func @max_pool(%a: tensor<1x1x4x4x!qa>) -> tensor<1x1x2x2x!qa> {
  // CHECK: %[[P:.*]] = kiln.max_pool %{{.*}} {{.*}} : (tensor<1x1x4x4x!quant.uniform<u8:f32, 5.000000e-01:3>>) -> tensor<1x1x2x2x!quant.uniform<u8:f32, 5.000000e-01:3>>
  // CHECK-NOT: kiln.quantize
  // CHECK: return %[[P]]
  %x = kiln.dequantize %a : tensor<1x1x4x4x!qa> to tensor<1x1x4x4xf32>
  %p = kiln.max_pool %x {ceil_mode = false, dilations = array<i64: 1, 1>, kernel_shape = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 2, 2>} : (tensor<1x1x4x4xf32>) -> tensor<1x1x2x2xf32>
  %q = kiln.quantize %p : tensor<1x1x2x2xf32> to tensor<1x1x2x2x!qa>
  return %q : tensor<1x1x2x2x!qa>
}

// Quantized again with other parameters, the reshape stays float.
// CHECK-LABEL: func.func @requantized
func.func @requantized(%a: tensor<2x2x!qa>) -> tensor<4x!quant.uniform<u8:f32, 0.25:0>> {
  // CHECK: kiln.dequantize
  // CHECK: kiln.reshape %{{.*}} : tensor<2x2xf32> to tensor<4xf32>
  // CHECK: kiln.quantize
  %x = kiln.dequantize %a : tensor<2x2x!qa> to tensor<2x2xf32>
  %r = kiln.reshape %x : tensor<2x2xf32> to tensor<4xf32>
  %q = kiln.quantize %r : tensor<4xf32> to tensor<4x!quant.uniform<u8:f32, 0.25:0>>
  return %q : tensor<4x!quant.uniform<u8:f32, 0.25:0>>
}
