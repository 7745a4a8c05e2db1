//===- DispatchAbi.cpp - dispatch functions to destination-passing buffers
//-===//

#include "targets/cpu/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::kiln::cpu {
#define GEN_PASS_DEF_CPUDISPATCHABI
#include "targets/cpu/Passes.h.inc"
} // namespace mlir::kiln::cpu

using namespace mlir;

namespace {

MemRefType bufferTypeOf(Type type) {
  auto tensor = cast<RankedTensorType>(type);
  return MemRefType::get(tensor.getShape(), tensor.getElementType());
}

void rewriteSignature(func::FuncOp func) {
  OpBuilder builder(func.getContext());
  Block &block = func.getBody().front();
  builder.setInsertionPointToStart(&block);
  for (BlockArgument arg : block.getArguments()) {
    Type tensorType = arg.getType();
    arg.setType(bufferTypeOf(tensorType));
    auto tensor = builder.create<bufferization::ToTensorOp>(
        arg.getLoc(), tensorType, arg, /*restrict=*/true, /*writable=*/false);
    arg.replaceAllUsesExcept(tensor, tensor);
  }
  auto ret = cast<func::ReturnOp>(block.getTerminator());
  builder.setInsertionPoint(ret);
  for (Value result : ret.getOperands()) {
    BlockArgument out =
        block.addArgument(bufferTypeOf(result.getType()), result.getLoc());
    auto store = builder.create<bufferization::MaterializeInDestinationOp>(
        ret.getLoc(), TypeRange{}, result, out);
    store.setRestrict(true);
    store.setWritable(true);
  }
  ret->setOperands({});
  Type index = builder.getIndexType();
  block.addArgument(index, func.getLoc()); // workgroup id
  block.addArgument(index, func.getLoc()); // workgroup count
  func.setFunctionType(
      builder.getFunctionType(block.getArgumentTypes(), TypeRange{}));
}

struct CpuDispatchAbiPass
    : public mlir::kiln::cpu::impl::CpuDispatchAbiBase<CpuDispatchAbiPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<linalg::GeneralizePadOpPattern>(&getContext());
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    getOperation().walk([](func::FuncOp func) {
      if (!func.isExternal())
        rewriteSignature(func);
    });
  }
};

} // namespace
