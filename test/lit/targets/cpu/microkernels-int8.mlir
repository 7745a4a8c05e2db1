// RUN: kiln-opt %s -split-input-file -kiln-cpu-microkernels -cse | FileCheck %s --check-prefixes=CHECK,PORTABLE
// RUN: kiln-opt %s -split-input-file -kiln-cpu-microkernels="target-features=+neon,+dotprod,+fullfp16" -cse | FileCheck %s --check-prefixes=CHECK,SDOT
// RUN: kiln-opt %s -split-input-file -kiln-cpu-microkernels="target-features=+avx2,+fma,+f16c" -cse | FileCheck %s --check-prefixes=CHECK,AVX2

// An 8-bit matmul (kiln.matmul_integer lowered): the body gives signedness
// (extui: uint8) and zero points. A constant one is passed as an integer
// with a null pointer; a per-column one (input read along n) as a pointer.
// Targets with dotprod (AVX2) get the sdot (AVX2) variant, with the same
// workspace.
// PORTABLE: func.func private @kiln_ukernel_matmul_i8(!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)
// SDOT: func.func private @kiln_ukernel_matmul_i8_sdot(
// AVX2: func.func private @kiln_ukernel_matmul_i8_avx2(
// CHECK-LABEL: func.func @matmul_i8
// CHECK: memref.alloc() : memref<297216xi8>
// CHECK: %[[NULL:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK-DAG: %[[M:.*]] = arith.constant 4 : i64
// CHECK-DAG: %[[N:.*]] = arith.constant 16 : i64
// CHECK-DAG: %[[K:.*]] = arith.constant 8 : i64
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1 : i64
// CHECK-DAG: %[[ZA:.*]] = arith.constant 128 : i64
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0 : i64
// PORTABLE: call @kiln_ukernel_matmul_i8(%{{.*}}, %{{.*}}, %{{.*}}, %[[NULL]], %{{.*}}, %{{.*}}, %[[M]], %[[N]], %[[K]], %[[K]], %[[ONE]], %[[N]], %[[ONE]], %[[ZA]], %[[ZERO]], %[[ONE]], %[[ZERO]], %{{.*}}, %{{.*}}) {kiln.workgroups = 1 : i64}
// AVX2: call @kiln_ukernel_matmul_i8_avx2(%{{.*}}, %{{.*}}, %{{.*}}, %[[NULL]], %{{.*}}, %{{.*}}, %[[M]], %[[N]], %[[K]], %[[K]], %[[ONE]], %[[N]], %[[ONE]], %[[ZA]], %[[ZERO]], %[[ONE]], %[[ZERO]], %{{.*}}, %{{.*}}) {kiln.workgroups = 1 : i64}
// SDOT: call @kiln_ukernel_matmul_i8_sdot(%{{.*}}, %{{.*}}, %{{.*}}, %[[NULL]], %{{.*}}, %{{.*}}, %[[M]], %[[N]], %[[K]], %[[K]], %[[ONE]], %[[N]], %[[ONE]], %[[ZA]], %[[ZERO]], %[[ONE]], %[[ZERO]], %{{.*}}, %{{.*}}) {kiln.workgroups = 1 : i64}
// CHECK-NOT: linalg.generic
#a = affine_map<(m, k, n) -> (m, k)>
#b = affine_map<(m, k, n) -> (k, n)>
#col = affine_map<(m, k, n) -> (n)>
#c = affine_map<(m, k, n) -> (m, n)>
func.func @matmul_i8(%a: memref<4x8xi8>, %b: memref<8x16xi8>, %zb: memref<16xi32>, %c: memref<4x16xi32>, %id: index, %count: index) {
  linalg.generic {indexing_maps = [#a, #b, #col, #c], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %b, %zb : memref<4x8xi8>, memref<8x16xi8>, memref<16xi32>) outs(%c : memref<4x16xi32>)
      attrs = {kiln.microkernel = "matmul_i8"} {
  ^bb0(%x: i8, %y: i8, %z: i32, %acc: i32):
    %c128 = arith.constant 128 : i32
    %xw = arith.extui %x : i8 to i32
    %xc = arith.subi %xw, %c128 : i32
    %yw = arith.extsi %y : i8 to i32
    %yc = arith.subi %yw, %z : i32
    %p = arith.muli %yc, %xc : i32
    %s = arith.addi %p, %acc : i32
    linalg.yield %s : i32
  }
  return
}

// -----

// A body that is not (ext(a) - za) * (ext(b) - zb) keeps its loops: here b
// is not widened from 8 bits.
// CHECK-LABEL: func.func @not_8_bit
// CHECK-NOT: call
// CHECK: linalg.generic
#a = affine_map<(m, k, n) -> (m, k)>
#b = affine_map<(m, k, n) -> (k, n)>
#c = affine_map<(m, k, n) -> (m, n)>
func.func @not_8_bit(%a: memref<4x8xi8>, %b: memref<8x16xi32>, %c: memref<4x16xi32>, %id: index, %count: index) {
  linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %b : memref<4x8xi8>, memref<8x16xi32>) outs(%c : memref<4x16xi32>)
      attrs = {kiln.microkernel = "matmul_i8"} {
  ^bb0(%x: i8, %y: i32, %acc: i32):
    %xw = arith.extsi %x : i8 to i32
    %p = arith.muli %xw, %y : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  }
  return
}
