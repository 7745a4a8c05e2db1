/*
 * The C library functions LLVM may emit calls to when it lowers generated
 * code (llvm.memcpy/memset intrinsics, copy loops it recognises). Kiln
 * executables have no imports, so each one carries its own. Compiled to
 * bitcode per target (-ffreestanding -fno-builtin, so these loops are never
 * turned back into calls to themselves) and linked into every executable.
 * The mem* functions stay calls: inlined where the size is a constant, each
 * copy's vector loop was unrolled in full (a row-sliced split of the
 * encoder's [128, 768] took LLVM a minute).
 */
#include <stddef.h>

#define KILN_BUILTIN __attribute__((visibility("hidden")))
#define KILN_CALLED_BUILTIN __attribute__((visibility("hidden"), noinline))

KILN_CALLED_BUILTIN void *memcpy(void *restrict dst, const void *restrict src,
                                 size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  for (size_t i = 0; i < n; ++i)
    d[i] = s[i];
  return dst;
}

KILN_CALLED_BUILTIN void *memmove(void *dst, const void *src, size_t n) {
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

KILN_CALLED_BUILTIN void *memset(void *dst, int value, size_t n) {
  unsigned char *d = dst;
  for (size_t i = 0; i < n; ++i)
    d[i] = (unsigned char)value;
  return dst;
}

/*
 * fmod: the remainder x - n*y with n = trunc(x/y), computed exactly by
 * subtracting y scaled by powers of two (each subtraction is exact by
 * Sterbenz's lemma). LLVM lowers `frem` to these calls.
 */
#define KILN_DEFINE_FMOD(NAME, T)                                              \
  KILN_BUILTIN T NAME(T x, T y) {                                              \
    if (x != x || y != y || y == 0 || x - x != 0)                              \
      return (x - x) / (x - x) + (y - y); /* NaN */                            \
    T ax = x < 0 ? -x : x, ay = y < 0 ? -y : y;                                \
    if (ay - ay != 0 || ax < ay) /* y is infinite, or |x| < |y| */             \
      return x;                                                                \
    T t = ay;                                                                  \
    while (t <= ax / 2)                                                        \
      t *= 2;                                                                  \
    while (t >= ay) {                                                          \
      if (ax >= t)                                                             \
        ax -= t;                                                               \
      t /= 2;                                                                  \
    }                                                                          \
    return x < 0 ? -ax : ax;                                                   \
  }

KILN_DEFINE_FMOD(fmodf, float)
KILN_DEFINE_FMOD(fmod, double)
