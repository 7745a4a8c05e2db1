//===- kiln-run.cpp - Runtime-only Kiln CLI -------------------------------===//
//
// The runtime subcommands of `kiln` without the compiler, for machines
// (boards, servers) that only run bundles:
//
//   kiln-run BUNDLE [--input NAME=FILE]... [--output-dir DIR]   (= run)
//   kiln-run run|bench|inspect BUNDLE ...
//
// Same flags and behaviour as `kiln run`, `kiln bench` and `kiln inspect`.
//
//===----------------------------------------------------------------------===//

#include "RuntimeCommands.h"
#include "kiln/bundle_format.h"

#include <CLI/CLI.hpp>

#include <cstring>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  CLI::App app{"kiln-run: run, benchmark and inspect Kiln bundles\n"
               "  kiln-run BUNDLE [--input NAME=FILE]... [--output-dir DIR] "
               "runs a bundle (the same as `kiln-run run BUNDLE ...`)"};
  app.require_subcommand(1);
  app.set_version_flag("--version",
                       "kiln-run " KILN_VERSION ", bundle format " +
                           std::to_string(KILN_BUNDLE_VERSION_MAJOR) + "." +
                           std::to_string(KILN_BUNDLE_VERSION_MINOR));
  int exitCode = 0;
  kiln::tools::addRuntimeCommands(app, exitCode);
  // A first argument that is neither a subcommand nor an option is the
  // bundle of an implicit `run`.
  std::vector<char *> args(argv, argv + argc);
  static char run[] = "run";
  auto named = [&](const CLI::App *command) {
    return argc > 1 && command->get_name() == argv[1];
  };
  if (argc > 1 && argv[1][0] != '-' && app.get_subcommands(named).empty())
    args.insert(args.begin() + 1, run);
  return kiln::tools::runCommandLine(app, (int)args.size(), args.data(),
                                     exitCode);
}
