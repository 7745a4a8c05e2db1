//===- ToolFormatsTest.cpp - .npy, TensorProto, JSON, f16 -----------------===//

#include "JsonWriter.h"
#include "NpyFile.h"
#include "RandomTensor.h"
#include "TensorProto.h"

#include <cmath>
#include <cstring>
#include <gtest/gtest.h>

using namespace kiln::tools;

namespace {

std::vector<uint8_t> bytesOf(const std::string &text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

/// A .npy file with the given header text (padded by the caller or not).
std::vector<uint8_t> npyWithHeader(const std::string &header,
                                   const std::vector<uint8_t> &data,
                                   int version = 1) {
  std::vector<uint8_t> out = bytesOf(std::string("\x93NUMPY", 6));
  out.push_back(uint8_t(version));
  out.push_back(0);
  uint32_t length = uint32_t(header.size());
  for (int i = 0; i < (version == 1 ? 2 : 4); ++i)
    out.push_back(uint8_t(length >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

TEST(Npy, RoundTripsEveryDtypeAndRank) {
  const kiln_dtype dtypes[] = {KILN_DTYPE_F32, KILN_DTYPE_F64, KILN_DTYPE_F16,
                               KILN_DTYPE_I8,  KILN_DTYPE_I16, KILN_DTYPE_I32,
                               KILN_DTYPE_I64, KILN_DTYPE_U8,  KILN_DTYPE_U16,
                               KILN_DTYPE_U32, KILN_DTYPE_U64, KILN_DTYPE_BOOL};
  const std::vector<std::vector<int64_t>> shapes = {
      {}, {5}, {2, 3}, {1, 0, 4}, {2, 1, 2, 1, 2}};
  for (kiln_dtype dtype : dtypes)
    for (const auto &shape : shapes) {
      uint64_t count = 1;
      for (int64_t dim : shape)
        count *= uint64_t(dim);
      std::vector<uint8_t> data(count * kiln_dtype_size(dtype));
      for (size_t i = 0; i < data.size(); ++i)
        data[i] = uint8_t(i * 7 + 1);
      std::vector<uint8_t> file = encodeNpy(dtype, shape.data(), shape.size(),
                                            data.data(), data.size());
      // NumPy aligns the data to 64 bytes.
      EXPECT_EQ((file.size() - data.size()) % 64, 0u);
      HostTensor tensor;
      std::string error;
      ASSERT_TRUE(parseNpy(file.data(), file.size(), tensor, error)) << error;
      EXPECT_EQ(tensor.dtype, dtype);
      EXPECT_EQ(tensor.dims, shape);
      EXPECT_EQ(tensor.data, data);
    }
}

TEST(Npy, ReadsNumpyWrittenHeaders) {
  std::vector<uint8_t> data(2 * 3 * 4);
  HostTensor tensor;
  std::string error;
  // As numpy 1.x writes it, with padding and newline; and a v2 header.
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  header.append(118 - header.size() - 1, ' ');
  header += '\n';
  ASSERT_TRUE(parseNpy(npyWithHeader(header, data).data(),
                       npyWithHeader(header, data).size(), tensor, error))
      << error;
  EXPECT_EQ(tensor.dims, (std::vector<int64_t>{2, 3}));
  auto v2 = npyWithHeader("{\"shape\": (6,), \"fortran_order\": False, "
                          "\"descr\": \"<i4\"}\n",
                          data, 2);
  ASSERT_TRUE(parseNpy(v2.data(), v2.size(), tensor, error)) << error;
  EXPECT_EQ(tensor.dtype, KILN_DTYPE_I32);
  EXPECT_EQ(tensor.dims, (std::vector<int64_t>{6}));
  auto bools = npyWithHeader(
      "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }\n", {1, 0, 1});
  ASSERT_TRUE(parseNpy(bools.data(), bools.size(), tensor, error)) << error;
  EXPECT_EQ(tensor.dtype, KILN_DTYPE_BOOL);
}

TEST(Npy, RejectsWhatItCannotRead) {
  struct Case {
    std::string header;
    size_t dataBytes;
    const char *expected;
  } cases[] = {
      {"{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", 4,
       "only little-endian"},
      {"{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", 4,
       "Fortran-order"},
      {"{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", 8,
       "unsupported dtype '<c8'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 4,
       "data is 4 bytes, the header describes 8"},
      {"{'descr': '<f4', 'fortran_order': False}", 4, "missing"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", 4,
       "structured dtypes"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': "
       "(99999999999999999999,), }",
       4, "bad header"},
  };
  for (const Case &c : cases) {
    auto file = npyWithHeader(c.header, std::vector<uint8_t>(c.dataBytes));
    HostTensor tensor;
    std::string error;
    EXPECT_FALSE(parseNpy(file.data(), file.size(), tensor, error)) << c.header;
    EXPECT_NE(error.find(c.expected), std::string::npos) << error;
  }
  HostTensor tensor;
  std::string error;
  auto notNpy = bytesOf("PK\x03\x04 zip archive");
  EXPECT_FALSE(parseNpy(notNpy.data(), notNpy.size(), tensor, error));
  EXPECT_NE(error.find("bad magic"), std::string::npos);
  auto truncated = npyWithHeader("{'descr': '<f4'", {});
  truncated.resize(12);
  EXPECT_FALSE(parseNpy(truncated.data(), truncated.size(), tensor, error));
}

TEST(Npy, WidensBFloat16ToFloat32) {
  uint16_t bits[2] = {floatToBFloat16Bits(1.5f), floatToBFloat16Bits(-2.0f)};
  int64_t dims[1] = {2};
  auto file = encodeNpy(KILN_DTYPE_BF16, dims, 1, bits, sizeof(bits));
  HostTensor tensor;
  std::string error;
  ASSERT_TRUE(parseNpy(file.data(), file.size(), tensor, error)) << error;
  ASSERT_EQ(tensor.dtype, KILN_DTYPE_F32);
  float values[2];
  std::memcpy(values, tensor.data.data(), 8);
  EXPECT_EQ(values[0], 1.5f);
  EXPECT_EQ(values[1], -2.0f);
}

// Protobuf helpers for hand-built TensorProtos.
void varint(std::vector<uint8_t> &out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(uint8_t(value | 0x80));
    value >>= 7;
  }
  out.push_back(uint8_t(value));
}
void key(std::vector<uint8_t> &out, int field, int wire) {
  varint(out, uint64_t(field) << 3 | wire);
}
void lengthDelimited(std::vector<uint8_t> &out, int field,
                     const std::vector<uint8_t> &payload) {
  key(out, field, 2);
  varint(out, payload.size());
  out.insert(out.end(), payload.begin(), payload.end());
}

TEST(TensorProto, RoundTripsRawData) {
  HostTensor tensor;
  tensor.dtype = KILN_DTYPE_I64;
  tensor.dims = {2, 2};
  int64_t values[4] = {1, -2, 3, 1ll << 40};
  tensor.data.assign(reinterpret_cast<uint8_t *>(values),
                     reinterpret_cast<uint8_t *>(values) + 32);
  auto bytes = encodeTensorProto("x:0", tensor);
  HostTensor parsed;
  std::string name, error;
  ASSERT_TRUE(parseTensorProto(bytes.data(), bytes.size(), parsed, name, error))
      << error;
  EXPECT_EQ(name, "x:0");
  EXPECT_EQ(parsed.dtype, KILN_DTYPE_I64);
  EXPECT_EQ(parsed.dims, tensor.dims);
  EXPECT_EQ(parsed.data, tensor.data);
}

TEST(TensorProto, ReadsTypedFieldsPackedAndUnpacked) {
  // dims packed [3], data_type FLOAT, float_data packed, an unknown field.
  std::vector<uint8_t> proto;
  lengthDelimited(proto, 1, {3});
  key(proto, 2, 0);
  varint(proto, 1);
  float floats[3] = {1.0f, -0.5f, 2.25f};
  lengthDelimited(
      proto, 4,
      std::vector<uint8_t>(reinterpret_cast<uint8_t *>(floats),
                           reinterpret_cast<uint8_t *>(floats) + 12));
  lengthDelimited(proto, 12, bytesOf("doc string"));
  HostTensor tensor;
  std::string name, error;
  ASSERT_TRUE(parseTensorProto(proto.data(), proto.size(), tensor, name, error))
      << error;
  EXPECT_EQ(tensor.dims, std::vector<int64_t>{3});
  EXPECT_EQ(std::memcmp(tensor.data.data(), floats, 12), 0);

  // Unpacked dims and int32_data holding int8 values (negative ones are
  // sign-extended 10-byte varints).
  proto.clear();
  key(proto, 1, 0);
  varint(proto, 2);
  key(proto, 2, 0);
  varint(proto, KILN_DTYPE_I8);
  key(proto, 5, 0);
  varint(proto, uint64_t(int64_t(-3)));
  key(proto, 5, 0);
  varint(proto, 7);
  ASSERT_TRUE(parseTensorProto(proto.data(), proto.size(), tensor, name, error))
      << error;
  EXPECT_EQ(tensor.dtype, KILN_DTYPE_I8);
  EXPECT_EQ(tensor.data, (std::vector<uint8_t>{0xFD, 7}));

  // double_data unpacked (fixed64) and uint64_data for u32.
  proto.clear();
  key(proto, 2, 0);
  varint(proto, KILN_DTYPE_F64);
  key(proto, 10, 1);
  double d = 3.5;
  proto.insert(proto.end(), reinterpret_cast<uint8_t *>(&d),
               reinterpret_cast<uint8_t *>(&d) + 8);
  ASSERT_TRUE(parseTensorProto(proto.data(), proto.size(), tensor, name, error))
      << error;
  EXPECT_TRUE(tensor.dims.empty()); // a scalar
  EXPECT_EQ(tensor.data.size(), 8u);
}

TEST(TensorProto, RejectsUnsupportedAndMalformedInput) {
  struct Case {
    std::vector<uint8_t> proto;
    const char *expected;
  };
  std::vector<Case> cases;
  {
    std::vector<uint8_t> p;
    key(p, 2, 0);
    varint(p, 1);
    lengthDelimited(p, 13, bytesOf("location"));
    cases.push_back({p, "external data"});
  }
  {
    std::vector<uint8_t> p;
    key(p, 14, 0);
    varint(p, 1);
    cases.push_back({p, "external data"});
  }
  {
    std::vector<uint8_t> p;
    lengthDelimited(p, 3, {8, 0, 16, 1});
    cases.push_back({p, "segmented"});
  }
  {
    std::vector<uint8_t> p;
    key(p, 2, 0);
    varint(p, 8);
    lengthDelimited(p, 6, bytesOf("text"));
    cases.push_back({p, "string tensors"});
  }
  {
    std::vector<uint8_t> p;
    key(p, 2, 0);
    varint(p, 1);
    key(p, 1, 0);
    varint(p, 4);
    lengthDelimited(p, 9, {0, 0, 0, 0});
    cases.push_back({p, "raw_data is 4 bytes, the shape needs 16"});
  }
  {
    std::vector<uint8_t> p;
    key(p, 2, 0);
    varint(p, 7);
    key(p, 1, 0);
    varint(p, 2);
    key(p, 7, 0);
    varint(p, 5);
    cases.push_back({p, "int64_data has 1 values, the shape needs 2"});
  }
  cases.push_back({{0x4A, 0x10, 0x01}, "malformed"}); // raw_data cut short
  cases.push_back({{0x08}, "malformed"});             // dims without a value
  cases.push_back({{0x0B}, "malformed"});             // a group
  cases.push_back({{0x10, 0x63}, "unsupported data_type 99"});
  for (const Case &c : cases) {
    HostTensor tensor;
    std::string name, error;
    EXPECT_FALSE(
        parseTensorProto(c.proto.data(), c.proto.size(), tensor, name, error))
        << c.expected;
    EXPECT_NE(error.find(c.expected), std::string::npos) << error;
  }
}

TEST(Json, EscapesStrings) {
  EXPECT_EQ(JsonWriter::escape("plain"), "\"plain\"");
  EXPECT_EQ(JsonWriter::escape("a\"b\\c\n\t\x01"),
            "\"a\\\"b\\\\c\\n\\t\\u0001\"");
  EXPECT_EQ(JsonWriter::escape("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(JsonWriter::escape("bad\xff"), "\"bad\\ufffd\"");
  EXPECT_EQ(JsonWriter::escape("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
}

TEST(Json, NestsWithCommas) {
  JsonWriter json;
  json.beginObject();
  json.key("a");
  json.value(uint64_t(1));
  json.key("list");
  json.beginArray();
  json.value("x");
  json.null();
  json.beginObject();
  json.endObject();
  json.value(true);
  json.endArray();
  json.key("n");
  json.value(int64_t(-5));
  json.endObject();
  EXPECT_EQ(json.str(), "{\"a\":1,\"list\":[\"x\",null,{},true],\"n\":-5}");
}

TEST(HalfFloat, ConvertsExactlyAndRoundsToEven) {
  EXPECT_EQ(floatToHalfBits(0.0f), 0x0000);
  EXPECT_EQ(floatToHalfBits(-0.0f), 0x8000);
  EXPECT_EQ(floatToHalfBits(1.0f), 0x3C00);
  EXPECT_EQ(floatToHalfBits(-2.0f), 0xC000);
  EXPECT_EQ(floatToHalfBits(65504.0f), 0x7BFF);
  EXPECT_EQ(floatToHalfBits(65520.0f), 0x7C00); // rounds to infinity
  EXPECT_EQ(floatToHalfBits(std::ldexp(1.0f, -24)), 0x0001); // smallest
  EXPECT_EQ(floatToHalfBits(std::ldexp(1.0f, -25)), 0x0000); // tie to even
  EXPECT_EQ(floatToHalfBits(1.0f + std::ldexp(1.0f, -11)), 0x3C00); // tie
  EXPECT_EQ(floatToHalfBits(INFINITY), 0x7C00);
  EXPECT_EQ(floatToHalfBits(NAN) & 0x7C00, 0x7C00);
  for (uint32_t bits = 0; bits < 0x7C00; ++bits)
    ASSERT_EQ(floatToHalfBits(halfBitsToFloat(uint16_t(bits))), bits) << bits;
}

TEST(RandomTensor, IsSeededAndInRange) {
  std::vector<float> first(1000), second(1000), other(1000);
  fillRandom(KILN_DTYPE_F32, first.data(), 4000, 0, 0);
  fillRandom(KILN_DTYPE_F32, second.data(), 4000, 0, 0);
  fillRandom(KILN_DTYPE_F32, other.data(), 4000, 1, 0);
  EXPECT_EQ(first, second);
  EXPECT_NE(first, other);
  for (float value : first) {
    EXPECT_GE(value, -1.0f);
    EXPECT_LE(value, 1.0f);
  }
  std::vector<int64_t> integers(1000);
  fillRandom(KILN_DTYPE_I64, integers.data(), 8000, 3, 1);
  for (int64_t value : integers) {
    EXPECT_GE(value, 0);
    EXPECT_LT(value, 10);
  }
  std::vector<uint8_t> bools(100);
  fillRandom(KILN_DTYPE_BOOL, bools.data(), 100, 0, 2);
  for (uint8_t value : bools)
    EXPECT_LE(value, 1);
}

} // namespace
