//===- Crc32Test.cpp - kiln_crc32 matches the IEEE CRC-32 -----------------===//

#include "kiln/bundle_format.h"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace {

// Bit-at-a-time reference, independent of the table-driven implementation.
uint32_t referenceCrc32(const uint8_t *data, size_t size) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

TEST(Crc32, KnownValues) {
  EXPECT_EQ(kiln_crc32(0, "", 0), 0u);
  EXPECT_EQ(kiln_crc32(0, "123456789", 9), 0xCBF43926u);
  std::string fox = "The quick brown fox jumps over the lazy dog";
  EXPECT_EQ(kiln_crc32(0, fox.data(), fox.size()), 0x414FA339u);
}

TEST(Crc32, MatchesReferenceAtEveryLengthAndAlignment) {
  std::vector<uint8_t> data(300);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = uint8_t(i * 131 + 7);
  for (size_t start = 0; start < 9; ++start)
    for (size_t length = 0; start + length <= data.size(); length += 13)
      ASSERT_EQ(kiln_crc32(0, data.data() + start, length),
                referenceCrc32(data.data() + start, length))
          << start << " " << length;
}

TEST(Crc32, Chains) {
  std::string text = "Kiln bundles are checksummed in pieces";
  uint32_t whole = kiln_crc32(0, text.data(), text.size());
  for (size_t split = 0; split <= text.size(); ++split)
    EXPECT_EQ(kiln_crc32(kiln_crc32(0, text.data(), split), text.data() + split,
                         text.size() - split),
              whole);
}

} // namespace
