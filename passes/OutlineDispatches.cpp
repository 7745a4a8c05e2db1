//===- OutlineDispatches.cpp - dispatch regions -> executable functions
//----===//

#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::kiln {
#define GEN_PASS_DEF_OUTLINEDISPATCHES
#include "passes/Passes.h.inc"
} // namespace mlir::kiln

using namespace mlir;
using namespace mlir::kiln;

namespace {
struct OutlineDispatchesPass
    : public mlir::kiln::impl::OutlineDispatchesBase<OutlineDispatchesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto main = module.lookupSymbol<func::FuncOp>("main");
    if (!main) {
      module.emitError("kiln-outline-dispatches: no @main function");
      return signalPassFailure();
    }
    OpBuilder builder(&getContext());
    builder.setInsertionPointToEnd(module.getBody());
    auto executable =
        builder.create<ModuleOp>(module.getLoc(), kExecutableModuleName);

    SmallVector<DispatchOp> dispatches;
    main.walk([&](DispatchOp op) { dispatches.push_back(op); });
    for (auto [index, dispatch] : llvm::enumerate(dispatches)) {
      std::string symbol = "dispatch_" + std::to_string(index);
      builder.setInsertionPointToEnd(executable.getBody());
      auto func = builder.create<func::FuncOp>(
          dispatch.getLoc(), symbol,
          builder.getFunctionType(dispatch.getInputs().getTypes(),
                                  dispatch.getResultTypes()));
      func->setAttr(kNameAttr, dispatch.getNameAttr());
      func.getBody().takeBody(dispatch.getBody());
      Block &block = func.getBody().front();
      auto yield = cast<YieldOp>(block.getTerminator());
      builder.setInsertionPoint(yield);
      builder.create<func::ReturnOp>(yield.getLoc(), yield.getValues());
      yield->erase();

      builder.setInsertionPoint(dispatch);
      auto call = builder.create<DispatchCallOp>(dispatch.getLoc(),
                                                 dispatch.getResultTypes(),
                                                 symbol, dispatch.getInputs());
      call->setAttr(kNameAttr, dispatch.getNameAttr());
      if (Attribute device = dispatch->getAttr(kDeviceAttr)) {
        func->setAttr(kDeviceAttr, device);
        call->setAttr(kDeviceAttr, device);
      }
      for (StringRef profileAttr : {kNodesAttr, kFlopsAttr})
        if (Attribute value = dispatch->getAttr(profileAttr))
          call->setAttr(profileAttr, value);
      dispatch.replaceAllUsesWith(call.getResults());
      dispatch->erase();
    }
  }
};
} // namespace
