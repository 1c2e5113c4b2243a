// Kernel experiment harness (llm.c dev/ style): the native GEMM, outside Node, against a naive triple loop
// on the linear-layer shapes of the two target models; prints max error and GFLOP/s per shape and variant.
// Build and run (one line):  gcc -O3 -std=gnu11 -pthread -fno-math-errno -Inative dev/gemm_bench.c native/pool.c
//   native/kernels_avx2.c native/kernels_base.c -lm -o /tmp/gemm_bench; then /tmp/gemm_bench [threads] [avx2|base]
// Variants: add -DKC=128 -DMCMAX=144 -DNCMAX=512 etc. (the blocking constants are overridable for this).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kernels.h"
#include "pool.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static float *randn(long n) {
  float *x = malloc(sizeof(float) * n);
  for (long i = 0; i < n; i++) x[i] = (float)rand() / RAND_MAX * 2.0f - 1.0f;
  return x;
}

// C (m,n) += A (m,k) @ B (k,n), strided, in double: the oracle
static void gemm_naive(float *c, int ldc, const float *a, int ars, int acs, const float *b, int brs, int bcs, int m, int n, int k) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int p = 0; p < k; p++) s += (double)a[(long)i * ars + (long)p * acs] * b[(long)p * brs + (long)j * bcs];
      c[(long)i * ldc + j] += (float)s;
    }
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 2;
  const KernelTable *K = argc > 2 && strcmp(argv[2], "base") == 0 ? kernels_base() : kernels_avx2();
  if (!K) K = kernels_base();
  pool_set_threads(threads);
  printf("isa %s, %d threads\n", K->name, threads);
  int models[2][3] = {{2, 64, 256}, {4, 128, 4096}}; // depth, T, V (B = 32)
  for (int mi = 0; mi < 2; mi++) {
    int C = 64 * models[mi][0], BT = 32 * models[mi][1], V = models[mi][2];
    int layers[5][2] = {{C, 3 * C}, {C, C}, {C, 4 * C}, {4 * C, C}, {C, V}};
    const char *names[5] = {"qkv", "attproj", "fc", "fcproj", "head"};
    printf("depth %d (C %d, BT %d, V %d)\n", models[mi][0], C, BT, V);
    for (int li = 0; li < 5; li++) {
      int IC = layers[li][0], OC = layers[li][1];
      float *inp = randn((long)BT * IC), *w = randn((long)OC * IC), *dout = randn((long)BT * OC);
      float *out = calloc((long)BT * OC, 4), *dinp = calloc((long)BT * IC, 4), *dw = calloc((long)OC * IC, 4);
      struct { const char *v; float *c; int ldc; const float *a; int ars, acs; const float *b; int brs, bcs, m, n, k; } runs[3] = {
        {"forward", out, OC, inp, IC, 1, w, 1, IC, BT, OC, IC},    // out = inp @ W^T
        {"dinp", dinp, IC, dout, OC, 1, w, IC, 1, BT, IC, OC},     // dinp += dout @ W
        {"dweight", dw, IC, dout, 1, OC, inp, IC, 1, OC, IC, BT},  // dW += dout^T @ inp
      };
      for (int r = 0; r < 3; r++) {
        __typeof__(runs[0]) *g = &runs[r];
        // check 8 rows against the oracle (the full naive product is too slow for the big shapes)
        int mcheck = g->m < 8 ? g->m : 8;
        float *c0 = calloc((long)g->m * g->ldc, 4), *c1 = calloc((long)mcheck * g->ldc, 4);
        K->gemm(c0, g->ldc, g->a, g->ars, g->acs, g->b, g->brs, g->bcs, g->m, g->n, g->k);
        gemm_naive(c1, g->ldc, g->a, g->ars, g->acs, g->b, g->brs, g->bcs, mcheck, g->n, g->k);
        double maxerr = 0;
        for (long i = 0; i < (long)mcheck * g->ldc; i++) maxerr = fmax(maxerr, fabs(c0[i] - c1[i]));
        double best = 1e30;
        for (int rep = 0; rep < 5; rep++) {
          double t0 = now_ms();
          K->gemm(g->c, g->ldc, g->a, g->ars, g->acs, g->b, g->brs, g->bcs, g->m, g->n, g->k);
          double t = now_ms() - t0;
          if (t < best) best = t;
        }
        printf("  %-8s %-8s m %5d n %5d k %5d  best %8.2f ms  %6.1f GFLOP/s  max err %.2e\n", names[li], g->v, g->m, g->n, g->k, best,
               2.0 * g->m * g->n * g->k / (best * 1e6), maxerr);
        free(c0);
        free(c1);
      }
      free(inp); free(w); free(dout); free(out); free(dinp); free(dw);
    }
  }
  return 0;
}
