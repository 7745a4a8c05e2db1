/* A firmware-style program that classifies Fashion-MNIST images with a
 * Kiln-compiled CNN: no C library, no heap, no dynamic linking. The model's
 * code is fashion.o (kiln compile --emit static-lib), its weights and
 * schedule the bundle fashion.kiln placed in read-only memory by data.S
 * (flash on a board), the arena a static buffer.
 *
 * Its only contact with an OS is put() and finish(): two Linux system calls,
 * so that it runs under qemu-aarch64; on a board they would write to a UART
 * and halt. */
#include "fashion.h"

#include <stddef.h>
#include <stdint.h>

#define IMAGE_COUNT 10
#define IMAGE_PIXELS (28 * 28)

/* data.S */
extern const unsigned char fashion_bundle[], fashion_bundle_end[];
extern const float fashion_images[IMAGE_COUNT * IMAGE_PIXELS];

static const char *const kClassNames[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* All the memory Kiln uses: the model's state and its arena. */
static kiln_core_model model;
static unsigned char arena[KILN_FASHION_ARENA_SIZE]
    __attribute__((aligned(KILN_CORE_ARENA_ALIGNMENT)));

/* The C library subset the core and the model's code may call. (-ffreestanding
 * keeps the compiler from turning these loops back into calls.) */
void *memcpy(void *to, const void *from, size_t n) {
  unsigned char *d = to;
  const unsigned char *s = from;
  while (n--)
    *d++ = *s++;
  return to;
}
void *memmove(void *to, const void *from, size_t n) {
  unsigned char *d = to;
  const unsigned char *s = from;
  if (d < s)
    while (n--)
      *d++ = *s++;
  else
    while (n--)
      d[n] = s[n];
  return to;
}
void *memset(void *to, int value, size_t n) {
  unsigned char *d = to;
  while (n--)
    *d++ = (unsigned char)value;
  return to;
}
int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  for (; n; --n, ++x, ++y)
    if (*x != *y)
      return *x - *y;
  return 0;
}

static long linux_syscall(long number, long a, long b, long c) {
  register long x8 __asm__("x8") = number;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
  return x0;
}

static void put(const char *text) {
  size_t length = 0;
  while (text[length])
    ++length;
  linux_syscall(64 /* write */, 1, (long)text, (long)length);
}

static void put_uint(unsigned value) {
  char digits[12];
  int at = sizeof(digits) - 1;
  digits[at] = '\0';
  do {
    digits[--at] = (char)('0' + value % 10);
    value /= 10;
  } while (value);
  put(digits + at);
}

__attribute__((noreturn)) static void finish(int status) {
  linux_syscall(93 /* exit */, status, 0, 0);
  for (;;)
    ;
}

static int classify(void) {
  kiln_status status = kiln_core_open(
      &model, fashion_bundle, (size_t)(fashion_bundle_end - fashion_bundle),
      &kiln_fashion_entry_table);
  if (status != KILN_OK) {
    put("kiln_core_open: ");
    put(kiln_core_error(&model));
    put("\n");
    return 1;
  }
  float *input = kiln_core_input(&model, arena, KILN_FASHION_INPUT_IMAGE);
  for (int i = 0; i < IMAGE_COUNT; ++i) {
    memcpy(input, fashion_images + i * IMAGE_PIXELS,
           IMAGE_PIXELS * sizeof(float));
    if (kiln_core_run(&model, arena, sizeof(arena)) != KILN_OK) {
      put("kiln_core_run: ");
      put(kiln_core_error(&model));
      put("\n");
      return 1;
    }
    const float *logits =
        kiln_core_output(&model, arena, KILN_FASHION_OUTPUT_LOGITS);
    unsigned best = 0;
    for (unsigned c = 1; c < 10; ++c)
      if (logits[c] > logits[best])
        best = c;
    put("image ");
    put_uint((unsigned)i);
    put(": class ");
    put_uint(best);
    put(" (");
    put(kClassNames[best]);
    put(")\n");
  }
  return 0;
}

/* The entry point: the loader (or a board's reset code) jumps here with a
 * valid stack. */
void _start(void) { finish(classify()); }
