// RUN: kiln-opt %s -kiln-form-dispatches | FileCheck %s

// conv + bias add + relu: one dispatch; the weights are operands, the small
// constant is cloned into the region.
// CHECK-LABEL: func.func @conv_epilogue
func.func @conv_epilogue(%x: tensor<1x2x4x4xf32>, %r: tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32> {
  // CHECK: %[[W:.*]] = kiln.constant dense<5.000000e-01> : tensor<3x2x3x3xf32>
  // CHECK: %[[D:.*]] = kiln.dispatch "conv1:conv+add+relu"(%{{.*}}, %[[W]], %{{.*}}) {kiln.nodes = "conv1"} : (tensor<1x2x4x4xf32>, tensor<3x2x3x3xf32>, tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32> {
  // CHECK: ^bb0(%[[A:.*]]: tensor<1x2x4x4xf32>, %[[B:.*]]: tensor<3x2x3x3xf32>, %[[C:.*]]: tensor<1x3x4x4xf32>):
  // CHECK-NEXT: %[[BIAS:.*]] = kiln.constant dense<1.000000e+00> : tensor<3xf32>
  // CHECK-NEXT: %[[CONV:.*]] = kiln.conv %[[A]], %[[B]], %[[BIAS]]
  // CHECK-NEXT: %[[SUM:.*]] = kiln.add %[[CONV]], %[[C]]
  // CHECK-NEXT: %[[RELU:.*]] = kiln.relu %[[SUM]]
  // CHECK-NEXT: kiln.yield %[[RELU]]
  // CHECK: return %[[D]]
  %w = kiln.constant dense<0.5> : tensor<3x2x3x3xf32>
  %b = kiln.constant dense<1.0> : tensor<3xf32>
  %0 = kiln.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<3x2x3x3xf32>, tensor<3xf32>) -> tensor<1x3x4x4xf32> loc("conv1")
  %1 = kiln.add %0, %r : tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32> -> tensor<1x3x4x4xf32>
  %2 = kiln.relu %1 : tensor<1x3x4x4xf32>
  return %2 : tensor<1x3x4x4xf32>
}

// A value with two users ends its group: the second user starts a new one.
// CHECK-LABEL: func.func @shared_value
func.func @shared_value(%x: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  // CHECK: %[[E:.*]] = kiln.dispatch "exp:exp"(%{{.*}})
  // CHECK: kiln.dispatch "neg:neg+abs"(%[[E]])
  // CHECK: kiln.dispatch "relu:relu"(%[[E]])
  %0 = kiln.exp %x : tensor<8xf32>
  %1 = kiln.neg %0 : tensor<8xf32>
  %2 = kiln.abs %1 : tensor<8xf32>
  %3 = kiln.relu %0 : tensor<8xf32>
  return %2, %3 : tensor<8xf32>, tensor<8xf32>
}

// Reshapes stay in the graph (they alias buffers); a returned constant gets
// a copy so that the output has a buffer.
// CHECK-LABEL: func.func @aliases_and_constants
func.func @aliases_and_constants(%x: tensor<2x3xf32>) -> (tensor<6xf32>, tensor<2xf32>) {
  // CHECK: %[[R:.*]] = kiln.reshape
  // CHECK: %[[C:.*]] = kiln.dispatch "identity:identity"()
  // CHECK-NEXT: kiln.constant dense<[1.000000e+00, 2.000000e+00]>
  // CHECK-NEXT: kiln.identity
  // CHECK: return %[[R]], %[[C]]
  %0 = kiln.reshape %x : tensor<2x3xf32> to tensor<6xf32>
  %c = kiln.constant dense<[1.0, 2.0]> : tensor<2xf32>
  return %0, %c : tensor<6xf32>, tensor<2xf32>
}

// Each dispatch lists the nodes its ops came from (through fused locations)
// and the work kiln-count-flops recorded for its contractions' nodes; the
// elementwise dispatch has no work.
// CHECK-LABEL: func.func @profile_info
func.func @profile_info(%x: tensor<1x2x4x4xf32>) -> (tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32>)
    attributes {kiln.node_flops = {conv1 = 1728 : i64}} {
  // CHECK: kiln.dispatch "conv1:conv+relu"(%{{.*}}) {kiln.flops = 1728 : i64, kiln.nodes = "conv1, bn1, relu1"}
  // CHECK: kiln.dispatch "exp1:exp+exp"(%{{.*}}) {kiln.nodes = "exp1, exp2"}
  %w = kiln.constant dense<0.5> : tensor<3x2x3x3xf32>
  %0 = kiln.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<3x2x3x3xf32>) -> tensor<1x3x4x4xf32> loc(fused["conv1", "bn1"])
  %1 = kiln.relu %0 : tensor<1x3x4x4xf32> loc("relu1")
  %2 = kiln.exp %1 : tensor<1x3x4x4xf32> loc("exp1")
  %3 = kiln.exp %2 : tensor<1x3x4x4xf32> loc("exp2")
  return %1, %3 : tensor<1x3x4x4xf32>, tensor<1x3x4x4xf32>
}
