// RUN: kiln-opt %s -split-input-file -kiln-pack-matmul-weights | FileCheck %s

// A product by a constant [K, N] = [2, 20] matrix reads it packed: B(k, n)
// at [n / 16, k, n % 16], two 16-column panels (the second zero past
// column 19). B(k, n) = 100 k + n.
// CHECK-LABEL: func.func @linear
// CHECK: %[[P:.*]] = kiln.constant dense<{{\[\[\[}}0.000000e+00, 1.000000e+00, {{.*}}, 1.500000e+01], [1.000000e+02, {{.*}}, 1.150000e+02]], {{\[\[}}1.600000e+01, 1.700000e+01, 1.800000e+01, 1.900000e+01, 0.000000e+00, {{.*}}], [1.160000e+02, 1.170000e+02, 1.180000e+02, 1.190000e+02, 0.000000e+00, {{.*}}]]]> : tensor<2x2x16xf32>
// CHECK: %[[Y:.*]] = kiln.matmul_packed %arg0, %[[P]] : tensor<1x3x2xf32>, tensor<2x2x16xf32> -> tensor<1x3x20xf32>
// CHECK: return %[[Y]]
func.func @linear(%x: tensor<1x3x2xf32>) -> tensor<1x3x20xf32> {
  %w = kiln.constant dense<[[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0],
                            [100.0, 101.0, 102.0, 103.0, 104.0, 105.0, 106.0, 107.0, 108.0, 109.0, 110.0, 111.0, 112.0, 113.0, 114.0, 115.0, 116.0, 117.0, 118.0, 119.0]]> : tensor<2x20xf32>
  %y = kiln.matmul %x, %w : tensor<1x3x2xf32>, tensor<2x20xf32> -> tensor<1x3x20xf32>
  return %y : tensor<1x3x20xf32>
}

// -----

// Two rows (a classifier at batch 2) stay a matrix-vector product on the
// unpacked matrix, and a variable right-hand side cannot be packed.
// CHECK-LABEL: func.func @not_packed
// CHECK-NOT: kiln.matmul_packed
// CHECK-COUNT-2: kiln.matmul %
func.func @not_packed(%x: tensor<2x4xf32>, %v: tensor<4x8xf32>, %z: tensor<8x4xf32>) -> (tensor<2x8xf32>, tensor<8x8xf32>) {
  %w = kiln.constant dense<1.0> : tensor<4x8xf32>
  %y = kiln.matmul %x, %w : tensor<2x4xf32>, tensor<4x8xf32> -> tensor<2x8xf32>
  %u = kiln.matmul %z, %v : tensor<8x4xf32>, tensor<4x8xf32> -> tensor<8x8xf32>
  return %y, %u : tensor<2x8xf32>, tensor<8x8xf32>
}

// -----

// f16 data by f16 weights (--precision fp16 on a target with fp16
// arithmetic) packs f16 panels.
// CHECK-LABEL: func.func @linear_f16
// CHECK: %[[P:.*]] = kiln.constant dense<{{.*}}> : tensor<2x4x16xf16>
// CHECK: kiln.matmul_packed %arg0, %[[P]] : tensor<5x4xf16>, tensor<2x4x16xf16> -> tensor<5x8xf16>
func.func @linear_f16(%x: tensor<5x4xf16>) -> tensor<5x8xf16> {
  %w = kiln.constant dense<0.5> : tensor<4x8xf16>
  %y = kiln.matmul %x, %w : tensor<5x4xf16>, tensor<4x8xf16> -> tensor<5x8xf16>
  return %y : tensor<5x8xf16>
}
