// RUN: kiln-opt %s -kiln-cpu-scratch-buffers | FileCheck %s

// Temporaries become 64-byte-aligned views into one scratch argument placed
// before the workgroup id and count; its size is recorded for memory planning.
// CHECK-LABEL: func.func @dispatch_0
// CHECK-SAME: (%{{.*}}: memref<4xf32>, %[[S:.*]]: memref<128xi8>, %{{.*}}: index, %{{.*}}: index)
// CHECK-SAME: attributes {kiln.scratch_size = 128 : i64}
// CHECK: %[[C0:.*]] = arith.constant 0 : index
// CHECK: memref.view %[[S]][%[[C0]]][] : memref<128xi8> to memref<10xf32>
// CHECK: %[[C64:.*]] = arith.constant 64 : index
// CHECK: memref.view %[[S]][%[[C64]]][] : memref<128xi8> to memref<3x10xi8>
// CHECK-NOT: memref.alloc
// CHECK-NOT: memref.dealloc
func.func @dispatch_0(%out: memref<4xf32>, %wg: index, %wgs: index) {
  %0 = memref.alloc() : memref<10xf32>
  %1 = memref.alloc() : memref<3x10xi8>
  memref.dealloc %1 : memref<3x10xi8>
  memref.dealloc %0 : memref<10xf32>
  return
}

// A microkernel's pointer into scratch is the scratch base plus the view's
// byte shift (later lowering would drop the shift).
// CHECK-LABEL: func.func @pointer
// CHECK: %[[BASE:.*]] = memref.extract_aligned_pointer_as_index %{{.*}} : memref<128xi8> -> index
// CHECK: arith.addi %[[BASE]], %{{.*}} : index
func.func @pointer(%out: memref<4xf32>, %wg: index, %wgs: index) -> index {
  %0 = memref.alloc() : memref<16xf32>
  %1 = memref.alloc() : memref<2x8xf32>
  %2 = memref.expand_shape %1 [[0], [1, 2]] output_shape [2, 2, 4] : memref<2x8xf32> into memref<2x2x4xf32>
  %p = memref.extract_aligned_pointer_as_index %2 : memref<2x2x4xf32> -> index
  return %p : index
}
