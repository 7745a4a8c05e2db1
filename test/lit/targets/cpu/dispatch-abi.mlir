// RUN: kiln-opt %s -kiln-cpu-dispatch-abi | FileCheck %s

// Tensors in, tensors out becomes buffers in, buffers out (destination
// passing), then the workgroup id and count.
// CHECK-LABEL: func.func @dispatch_0
// CHECK-SAME: (%[[A:.*]]: memref<4xf32>, %[[R:.*]]: memref<4xf32>, %{{.*}}: index, %{{.*}}: index)
// CHECK-NEXT: %[[T:.*]] = bufferization.to_tensor %[[A]] restrict : memref<4xf32>
// CHECK: %[[V:.*]] = linalg.generic {{.*}} ins(%[[T]] : tensor<4xf32>)
// CHECK: bufferization.materialize_in_destination %[[V]] in restrict writable %[[R]] : (tensor<4xf32>, memref<4xf32>) -> ()
// CHECK-NEXT: return
#id = affine_map<(d0) -> (d0)>
func.func @dispatch_0(%a: tensor<4xf32>) -> tensor<4xf32> {
  %e = tensor.empty() : tensor<4xf32>
  %0 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%a : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%x: f32, %o: f32):
    %n = arith.negf %x : f32
    linalg.yield %n : f32
  } -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// Pads become fill + insert_slice, which bufferize in place.
// CHECK-LABEL: func.func @pad
// CHECK-NOT: tensor.pad
// CHECK: linalg.fill
// CHECK: tensor.insert_slice
func.func @pad(%a: tensor<2x2xf32>) -> tensor<4x4xf32> {
  %z = arith.constant 0.0 : f32
  %0 = tensor.pad %a low[1, 1] high[1, 1] {
  ^bb0(%i: index, %j: index):
    tensor.yield %z : f32
  } : tensor<2x2xf32> to tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}
