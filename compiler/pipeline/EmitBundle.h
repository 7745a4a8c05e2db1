//===- EmitBundle.h - planned IR -> bundle file -----------------*- C++ -*-===//
#ifndef KILN_COMPILER_PIPELINE_EMITBUNDLE_H
#define KILN_COMPILER_PIPELINE_EMITBUNDLE_H

#include "compiler/bundle/BundleWriter.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace kiln {

/// Fills a bundle from a module whose `@main` has been outlined and
/// memory-planned, with one executable per target; writes it atomically.
bool writeBundle(mlir::ModuleOp module,
                 std::vector<bundle::Executable> executables,
                 const std::string &path, std::string &error);

} // namespace kiln

#endif // KILN_COMPILER_PIPELINE_EMITBUNDLE_H
