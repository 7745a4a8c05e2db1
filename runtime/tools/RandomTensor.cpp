//===- RandomTensor.cpp - Seeded random input data ------------------------===//

#include "RandomTensor.h"

#include <cstring>

namespace kiln::tools {
namespace {

/// SplitMix64: tiny, fast, and identical everywhere.
class SplitMix64 {
public:
  explicit SplitMix64(uint64_t seed) : state(seed) {}
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [-1, 1) with 24 bits of resolution (exact in f32).
  float nextSigned() {
    return static_cast<float>(next() >> 40) * (2.0f / 16777216.0f) - 1.0f;
  }

private:
  uint64_t state;
};

template <typename T> void store(uint8_t *out, uint64_t index, T value) {
  std::memcpy(out + index * sizeof(T), &value, sizeof(T));
}

} // namespace

uint16_t floatToHalfBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude >= 0x7F800000u) // infinity or NaN
    return sign | (magnitude > 0x7F800000u ? 0x7E00u : 0x7C00u);
  if (magnitude >= 0x477FF000u) // rounds past the largest half: infinity
    return sign | 0x7C00u;
  if (magnitude < 0x38800000u) { // below the smallest normal half
    if (magnitude < 0x33000000u)
      return sign; // rounds to zero
    // Subnormal: shift the implicit-one mantissa into place, round to even.
    uint32_t exponent = magnitude >> 23;
    uint32_t mantissa = (magnitude & 0x7FFFFFu) | 0x800000u;
    uint32_t shift = 126 - exponent; // 14..24
    uint32_t half = mantissa >> shift;
    uint32_t remainder = mantissa & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (remainder > halfway || (remainder == halfway && (half & 1)))
      ++half;
    return sign | static_cast<uint16_t>(half);
  }
  // Normal: rebias the exponent, round the dropped 13 bits to even.
  uint32_t rebased = magnitude - 0x38000000u;
  uint32_t half = rebased >> 13;
  uint32_t remainder = rebased & 0x1FFFu;
  if (remainder > 0x1000u || (remainder == 0x1000u && (half & 1)))
    ++half;
  return sign | static_cast<uint16_t>(half);
}

float halfBitsToFloat(uint16_t bits) {
  uint32_t sign = uint32_t(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1F;
  uint32_t mantissa = bits & 0x3FF;
  uint32_t result;
  if (exponent == 0x1F) {
    result = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) {
    result = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    result = sign;
  } else { // subnormal half: normalise
    int shift = 0;
    while (!(mantissa & 0x400)) {
      mantissa <<= 1;
      ++shift;
    }
    result = sign | (uint32_t(113 - shift) << 23) | ((mantissa & 0x3FF) << 13);
  }
  float value;
  std::memcpy(&value, &result, 4);
  return value;
}

uint16_t floatToBFloat16Bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) // keep NaN a NaN
    return static_cast<uint16_t>((bits >> 16) | 0x40u);
  bits += 0x7FFFu + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}

void fillRandom(kiln_dtype dtype, void *data, uint64_t size, uint64_t seed,
                uint64_t stream) {
  SplitMix64 random(seed ^ (stream * 0xD1B54A32D192ED03ull));
  uint8_t *out = static_cast<uint8_t *>(data);
  uint32_t elementSize = kiln_dtype_size(dtype);
  if (elementSize == 0)
    return;
  uint64_t count = size / elementSize;
  for (uint64_t i = 0; i < count; ++i) {
    switch (dtype) {
    case KILN_DTYPE_F32:
      store(out, i, random.nextSigned());
      break;
    case KILN_DTYPE_F64:
      store(out, i, static_cast<double>(random.nextSigned()));
      break;
    case KILN_DTYPE_F16:
      store(out, i, floatToHalfBits(random.nextSigned()));
      break;
    case KILN_DTYPE_BF16:
      store(out, i, floatToBFloat16Bits(random.nextSigned()));
      break;
    case KILN_DTYPE_BOOL:
      store(out, i, static_cast<uint8_t>(random.next() & 1));
      break;
    default: {
      // Integers: [0, 10) fits every integer dtype; store the low bytes.
      uint64_t value = random.next() % 10;
      std::memcpy(out + i * elementSize, &value, elementSize);
      break;
    }
    }
  }
}

} // namespace kiln::tools
