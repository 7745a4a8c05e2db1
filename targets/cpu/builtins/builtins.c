/*
 * The C library functions LLVM may emit calls to when it lowers generated
 * code (llvm.memcpy/memset intrinsics, copy loops it recognises). Kiln
 * executables have no imports, so each one carries its own. Compiled to
 * bitcode per target (-ffreestanding -fno-builtin, so these loops are never
 * turned back into calls to themselves) and linked into every executable.
 */
#include <stddef.h>

#define KILN_BUILTIN __attribute__((visibility("hidden")))

KILN_BUILTIN void *memcpy(void *restrict dst, const void *restrict src,
                          size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  for (size_t i = 0; i < n; ++i)
    d[i] = s[i];
  return dst;
}

KILN_BUILTIN void *memmove(void *dst, const void *src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  if (d < s) {
    for (size_t i = 0; i < n; ++i)
      d[i] = s[i];
  } else {
    for (size_t i = n; i > 0; --i)
      d[i - 1] = s[i - 1];
  }
  return dst;
}

KILN_BUILTIN void *memset(void *dst, int value, size_t n) {
  unsigned char *d = dst;
  for (size_t i = 0; i < n; ++i)
    d[i] = (unsigned char)value;
  return dst;
}
