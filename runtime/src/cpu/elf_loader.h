//===- elf_loader.h - Load a CPU executable from a bundle -------*- C++ -*-===//
//
// Kiln's own loader for the position-independent ELF64 shared objects the
// compiler links (ld.lld -shared --no-undefined -nostdlib): no dlopen, no
// temporary files. It maps the image's PT_LOAD segments into one anonymous
// reservation, applies RELATIVE relocations only (anything else means the
// code imports symbols, which Kiln executables must not), protects each
// segment W^X, and finds the kiln_entry_table symbol through the dynamic
// symbol table. Hosted: uses mmap/mprotect.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CPU_ELF_LOADER_H
#define KILN_RUNTIME_CPU_ELF_LOADER_H

#include "error_message.h"
#include "kiln/kiln.h"

#include <stddef.h>
#include <stdint.h>

namespace kiln::runtime {

struct LoadedExecutable {
  void *mapping = nullptr;
  size_t mappingSize = 0;
  const kiln_dispatch_fn *entries = nullptr;
  uint32_t entryCount = 0;
  const uint8_t *base = nullptr; // where the image's address 0 is
};

/// Loads the ELF image of `size` bytes at `image` (read only, not kept) for
/// ELF machine `machine` (EM_X86_64, EM_AARCH64). Checks that its entry table
/// has `expectedEntryCount` entries, each pointing into executable code. On
/// failure appends the reason to `error` (which the caller has started with
/// the section's name) and leaves nothing mapped.
kiln_status loadElfExecutable(const uint8_t *image, uint64_t size,
                              uint16_t machine, uint32_t expectedEntryCount,
                              LoadedExecutable &out, ErrorMessage &error);

void unloadElfExecutable(LoadedExecutable &executable);

} // namespace kiln::runtime

#endif // KILN_RUNTIME_CPU_ELF_LOADER_H
