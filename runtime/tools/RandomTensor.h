//===- RandomTensor.h - Seeded random input data ----------------*- C++ -*-===//
#ifndef KILN_RUNTIME_TOOLS_RANDOMTENSOR_H
#define KILN_RUNTIME_TOOLS_RANDOMTENSOR_H

#include "kiln/kiln.h"

#include <cstdint>

namespace kiln::tools {

/// Fills `size` bytes of `dtype` elements: floats uniform in [-1, 1], integers
/// in [0, 10), bools 0/1. The same (seed, stream) gives the same bytes on
/// every platform (own generator; <random> distributions are not portable).
void fillRandom(kiln_dtype dtype, void *data, uint64_t size, uint64_t seed,
                uint64_t stream);

/// IEEE binary16 / bfloat16 bits nearest to `value` (ties to even).
uint16_t floatToHalfBits(float value);
uint16_t floatToBFloat16Bits(float value);
float halfBitsToFloat(uint16_t bits);

} // namespace kiln::tools

#endif // KILN_RUNTIME_TOOLS_RANDOMTENSOR_H
