//===- NpyFile.cpp - NumPy .npy files -------------------------------------===//
//
// The header is a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// parsed here by a small recursive-descent reader that accepts exactly the
// literal forms NumPy writes (strings, True/False, tuples of integers).
//
//===----------------------------------------------------------------------===//

#include "NpyFile.h"
#include "RandomTensor.h"

#include <cstring>

namespace kiln::tools {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

struct DtypeCode {
  const char *code; // without the byte-order character
  kiln_dtype dtype;
};
constexpr DtypeCode kDtypeCodes[] = {
    {"f2", KILN_DTYPE_F16}, {"f4", KILN_DTYPE_F32}, {"f8", KILN_DTYPE_F64},
    {"i1", KILN_DTYPE_I8},  {"i2", KILN_DTYPE_I16}, {"i4", KILN_DTYPE_I32},
    {"i8", KILN_DTYPE_I64}, {"u1", KILN_DTYPE_U8},  {"u2", KILN_DTYPE_U16},
    {"u4", KILN_DTYPE_U32}, {"u8", KILN_DTYPE_U64}, {"b1", KILN_DTYPE_BOOL},
};

class HeaderParser {
public:
  explicit HeaderParser(const std::string &text) : text(text) {}

  bool parse(std::string &descr, bool &fortranOrder,
             std::vector<int64_t> &shape, std::string &error) {
    bool haveDescr = false, haveOrder = false, haveShape = false;
    if (!consume('{'))
      return fail(error, "expected '{'");
    while (true) {
      skipSpaces();
      if (consume('}'))
        break;
      std::string key;
      if (!parseString(key))
        return fail(error, "expected a quoted key");
      if (!consume(':'))
        return fail(error, "expected ':' after '" + key + "'");
      skipSpaces();
      if (key == "descr") {
        if (!parseString(descr))
          return fail(error, "'descr' must be a string (structured dtypes "
                             "are not supported)");
        haveDescr = true;
      } else if (key == "fortran_order") {
        if (match("True"))
          fortranOrder = true;
        else if (match("False"))
          fortranOrder = false;
        else
          return fail(error, "'fortran_order' must be True or False");
        haveOrder = true;
      } else if (key == "shape") {
        if (!parseShape(shape))
          return fail(error, "'shape' must be a tuple of integers");
        haveShape = true;
      } else {
        return fail(error, "unexpected key '" + key + "'");
      }
      skipSpaces();
      if (!consume(',')) {
        skipSpaces();
        if (!consume('}'))
          return fail(error, "expected ',' or '}'");
        break;
      }
    }
    if (!haveDescr || !haveOrder || !haveShape)
      return fail(error, "missing 'descr', 'fortran_order' or 'shape'");
    return true;
  }

private:
  bool fail(std::string &error, const std::string &message) {
    error = "bad header: " + message;
    return false;
  }
  void skipSpaces() {
    while (at < text.size() && (text[at] == ' ' || text[at] == '\t'))
      ++at;
  }
  bool consume(char c) {
    skipSpaces();
    if (at < text.size() && text[at] == c) {
      ++at;
      return true;
    }
    return false;
  }
  bool match(const char *word) {
    size_t length = std::strlen(word);
    if (text.compare(at, length, word) != 0)
      return false;
    at += length;
    return true;
  }
  bool parseString(std::string &out) {
    skipSpaces();
    if (at >= text.size() || (text[at] != '\'' && text[at] != '"'))
      return false;
    char quote = text[at++];
    size_t end = text.find(quote, at);
    if (end == std::string::npos)
      return false;
    out = text.substr(at, end - at);
    at = end + 1;
    return true;
  }
  bool parseShape(std::vector<int64_t> &shape) {
    shape.clear();
    if (!consume('('))
      return false;
    while (true) {
      if (consume(')'))
        return true;
      skipSpaces();
      size_t start = at;
      int64_t value = 0;
      while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
        if (value > (INT64_MAX - 9) / 10)
          return false;
        value = value * 10 + (text[at++] - '0');
      }
      if (at < text.size() && text[at] == 'L') // Python 2 long suffix
        ++at;
      if (at == start)
        return false;
      shape.push_back(value);
      if (!consume(',')) {
        return consume(')');
      }
    }
  }

  const std::string &text;
  size_t at = 0;
};

uint32_t readLittleEndian(const uint8_t *bytes, size_t count) {
  uint32_t value = 0;
  for (size_t i = 0; i < count; ++i)
    value |= uint32_t(bytes[i]) << (8 * i);
  return value;
}

} // namespace

bool parseNpy(const uint8_t *bytes, size_t size, HostTensor &tensor,
              std::string &error) {
  if (size < 10 || std::memcmp(bytes, kMagic, kMagicSize) != 0) {
    error = "not a .npy file (bad magic)";
    return false;
  }
  uint8_t major = bytes[6];
  size_t lengthBytes;
  if (major == 1)
    lengthBytes = 2;
  else if (major == 2 || major == 3)
    lengthBytes = 4;
  else {
    error = "unsupported .npy format version " + std::to_string(major);
    return false;
  }
  size_t prefix = 8 + lengthBytes;
  if (size < prefix) {
    error = "truncated .npy header";
    return false;
  }
  size_t headerLength = readLittleEndian(bytes + 8, lengthBytes);
  if (headerLength > size - prefix) {
    error = "truncated .npy header";
    return false;
  }
  std::string header(reinterpret_cast<const char *>(bytes + prefix),
                     headerLength);
  while (!header.empty() && (header.back() == '\n' || header.back() == ' ' ||
                             header.back() == '\0'))
    header.pop_back();

  std::string descr;
  bool fortranOrder = false;
  std::vector<int64_t> shape;
  if (!HeaderParser(header).parse(descr, fortranOrder, shape, error))
    return false;
  if (fortranOrder) {
    error = "Fortran-order arrays are not supported (save with "
            "np.ascontiguousarray)";
    return false;
  }
  if (descr.size() != 3) {
    error = "unsupported dtype '" + descr + "'";
    return false;
  }
  kiln_dtype dtype = KILN_DTYPE_INVALID;
  for (const DtypeCode &code : kDtypeCodes)
    if (descr.compare(1, 2, code.code) == 0)
      dtype = code.dtype;
  if (dtype == KILN_DTYPE_INVALID) {
    error = "unsupported dtype '" + descr + "'";
    return false;
  }
  char order = descr[0];
  bool singleByte = kiln_dtype_size(dtype) == 1;
  if (order != '<' && order != '|' && order != '=' &&
      !(order == '>' && singleByte)) {
    error = "unsupported byte order in dtype '" + descr +
            "' (only little-endian data is supported)";
    return false;
  }
  uint64_t expected = kiln_dtype_size(dtype);
  for (int64_t dim : shape) {
    if (dim != 0 && expected > UINT64_MAX / uint64_t(dim)) {
      error = "shape is too large";
      return false;
    }
    expected *= uint64_t(dim);
  }
  size_t dataOffset = prefix + headerLength;
  if (size - dataOffset != expected) {
    error = "data is " + std::to_string(size - dataOffset) +
            " bytes, the header describes " + std::to_string(expected);
    return false;
  }
  tensor.dtype = dtype;
  tensor.dims = shape;
  tensor.data.assign(bytes + dataOffset, bytes + size);
  return true;
}

bool readNpy(const std::string &path, HostTensor &tensor, std::string &error) {
  std::vector<uint8_t> bytes;
  if (!readWholeFile(path, bytes, error))
    return false;
  if (!parseNpy(bytes.data(), bytes.size(), tensor, error)) {
    error = path + ": " + error;
    return false;
  }
  return true;
}

std::vector<uint8_t> encodeNpy(kiln_dtype dtype, const int64_t *dims,
                               size_t rank, const void *data, uint64_t size) {
  const uint8_t *elements = static_cast<const uint8_t *>(data);
  std::vector<uint8_t> widened;
  if (dtype == KILN_DTYPE_BF16) {
    // bf16 is the top half of an f32.
    for (uint64_t i = 0; i + 1 < size; i += 2) {
      uint8_t f32[4] = {0, 0, elements[i], elements[i + 1]};
      widened.insert(widened.end(), f32, f32 + 4);
    }
    elements = widened.data();
    size = widened.size();
    dtype = KILN_DTYPE_F32;
  }
  std::string descr = "<f4";
  for (const DtypeCode &code : kDtypeCodes)
    if (code.dtype == dtype)
      descr = std::string(kiln_dtype_size(dtype) == 1 ? "|" : "<") + code.code;

  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < rank; ++i) {
    header += std::to_string(dims[i]);
    if (i + 1 < rank || rank == 1)
      header += rank == 1 ? "," : ", ";
  }
  header += "), }";
  // NumPy pads with spaces and a newline so that the data starts at a
  // multiple of 64 bytes.
  size_t prefix = 10;
  size_t total = prefix + header.size() + 1;
  bool version2 = false;
  if ((total + 63) / 64 * 64 - prefix > 65535) {
    version2 = true;
    prefix = 12;
    total = prefix + header.size() + 1;
  }
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';

  std::vector<uint8_t> out(kMagic, kMagic + kMagicSize);
  out.push_back(version2 ? 2 : 1);
  out.push_back(0);
  uint32_t length = static_cast<uint32_t>(header.size());
  for (int i = 0; i < (version2 ? 4 : 2); ++i)
    out.push_back(static_cast<uint8_t>(length >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), elements, elements + size);
  return out;
}

} // namespace kiln::tools
