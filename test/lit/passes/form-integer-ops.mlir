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

!qx = !quant.uniform<u8:f32, 0.5:3>
!qk = !quant.uniform<i8:f32, 0.25>
!qy = !quant.uniform<u8:f32, 0.125:2>

// conv -> relu -> quantize of a dequantized uint8 input and int8 weights:
// one quantized NCHWc convolution. The filter is packed [F/16, C/16, KH,
// KW, 4, 16, 4] and summed per output channel (16 ones); scale and bias
// fold the output's scale in: 0.5 * 0.25 / 0.125 = 1 and 0.5 / 0.125 = 4.
// CHECK-LABEL: func.func @conv_relu_quantize
func.func @conv_relu_quantize(%a: tensor<1x16x4x4x!qx>) -> tensor<1x16x4x4x!qy> {
  // CHECK-DAG: %[[W:.*]] = kiln.constant dense<1> : tensor<1x1x1x1x4x16x4xi8>
  // CHECK-DAG: %[[S:.*]] = kiln.constant dense<16> : tensor<1x16xi32>
  // CHECK-DAG: %[[SB:.*]] = kiln.constant dense<{{\[\[\[}}1.000000e+00, {{.*}}], [4.000000e+00, {{.*}}]]]> : tensor<1x2x16xf32>
  // CHECK: %[[X:.*]] = kiln.to_nchwc %{{.*}} : (tensor<1x16x4x4xui8>) -> tensor<1x1x4x4x16xui8>
  // CHECK: %[[C:.*]] = kiln.quantized_conv2d_nchwc %[[X]], %[[W]], %[[S]], %[[SB]] {activation = "relu", {{.*}}input_zero_point = 3 : i64, output_zero_point = 2 : i64{{.*}}} : {{.*}} -> tensor<1x1x4x4x16xui8>
  // CHECK: kiln.from_nchwc %[[C]] : (tensor<1x1x4x4x16xui8>) -> tensor<1x16x4x4xui8>
  // CHECK-NOT: kiln.conv %
  // CHECK-NOT: kiln.quantize
  %wq = kiln.constant dense<1> : tensor<16x16x1x1xi8>
  %w = kiln.storage_cast %wq : tensor<16x16x1x1xi8> to tensor<16x16x1x1x!qk>
  %b = kiln.constant dense<0.5> : tensor<16xf32>
  %x = kiln.dequantize %a : tensor<1x16x4x4x!qx> to tensor<1x16x4x4xf32>
  %k = kiln.dequantize %w : tensor<16x16x1x1x!qk> to tensor<16x16x1x1xf32>
  %c = kiln.conv %x, %k, %b {dilations = array<i64: 1, 1>, group = 1 : i64, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x16x4x4xf32>, tensor<16x16x1x1xf32>, tensor<16xf32>) -> tensor<1x16x4x4xf32>
  %r = kiln.relu %c : tensor<1x16x4x4xf32>
  %q = kiln.quantize %r : tensor<1x16x4x4xf32> to tensor<1x16x4x4x!qy>
  return %q : tensor<1x16x4x4x!qy>
}

// A residual block's end (conv, quantize, dequantize, add of a dequantized
// shortcut, relu, quantize) is one convolution with a residual operand:
// the sum's parameters (0.25:5) and the ratios of the sum's and the
// shortcut's scales to the output's (0.25 / 0.125 = 2, 0.5 / 0.125 = 4).
// CHECK-LABEL: func.func @residual
func.func @residual(%a: tensor<1x16x4x4x!qx>, %s: tensor<1x16x4x4x!qx>) -> tensor<1x16x4x4x!qy> {
  // CHECK: %[[SC:.*]] = kiln.storage_cast %arg1
  // CHECK: %[[R:.*]] = kiln.to_nchwc %[[SC]] : (tensor<1x16x4x4xui8>) -> tensor<1x1x4x4x16xui8>
  // CHECK: kiln.quantized_conv2d_nchwc %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} residual %[[R]] {activation = "relu", {{.*}}residual_scale = 4.000000e+00 : f64, residual_zero_point = 3 : i64, {{.*}}sum_scale = 2.000000e+00 : f64, sum_zero_point = 5 : i64}
  // CHECK-NOT: kiln.add
  %wq = kiln.constant dense<1> : tensor<16x16x1x1xi8>
  %w = kiln.storage_cast %wq : tensor<16x16x1x1xi8> to tensor<16x16x1x1x!qk>
  %x = kiln.dequantize %a : tensor<1x16x4x4x!qx> to tensor<1x16x4x4xf32>
  %k = kiln.dequantize %w : tensor<16x16x1x1x!qk> to tensor<16x16x1x1xf32>
  %c = kiln.conv %x, %k {dilations = array<i64: 1, 1>, group = 1 : i64, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x16x4x4xf32>, tensor<16x16x1x1xf32>) -> tensor<1x16x4x4xf32>
  %cq = kiln.quantize %c : tensor<1x16x4x4xf32> to tensor<1x16x4x4x!quant.uniform<u8:f32, 0.25:5>>
  %cf = kiln.dequantize %cq : tensor<1x16x4x4x!quant.uniform<u8:f32, 0.25:5>> to tensor<1x16x4x4xf32>
  %sf = kiln.dequantize %s : tensor<1x16x4x4x!qx> to tensor<1x16x4x4xf32>
  %sum = kiln.add %cf, %sf : tensor<1x16x4x4xf32>, tensor<1x16x4x4xf32> -> tensor<1x16x4x4xf32>
  %r = kiln.relu %sum : tensor<1x16x4x4xf32>
  %q = kiln.quantize %r : tensor<1x16x4x4xf32> to tensor<1x16x4x4x!qy>
  return %q : tensor<1x16x4x4x!qy>
}

// Depthwise (group = C = F): the filter packed [C/16, KH, KW, 16]; the
// result stays float (no quantize follows).
// CHECK-LABEL: func.func @depthwise_float_result
func.func @depthwise_float_result(%a: tensor<1x16x4x4x!qx>) -> tensor<1x16x4x4xf32> {
  // CHECK: kiln.quantized_conv2d_nchwc {{.*}} {depthwise, {{.*}}input_zero_point = 3 : i64, {{.*}}} : (tensor<1x1x4x4x16xui8>, tensor<1x3x3x16xi8>, tensor<1x16xi32>, tensor<1x2x16xf32>) -> tensor<1x1x4x4x16xf32>
  %wq = kiln.constant dense<2> : tensor<16x1x3x3xi8>
  %w = kiln.storage_cast %wq : tensor<16x1x3x3xi8> to tensor<16x1x3x3x!qk>
  %x = kiln.dequantize %a : tensor<1x16x4x4x!qx> to tensor<1x16x4x4xf32>
  %k = kiln.dequantize %w : tensor<16x1x3x3x!qk> to tensor<16x1x3x3xf32>
  %c = kiln.conv %x, %k {dilations = array<i64: 1, 1>, group = 16 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x16x4x4xf32>, tensor<16x1x3x3xf32>) -> tensor<1x16x4x4xf32>
  return %c : tensor<1x16x4x4xf32>
}

// An int8 (signed) activation is read as uint8 bytes plus 128 (an add that
// wraps, then the same bits as ui8), with its zero point moved up by 128.
// CHECK-LABEL: func.func @signed_input
func.func @signed_input(%a: tensor<1x16x4x4x!quant.uniform<i8:f32, 0.5:3>>) -> tensor<1x16x4x4xf32> {
  // CHECK-DAG: %[[OFFSET:.*]] = kiln.constant dense<-128> : tensor<i8>
  // CHECK-DAG: %[[S:.*]] = kiln.storage_cast %arg0 : {{.*}} to tensor<1x16x4x4xi8>
  // CHECK: %[[M:.*]] = kiln.add %[[S]], %[[OFFSET]] : tensor<1x16x4x4xi8>, tensor<i8> -> tensor<1x16x4x4xi8>
  // CHECK: %[[U:.*]] = kiln.cast %[[M]] : tensor<1x16x4x4xi8> to tensor<1x16x4x4xui8>
  // CHECK: %[[X:.*]] = kiln.to_nchwc %[[U]]
  // CHECK: kiln.quantized_conv2d_nchwc %[[X]], {{.*}}input_zero_point = 131 : i64
  // CHECK-NOT: kiln.conv %
  %wq = kiln.constant dense<1> : tensor<16x16x1x1xi8>
  %w = kiln.storage_cast %wq : tensor<16x16x1x1xi8> to tensor<16x16x1x1x!qk>
  %x = kiln.dequantize %a : tensor<1x16x4x4x!quant.uniform<i8:f32, 0.5:3>> to tensor<1x16x4x4xf32>
  %k = kiln.dequantize %w : tensor<16x16x1x1x!qk> to tensor<16x16x1x1xf32>
  %c = kiln.conv %x, %k {dilations = array<i64: 1, 1>, group = 1 : i64, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x16x4x4xf32>, tensor<16x16x1x1xf32>) -> tensor<1x16x4x4xf32>
  return %c : tensor<1x16x4x4xf32>
}
