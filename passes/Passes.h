//===- Passes.h - Kiln graph passes -----------------------------*- C++ -*-===//
#ifndef KILN_PASSES_PASSES_H
#define KILN_PASSES_PASSES_H

#include "dialects/kiln/IR/ConstantTensor.h"
#include "dialects/kiln/IR/KilnDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

namespace mlir::kiln {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// Attribute names shared by the passes and the bundle phase.
constexpr llvm::StringLiteral kNameAttr = "kiln.name";
constexpr llvm::StringLiteral kArenaOffsetAttr = "kiln.arena_offset";
constexpr llvm::StringLiteral kArenaOffsetsAttr = "kiln.arena_offsets";
constexpr llvm::StringLiteral kArenaSizeAttr = "kiln.arena_size";
constexpr llvm::StringLiteral kScratchOffsetAttr = "kiln.scratch_offset";
constexpr llvm::StringLiteral kScratchSizeAttr = "kiln.scratch_size";
/// On a microkernel call or a sliced linalg op: how many workgroups share
/// its work. On a dispatch call: the workgroup count of each of its phases.
constexpr llvm::StringLiteral kWorkgroupsAttr = "kiln.workgroups";
/// On a sliced linalg op (kiln-cpu-distribute-loops): its phase; consecutive
/// ops of one phase run without a barrier between them.
constexpr llvm::StringLiteral kPhaseAttr = "kiln.phase";
/// On a dispatch call: the executable entry of each of its phases.
constexpr llvm::StringLiteral kEntriesAttr = "kiln.entries";
constexpr llvm::StringLiteral kExecutableModuleName = "kiln_executable";
/// On a linalg.generic: the target may replace it by this microkernel
/// ("matmul", "conv2d"); the generic's semantics stay authoritative.
constexpr llvm::StringLiteral kMicrokernelAttr = "kiln.microkernel";
constexpr llvm::StringLiteral kMicrokernelStridesAttr = "kiln.strides";
constexpr llvm::StringLiteral kMicrokernelDilationsAttr = "kiln.dilations";
constexpr llvm::StringLiteral kMicrokernelPadsAttr = "kiln.pads";
/// On a "conv2d_nchwc" generic: {bias, residual: which optional operands
/// it has; depthwise; activation, min, max: the epilogue}.
constexpr llvm::StringLiteral kMicrokernelEpilogueAttr = "kiln.epilogue";
/// On a "max_pool_nchwc" generic: the pooling window [KH, KW].
constexpr llvm::StringLiteral kMicrokernelWindowAttr = "kiln.window";

/// On @main: {node name: operations} of the ONNX nodes with contractions
/// (kiln-count-flops). On a dispatch or dispatch call: the node names it
/// covers (", "-separated) and the operations of their contractions.
constexpr llvm::StringLiteral kNodeFlopsAttr = "kiln.node_flops";
constexpr llvm::StringLiteral kNodesAttr = "kiln.nodes";
/// The device an op, a dispatch or a dispatch function runs on ("cpu",
/// "cuda"), where the model is compiled for a GPU (kiln-partition).
constexpr llvm::StringLiteral kDeviceAttr = "kiln.device";
constexpr llvm::StringLiteral kFlopsAttr = "kiln.flops";

/// The ONNX node names in `loc` (through fused locations), each once, in
/// order.
void collectNodeNames(Location loc, SmallVectorImpl<StringRef> &names);

/// Whether `op` is a contraction whose nodes' work kiln-count-flops counts
/// (convolutions and matrix products, in any of their forms).
bool isCountedContraction(Operation *op);

/// Bytes one element of `type` occupies in a buffer (i1 takes a byte).
int64_t elementByteSize(Type type);
/// Bytes of a static-shape tensor's buffer.
int64_t tensorByteSize(RankedTensorType type);
/// The value of `value` when a kiln.constant defines it.
std::optional<ConstantTensor> constantOf(Value value);
/// The elements of a dense f32 or f16 kiln.constant as floats (weights can
/// be 100 MB: copied as floats, not through ConstantTensor's doubles), or
/// nothing.
std::optional<std::vector<float>> floatValues(Value value);
/// A dense attribute of `shape` and element type `element` (f32, or f16:
/// rounded to nearest even) holding `values`.
DenseElementsAttr floatAttr(ArrayRef<int64_t> shape, ArrayRef<float> values,
                            Type element);
/// The IEEE binary16 bits nearest to `value` (ties to even).
uint16_t halfBits(float value);

} // namespace mlir::kiln

#endif // KILN_PASSES_PASSES_H
