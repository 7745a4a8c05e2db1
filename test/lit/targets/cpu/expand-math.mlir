// RUN: kiln-opt %s -kiln-cpu-expand-math | FileCheck %s

// Transcendentals become inline arithmetic: no libm calls survive.
// CHECK-LABEL: func.func @f32
// CHECK-NOT: math.exp
// CHECK-NOT: math.tanh
// CHECK-NOT: math.powf
// CHECK: arith.mulf
func.func @f32(%x: f32, %y: f32) -> (f32, f32, f32) {
  %0 = math.exp %x : f32
  %1 = math.tanh %x : f32
  %2 = math.powf %x, %y : f32
  return %0, %1, %2 : f32, f32, f32
}

// f64 computes through f32.
// CHECK-LABEL: func.func @f64
// CHECK: arith.truncf %{{.*}} : f64 to f32
// CHECK-NOT: math.exp
// CHECK: arith.extf %{{.*}} : f32 to f64
func.func @f64(%x: f64) -> f64 {
  %0 = math.exp %x : f64
  return %0 : f64
}
