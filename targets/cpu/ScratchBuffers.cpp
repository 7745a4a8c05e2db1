//===- ScratchBuffers.cpp - temporaries -> views of a scratch binding
//------===//

#include "kiln/bundle_format.h"
#include "passes/Passes.h"
#include "targets/cpu/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::kiln::cpu {
#define GEN_PASS_DEF_CPUSCRATCHBUFFERS
#include "targets/cpu/Passes.h.inc"
} // namespace mlir::kiln::cpu

using namespace mlir;

namespace {

struct CpuScratchBuffersPass
    : public mlir::kiln::cpu::impl::CpuScratchBuffersBase<
          CpuScratchBuffersPass> {
  void runOnOperation() override {
    getOperation().walk([&](func::FuncOp func) {
      if (failed(placeScratch(func)))
        signalPassFailure();
    });
  }

  LogicalResult placeScratch(func::FuncOp func) {
    SmallVector<memref::AllocOp> allocs;
    func.walk([&](memref::AllocOp alloc) { allocs.push_back(alloc); });
    SmallVector<memref::DeallocOp> deallocs;
    func.walk([&](memref::DeallocOp dealloc) { deallocs.push_back(dealloc); });
    for (auto dealloc : deallocs)
      dealloc->erase();
    if (allocs.empty())
      return success();

    SmallVector<int64_t> offsets;
    int64_t size = 0;
    for (memref::AllocOp alloc : allocs) {
      MemRefType type = alloc.getType();
      if (!type.hasStaticShape() || !type.getLayout().isIdentity())
        return alloc.emitError("kiln: dynamic temporary buffers are not "
                               "supported");
      offsets.push_back(size);
      int64_t bytes =
          type.getNumElements() * kiln::elementByteSize(type.getElementType());
      size += (bytes + KILN_TENSOR_ALIGNMENT - 1) / KILN_TENSOR_ALIGNMENT *
              KILN_TENSOR_ALIGNMENT;
    }
    OpBuilder builder(func.getContext());
    auto scratchType = MemRefType::get({size}, builder.getI8Type());
    // The scratch binding goes after the buffers, before the workgroup ids.
    unsigned index = func.getNumArguments() - 2;
    func.insertArgument(index, scratchType, {}, func.getLoc());
    Value scratch = func.getArgument(index);
    for (auto [alloc, offset] : llvm::zip(allocs, offsets)) {
      builder.setInsertionPoint(alloc);
      Value at = builder.create<arith::ConstantIndexOp>(alloc.getLoc(), offset);
      Value view = builder.create<memref::ViewOp>(
          alloc.getLoc(), alloc.getType(), scratch, at, ValueRange{});
      alloc.replaceAllUsesWith(view);
      alloc->erase();
    }
    func->setAttr(kiln::kScratchSizeAttr, builder.getI64IntegerAttr(size));
    resolvePointersIntoScratch(func);
    return success();
  }

  /// Microkernel calls take raw pointers (memref.extract_aligned_pointer_as_
  /// index). Later lowering forwards that op through view-like ops to their
  /// source, which is right for reshapes but loses memref.view's byte shift;
  /// so pointers into a view are rebuilt here as the view source's pointer
  /// plus the shift.
  void resolvePointersIntoScratch(func::FuncOp func) {
    SmallVector<memref::ExtractAlignedPointerAsIndexOp> pointers;
    func.walk([&](memref::ExtractAlignedPointerAsIndexOp op) {
      pointers.push_back(op);
    });
    for (auto op : pointers) {
      Value source = op.getSource();
      // Reshapes of contiguous buffers keep the start address.
      while (Operation *def = source.getDefiningOp()) {
        if (auto expand = dyn_cast<memref::ExpandShapeOp>(def))
          source = expand.getSrc();
        else if (auto collapse = dyn_cast<memref::CollapseShapeOp>(def))
          source = collapse.getSrc();
        else
          break;
      }
      auto view = source.getDefiningOp<memref::ViewOp>();
      if (!view)
        continue;
      OpBuilder builder(op);
      Value base = builder.create<memref::ExtractAlignedPointerAsIndexOp>(
          op.getLoc(), view.getSource());
      Value address =
          builder.create<arith::AddIOp>(op.getLoc(), base, view.getByteShift());
      op.replaceAllUsesWith(address);
      op->erase();
    }
  }
};

} // namespace
