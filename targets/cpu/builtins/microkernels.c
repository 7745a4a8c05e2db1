/*
 * Register-tiled matrix multiplication for Kiln executables.
 *
 * C[m, n] += sum_k A(m, k) * B(k, n), blocked the way BLIS does it: B is
 * packed in KC x NC blocks of NR-column panels, A in MC x KC blocks of MR-row
 * panels, and an MR x NR register tile accumulates each panel pair. The tile
 * is written with GCC vector extensions, so the same C source becomes the
 * target's FMA code when the builtins are compiled for it (one bitcode per
 * builtins flavour, targets/cpu/CMakeLists.txt):
 *   - AVX-512 (x86_64-avx512): 12 x 32, 24 zmm accumulators, B rows as two
 *     zmm loads and A values as embedded broadcasts;
 *   - AVX2 (x86_64-avx2): 6 x 16, 12 ymm accumulators;
 *   - AArch64: 6 x 16, NEON fmla on 24 q registers; for f16 data in fp16
 *     arithmetic (--precision fp16 there) 6 x 32 halves, fmla on 8 halves.
 * The code is one template over the element type, gemm.inc. The blocking
 * (MC, KC, NC) is the same for all, so every target of a bundle asks for
 * the same workspace (f16 kernels use half of it).
 *
 * Convolutions use the same kernel with B packed straight from the (already
 * padded) image: an implicit im2col that never materialises the patch matrix.
 *
 * Built to bitcode with -ffreestanding -fno-builtin; no calls, no globals.
 */
#include "microkernels.h"

#include <stdint.h>

/* Overridable so that a benchmark can link the kernels directly. */
#ifndef KILN_BUILTIN
#define KILN_BUILTIN __attribute__((visibility("hidden")))
#endif

#if defined(__AVX512F__)
enum { MR = 12, VECTOR_FLOATS = 16 };
#else
enum { MR = 6, VECTOR_FLOATS = 8 };
#endif
enum {
  KC = KILN_UKERNEL_F32_KC,
  MC = KILN_UKERNEL_F32_MC,
  NC = KILN_UKERNEL_F32_NC
};

/* The accumulators live in registers only if the row loops are unrolled,
 * which clang's heuristics stop doing past 8 rows. */
#define UNROLL_ROWS _Pragma("clang loop unroll(full)")

/* 16 floats, and 16 f16 values (weights of --precision fp16). */
typedef float v16f __attribute__((vector_size(64), aligned(4)));
typedef _Float16 v16h __attribute__((vector_size(32), aligned(2)));

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Compile-time packed B (kiln.matmul_packed): [P, K, 16] for N columns,
 * column n of row k at [n / 16][k][n % 16], zero past N, P = 2 * ceil(N /
 * 32) so that a 32-wide tile never reads past the end. The same layout for
 * every target: AVX-512 tiles read two panels, AVX2 and NEON tiles one. */
enum { PACKED_PANEL = 16 };

/* The part of an m x n output that workgroup `wg` of `wgc` computes: blocks
 * of whole mr-row or nr-column panels. Each workgroup packs all of A when
 * columns are split and all of B when rows are, so split the dimension
 * whose duplicated packing is smaller (m > n: rows). Workgroups never share
 * outputs. */
static void workgroup_range(int64_t m, int64_t n, int64_t mr, int64_t nr,
                            int64_t wg, int64_t wgc, int64_t *m0, int64_t *m1,
                            int64_t *n0, int64_t *n1) {
  *m0 = 0, *m1 = m, *n0 = 0, *n1 = n;
  if (wgc <= 1)
    return;
  int64_t panels = (n + nr - 1) / nr;
  int64_t rowPanels = (m + mr - 1) / mr;
  if (panels >= wgc && !(m > n && rowPanels >= wgc)) {
    *n0 = min64(n, panels * wg / wgc * nr);
    *n1 = min64(n, panels * (wg + 1) / wgc * nr);
    return;
  }
  *m0 = min64(m, rowPanels * wg / wgc * mr);
  *m1 = min64(m, rowPanels * (wg + 1) / wgc * mr);
}

/* The matrix product, once per element type (gemm.inc):
 *   _f32       f32 A, C and arithmetic; B f32 or f16 weights (--precision
 *              fp16), widened as they are packed;
 *   _f16_fp16  f16 A, B, C in fp16 arithmetic (AArch64 with FP16,
 *              --precision fp16 there): 6 x 32 tiles of halves, 24 q
 *              accumulators, fmla on 8 halves. As in XNNPACK's and MLAS's
 *              f16 products, sums accumulate in f16. */
#define GEMM_T float
#define GEMM_VECTOR VECTOR_FLOATS
#define GEMM_MR MR
#define GEMM_ATTRIBUTES
#define GEMM_SUFFIX _f32
#include "gemm.inc"

#if defined(__aarch64__)
#define GEMM_T _Float16
#define GEMM_VECTOR 16
#define GEMM_MR 6
#define GEMM_ATTRIBUTES __attribute__((target("fullfp16")))
#define GEMM_SUFFIX _f16_fp16
#include "gemm.inc"
#endif

/* A workgroup's packing workspace: `bytes` per workgroup (see
 * microkernels.h). */
#define KILN_WORKSPACE(type, workspace, wg, bytes)                             \
  ((type *)((char *)(workspace) + (wg) * (bytes)))

/* C[m, n] (row stride n) += A(m, k) * B(k, n) with A(i, j) = a[i*sam + j*sak]
 * and B(i, j) = b[i*sbk + j*sbn]; this workgroup's share of it. */
KILN_BUILTIN void kiln_ukernel_matmul_f32(const float *a, const float *b,
                                          float *c, void *workspace, int64_t m,
                                          int64_t n, int64_t k, int64_t sam,
                                          int64_t sak, int64_t sbk, int64_t sbn,
                                          int64_t wg, int64_t wgc) {
  matmul_f32(
      a, b, 0, c,
      KILN_WORKSPACE(float, workspace, wg, KILN_UKERNEL_F32_WORKSPACE_BYTES), m,
      n, k, sam, sak, sbk, sbn, wg, wgc);
}

/* The same with f16 B (--precision fp16), widened as it is packed or, for
 * few rows, as it is read. */
KILN_BUILTIN void
kiln_ukernel_matmul_f32_f16w(const float *a, const _Float16 *b, float *c,
                             void *workspace, int64_t m, int64_t n, int64_t k,
                             int64_t sam, int64_t sak, int64_t sbk, int64_t sbn,
                             int64_t wg, int64_t wgc) {
  matmul_f32(
      a, 0, b, c,
      KILN_WORKSPACE(float, workspace, wg, KILN_UKERNEL_F32_WORKSPACE_BYTES), m,
      n, k, sam, sak, sbk, sbn, wg, wgc);
}

/* The same with B packed at compile time ([P, K, 16], see PACKED_PANEL):
 * nothing of B is packed at run time. */
KILN_BUILTIN void kiln_ukernel_matmul_packed_f32(
    const float *a, const float *packed, float *c, void *workspace, int64_t m,
    int64_t n, int64_t k, int64_t sam, int64_t sak, int64_t wg, int64_t wgc) {
  int64_t m0, m1, n0, n1;
  workgroup_range(m, n, MR, 2 * VECTOR_FLOATS, wg, wgc, &m0, &m1, &n0, &n1);
  gemm_f32(m0, m1, n0, n1, k, a, sam, sak, 0, packed, c, n,
           KILN_WORKSPACE(float, workspace, wg,
                          KILN_UKERNEL_F32_PACKED_WORKSPACE_BYTES));
}

/* The same with f16 panels (--precision fp16): each KC x NC block of them
 * is widened into the workspace (a full float workspace per workgroup),
 * once per MC rows of A, and the tiles read it as they read B packed at run
 * time. */
KILN_BUILTIN void
kiln_ukernel_matmul_packed_f32_f16w(const float *a, const _Float16 *packed,
                                    float *c, void *workspace, int64_t m,
                                    int64_t n, int64_t k, int64_t sam,
                                    int64_t sak, int64_t wg, int64_t wgc) {
  b_source_f32 source = {
      .half = packed, .panel_stride = k * PACKED_PANEL, .n = n};
  int64_t m0, m1, n0, n1;
  workgroup_range(m, n, MR, 2 * VECTOR_FLOATS, wg, wgc, &m0, &m1, &n0, &n1);
  gemm_f32(
      m0, m1, n0, n1, k, a, sam, sak, &source, 0, c, n,
      KILN_WORKSPACE(float, workspace, wg, KILN_UKERNEL_F32_WORKSPACE_BYTES));
}

#if defined(__aarch64__)
/* f16 products in fp16 arithmetic: the general one and the one by packed
 * panels, read in place (16 halves, one tile vector, per panel row). Their
 * workspaces are half the f32 kernels' (the same element counts). */
KILN_BUILTIN __attribute__((target("fullfp16"))) void
kiln_ukernel_matmul_f16_fp16(const _Float16 *a, const _Float16 *b, _Float16 *c,
                             void *workspace, int64_t m, int64_t n, int64_t k,
                             int64_t sam, int64_t sak, int64_t sbk, int64_t sbn,
                             int64_t wg, int64_t wgc) {
  matmul_f16_fp16(
      a, b, 0, c,
      KILN_WORKSPACE(_Float16, workspace, wg, KILN_UKERNEL_F32_WORKSPACE_BYTES),
      m, n, k, sam, sak, sbk, sbn, wg, wgc);
}

KILN_BUILTIN __attribute__((target("fullfp16"))) void
kiln_ukernel_matmul_packed_f16_fp16(const _Float16 *a, const _Float16 *packed,
                                    _Float16 *c, void *workspace, int64_t m,
                                    int64_t n, int64_t k, int64_t sam,
                                    int64_t sak, int64_t wg, int64_t wgc) {
  int64_t m0, m1, n0, n1;
  workgroup_range(m, n, 6, 32, wg, wgc, &m0, &m1, &n0, &n1);
  gemm_f16_fp16(m0, m1, n0, n1, k, a, sam, sak, 0, packed, c, n,
                KILN_WORKSPACE(_Float16, workspace, wg,
                               KILN_UKERNEL_F32_PACKED_WORKSPACE_BYTES));
}
#endif

/* Grouped 2-D convolution accumulating into `output` (this workgroup's
 * share of the output channels or positions):
 * input  [batch, groups, cpg, ih, iw] (already padded),
 * filter [groups, fpg, cpg, kh, kw], output [batch, groups, fpg, oh, ow]. */
KILN_BUILTIN void kiln_ukernel_conv2d_f32(
    const float *input, const float *filter, float *output, void *workspace,
    int64_t batch, int64_t groups, int64_t cpg, int64_t ih, int64_t iw,
    int64_t fpg, int64_t kh, int64_t kw, int64_t oh, int64_t ow, int64_t sh,
    int64_t sw, int64_t dh, int64_t dw, int64_t wg, int64_t wgc) {
  int64_t k = cpg * kh * kw, positions = oh * ow;
  int64_t m0, m1, n0, n1;
  workgroup_range(fpg, positions, MR, 2 * VECTOR_FLOATS, wg, wgc, &m0, &m1, &n0,
                  &n1);
  float *ws =
      KILN_WORKSPACE(float, workspace, wg, KILN_UKERNEL_F32_WORKSPACE_BYTES);
  for (int64_t image = 0; image < batch; ++image)
    for (int64_t g = 0; g < groups; ++g) {
      b_source_f32 source = {.data =
                                 input + (image * groups + g) * cpg * ih * iw,
                             .n = positions,
                             .ih = ih,
                             .iw = iw,
                             .kh = kh,
                             .kw = kw,
                             .ow = ow,
                             .sh = sh,
                             .sw = sw,
                             .dh = dh,
                             .dw = dw,
                             .conv = 1};
      gemm_f32(m0, m1, n0, n1, k, filter + g * fpg * k, k, 1, &source, 0,
               output + (image * groups + g) * fpg * positions, positions, ws);
    }
}

/*
 * Direct convolution on channel-blocked data (NCHW16c; kiln.conv2d_nchwc).
 *
 *   input  [N, C/16, H, W, 16], filter [F/16, C/16, KH, KW, 16 (c), 16 (f)]
 *   (packed at compile time), output [N, F/16, OH, OW, 16],
 *   out = activation(sum + bias[f] + residual)
 *
 * No packing and no padded copy: a tile is CONV_PIXELS consecutive output
 * pixels (of the flattened OH x OW plane, so small planes waste little) by
 * CONV_BLOCKS blocks of 16 output channels, accumulated in registers over
 * the whole reduction. Per input channel, each pixel's value is broadcast
 * and multiplied by the filter's 16-channel vector of each block. Pixels
 * whose window position falls in the padding read a block of zeros. The
 * epilogue adds bias and residual and applies the activation before the
 * tile is stored. Depthwise convolutions (one filter per channel) take the
 * same tiles with one block: per window position, each pixel's 16 channels
 * are multiplied by the position's 16 filter values, all vector operations.
 *   - AVX-512: 6 pixels x 4 blocks, 24 zmm accumulators (per input
 *     channel, 4 filter loads and 6 broadcasts feed 24 FMAs; 12 x 2 took
 *     14 loads, and ran 5-10% slower on resnet's 56x56 convolutions and
 *     stem on an AMD EPYC); depthwise tiles 12 pixels wide;
 *   - AVX2: 6 pixels x 1 block (two ymm each), 12 ymm accumulators;
 *   - AArch64: 6 pixels x 1 block (four q each), 24 q accumulators.
 */
enum { BLOCK = 16, CONV_PREFETCH_BYTES = 256 };
#if defined(__AVX512F__)
enum { CONV_PIXELS = 6, CONV_BLOCKS = 4, DEPTHWISE_PIXELS = 12 };
#else
enum { CONV_PIXELS = 6, CONV_BLOCKS = 1, DEPTHWISE_PIXELS = 6 };
#endif
/* The longest tile: the size of per-pixel arrays. */
enum {
  MAX_PIXELS = DEPTHWISE_PIXELS > CONV_PIXELS ? DEPTHWISE_PIXELS : CONV_PIXELS
};

typedef int32_t v16i __attribute__((vector_size(64), aligned(4)));

typedef uint8_t v16u8 __attribute__((vector_size(16), aligned(1)));
typedef int8_t v16s8 __attribute__((vector_size(16), aligned(1)));

static inline v16i load16i(const int32_t *p) {
  v16i v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

static inline v16f load16(const float *p) {
  v16f v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

static inline void store16(float *p, v16f v) {
  __builtin_memcpy(p, &v, sizeof v);
}

/* 16 f16 values: as they are, widened to f32 (exact), and stored from f32
 * (rounded to nearest even) or as they are. */
static inline v16h load16h(const _Float16 *p) {
  v16h v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

static inline v16f load16_half(const _Float16 *p) {
  return __builtin_convertvector(load16h(p), v16f);
}

static inline void store16_half(_Float16 *p, v16f v) {
  v16h h = __builtin_convertvector(v, v16h);
  __builtin_memcpy(p, &h, sizeof h);
}

#if defined(__aarch64__)
static inline void store16h(_Float16 *p, v16h v) {
  __builtin_memcpy(p, &v, sizeof v);
}
#endif

/* Pointers to elements of the types conv_nchwc.inc's instance reads. */
typedef struct {
  const void *input, *filter, *bias, *residual;
  void *output;
  int64_t cb, ih, iw, fb, kh, kw, oh, ow, sh, sw, dh, dw, pt, pl;
  int64_t activation;
  float low, high;
  /* Where the tile prefetches the next block group's filter (null: none);
   * see conv_units. */
  const char *prefetch;
  /* A 1x1, stride-1, unpadded convolution: output pixel p reads input
   * pixel p (set_flat). */
  int flat;
} conv_nchwc;

static void set_flat(conv_nchwc *s) {
  s->flat = s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 &&
            s->pt == 0 && s->pl == 0 && s->ih == s->oh && s->iw == s->ow;
}

/* The window's top-left input position of the tile's pixels (the last one
 * repeated past np); returns whether consecutive pixels of the full tile
 * read consecutive window positions: within one output row, or across rows
 * when the convolution maps the input plane onto the output plane one to
 * one (1x1, stride 1, no padding). */
static inline __attribute__((always_inline)) int
tile_positions(const conv_nchwc *s, int pixels, int64_t p0, int64_t np,
               int64_t top[MAX_PIXELS], int64_t left[MAX_PIXELS]) {
  /* One division for the tile; the pixels then step along the row. */
  int64_t row = p0 / s->ow, column = p0 % s->ow;
  UNROLL_ROWS for (int j = 0; j < pixels; ++j) {
    top[j] = row * s->sh - s->pt;
    left[j] = column * s->sw - s->pl;
    if (j + 1 < np && ++column == s->ow)
      column = 0, ++row;
  }
  return np == pixels && (s->flat || top[pixels - 1] == top[0]);
}

/* For a tile whose pixels read consecutive window positions (see
 * tile_positions): the offset (in floats, within one plane of pixels
 * `pixel_floats` wide) of its first pixel's input at window position (y, x)
 * when every pixel's input is inside the image, else -1. Two bounds checks
 * instead of one per pixel. */
static inline __attribute__((always_inline)) int64_t
row_offset(const conv_nchwc *s, int pixels, const int64_t top[MAX_PIXELS],
           const int64_t left[MAX_PIXELS], int64_t y, int64_t x,
           int64_t pixel_floats) {
  int64_t iy = top[0] + y * s->dh, first = left[0] + x * s->dw,
          last = left[pixels - 1] + x * s->dw;
  if ((uint64_t)iy >= (uint64_t)s->ih || first < 0 || last >= s->iw)
    return -1;
  return (iy * s->iw + first) * pixel_floats;
}

/* Offsets (in floats, within one plane of pixels `pixel_floats` wide) of
 * each pixel's input at window position (y, x), -1 in the padding. */
static inline __attribute__((always_inline)) void
window_offsets(const conv_nchwc *s, int pixels, const int64_t top[MAX_PIXELS],
               const int64_t left[MAX_PIXELS], int64_t y, int64_t x,
               int64_t pixel_floats, int64_t offset[MAX_PIXELS]) {
  UNROLL_ROWS for (int j = 0; j < pixels; ++j) {
    int64_t iy = top[j] + y * s->dh, ix = left[j] + x * s->dw;
    int in = (uint64_t)iy < (uint64_t)s->ih && (uint64_t)ix < (uint64_t)s->iw;
    offset[j] = in ? (iy * s->iw + ix) * pixel_floats : -1;
  }
}

/* Window positions whose offsets conv_tile precomputes; larger windows
 * compute them per input channel block. */
enum { CONV_MAX_POSITIONS = 49 };
/* Floats of the local image conv_tile_plain copies an edge tile's input
 * into (16 KB of stack). */
enum { PLAIN_LOCAL_FLOATS = 4096 };
/* The tile functions the kernels run: full width (CONV_PIXELS), and the
 * narrow tiles (a third as wide) that finish a plane whose pixel count is
 * not a multiple of the width, so that a 7x7 plane computes few pixels it
 * does not need; each with CONV_BLOCKS output blocks or, for the last group
 * of a count that is not a multiple, the blocks left. */
enum { CONV_TAIL = CONV_PIXELS / 3 };
enum { KILN_CONV_BLOCKED, KILN_CONV_PLAIN_INPUT };
typedef void (*conv_tile_fn)(const conv_nchwc *s, int64_t n, int64_t f0,
                             int64_t p0, int64_t np);
/* Depthwise tiles: DEPTHWISE_BLOCKS blocks from b0 (fewer at the end). */
enum { DEPTHWISE_BLOCKS = 4, DEPTHWISE_TAIL = DEPTHWISE_PIXELS / 3 };

/* Runs a unit of up to `width` pixels from p0: one wide tile, or narrow
 * ones (a third as wide) for the plane's last, partial unit. */
static inline __attribute__((always_inline)) void
run_unit(const conv_nchwc *s, conv_tile_fn wide, conv_tile_fn narrow,
         int64_t width, int64_t n, int64_t f0, int64_t p0, int64_t np) {
  if (np == width) {
    wide(s, n, f0, p0, np);
    return;
  }
  for (int64_t q = 0; q < np; q += width / 3)
    narrow(s, n, f0, p0 + q, min64(width / 3, np - q));
}

static float float_of_bits(int64_t bits) {
  uint32_t b = (uint32_t)bits;
  float f;
  __builtin_memcpy(&f, &b, sizeof f);
  return f;
}

/* Runs the share of an output of `groups` block groups by `tiles` pixel
 * tiles (all images) that workgroup wg of wgc computes, binding n, group
 * and tile for the body. Where there are tiles enough, a workgroup takes a
 * band of pixel tiles for every group, so a thread reads only its band of
 * the input, once, from its own cache; within the band the groups run one
 * after another so that a group's filter stays in cache across the tiles.
 * (resnet50 at 2 threads: 38 -> 30 ms against splitting groups first.)
 * Small planes split (group, tile) pairs instead, for balance. */
#define KILN_FOR_UNITS(batch, groups, tiles, wg, wgc, n, group, tile, ...)     \
  do {                                                                         \
    int64_t spatial_ = (batch) * (tiles);                                      \
    if (spatial_ >= 4 * (wgc)) {                                               \
      int64_t first_ = spatial_ * (wg) / (wgc),                                \
              end_ = spatial_ * ((wg) + 1) / (wgc);                            \
      for (int64_t group = 0; group < (groups); ++group)                       \
        for (int64_t u_ = first_; u_ < end_; ++u_) {                           \
          int64_t n = u_ / (tiles), tile = u_ % (tiles);                       \
          __VA_ARGS__;                                                         \
        }                                                                      \
    } else {                                                                   \
      int64_t units_ = (batch) * (groups) * (tiles);                           \
      int64_t first_ = units_ * (wg) / (wgc),                                  \
              end_ = units_ * ((wg) + 1) / (wgc);                              \
      for (int64_t u_ = first_; u_ < end_; ++u_) {                             \
        int64_t tile = u_ % (tiles), group = (u_ / (tiles)) % (groups),        \
                n = u_ / ((tiles) * (groups));                                 \
        __VA_ARGS__;                                                           \
      }                                                                        \
    }                                                                          \
  } while (0)

/* Output tiles: `width` consecutive pixels of the flattened plane (small
 * planes waste little), or, where tiles_per_row says so, of one output
 * row, so that a tile reads input rows and skips the window rows in the
 * padding (conv_tile_plain, depthwise_tile). Blocked dense convolutions
 * keep flat tiles: their channel loop amortises the tiles straddling rows,
 * and row tiles were no faster. */
static int64_t tiles_per_row(const conv_nchwc *s, int64_t width) {
  return s->ow >= width ? (s->ow + width - 1) / width : 0;
}

static int64_t tile_count(const conv_nchwc *s, int64_t row_tiles,
                          int64_t width) {
  return row_tiles ? s->oh * row_tiles : (s->oh * s->ow + width - 1) / width;
}

/* Tile `tile`'s first pixel p0 and pixel count np. */
static inline __attribute__((always_inline)) void
tile_span(const conv_nchwc *s, int64_t row_tiles, int64_t width, int64_t tile,
          int64_t *p0, int64_t *np) {
  if (row_tiles) {
    int64_t column = tile % row_tiles * width;
    *p0 = tile / row_tiles * s->ow + column;
    *np = min64(width, s->ow - column);
  } else {
    *p0 = tile * width;
    *np = min64(width, s->oh * s->ow - *p0);
  }
}

#define KILN_CONV_ARGUMENTS                                                    \
  const void *input, const void *filter, const void *bias,                     \
      const void *residual, void *output, void *workspace, int64_t batch,      \
      int64_t cb, int64_t ih, int64_t iw, int64_t fb, int64_t kh, int64_t kw,  \
      int64_t oh, int64_t ow, int64_t sh, int64_t sw, int64_t dh, int64_t dw,  \
      int64_t pt, int64_t pl, int64_t activation, int64_t low_bits,            \
      int64_t high_bits, int64_t wg, int64_t wgc
#define KILN_CONV_STATE                                                        \
  (void)workspace;                                                             \
  conv_nchwc s = {input,                                                       \
                  filter,                                                      \
                  bias,                                                        \
                  residual,                                                    \
                  output,                                                      \
                  cb,                                                          \
                  ih,                                                          \
                  iw,                                                          \
                  fb,                                                          \
                  kh,                                                          \
                  kw,                                                          \
                  oh,                                                          \
                  ow,                                                          \
                  sh,                                                          \
                  sw,                                                          \
                  dh,                                                          \
                  dw,                                                          \
                  pt,                                                          \
                  pl,                                                          \
                  activation,                                                  \
                  float_of_bits(low_bits),                                     \
                  float_of_bits(high_bits),                                    \
                  0,                                                           \
                  0};                                                          \
  set_flat(&s)

/* The float convolution kernels, once per pair of element types:
 *   _f32       f32 data and weights;
 *   _f32_f16w  f32 data, f16 weights (--precision fp16), widened as they
 *              are loaded (F16C's vcvtph2ps on x86, fcvtl on AArch64);
 *   _f16       f16 data and weights computed in f32 (a model of f16
 *              tensors on a target without fp16 arithmetic), every value
 *              widened as it is loaded and rounded as it is stored;
 *   _f16_fp16  f16 data and weights computed in fp16 arithmetic (AArch64
 *              with FP16: fmla on 8 halves; --precision fp16 there). */
#define CONV_DATA_T float
#define CONV_FILTER_T float
#define CONV_ACC_T float
#define CONV_VEC v16f
#define CONV_LOAD_DATA(p) load16(p)
#define CONV_LOAD_FILTER(p) load16(p)
#define CONV_STORE_DATA(p, v) store16(p, v)
#define CONV_ATTRIBUTES
#define CONV_SUFFIX _f32
#include "conv_nchwc.inc"

#define CONV_DATA_T float
#define CONV_FILTER_T _Float16
#define CONV_ACC_T float
#define CONV_VEC v16f
#define CONV_LOAD_DATA(p) load16(p)
#define CONV_LOAD_FILTER(p) load16_half(p)
#define CONV_STORE_DATA(p, v) store16(p, v)
#define CONV_ATTRIBUTES
#define CONV_SUFFIX _f32_f16w
#include "conv_nchwc.inc"

#define CONV_DATA_T _Float16
#define CONV_FILTER_T _Float16
#define CONV_ACC_T float
#define CONV_VEC v16f
#define CONV_LOAD_DATA(p) load16_half(p)
#define CONV_LOAD_FILTER(p) load16_half(p)
#define CONV_STORE_DATA(p, v) store16_half(p, v)
#define CONV_ATTRIBUTES
#define CONV_SUFFIX _f16
#include "conv_nchwc.inc"

#if defined(__aarch64__)
#define CONV_DATA_T _Float16
#define CONV_FILTER_T _Float16
#define CONV_ACC_T _Float16
#define CONV_VEC v16h
#define CONV_LOAD_DATA(p) load16h(p)
#define CONV_LOAD_FILTER(p) load16h(p)
#define CONV_STORE_DATA(p, v) store16h(p, v)
#define CONV_ATTRIBUTES __attribute__((target("fullfp16")))
#define CONV_SUFFIX _f16_fp16
#include "conv_nchwc.inc"
#endif

/* Max pooling of channel-blocked data: input [N, C/16, H, W, 16], output
 * [N, C/16, OH, OW, 16]; window positions outside the input are skipped
 * (ONNX pads max pools with -inf), so no padded copy is made. NaN wins, as
 * in the generic the call replaces (arith.maximumf): it is tracked beside
 * the maximum, off the dependency chain. POOL_PIXELS outputs at a time, so
 * that the comparisons of one window position are independent (one output
 * at a time waited on each comparison: resnet50's stem pool 0.17 ms
 * alone). Workgroups share (image, block, output row) units. */
enum { POOL_PIXELS = 8 };
KILN_BUILTIN void kiln_ukernel_max_pool_nchwc_f32(
    const float *input, float *output, void *workspace, int64_t batch,
    int64_t cb, int64_t ih, int64_t iw, int64_t kh, int64_t kw, int64_t oh,
    int64_t ow, int64_t sh, int64_t sw, int64_t dh, int64_t dw, int64_t pt,
    int64_t pl, int64_t wg, int64_t wgc) {
  (void)workspace;
  int64_t units = batch * cb * oh;
  int64_t first = units * wg / wgc, end = units * (wg + 1) / wgc;
  for (int64_t u = first; u < end; ++u) {
    int64_t plane = u / oh, oy = u % oh;
    const float *image = input + plane * ih * iw * BLOCK;
    float *row = output + u * ow * BLOCK;
    /* The window rows inside the input. */
    int64_t y0 = 0, y1 = kh;
    while (y0 < y1 && oy * sh - pt + y0 * dh < 0)
      ++y0;
    while (y1 > y0 && oy * sh - pt + (y1 - 1) * dh >= ih)
      --y1;
    for (int64_t ox = 0; ox < ow; ox += POOL_PIXELS) {
      int64_t np = min64(POOL_PIXELS, ow - ox);
      v16f best[POOL_PIXELS];
      v16i nan[POOL_PIXELS];
      UNROLL_ROWS for (int j = 0; j < POOL_PIXELS; ++j) {
        best[j] = (v16f){0} - __builtin_inff();
        nan[j] = (v16i){0};
      }
      for (int64_t y = y0; y < y1; ++y) {
        const float *line = image + (oy * sh - pt + y * dh) * iw * BLOCK;
        for (int64_t x = 0; x < kw; ++x) {
          int64_t ix = ox * sw - pl + x * dw;
          UNROLL_ROWS for (int j = 0; j < POOL_PIXELS; ++j) {
            int64_t at = ix + j * sw;
            if (j < np && (uint64_t)at < (uint64_t)iw) {
              v16f v = load16(line + at * BLOCK);
              v16i greater = v > best[j];
              nan[j] |= v != v;
              best[j] =
                  (v16f)(((v16i)v & greater) | ((v16i)best[j] & ~greater));
            }
          }
        }
      }
      UNROLL_ROWS for (int j = 0; j < POOL_PIXELS; ++j) {
        if (j >= np)
          break;
        v16f quiet = (v16f){0} + __builtin_nanf("");
        v16f v = (v16f)(((v16i)quiet & nan[j]) | ((v16i)best[j] & ~nan[j]));
        __builtin_memcpy(row + (ox + j) * BLOCK, &v, sizeof v);
      }
    }
  }
}

/*
 * 8-bit integer matrix multiplication (ONNX MatMulInteger):
 *
 *   C[m, n] += sum_k (A(m, k) - za[m]) * (B(k, n) - zb[n])   in int32,
 *
 * with A and B each int8 or uint8. Packing maps uint8 to int8 by flipping
 * the top bit (x ^ 0x80 == x - 128), so one signed kernel serves all four
 * combinations; the 128 moves into the zero point. The zero points never
 * enter the inner loop: per block of K, packing also sums each packed row of
 * A (ra) and column of B (cb), and the tile's epilogue adds
 *
 *   sum_k (a - za)(b - zb) = sum_k a*b - za*cb - zb*ra + kc*za*zb.
 *
 * Panels hold groups of G consecutive k values per row or column: G = 4 for
 * the ARMv8.2-A dot-product tile (sdot sums four byte products into each
 * int32 lane) and the AVX2 tile, G = 1 for the portable tile. Padding is zero,
 * which adds nothing to products or sums. Arithmetic on int32 results wraps
 * (unsigned arithmetic in C), as the reference's int32 accumulation does.
 */
enum {
  MR8 = 8,
  NR8 = 8,
  KC8 = KILN_UKERNEL_I8_KC,
  MC8 = KILN_UKERNEL_I8_MC,
  NC8 = KILN_UKERNEL_I8_NC
};

/* acc[i][j] = sum over the panels' groups of a(i, k) * b(k, j). */
typedef void (*tile_i8_fn)(int64_t groups, const int8_t *restrict ap,
                           const int8_t *restrict bp, int32_t acc[MR8][NR8]);

typedef int32_t v8i __attribute__((vector_size(32), aligned(4)));
typedef int8_t v8b __attribute__((vector_size(8), aligned(1)));

/* G = 1: per k, each row's accumulator vector gets a(i, k) * b(k, 0..7). */
static void tile_i8_portable(int64_t groups, const int8_t *restrict ap,
                             const int8_t *restrict bp, int32_t acc[MR8][NR8]) {
  v8i sum[MR8];
  for (int i = 0; i < MR8; ++i)
    sum[i] = (v8i){0};
  for (int64_t k = 0; k < groups; ++k) {
    v8b bytes;
    __builtin_memcpy(&bytes, bp, sizeof bytes);
    v8i b = __builtin_convertvector(bytes, v8i);
    for (int i = 0; i < MR8; ++i)
      sum[i] += b * (int32_t)ap[i];
    ap += MR8;
    bp += NR8;
  }
  for (int i = 0; i < MR8; ++i)
    __builtin_memcpy(acc[i], &sum[i], sizeof sum[i]);
}

#if defined(__aarch64__)
#include <arm_neon.h>

/* G = 4: per group, a holds rows 0-3 and 4-7 (4 bytes each), b columns 0-3
 * and 4-7; sdot by lane i adds row i's 4 bytes dotted with each column's
 * into 4 int32 lanes. 16 sdot per 4 loads, 16 accumulator registers. */
__attribute__((target("dotprod"))) static void
tile_i8_sdot(int64_t groups, const int8_t *restrict ap,
             const int8_t *restrict bp, int32_t acc[MR8][NR8]) {
  int32x4_t sum[MR8][2];
  for (int i = 0; i < MR8; ++i)
    sum[i][0] = sum[i][1] = vdupq_n_s32(0);
  for (int64_t g = 0; g < groups; ++g) {
    int8x16_t a0 = vld1q_s8(ap), a1 = vld1q_s8(ap + 16);
    int8x16_t b0 = vld1q_s8(bp), b1 = vld1q_s8(bp + 16);
#define KILN_SDOT_ROW(i, a, lane)                                              \
  sum[i][0] = vdotq_laneq_s32(sum[i][0], b0, a, lane);                         \
  sum[i][1] = vdotq_laneq_s32(sum[i][1], b1, a, lane);
    KILN_SDOT_ROW(0, a0, 0)
    KILN_SDOT_ROW(1, a0, 1)
    KILN_SDOT_ROW(2, a0, 2)
    KILN_SDOT_ROW(3, a0, 3)
    KILN_SDOT_ROW(4, a1, 0)
    KILN_SDOT_ROW(5, a1, 1)
    KILN_SDOT_ROW(6, a1, 2)
    KILN_SDOT_ROW(7, a1, 3)
#undef KILN_SDOT_ROW
    ap += 4 * MR8;
    bp += 4 * NR8;
  }
  for (int i = 0; i < MR8; ++i) {
    vst1q_s32(acc[i], sum[i][0]);
    vst1q_s32(acc[i] + 4, sum[i][1]);
  }
}
#endif

#if defined(__x86_64__)
#include <immintrin.h>

/* G = 4 on AVX2 (exact, unlike vpmaddubsw, which saturates): bytes widen to
 * int16 and vpmaddwd sums pairs of products into int32, so each column
 * collects two partial sums per group, added pairwise at the end. Rows run
 * in two halves of 4 so that 8 accumulators, B and A fit in 16 ymm. */
__attribute__((target("avx2"))) static void
tile_i8_avx2(int64_t groups, const int8_t *restrict ap,
             const int8_t *restrict bp, int32_t acc[MR8][NR8]) {
  for (int half = 0; half < 2; ++half) {
    __m256i sum[4][2];
    for (int i = 0; i < 4; ++i)
      sum[i][0] = sum[i][1] = _mm256_setzero_si256();
    const int8_t *a = ap + 16 * half, *b = bp;
    for (int64_t g = 0; g < groups; ++g) {
      /* Columns 0-3 and 4-7, then rows 0-3 of this half: 4 k each. */
      __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const void *)b));
      __m256i b1 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128((const void *)(b + 16)));
      __m256i rows = _mm256_cvtepi8_epi16(_mm_loadu_si128((const void *)a));
#define KILN_AVX2_ROW(i)                                                       \
  {                                                                            \
    __m256i row = _mm256_permute4x64_epi64(rows, (i)*0x55);                    \
    sum[i][0] = _mm256_add_epi32(sum[i][0], _mm256_madd_epi16(b0, row));       \
    sum[i][1] = _mm256_add_epi32(sum[i][1], _mm256_madd_epi16(b1, row));       \
  }
      KILN_AVX2_ROW(0)
      KILN_AVX2_ROW(1)
      KILN_AVX2_ROW(2)
      KILN_AVX2_ROW(3)
#undef KILN_AVX2_ROW
      a += 4 * MR8;
      b += 4 * NR8;
    }
    /* Lanes hold (column, pair) as c0 c0 c1 c1 | c2 c2 c3 c3; hadd gives
     * c0 c1 c4 c5 | c2 c3 c6 c7, and the permute puts columns in order. */
    for (int i = 0; i < 4; ++i) {
      __m256i pairs = _mm256_hadd_epi32(sum[i][0], sum[i][1]);
      _mm256_storeu_si256((void *)acc[4 * half + i],
                          _mm256_permute4x64_epi64(pairs, 0xD8));
    }
  }
}
#endif

/* How an int8 operand is read: element (r, k) at data[r * sr + k * sk],
 * flipped from uint8 when flip is 0x80. */
typedef struct {
  const uint8_t *data;
  int64_t sr, sk;
  uint8_t flip;
} i8_source;

/* Packs rows [r0, r0 + rc) (of `rows`) and k in [k0, k0 + kc) into panels of
 * `panel` rows, groups of g k values, and sums each row's packed values. */
static void pack_i8(const i8_source *s, int64_t rows, int64_t r0, int64_t rc,
                    int64_t panel, int64_t k0, int64_t kc, int64_t g,
                    int8_t *restrict packed, int32_t *restrict sums) {
  int64_t groups = (kc + g - 1) / g;
  for (int64_t pr = 0; pr < rc; pr += panel)
    for (int64_t i = 0; i < panel; ++i) {
      int64_t row = r0 + pr + i;
      int32_t sum = 0;
      for (int64_t q = 0; q < groups; ++q)
        for (int64_t t = 0; t < g; ++t) {
          int64_t k = q * g + t;
          int8_t v = 0;
          if (row < rows && k < kc)
            v = (int8_t)(s->data[row * s->sr + (k0 + k) * s->sk] ^ s->flip);
          packed[pr * groups * g + (q * panel + i) * g + t] = v;
          sum += v;
        }
      if (pr + i < rc)
        sums[pr + i] = sum;
    }
}

/* Zero points: one per row (column) where za (zb) is not null, else the
 * constant; the flips move them by 128. */
typedef struct {
  const int32_t *za, *zb;
  int32_t za_constant, zb_constant;
  int32_t za_shift, zb_shift;
} i8_zero_points;

/* Rows [m0, m1) and columns [n0, n1) of C. */
static void gemm_i8(int64_t m0, int64_t m1, int64_t n0, int64_t n1, int64_t k,
                    const i8_source *a, const i8_source *b,
                    const i8_zero_points *z, int32_t *c, int64_t ldc,
                    tile_i8_fn tile, int64_t g, uint8_t *workspace) {
  int8_t *ap = (int8_t *)workspace, *bp = ap + MC8 * KC8;
  int32_t *ra = (int32_t *)(bp + KC8 * NC8), *cb = ra + MC8;
  for (int64_t jc = n0; jc < n1; jc += NC8) {
    int64_t nc = min64(NC8, n1 - jc);
    for (int64_t pc = 0; pc < k; pc += KC8) {
      int64_t kc = min64(KC8, k - pc);
      int64_t groups = (kc + g - 1) / g;
      pack_i8(b, n1, jc, nc, NR8, pc, kc, g, bp, cb);
      for (int64_t ic = m0; ic < m1; ic += MC8) {
        int64_t mc = min64(MC8, m1 - ic);
        pack_i8(a, m1, ic, mc, MR8, pc, kc, g, ap, ra);
        for (int64_t jr = 0; jr < nc; jr += NR8)
          for (int64_t ir = 0; ir < mc; ir += MR8) {
            int32_t acc[MR8][NR8];
            tile(groups, ap + ir * groups * g, bp + jr * groups * g, acc);
            int64_t mr = min64(MR8, mc - ir), nr = min64(NR8, nc - jr);
            for (int64_t i = 0; i < mr; ++i) {
              int64_t row = ic + ir + i;
              uint32_t za =
                  (uint32_t)(z->za ? z->za[row] : z->za_constant) - z->za_shift;
              uint32_t *out = (uint32_t *)c + row * ldc + jc + jr;
              for (int64_t j = 0; j < nr; ++j) {
                int64_t col = jc + jr + j;
                uint32_t zb = (uint32_t)(z->zb ? z->zb[col] : z->zb_constant) -
                              z->zb_shift;
                out[j] += (uint32_t)acc[i][j] - za * (uint32_t)cb[jr + j] -
                          zb * (uint32_t)ra[ir + i] + (uint32_t)kc * za * zb;
              }
            }
          }
      }
    }
  }
}

/* x * w for int32 lanes holding a zero-extended byte and a sign-extended
 * one: both fit in 16 bits, so on x86 one vpmaddwd (the lanes' high halves
 * are zero) instead of vpmulld. */
static inline __attribute__((always_inline)) v16i multiply_small(v16i x,
                                                                 v16i w) {
#if defined(__AVX512BW__)
  return (v16i)_mm512_madd_epi16((__m512i)x, (__m512i)w);
#elif defined(__AVX2__)
  v8i low = (v8i)_mm256_madd_epi16(
      (__m256i)__builtin_shufflevector(x, x, 0, 1, 2, 3, 4, 5, 6, 7),
      (__m256i)__builtin_shufflevector(w, w, 0, 1, 2, 3, 4, 5, 6, 7));
  v8i high = (v8i)_mm256_madd_epi16(
      (__m256i)__builtin_shufflevector(x, x, 8, 9, 10, 11, 12, 13, 14, 15),
      (__m256i)__builtin_shufflevector(w, w, 8, 9, 10, 11, 12, 13, 14, 15));
  return __builtin_shufflevector(low, high, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                 11, 12, 13, 14, 15);
#else
  return x * w;
#endif
}

/* A few rows of A (a classifier at batch 1) against B read in place, when
 * B's columns are contiguous (sbn = 1): per row, 16 columns at a time,
 * C[i, j] += sum_k (A(i, k) - za) * B(k, j) - zb[j] * sum_k (A(i, k) - za).
 * Packing B for the tiles cost far more than the product (resnet50's
 * 2048 x 1000 classifier: 3.7 ms), and 8-row tiles would compute 7 rows for
 * nothing. */
enum { GEMV_MAX_ROWS = 4 };
static void gemv_i8(const uint8_t *a, const uint8_t *b, int32_t *c,
                    const int32_t *za, const int32_t *zb, int64_t m0,
                    int64_t m1, int64_t n0, int64_t n1, int64_t n, int64_t k,
                    int64_t sam, int64_t sak, int64_t sbk, int32_t za_constant,
                    int32_t zb_constant, int a_unsigned, int b_unsigned) {
  for (int64_t i = m0; i < m1; ++i) {
    int32_t zai = za ? za[i] : za_constant;
    const uint8_t *row = a + i * sam;
    uint32_t centered_sum = 0;
    for (int64_t q = 0; q < k; ++q)
      centered_sum += (uint32_t)((a_unsigned ? (int32_t)row[q * sak]
                                             : (int32_t)(int8_t)row[q * sak]) -
                                 zai);
    uint32_t *out = (uint32_t *)c + i * n;
    int64_t j = n0;
    /* 64 columns (a cache line of each row of B) at a time, then 16. */
#define KILN_GEMV_COLUMNS(blocks, widen, multiply)                             \
  for (; j + (blocks)*BLOCK <= n1; j += (blocks)*BLOCK) {                      \
    v16i acc[blocks];                                                          \
    UNROLL_ROWS for (int t = 0; t < (blocks); ++t) acc[t] = (v16i){0};         \
    for (int64_t q = 0; q < k; ++q) {                                          \
      v16i x = (v16i){0} + ((a_unsigned ? (int32_t)row[q * sak]                \
                                        : (int32_t)(int8_t)row[q * sak]) -     \
                            zai);                                              \
      const uint8_t *line = b + q * sbk + j;                                   \
      UNROLL_ROWS for (int t = 0; t < (blocks); ++t) {                         \
        v16u8 bytes;                                                           \
        __builtin_memcpy(&bytes, line + t * BLOCK, sizeof bytes);              \
        acc[t] += multiply(widen(bytes), x);                                   \
      }                                                                        \
    }                                                                          \
    UNROLL_ROWS for (int t = 0; t < (blocks); ++t) {                           \
      v16i zbv = zb ? load16i(zb + j + t * BLOCK) : (v16i){0} + zb_constant;   \
      v16i sums = acc[t] - zbv * (int32_t)centered_sum;                        \
      for (int e = 0; e < BLOCK; ++e)                                          \
        out[j + t * BLOCK + e] += (uint32_t)sums[e];                           \
    }                                                                          \
  }
#define KILN_GEMV_ZEXT(bytes) __builtin_convertvector(bytes, v16i)
#define KILN_GEMV_SEXT(bytes) __builtin_convertvector((v16s8)(bytes), v16i)
#define KILN_GEMV_MULTIPLY(y, x) ((y) * (x))
    /* multiply_small where a factor's high 16 bits are zero: B's bytes
     * zero-extended, or A's when they are not centred below 0. */
    if (b_unsigned) {
      KILN_GEMV_COLUMNS(4, KILN_GEMV_ZEXT, multiply_small)
      KILN_GEMV_COLUMNS(1, KILN_GEMV_ZEXT, multiply_small)
    } else if (a_unsigned && zai == 0) {
      KILN_GEMV_COLUMNS(4, KILN_GEMV_SEXT, multiply_small)
      KILN_GEMV_COLUMNS(1, KILN_GEMV_SEXT, multiply_small)
    } else {
      KILN_GEMV_COLUMNS(4, KILN_GEMV_SEXT, KILN_GEMV_MULTIPLY)
      KILN_GEMV_COLUMNS(1, KILN_GEMV_SEXT, KILN_GEMV_MULTIPLY)
    }
#undef KILN_GEMV_ZEXT
#undef KILN_GEMV_SEXT
#undef KILN_GEMV_MULTIPLY
#undef KILN_GEMV_COLUMNS
    for (; j < n1; ++j) {
      uint32_t sum = 0;
      int32_t zbj = zb ? zb[j] : zb_constant;
      for (int64_t q = 0; q < k; ++q) {
        int32_t x = (a_unsigned ? (int32_t)row[q * sak]
                                : (int32_t)(int8_t)row[q * sak]) -
                    zai;
        int32_t y = b_unsigned ? (int32_t)b[q * sbk + j]
                               : (int32_t)(int8_t)b[q * sbk + j];
        sum += (uint32_t)(x * (y - zbj));
      }
      out[j] += sum;
    }
  }
}

static void matmul_i8(const uint8_t *a, const uint8_t *b, int32_t *c,
                      const int32_t *za, const int32_t *zb, uint8_t *workspace,
                      int64_t m, int64_t n, int64_t k, int64_t sam, int64_t sak,
                      int64_t sbk, int64_t sbn, int64_t za_constant,
                      int64_t zb_constant, int64_t a_unsigned,
                      int64_t b_unsigned, int64_t wg, int64_t wgc,
                      tile_i8_fn tile, int64_t g) {
  uint8_t a_flip = a_unsigned ? 0x80 : 0, b_flip = b_unsigned ? 0x80 : 0;
  /* B is read as rows n (stride sbn) of k (stride sbk). */
  i8_source as = {a, sam, sak, a_flip}, bs = {b, sbn, sbk, b_flip};
  i8_zero_points z = {za,     zb,    (int32_t)za_constant, (int32_t)zb_constant,
                      a_flip, b_flip};
  int64_t m0, m1, n0, n1;
  workgroup_range(m, n, MR8, NR8, wg, wgc, &m0, &m1, &n0, &n1);
  if (m <= GEMV_MAX_ROWS && sbn == 1) {
    gemv_i8(a, b, c, za, zb, m0, m1, n0, n1, n, k, sam, sak, sbk,
            (int32_t)za_constant, (int32_t)zb_constant, (int)a_unsigned,
            (int)b_unsigned);
    return;
  }
  gemm_i8(m0, m1, n0, n1, k, &as, &bs, &z, c, n, tile, g,
          workspace + wg * KILN_UKERNEL_I8_WORKSPACE_BYTES);
}

/* C[m, n] (row stride n) += (A - za) x (B - zb), A(i, j) = a[i*sam + j*sak],
 * B(i, j) = b[i*sbk + j*sbn], za[i] (or za_constant when za is null), zb[j]
 * (or zb_constant); this workgroup's share of it, with the named tile:
 * kiln_ukernel_matmul_i8 (portable: any target's compiler vectorises it),
 * _sdot (ARMv8.2-A dotprod) and _avx2. */
#define KILN_MATMUL_I8(name, tile, group)                                      \
  KILN_BUILTIN void name(                                                      \
      const uint8_t *a, const uint8_t *b, int32_t *c, const int32_t *za,       \
      const int32_t *zb, uint8_t *workspace, int64_t m, int64_t n, int64_t k,  \
      int64_t sam, int64_t sak, int64_t sbk, int64_t sbn, int64_t za_constant, \
      int64_t zb_constant, int64_t a_unsigned, int64_t b_unsigned, int64_t wg, \
      int64_t wgc) {                                                           \
    matmul_i8(a, b, c, za, zb, workspace, m, n, k, sam, sak, sbk, sbn,         \
              za_constant, zb_constant, a_unsigned, b_unsigned, wg, wgc, tile, \
              group);                                                          \
  }

KILN_MATMUL_I8(kiln_ukernel_matmul_i8, tile_i8_portable, 1)
#if defined(__aarch64__)
KILN_MATMUL_I8(kiln_ukernel_matmul_i8_sdot, tile_i8_sdot, 4)
#endif
#if defined(__x86_64__)
KILN_MATMUL_I8(kiln_ukernel_matmul_i8_avx2, tile_i8_avx2, 4)
#endif

/*
 * Quantized direct convolution on channel-blocked data
 * (kiln.quantized_conv2d_nchwc):
 *
 *   input  uint8 [N, C/16, H, W, 16], zero point zx;
 *   filter int8 [F/16, C/16, KH, KW, 4, 16 (f), 4 (c)]: per 16 input
 *          channels, 4 groups of 4, each group's 4 bytes of an output
 *          channel side by side (the 32-bit lane a dot-product instruction
 *          sums); depthwise [C/16, KH, KW, 16];
 *   sums[f], the sum of output channel f's filter;
 *   acc[f] = sum (x - zx) * w, exact in int32 (the padding reads zx and so
 *            adds nothing);
 *   v = activation(acc * scale[f] + bias[f]),
 *
 * stored as float, or as uint8 min(max(roundeven(v) + zy, 0), 255) (the
 * compiler has divided scale, bias and clip bounds by the output's scale).
 * With a residual (uint8, the output's shape, zero point zr), the sum is
 * quantized first as its own QuantizeLinear states it (zero point zs), and
 *   v = activation((q - zs) * sum_scale + (r - zr) * residual_scale)
 * (a residual block's end in one pass).
 * The tiles accumulate sum x * w over the raw bytes, and the epilogue
 * subtracts zx * sums[f] once per output vector. The same pixel tiles as
 * the float kernel's, one variant per instruction set, each an instance of
 * qconv_nchwc.inc:
 *   - _vnni (x86_64-avx512-vnni): 6 pixels x 4 blocks, vpdpbusd: per 4
 *     input channels, 4 filter loads and 6 broadcasts of a pixel's 4 bytes
 *     feed 24 vpdpbusd (u8 x s8, summed by 4 into int32, never saturating);
 *   - _sdot (aarch64 dotprod): 4 pixels x 1 block; sdot is signed x signed,
 *     so the tile reads x ^ 0x80 = x - 128 and the epilogue subtracts
 *     (zx - 128) * sums[f];
 *   - _avx2 (x86_64-avx2 and x86_64-avx512): 3 pixels x 1 block, exact:
 *     bytes widened to int16 and vpmaddwd (see qconv_step_avx2);
 *   - portable: the same sums in plain C, which every target compiles.
 */
typedef int8_t v64s8 __attribute__((vector_size(64), aligned(1)));

typedef struct {
  /* The geometry, activation and clip bounds (its input, filter, bias,
   * residual and output stay null). */
  conv_nchwc g;
  const uint8_t *input;
  const int8_t *filter;
  const int32_t *sums;
  /* Per block, 16 scales then 16 biases. */
  const float *scale_bias;
  void *output;
  /* The input zero point as the tile's bytes read it. */
  int32_t zx, zy;
  int quantized;
  /* A uint8 result's bounds: [0, 255] narrowed by the activation's bounds,
   * rounded, plus zy. */
  int32_t out_low, out_high;
  /* A residual (null: none), added after the sum is quantized at its own
   * zero point: see qconv_finish. */
  const uint8_t *residual;
  int32_t zs, zr;
  float sum_scale, residual_scale;
  /* A pixel of the padding: 16 times the input zero point. */
  uint8_t pad[BLOCK];
  /* What an image input's 4-byte lanes are XORed with: 0x80808080 where
   * the tile reads bytes as int8 (sdot), else 0. */
  uint32_t flip_mask;
} qconv_nchwc;

/* A tile's own copy of the state: the output is written through uint8_t
 * pointers, which may alias anything reachable, so with the state behind a
 * pointer every store made the epilogue reload its parameters; a local
 * copy whose address does not escape stays in registers. */
#define QCONV_LOCAL_STATE(shared)                                              \
  const qconv_nchwc local_state_ = *(shared);                                  \
  const qconv_nchwc *q = &local_state_

/* roundeven(v) as int32: one vcvtps2dq on AVX-512 (the default rounding
 * mode rounds to nearest even). */
static inline __attribute__((always_inline)) v16i round_to_int(v16f v) {
#if defined(__AVX512F__)
  return (v16i)_mm512_cvtps_epi32((__m512)v);
#else
  return __builtin_convertvector(__builtin_elementwise_roundeven(v), v16i);
#endif
}

static inline __attribute__((always_inline)) v16i clamp_int(v16i v, int32_t low,
                                                            int32_t high) {
  return __builtin_elementwise_min(
      __builtin_elementwise_max(v, (v16i){0} + low), (v16i){0} + high);
}

/* The end of the epilogue of one output vector at element `at`: v is the
 * dequantized sum. A uint8 result is rounded first and activated on the
 * integers: rounding is monotonic, so round(max(v, lo)) =
 * max(round(v), round(lo)), and one clamp then applies the activation and
 * the byte's range (integer comparisons are also cheaper than float ones,
 * which order NaN). */
static inline __attribute__((always_inline)) void
qconv_finish(const qconv_nchwc *q, v16f v, int64_t at) {
  const conv_nchwc *s = &q->g;
  if (q->residual) {
    /* The sum as its QuantizeLinear stores it, dequantized, plus the
     * dequantized residual: in the output's units. */
    v16i sum = clamp_int(round_to_int(v), -q->zs, 255 - q->zs);
    v16u8 bytes;
    __builtin_memcpy(&bytes, q->residual + at, sizeof bytes);
    v16i r = __builtin_convertvector(bytes, v16i) - q->zr;
    v = __builtin_convertvector(sum, v16f) * q->sum_scale +
        __builtin_convertvector(r, v16f) * q->residual_scale;
  }
  if (q->quantized) {
    v16i i = clamp_int(round_to_int(v) + q->zy, q->out_low, q->out_high);
    v16u8 bytes = __builtin_convertvector(i, v16u8);
    __builtin_memcpy((uint8_t *)q->output + at, &bytes, sizeof bytes);
    return;
  }
  if (s->activation == KILN_UKERNEL_ACTIVATION_RELU)
    v = __builtin_elementwise_max(v, (v16f){0});
  else if (s->activation == KILN_UKERNEL_ACTIVATION_CLIP)
    v = __builtin_elementwise_min(
        __builtin_elementwise_max(v, (v16f){0} + s->low), (v16f){0} + s->high);
  __builtin_memcpy((float *)q->output + at, &v, sizeof v);
}

/* The epilogue of output block `block` at `pixels` consecutive pixels from
 * p0 of image n (the first np of them stored), from their raw sums acc[j].
 * The block's sums, scales and biases are loaded once, and the common case
 * (a uint8 result with no residual) is chosen once, outside the pixel loop:
 * inside it, every uint8 store may alias them, so they would be reloaded
 * and retested per pixel. */
static inline __attribute__((always_inline)) void
qconv_store_pixels(const qconv_nchwc *q, const v16i acc[MAX_PIXELS], int pixels,
                   int64_t n, int64_t block, int64_t p0, int64_t np) {
  const conv_nchwc *s = &q->g;
  int64_t f = block * BLOCK;
  v16i zero_sums = load16i(q->sums + f) * q->zx;
  v16f scale = load16(q->scale_bias + 2 * f);
  v16f bias = load16(q->scale_bias + 2 * f + BLOCK);
  int64_t at = ((n * s->fb + block) * s->oh * s->ow + p0) * BLOCK;
  if (q->quantized && !q->residual) {
    uint8_t *out = (uint8_t *)q->output + at;
    UNROLL_ROWS for (int j = 0; j < pixels; ++j) {
      if (j >= np)
        break;
      v16f v = __builtin_convertvector(acc[j] - zero_sums, v16f) * scale + bias;
      v16i i = clamp_int(round_to_int(v) + q->zy, q->out_low, q->out_high);
      v16u8 bytes = __builtin_convertvector(i, v16u8);
      __builtin_memcpy(out + j * BLOCK, &bytes, sizeof bytes);
    }
    return;
  }
  UNROLL_ROWS for (int j = 0; j < pixels; ++j) {
    if (j >= np)
      break;
    qconv_finish(
        q, __builtin_convertvector(acc[j] - zero_sums, v16f) * scale + bias,
        at + j * BLOCK);
  }
}

/* roundeven(bound) as an int32, saturated (an open clip bound is
 * infinite). */
static int32_t rounded_bound(float bound) {
  if (!(bound > -2147483520.0f))
    return INT32_MIN;
  if (bound >= 2147483520.0f)
    return INT32_MAX;
  return (int32_t)__builtin_roundevenf(bound);
}

/* The quantized kernels' arguments, and the state they set up (flip: the
 * value the tile's bytes are read minus, 128 for sdot). */
#define KILN_QCONV_ARGUMENTS                                                   \
  const uint8_t *input, const int8_t *filter, const int32_t *sums,             \
      const float *scale_bias, const uint8_t *residual, void *output,          \
      void *workspace, int64_t batch, int64_t cb, int64_t ih, int64_t iw,      \
      int64_t fb, int64_t kh, int64_t kw, int64_t oh, int64_t ow, int64_t sh,  \
      int64_t sw, int64_t dh, int64_t dw, int64_t pt, int64_t pl,              \
      int64_t activation, int64_t low_bits, int64_t high_bits, int64_t zx,     \
      int64_t zy, int64_t quantized, int64_t zs, int64_t sum_scale_bits,       \
      int64_t zr, int64_t residual_scale_bits, int64_t wg, int64_t wgc
static inline __attribute__((always_inline)) void
qconv_init(qconv_nchwc *q, const uint8_t *input, const int8_t *filter,
           const int32_t *sums, const float *scale_bias,
           const uint8_t *residual, void *output, int64_t cb, int64_t ih,
           int64_t iw, int64_t fb, int64_t kh, int64_t kw, int64_t oh,
           int64_t ow, int64_t sh, int64_t sw, int64_t dh, int64_t dw,
           int64_t pt, int64_t pl, int64_t activation, int64_t low_bits,
           int64_t high_bits, int64_t zx, int64_t zy, int64_t quantized,
           int64_t zs, int64_t sum_scale_bits, int64_t zr,
           int64_t residual_scale_bits, int32_t flip) {
  conv_nchwc g = {0,
                  0,
                  0,
                  0,
                  0,
                  cb,
                  ih,
                  iw,
                  fb,
                  kh,
                  kw,
                  oh,
                  ow,
                  sh,
                  sw,
                  dh,
                  dw,
                  pt,
                  pl,
                  activation,
                  float_of_bits(low_bits),
                  float_of_bits(high_bits),
                  0,
                  0};
  set_flat(&g);
  q->g = g;
  q->input = input;
  q->filter = filter;
  q->sums = sums;
  q->scale_bias = scale_bias;
  q->output = output;
  q->zx = (int32_t)zx - flip;
  q->zy = (int32_t)zy;
  q->quantized = (int)quantized;
  int64_t low = activation == KILN_UKERNEL_ACTIVATION_CLIP
                    ? rounded_bound(float_of_bits(low_bits))
                : activation == KILN_UKERNEL_ACTIVATION_RELU ? 0
                                                             : INT32_MIN;
  int64_t high = activation == KILN_UKERNEL_ACTIVATION_CLIP
                     ? rounded_bound(float_of_bits(high_bits))
                     : INT32_MAX;
  q->out_low = (int32_t)(low + zy > 0 ? (low + zy < 255 ? low + zy : 255) : 0);
  q->out_high =
      (int32_t)(high + zy < 255 ? (high + zy > 0 ? high + zy : 0) : 255);
  q->residual = residual;
  q->zs = (int32_t)zs;
  q->sum_scale = float_of_bits(sum_scale_bits);
  q->zr = (int32_t)zr;
  q->residual_scale = float_of_bits(residual_scale_bits);
  for (int c = 0; c < BLOCK; ++c)
    q->pad[c] = (uint8_t)zx;
  q->flip_mask = flip ? 0x80808080u : 0;
}

#define KILN_QCONV_INIT(flip)                                                  \
  (void)workspace;                                                             \
  qconv_nchwc q;                                                               \
  qconv_init(&q, input, filter, sums, scale_bias, residual, output, cb, ih,    \
             iw, fb, kh, kw, oh, ow, sh, sw, dh, dw, pt, pl, activation,       \
             low_bits, high_bits, zx, zy, quantized, zs, sum_scale_bits, zr,   \
             residual_scale_bits, flip)

/* An image input [N, C, H, W] (C < 16, not blocked) is read 4 adjacent
 * window columns at a time, one 32-bit lane of the dot products: the
 * lane of channel plane `channel` at row iy from column ix, the zero point
 * where a column lies outside the image, XORed with the flip mask. */
static inline __attribute__((always_inline)) int32_t
plain_lane(const qconv_nchwc *q, const uint8_t *channel, int64_t iy,
           int64_t ix) {
  const conv_nchwc *s = &q->g;
  uint32_t lane;
  if ((uint64_t)iy < (uint64_t)s->ih && ix >= 0 && ix + 4 <= s->iw) {
    __builtin_memcpy(&lane, channel + iy * s->iw + ix, sizeof lane);
  } else {
    uint8_t bytes[4];
    for (int t = 0; t < 4; ++t)
      bytes[t] =
          (uint64_t)iy < (uint64_t)s->ih && (uint64_t)(ix + t) < (uint64_t)s->iw
              ? channel[iy * s->iw + ix + t]
              : q->pad[0];
    __builtin_memcpy(&lane, bytes, sizeof lane);
  }
  return (int32_t)(lane ^ q->flip_mask);
}

/* acc[b][j] += block b's 16 output channels x 4 weights at w (block stride
 * `filter_stride` bytes) dotted with pixel j's lane of 4 bytes. */
static inline __attribute__((always_inline)) void
qconv_lane_step_portable(v16i acc[1][6], int blocks, int pixels,
                         const int32_t lanes[6], const int8_t *w,
                         int64_t filter_stride) {
  (void)blocks;
  (void)filter_stride;
  v64s8 group;
  __builtin_memcpy(&group, w, sizeof group);
#define KILN_QCONV_LANE(c)                                                     \
  {                                                                            \
    v16i wv = __builtin_convertvector(                                         \
        __builtin_shufflevector(group, group, c, c + 4, c + 8, c + 12, c + 16, \
                                c + 20, c + 24, c + 28, c + 32, c + 36,        \
                                c + 40, c + 44, c + 48, c + 52, c + 56,        \
                                c + 60),                                       \
        v16i);                                                                 \
    UNROLL_ROWS for (int j = 0; j < pixels; ++j) acc[0][j] +=                  \
        wv * (int32_t)(uint8_t)((uint32_t)lanes[j] >> (8 * (c)));              \
  }
  KILN_QCONV_LANE(0)
  KILN_QCONV_LANE(1)
  KILN_QCONV_LANE(2)
  KILN_QCONV_LANE(3)
#undef KILN_QCONV_LANE
}

/* acc[b][j] += the 16 x 16 filter block of block b at w (block stride
 * `filter_stride` bytes) times pixel j's 16 channels at px[j], in plain C:
 * per group of 4 input channels, the pixels' lanes of 4 bytes. */
static inline __attribute__((always_inline)) void
qconv_step_portable(v16i acc[1][6], int blocks, int pixels,
                    const uint8_t *const px[6], const int8_t *w,
                    int64_t filter_stride) {
  for (int g = 0; g < 4; ++g) {
    int32_t lanes[6];
    UNROLL_ROWS for (int j = 0; j < pixels; ++j)
        __builtin_memcpy(&lanes[j], px[j] + 4 * g, sizeof lanes[j]);
    qconv_lane_step_portable(acc, blocks, pixels, lanes, w + g * 64,
                             filter_stride);
  }
}

#define QCONV_SUFFIX
#define QCONV_ATTRIBUTES
#define QCONV_PIXELS 6
#define QCONV_BLOCKS 1
#define QCONV_INPUT_FLIP 0
#define QCONV_STEP qconv_step_portable
#define QCONV_LANE_STEP qconv_lane_step_portable
#include "qconv_nchwc.inc"

#if defined(__AVX512F__)
/* Per group of 4 input channels: each block's 64 filter bytes (16 output
 * channels x 4), then per pixel its 4 bytes broadcast to every lane. */
static inline __attribute__((always_inline, target("avx512vnni"))) void
qconv_step_vnni(v16i acc[4][6], int blocks, int pixels,
                const uint8_t *const px[6], const int8_t *w,
                int64_t filter_stride) {
  UNROLL_ROWS for (int g = 0; g < 4; ++g) {
    __m512i wv[4];
    UNROLL_ROWS for (int b = 0; b < blocks; ++b) wv[b] =
        _mm512_loadu_si512((const void *)(w + b * filter_stride + g * 64));
    UNROLL_ROWS for (int j = 0; j < pixels; ++j) {
      int32_t bytes;
      __builtin_memcpy(&bytes, px[j] + 4 * g, sizeof bytes);
      __m512i x = _mm512_set1_epi32(bytes);
      UNROLL_ROWS for (int b = 0; b < blocks; ++b) acc[b][j] =
          (v16i)_mm512_dpbusd_epi32((__m512i)acc[b][j], x, wv[b]);
    }
  }
}

static inline __attribute__((always_inline, target("avx512vnni"))) void
qconv_lane_step_vnni(v16i acc[4][6], int blocks, int pixels,
                     const int32_t lanes[6], const int8_t *w,
                     int64_t filter_stride) {
  __m512i wv[4];
  UNROLL_ROWS for (int b = 0; b < blocks; ++b) wv[b] =
      _mm512_loadu_si512((const void *)(w + b * filter_stride));
  UNROLL_ROWS for (int j = 0; j < pixels; ++j) {
    __m512i x = _mm512_set1_epi32(lanes[j]);
    UNROLL_ROWS for (int b = 0; b < blocks; ++b) acc[b][j] =
        (v16i)_mm512_dpbusd_epi32((__m512i)acc[b][j], x, wv[b]);
  }
}

#define QCONV_LANE_STEP qconv_lane_step_vnni
#define QCONV_SUFFIX _vnni
#define QCONV_ATTRIBUTES __attribute__((target("avx512vnni")))
#define QCONV_PIXELS 6
#define QCONV_BLOCKS 4
#define QCONV_INPUT_FLIP 0
#define QCONV_STEP qconv_step_vnni
#include "qconv_nchwc.inc"
#endif

#if defined(__x86_64__)
/* AVX2, exact (vpmaddubsw would saturate): per input channel block, each
 * pixel's 16 bytes widen to int16; per group of 4 channels, the group's 4
 * values are broadcast to every 64-bit lane and vpmaddwd multiplies them
 * by 4 output channels' 4 weights (widened), summing pairs into int32. An
 * accumulator holds 4 registers of (output channel, pair) sums, which
 * qconv_avx2_sums adds up at the end. 3 pixels x 1 block: 12 accumulator
 * registers, 3 pixels' broadcasts and a filter register. */
typedef struct {
  __m256i q[4];
} qconv_avx2_acc;

static inline __attribute__((always_inline)) v16i
qconv_avx2_sums(qconv_avx2_acc a) {
  /* hadd gives f0 f1 f4 f5 | f2 f3 f6 f7 of two quarters; the permute
   * puts the channels in order. */
  v8i low =
      (v8i)_mm256_permute4x64_epi64(_mm256_hadd_epi32(a.q[0], a.q[1]), 0xD8);
  v8i high =
      (v8i)_mm256_permute4x64_epi64(_mm256_hadd_epi32(a.q[2], a.q[3]), 0xD8);
  return __builtin_shufflevector(low, high, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                 11, 12, 13, 14, 15);
}

static inline __attribute__((always_inline)) void
qconv_step_avx2(qconv_avx2_acc acc[1][3], int blocks, int pixels,
                const uint8_t *const px[3], const int8_t *w,
                int64_t filter_stride) {
  (void)blocks;
  (void)filter_stride;
#define KILN_QCONV_AVX2_GROUP(g)                                               \
  {                                                                            \
    __m256i x[3];                                                              \
    UNROLL_ROWS for (int j = 0; j < pixels; ++j) x[j] =                        \
        _mm256_permute4x64_epi64(                                              \
            _mm256_cvtepu8_epi16(_mm_loadu_si128((const void *)px[j])),        \
            0x55 * (g));                                                       \
    UNROLL_ROWS for (int quarter = 0; quarter < 4; ++quarter) {                \
      __m256i wq = _mm256_cvtepi8_epi16(                                       \
          _mm_loadu_si128((const void *)(w + (g)*64 + quarter * 16)));         \
      UNROLL_ROWS for (int j = 0; j < pixels; ++j) acc[0][j].q[quarter] =      \
          _mm256_add_epi32(acc[0][j].q[quarter], _mm256_madd_epi16(wq, x[j])); \
    }                                                                          \
  }
  KILN_QCONV_AVX2_GROUP(0)
  KILN_QCONV_AVX2_GROUP(1)
  KILN_QCONV_AVX2_GROUP(2)
  KILN_QCONV_AVX2_GROUP(3)
#undef KILN_QCONV_AVX2_GROUP
}

static inline __attribute__((always_inline)) void
qconv_lane_step_avx2(qconv_avx2_acc acc[1][3], int blocks, int pixels,
                     const int32_t lanes[3], const int8_t *w,
                     int64_t filter_stride) {
  (void)blocks;
  (void)filter_stride;
  __m256i x[3];
  UNROLL_ROWS for (int j = 0; j < pixels; ++j) x[j] =
      _mm256_broadcastq_epi64(_mm_cvtepu8_epi16(_mm_cvtsi32_si128(lanes[j])));
  UNROLL_ROWS for (int quarter = 0; quarter < 4; ++quarter) {
    __m256i wq =
        _mm256_cvtepi8_epi16(_mm_loadu_si128((const void *)(w + quarter * 16)));
    UNROLL_ROWS for (int j = 0; j < pixels; ++j) acc[0][j].q[quarter] =
        _mm256_add_epi32(acc[0][j].q[quarter], _mm256_madd_epi16(wq, x[j]));
  }
}

#define QCONV_LANE_STEP qconv_lane_step_avx2
#define QCONV_SUFFIX _avx2
#define QCONV_ATTRIBUTES
#define QCONV_PIXELS 3
#define QCONV_BLOCKS 1
#define QCONV_INPUT_FLIP 0
#define QCONV_STEP qconv_step_avx2
#define QCONV_ACC qconv_avx2_acc
#define QCONV_ACC_SUMS qconv_avx2_sums
#include "qconv_nchwc.inc"
#endif

#if defined(__aarch64__)
/* Per pixel, its 16 bytes flipped to int8 once; per group of 4 input
 * channels, the 4 registers of filter (4 output channels x 4 each) and
 * sdot by lane g of each pixel. */
static inline __attribute__((always_inline, target("dotprod"))) void
qconv_step_sdot(v16i acc[1][4], int blocks, int pixels,
                const uint8_t *const px[4], const int8_t *w,
                int64_t filter_stride) {
  (void)blocks;
  (void)filter_stride;
  int8x16_t x[4];
  int32x4_t sum[4][4];
  UNROLL_ROWS for (int j = 0; j < pixels; ++j) {
    x[j] = veorq_s8(vreinterpretq_s8_u8(vld1q_u8(px[j])), vdupq_n_s8(-128));
    sum[j][0] =
        (int32x4_t)__builtin_shufflevector(acc[0][j], acc[0][j], 0, 1, 2, 3);
    sum[j][1] =
        (int32x4_t)__builtin_shufflevector(acc[0][j], acc[0][j], 4, 5, 6, 7);
    sum[j][2] =
        (int32x4_t)__builtin_shufflevector(acc[0][j], acc[0][j], 8, 9, 10, 11);
    sum[j][3] = (int32x4_t)__builtin_shufflevector(acc[0][j], acc[0][j], 12, 13,
                                                   14, 15);
  }
#define KILN_QCONV_SDOT_GROUP(g)                                               \
  {                                                                            \
    int8x16_t w0 = vld1q_s8(w + (g)*64), w1 = vld1q_s8(w + (g)*64 + 16),       \
              w2 = vld1q_s8(w + (g)*64 + 32), w3 = vld1q_s8(w + (g)*64 + 48);  \
    UNROLL_ROWS for (int j = 0; j < pixels; ++j) {                             \
      sum[j][0] = vdotq_laneq_s32(sum[j][0], w0, x[j], g);                     \
      sum[j][1] = vdotq_laneq_s32(sum[j][1], w1, x[j], g);                     \
      sum[j][2] = vdotq_laneq_s32(sum[j][2], w2, x[j], g);                     \
      sum[j][3] = vdotq_laneq_s32(sum[j][3], w3, x[j], g);                     \
    }                                                                          \
  }
  KILN_QCONV_SDOT_GROUP(0)
  KILN_QCONV_SDOT_GROUP(1)
  KILN_QCONV_SDOT_GROUP(2)
  KILN_QCONV_SDOT_GROUP(3)
#undef KILN_QCONV_SDOT_GROUP
  UNROLL_ROWS for (int j = 0; j < pixels; ++j) {
    typedef int32_t v8i_ __attribute__((vector_size(32)));
    v8i_ low =
        __builtin_shufflevector(sum[j][0], sum[j][1], 0, 1, 2, 3, 4, 5, 6, 7);
    v8i_ high =
        __builtin_shufflevector(sum[j][2], sum[j][3], 0, 1, 2, 3, 4, 5, 6, 7);
    acc[0][j] = __builtin_shufflevector(low, high, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
                                        10, 11, 12, 13, 14, 15);
  }
}

static inline __attribute__((always_inline, target("dotprod"))) void
qconv_lane_step_sdot(v16i acc[1][4], int blocks, int pixels,
                     const int32_t lanes[4], const int8_t *w,
                     int64_t filter_stride) {
  (void)blocks;
  (void)filter_stride;
  int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16), w2 = vld1q_s8(w + 32),
            w3 = vld1q_s8(w + 48);
  UNROLL_ROWS for (int j = 0; j < pixels; ++j) {
    int8x16_t x = vreinterpretq_s8_s32(vdupq_n_s32(lanes[j]));
    int32x4_t s0 =
        (int32x4_t)__builtin_shufflevector(acc[0][j], acc[0][j], 0, 1, 2, 3);
    int32x4_t s1 =
        (int32x4_t)__builtin_shufflevector(acc[0][j], acc[0][j], 4, 5, 6, 7);
    int32x4_t s2 =
        (int32x4_t)__builtin_shufflevector(acc[0][j], acc[0][j], 8, 9, 10, 11);
    int32x4_t s3 = (int32x4_t)__builtin_shufflevector(acc[0][j], acc[0][j], 12,
                                                      13, 14, 15);
    s0 = vdotq_laneq_s32(s0, w0, x, 0);
    s1 = vdotq_laneq_s32(s1, w1, x, 0);
    s2 = vdotq_laneq_s32(s2, w2, x, 0);
    s3 = vdotq_laneq_s32(s3, w3, x, 0);
    typedef int32_t v8i_ __attribute__((vector_size(32)));
    v8i_ low = __builtin_shufflevector(s0, s1, 0, 1, 2, 3, 4, 5, 6, 7);
    v8i_ high = __builtin_shufflevector(s2, s3, 0, 1, 2, 3, 4, 5, 6, 7);
    acc[0][j] = __builtin_shufflevector(low, high, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
                                        10, 11, 12, 13, 14, 15);
  }
}

#define QCONV_LANE_STEP qconv_lane_step_sdot
#define QCONV_SUFFIX _sdot
#define QCONV_ATTRIBUTES __attribute__((target("dotprod")))
#define QCONV_PIXELS 4
#define QCONV_BLOCKS 1
#define QCONV_INPUT_FLIP 128
#define QCONV_STEP qconv_step_sdot
#include "qconv_nchwc.inc"
#endif

/* Depthwise (C = F): per window position, each pixel's 16 bytes times the
 * position's 16 filter bytes, in int32 lanes. Where each pixel reads at
 * each window position is worked out once per tile, for all its blocks:
 * row[k] where the tile's pixels read consecutive positions `step` bytes
 * apart (the common case, constant offsets from one pointer), else one
 * offset per pixel (-1: the padding, read as the zero point). Every target
 * runs this one. `pixels` wide, blocks [b0, b1); `step` a constant for
 * strides 1 and 2 (see qdepthwise_units). */
static inline __attribute__((always_inline)) void
qdepthwise_tile(const qconv_nchwc *shared, int64_t n, int64_t b0, int64_t b1,
                int pixels, int64_t step, int64_t p0, int64_t np) {
  QCONV_LOCAL_STATE(shared);
  const conv_nchwc *s = &q->g;
  int64_t top[MAX_PIXELS], left[MAX_PIXELS];
  int consecutive = tile_positions(s, pixels, p0, np, top, left);
  int64_t plane = s->ih * s->iw * BLOCK;
  int64_t positions = s->kh * s->kw;
  int64_t row[CONV_MAX_POSITIONS];
  int64_t offset[CONV_MAX_POSITIONS][MAX_PIXELS];
  for (int64_t y = 0, k = 0; y < s->kh; ++y)
    for (int64_t x = 0; x < s->kw; ++x, ++k) {
      row[k] = consecutive ? row_offset(s, pixels, top, left, y, x, BLOCK) : -1;
      if (row[k] < 0)
        window_offsets(s, pixels, top, left, y, x, BLOCK, offset[k]);
    }
  for (int64_t block = b0; block < b1; ++block) {
    v16i acc[MAX_PIXELS];
    UNROLL_ROWS for (int j = 0; j < pixels; ++j) acc[j] = (v16i){0};
    const uint8_t *image = q->input + (n * s->fb + block) * plane;
    const int8_t *filter = q->filter + block * positions * BLOCK;
    for (int64_t k = 0; k < positions; ++k) {
      v16s8 wb;
      __builtin_memcpy(&wb, filter + k * BLOCK, sizeof wb);
      v16i w = __builtin_convertvector(wb, v16i);
      if (row[k] >= 0) {
        const uint8_t *p = image + row[k];
        UNROLL_ROWS for (int j = 0; j < pixels; ++j) {
          v16u8 xb;
          __builtin_memcpy(&xb, p + j * step, sizeof xb);
          acc[j] += multiply_small(__builtin_convertvector(xb, v16i), w);
        }
        continue;
      }
      UNROLL_ROWS for (int j = 0; j < pixels; ++j) {
        v16u8 xb;
        /* The padding from the shared state: the local copy's address
         * must not escape, or it is copied whole per tile. */
        __builtin_memcpy(&xb,
                         offset[k][j] >= 0 ? image + offset[k][j] : shared->pad,
                         sizeof xb);
        acc[j] += multiply_small(__builtin_convertvector(xb, v16i), w);
      }
    }
    qconv_store_pixels(q, acc, pixels, n, block, p0, np);
  }
}

/* The tiles of a depthwise tile function `tile` (qdepthwise_tile, or
 * qdepthwise_tile_vnni), named qdepthwise_{wide,narrow}SUFFIX_{1,2,any}:
 * full width, and a third as wide for a plane's last, partial unit (a full
 * tile's count is a constant: no pixel is skipped); strides 1 and 2 as
 * constants. KILN_QDEPTHWISE_RUN runs a kernel's share with those of its
 * stride. */
#define KILN_QDEPTHWISE_TILE(tile, attributes, name, pixels, stride, count)    \
  attributes static void name(const qconv_nchwc *q, int64_t n, int64_t b0,     \
                              int64_t p0, int64_t np) {                        \
    (void)np;                                                                  \
    tile(q, n, b0, min64(b0 + DEPTHWISE_BLOCKS, q->g.fb), pixels,              \
         (stride)*BLOCK, p0, count);                                           \
  }
#define KILN_QDEPTHWISE_TILES(tile, attributes, suffix)                        \
  KILN_QDEPTHWISE_TILE(tile, attributes, qdepthwise_wide##suffix##_1,          \
                       DEPTHWISE_PIXELS, 1, DEPTHWISE_PIXELS)                  \
  KILN_QDEPTHWISE_TILE(tile, attributes, qdepthwise_narrow##suffix##_1,        \
                       DEPTHWISE_TAIL, 1, np)                                  \
  KILN_QDEPTHWISE_TILE(tile, attributes, qdepthwise_wide##suffix##_2,          \
                       DEPTHWISE_PIXELS, 2, DEPTHWISE_PIXELS)                  \
  KILN_QDEPTHWISE_TILE(tile, attributes, qdepthwise_narrow##suffix##_2,        \
                       DEPTHWISE_TAIL, 2, np)                                  \
  KILN_QDEPTHWISE_TILE(tile, attributes, qdepthwise_wide##suffix##_any,        \
                       DEPTHWISE_PIXELS, q->g.sw, DEPTHWISE_PIXELS)            \
  KILN_QDEPTHWISE_TILE(tile, attributes, qdepthwise_narrow##suffix##_any,      \
                       DEPTHWISE_TAIL, q->g.sw, np)
#define KILN_QDEPTHWISE_RUN(q, suffix, batch, wg, wgc)                         \
  qdepthwise_units(q, batch,                                                   \
                   (q)->g.sw == 1   ? qdepthwise_wide##suffix##_1              \
                   : (q)->g.sw == 2 ? qdepthwise_wide##suffix##_2              \
                                    : qdepthwise_wide##suffix##_any,           \
                   (q)->g.sw == 1   ? qdepthwise_narrow##suffix##_1            \
                   : (q)->g.sw == 2 ? qdepthwise_narrow##suffix##_2            \
                                    : qdepthwise_narrow##suffix##_any,         \
                   wg, wgc)
KILN_QDEPTHWISE_TILES(qdepthwise_tile, , )

/* A depthwise tile function: pixels from p0 (np of them) of blocks from
 * b0. */
typedef void (*qdepthwise_tile_fn)(const qconv_nchwc *q, int64_t n, int64_t b0,
                                   int64_t p0, int64_t np);

/* Runs this workgroup's share of a depthwise convolution: tiles of
 * DEPTHWISE_PIXELS pixels (`wide`) by DEPTHWISE_BLOCKS blocks, and narrow
 * ones, a third as wide, for a plane's last, partial unit. */
static inline __attribute__((always_inline)) void
qdepthwise_units(const qconv_nchwc *q, int64_t batch, qdepthwise_tile_fn wide,
                 qdepthwise_tile_fn narrow, int64_t wg, int64_t wgc) {
  int64_t row_tiles = tiles_per_row(&q->g, DEPTHWISE_PIXELS);
  int64_t tiles = tile_count(&q->g, row_tiles, DEPTHWISE_PIXELS);
  int64_t groups = (q->g.fb + DEPTHWISE_BLOCKS - 1) / DEPTHWISE_BLOCKS;
  KILN_FOR_UNITS(batch, groups, tiles, wg, wgc, n, group, tile, {
    int64_t p0, np;
    tile_span(&q->g, row_tiles, DEPTHWISE_PIXELS, tile, &p0, &np);
    int64_t b0 = group * DEPTHWISE_BLOCKS;
    if (np == DEPTHWISE_PIXELS) {
      wide(q, n, b0, p0, np);
    } else {
      for (int64_t u = 0; u < np; u += DEPTHWISE_TAIL)
        narrow(q, n, b0, p0 + u, min64(DEPTHWISE_TAIL, np - u));
    }
  });
}

KILN_BUILTIN void
kiln_ukernel_depthwise_conv2d_nchwc_u8s8(KILN_QCONV_ARGUMENTS) {
  KILN_QCONV_INIT(0);
  KILN_QDEPTHWISE_RUN(&q, , batch, wg, wgc);
}

#if defined(__AVX512F__)
/*
 * Depthwise with VNNI (x86_64-avx512-vnni), for windows at most 4 columns
 * wide and undilated along the width (mobilenet's 3x3): vpdpbusd sums 4
 * byte products per int32 lane, so a lane takes one channel's 4 adjacent
 * window columns. In NCHW16c the 4 pixels of those columns are 64
 * contiguous bytes, [column][channel]; window_columns transposes them to
 * [channel][column] (a dword permute across lanes, then a byte shuffle
 * within them), and the filter row the same way. Per output pixel and
 * window row: one load, two shuffles and one vpdpbusd for 3 (4) products
 * of 16 channels, where the widening tile takes 3 (4) widened loads,
 * vpmaddwd and adds. Columns outside the image (and rows: the whole
 * vector) read the input zero point through the loads' masks, and the
 * filter's columns past KW are zero.
 */
typedef struct {
  __m512i dwords, bytes;
} column_shuffles;

/* The shuffles of window_columns. The dword permute's index is hidden from
 * the optimizer: LLVM 19 folds the two constant shuffles into one byte
 * shuffle, which it lowers into ten instructions where VBMI is missing. */
static inline __attribute__((always_inline, target("avx512vnni")))
column_shuffles
window_column_shuffles(void) {
  column_shuffles c = {
      _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0),
      _mm512_broadcast_i32x4(
          _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15))};
  __asm__("" : "+v"(c.dwords));
  return c;
}

/* 4 pixels' 16 channels, [column][channel], as [channel][column]: lane L
 * gathers dword L of each pixel (a permute across lanes), then each lane's
 * 4 x 4 bytes are transposed. */
static inline __attribute__((always_inline, target("avx512vnni"))) __m512i
window_columns(column_shuffles c, __m512i v) {
  return _mm512_shuffle_epi8(_mm512_permutexvar_epi32(c.dwords, v), c.bytes);
}

/* The bytes of window columns [0, columns) of a 64-byte row (16 per
 * column). */
static inline __attribute__((always_inline)) uint64_t
column_bytes(int64_t columns) {
  return columns >= 4 ? ~(uint64_t)0 : ((uint64_t)1 << (16 * columns)) - 1;
}

/* Window row y of block `block`'s filter, transposed as window_columns
 * does the input (zero past KW). */
static inline __attribute__((always_inline, target("avx512vnni"))) __m512i
depthwise_filter_row(const qconv_nchwc *q, column_shuffles shuffles,
                     int64_t block, int64_t y) {
  const conv_nchwc *s = &q->g;
  const int8_t *row = q->filter + (block * s->kh + y) * s->kw * BLOCK;
  return window_columns(shuffles,
                        _mm512_maskz_loadu_epi8(column_bytes(s->kw), row));
}

/* The epilogue of a depthwise VNNI tile's block. */
static inline __attribute__((always_inline, target("avx512vnni"))) void
depthwise_store_vnni(const qconv_nchwc *q, const __m512i acc[MAX_PIXELS],
                     int pixels, int64_t n, int64_t block, int64_t p0,
                     int64_t np) {
  v16i sums[MAX_PIXELS];
  UNROLL_ROWS for (int j = 0; j < pixels; ++j) sums[j] = (v16i)acc[j];
  qconv_store_pixels(q, sums, pixels, n, block, p0, np);
}

/* A depthwise VNNI tile of one output row whose inner pixels' windows lie
 * inside the image's width (see qdepthwise_tile_vnni): each window row is
 * tested once and read from one pointer at constant offsets. Where `edges`
 * (a constant at each call), the first and last pixels' loads take their
 * own masks, `first_inside` and `last_inside`; else all load the window's
 * columns. `top` and `left` are the first pixel's window position. */
static inline __attribute__((always_inline, target("avx512vnni"))) void
qdepthwise_row_vnni(const qconv_nchwc *q, int64_t n, int64_t b0, int64_t b1,
                    int pixels, int64_t step, int64_t p0, int64_t np,
                    int64_t top, int64_t left, __mmask64 first_inside,
                    __mmask64 last_inside, int edges) {
  const conv_nchwc *s = &q->g;
  const __m512i pad = _mm512_set1_epi8((char)q->zx);
  const __mmask64 columns = column_bytes(s->kw);
  const column_shuffles shuffles = window_column_shuffles();
  int64_t plane = s->ih * s->iw * BLOCK;
  for (int64_t block = b0; block < b1; ++block) {
    __m512i acc[MAX_PIXELS];
    UNROLL_ROWS for (int j = 0; j < pixels; ++j) acc[j] =
        _mm512_setzero_si512();
    /* Masked-off bytes are not read, so an address may lie before the
     * row (a pad column) or past the plane: integer arithmetic. */
    uintptr_t image = (uintptr_t)(q->input + (n * s->fb + block) * plane);
    for (int64_t y = 0; y < s->kh; ++y) {
      __m512i w = depthwise_filter_row(q, shuffles, block, y);
      int64_t iy = top + y * s->dh;
      if ((uint64_t)iy >= (uint64_t)s->ih) {
        /* A window row in the padding: the zero point throughout. */
        UNROLL_ROWS for (int j = 0; j < pixels; ++j) acc[j] =
            _mm512_dpbusd_epi32(acc[j], pad, w);
        continue;
      }
      uintptr_t row = image + (iy * s->iw + left) * BLOCK;
      UNROLL_ROWS for (int j = 0; j < pixels; ++j) {
        const void *at = (const void *)(row + j * step);
        __m512i x = edges && (j == 0 || j == pixels - 1)
                        ? _mm512_mask_loadu_epi8(
                              pad, j == 0 ? first_inside : last_inside, at)
                        : _mm512_maskz_loadu_epi8(columns, at);
        acc[j] = _mm512_dpbusd_epi32(acc[j], window_columns(shuffles, x), w);
      }
    }
    depthwise_store_vnni(q, acc, pixels, n, block, p0, np);
  }
}

/* The depthwise VNNI tile: `pixels` pixels from p0 (np of them stored) of
 * blocks [b0, b1); `step` (a constant for strides 1 and 2) the bytes
 * between adjacent pixels' windows. A pixel's load is masked to its window
 * columns inside the image. A tile of one output row whose inner pixels'
 * windows lie inside the image's width (most tiles) tests each window row
 * once and reads it from one pointer at constant offsets, with masks of
 * their own for the first and last pixels only; other tiles (spanning
 * rows in planes narrower than a tile, or at a wide pad) test and address
 * per pixel. The two are separate loop nests: in one, the
 * compiler kept a pointer per pixel and path, and spilled them. */
static inline __attribute__((always_inline, target("avx512vnni"))) void
qdepthwise_tile_vnni(const qconv_nchwc *shared, int64_t n, int64_t b0,
                     int64_t b1, int pixels, int64_t step, int64_t p0,
                     int64_t np) {
  QCONV_LOCAL_STATE(shared);
  const conv_nchwc *s = &q->g;
  int64_t top[MAX_PIXELS], left[MAX_PIXELS];
  int consecutive = tile_positions(s, pixels, p0, np, top, left);
  __mmask64 inside[MAX_PIXELS];
  UNROLL_ROWS for (int j = 0; j < pixels; ++j) {
    int64_t first = left[j] < 0 ? -left[j] : 0;
    int64_t end = min64(s->kw, s->iw - left[j]);
    inside[j] = end > first ? column_bytes(end) & ~column_bytes(first) : 0;
  }
  const __m512i pad = _mm512_set1_epi8((char)q->zx);
  const __mmask64 columns = column_bytes(s->kw);
  const column_shuffles shuffles = window_column_shuffles();
  int64_t plane = s->ih * s->iw * BLOCK;
  if (consecutive && top[pixels - 1] == top[0] &&
      (pixels <= 2 || (left[1] >= 0 && left[pixels - 2] + s->kw <= s->iw))) {
    /* Only the first and last pixels' windows may cross the image's edge. */
    if (inside[0] != columns || inside[pixels - 1] != columns)
      qdepthwise_row_vnni(q, n, b0, b1, pixels, step, p0, np, top[0], left[0],
                          inside[0], inside[pixels - 1], 1);
    else
      qdepthwise_row_vnni(q, n, b0, b1, pixels, step, p0, np, top[0], left[0],
                          0, 0, 0);
    return;
  }
  for (int64_t block = b0; block < b1; ++block) {
    __m512i acc[MAX_PIXELS];
    UNROLL_ROWS for (int j = 0; j < pixels; ++j) acc[j] =
        _mm512_setzero_si512();
    uintptr_t image = (uintptr_t)(q->input + (n * s->fb + block) * plane);
    for (int64_t y = 0; y < s->kh; ++y) {
      __m512i w = depthwise_filter_row(q, shuffles, block, y);
      UNROLL_ROWS for (int j = 0; j < pixels; ++j) {
        int64_t iy = top[j] + y * s->dh;
        __m512i x = pad;
        if ((uint64_t)iy < (uint64_t)s->ih)
          x = window_columns(
              shuffles,
              _mm512_mask_loadu_epi8(
                  pad, inside[j],
                  (const void *)(image + (iy * s->iw + left[j]) * BLOCK)));
        acc[j] = _mm512_dpbusd_epi32(acc[j], x, w);
      }
    }
    depthwise_store_vnni(q, acc, pixels, n, block, p0, np);
  }
}

KILN_QDEPTHWISE_TILES(qdepthwise_tile_vnni,
                      __attribute__((target("avx512vnni"))), _vnni)

/* The VNNI kernel; other windows (wider than 4 columns, or dilated along
 * the width) take the widening tiles. */
KILN_BUILTIN void
kiln_ukernel_depthwise_conv2d_nchwc_u8s8_vnni(KILN_QCONV_ARGUMENTS) {
  if (kw > 4 || dw != 1) {
    kiln_ukernel_depthwise_conv2d_nchwc_u8s8(
        input, filter, sums, scale_bias, residual, output, workspace, batch, cb,
        ih, iw, fb, kh, kw, oh, ow, sh, sw, dh, dw, pt, pl, activation,
        low_bits, high_bits, zx, zy, quantized, zs, sum_scale_bits, zr,
        residual_scale_bits, wg, wgc);
    return;
  }
  KILN_QCONV_INIT(0);
  KILN_QDEPTHWISE_RUN(&q, _vnni, batch, wg, wgc);
}
#endif
#undef KILN_QDEPTHWISE_RUN
#undef KILN_QDEPTHWISE_TILES
#undef KILN_QDEPTHWISE_TILE
