//===- ElfLoaderTest.cpp - Executables the loader accepts and refuses -----===//

#include "TestSupport.h"
#include "kiln/kiln.hpp"

#include <elf.h>
#include <gtest/gtest.h>

using namespace kiln::test;

namespace {

kiln_status openWithExecutable(const std::vector<uint8_t> &image,
                               std::vector<float> *output = nullptr) {
  AddModel spec;
  spec.build(image);
  AlignedBytes bytes(spec.writer.serialize());
  kiln::Model model;
  kiln_status status = model.openMemory(bytes.data(), bytes.size());
  if (status != KILN_OK || !output)
    return status;
  kiln::Session session;
  EXPECT_EQ(session.create(model, 2), KILN_OK);
  std::vector<float> a = spec.inputA(), b = spec.inputB();
  session.setInput(0, a.data(), a.size() * 4);
  session.setInput(1, b.data(), b.size() * 4);
  EXPECT_EQ(session.run(), KILN_OK);
  const void *data;
  uint64_t size;
  session.output(0, data, size);
  output->assign(static_cast<const float *>(data),
                 static_cast<const float *>(data) + size / 4);
  EXPECT_EQ(*output, spec.expected());
  return status;
}

void expectRefused(const std::vector<uint8_t> &image, const char *mentions) {
  EXPECT_EQ(openWithExecutable(image), KILN_ERROR_INVALID_BUNDLE);
  std::string message = kiln_last_error();
  EXPECT_NE(message.find(mentions), std::string::npos) << message;
  EXPECT_NE(message.find("EXECUTABLE"), std::string::npos) << message;
}

TEST(ElfLoader, LoadsPackedRelativeRelocations) {
  std::vector<float> output;
  EXPECT_EQ(openWithExecutable(
                readFileBytes(testdataPath("add_kernel_relr.so")), &output),
            KILN_OK)
      << kiln_last_error();
}

TEST(ElfLoader, LoadsWithSysvHashTable) {
  std::vector<float> output;
  EXPECT_EQ(
      openWithExecutable(readFileBytes(testdataPath("add_kernel_sysv_hash.so")),
                         &output),
      KILN_OK)
      << kiln_last_error();
}

TEST(ElfLoader, RefusesImportedFunctions) {
  expectRefused(readFileBytes(testdataPath("imports_kernel.so")),
                "executable imports symbols: not supported (relocation type");
  EXPECT_NE(std::string(kiln_last_error()).find("'external_scale'"),
            std::string::npos)
      << kiln_last_error();
}

TEST(ElfLoader, RefusesSymbolicRelocations) {
  expectRefused(readFileBytes(testdataPath("absolute_reloc_kernel.so")),
                "only RELATIVE relocations are allowed");
}

TEST(ElfLoader, RefusesNeededLibraries) {
  expectRefused(readFileBytes(testdataPath("needed_kernel.so")),
                "executable imports symbols: not supported (it needs a "
                "shared library)");
}

TEST(ElfLoader, RefusesOtherMachines) {
  std::vector<uint8_t> image = readFileBytes(testdataPath("add_kernel.so"));
  uint16_t other = image[18] == EM_X86_64 ? EM_AARCH64 : EM_X86_64;
  writeAt<uint16_t>(image, offsetof(Elf64_Ehdr, e_machine), other);
  expectRefused(image, "ELF machine");
}

TEST(ElfLoader, RefusesNonElfAndTruncatedImages) {
  expectRefused(std::vector<uint8_t>(10, 0x7F), "too small for an ELF header");
  expectRefused(std::vector<uint8_t>(4096, 0), "not an ELF file");
  std::vector<uint8_t> image = readFileBytes(testdataPath("add_kernel.so"));
  for (size_t length : {size_t(64), size_t(200), image.size() / 2}) {
    EXPECT_EQ(openWithExecutable(
                  std::vector<uint8_t>(image.begin(), image.begin() + length)),
              KILN_ERROR_INVALID_BUNDLE)
        << length;
  }
}

TEST(ElfLoader, RefusesExecutableStaticObjects) {
  std::vector<uint8_t> image = readFileBytes(testdataPath("add_kernel.so"));
  writeAt<uint16_t>(image, offsetof(Elf64_Ehdr, e_type), ET_EXEC);
  expectRefused(image, "not a shared object");
}

TEST(ElfLoader, RefusesWritableCode) {
  std::vector<uint8_t> image = readFileBytes(testdataPath("add_kernel.so"));
  auto header = readAt<Elf64_Ehdr>(image, 0);
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    size_t at = header.e_phoff + i * sizeof(Elf64_Phdr);
    auto segment = readAt<Elf64_Phdr>(image, at);
    if (segment.p_type == PT_LOAD && (segment.p_flags & PF_X)) {
      segment.p_flags |= PF_W;
      writeAt(image, at, segment);
    }
  }
  expectRefused(image, "both writable and executable");
}

TEST(ElfLoader, RefusesEntryTableWithWrongMagic) {
  std::vector<uint8_t> image = readFileBytes(testdataPath("add_kernel.so"));
  // The table's file bytes start with its magic.
  uint32_t magic = KILN_ENTRY_TABLE_MAGIC;
  bool patched = false;
  for (size_t at = 0; at + 4 <= image.size(); at += 4)
    if (std::memcmp(image.data() + at, &magic, 4) == 0) {
      image[at] ^= 1;
      patched = true;
    }
  ASSERT_TRUE(patched);
  expectRefused(image, "entry table has magic");
}

} // namespace
