// The C kernel table: one entry per kernel of src/engine/kernels.ts, filled twice from the same source
// (kernels_avx2.c with AVX2/FMA, kernels_base.c portable); addon.c picks one at load time by CPUID.
#ifndef SCALING_LAB_KERNELS_H
#define SCALING_LAB_KERNELS_H

typedef struct {
  const char *name;  // "avx2" or "base"
  void (*encoder_forward)(float *out, const int *inp, const float *wte, const float *wpe, int B, int T, int C);
  void (*encoder_backward)(float *dwte, float *dwpe, const float *dout, const int *inp, int B, int T, int C);
  void (*layernorm_forward)(float *out, float *mean, float *rstd, const float *inp, const float *weight, const float *bias, int B, int T, int C);
  void (*layernorm_backward)(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp, const float *weight, const float *mean, const float *rstd, int B, int T, int C);
  void (*matmul_forward)(float *out, const float *inp, const float *weight, const float *bias, int B, int T, int C, int OC);
  void (*matmul_backward)(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp, const float *weight, int B, int T, int C, int OC);
  void (*attention_forward)(float *out, float *preatt, float *att, const float *inp, int B, int T, int C, int NH);
  void (*attention_backward)(float *dinp, float *dpreatt, float *datt, const float *dout, const float *inp, const float *att, int B, int T, int C, int NH);
  void (*gelu_forward)(float *out, const float *inp, long N);
  void (*gelu_backward)(float *dinp, const float *inp, const float *dout, long N);
  void (*residual_forward)(float *out, const float *inp1, const float *inp2, long N);
  void (*residual_backward)(float *dinp1, float *dinp2, const float *dout, long N);
  void (*softmax_xent_forward)(float *losses, float *probs, const float *logits, const int *targets, int B, int T, int V);
  void (*softmax_xent_backward)(float *dlogits, const float *probs, const int *targets, float dloss, int B, int T, int V);
  void (*adamw)(float *params, const float *grads, float *m, float *v, long N, float lr, float beta1, float beta2, float eps, float wd, int t);
  double (*sum_squares)(const float *x, long N);
  void (*scale)(float *x, float s, long N);
  // C (m,n; row stride ldc) += A (m,k) @ B (k,n) with A(i,p) = a[i*ars + p*acs], B(p,j) = b[p*brs + j*bcs]
  void (*gemm)(float *c, int ldc, const float *a, int ars, int acs, const float *b, int brs, int bcs, int m, int n, int k);
} KernelTable;

const KernelTable *kernels_avx2(void);
const KernelTable *kernels_base(void);

#endif
