// RUN: kiln-opt %s -kiln-plan-memory | FileCheck %s

// Four 4 KiB buffers: the input and the output live throughout; t1 dies
// when t2 is made, so t3 reuses t1's bytes, and the arena is 4 buffers, not 5.
// The call with scratch gets it for its own step only.
// CHECK-LABEL: func.func @main
// CHECK-SAME: %{{.*}}: tensor<1024xf32> {kiln.arena_offset = 0 : i64}
// CHECK-SAME: kiln.arena_size = 16384 : i64
// CHECK: kiln.dispatch_call @d0({{.*}}) {kiln.arena_offsets = array<i64: 4096>}
// CHECK: kiln.dispatch_call @d1({{.*}}) {kiln.arena_offsets = array<i64: 8192>, kiln.scratch_offset = 12288 : i64, kiln.scratch_size = 64 : i64}
// CHECK: kiln.reshape {{.*}} {kiln.arena_offsets = array<i64: 8192>}
// CHECK: kiln.dispatch_call @d2({{.*}}) {kiln.arena_offsets = array<i64: 4096>}
// CHECK: kiln.dispatch_call @d3({{.*}}) {kiln.arena_offsets = array<i64: 12288>}
module {
  func.func @main(%x: tensor<1024xf32>) -> tensor<1024xf32> {
    %t1 = kiln.dispatch_call @d0(%x) : (tensor<1024xf32>) -> tensor<1024xf32>
    %t2 = kiln.dispatch_call @d1(%t1) {kiln.scratch_size = 64 : i64} : (tensor<1024xf32>) -> tensor<1024xf32>
    %v = kiln.reshape %t2 : tensor<1024xf32> to tensor<32x32xf32>
    %t3 = kiln.dispatch_call @d2(%v) : (tensor<32x32xf32>) -> tensor<1024xf32>
    %t4 = kiln.dispatch_call @d3(%t3, %v) : (tensor<1024xf32>, tensor<32x32xf32>) -> tensor<1024xf32>
    return %t4 : tensor<1024xf32>
  }
}
