//===- NpyFile.h - NumPy .npy files -----------------------------*- C++ -*-===//
//
// Format versions 1.0, 2.0 and 3.0; little-endian, C-order arrays of dtypes
// f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1. Written files use version 1.0 unless
// the header needs 2.0, with the header padded to 64 bytes like NumPy does.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_TOOLS_NPYFILE_H
#define KILN_RUNTIME_TOOLS_NPYFILE_H

#include "HostTensor.h"

namespace kiln::tools {

bool parseNpy(const uint8_t *bytes, size_t size, HostTensor &tensor,
              std::string &error);
bool readNpy(const std::string &path, HostTensor &tensor, std::string &error);

/// bf16 has no NumPy dtype: such tensors are widened to f4.
std::vector<uint8_t> encodeNpy(kiln_dtype dtype, const int64_t *dims,
                               size_t rank, const void *data, uint64_t size);

} // namespace kiln::tools

#endif // KILN_RUNTIME_TOOLS_NPYFILE_H
