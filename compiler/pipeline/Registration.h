//===- Registration.h - dialects and passes Kiln uses -----------*- C++ -*-===//
#ifndef KILN_COMPILER_PIPELINE_REGISTRATION_H
#define KILN_COMPILER_PIPELINE_REGISTRATION_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace kiln {
/// The Kiln dialect and every upstream dialect (with its interface models)
/// that the pipeline creates.
void registerKilnDialects(mlir::DialectRegistry &registry);
/// Kiln's passes and the upstream passes its lit tests use.
void registerKilnPasses();
} // namespace kiln

#endif // KILN_COMPILER_PIPELINE_REGISTRATION_H
