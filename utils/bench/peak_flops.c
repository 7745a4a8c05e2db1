/*
 * Peak FP32 FLOP/s of one core, per vector ISA: the yardstick the benchmark
 * table divides each convolution model's FLOP/s by.
 *
 *   cc -O2 -o peak_flops utils/bench/peak_flops.c && ./peak_flops
 *   avx2 96.3
 *   avx512 188.0
 *
 * Each line is an ISA the host runs and its best GFLOP/s over several
 * repetitions of a loop of independent fused multiply-adds (12 accumulators
 * hide the FMA latency on every x86 core measured so far). compare.py builds
 * and runs it. On AArch64 it measures NEON fmla.
 */
#include <stdio.h>
#include <time.h>

enum { ACCUMULATORS = 12 };

/* Keeps the loop from being folded: the accumulator must be in a register. */
#if defined(__aarch64__)
#define VECTOR_REGISTER(v) "+w"(v)
#else
#define VECTOR_REGISTER(v) "+v"(v)
#endif

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Runs `iterations` x ACCUMULATORS FMAs of vector type V; returns a value
 * that depends on every accumulator so none is optimised away. The
 * accumulators are named variables (an array of vectors may live on the
 * stack) and each iteration's empty asm pins them to registers. */
#define FMA_LOOP(name, V, attributes)                                          \
  __attribute__((attributes, noinline)) static float name(long iterations) {   \
    V a, b;                                                                    \
    for (unsigned i = 0; i < sizeof(V) / sizeof(float); ++i)                   \
      a[i] = 1.0000001f, b[i] = 1e-7f;                                         \
    V c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a;                          \
    V c6 = b, c7 = b, c8 = b, c9 = b, c10 = b, c11 = b;                        \
    for (long it = 0; it < iterations; ++it) {                                 \
      c0 = c0 * a + b, c1 = c1 * a + b, c2 = c2 * a + b, c3 = c3 * a + b;      \
      c4 = c4 * a + b, c5 = c5 * a + b, c6 = c6 * a + b, c7 = c7 * a + b;      \
      c8 = c8 * a + b, c9 = c9 * a + b, c10 = c10 * a + b, c11 = c11 * a + b;  \
      __asm__ volatile(                                                        \
          ""                                                                   \
          : VECTOR_REGISTER(c0), VECTOR_REGISTER(c1), VECTOR_REGISTER(c2),     \
            VECTOR_REGISTER(c3), VECTOR_REGISTER(c4), VECTOR_REGISTER(c5),     \
            VECTOR_REGISTER(c6), VECTOR_REGISTER(c7), VECTOR_REGISTER(c8),     \
            VECTOR_REGISTER(c9), VECTOR_REGISTER(c10), VECTOR_REGISTER(c11));  \
    }                                                                          \
    V sum = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;       \
    return sum[0];                                                             \
  }

typedef float (*fma_loop)(long);

/* Best GFLOP/s of `loop` over repetitions of about 50 ms each. */
static double measure(fma_loop loop, int lanes) {
  long iterations = 1000000;
  double best = 0;
  volatile float sink;
  for (int rep = 0; rep < 12; ++rep) {
    double start = seconds();
    sink = loop(iterations);
    double elapsed = seconds() - start;
    if (elapsed < 0.02) {
      iterations *= 4;
      continue;
    }
    double gflops = iterations * ACCUMULATORS * lanes * 2.0 / elapsed / 1e9;
    if (gflops > best)
      best = gflops;
  }
  (void)sink;
  return best;
}

#if defined(__x86_64__)
typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));
FMA_LOOP(fma_avx2, v8f, target("avx2,fma"))
FMA_LOOP(fma_avx512, v16f, target("avx512f"))

int main(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    printf("avx2 %.1f\n", measure(fma_avx2, 8));
  if (__builtin_cpu_supports("avx512f"))
    printf("avx512 %.1f\n", measure(fma_avx512, 16));
  return 0;
}
#elif defined(__aarch64__)
typedef float v4f __attribute__((vector_size(16)));
FMA_LOOP(fma_neon, v4f, target("neon"))

int main(void) {
  printf("neon %.1f\n", measure(fma_neon, 4));
  return 0;
}
#else
int main(void) {
  fprintf(stderr, "peak_flops: no probe for this architecture\n");
  return 1;
}
#endif
