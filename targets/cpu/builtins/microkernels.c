/*
 * Register-tiled matrix multiplication for Kiln executables.
 *
 * C[m, n] += sum_k A(m, k) * B(k, n), blocked the way BLIS does it: B is
 * packed in KC x NC blocks of 16-column panels, A in MC x KC blocks of 6-row
 * panels, and a 6 x 16 register tile accumulates each panel pair. The tile
 * is written with GCC vector extensions, so the same C source becomes AVX2
 * FMA code (12 ymm accumulators) on x86-64 and NEON fmla code (24 q
 * registers) on AArch64 when the compiler gives the functions the target's
 * attributes.
 *
 * Convolutions use the same kernel with B packed straight from the (already
 * padded) image: an implicit im2col that never materialises the patch matrix.
 *
 * Built to bitcode with -ffreestanding -fno-builtin; no calls, no globals.
 */
#include <stdint.h>

#define KILN_BUILTIN __attribute__((visibility("hidden")))

enum { MR = 6, NR = 16, KC = 256, MC = 72, NC = 512 };
/* Floats of workspace a workgroup needs: one packed A block and one B
 * block. A call's workspace holds one per workgroup. */
enum { KILN_UKERNEL_WORKSPACE_FLOATS = MC * KC + KC * NC };

typedef float v8f __attribute__((vector_size(32), aligned(4)));

static inline v8f load8(const float *p) {
  v8f v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

static inline void store8(float *p, v8f v) {
  __builtin_memcpy(p, &v, sizeof v);
}

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* c (rows mr <= MR, cols nr <= NR, row stride ldc) += ap panel * bp panel. */
static void tile(int64_t kc, const float *restrict ap, const float *restrict bp,
                 float *restrict c, int64_t ldc, int64_t mr, int64_t nr) {
  v8f acc[MR][2];
  for (int i = 0; i < MR; ++i)
    acc[i][0] = acc[i][1] = (v8f){0};
  for (int64_t k = 0; k < kc; ++k) {
    v8f b0 = load8(bp), b1 = load8(bp + 8);
    for (int i = 0; i < MR; ++i) {
      acc[i][0] += b0 * ap[i];
      acc[i][1] += b1 * ap[i];
    }
    ap += MR;
    bp += NR;
  }
  if (mr == MR && nr == NR) {
    for (int i = 0; i < MR; ++i) {
      float *row = c + i * ldc;
      store8(row, load8(row) + acc[i][0]);
      store8(row + 8, load8(row + 8) + acc[i][1]);
    }
    return;
  }
  float partial[MR][NR];
  for (int i = 0; i < MR; ++i) {
    store8(partial[i], acc[i][0]);
    store8(partial[i] + 8, acc[i][1]);
  }
  for (int64_t i = 0; i < mr; ++i)
    for (int64_t j = 0; j < nr; ++j)
      c[i * ldc + j] += partial[i][j];
}

/* Packs A(m0 + i, k0 + k) = a[(m0 + i) * sam + (k0 + k) * sak] into 6-row
 * panels, zero past row m. */
static void pack_a(const float *a, int64_t sam, int64_t sak, int64_t m,
                   int64_t m0, int64_t mc, int64_t k0, int64_t kc,
                   float *restrict ap) {
  for (int64_t ir = 0; ir < mc; ir += MR)
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t i = 0; i < MR; ++i) {
        int64_t row = m0 + ir + i;
        *ap++ = row < m ? a[row * sam + (k0 + k) * sak] : 0.0f;
      }
}

/* How B is read: a strided matrix, or image patches of a convolution. */
typedef struct {
  const float *data;
  int64_t n;        /* columns of B */
  int64_t sbk, sbn; /* matrix: element strides of k and n */
  int64_t ih, iw;   /* conv: padded image dims (channels x ih x iw) */
  int64_t kh, kw;   /* conv: kernel dims; k = (c, y, x) */
  int64_t ow;       /* conv: output width; n = (oy, ox) */
  int64_t sh, sw, dh, dw;
  int conv;
} b_source;

static void pack_b(const b_source *s, int64_t k0, int64_t kc, int64_t n0,
                   int64_t nc, float *restrict bp) {
  for (int64_t jr = 0; jr < nc; jr += NR) {
    int64_t cols = min64(NR, s->n - (n0 + jr));
    if (!s->conv) {
      for (int64_t k = 0; k < kc; ++k) {
        const float *row = s->data + (k0 + k) * s->sbk + (n0 + jr) * s->sbn;
        int64_t j = 0;
        if (s->sbn == 1)
          for (; j < cols; ++j)
            bp[j] = row[j];
        else
          for (; j < cols; ++j)
            bp[j] = row[j * s->sbn];
        for (; j < NR; ++j)
          bp[j] = 0.0f;
        bp += NR;
      }
      continue;
    }
    /* Image offsets of the panel's output positions. */
    int64_t base[NR];
    for (int64_t j = 0; j < NR; ++j) {
      int64_t pos = n0 + jr + (j < cols ? j : 0);
      base[j] = (pos / s->ow) * s->sh * s->iw + (pos % s->ow) * s->sw;
    }
    int64_t window = s->kh * s->kw;
    for (int64_t k = 0; k < kc; ++k) {
      int64_t kk = k0 + k;
      int64_t channel = kk / window, y = (kk / s->kw) % s->kh, x = kk % s->kw;
      const float *src =
          s->data + channel * s->ih * s->iw + y * s->dh * s->iw + x * s->dw;
      int64_t j = 0;
      if (s->sw == 1 && cols == NR && base[NR - 1] - base[0] == NR - 1)
        for (; j < NR; ++j) /* one contiguous image row */
          bp[j] = src[base[0] + j];
      for (; j < cols; ++j)
        bp[j] = src[base[j]];
      for (; j < NR; ++j)
        bp[j] = 0.0f;
      bp += NR;
    }
  }
}

/* Rows [m0, m1) and columns [n0, n1) of C. */
static void gemm(int64_t m0, int64_t m1, int64_t n0, int64_t n1, int64_t k,
                 const float *a, int64_t sam, int64_t sak, const b_source *b,
                 float *c, int64_t ldc, float *workspace) {
  float *ap = workspace, *bp = workspace + MC * KC;
  a += m0 * sam;
  c += m0 * ldc;
  int64_t m = m1 - m0;
  for (int64_t jc = n0; jc < n1; jc += NC) {
    int64_t nc = min64(NC, n1 - jc);
    for (int64_t pc = 0; pc < k; pc += KC) {
      int64_t kc = min64(KC, k - pc);
      pack_b(b, pc, kc, jc, nc, bp);
      for (int64_t ic = 0; ic < m; ic += MC) {
        int64_t mc = min64(MC, m - ic);
        pack_a(a, sam, sak, m, ic, mc, pc, kc, ap);
        for (int64_t jr = 0; jr < nc; jr += NR)
          for (int64_t ir = 0; ir < mc; ir += MR)
            tile(kc, ap + ir * kc, bp + jr * kc, c + (ic + ir) * ldc + jc + jr,
                 ldc, min64(MR, mc - ir), min64(NR, nc - jr));
      }
    }
  }
}

/* The part of an m x n output that workgroup `wg` of `wgc` computes: blocks
 * of whole 6-row or 16-column panels. Each workgroup packs all of A when
 * columns are split and all of B when rows are, so split the dimension
 * whose duplicated packing is smaller (m > n: rows). Workgroups never share
 * outputs. */
static void workgroup_range(int64_t m, int64_t n, int64_t wg, int64_t wgc,
                            int64_t *m0, int64_t *m1, int64_t *n0,
                            int64_t *n1) {
  *m0 = 0, *m1 = m, *n0 = 0, *n1 = n;
  if (wgc <= 1)
    return;
  int64_t panels = (n + NR - 1) / NR;
  int64_t rowPanels = (m + MR - 1) / MR;
  if (panels >= wgc && !(m > n && rowPanels >= wgc)) {
    *n0 = min64(n, panels * wg / wgc * NR);
    *n1 = min64(n, panels * (wg + 1) / wgc * NR);
    return;
  }
  *m0 = min64(m, rowPanels * wg / wgc * MR);
  *m1 = min64(m, rowPanels * (wg + 1) / wgc * MR);
}

/* C[m, n] (row stride n) += A(m, k) * B(k, n) with A(i, j) = a[i*sam + j*sak]
 * and B(i, j) = b[i*sbk + j*sbn]; this workgroup's share of it. */
KILN_BUILTIN void kiln_ukernel_matmul_f32(const float *a, const float *b,
                                          float *c, float *workspace, int64_t m,
                                          int64_t n, int64_t k, int64_t sam,
                                          int64_t sak, int64_t sbk, int64_t sbn,
                                          int64_t wg, int64_t wgc) {
  b_source source = {.data = b, .n = n, .sbk = sbk, .sbn = sbn};
  int64_t m0, m1, n0, n1;
  workgroup_range(m, n, wg, wgc, &m0, &m1, &n0, &n1);
  gemm(m0, m1, n0, n1, k, a, sam, sak, &source, c, n,
       workspace + wg * KILN_UKERNEL_WORKSPACE_FLOATS);
}

/* Grouped 2-D convolution accumulating into `output` (this workgroup's
 * share of the output channels or positions):
 * input  [batch, groups, cpg, ih, iw] (already padded),
 * filter [groups, fpg, cpg, kh, kw], output [batch, groups, fpg, oh, ow]. */
KILN_BUILTIN void kiln_ukernel_conv2d_f32(
    const float *input, const float *filter, float *output, float *workspace,
    int64_t batch, int64_t groups, int64_t cpg, int64_t ih, int64_t iw,
    int64_t fpg, int64_t kh, int64_t kw, int64_t oh, int64_t ow, int64_t sh,
    int64_t sw, int64_t dh, int64_t dw, int64_t wg, int64_t wgc) {
  int64_t k = cpg * kh * kw, positions = oh * ow;
  int64_t m0, m1, n0, n1;
  workgroup_range(fpg, positions, wg, wgc, &m0, &m1, &n0, &n1);
  workspace += wg * KILN_UKERNEL_WORKSPACE_FLOATS;
  for (int64_t image = 0; image < batch; ++image)
    for (int64_t g = 0; g < groups; ++g) {
      b_source source = {.data = input + (image * groups + g) * cpg * ih * iw,
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
      gemm(m0, m1, n0, n1, k, filter + g * fpg * k, k, 1, &source,
           output + (image * groups + g) * fpg * positions, positions,
           workspace);
    }
}
