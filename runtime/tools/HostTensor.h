//===- HostTensor.h - A tensor in host memory for the CLI tools -*- C++ -*-===//
#ifndef KILN_RUNTIME_TOOLS_HOSTTENSOR_H
#define KILN_RUNTIME_TOOLS_HOSTTENSOR_H

#include "kiln/kiln.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::tools {

/// Dense, C-order, little-endian elements.
struct HostTensor {
  kiln_dtype dtype = KILN_DTYPE_INVALID;
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

/// "f32[2, 3]", for messages.
std::string describeTensorType(kiln_dtype dtype, const int64_t *dims,
                               size_t rank);

/// Reads a whole file; false and `error` naming the path on failure.
bool readWholeFile(const std::string &path, std::vector<uint8_t> &bytes,
                   std::string &error);

/// Writes a whole file (plainly: these are tool outputs, not bundles).
bool writeWholeFile(const std::string &path, const std::vector<uint8_t> &bytes,
                    std::string &error);

} // namespace kiln::tools

#endif // KILN_RUNTIME_TOOLS_HOSTTENSOR_H
