//===- RunTool.h - run a toolchain program on bytes -------------*- C++ -*-===//
#ifndef KILN_TARGETS_RUNTOOL_H
#define KILN_TARGETS_RUNTOOL_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::kiln {

/// Runs `program` (ld.lld, ptxas) on `input` and returns what it writes.
/// In `arguments` (without the program name), "{in}" and "{out}" stand for
/// temporary files named with `inputExtension` and `outputExtension`; the
/// first holds `input`, the second's bytes end up in `output`. Every
/// temporary file is removed. On failure returns false with the program's
/// messages in `error`.
bool runTool(llvm::StringRef program, llvm::ArrayRef<std::string> arguments,
             llvm::StringRef input, llvm::StringRef inputExtension,
             llvm::StringRef outputExtension, std::vector<uint8_t> &output,
             std::string &error);

} // namespace mlir::kiln

#endif // KILN_TARGETS_RUNTOOL_H
