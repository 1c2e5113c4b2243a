// The portable build of the kernels: the shared source with no instruction-set assumptions beyond the
// compiler's baseline (SSE2 on x86-64, NEON on arm64), the fallback on CPUs without AVX2/FMA.
#define KSFX(name) name##_base
#define KNAME "base"
#include "kernels_impl.h"
