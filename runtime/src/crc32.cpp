//===- crc32.cpp - CRC-32 (IEEE) for bundle checksums ---------------------===//
//
// The single implementation of kiln_crc32 (declared in bundle_format.h), built
// as the `kiln_crc32` library that both the runtime and the bundle writer
// link. Slicing-by-8 keeps checksumming a large WEIGHTS section (tens of MB,
// `--verify`) in the GB/s range; the tables are computed at compile time so
// the code needs no initialisation and stays freestanding.
//
//===----------------------------------------------------------------------===//

#include "kiln/bundle_format.h"

namespace {

constexpr uint32_t kReflectedPolynomial = 0xEDB88320u;

struct Crc32Tables {
  // slice[k][b]: the CRC contribution of byte b followed by k zero bytes.
  uint32_t slice[8][256];
};

constexpr Crc32Tables makeCrc32Tables() {
  Crc32Tables tables{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc >> 1) ^ (kReflectedPolynomial & (0u - (crc & 1u)));
    tables.slice[0][byte] = crc;
  }
  for (uint32_t byte = 0; byte < 256; ++byte)
    for (int k = 1; k < 8; ++k) {
      uint32_t previous = tables.slice[k - 1][byte];
      tables.slice[k][byte] =
          (previous >> 8) ^ tables.slice[0][previous & 0xFFu];
    }
  return tables;
}

constexpr Crc32Tables kTables = makeCrc32Tables();

// Assembled byte by byte so the result does not depend on host endianness;
// compilers turn this into one load on little-endian machines.
inline uint32_t loadLittleEndian32(const unsigned char *bytes) {
  return static_cast<uint32_t>(bytes[0]) |
         static_cast<uint32_t>(bytes[1]) << 8 |
         static_cast<uint32_t>(bytes[2]) << 16 |
         static_cast<uint32_t>(bytes[3]) << 24;
}

} // namespace

extern "C" uint32_t kiln_crc32(uint32_t crc, const void *data, size_t size) {
  const unsigned char *bytes = static_cast<const unsigned char *>(data);
  const auto &t = kTables.slice;
  crc = ~crc;
  while (size >= 8) {
    uint32_t low = loadLittleEndian32(bytes) ^ crc;
    uint32_t high = loadLittleEndian32(bytes + 4);
    crc = t[7][low & 0xFF] ^ t[6][(low >> 8) & 0xFF] ^
          t[5][(low >> 16) & 0xFF] ^ t[4][low >> 24] ^ t[3][high & 0xFF] ^
          t[2][(high >> 8) & 0xFF] ^ t[1][(high >> 16) & 0xFF] ^
          t[0][high >> 24];
    bytes += 8;
    size -= 8;
  }
  while (size--)
    crc = t[0][(crc ^ *bytes++) & 0xFF] ^ (crc >> 8);
  return ~crc;
}
