//===- kiln-opt.cpp - Kiln's mlir-opt for lit tests
//------------------------===//
//
// Registers only what Kiln uses (no InitAll*.h: it costs half a minute and
// gigabytes of RAM per file to compile).
//
//===----------------------------------------------------------------------===//

#include "compiler/pipeline/Registration.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  kiln::registerKilnDialects(registry);
  kiln::registerKilnPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Kiln optimizer driver\n", registry));
}
