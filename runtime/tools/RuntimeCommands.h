//===- RuntimeCommands.h - kiln run / bench / inspect ----------*- C++ -*-===//
//
// The runtime-side subcommands of the `kiln` CLI. They need only the runtime,
// so the runtime-only tool `kiln-run` shares them.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_TOOLS_RUNTIMECOMMANDS_H
#define KILN_RUNTIME_TOOLS_RUNTIMECOMMANDS_H

namespace CLI {
class App;
} // namespace CLI

namespace kiln::tools {

/// Adds the `run`, `bench` and `inspect` subcommands to `app`. When one of
/// them runs, its process exit code is stored in `exitCode`.
void addRuntimeCommands(CLI::App &app, int &exitCode);

/// Parses the command line and runs the chosen subcommand; returns the
/// process exit code (`exitCode` as the subcommand set it, 1 with a
/// `kiln: error:` line for a bad command line, 0 after --help or
/// --version).
int runCommandLine(CLI::App &app, int argc, char **argv, const int &exitCode);

} // namespace kiln::tools

#endif // KILN_RUNTIME_TOOLS_RUNTIMECOMMANDS_H
