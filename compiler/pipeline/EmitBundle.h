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
/// With `codeLinked` there are no executables: the code is an object file
/// linked into the program (--emit static-lib).
bool writeBundle(mlir::ModuleOp module,
                 std::vector<bundle::Executable> executables,
                 const std::string &path, std::string &error,
                 bool codeLinked = false);

/// `kiln compile --emit static-lib`: writes BASE.o (`object`: the code and
/// the entry table `kiln_<name>_entry_table`), BASE.h (its declaration, the
/// arena size, the input and output indices) and BASE.kiln (the bundle
/// without code), where name is BASE's file name. On failure none is left.
bool writeStaticLib(mlir::ModuleOp module, llvm::StringRef object,
                    llvm::StringRef targetName, const std::string &base,
                    std::string &error);

/// The C identifier `--emit static-lib` derives from an output path.
std::string staticLibName(const std::string &base);

} // namespace kiln

#endif // KILN_COMPILER_PIPELINE_EMITBUNDLE_H
