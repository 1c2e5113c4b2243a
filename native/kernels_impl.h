// Every native kernel, written once and compiled twice (kernels_avx2.c with AVX2/FMA, kernels_base.c
// portable): KSFX() names the build. Shapes and semantics are src/engine/kernels.ts's; threading is pool.c's.
//
// Determinism: every parallel loop hands out chunks whose outputs are disjoint, and the arithmetic of an
// output element never depends on the chunk it falls in (fixed k-blocking in the GEMM, fixed chunk size
// for sumSquares), so results are bit-identical across runs and across thread counts on one build.
// No -ffast-math: reductions are vectorised by hand in a fixed order, and NaN/Inf keep IEEE meaning.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "pool.h"
#ifdef __AVX2__
#include <immintrin.h>
#endif

#define KMIN(a, b) ((a) < (b) ? (a) : (b))
#define EW_CHUNK 16384  // elements per chunk for elementwise kernels (a multiple of 8)
#define GELU_S 0.7978845608028654f  // sqrt(2/pi)
#define GELU_C 0.044715f

// ---- vector helpers (fixed-order reductions, exp, tanh)

#ifdef __AVX2__
static inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
static inline float hmax8(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
// exp(x), Cephes expf polynomial (max rel. error ~2 ulp); clamps to +-88.38; a NaN input stays NaN
// (min/max return their second operand when either is NaN, so x goes second).
static inline __m256 exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_set1_ps(88.3762626647949f), x);
  x = _mm256_max_ps(_mm256_set1_ps(-88.3762626647949f), x);
  __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), x);
  y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
  __m256i n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(n));
}
// tanh(u) and sech^2(u) = 1 - tanh^2(u), both to ~1e-7 relative: with r = 2 / (exp(2|u|) + 1),
// tanh|u| = 1 - r and sech^2 = r (2 - r), so neither 1 + tanh (u < 0) nor 1 - tanh^2 cancels. Saturates cleanly.
static inline __m256 tanh8(__m256 u, __m256 *sech2) {
  __m256 sign = _mm256_and_ps(u, _mm256_set1_ps(-0.0f));
  __m256 a = _mm256_xor_ps(u, sign);
  __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
  __m256 r = _mm256_div_ps(two, _mm256_add_ps(exp8(_mm256_add_ps(a, a)), one));
  if (sech2) *sech2 = _mm256_mul_ps(r, _mm256_sub_ps(two, r));
  return _mm256_xor_ps(_mm256_sub_ps(one, r), sign);
}
#endif

// sum of a[i]*b[i], fixed order (8 lanes x 2 accumulators, then the tail)
static inline float dotf(const float *a, const float *b, int n) {
  int i = 0;
  float s = 0.0f;
#ifdef __AVX2__
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  s = hsum8(_mm256_add_ps(s0, s1));
#endif
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

static inline float sumf(const float *a, int n) {
  int i = 0;
  float s = 0.0f;
#ifdef __AVX2__
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_add_ps(_mm256_loadu_ps(a + i), s0);
    s1 = _mm256_add_ps(_mm256_loadu_ps(a + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_add_ps(_mm256_loadu_ps(a + i), s0);
  s = hsum8(_mm256_add_ps(s0, s1));
#endif
  for (; i < n; i++) s += a[i];
  return s;
}

// ---- GEMM: packed panels and a 6x16 register-blocked micro-kernel (the BLIS layout: Goto & van de Geijn
// 2008, "Anatomy of high-performance matrix multiplication"). C (m,n) += A (m,k) @ B (k,n), any strides.

#define MR 6     // rows of C per micro-tile
#define NR 16    // columns of C per micro-tile (two 8-float vectors)
#ifndef KC       // (the blocking sizes can be overridden by dev/gemm_bench.c experiments)
#define KC 256   // k-block: an Ap micro-panel (KC x MR) and a Bp micro-panel (KC x NR) stay in L1
#endif
#ifndef MCMAX
#define MCMAX 96 // rows of A packed per block (L2)
#endif
#ifndef NCMAX
#define NCMAX 256 // columns of B packed per block (L2)
#endif

static float *packA[POOL_MAX_THREADS]; // per thread: MCMAX x KC
static float *packB[POOL_MAX_THREADS]; // per thread: KC x NCMAX

static void ensure_pack(int tid) {
  if (packA[tid] == NULL) {
    packA[tid] = aligned_alloc(64, sizeof(float) * MCMAX * KC);
    packB[tid] = aligned_alloc(64, sizeof(float) * KC * NCMAX);
  }
}

// ap (mc/MR panels, each kc x MR) <- A (mc, kc), rows past mc zero
static void pack_a(float *ap, const float *a, int ars, int acs, int mc, int kc) {
  for (int i0 = 0; i0 < mc; i0 += MR, ap += kc * MR) {
    int mr = KMIN(MR, mc - i0);
    if (acs == 1) {
      for (int r = 0; r < MR; r++) {
        const float *row = a + (long)(i0 + r) * ars;
        if (r < mr) for (int p = 0; p < kc; p++) ap[p * MR + r] = row[p];
        else for (int p = 0; p < kc; p++) ap[p * MR + r] = 0.0f;
      }
    } else {
      for (int p = 0; p < kc; p++) {
        const float *col = a + (long)p * acs + (long)i0 * ars;
        for (int r = 0; r < MR; r++) ap[p * MR + r] = r < mr ? col[(long)r * ars] : 0.0f;
      }
    }
  }
}

// bp (nc/NR panels, each kc x NR) <- B (kc, nc), columns past nc zero
static void pack_b(float *bp, const float *b, int brs, int bcs, int kc, int nc) {
  for (int j0 = 0; j0 < nc; j0 += NR, bp += kc * NR) {
    int nr = KMIN(NR, nc - j0);
    if (bcs == 1) {
      for (int p = 0; p < kc; p++) {
        const float *row = b + (long)p * brs + j0;
        for (int j = 0; j < NR; j++) bp[p * NR + j] = j < nr ? row[j] : 0.0f;
      }
    } else {
      for (int j = 0; j < NR; j++) {
        const float *col = b + (long)(j0 + j) * bcs;
        if (j < nr) for (int p = 0; p < kc; p++) bp[p * NR + j] = col[(long)p * brs];
        else for (int p = 0; p < kc; p++) bp[p * NR + j] = 0.0f;
      }
    }
  }
}

// c (mr<=MR, nr<=NR; row stride ldc): overwrite ? acc + bias : c + acc, acc = Ap-panel @ Bp-panel over kc
static inline void micro_kernel(int kc, const float *ap, const float *bp, float *c, int ldc, int mr, int nr, int overwrite, const float *bias) {
  float tile[MR * NR] __attribute__((aligned(32)));
#ifdef __AVX2__
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int p = 0; p < kc; p++, ap += MR, bp += NR) {
    __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8), a;
    a = _mm256_broadcast_ss(ap + 0); c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(ap + 1); c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(ap + 2); c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(ap + 3); c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(ap + 4); c40 = _mm256_fmadd_ps(a, b0, c40); c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(ap + 5); c50 = _mm256_fmadd_ps(a, b0, c50); c51 = _mm256_fmadd_ps(a, b1, c51);
  }
  if (mr == MR && nr == NR) {
    __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    __m256 bi0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    __m256 bi1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    for (int r = 0; r < MR; r++) {
      float *cr = c + (long)r * ldc;
      if (overwrite) {
        _mm256_storeu_ps(cr, _mm256_add_ps(acc[r][0], bi0));
        _mm256_storeu_ps(cr + 8, _mm256_add_ps(acc[r][1], bi1));
      } else {
        _mm256_storeu_ps(cr, _mm256_add_ps(_mm256_loadu_ps(cr), acc[r][0]));
        _mm256_storeu_ps(cr + 8, _mm256_add_ps(_mm256_loadu_ps(cr + 8), acc[r][1]));
      }
    }
    return;
  }
  _mm256_store_ps(tile + 0, c00); _mm256_store_ps(tile + 8, c01);
  _mm256_store_ps(tile + 16, c10); _mm256_store_ps(tile + 24, c11);
  _mm256_store_ps(tile + 32, c20); _mm256_store_ps(tile + 40, c21);
  _mm256_store_ps(tile + 48, c30); _mm256_store_ps(tile + 56, c31);
  _mm256_store_ps(tile + 64, c40); _mm256_store_ps(tile + 72, c41);
  _mm256_store_ps(tile + 80, c50); _mm256_store_ps(tile + 88, c51);
#else
  for (int i = 0; i < MR * NR; i++) tile[i] = 0.0f;
  for (int p = 0; p < kc; p++, ap += MR, bp += NR)
    for (int r = 0; r < MR; r++)
      for (int j = 0; j < NR; j++) tile[r * NR + j] += ap[r] * bp[j];
#endif
  for (int r = 0; r < mr; r++) {
    float *cr = c + (long)r * ldc;
    for (int j = 0; j < nr; j++) cr[j] = overwrite ? tile[r * NR + j] + (bias ? bias[j] : 0.0f) : cr[j] + tile[r * NR + j];
  }
}

// One thread's blocked GEMM. overwrite: C = A@B + bias (bias (n) or NULL) instead of C += A@B.
// causal: skip micro-tiles wholly above the diagonal (all j > i), whose values the caller ignores.
static void gemm_serial(int tid, float *c, int ldc, const float *a, int ars, int acs, const float *b, int brs, int bcs,
                        int m, int n, int k, int overwrite, const float *bias, int causal) {
  ensure_pack(tid);
  float *ap = packA[tid], *bp = packB[tid];
  if (k == 0 && overwrite) {
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++) c[(long)i * ldc + j] = bias ? bias[j] : 0.0f;
    return;
  }
  for (int jc = 0; jc < n; jc += NCMAX) {
    int nc = KMIN(NCMAX, n - jc);
    for (int pc = 0; pc < k; pc += KC) {
      int kc = KMIN(KC, k - pc);
      int first = overwrite && pc == 0;
      pack_b(bp, b + (long)pc * brs + (long)jc * bcs, brs, bcs, kc, nc);
      for (int ic = 0; ic < m; ic += MCMAX) {
        int mc = KMIN(MCMAX, m - ic);
        pack_a(ap, a + (long)ic * ars + (long)pc * acs, ars, acs, mc, kc);
        for (int jr = 0; jr < nc; jr += NR) {
          for (int ir = 0; ir < mc; ir += MR) {
            int mr = KMIN(MR, mc - ir);
            if (causal && jc + jr > ic + ir + mr - 1) continue;
            micro_kernel(kc, ap + (ir / MR) * kc * MR, bp + (jr / NR) * kc * NR, c + (long)(ic + ir) * ldc + jc + jr, ldc,
                         mr, KMIN(NR, nc - jr), first, bias ? bias + jc + jr : NULL);
          }
        }
      }
    }
  }
}

typedef struct {
  float *c; int ldc; const float *a; int ars, acs; const float *b; int brs, bcs; int m, n, k;
  int overwrite; const float *bias;
  int mc, nc, nb, nchunks; // chunk grid: (m/mc) x (n/nc), row-major
} GemmJob;

static void gemm_job_init(GemmJob *g, int threads) {
  // Chunks start as the whole of m (a packed B panel is then reused across every row block, as in BLIS)
  // by NCMAX columns, and are split until every thread has several (dynamic claiming then balances a
  // noisy machine). Chunk size never changes the arithmetic of an output element (k-blocking is fixed).
  g->mc = ((g->m + MR - 1) / MR) * MR;
  g->nc = NCMAX;
  int target = threads == 1 ? 1 : 6 * threads;
  for (;;) {
    int mb = (g->m + g->mc - 1) / g->mc, nb = (g->n + g->nc - 1) / g->nc;
    g->nb = nb;
    g->nchunks = mb * nb;
    if (g->nchunks >= target) break;
    if (g->mc > MCMAX) g->mc = ((g->mc / 2 + MR - 1) / MR) * MR;
    else if (g->nc > 4 * NR) g->nc /= 2;
    else if (g->mc > 2 * MR) g->mc = ((g->mc / 2 + MR - 1) / MR) * MR;
    else break;
  }
}

static void gemm_job_chunk(const GemmJob *g, int chunk, int tid) {
  int i0 = (chunk / g->nb) * g->mc, j0 = (chunk % g->nb) * g->nc;
  gemm_serial(tid, g->c + (long)i0 * g->ldc + j0, g->ldc, g->a + (long)i0 * g->ars, g->ars, g->acs, g->b + (long)j0 * g->bcs,
              g->brs, g->bcs, KMIN(g->mc, g->m - i0), KMIN(g->nc, g->n - j0), g->k, g->overwrite, g->bias ? g->bias + j0 : NULL, 0);
}

static void gemm_chunk(void *ctx, int chunk, int tid) { gemm_job_chunk((const GemmJob *)ctx, chunk, tid); }

static void gemm_run(float *c, int ldc, const float *a, int ars, int acs, const float *b, int brs, int bcs, int m, int n, int k,
                     int overwrite, const float *bias) {
  if (m <= 0 || n <= 0) return;
  GemmJob g = {c, ldc, a, ars, acs, b, brs, bcs, m, n, k, overwrite, bias, 0, 0, 0, 0};
  gemm_job_init(&g, pool_threads());
  pool_for(g.nchunks, gemm_chunk, &g);
}

static void KSFX(gemm)(float *c, int ldc, const float *a, int ars, int acs, const float *b, int brs, int bcs, int m, int n, int k) {
  gemm_run(c, ldc, a, ars, acs, b, brs, bcs, m, n, k, 0, NULL);
}

// ---- matmul (nn.Linear layout: weight (OC,C))

static void KSFX(matmul_forward)(float *out, const float *inp, const float *weight, const float *bias, int B, int T, int C, int OC) {
  // out (B,T,OC) = inp (B,T,C) @ weight (OC,C)^T + bias (OC)
  gemm_run(out, OC, inp, C, 1, weight, 1, C, B * T, OC, C, 1, bias);
}

typedef struct {
  GemmJob dinp, dw;        // two GEMMs in one parallel region
  float *dbias; const float *dout; int BT, OC, nbias;
} MatmulBackJob;

#define BIAS_COLS 64
static void matmul_backward_chunk(void *ctx, int chunk, int tid) {
  MatmulBackJob *j = ctx;
  if (chunk < j->dinp.nchunks) { gemm_job_chunk(&j->dinp, chunk, tid); return; }
  chunk -= j->dinp.nchunks;
  if (chunk < j->dw.nchunks) { gemm_job_chunk(&j->dw, chunk, tid); return; }
  chunk -= j->dw.nchunks;
  // dbias columns [o0, o1): sum over all (B,T) rows in order
  int o0 = chunk * BIAS_COLS, o1 = KMIN(j->OC, o0 + BIAS_COLS);
  float acc[BIAS_COLS] = {0};
  for (int bt = 0; bt < j->BT; bt++) {
    const float *d = j->dout + (long)bt * j->OC;
    for (int o = o0; o < o1; o++) acc[o - o0] += d[o];
  }
  for (int o = o0; o < o1; o++) j->dbias[o] += acc[o - o0];
}

static void KSFX(matmul_backward)(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp, const float *weight,
                                  int B, int T, int C, int OC) {
  // dinp (B,T,C) += dout (B,T,OC) @ weight (OC,C); dweight (OC,C) += dout^T @ inp (B,T,C); dbias (OC) += colsum(dout)
  int BT = B * T, threads = pool_threads();
  MatmulBackJob j;
  memset(&j, 0, sizeof j);
  j.dinp = (GemmJob){dinp, C, dout, OC, 1, weight, C, 1, BT, C, OC, 0, NULL, 0, 0, 0, 0};
  j.dw = (GemmJob){dweight, C, dout, 1, OC, inp, C, 1, OC, C, BT, 0, NULL, 0, 0, 0, 0};
  gemm_job_init(&j.dinp, threads);
  gemm_job_init(&j.dw, threads);
  j.dbias = dbias; j.dout = dout; j.BT = BT; j.OC = OC;
  j.nbias = dbias ? (OC + BIAS_COLS - 1) / BIAS_COLS : 0;
  pool_for(j.dinp.nchunks + j.dw.nchunks + j.nbias, matmul_backward_chunk, &j);
}

// ---- attention: per (b, h) the four products are small GEMMs on strided views of inp (B,T,3C)

typedef struct {
  float *out, *preatt, *att; const float *inp;   // forward
  float *dinp, *dpreatt, *datt; const float *dout; // backward (att shared)
  int T, C, NH;
} AttnJob;

static void attention_forward_chunk(void *ctx, int bh, int tid) {
  AttnJob *j = ctx;
  int T = j->T, C = j->C, NH = j->NH, HS = C / NH, C3 = 3 * C, b = bh / NH, h = bh % NH;
  float scale = 1.0f / sqrtf((float)HS);
  const float *q = j->inp + (long)b * T * C3 + h * HS, *k = q + C, *v = q + 2 * C; // each (T,HS), row stride 3C
  float *pre = j->preatt + (long)bh * T * T, *att = j->att + (long)bh * T * T;   // (T,T)
  float *out = j->out + (long)b * T * C + h * HS;                                   // (T,HS), row stride C
  gemm_serial(tid, pre, T, q, C3, 1, k, 1, C3, T, T, HS, 1, NULL, 1); // pre = q @ k^T (lower triangle)
  for (int t = 0; t < T; t++) {
    float *pr = pre + (long)t * T, *ar = att + (long)t * T;
    float maxval = -INFINITY;
    for (int t2 = 0; t2 <= t; t2++) {
      pr[t2] *= scale;
      if (pr[t2] > maxval) maxval = pr[t2];
    }
    float sum = 0.0f;
    int t2 = 0;
#ifdef __AVX2__
    __m256 mx = _mm256_set1_ps(maxval), s8 = _mm256_setzero_ps();
    for (; t2 + 8 <= t + 1; t2 += 8) {
      __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(pr + t2), mx));
      _mm256_storeu_ps(ar + t2, e);
      s8 = _mm256_add_ps(s8, e);
    }
    sum = hsum8(s8);
#endif
    for (; t2 <= t; t2++) {
      ar[t2] = expf(pr[t2] - maxval);
      sum += ar[t2];
    }
    float inv = 1.0f / sum;
    for (t2 = 0; t2 <= t; t2++) ar[t2] *= inv;
    for (t2 = t + 1; t2 < T; t2++) ar[t2] = pr[t2] = 0.0f;
  }
  gemm_serial(tid, out, C, att, T, 1, v, C3, 1, T, HS, T, 1, NULL, 0); // out = att @ v
}

static void KSFX(attention_forward)(float *out, float *preatt, float *att, const float *inp, int B, int T, int C, int NH) {
  // out (B,T,C); preatt, att (B,NH,T,T), masked entries 0; inp (B,T,3C) = [q | k | v]
  AttnJob j = {out, preatt, att, inp, NULL, NULL, NULL, NULL, T, C, NH};
  pool_for(B * NH, attention_forward_chunk, &j);
}

static void attention_backward_chunk(void *ctx, int bh, int tid) {
  AttnJob *j = ctx;
  int T = j->T, C = j->C, NH = j->NH, HS = C / NH, C3 = 3 * C, b = bh / NH, h = bh % NH;
  float scale = 1.0f / sqrtf((float)HS);
  const float *q = j->inp + (long)b * T * C3 + h * HS, *k = q + C, *v = q + 2 * C; // (T,HS), row stride 3C
  float *dq = j->dinp + (long)b * T * C3 + h * HS, *dk = dq + C, *dv = dq + 2 * C;  // (T,HS), row stride 3C
  const float *att = j->att + (long)bh * T * T;                                      // (T,T)
  float *dpre = j->dpreatt + (long)bh * T * T, *datt = j->datt + (long)bh * T * T;   // (T,T) scratch
  const float *dout = j->dout + (long)b * T * C + h * HS;                           // (T,HS), row stride C
  gemm_serial(tid, datt, T, dout, C, 1, v, 1, C3, T, T, HS, 1, NULL, 1); // datt = dout @ v^T (lower triangle)
  gemm_serial(tid, dv, C3, att, 1, T, dout, C, 1, T, HS, T, 0, NULL, 0);  // dv += att^T @ dout
  for (int t = 0; t < T; t++) {
    const float *ar = att + (long)t * T;
    float *dr = datt + (long)t * T, *pr = dpre + (long)t * T;
    float dot = dotf(ar, dr, t + 1);
    // softmax backward, with the 1/sqrt(HS) of preatt folded in (dpreatt is scratch, stored scaled)
    for (int t2 = 0; t2 <= t; t2++) pr[t2] = ar[t2] * (dr[t2] - dot) * scale;
    for (int t2 = t + 1; t2 < T; t2++) pr[t2] = 0.0f;
  }
  gemm_serial(tid, dq, C3, dpre, T, 1, k, C3, 1, T, HS, T, 0, NULL, 0); // dq += dpre @ k
  gemm_serial(tid, dk, C3, dpre, 1, T, q, C3, 1, T, HS, T, 0, NULL, 0); // dk += dpre^T @ q
}

static void KSFX(attention_backward)(float *dinp, float *dpreatt, float *datt, const float *dout, const float *inp, const float *att,
                                     int B, int T, int C, int NH) {
  // dinp (B,T,3C) accumulates; dpreatt, datt (B,NH,T,T) overwritten; dout (B,T,C); inp (B,T,3C); att (B,NH,T,T)
  AttnJob j = {NULL, NULL, (float *)att, inp, dinp, dpreatt, datt, dout, T, C, NH};
  pool_for(B * NH, attention_backward_chunk, &j);
}

// ---- row-wise kernels: encoder, layernorm, softmax + cross-entropy (chunks of whole rows)

typedef struct {
  float *out, *mean, *rstd, *dinp, *dweight, *dbias, *probs, *losses;
  const float *inp, *weight, *bias, *dout, *wte, *wpe, *logits;
  const int *tok;
  int B, T, C, rows, rows_per_chunk, nrowchunks;
  float dloss;
} RowJob;

static int rows_per_chunk(int rows, int width) {
  int r = EW_CHUNK / (width > 0 ? width : 1);
  if (r < 1) r = 1;
  int minchunks = 4 * pool_threads(); // keep every thread busy on small problems
  if ((rows + r - 1) / r < minchunks) r = (rows + minchunks - 1) / minchunks;
  return r < 1 ? 1 : r;
}

static void encoder_forward_chunk(void *ctx, int chunk, int tid) {
  RowJob *j = ctx;
  (void)tid;
  int C = j->C, r1 = KMIN(j->rows, (chunk + 1) * j->rows_per_chunk);
  for (int bt = chunk * j->rows_per_chunk; bt < r1; bt++) {
    float *o = j->out + (long)bt * C;
    const float *wt = j->wte + (long)j->tok[bt] * C, *wp = j->wpe + (long)(bt % j->T) * C;
    for (int i = 0; i < C; i++) o[i] = wt[i] + wp[i];
  }
}

static void KSFX(encoder_forward)(float *out, const int *inp, const float *wte, const float *wpe, int B, int T, int C) {
  // out (B,T,C) = wte (V,C)[inp (B,T)] + wpe (maxT,C)[t]
  RowJob j = {0};
  j.out = out; j.tok = inp; j.wte = wte; j.wpe = wpe; j.B = B; j.T = T; j.C = C; j.rows = B * T;
  j.rows_per_chunk = rows_per_chunk(j.rows, C);
  pool_for((j.rows + j.rows_per_chunk - 1) / j.rows_per_chunk, encoder_forward_chunk, &j);
}

#define COL_CHUNK 32
static void encoder_backward_chunk(void *ctx, int chunk, int tid) {
  // columns [i0, i1) of dwte and dwpe, over every (b,t) in order: scatter collisions stay in one thread
  RowJob *j = ctx;
  (void)tid;
  int C = j->C, i0 = chunk * COL_CHUNK, i1 = KMIN(C, i0 + COL_CHUNK);
  for (int bt = 0; bt < j->rows; bt++) {
    const float *d = j->dout + (long)bt * C;
    float *wt = j->dweight + (long)j->tok[bt] * C, *wp = j->dbias + (long)(bt % j->T) * C;
    for (int i = i0; i < i1; i++) {
      wt[i] += d[i];
      wp[i] += d[i];
    }
  }
}

static void KSFX(encoder_backward)(float *dwte, float *dwpe, const float *dout, const int *inp, int B, int T, int C) {
  // dwte (V,C), dwpe (maxT,C) accumulate; dout (B,T,C)
  RowJob j = {0};
  j.dweight = dwte; j.dbias = dwpe; j.dout = dout; j.tok = inp; j.B = B; j.T = T; j.C = C; j.rows = B * T;
  pool_for((C + COL_CHUNK - 1) / COL_CHUNK, encoder_backward_chunk, &j);
}

static void layernorm_forward_chunk(void *ctx, int chunk, int tid) {
  RowJob *j = ctx;
  (void)tid;
  int C = j->C, r1 = KMIN(j->rows, (chunk + 1) * j->rows_per_chunk);
  for (int bt = chunk * j->rows_per_chunk; bt < r1; bt++) {
    const float *x = j->inp + (long)bt * C;
    float *o = j->out + (long)bt * C;
    float m = sumf(x, C) / C;
    for (int i = 0; i < C; i++) o[i] = x[i] - m; // centred, reused below
    float v = dotf(o, o, C) / C;
    float s = 1.0f / sqrtf(v + 1e-5f);
    for (int i = 0; i < C; i++) o[i] = o[i] * s * j->weight[i] + j->bias[i];
    j->mean[bt] = m;
    j->rstd[bt] = s;
  }
}

static void KSFX(layernorm_forward)(float *out, float *mean, float *rstd, const float *inp, const float *weight, const float *bias,
                                    int B, int T, int C) {
  // out (B,T,C); mean, rstd (B,T); inp (B,T,C); weight, bias (C)
  RowJob j = {0};
  j.out = out; j.mean = mean; j.rstd = rstd; j.inp = inp; j.weight = weight; j.bias = bias; j.C = C; j.rows = B * T;
  j.rows_per_chunk = rows_per_chunk(j.rows, C);
  pool_for((j.rows + j.rows_per_chunk - 1) / j.rows_per_chunk, layernorm_forward_chunk, &j);
}

static void layernorm_backward_chunk(void *ctx, int chunk, int tid) {
  RowJob *j = ctx;
  (void)tid;
  int C = j->C;
  if (chunk < j->nrowchunks) { // dinp, row by row
    int r1 = KMIN(j->rows, (chunk + 1) * j->rows_per_chunk);
    for (int bt = chunk * j->rows_per_chunk; bt < r1; bt++) {
      const float *x = j->inp + (long)bt * C, *d = j->dout + (long)bt * C;
      float *di = j->dinp + (long)bt * C;
      float m = j->mean[bt], s = j->rstd[bt];
      float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
      int i = 0;
#ifdef __AVX2__
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, m8 = _mm256_set1_ps(m), s8 = _mm256_set1_ps(s);
      for (; i + 8 <= C; i += 8) {
        __m256 norm = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m8), s8);
        __m256 dnorm = _mm256_mul_ps(_mm256_loadu_ps(j->weight + i), _mm256_loadu_ps(d + i));
        a0 = _mm256_add_ps(a0, dnorm);
        a1 = _mm256_fmadd_ps(dnorm, norm, a1);
      }
      dnorm_mean = hsum8(a0);
      dnorm_norm_mean = hsum8(a1);
#endif
      for (; i < C; i++) {
        float norm = (x[i] - m) * s, dnorm = j->weight[i] * d[i];
        dnorm_mean += dnorm;
        dnorm_norm_mean += dnorm * norm;
      }
      dnorm_mean /= C;
      dnorm_norm_mean /= C;
      for (i = 0; i < C; i++) {
        float norm = (x[i] - m) * s, dnorm = j->weight[i] * d[i];
        di[i] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
      }
    }
    return;
  }
  // dweight, dbias columns [i0, i1): over every row in order
  int i0 = (chunk - j->nrowchunks) * COL_CHUNK, i1 = KMIN(C, i0 + COL_CHUNK);
  float dw[COL_CHUNK] = {0}, db[COL_CHUNK] = {0};
  for (int bt = 0; bt < j->rows; bt++) {
    const float *x = j->inp + (long)bt * C, *d = j->dout + (long)bt * C;
    float m = j->mean[bt], s = j->rstd[bt];
    for (int i = i0; i < i1; i++) {
      db[i - i0] += d[i];
      dw[i - i0] += (x[i] - m) * s * d[i];
    }
  }
  for (int i = i0; i < i1; i++) {
    j->dweight[i] += dw[i - i0];
    j->dbias[i] += db[i - i0];
  }
}

static void KSFX(layernorm_backward)(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp, const float *weight,
                                     const float *mean, const float *rstd, int B, int T, int C) {
  // dinp (B,T,C), dweight, dbias (C) accumulate; dout, inp (B,T,C); mean, rstd (B,T)
  RowJob j = {0};
  j.dinp = dinp; j.dweight = dweight; j.dbias = dbias; j.dout = dout; j.inp = inp; j.weight = weight;
  j.mean = (float *)mean; j.rstd = (float *)rstd; j.C = C; j.rows = B * T;
  j.rows_per_chunk = rows_per_chunk(j.rows, C);
  j.nrowchunks = (j.rows + j.rows_per_chunk - 1) / j.rows_per_chunk;
  pool_for(j.nrowchunks + (C + COL_CHUNK - 1) / COL_CHUNK, layernorm_backward_chunk, &j);
}

static void softmax_forward_chunk(void *ctx, int chunk, int tid) {
  RowJob *j = ctx;
  (void)tid;
  int V = j->C, r1 = KMIN(j->rows, (chunk + 1) * j->rows_per_chunk);
  for (int bt = chunk * j->rows_per_chunk; bt < r1; bt++) {
    const float *x = j->logits + (long)bt * V;
    float *p = j->probs + (long)bt * V;
    float maxval = -INFINITY, sum = 0.0f;
    int i = 0;
#ifdef __AVX2__
    __m256 m8 = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= V; i += 8) m8 = _mm256_max_ps(m8, _mm256_loadu_ps(x + i));
    maxval = hmax8(m8);
#endif
    for (; i < V; i++) if (x[i] > maxval) maxval = x[i];
    i = 0;
#ifdef __AVX2__
    __m256 mx = _mm256_set1_ps(maxval), s8 = _mm256_setzero_ps();
    for (; i + 8 <= V; i += 8) {
      __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), mx));
      _mm256_storeu_ps(p + i, e);
      s8 = _mm256_add_ps(s8, e);
    }
    sum = hsum8(s8);
#endif
    for (; i < V; i++) {
      p[i] = expf(x[i] - maxval);
      sum += p[i];
    }
    float inv = 1.0f / sum;
    for (i = 0; i < V; i++) p[i] *= inv;
    // loss = logsumexp - logit[target], in double (a tiny prob stays finite, as the reference)
    j->losses[bt] = (float)(log((double)sum) + (double)maxval - (double)x[j->tok[bt]]);
  }
}

static void KSFX(softmax_xent_forward)(float *losses, float *probs, const float *logits, const int *targets, int B, int T, int V) {
  // losses (B,T); probs, logits (B,T,V); targets (B,T)
  RowJob j = {0};
  j.losses = losses; j.probs = probs; j.logits = logits; j.tok = targets; j.C = V; j.rows = B * T;
  j.rows_per_chunk = rows_per_chunk(j.rows, V);
  pool_for((j.rows + j.rows_per_chunk - 1) / j.rows_per_chunk, softmax_forward_chunk, &j);
}

static void softmax_backward_chunk(void *ctx, int chunk, int tid) {
  RowJob *j = ctx;
  (void)tid;
  int V = j->C, r1 = KMIN(j->rows, (chunk + 1) * j->rows_per_chunk);
  float dloss = j->dloss;
  for (int bt = chunk * j->rows_per_chunk; bt < r1; bt++) {
    const float *p = j->probs + (long)bt * V;
    float *d = j->dinp + (long)bt * V;
    for (int i = 0; i < V; i++) d[i] += p[i] * dloss;
    d[j->tok[bt]] -= dloss;
  }
}

static void KSFX(softmax_xent_backward)(float *dlogits, const float *probs, const int *targets, float dloss, int B, int T, int V) {
  // dlogits (B,T,V) += (probs (B,T,V) - onehot(targets (B,T))) * dloss
  RowJob j = {0};
  j.dinp = dlogits; j.probs = (float *)probs; j.tok = targets; j.dloss = dloss; j.C = V; j.rows = B * T;
  j.rows_per_chunk = rows_per_chunk(j.rows, V);
  pool_for((j.rows + j.rows_per_chunk - 1) / j.rows_per_chunk, softmax_backward_chunk, &j);
}

// ---- elementwise kernels over N (chunks of EW_CHUNK elements)

typedef struct {
  float *out, *out2, *m, *v; const float *in1, *in2;
  long N; float s, lr, beta1, beta2, eps, wd, bc1, bc2;
  double *partial;
} EwJob;

#define EW_RANGE(j, chunk) long i0 = (long)(chunk) * EW_CHUNK, i1 = i0 + EW_CHUNK < (j)->N ? i0 + EW_CHUNK : (j)->N

static inline float gelu1(float x) {
  return 0.5f * x * (1.0f + tanhf(GELU_S * (x + GELU_C * x * x * x)));
}

static void gelu_forward_chunk(void *ctx, int chunk, int tid) {
  EwJob *j = ctx;
  (void)tid;
  EW_RANGE(j, chunk);
  long i = i0;
#ifdef __AVX2__
  __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), s = _mm256_set1_ps(GELU_S), c = _mm256_set1_ps(GELU_C);
  for (; i + 8 <= i1; i += 8) {
    __m256 x = _mm256_loadu_ps(j->in1 + i);
    __m256 u = _mm256_mul_ps(s, _mm256_fmadd_ps(_mm256_mul_ps(c, x), _mm256_mul_ps(x, x), x));
    _mm256_storeu_ps(j->out + i, _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, tanh8(u, NULL))));
  }
#endif
  for (; i < i1; i++) j->out[i] = gelu1(j->in1[i]);
}

static void KSFX(gelu_forward)(float *out, const float *inp, long N) {
  EwJob j = {0};
  j.out = out; j.in1 = inp; j.N = N;
  pool_for((int)((N + EW_CHUNK - 1) / EW_CHUNK), gelu_forward_chunk, &j);
}

static void gelu_backward_chunk(void *ctx, int chunk, int tid) {
  // dinp += gelu'(x) dout, gelu'(x) = 0.5 (1 + th) + 0.5 x (1 - th^2) s (1 + 3 c x^2)
  EwJob *j = ctx;
  (void)tid;
  EW_RANGE(j, chunk);
  long i = i0;
#ifdef __AVX2__
  __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), s = _mm256_set1_ps(GELU_S), c = _mm256_set1_ps(GELU_C);
  __m256 c3 = _mm256_set1_ps(3.0f * GELU_C);
  for (; i + 8 <= i1; i += 8) {
    __m256 x = _mm256_loadu_ps(j->in1 + i), x2 = _mm256_mul_ps(x, x);
    __m256 sech2;
    __m256 th = tanh8(_mm256_mul_ps(s, _mm256_fmadd_ps(_mm256_mul_ps(c, x), x2, x)), &sech2);
    __m256 local = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_mul_ps(half, x), sech2), _mm256_mul_ps(s, _mm256_fmadd_ps(c3, x2, one)),
                                   _mm256_mul_ps(half, _mm256_add_ps(one, th)));
    _mm256_storeu_ps(j->out + i, _mm256_fmadd_ps(local, _mm256_loadu_ps(j->in2 + i), _mm256_loadu_ps(j->out + i)));
  }
#endif
  for (; i < i1; i++) {
    float x = j->in1[i];
    float th = tanhf(GELU_S * (x + GELU_C * x * x * x));
    float local = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * GELU_S * (1.0f + 3.0f * GELU_C * x * x);
    j->out[i] += local * j->in2[i];
  }
}

static void KSFX(gelu_backward)(float *dinp, const float *inp, const float *dout, long N) {
  EwJob j = {0};
  j.out = dinp; j.in1 = inp; j.in2 = dout; j.N = N;
  pool_for((int)((N + EW_CHUNK - 1) / EW_CHUNK), gelu_backward_chunk, &j);
}

static void residual_forward_chunk(void *ctx, int chunk, int tid) {
  EwJob *j = ctx;
  (void)tid;
  EW_RANGE(j, chunk);
  for (long i = i0; i < i1; i++) j->out[i] = j->in1[i] + j->in2[i];
}

static void KSFX(residual_forward)(float *out, const float *inp1, const float *inp2, long N) {
  EwJob j = {0};
  j.out = out; j.in1 = inp1; j.in2 = inp2; j.N = N;
  pool_for((int)((N + EW_CHUNK - 1) / EW_CHUNK), residual_forward_chunk, &j);
}

static void residual_backward_chunk(void *ctx, int chunk, int tid) {
  EwJob *j = ctx;
  (void)tid;
  EW_RANGE(j, chunk);
  for (long i = i0; i < i1; i++) {
    j->out[i] += j->in1[i];
    j->out2[i] += j->in1[i];
  }
}

static void KSFX(residual_backward)(float *dinp1, float *dinp2, const float *dout, long N) {
  EwJob j = {0};
  j.out = dinp1; j.out2 = dinp2; j.in1 = dout; j.N = N;
  pool_for((int)((N + EW_CHUNK - 1) / EW_CHUNK), residual_backward_chunk, &j);
}

static void adamw_chunk(void *ctx, int chunk, int tid) {
  // m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr (mhat / (sqrt(vhat) + eps) + wd p)
  EwJob *j = ctx;
  (void)tid;
  EW_RANGE(j, chunk);
  float *p = j->out, *m = j->m, *v = j->v;
  const float *g = j->in1;
  long i = i0;
#ifdef __AVX2__
  __m256 b1 = _mm256_set1_ps(j->beta1), b2 = _mm256_set1_ps(j->beta2), nb1 = _mm256_set1_ps(1.0f - j->beta1);
  __m256 nb2 = _mm256_set1_ps(1.0f - j->beta2), bc1 = _mm256_set1_ps(j->bc1), bc2 = _mm256_set1_ps(j->bc2);
  __m256 eps = _mm256_set1_ps(j->eps), wd = _mm256_set1_ps(j->wd), lr = _mm256_set1_ps(j->lr);
  for (; i + 8 <= i1; i += 8) {
    __m256 gi = _mm256_loadu_ps(g + i), pi = _mm256_loadu_ps(p + i);
    __m256 mi = _mm256_fmadd_ps(b1, _mm256_loadu_ps(m + i), _mm256_mul_ps(nb1, gi));
    __m256 vi = _mm256_fmadd_ps(b2, _mm256_loadu_ps(v + i), _mm256_mul_ps(nb2, _mm256_mul_ps(gi, gi)));
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    __m256 mhat = _mm256_div_ps(mi, bc1), vhat = _mm256_div_ps(vi, bc2);
    __m256 upd = _mm256_fmadd_ps(wd, pi, _mm256_div_ps(mhat, _mm256_add_ps(_mm256_sqrt_ps(vhat), eps)));
    _mm256_storeu_ps(p + i, _mm256_fnmadd_ps(lr, upd, pi));
  }
#endif
  for (; i < i1; i++) {
    float mi = j->beta1 * m[i] + (1.0f - j->beta1) * g[i];
    float vi = j->beta2 * v[i] + (1.0f - j->beta2) * g[i] * g[i];
    m[i] = mi;
    v[i] = vi;
    float mhat = mi / j->bc1, vhat = vi / j->bc2;
    p[i] -= j->lr * (mhat / (sqrtf(vhat) + j->eps) + j->wd * p[i]);
  }
}

static void KSFX(adamw)(float *params, const float *grads, float *m, float *v, long N, float lr, float beta1, float beta2, float eps,
                        float wd, int t) {
  // params, grads, m, v (N); bias corrections with step t >= 1 (Loshchilov & Hutter 2019, Algorithm 2)
  EwJob j = {0};
  j.out = params; j.in1 = grads; j.m = m; j.v = v; j.N = N; j.lr = lr; j.beta1 = beta1; j.beta2 = beta2; j.eps = eps; j.wd = wd;
  j.bc1 = (float)(1.0 - pow(beta1, t));
  j.bc2 = (float)(1.0 - pow(beta2, t));
  pool_for((int)((N + EW_CHUNK - 1) / EW_CHUNK), adamw_chunk, &j);
}

static void sum_squares_chunk(void *ctx, int chunk, int tid) {
  // partial[chunk] = sum of x^2 over the chunk in double, 4 lanes x 2 accumulators, fixed order
  EwJob *j = ctx;
  (void)tid;
  EW_RANGE(j, chunk);
  const float *x = j->in1;
  long i = i0;
  double s = 0.0;
#ifdef __AVX2__
  __m256d a0 = _mm256_setzero_pd(), a1 = a0;
  for (; i + 8 <= i1; i += 8) {
    __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(x + i)), hi = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4));
    a0 = _mm256_fmadd_pd(lo, lo, a0);
    a1 = _mm256_fmadd_pd(hi, hi, a1);
  }
  __m256d a = _mm256_add_pd(a0, a1);
  __m128d h = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  s = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
#endif
  for (; i < i1; i++) s += (double)x[i] * (double)x[i];
  j->partial[chunk] = s;
}

static double KSFX(sum_squares)(const float *x, long N) {
  // sum of x (N)^2 in double: per-chunk partials, then added in chunk order (thread-count independent)
  int nchunks = (int)((N + EW_CHUNK - 1) / EW_CHUNK);
  if (nchunks == 0) return 0.0;
  double stackbuf[64], *partial = nchunks <= 64 ? stackbuf : malloc(sizeof(double) * nchunks);
  EwJob j = {0};
  j.in1 = x; j.N = N; j.partial = partial;
  pool_for(nchunks, sum_squares_chunk, &j);
  double s = 0.0;
  for (int c = 0; c < nchunks; c++) s += partial[c];
  if (partial != stackbuf) free(partial);
  return s;
}

static void scale_chunk(void *ctx, int chunk, int tid) {
  EwJob *j = ctx;
  (void)tid;
  EW_RANGE(j, chunk);
  for (long i = i0; i < i1; i++) j->out[i] *= j->s;
}

static void KSFX(scale)(float *x, float s, long N) {
  EwJob j = {0};
  j.out = x; j.s = s; j.N = N;
  pool_for((int)((N + EW_CHUNK - 1) / EW_CHUNK), scale_chunk, &j);
}

// ---- the table

static const KernelTable KSFX(table) = {
  KNAME,
  KSFX(encoder_forward), KSFX(encoder_backward), KSFX(layernorm_forward), KSFX(layernorm_backward),
  KSFX(matmul_forward), KSFX(matmul_backward), KSFX(attention_forward), KSFX(attention_backward),
  KSFX(gelu_forward), KSFX(gelu_backward), KSFX(residual_forward), KSFX(residual_backward),
  KSFX(softmax_xent_forward), KSFX(softmax_xent_backward), KSFX(adamw), KSFX(sum_squares), KSFX(scale), KSFX(gemm),
};

const KernelTable *KSFX(kernels)(void) { return &KSFX(table); }
