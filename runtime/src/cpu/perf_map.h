//===- perf_map.h - Name loaded code for perf -------------------*- C++ -*-===//
#ifndef KILN_RUNTIME_CPU_PERF_MAP_H
#define KILN_RUNTIME_CPU_PERF_MAP_H

#include "bundle_verify.h"
#include "cpu/elf_loader.h"
#include "error_message.h"

namespace kiln::runtime {

/// Appends to /tmp/perf-<pid>.map a line per function of the ELF `image`
/// (`size` bytes), loaded as `executable`: its address, size and symbol
/// name, with the dispatch's name from `view`'s schedule after each entry
/// point. On failure appends the reason to `error` and returns false.
bool writePerfMap(const uint8_t *image, uint64_t size,
                  const LoadedExecutable &executable, const BundleView &view,
                  ErrorMessage &error);

} // namespace kiln::runtime

#endif // KILN_RUNTIME_CPU_PERF_MAP_H
