//===- RunTool.cpp - run a toolchain program on bytes ---------------------===//

#include "targets/RunTool.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::kiln {

bool runTool(llvm::StringRef program, llvm::ArrayRef<std::string> arguments,
             llvm::StringRef input, llvm::StringRef inputExtension,
             llvm::StringRef outputExtension, std::vector<uint8_t> &output,
             std::string &error) {
  llvm::StringRef name = llvm::sys::path::filename(program);
  llvm::SmallString<128> inputPath, outputPath, logPath;
  int inputFd;
  if (auto ec = llvm::sys::fs::createTemporaryFile("kiln", inputExtension,
                                                   inputFd, inputPath)) {
    error = "cannot create a temporary file: " + ec.message();
    return false;
  }
  llvm::FileRemover removeInput(inputPath.str());
  {
    llvm::raw_fd_ostream out(inputFd, /*shouldClose=*/true);
    out << input;
  }
  if (auto ec = llvm::sys::fs::createTemporaryFile("kiln", outputExtension,
                                                   outputPath)) {
    error = "cannot create a temporary file: " + ec.message();
    return false;
  }
  llvm::FileRemover removeOutput(outputPath.str());
  if (auto ec = llvm::sys::fs::createTemporaryFile("kiln", "log", logPath)) {
    error = "cannot create a temporary file: " + ec.message();
    return false;
  }
  llvm::FileRemover removeLog(logPath.str());

  std::vector<std::string> expanded = {program.str()};
  for (const std::string &argument : arguments)
    expanded.push_back(argument == "{in}"    ? inputPath.str().str()
                       : argument == "{out}" ? outputPath.str().str()
                                             : argument);
  llvm::SmallVector<llvm::StringRef> args(expanded.begin(), expanded.end());
  std::optional<llvm::StringRef> redirects[] = {
      std::nullopt, llvm::StringRef(logPath), llvm::StringRef(logPath)};
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(program, args, std::nullopt, redirects,
                                     /*SecondsToWait=*/0, /*MemoryLimit=*/0,
                                     &message);
  if (rc != 0) {
    auto log = llvm::MemoryBuffer::getFile(logPath);
    error = name.str() + " failed" + (message.empty() ? "" : ": " + message) +
            (log ? "\n" + (*log)->getBuffer().trim().str() : "");
    return false;
  }
  auto buffer = llvm::MemoryBuffer::getFile(outputPath, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    error = "cannot read what " + name.str() + " wrote";
    return false;
  }
  output.assign((*buffer)->getBufferStart(), (*buffer)->getBufferEnd());
  return true;
}

} // namespace mlir::kiln
