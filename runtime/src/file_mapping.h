//===- file_mapping.h - Map a bundle file read-only -------------*- C++ -*-===//
//
// Platform piece (POSIX implementation in file_mapping_posix.cpp): the whole
// file is mapped MAP_PRIVATE read-only so that weights are used in place and
// pages are read from disk only when a kernel touches them.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_FILE_MAPPING_H
#define KILN_RUNTIME_FILE_MAPPING_H

#include "error_message.h"
#include "kiln/kiln.h"

namespace kiln::runtime {

struct FileMapping {
  const uint8_t *data = nullptr; // null for an empty file
  uint64_t size = 0;
};

/// On failure writes "<path>: <reason>" to `error`.
kiln_status mapFile(const char *path, FileMapping &out, ErrorMessage &error);
void unmapFile(FileMapping &mapping);

} // namespace kiln::runtime

#endif // KILN_RUNTIME_FILE_MAPPING_H
