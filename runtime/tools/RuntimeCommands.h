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

} // namespace kiln::tools

#endif // KILN_RUNTIME_TOOLS_RUNTIMECOMMANDS_H
