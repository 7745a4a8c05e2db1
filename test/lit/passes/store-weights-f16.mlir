// RUN: kiln-opt %s -split-input-file -kiln-store-weights-f16 | FileCheck %s
// RUN: kiln-opt %s -split-input-file -kiln-store-weights-f16 -kiln-block-convolutions -kiln-pack-matmul-weights | FileCheck %s --check-prefix=PACKED

// A matrix product's weights become f16, rounded to nearest even (0.1 ->
// 0.0999755859375; 3e-8 -> the subnormal 2^-24; 65504, f16's largest
// finite value, is kept); the result stays f32. Packing keeps f16.
// CHECK-LABEL: func.func @linear
// CHECK: %[[W:.*]] = kiln.constant dense<{{\[\[}}9.997550e-02, 1.000000e+00, -2.500000e+00, 6.550400e+04], [5.960460e-08, 1.000400e-03, 7.000000e+00, -3.330080e-01]]> : tensor<2x4xf16>
// CHECK: kiln.matmul %arg0, %[[W]] : tensor<3x2xf32>, tensor<2x4xf16> -> tensor<3x4xf32>
// PACKED-LABEL: func.func @linear
// PACKED: %[[P:.*]] = kiln.constant dense<{{.*}}> : tensor<2x2x16xf16>
// PACKED: kiln.matmul_packed %arg0, %[[P]] : tensor<3x2xf32>, tensor<2x2x16xf16> -> tensor<3x4xf32>
func.func @linear(%x: tensor<3x2xf32>) -> tensor<3x4xf32> {
  %w = kiln.constant dense<[[0.1, 1.0, -2.5, 65504.0], [3.0e-8, 1.0e-3, 7.0, -0.333]]> : tensor<2x4xf32>
  %y = kiln.matmul %x, %w : tensor<3x2xf32>, tensor<2x4xf32> -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

// A convolution's filter and Gemm's B become f16; the bias stays f32. The
// blocked convolution's packed filter is f16 too.
// CHECK-LABEL: func.func @conv_and_gemm
// CHECK-DAG: %[[W:.*]] = kiln.constant dense<5.000000e-01> : tensor<16x2x3x3xf16>
// CHECK-DAG: %[[B:.*]] = kiln.constant dense<1.000000e+00> : tensor<16xf32>
// CHECK: kiln.conv %arg0, %[[W]], %[[B]] {{.*}} : (tensor<1x2x5x5xf32>, tensor<16x2x3x3xf16>, tensor<16xf32>) -> tensor<1x16x3x3xf32>
// CHECK: %[[G:.*]] = kiln.constant dense<2.500000e-01> : tensor<2x8xf16>
// CHECK: kiln.gemm %arg1, %[[G]] {{.*}} : (tensor<3x8xf32>, tensor<2x8xf16>) -> tensor<3x2xf32>
// PACKED-LABEL: func.func @conv_and_gemm
// PACKED: %[[F:.*]] = kiln.constant dense<{{.*}}> : tensor<1x1x3x3x2x16xf16>
// PACKED: kiln.conv2d_nchwc %arg0, %[[F]] bias %{{.*}} {{.*}} : (tensor<1x2x5x5xf32>, tensor<1x1x3x3x2x16xf16>, tensor<1x16xf32>) -> tensor<1x1x3x3x16xf32>
func.func @conv_and_gemm(%x: tensor<1x2x5x5xf32>, %a: tensor<3x8xf32>) -> (tensor<1x16x3x3xf32>, tensor<3x2xf32>) {
  %w = kiln.constant dense<0.5> : tensor<16x2x3x3xf32>
  %b = kiln.constant dense<1.0> : tensor<16xf32>
  %y = kiln.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x5x5xf32>, tensor<16x2x3x3xf32>, tensor<16xf32>) -> tensor<1x16x3x3xf32>
  %g = kiln.constant dense<0.25> : tensor<2x8xf32>
  %z = kiln.gemm %a, %g {trans_b = true} : (tensor<3x8xf32>, tensor<2x8xf32>) -> tensor<3x2xf32>
  return %y, %z : tensor<1x16x3x3xf32>, tensor<3x2xf32>
}

// -----

// Constants stay f32 when a value would leave f16's range (70000), when
// another op reads them as data, and when they are not weights at all.
// CHECK-LABEL: func.func @kept
// CHECK-NOT: f16
func.func @kept(%x: tensor<3x2xf32>, %v: tensor<2x4xf32>) -> (tensor<3x4xf32>, tensor<3x4xf32>, tensor<2x4xf32>) {
  %big = kiln.constant dense<[[1.0, 70000.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]> : tensor<2x4xf32>
  %y = kiln.matmul %x, %big : tensor<3x2xf32>, tensor<2x4xf32> -> tensor<3x4xf32>
  %shared = kiln.constant dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]> : tensor<2x4xf32>
  %z = kiln.matmul %x, %shared : tensor<3x2xf32>, tensor<2x4xf32> -> tensor<3x4xf32>
  %s = kiln.add %v, %shared : tensor<2x4xf32>, tensor<2x4xf32> -> tensor<2x4xf32>
  return %y, %z, %s : tensor<3x4xf32>, tensor<3x4xf32>, tensor<2x4xf32>
}
