//===- names.cpp - Names of statuses, targets and dtypes ------------------===//
//
// Part of the freestanding core.
//
//===----------------------------------------------------------------------===//

#include "names.h"

// memcpy/memcmp as __builtin_*: no libc headers (the core builds for
// bare-metal targets); they may still become calls the program provides.

namespace {

// C callers may pass any integer as an enum; in C++ an enum parameter outside
// the enumeration's range is undefined behaviour to read as such, so its
// bits are copied into an integer first.
template <typename Enum> uint32_t enumBits(const Enum &value) {
  static_assert(sizeof(Enum) == sizeof(uint32_t), "enums are 32-bit");
  uint32_t bits;
  __builtin_memcpy(&bits, &value, sizeof(bits));
  return bits;
}

} // namespace

namespace kiln::runtime {

const char *sectionKindName(uint32_t kind) {
  switch (kind) {
  case KILN_SECTION_MANIFEST:
    return "MANIFEST";
  case KILN_SECTION_STRINGS:
    return "STRINGS";
  case KILN_SECTION_SCHEDULE:
    return "SCHEDULE";
  case KILN_SECTION_WEIGHTS:
    return "WEIGHTS";
  case KILN_SECTION_EXECUTABLE:
    return "EXECUTABLE";
  case KILN_SECTION_DISPATCH_INFO:
    return "DISPATCH_INFO";
  default:
    return "unknown";
  }
}

const char *targetName(uint32_t target) {
  switch (target) {
  case KILN_TARGET_NONE:
    return "none";
  case KILN_TARGET_X86_64_AVX2:
    return "x86_64-avx2";
  case KILN_TARGET_X86_64_AVX512:
    return "x86_64-avx512";
  case KILN_TARGET_X86_64_AVX512_VNNI:
    return "x86_64-avx512-vnni";
  case KILN_TARGET_CUDA:
    return "cuda";
  case KILN_TARGET_AARCH64_NEON:
    return "aarch64-neon";
  case KILN_TARGET_AARCH64_NEON_DOTPROD_FP16:
    return "aarch64-neon-dotprod-fp16";
  default:
    return "unknown";
  }
}

const char *dtypeName(uint32_t dtype) {
  switch (dtype) {
  case KILN_DTYPE_F32:
    return "f32";
  case KILN_DTYPE_U8:
    return "u8";
  case KILN_DTYPE_I8:
    return "i8";
  case KILN_DTYPE_U16:
    return "u16";
  case KILN_DTYPE_I16:
    return "i16";
  case KILN_DTYPE_I32:
    return "i32";
  case KILN_DTYPE_I64:
    return "i64";
  case KILN_DTYPE_BOOL:
    return "bool";
  case KILN_DTYPE_F16:
    return "f16";
  case KILN_DTYPE_F64:
    return "f64";
  case KILN_DTYPE_U32:
    return "u32";
  case KILN_DTYPE_U64:
    return "u64";
  case KILN_DTYPE_BF16:
    return "bf16";
  default:
    return "invalid";
  }
}

} // namespace kiln::runtime

extern "C" {

const char *kiln_status_string(kiln_status status) {
  switch (enumBits(status)) {
  case KILN_OK:
    return "ok";
  case KILN_ERROR_INVALID_ARGUMENT:
    return "invalid argument";
  case KILN_ERROR_IO:
    return "I/O error";
  case KILN_ERROR_INVALID_BUNDLE:
    return "invalid bundle";
  case KILN_ERROR_UNSUPPORTED:
    return "unsupported";
  case KILN_ERROR_OUT_OF_MEMORY:
    return "out of memory";
  case KILN_ERROR_INTERNAL:
    return "internal error";
  default:
    return "unknown status";
  }
}

const char *kiln_section_kind_name(uint32_t kind) {
  return kiln::runtime::sectionKindName(kind);
}

const char *kiln_target_name(kiln_target target) {
  return kiln::runtime::targetName(enumBits(target));
}

const char *kiln_dtype_name(kiln_dtype dtype) {
  return kiln::runtime::dtypeName(enumBits(dtype));
}

uint32_t kiln_dtype_size(kiln_dtype dtype) {
  return kiln_dtype_element_size(enumBits(dtype));
}

} // extern "C"
