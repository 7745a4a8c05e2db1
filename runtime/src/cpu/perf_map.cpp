//===- perf_map.cpp - Name loaded code for perf ---------------------------===//
//
// Kiln loads its executables itself, so perf sees their code as anonymous
// [JIT] addresses. perf's convention for generated code is a text file
// /tmp/perf-<pid>.map of "START SIZE NAME" lines (hex, hex, text); this file
// writes one from the executable's .symtab, naming each dispatch entry by
// the dispatch it runs. Hosted only: it uses stdio and getpid.
//
//===----------------------------------------------------------------------===//

#include "cpu/perf_map.h"

#include <elf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

namespace kiln::runtime {

namespace {

template <typename T>
bool readAt(const uint8_t *image, uint64_t size, uint64_t offset, T &value) {
  if (offset > size || sizeof(T) > size - offset)
    return false;
  memcpy(&value, image + offset, sizeof(T));
  return true;
}

/// The schedule's name for entry `entry` ("kiln_entry_<entry>"), or null.
const char *dispatchNameOf(const BundleView &view, unsigned long entry) {
  for (uint32_t d = 0; d < view.schedule->dispatch_count; ++d)
    if (view.dispatches[d].entry == entry)
      return view.string(view.dispatches[d].name);
  return nullptr;
}

} // namespace

bool writePerfMap(const uint8_t *image, uint64_t size,
                  const LoadedExecutable &executable, const BundleView &view,
                  ErrorMessage &error) {
  Elf64_Ehdr header;
  if (!readAt(image, size, 0, header) ||
      header.e_shentsize != sizeof(Elf64_Shdr)) {
    error << "the executable has no section headers";
    return false;
  }
  Elf64_Shdr symtab{}, strtab{};
  bool found = false;
  for (unsigned i = 0; i < header.e_shnum && !found; ++i) {
    Elf64_Shdr section;
    if (!readAt(image, size, header.e_shoff + uint64_t(i) * sizeof(section),
                section))
      break;
    if (section.sh_type == SHT_SYMTAB &&
        readAt(image, size,
               header.e_shoff + uint64_t(section.sh_link) * sizeof(section),
               strtab) &&
        strtab.sh_offset <= size && strtab.sh_size <= size - strtab.sh_offset)
      symtab = section, found = true;
  }
  if (!found || symtab.sh_entsize != sizeof(Elf64_Sym)) {
    error << "the executable has no symbol table";
    return false;
  }

  char path[64];
  snprintf(path, sizeof(path), "/tmp/perf-%ld.map", (long)getpid());
  FILE *out = fopen(path, "a");
  if (!out) {
    error << "cannot open " << path << " for appending";
    return false;
  }
  const char *names = reinterpret_cast<const char *>(image) + strtab.sh_offset;
  uint64_t count = symtab.sh_size / sizeof(Elf64_Sym);
  for (uint64_t i = 0; i < count; ++i) {
    Elf64_Sym symbol;
    if (!readAt(image, size, symtab.sh_offset + i * sizeof(symbol), symbol))
      break;
    if (ELF64_ST_TYPE(symbol.st_info) != STT_FUNC || symbol.st_size == 0 ||
        symbol.st_name >= strtab.sh_size ||
        !memchr(names + symbol.st_name, 0, strtab.sh_size - symbol.st_name))
      continue;
    const char *name = names + symbol.st_name;
    const char *dispatch = nullptr;
    unsigned long entry;
    char rest;
    if (sscanf(name, "kiln_entry_%lu%c", &entry, &rest) == 1)
      dispatch = dispatchNameOf(view, entry);
    fprintf(out, "%lx %lx kiln:%s%s%s%s\n",
            (unsigned long)(executable.base + symbol.st_value),
            (unsigned long)symbol.st_size, name, dispatch ? " [" : "",
            dispatch ? dispatch : "", dispatch ? "]" : "");
  }
  bool ok = fclose(out) == 0;
  if (!ok)
    error << "cannot write " << path;
  return ok;
}

} // namespace kiln::runtime
