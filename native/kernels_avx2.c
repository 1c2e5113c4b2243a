// The AVX2/FMA build of the kernels: the shared source compiled for AVX2 + FMA, used only when the CPU
// reports both (addon.c checks). Everything else comes from kernels_impl.h.
#if defined(__x86_64__) || defined(__i386__)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("avx2,fma")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#endif
#ifndef __AVX2__
#define __AVX2__ 1
#endif
#ifndef __FMA__
#define __FMA__ 1
#endif
#define KSFX(name) name##_avx2
#define KNAME "avx2"
#include "kernels_impl.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
// not x86: there is no AVX2 build; addon.c then uses the portable one
#include <stddef.h>
#include "kernels.h"
const KernelTable *kernels_avx2(void) { return NULL; }
#endif
