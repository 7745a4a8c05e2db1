//===- kiln-compare.cpp - Compare two .npy outputs within a tolerance -----===//
//
// For the GPU check, which runs where there is no Python: compares an output
// of a GPU run with the CPU's, and prints
//   max relative error <e>
// where e = max|a - b| / max|b| over the tensor (relative to its largest
// magnitude, so that near-zero values do not dominate); NaNs must match.
// Integer and boolean tensors must be equal. Exit 0 when e <= --tolerance,
// 1 when not, 2 when the files cannot be compared.
//
//   kiln-compare ACTUAL.npy EXPECTED.npy [--tolerance 1e-4]
//
//===----------------------------------------------------------------------===//

#include "NpyFile.h"
#include "RandomTensor.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

/// Element `i` as a double, for floating-point dtypes; false for others.
bool floatAt(const kiln::tools::HostTensor &t, size_t i, double &value) {
  const uint8_t *p = t.data.data();
  switch (t.dtype) {
  case KILN_DTYPE_F32: {
    float f;
    std::memcpy(&f, p + 4 * i, 4);
    value = f;
    return true;
  }
  case KILN_DTYPE_F64:
    std::memcpy(&value, p + 8 * i, 8);
    return true;
  case KILN_DTYPE_F16: {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    value = kiln::tools::halfBitsToFloat(h);
    return true;
  }
  case KILN_DTYPE_BF16: {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    uint32_t bits = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    value = f;
    return true;
  }
  default:
    return false;
  }
}

} // namespace

int main(int argc, char **argv) {
  double tolerance = 1e-4;
  std::string paths[2];
  int count = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--tolerance" && i + 1 < argc)
      tolerance = std::strtod(argv[++i], nullptr);
    else if (count < 2)
      paths[count++] = arg;
  }
  if (count != 2) {
    std::fprintf(
        stderr,
        "usage: kiln-compare ACTUAL.npy EXPECTED.npy [--tolerance T]\n");
    return 2;
  }
  kiln::tools::HostTensor actual, expected;
  std::string error;
  if (!kiln::tools::readNpy(paths[0], actual, error) ||
      !kiln::tools::readNpy(paths[1], expected, error)) {
    std::fprintf(stderr, "kiln-compare: %s\n", error.c_str());
    return 2;
  }
  if (actual.dtype != expected.dtype || actual.dims != expected.dims ||
      actual.data.size() != expected.data.size()) {
    std::fprintf(stderr, "kiln-compare: %s and %s differ in type or shape\n",
                 paths[0].c_str(), paths[1].c_str());
    return 1;
  }
  size_t elementSize = kiln_dtype_element_size(expected.dtype);
  size_t elements = elementSize ? expected.data.size() / elementSize : 0;
  double value;
  if (!elements || !floatAt(expected, 0, value)) {
    bool same = actual.data == expected.data;
    std::printf("%s\n", same ? "equal" : "not equal");
    return same ? 0 : 1;
  }
  double worst = 0, scale = 0;
  for (size_t i = 0; i < elements; ++i) {
    double a, b;
    floatAt(actual, i, a);
    floatAt(expected, i, b);
    if (std::isnan(a) != std::isnan(b) || (std::isinf(b) && a != b)) {
      std::printf("max relative error inf (element %zu: %g, expected %g)\n", i,
                  a, b);
      return 1;
    }
    if (std::isnan(b) || std::isinf(b))
      continue;
    worst = std::fmax(worst, std::fabs(a - b));
    scale = std::fmax(scale, std::fabs(b));
  }
  double relative = scale > 0 ? worst / scale : worst;
  std::printf("max relative error %.3g\n", relative);
  return relative <= tolerance ? 0 : 1;
}
