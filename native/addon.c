// The N-API glue (plain C, node_api.h): picks the AVX2/FMA or the portable kernel table by CPUID, checks
// every argument (typed-array kinds, lengths against the dimensions, token ranges) and calls the kernel.
// What the kernels compute is kernels_impl.h's; how threads run is pool.c's.
#include <stdio.h>
#include <string.h>
#include <node_api.h>
#include "kernels.h"
#include "pool.h"

static const KernelTable *K = NULL;

static const KernelTable *pick_table(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && kernels_avx2() != NULL) return kernels_avx2();
#endif
  return kernels_base();
}

// ---- argument helpers: each returns 0 after throwing a JS error

#define MAXARGS 12
#define GET_ARGS(n)                                                        \
  size_t argc = MAXARGS;                                                   \
  napi_value argv[MAXARGS];                                                \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);                    \
  if (argc < (n)) {                                                        \
    napi_throw_type_error(env, NULL, "native kernel: expected " #n " arguments"); \
    return NULL;                                                           \
  }

static int fail(napi_env env, const char *fmt, const char *name, double a, double b) {
  char msg[256];
  snprintf(msg, sizeof msg, fmt, name, a, b);
  napi_throw_range_error(env, NULL, msg);
  return 0;
}

// a typed array of the given kind with at least `need` elements (subarray views: data is already offset)
static int get_array(napi_env env, napi_value v, napi_typedarray_type want, const char *name, double need, void **data, int nullable) {
  napi_valuetype vt;
  napi_typeof(env, v, &vt);
  if (nullable && (vt == napi_null || vt == napi_undefined)) {
    *data = NULL;
    return 1;
  }
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  napi_typedarray_type type;
  size_t length = 0;
  if (!is_ta || napi_get_typedarray_info(env, v, &type, &length, data, NULL, NULL) != napi_ok || type != want) {
    char msg[160];
    snprintf(msg, sizeof msg, "native kernel: %s must be a %s", name, want == napi_float32_array ? "Float32Array" : "Int32Array");
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  if ((double)length < need) return fail(env, "native kernel: %s has %.0f elements, needs at least %.0f", name, (double)length, need);
  return 1;
}

#define F32(i, name, need) float *name; if (!get_array(env, argv[i], napi_float32_array, #name, (need), (void **)&name, 0)) return NULL
#define F32_OR_NULL(i, name, need) float *name; if (!get_array(env, argv[i], napi_float32_array, #name, (need), (void **)&name, 1)) return NULL
#define I32(i, name, need) int *name; if (!get_array(env, argv[i], napi_int32_array, #name, (need), (void **)&name, 0)) return NULL

static int get_dim(napi_env env, napi_value v, const char *name, int min, int *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != (double)(long)d || d < min || d > 2147483647.0)
    return fail(env, "native kernel: %s must be an integer >= %.0f (got %g)", name, min, d);
  *out = (int)d;
  return 1;
}
static int get_num(napi_env env, napi_value v, const char *name, double *out) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "native kernel: %s must be a number", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}
#define DIM(i, name) int name; if (!get_dim(env, argv[i], #name, 1, &name)) return NULL
#define DIM0(i, name) int name; if (!get_dim(env, argv[i], #name, 0, &name)) return NULL
#define NUM(i, name) double name; if (!get_num(env, argv[i], #name, &name)) return NULL

static int check_tokens(napi_env env, const int *tok, long n, long V, const char *name) {
  for (long i = 0; i < n; i++)
    if (tok[i] < 0 || tok[i] >= V) return fail(env, "native kernel: %s holds %.0f, outside [0, %.0f)", name, (double)tok[i], (double)V);
  return 1;
}

static size_t typed_length(napi_env env, napi_value v) {
  size_t length = 0;
  napi_get_typedarray_info(env, v, NULL, &length, NULL, NULL, NULL);
  return length;
}

// ---- kernels (argument order is kernels.ts's)

static napi_value encoder_forward(napi_env env, napi_callback_info info) {
  GET_ARGS(7);
  DIM(4, B); DIM(5, T); DIM(6, C);
  double BT = (double)B * T;
  F32(0, out, BT * C); I32(1, inp, BT); F32(2, wte, C); F32(3, wpe, (double)T * C);
  if (!check_tokens(env, inp, (long)BT, (long)(typed_length(env, argv[2]) / C), "inp (token ids, wte rows)")) return NULL;
  K->encoder_forward(out, inp, wte, wpe, B, T, C);
  return NULL;
}

static napi_value encoder_backward(napi_env env, napi_callback_info info) {
  GET_ARGS(7);
  DIM(4, B); DIM(5, T); DIM(6, C);
  double BT = (double)B * T;
  F32(0, dwte, C); F32(1, dwpe, (double)T * C); F32(2, dout, BT * C); I32(3, inp, BT);
  if (!check_tokens(env, inp, (long)BT, (long)(typed_length(env, argv[0]) / C), "inp (token ids, dwte rows)")) return NULL;
  K->encoder_backward(dwte, dwpe, dout, inp, B, T, C);
  return NULL;
}

static napi_value layernorm_forward(napi_env env, napi_callback_info info) {
  GET_ARGS(9);
  DIM(6, B); DIM(7, T); DIM(8, C);
  double BT = (double)B * T;
  F32(0, out, BT * C); F32(1, mean, BT); F32(2, rstd, BT); F32(3, inp, BT * C); F32(4, weight, C); F32(5, bias, C);
  K->layernorm_forward(out, mean, rstd, inp, weight, bias, B, T, C);
  return NULL;
}

static napi_value layernorm_backward(napi_env env, napi_callback_info info) {
  GET_ARGS(11);
  DIM(8, B); DIM(9, T); DIM(10, C);
  double BT = (double)B * T;
  F32(0, dinp, BT * C); F32(1, dweight, C); F32(2, dbias, C); F32(3, dout, BT * C); F32(4, inp, BT * C);
  F32(5, weight, C); F32(6, mean, BT); F32(7, rstd, BT);
  K->layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, B, T, C);
  return NULL;
}

static napi_value matmul_forward(napi_env env, napi_callback_info info) {
  GET_ARGS(8);
  DIM(4, B); DIM(5, T); DIM(6, C); DIM(7, OC);
  double BT = (double)B * T;
  F32(0, out, BT * OC); F32(1, inp, BT * C); F32(2, weight, (double)OC * C); F32_OR_NULL(3, bias, OC);
  K->matmul_forward(out, inp, weight, bias, B, T, C, OC);
  return NULL;
}

static napi_value matmul_backward(napi_env env, napi_callback_info info) {
  GET_ARGS(10);
  DIM(6, B); DIM(7, T); DIM(8, C); DIM(9, OC);
  double BT = (double)B * T;
  F32(0, dinp, BT * C); F32(1, dweight, (double)OC * C); F32_OR_NULL(2, dbias, OC); F32(3, dout, BT * OC);
  F32(4, inp, BT * C); F32(5, weight, (double)OC * C);
  K->matmul_backward(dinp, dweight, dbias, dout, inp, weight, B, T, C, OC);
  return NULL;
}

static int check_heads(napi_env env, int C, int NH) {
  if (C % NH != 0) return fail(env, "native kernel: %s: C (%.0f) must be divisible by NH (%.0f)", "attention", C, NH);
  return 1;
}

static napi_value attention_forward(napi_env env, napi_callback_info info) {
  GET_ARGS(8);
  DIM(4, B); DIM(5, T); DIM(6, C); DIM(7, NH);
  if (!check_heads(env, C, NH)) return NULL;
  double BT = (double)B * T, BNTT = (double)B * NH * T * T;
  F32(0, out, BT * C); F32(1, preatt, BNTT); F32(2, att, BNTT); F32(3, inp, BT * 3 * C);
  K->attention_forward(out, preatt, att, inp, B, T, C, NH);
  return NULL;
}

static napi_value attention_backward(napi_env env, napi_callback_info info) {
  GET_ARGS(10);
  DIM(6, B); DIM(7, T); DIM(8, C); DIM(9, NH);
  if (!check_heads(env, C, NH)) return NULL;
  double BT = (double)B * T, BNTT = (double)B * NH * T * T;
  F32(0, dinp, BT * 3 * C); F32(1, dpreatt, BNTT); F32(2, datt, BNTT); F32(3, dout, BT * C); F32(4, inp, BT * 3 * C); F32(5, att, BNTT);
  K->attention_backward(dinp, dpreatt, datt, dout, inp, att, B, T, C, NH);
  return NULL;
}

static napi_value gelu_forward(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  DIM0(2, N);
  F32(0, out, N); F32(1, inp, N);
  K->gelu_forward(out, inp, N);
  return NULL;
}

static napi_value gelu_backward(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  DIM0(3, N);
  F32(0, dinp, N); F32(1, inp, N); F32(2, dout, N);
  K->gelu_backward(dinp, inp, dout, N);
  return NULL;
}

static napi_value residual_forward(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  DIM0(3, N);
  F32(0, out, N); F32(1, inp1, N); F32(2, inp2, N);
  K->residual_forward(out, inp1, inp2, N);
  return NULL;
}

static napi_value residual_backward(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  DIM0(3, N);
  F32(0, dinp1, N); F32(1, dinp2, N); F32(2, dout, N);
  K->residual_backward(dinp1, dinp2, dout, N);
  return NULL;
}

static napi_value softmax_xent_forward(napi_env env, napi_callback_info info) {
  GET_ARGS(7);
  DIM(4, B); DIM(5, T); DIM(6, V);
  double BT = (double)B * T;
  F32(0, losses, BT); F32(1, probs, BT * V); F32(2, logits, BT * V); I32(3, targets, BT);
  if (!check_tokens(env, targets, (long)BT, V, "targets")) return NULL;
  K->softmax_xent_forward(losses, probs, logits, targets, B, T, V);
  return NULL;
}

static napi_value softmax_xent_backward(napi_env env, napi_callback_info info) {
  GET_ARGS(7);
  NUM(3, dloss); DIM(4, B); DIM(5, T); DIM(6, V);
  double BT = (double)B * T;
  F32(0, dlogits, BT * V); F32(1, probs, BT * V); I32(2, targets, BT);
  if (!check_tokens(env, targets, (long)BT, V, "targets")) return NULL;
  K->softmax_xent_backward(dlogits, probs, targets, (float)dloss, B, T, V);
  return NULL;
}

static napi_value adamw(napi_env env, napi_callback_info info) {
  GET_ARGS(11);
  DIM0(4, N); NUM(5, lr); NUM(6, beta1); NUM(7, beta2); NUM(8, eps); NUM(9, weightDecay); DIM(10, t);
  F32(0, params, N); F32(1, grads, N); F32(2, m, N); F32(3, v, N);
  K->adamw(params, grads, m, v, N, (float)lr, (float)beta1, (float)beta2, (float)eps, (float)weightDecay, t);
  return NULL;
}

static napi_value sum_squares(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  DIM0(1, N);
  F32(0, x, N);
  napi_value result;
  napi_create_double(env, K->sum_squares(x, N), &result);
  return result;
}

static napi_value scale(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  NUM(1, s); DIM0(2, N);
  F32(0, x, N);
  K->scale(x, (float)s, N);
  return NULL;
}

// gemm(c, ldc, a, ars, acs, b, brs, bcs, m, n, k): C (m,n) += A (m,k) @ B (k,n), any strides (bench/tests)
static napi_value gemm(napi_env env, napi_callback_info info) {
  GET_ARGS(11);
  DIM(1, ldc); DIM0(3, ars); DIM0(4, acs); DIM0(6, brs); DIM0(7, bcs); DIM(8, m); DIM(9, n); DIM0(10, k);
  F32(0, c, (double)(m - 1) * ldc + n);
  F32(2, a, k == 0 ? 0 : (double)(m - 1) * ars + (double)(k - 1) * acs + 1);
  F32(5, b, k == 0 ? 0 : (double)(k - 1) * brs + (double)(n - 1) * bcs + 1);
  K->gemm(c, ldc, a, ars, acs, b, brs, bcs, m, n, k);
  return NULL;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  DIM(0, threads);
  pool_set_threads(threads);
  napi_value result;
  napi_create_int32(env, pool_threads(), &result);
  return result;
}

// setIsa('avx2' | 'base') -> whether that build is usable here (tests run the portable build on AVX2 CPUs too)
static napi_value set_isa(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  char name[16] = {0};
  size_t len = 0;
  napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len);
  const KernelTable *want = strcmp(name, "base") == 0 ? kernels_base() : strcmp(name, "avx2") == 0 ? pick_table() : NULL;
  int ok = want != NULL && strcmp(want->name, name) == 0;
  if (ok) K = want;
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

// info() -> { isa: the build in use, best: the best build this CPU runs ('avx2' | 'base'), threads }
static napi_value get_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, isa, best, threads;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, K->name, NAPI_AUTO_LENGTH, &isa);
  napi_create_string_utf8(env, pick_table()->name, NAPI_AUTO_LENGTH, &best);
  napi_set_named_property(env, obj, "best", best);
  napi_create_int32(env, pool_threads(), &threads);
  napi_set_named_property(env, obj, "isa", isa);
  napi_set_named_property(env, obj, "threads", threads);
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
  K = pick_table();
  napi_property_descriptor props[] = {
#define FN(js, c) {js, NULL, c, NULL, NULL, NULL, napi_default, NULL}
    FN("encoderForward", encoder_forward), FN("encoderBackward", encoder_backward),
    FN("layernormForward", layernorm_forward), FN("layernormBackward", layernorm_backward),
    FN("matmulForward", matmul_forward), FN("matmulBackward", matmul_backward),
    FN("attentionForward", attention_forward), FN("attentionBackward", attention_backward),
    FN("geluForward", gelu_forward), FN("geluBackward", gelu_backward),
    FN("residualForward", residual_forward), FN("residualBackward", residual_backward),
    FN("softmaxCrossEntropyForward", softmax_xent_forward), FN("softmaxCrossEntropyBackward", softmax_xent_backward),
    FN("adamw", adamw), FN("sumSquares", sum_squares), FN("scale", scale), FN("gemm", gemm),
    FN("setThreads", set_threads), FN("setIsa", set_isa), FN("info", get_info),
#undef FN
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
