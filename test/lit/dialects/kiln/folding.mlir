// RUN: kiln-opt %s -canonicalize | FileCheck %s
// Compile-time values fold: the shape arithmetic exporters write disappears.

// CHECK-LABEL: func.func @shape_chain
func.func @shape_chain() -> tensor<2xi64> {
  // CHECK: %[[C:.*]] = kiln.constant dense<[6, 4]> : tensor<2xi64>
  // CHECK-NEXT: return %[[C]]
  %shape = kiln.constant dense<[2, 3, 4]> : tensor<3xi64>
  %idx = kiln.constant dense<[0, 1]> : tensor<2xi64>
  %dims = kiln.gather %shape, %idx {axis = 0 : i64} : (tensor<3xi64>, tensor<2xi64>) -> tensor<2xi64>
  %lead = kiln.slice %dims {starts = array<i64: 0>, sizes = array<i64: 1>, steps = array<i64: 1>} : (tensor<2xi64>) -> tensor<1xi64>
  %next = kiln.slice %dims {starts = array<i64: 1>, sizes = array<i64: 1>, steps = array<i64: 1>} : (tensor<2xi64>) -> tensor<1xi64>
  %prod = kiln.mul %lead, %next : tensor<1xi64>, tensor<1xi64> -> tensor<1xi64>
  %four = kiln.constant dense<4> : tensor<1xi64>
  %r = kiln.concat %prod, %four {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  return %r : tensor<2xi64>
}

// CHECK-LABEL: func.func @transpose_weights
func.func @transpose_weights() -> tensor<3x2xf32> {
  // CHECK: kiln.constant dense<{{\[}}[1.000000e+00, 4.000000e+00], [2.000000e+00, 5.000000e+00], [3.000000e+00, 6.000000e+00]]>
  %w = kiln.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %t = kiln.transpose %w {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %t : tensor<3x2xf32>
}

// CHECK-LABEL: func.func @identities
// CHECK-SAME: (%[[X:.*]]: tensor<2x3xf32>)
func.func @identities(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // CHECK-NEXT: return %[[X]]
  %0 = kiln.reshape %x : tensor<2x3xf32> to tensor<3x2xf32>
  %1 = kiln.reshape %0 : tensor<3x2xf32> to tensor<2x3xf32>
  %2 = kiln.transpose %1 {perm = array<i64: 0, 1>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %3 = kiln.cast %2 : tensor<2x3xf32> to tensor<2x3xf32>
  return %3 : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @cast_truncates
func.func @cast_truncates() -> tensor<3xi64> {
  // CHECK: kiln.constant dense<[1, -1, 2]> : tensor<3xi64>
  %f = kiln.constant dense<[1.7, -1.7, 2.0]> : tensor<3xf32>
  %i = kiln.cast %f : tensor<3xf32> to tensor<3xi64>
  return %i : tensor<3xi64>
}

// Leaving and re-entering the NCHWc layout folds away (NCHWc producers keep
// the padding channels zero); so does the reverse.
// CHECK-LABEL: func.func @nchwc_round_trips
func.func @nchwc_round_trips(%b: tensor<1x2x4x4x16xf32>, %p: tensor<1x24x4x4xf32>) -> (tensor<1x2x4x4x16xf32>, tensor<1x24x4x4xf32>) {
  // CHECK-NOT: kiln.to_nchwc
  // CHECK-NOT: kiln.from_nchwc
  // CHECK: return %arg0, %arg1
  %0 = kiln.from_nchwc %b : (tensor<1x2x4x4x16xf32>) -> tensor<1x24x4x4xf32>
  %1 = kiln.to_nchwc %0 : (tensor<1x24x4x4xf32>) -> tensor<1x2x4x4x16xf32>
  %2 = kiln.to_nchwc %p : (tensor<1x24x4x4xf32>) -> tensor<1x2x4x4x16xf32>
  %3 = kiln.from_nchwc %2 : (tensor<1x2x4x4x16xf32>) -> tensor<1x24x4x4xf32>
  return %1, %3 : tensor<1x2x4x4x16xf32>, tensor<1x24x4x4xf32>
}
