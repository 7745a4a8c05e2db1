//===- LibdeviceMath.cpp - libdevice calls for the math ops NVVM lacks ----===//

#include "targets/cuda/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::kiln::cuda {
#define GEN_PASS_DEF_CUDALIBDEVICEMATH
#include "targets/cuda/Passes.h.inc"
} // namespace mlir::kiln::cuda

using namespace mlir;

namespace {

/// The libdevice function (f64 name; f32 adds "f") of a unary math op that
/// convert-gpu-to-nvvm does not lower in MLIR 19.
StringRef libdeviceName(Operation *op) {
  return TypeSwitch<Operation *, StringRef>(op)
      .Case([](math::AcosOp) { return "__nv_acos"; })
      .Case([](math::AsinOp) { return "__nv_asin"; })
      .Case([](math::AcoshOp) { return "__nv_acosh"; })
      .Case([](math::AsinhOp) { return "__nv_asinh"; })
      .Case([](math::AtanhOp) { return "__nv_atanh"; })
      .Case([](math::CoshOp) { return "__nv_cosh"; })
      .Case([](math::SinhOp) { return "__nv_sinh"; })
      .Case([](math::RoundEvenOp) { return "__nv_rint"; })
      .Case([](math::RoundOp) { return "__nv_round"; })
      .Default([](Operation *) { return StringRef(); });
}

struct CudaLibdeviceMathPass
    : public mlir::kiln::cuda::impl::CudaLibdeviceMathBase<
          CudaLibdeviceMathPass> {
  void runOnOperation() override {
    gpu::GPUModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (op->getNumOperands() == 1 && op->getNumResults() == 1 &&
          !libdeviceName(op).empty() &&
          isa<FloatType>(op->getResult(0).getType()))
        ops.push_back(op);
    });
    OpBuilder b(&getContext());
    for (Operation *op : ops) {
      auto type = cast<FloatType>(op->getResult(0).getType());
      // f16 computes in f32, as libdevice has no f16 functions for these.
      FloatType computeType = type.isF64() ? type : b.getF32Type();
      std::string name =
          (libdeviceName(op) + (computeType.isF32() ? "f" : "")).str();
      auto callee = symbols.lookup<LLVM::LLVMFuncOp>(name);
      if (!callee) {
        b.setInsertionPointToStart(module.getBody());
        callee = b.create<LLVM::LLVMFuncOp>(
            module.getLoc(), name,
            LLVM::LLVMFunctionType::get(computeType, {computeType}));
        symbols.insert(callee);
      }
      b.setInsertionPoint(op);
      Value x = op->getOperand(0);
      if (type != computeType)
        x = b.create<arith::ExtFOp>(op->getLoc(), computeType, x);
      Value y = b.create<LLVM::CallOp>(op->getLoc(), callee, ValueRange{x})
                    .getResult();
      if (type != computeType)
        y = b.create<arith::TruncFOp>(op->getLoc(), type, y);
      op->getResult(0).replaceAllUsesWith(y);
      op->erase();
    }
  }
};

} // namespace
