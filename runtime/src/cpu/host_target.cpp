//===- host_target.cpp - Which executables this CPU can run ---------------===//

#include "host_target.h"

#include <elf.h>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
// Linux's arm64 HWCAP bits (stable kernel ABI), in case an old or minimal
// sysroot lacks them.
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1ul << 10)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1ul << 20)
#endif
#endif

namespace kiln::runtime {

namespace {

#if defined(__x86_64__)
bool hostHasAvx2Fma() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
// The compiler's CPU model checks that the OS saves the zmm state too.
bool hostHasAvx512() {
  return hostHasAvx2Fma() && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl");
}
bool hostHasAvx512Vnni() {
  return hostHasAvx512() && __builtin_cpu_supports("avx512vnni");
}
#elif defined(__aarch64__)
bool hostHasDotprodFp16() {
#if defined(__linux__)
  unsigned long hwcaps = getauxval(AT_HWCAP);
  return (hwcaps & HWCAP_ASIMDDP) && (hwcaps & HWCAP_ASIMDHP);
#else
  return false;
#endif
}
#endif

} // namespace

int hostTargetRank(uint32_t target) {
  switch (target) {
#if defined(__x86_64__)
  case KILN_TARGET_X86_64_AVX2:
    return hostHasAvx2Fma() ? 1 : 0;
  case KILN_TARGET_X86_64_AVX512:
    return hostHasAvx512() ? 2 : 0;
  case KILN_TARGET_X86_64_AVX512_VNNI:
    return hostHasAvx512Vnni() ? 3 : 0;
#elif defined(__aarch64__)
  case KILN_TARGET_AARCH64_NEON: // NEON is part of every ARMv8-A Linux host
    return 1;
  case KILN_TARGET_AARCH64_NEON_DOTPROD_FP16:
    return hostHasDotprodFp16() ? 2 : 0;
#endif
  default:
    return 0;
  }
}

uint16_t elfMachineForTarget(uint32_t target) {
  switch (target) {
  case KILN_TARGET_X86_64_AVX2:
  case KILN_TARGET_X86_64_AVX512:
  case KILN_TARGET_X86_64_AVX512_VNNI:
    return EM_X86_64;
  case KILN_TARGET_AARCH64_NEON:
  case KILN_TARGET_AARCH64_NEON_DOTPROD_FP16:
    return EM_AARCH64;
  default:
    return 0;
  }
}

uint16_t hostElfMachine() {
#if defined(__x86_64__)
  return EM_X86_64;
#elif defined(__aarch64__)
  return EM_AARCH64;
#else
  return 0;
#endif
}

const char *hostDescription() {
#if defined(__x86_64__)
  bool avx2 = __builtin_cpu_supports("avx2");
  bool fma = __builtin_cpu_supports("fma");
  if (hostHasAvx512Vnni())
    return "x86_64 (avx2, fma, avx512, avx512vnni)";
  if (hostHasAvx512())
    return "x86_64 (avx2, fma, avx512)";
  if (avx2 && fma)
    return "x86_64 (avx2, fma)";
  if (avx2)
    return "x86_64 (avx2, no fma)";
  if (fma)
    return "x86_64 (fma, no avx2)";
  return "x86_64 (no avx2, no fma)";
#elif defined(__aarch64__)
  return hostHasDotprodFp16() ? "aarch64 (neon, dotprod, fp16)"
                              : "aarch64 (neon)";
#else
  return "an architecture Kiln has no CPU target for";
#endif
}

} // namespace kiln::runtime
