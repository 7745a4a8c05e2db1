//===- elf_loader.cpp - Load a CPU executable from a bundle ---------------===//
//
// Everything the image says is checked against the image's bounds, then
// against the loaded span, before it is dereferenced; all reads of the loaded
// memory go through LoadedImage::read, which bounds-checks and copies (the
// image inside a bundle need not be aligned).
//
//===----------------------------------------------------------------------===//

#include "cpu/elf_loader.h"

#include <elf.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

namespace kiln::runtime {
namespace {

// Generous limits that keep a hostile image from asking for absurd work.
constexpr uint64_t kMaxSpanSize = uint64_t(1) << 30;
constexpr unsigned kMaxLoadSegments = 16;
constexpr unsigned kMaxProgramHeaders = 64;

#if defined(__aarch64__)
constexpr uint32_t kRelativeRelocation = R_AARCH64_RELATIVE;
#else
constexpr uint32_t kRelativeRelocation = R_X86_64_RELATIVE;
#endif
// R_X86_64_NONE and R_AARCH64_NONE are both 0.
constexpr uint32_t kNoneRelocation = 0;

uint64_t alignDown(uint64_t value, uint64_t alignment) {
  return value & ~(alignment - 1);
}

bool alignUp(uint64_t value, uint64_t alignment, uint64_t &result) {
  if (value > UINT64_MAX - (alignment - 1))
    return false;
  result = alignDown(value + alignment - 1, alignment);
  return true;
}

int protectionOf(uint32_t segmentFlags) {
  int protection = PROT_NONE;
  if (segmentFlags & PF_R)
    protection |= PROT_READ;
  if (segmentFlags & PF_W)
    protection |= PROT_WRITE;
  if (segmentFlags & PF_X)
    protection |= PROT_EXEC;
  return protection;
}

class ElfLoader {
public:
  ElfLoader(const uint8_t *image, uint64_t size, uint16_t machine,
            uint32_t expectedEntryCount, ErrorMessage &error)
      : image(image), imageSize(size), machine(machine),
        expectedEntryCount(expectedEntryCount), error(error) {}

  kiln_status load(LoadedExecutable &out);

private:
  kiln_status parseHeaders();
  kiln_status mapSegments();
  kiln_status parseDynamic();
  kiln_status relocateTable(uint64_t tableAddress, uint64_t tableSize,
                            uint64_t entrySize, bool hasAddend,
                            const char *tableName);
  kiln_status relocatePacked(uint64_t tableAddress, uint64_t tableSize);
  kiln_status applyRelative(uint64_t address, bool hasAddend, int64_t addend);
  kiln_status findEntryTable(LoadedExecutable &out);
  bool lookupSymbol(const char *name, Elf64_Sym &symbol);
  bool symbolNameEquals(const Elf64_Sym &symbol, const char *name);
  void symbolNameInto(uint32_t symbolIndex);
  kiln_status protectSegments();

  /// True when [address, address + size) lies in the loaded span.
  bool inSpan(uint64_t address, uint64_t size) const {
    return address >= spanStart && address <= spanEnd &&
           size <= spanEnd - address;
  }
  template <typename T> bool read(uint64_t address, T &value) const {
    if (!inSpan(address, sizeof(T)))
      return false;
    memcpy(&value, bias + address, sizeof(T));
    return true;
  }
  kiln_status invalid() { return KILN_ERROR_INVALID_BUNDLE; }

  const uint8_t *image;
  uint64_t imageSize;
  uint16_t machine;
  uint32_t expectedEntryCount;
  ErrorMessage &error;

  uint64_t pageSize = 4096;
  Elf64_Phdr loads[kMaxLoadSegments];
  unsigned loadCount = 0;
  Elf64_Phdr dynamicHeader{}, relroHeader{};
  bool hasDynamic = false, hasRelro = false;

  uint8_t *mapping = nullptr; // start of the anonymous reservation
  uint64_t mappingSize = 0;
  uint8_t *bias = nullptr; // mapping - spanStart: address 0 of the image
  uint64_t spanStart = 0, spanEnd = 0;

  // From PT_DYNAMIC.
  uint64_t rela = 0, relaSize = 0, relaEntry = sizeof(Elf64_Rela);
  uint64_t rel = 0, relSize = 0, relEntry = sizeof(Elf64_Rel);
  uint64_t relr = 0, relrSize = 0, relrEntry = sizeof(Elf64_Relr);
  uint64_t pltRel = 0, pltRelSize = 0, pltRelKind = DT_RELA;
  uint64_t symtab = 0, symEntry = sizeof(Elf64_Sym), strtab = 0, strSize = 0;
  uint64_t sysvHash = 0, gnuHash = 0;
  bool hasSymtab = false, hasStrtab = false;
};

kiln_status ElfLoader::parseHeaders() {
  Elf64_Ehdr header;
  if (imageSize < sizeof(header)) {
    error << "executable is " << imageSize
          << " bytes, too small for an ELF header";
    return invalid();
  }
  memcpy(&header, image, sizeof(header));
  if (memcmp(header.e_ident, ELFMAG, SELFMAG) != 0) {
    error << "executable is not an ELF file";
    return invalid();
  }
  if (header.e_ident[EI_CLASS] != ELFCLASS64 ||
      header.e_ident[EI_DATA] != ELFDATA2LSB ||
      header.e_ident[EI_VERSION] != EV_CURRENT) {
    error << "executable is not a little-endian ELF64 file";
    return invalid();
  }
  if (header.e_type != ET_DYN) {
    error << "executable is not a shared object (ELF type " << header.e_type
          << ", expected ET_DYN)";
    return invalid();
  }
  if (header.e_machine != machine) {
    error << "executable is for ELF machine " << header.e_machine
          << ", expected " << machine;
    return invalid();
  }
  if (header.e_phentsize != sizeof(Elf64_Phdr) || header.e_phnum == 0 ||
      header.e_phnum > kMaxProgramHeaders || header.e_phoff > imageSize ||
      uint64_t(header.e_phnum) * sizeof(Elf64_Phdr) >
          imageSize - header.e_phoff) {
    error << "executable's program headers (offset " << header.e_phoff << ", "
          << header.e_phnum << " entries of " << header.e_phentsize
          << " bytes) are invalid or outside the image";
    return invalid();
  }

  long systemPage = sysconf(_SC_PAGESIZE);
  if (systemPage > 0)
    pageSize = uint64_t(systemPage);

  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr segment;
    memcpy(&segment, image + header.e_phoff + i * sizeof(Elf64_Phdr),
           sizeof(segment));
    switch (segment.p_type) {
    case PT_LOAD: {
      if (loadCount == kMaxLoadSegments) {
        error << "executable has more than " << kMaxLoadSegments
              << " loadable segments";
        return invalid();
      }
      if (segment.p_filesz > segment.p_memsz || segment.p_offset > imageSize ||
          segment.p_filesz > imageSize - segment.p_offset ||
          segment.p_vaddr > kMaxSpanSize ||
          segment.p_memsz > kMaxSpanSize - segment.p_vaddr) {
        error << "executable's segment " << i
              << " has an invalid file or memory range";
        return invalid();
      }
      if ((segment.p_flags & PF_W) && (segment.p_flags & PF_X)) {
        error << "executable's segment " << i
              << " is both writable and executable";
        return invalid();
      }
      if (loadCount > 0) {
        const Elf64_Phdr &previous = loads[loadCount - 1];
        if (segment.p_vaddr < previous.p_vaddr + previous.p_memsz) {
          error << "executable's loadable segments overlap or are not "
                   "sorted by address";
          return invalid();
        }
      }
      loads[loadCount++] = segment;
      break;
    }
    case PT_DYNAMIC:
      if (hasDynamic) {
        error << "executable has two PT_DYNAMIC segments";
        return invalid();
      }
      dynamicHeader = segment;
      hasDynamic = true;
      break;
    case PT_GNU_RELRO:
      relroHeader = segment;
      hasRelro = true;
      break;
    case PT_TLS:
      error << "executable uses thread-local storage: not supported";
      return invalid();
    case PT_INTERP:
      error << "executable requests an interpreter: not supported";
      return invalid();
    default:
      break; // PT_PHDR, PT_NOTE, PT_GNU_STACK, PT_GNU_EH_FRAME, ...
    }
  }
  if (loadCount == 0) {
    error << "executable has no loadable segment";
    return invalid();
  }
  if (!hasDynamic) {
    error << "executable has no PT_DYNAMIC segment";
    return invalid();
  }
  return KILN_OK;
}

kiln_status ElfLoader::mapSegments() {
  spanStart = alignDown(loads[0].p_vaddr, pageSize);
  const Elf64_Phdr &last = loads[loadCount - 1];
  if (!alignUp(last.p_vaddr + last.p_memsz, pageSize, spanEnd) ||
      spanEnd - spanStart > kMaxSpanSize) {
    error << "executable's address span is too large";
    return invalid();
  }
  mappingSize = spanEnd - spanStart;
  // Writable while segments are copied and relocated; protectSegments()
  // gives every page its final protection, PROT_NONE for gaps.
  void *reserved = mmap(nullptr, mappingSize, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (reserved == MAP_FAILED) {
    mapping = nullptr;
    error << "cannot reserve " << mappingSize
          << " bytes of address space for the executable";
    return KILN_ERROR_OUT_OF_MEMORY;
  }
  mapping = static_cast<uint8_t *>(reserved);
  bias = mapping - spanStart;
  // Anonymous memory is zero, which is what the bss parts need.
  for (unsigned i = 0; i < loadCount; ++i)
    memcpy(bias + loads[i].p_vaddr, image + loads[i].p_offset,
           loads[i].p_filesz);
  return KILN_OK;
}

kiln_status ElfLoader::parseDynamic() {
  if (dynamicHeader.p_vaddr % 8 != 0 ||
      !inSpan(dynamicHeader.p_vaddr, dynamicHeader.p_memsz)) {
    error << "executable's PT_DYNAMIC is misaligned or outside its segments";
    return invalid();
  }
  uint64_t count = dynamicHeader.p_memsz / sizeof(Elf64_Dyn);
  for (uint64_t i = 0; i < count; ++i) {
    Elf64_Dyn entry;
    read(dynamicHeader.p_vaddr + i * sizeof(Elf64_Dyn), entry);
    uint64_t value = entry.d_un.d_val;
    switch (entry.d_tag) {
    case DT_NULL:
      i = count;
      break;
    case DT_NEEDED:
      error << "executable imports symbols: not supported (it needs a "
               "shared library)";
      return invalid();
    case DT_INIT:
    case DT_INIT_ARRAY:
    case DT_PREINIT_ARRAY:
      error << "executable has initialisers: not supported";
      return invalid();
    case DT_RELA:
      rela = value;
      break;
    case DT_RELASZ:
      relaSize = value;
      break;
    case DT_RELAENT:
      relaEntry = value;
      break;
    case DT_REL:
      rel = value;
      break;
    case DT_RELSZ:
      relSize = value;
      break;
    case DT_RELENT:
      relEntry = value;
      break;
    case DT_RELR:
      relr = value;
      break;
    case DT_RELRSZ:
      relrSize = value;
      break;
    case DT_RELRENT:
      relrEntry = value;
      break;
    case DT_JMPREL:
      pltRel = value;
      break;
    case DT_PLTRELSZ:
      pltRelSize = value;
      break;
    case DT_PLTREL:
      pltRelKind = value;
      break;
    case DT_SYMTAB:
      symtab = value;
      hasSymtab = true;
      break;
    case DT_SYMENT:
      symEntry = value;
      break;
    case DT_STRTAB:
      strtab = value;
      hasStrtab = true;
      break;
    case DT_STRSZ:
      strSize = value;
      break;
    case DT_HASH:
      sysvHash = value;
      break;
    case DT_GNU_HASH:
      gnuHash = value;
      break;
    default:
      break; // DT_FLAGS, DT_TEXTREL, DT_FINI*, version tables, ...
    }
  }
  if (!hasSymtab || !hasStrtab || symEntry != sizeof(Elf64_Sym) ||
      !inSpan(strtab, strSize)) {
    error << "executable's dynamic symbol table is missing or invalid";
    return invalid();
  }
  if (!sysvHash && !gnuHash) {
    error << "executable has neither DT_GNU_HASH nor DT_HASH";
    return invalid();
  }
  return KILN_OK;
}

void ElfLoader::symbolNameInto(uint32_t symbolIndex) {
  Elf64_Sym symbol;
  if (!read(symtab + uint64_t(symbolIndex) * sizeof(Elf64_Sym), symbol) ||
      symbol.st_name >= strSize)
    return;
  error << " '";
  for (uint64_t i = symbol.st_name; i < strSize && i - symbol.st_name < 64;
       ++i) {
    char c = static_cast<char>(bias[strtab + i]);
    if (!c)
      break;
    error << c;
  }
  error << "'";
}

kiln_status ElfLoader::applyRelative(uint64_t address, bool hasAddend,
                                     int64_t addend) {
  uint64_t value;
  if (!read(address, value)) {
    error << "executable has a relocation at " << address
          << ", outside its segments";
    return invalid();
  }
  // REL keeps the addend in place; RELA carries it.
  uint64_t base = reinterpret_cast<uint64_t>(bias);
  value = base + (hasAddend ? static_cast<uint64_t>(addend) : value);
  memcpy(bias + address, &value, sizeof(value));
  return KILN_OK;
}

kiln_status ElfLoader::relocateTable(uint64_t tableAddress, uint64_t tableSize,
                                     uint64_t entrySize, bool hasAddend,
                                     const char *tableName) {
  if (tableSize == 0)
    return KILN_OK;
  uint64_t expectedEntry = hasAddend ? sizeof(Elf64_Rela) : sizeof(Elf64_Rel);
  if (entrySize != expectedEntry || tableSize % entrySize != 0 ||
      !inSpan(tableAddress, tableSize)) {
    error << "executable's " << tableName
          << " relocation table is invalid or outside its segments";
    return invalid();
  }
  for (uint64_t at = tableAddress; at < tableAddress + tableSize;
       at += entrySize) {
    Elf64_Rela relocation{};
    if (hasAddend) {
      read(at, relocation);
    } else {
      Elf64_Rel plain;
      read(at, plain);
      relocation.r_offset = plain.r_offset;
      relocation.r_info = plain.r_info;
    }
    uint32_t type = ELF64_R_TYPE(relocation.r_info);
    if (type == kNoneRelocation)
      continue;
    if (type != kRelativeRelocation) {
      error << "executable imports symbols: not supported (relocation type "
            << type;
      if (uint32_t symbolIndex = ELF64_R_SYM(relocation.r_info)) {
        error << " against symbol";
        symbolNameInto(symbolIndex);
      }
      error << "; only RELATIVE relocations are allowed)";
      return invalid();
    }
    if (kiln_status status =
            applyRelative(relocation.r_offset, hasAddend,
                          static_cast<int64_t>(relocation.r_addend)))
      return status;
  }
  return KILN_OK;
}

// DT_RELR (ld.lld -z pack-relative-relocs): a sequence of addresses, each
// followed by bitmaps of which of the next 63 words need relocating.
kiln_status ElfLoader::relocatePacked(uint64_t tableAddress,
                                      uint64_t tableSize) {
  if (tableSize == 0)
    return KILN_OK;
  if (relrEntry != sizeof(Elf64_Relr) || tableSize % sizeof(Elf64_Relr) ||
      !inSpan(tableAddress, tableSize)) {
    error << "executable's RELR relocation table is invalid";
    return invalid();
  }
  uint64_t next = 0;
  bool haveAddress = false;
  for (uint64_t at = tableAddress; at < tableAddress + tableSize; at += 8) {
    uint64_t word;
    read(at, word);
    if ((word & 1) == 0) {
      if (kiln_status status = applyRelative(word, false, 0))
        return status;
      next = word + 8;
      haveAddress = true;
      continue;
    }
    if (!haveAddress) {
      error << "executable's RELR table starts with a bitmap";
      return invalid();
    }
    for (unsigned bit = 1; bit < 64; ++bit)
      if ((word >> bit) & 1)
        if (kiln_status status = applyRelative(next + (bit - 1) * 8, false, 0))
          return status;
    next += 63 * 8;
  }
  return KILN_OK;
}

bool ElfLoader::symbolNameEquals(const Elf64_Sym &symbol, const char *name) {
  size_t length = strlen(name);
  if (symbol.st_name >= strSize || length + 1 > strSize - symbol.st_name)
    return false;
  return memcmp(bias + strtab + symbol.st_name, name, length + 1) == 0;
}

bool ElfLoader::lookupSymbol(const char *name, Elf64_Sym &symbol) {
  if (gnuHash) {
    uint32_t hash = 5381;
    for (const char *c = name; *c; ++c)
      hash = hash * 33 + static_cast<uint8_t>(*c);
    uint32_t header[4]; // nbuckets, symoffset, bloom words, bloom shift
    if (!read(gnuHash, header) || header[0] == 0)
      return false;
    uint64_t buckets = gnuHash + 16 + uint64_t(header[2]) * 8;
    uint64_t chains = buckets + uint64_t(header[0]) * 4;
    uint32_t index;
    if (!read(buckets + uint64_t(hash % header[0]) * 4, index) ||
        index < header[1])
      return false;
    // Each chain ends with an odd value; bound the walk by the span anyway.
    for (uint64_t steps = 0; steps < mappingSize / 4; ++steps, ++index) {
      uint32_t chainHash;
      if (!read(chains + uint64_t(index - header[1]) * 4, chainHash))
        return false;
      if ((chainHash | 1) == (hash | 1) &&
          read(symtab + uint64_t(index) * sizeof(Elf64_Sym), symbol) &&
          symbolNameEquals(symbol, name))
        return true;
      if (chainHash & 1)
        return false;
    }
    return false;
  }
  uint32_t hash = 0;
  for (const char *c = name; *c; ++c) {
    hash = (hash << 4) + static_cast<uint8_t>(*c);
    uint32_t high = hash & 0xF0000000u;
    hash ^= high >> 24;
    hash &= ~high;
  }
  uint32_t counts[2]; // nbucket, nchain
  if (!read(sysvHash, counts) || counts[0] == 0)
    return false;
  uint64_t chains = sysvHash + 8 + uint64_t(counts[0]) * 4;
  uint32_t index;
  if (!read(sysvHash + 8 + uint64_t(hash % counts[0]) * 4, index))
    return false;
  for (uint32_t steps = 0; index != STN_UNDEF && steps < counts[1]; ++steps) {
    if (index >= counts[1] ||
        !read(symtab + uint64_t(index) * sizeof(Elf64_Sym), symbol))
      return false;
    if (symbolNameEquals(symbol, name))
      return true;
    if (!read(chains + uint64_t(index) * 4, index))
      return false;
  }
  return false;
}

kiln_status ElfLoader::findEntryTable(LoadedExecutable &out) {
  Elf64_Sym symbol;
  if (!lookupSymbol(KILN_ENTRY_TABLE_SYMBOL, symbol) ||
      symbol.st_shndx == SHN_UNDEF) {
    error << "executable does not define the symbol "
          << KILN_ENTRY_TABLE_SYMBOL;
    return invalid();
  }
  kiln_entry_table_header table;
  if (!read(symbol.st_value, table) || symbol.st_value % 8 != 0) {
    error << "executable's " << KILN_ENTRY_TABLE_SYMBOL
          << " is misaligned or outside its segments";
    return invalid();
  }
  if (table.magic != KILN_ENTRY_TABLE_MAGIC ||
      table.version != KILN_ENTRY_TABLE_VERSION) {
    error << "executable's entry table has magic ";
    error.appendHex32(table.magic)
        << " and version " << table.version << ", expected ";
    error.appendHex32(KILN_ENTRY_TABLE_MAGIC)
        << " and version " << KILN_ENTRY_TABLE_VERSION;
    return invalid();
  }
  if (table.entry_count != expectedEntryCount) {
    error << "executable has " << table.entry_count
          << " entries, the schedule expects " << expectedEntryCount;
    return invalid();
  }
  uint64_t entriesAddress = symbol.st_value + sizeof(kiln_entry_table_header);
  if (!inSpan(entriesAddress, uint64_t(table.entry_count) * 8)) {
    error << "executable's entry table extends past its segments";
    return invalid();
  }
  uint64_t base = reinterpret_cast<uint64_t>(bias);
  for (uint32_t e = 0; e < table.entry_count; ++e) {
    uint64_t pointer;
    read(entriesAddress + uint64_t(e) * 8, pointer);
    bool inCode = false;
    for (unsigned i = 0; i < loadCount && !inCode; ++i)
      inCode = (loads[i].p_flags & PF_X) && pointer >= base &&
               pointer - base >= loads[i].p_vaddr &&
               pointer - base < loads[i].p_vaddr + loads[i].p_memsz;
    if (!inCode) {
      error << "executable's entry " << e
            << " does not point into executable code";
      return invalid();
    }
  }
  out.entries =
      reinterpret_cast<const kiln_dispatch_fn *>(bias + entriesAddress);
  out.entryCount = table.entry_count;
  return KILN_OK;
}

kiln_status ElfLoader::protectSegments() {
  if (mprotect(mapping, mappingSize, PROT_NONE) != 0) {
    error << "cannot protect the executable's memory";
    return KILN_ERROR_INTERNAL;
  }
  // Consecutive segments may share one boundary page: that page gets both
  // protections, unless that would make it writable and executable.
  uint64_t previousEnd = 0;
  int previousProtection = PROT_NONE;
  for (unsigned i = 0; i < loadCount; ++i) {
    const Elf64_Phdr &segment = loads[i];
    uint64_t start = alignDown(segment.p_vaddr, pageSize);
    uint64_t end;
    alignUp(segment.p_vaddr + segment.p_memsz, pageSize, end);
    int protection = protectionOf(segment.p_flags);
    if (end > start && mprotect(bias + start, end - start, protection) != 0) {
      error << "cannot protect the executable's segment " << i;
      return KILN_ERROR_INTERNAL;
    }
    if (i > 0 && start < previousEnd) {
      int shared = protection | previousProtection;
      if ((shared & PROT_WRITE) && (shared & PROT_EXEC)) {
        error << "executable's writable and executable segments share a "
              << pageSize
              << "-byte page; link with -z max-page-size=" << pageSize;
        return KILN_ERROR_UNSUPPORTED;
      }
      if (mprotect(bias + start, pageSize, shared) != 0) {
        error << "cannot protect the executable's segment " << i;
        return KILN_ERROR_INTERNAL;
      }
    }
    if (protection & PROT_EXEC)
      __builtin___clear_cache(reinterpret_cast<char *>(bias + start),
                              reinterpret_cast<char *>(bias + end));
    previousEnd = end;
    previousProtection = protection;
  }
  // Relocated read-only data (the entry table among it) becomes read-only.
  if (hasRelro) {
    uint64_t start = alignDown(relroHeader.p_vaddr, pageSize);
    if (relroHeader.p_vaddr > UINT64_MAX - relroHeader.p_memsz ||
        !inSpan(relroHeader.p_vaddr, relroHeader.p_memsz)) {
      error << "executable's PT_GNU_RELRO is outside its segments";
      return invalid();
    }
    uint64_t end =
        alignDown(relroHeader.p_vaddr + relroHeader.p_memsz, pageSize);
    if (end > start && mprotect(bias + start, end - start, PROT_READ) != 0) {
      error << "cannot protect the executable's read-only data";
      return KILN_ERROR_INTERNAL;
    }
  }
  return KILN_OK;
}

kiln_status ElfLoader::load(LoadedExecutable &out) {
  kiln_status status = parseHeaders();
  if (status == KILN_OK)
    status = mapSegments();
  if (status == KILN_OK)
    status = parseDynamic();
  if (status == KILN_OK)
    status = relocateTable(rela, relaSize, relaEntry, true, "RELA");
  if (status == KILN_OK)
    status = relocateTable(rel, relSize, relEntry, false, "REL");
  if (status == KILN_OK)
    status = relocateTable(pltRel, pltRelSize,
                           pltRelKind == DT_RELA ? relaEntry : relEntry,
                           pltRelKind == DT_RELA, "PLT");
  if (status == KILN_OK)
    status = relocatePacked(relr, relrSize);
  if (status == KILN_OK)
    status = findEntryTable(out);
  if (status == KILN_OK)
    status = protectSegments();
  if (status != KILN_OK) {
    if (mapping)
      munmap(mapping, mappingSize);
    out = LoadedExecutable();
    return status;
  }
  out.mapping = mapping;
  out.mappingSize = mappingSize;
  out.base = bias;
  return KILN_OK;
}

} // namespace

kiln_status loadElfExecutable(const uint8_t *image, uint64_t size,
                              uint16_t machine, uint32_t expectedEntryCount,
                              LoadedExecutable &out, ErrorMessage &error) {
  out = LoadedExecutable();
  ElfLoader loader(image, size, machine, expectedEntryCount, error);
  return loader.load(out);
}

void unloadElfExecutable(LoadedExecutable &executable) {
  if (executable.mapping)
    munmap(executable.mapping, executable.mappingSize);
  executable = LoadedExecutable();
}

} // namespace kiln::runtime
