//===- HostTensor.cpp - Tensors and files for the CLI tools ---------------===//

#include "HostTensor.h"

#include <cerrno>
#include <cstdio>
#include <system_error>

namespace kiln::tools {

std::string describeTensorType(kiln_dtype dtype, const int64_t *dims,
                               size_t rank) {
  std::string text = kiln_dtype_name(dtype);
  text += '[';
  for (size_t i = 0; i < rank; ++i) {
    if (i)
      text += ", ";
    text += std::to_string(dims[i]);
  }
  text += ']';
  return text;
}

bool readWholeFile(const std::string &path, std::vector<uint8_t> &bytes,
                   std::string &error) {
  std::FILE *file = std::fopen(path.c_str(), "rb");
  if (!file) {
    error = path + ": cannot open: " +
            std::error_code(errno, std::generic_category()).message();
    return false;
  }
  bytes.clear();
  uint8_t buffer[1 << 16];
  size_t count;
  while ((count = std::fread(buffer, 1, sizeof(buffer), file)) > 0)
    bytes.insert(bytes.end(), buffer, buffer + count);
  bool failed = std::ferror(file);
  std::fclose(file);
  if (failed) {
    error = path + ": read error";
    return false;
  }
  return true;
}

bool writeWholeFile(const std::string &path, const std::vector<uint8_t> &bytes,
                    std::string &error) {
  std::FILE *file = std::fopen(path.c_str(), "wb");
  if (!file) {
    error = path + ": cannot create: " +
            std::error_code(errno, std::generic_category()).message();
    return false;
  }
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  ok &= std::fclose(file) == 0;
  if (!ok)
    error = path + ": write error";
  return ok;
}

} // namespace kiln::tools
