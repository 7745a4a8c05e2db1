// RUN: kiln-opt %s -kiln-count-flops | FileCheck %s

// Each contraction adds 2 operations per multiply-add to its node; nodes
// without a contraction, and contractions without a node name, add nothing.
// conv1: 1x4x8x8 outputs x (3 x 3x3) window = 6912 multiply-adds.
// mm: 2x3x5 outputs x 4 = 120. gemm (transposed A, [K=6, M=2]): 2x3 x 6 = 36.
// deconv: 1x2x3x3 inputs x (4 x 2x2) = 288.
// CHECK-LABEL: func.func @contractions
// CHECK-SAME: kiln.node_flops = {conv1 = 13824 : i64, deconv = 576 : i64, gemm = 72 : i64, mm = 240 : i64}
func.func @contractions(%x: tensor<1x3x8x8xf32>, %a: tensor<2x3x4xf32>,
                        %b: tensor<4x5xf32>, %g: tensor<6x2xf32>,
                        %h: tensor<6x3xf32>, %d: tensor<1x2x3x3xf32>)
    -> (tensor<1x4x8x8xf32>, tensor<2x3x5xf32>, tensor<2x3xf32>,
        tensor<1x4x4x4xf32>, tensor<2x3x5xf32>) {
  %w = kiln.constant dense<0.5> : tensor<4x3x3x3xf32>
  %c = kiln.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32> loc("conv1")
  %r = kiln.relu %c : tensor<1x4x8x8xf32> loc("relu1")
  %m = kiln.matmul %a, %b : tensor<2x3x4xf32>, tensor<4x5xf32> -> tensor<2x3x5xf32> loc("mm")
  %u = kiln.matmul %a, %b : tensor<2x3x4xf32>, tensor<4x5xf32> -> tensor<2x3x5xf32>
  %e = kiln.gemm %g, %h {trans_a = true} : (tensor<6x2xf32>, tensor<6x3xf32>) -> tensor<2x3xf32> loc("gemm")
  %f = kiln.constant dense<0.5> : tensor<2x4x2x2xf32>
  %t = kiln.conv_transpose %d, %f {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, group = 1 : i64} : (tensor<1x2x3x3xf32>, tensor<2x4x2x2xf32>) -> tensor<1x4x4x4xf32> loc("deconv")
  return %r, %m, %e, %t, %u : tensor<1x4x8x8xf32>, tensor<2x3x5xf32>, tensor<2x3xf32>, tensor<1x4x4x4xf32>, tensor<2x3x5xf32>
}

// A node whose contraction the importer wrote as two ops counts both; a
// fused location names the first node as the contraction's.
// CHECK-LABEL: func.func @split_and_fused
// CHECK-SAME: kiln.node_flops = {attn = 32 : i64, conv2 = 32 : i64}
func.func @split_and_fused(%a: tensor<2x2xf32>, %b: tensor<2x2xf32>,
                           %x: tensor<1x1x2x2xf32>)
    -> (tensor<2x2xf32>, tensor<1x4x2x2xf32>) {
  %0 = kiln.matmul %a, %b : tensor<2x2xf32>, tensor<2x2xf32> -> tensor<2x2xf32> loc("attn")
  %1 = kiln.matmul %0, %b : tensor<2x2xf32>, tensor<2x2xf32> -> tensor<2x2xf32> loc("attn")
  %w = kiln.constant dense<0.5> : tensor<4x1x1x1xf32>
  %2 = kiln.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x1x2x2xf32>, tensor<4x1x1x1xf32>) -> tensor<1x4x2x2xf32> loc(fused["conv2", "bn2"])
  return %1, %2 : tensor<2x2xf32>, tensor<1x4x2x2xf32>
}

// No contraction, no attribute.
// CHECK-LABEL: func.func @none
// CHECK-NOT: kiln.node_flops
func.func @none(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = kiln.relu %x : tensor<4xf32> loc("relu")
  return %0 : tensor<4xf32>
}
