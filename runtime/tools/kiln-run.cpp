//===- kiln-run.cpp - Runtime-only Kiln CLI -------------------------------===//
//
// `kiln-run run|bench|inspect`: the runtime subcommands of `kiln` without the
// compiler, for machines (boards, servers) that only run bundles.
//
//===----------------------------------------------------------------------===//

#include "RuntimeCommands.h"

#include <CLI/CLI.hpp>


int main(int argc, char **argv) {
  CLI::App app{"kiln-run: run, benchmark and inspect Kiln bundles"};
  app.require_subcommand(1);
  int exitCode = 0;
  kiln::tools::addRuntimeCommands(app, exitCode);
  return kiln::tools::runCommandLine(app, argc, argv, exitCode);
}
