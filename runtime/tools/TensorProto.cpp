//===- TensorProto.cpp - ONNX TensorProto files (.pb) ---------------------===//
//
// Protobuf wire format: each field is a varint key (number << 3 | wire type)
// followed by a varint (0), 8 bytes (1), a length-prefixed payload (2) or 4
// bytes (5). Repeated numeric fields may come packed (one payload of
// concatenated values) or one value per key; both are accepted.
//
//===----------------------------------------------------------------------===//

#include "TensorProto.h"

#include <cstring>

namespace kiln::tools {
namespace {

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kFixed32 = 5,
};

// TensorProto field numbers (onnx.proto).
enum Field : uint32_t {
  kDims = 1,
  kDataType = 2,
  kSegment = 3,
  kFloatData = 4,
  kInt32Data = 5,
  kStringData = 6,
  kInt64Data = 7,
  kName = 8,
  kRawData = 9,
  kDoubleData = 10,
  kUint64Data = 11,
  kExternalData = 13,
  kDataLocation = 14,
};

class WireReader {
public:
  WireReader(const uint8_t *data, size_t size) : at(data), end(data + size) {}
  bool done() const { return at == end; }

  bool varint(uint64_t &value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at == end)
        return false;
      uint8_t byte = *at++;
      value |= uint64_t(byte & 0x7F) << shift;
      if (!(byte & 0x80))
        return true;
    }
    return false; // more than 10 bytes
  }
  bool fixed(void *out, size_t size) {
    if (size_t(end - at) < size)
      return false;
    std::memcpy(out, at, size);
    at += size;
    return true;
  }
  bool bytes(const uint8_t *&data, size_t &size) {
    uint64_t length;
    if (!varint(length) || length > uint64_t(end - at))
      return false;
    data = at;
    size = static_cast<size_t>(length);
    at += size;
    return true;
  }
  bool skip(uint32_t wireType) {
    uint64_t ignored;
    const uint8_t *data;
    size_t size;
    uint8_t buffer[8];
    switch (wireType) {
    case kVarint:
      return varint(ignored);
    case kFixed64:
      return fixed(buffer, 8);
    case kLengthDelimited:
      return bytes(data, size);
    case kFixed32:
      return fixed(buffer, 4);
    default:
      return false; // groups (3, 4) are not used by ONNX
    }
  }

private:
  const uint8_t *at;
  const uint8_t *end;
};

/// Reads one or a packed run of varints into `values`.
bool readVarints(WireReader &reader, uint32_t wireType,
                 std::vector<uint64_t> &values) {
  uint64_t value;
  if (wireType == kVarint) {
    if (!reader.varint(value))
      return false;
    values.push_back(value);
    return true;
  }
  if (wireType != kLengthDelimited)
    return false;
  const uint8_t *data;
  size_t size;
  if (!reader.bytes(data, size))
    return false;
  WireReader packed(data, size);
  while (!packed.done()) {
    if (!packed.varint(value))
      return false;
    values.push_back(value);
  }
  return true;
}

/// Reads one or a packed run of fixed-size values as raw bytes.
bool readFixed(WireReader &reader, uint32_t wireType, size_t valueSize,
               std::vector<uint8_t> &out) {
  uint32_t single = valueSize == 4 ? kFixed32 : kFixed64;
  if (wireType == single) {
    uint8_t buffer[8];
    if (!reader.fixed(buffer, valueSize))
      return false;
    out.insert(out.end(), buffer, buffer + valueSize);
    return true;
  }
  if (wireType != kLengthDelimited)
    return false;
  const uint8_t *data;
  size_t size;
  if (!reader.bytes(data, size) || size % valueSize != 0)
    return false;
  out.insert(out.end(), data, data + size);
  return true;
}

} // namespace

bool parseTensorProto(const uint8_t *bytes, size_t size, HostTensor &tensor,
                      std::string &name, std::string &error) {
  WireReader reader(bytes, size);
  std::vector<uint64_t> dims, int32Data, int64Data, uint64Data;
  std::vector<uint8_t> floatData, doubleData, rawData;
  bool haveRaw = false;
  uint64_t dataType = 0;
  name.clear();
  while (!reader.done()) {
    uint64_t key;
    if (!reader.varint(key)) {
      error = "malformed protobuf (bad field key)";
      return false;
    }
    uint32_t field = static_cast<uint32_t>(key >> 3);
    uint32_t wireType = static_cast<uint32_t>(key & 7);
    bool ok = true;
    const uint8_t *data;
    size_t length;
    switch (field) {
    case kDims:
      ok = readVarints(reader, wireType, dims);
      break;
    case kDataType:
      ok = wireType == kVarint && reader.varint(dataType);
      break;
    case kSegment:
      error = "segmented tensors are not supported";
      return false;
    case kFloatData:
      ok = readFixed(reader, wireType, 4, floatData);
      break;
    case kInt32Data:
      ok = readVarints(reader, wireType, int32Data);
      break;
    case kStringData:
      error = "string tensors are not supported";
      return false;
    case kInt64Data:
      ok = readVarints(reader, wireType, int64Data);
      break;
    case kName:
      ok = wireType == kLengthDelimited && reader.bytes(data, length);
      if (ok)
        name.assign(reinterpret_cast<const char *>(data), length);
      break;
    case kRawData:
      ok = wireType == kLengthDelimited && reader.bytes(data, length);
      if (ok) {
        rawData.assign(data, data + length);
        haveRaw = true;
      }
      break;
    case kDoubleData:
      ok = readFixed(reader, wireType, 8, doubleData);
      break;
    case kUint64Data:
      ok = readVarints(reader, wireType, uint64Data);
      break;
    case kExternalData:
      error = "tensors with external data are not supported (convert with "
              "onnx.numpy_helper or save as .npy)";
      return false;
    case kDataLocation: {
      uint64_t location;
      ok = wireType == kVarint && reader.varint(location);
      if (ok && location != 0) {
        error = "tensors with external data are not supported";
        return false;
      }
      break;
    }
    default:
      ok = reader.skip(wireType);
      break;
    }
    if (!ok) {
      error = "malformed protobuf (field " + std::to_string(field) + ")";
      return false;
    }
  }

  uint32_t elementSize =
      dataType <= 0xFFFF ? kiln_dtype_element_size(uint32_t(dataType)) : 0;
  if (elementSize == 0) {
    error = "unsupported data_type " + std::to_string(dataType);
    return false;
  }
  // Only now is the value known to name a kiln_dtype enumerator.
  kiln_dtype dtype = static_cast<kiln_dtype>(dataType);
  uint64_t count = 1;
  tensor.dims.clear();
  for (uint64_t dim : dims) {
    if (dim > uint64_t(INT64_MAX) || (dim && count > UINT64_MAX / dim / 8)) {
      error = "dimension out of range";
      return false;
    }
    count *= dim;
    tensor.dims.push_back(static_cast<int64_t>(dim));
  }
  tensor.dtype = dtype;
  uint64_t expectedBytes = count * elementSize;
  auto countMismatch = [&](const char *field, uint64_t given) {
    error = std::string(field) + " has " + std::to_string(given) +
            " values, the shape needs " + std::to_string(count);
    return false;
  };

  if (haveRaw) {
    if (rawData.size() != expectedBytes) {
      error = "raw_data is " + std::to_string(rawData.size()) +
              " bytes, the shape needs " + std::to_string(expectedBytes);
      return false;
    }
    tensor.data = std::move(rawData);
    return true;
  }
  tensor.data.assign(expectedBytes, 0);
  auto storeIntegers = [&](const std::vector<uint64_t> &values,
                           const char *field) {
    if (values.size() != count)
      return countMismatch(field, values.size());
    // Little-endian: the low `elementSize` bytes are the value (int32_data
    // holds f16/bf16 bit patterns and sign-extended small integers too).
    for (uint64_t i = 0; i < count; ++i)
      std::memcpy(tensor.data.data() + i * elementSize, &values[i],
                  elementSize);
    return true;
  };
  switch (dtype) {
  case KILN_DTYPE_F32:
    if (floatData.size() / 4 != count)
      return countMismatch("float_data", floatData.size() / 4);
    tensor.data = std::move(floatData);
    return true;
  case KILN_DTYPE_F64:
    if (doubleData.size() / 8 != count)
      return countMismatch("double_data", doubleData.size() / 8);
    tensor.data = std::move(doubleData);
    return true;
  case KILN_DTYPE_I64:
    return storeIntegers(int64Data, "int64_data");
  case KILN_DTYPE_U32:
  case KILN_DTYPE_U64:
    return storeIntegers(uint64Data, "uint64_data");
  default:
    return storeIntegers(int32Data, "int32_data");
  }
}

bool readTensorProto(const std::string &path, HostTensor &tensor,
                     std::string &error) {
  std::vector<uint8_t> bytes;
  if (!readWholeFile(path, bytes, error))
    return false;
  std::string name;
  if (!parseTensorProto(bytes.data(), bytes.size(), tensor, name, error)) {
    error = path + ": " + error;
    return false;
  }
  return true;
}

namespace {

void appendVarint(std::vector<uint8_t> &out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<uint8_t>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<uint8_t>(value));
}

void appendKey(std::vector<uint8_t> &out, uint32_t field, uint32_t wireType) {
  appendVarint(out, uint64_t(field) << 3 | wireType);
}

} // namespace

std::vector<uint8_t> encodeTensorProto(const std::string &name,
                                       const HostTensor &tensor) {
  std::vector<uint8_t> out;
  for (int64_t dim : tensor.dims) {
    appendKey(out, kDims, kVarint);
    appendVarint(out, static_cast<uint64_t>(dim));
  }
  appendKey(out, kDataType, kVarint);
  appendVarint(out, tensor.dtype);
  appendKey(out, kName, kLengthDelimited);
  appendVarint(out, name.size());
  out.insert(out.end(), name.begin(), name.end());
  appendKey(out, kRawData, kLengthDelimited);
  appendVarint(out, tensor.data.size());
  out.insert(out.end(), tensor.data.begin(), tensor.data.end());
  return out;
}

} // namespace kiln::tools
