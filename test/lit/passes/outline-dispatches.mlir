// RUN: kiln-opt %s -kiln-outline-dispatches | FileCheck %s

// CHECK-LABEL: module
// CHECK: func.func @main(%[[X:.*]]: tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT: %[[A:.*]] = kiln.dispatch_call @dispatch_0(%[[X]]) {kiln.name = "e"}
// CHECK-NEXT: %[[B:.*]] = kiln.dispatch_call @dispatch_1(%[[A]], %[[X]]) {kiln.name = "s"}
// CHECK-NEXT: return %[[B]]
// CHECK: module @kiln_executable
// CHECK: func.func @dispatch_0(%[[P:.*]]: tensor<4xf32>) -> tensor<4xf32> attributes {kiln.name = "e"}
// CHECK-NEXT: %[[E:.*]] = kiln.exp %[[P]]
// CHECK-NEXT: return %[[E]]
// CHECK: func.func @dispatch_1(%[[Q:.*]]: tensor<4xf32>, %[[R:.*]]: tensor<4xf32>)
// CHECK-NEXT: kiln.sub %[[Q]], %[[R]]
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = kiln.dispatch "e"(%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %e = kiln.exp %a : tensor<4xf32>
    kiln.yield %e : tensor<4xf32>
  }
  %1 = kiln.dispatch "s"(%0, %x) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>, %b: tensor<4xf32>):
    %s = kiln.sub %a, %b : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
    kiln.yield %s : tensor<4xf32>
  }
  return %1 : tensor<4xf32>
}
