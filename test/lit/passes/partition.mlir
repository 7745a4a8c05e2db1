// RUN: kiln-opt %s -split-input-file -kiln-partition="gpu=cuda unsupported=kiln.cumsum" | FileCheck %s
// RUN: kiln-opt %s -split-input-file -kiln-partition="gpu=cuda unsupported=kiln.cumsum placement=%S/Inputs/placement.json" 2>%t.err | FileCheck %s --check-prefix=PLACED
// RUN: FileCheck %s --check-prefix=WARN < %t.err
// RUN: kiln-opt %s -split-input-file -kiln-partition | FileCheck %s --check-prefix=CPU
// RUN: not kiln-opt %s -split-input-file -kiln-partition="gpu=cuda unsupported=kiln.cumsum placement=%S/Inputs/placement-lacked.json" 2>&1 | FileCheck %s --check-prefix=LACKED

// Everything the GPU has runs there: the model input is transferred once
// (to the GPU, where both users read it), the weights need no transfer,
// and the output comes back to the host.
// CHECK-LABEL: func.func @all_on_gpu
// CHECK: %[[IN:.*]] = kiln.transfer %arg0 to "cuda" : tensor<1x2x4x4xf32>
// CHECK: %[[C:.*]] = kiln.conv %[[IN]], %{{.*}}, %{{.*}} {{{.*}}kiln.device = "cuda"
// CHECK: %[[S:.*]] = kiln.add %[[C]], %[[IN]] {kiln.device = "cuda"}
// CHECK: %[[OUT:.*]] = kiln.transfer %[[S]] to "cpu"
// CHECK: return %[[OUT]]
// Without a GPU the pass does nothing.
// CPU-LABEL: func.func @all_on_gpu
// CPU-NOT: kiln.transfer
// CPU-NOT: kiln.device
func.func @all_on_gpu(%x: tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = kiln.constant dense<0.5> : tensor<2x2x3x3xf32>
  %b = kiln.constant dense<1.0> : tensor<2xf32>
  %0 = kiln.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x4x4xf32>, tensor<2x2x3x3xf32>, tensor<2xf32>) -> tensor<1x2x4x4xf32> loc("conv1")
  %1 = kiln.add %0, %x : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32> -> tensor<1x2x4x4xf32> loc("add1")
  return %1 : tensor<1x2x4x4xf32>
}

// -----

// An op the GPU lacks runs on the CPU, with a transfer on each side; a
// cheap op between two such ops joins them (two transfers fewer), and the
// large work stays on the GPU.
// CHECK-LABEL: func.func @fallback
// CHECK: %[[IN:.*]] = kiln.transfer %arg0 to "cuda"
// CHECK: %[[M:.*]] = kiln.matmul %[[IN]], %{{.*}} {kiln.device = "cuda"}
// CHECK: %[[BACK:.*]] = kiln.transfer %[[M]] to "cpu"
// CHECK: %[[S1:.*]] = kiln.cumsum %[[BACK]] {{{.*}}kiln.device = "cpu"
// CHECK: %[[R:.*]] = kiln.relu %[[S1]] {kiln.device = "cpu"}
// CHECK: %[[S2:.*]] = kiln.cumsum %[[R]] {{{.*}}kiln.device = "cpu"
// CHECK: %[[AGAIN:.*]] = kiln.transfer %[[S2]] to "cuda"
// CHECK: %[[M2:.*]] = kiln.matmul %[[AGAIN]], %{{.*}} {kiln.device = "cuda"}
// CHECK: %[[OUT:.*]] = kiln.transfer %[[M2]] to "cpu"
// CHECK: return %[[OUT]]
// The placement file puts the relu on the GPU by its node name and every
// MatMul on the CPU by op type.
// PLACED-LABEL: func.func @fallback
// PLACED-NOT: kiln.transfer %arg0
// PLACED: kiln.matmul %arg0, %{{.*}} {kiln.device = "cpu"}
// PLACED: kiln.cumsum %{{.*}} {{{.*}}kiln.device = "cpu"
// PLACED: kiln.transfer %{{.*}} to "cuda"
// PLACED: kiln.relu %{{.*}} {kiln.device = "cuda"}
// PLACED: kiln.transfer %{{.*}} to "cpu"
// PLACED: kiln.cumsum %{{.*}} {{{.*}}kiln.device = "cpu"
// PLACED: kiln.matmul %{{.*}}, %{{.*}} {kiln.device = "cpu"}
// PLACED-NOT: kiln.transfer
// PLACED: return
// WARN: warning: kiln: placement file {{.*}}placement.json: no op of the compiled graph comes from node 'missing'
func.func @fallback(%x: tensor<64x256xf32>) -> tensor<64x256xf32> attributes {kiln.node_flops = {mm1 = 8388608 : i64, mm2 = 8388608 : i64}, kiln.node_op_types = {mm1 = "MatMul", mm2 = "MatMul", relu1 = "Relu", sum1 = "CumSum", sum2 = "CumSum"}} {
  %w = kiln.constant dense<0.5> : tensor<256x256xf32>
  %0 = kiln.matmul %x, %w : tensor<64x256xf32>, tensor<256x256xf32> -> tensor<64x256xf32> loc("mm1")
  %1 = kiln.cumsum %0 {axis = 1 : i64, exclusive = false, reverse = false} : tensor<64x256xf32> loc("sum1")
  %2 = kiln.relu %1 : tensor<64x256xf32> loc("relu1")
  %3 = kiln.cumsum %2 {axis = 1 : i64, exclusive = false, reverse = false} : tensor<64x256xf32> loc("sum2")
  %4 = kiln.matmul %3, %w : tensor<64x256xf32>, tensor<256x256xf32> -> tensor<64x256xf32> loc("mm2")
  return %4 : tensor<64x256xf32>
}

// The placement file may not put an op on a device whose target lacks it.
// LACKED: error: loc("sum1"): kiln: placement file {{.*}}placement-lacked.json puts kiln.cumsum on cuda, whose target lacks it
