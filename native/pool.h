// A persistent pthread pool for the native kernels: the caller plus (threads - 1) workers that sleep
// between jobs. Kernels hand it a chunk count and a function; the arithmetic stays in the kernels.
#ifndef SCALING_LAB_POOL_H
#define SCALING_LAB_POOL_H

#define POOL_MAX_THREADS 64

// fn(ctx, chunk, tid) is called exactly once for every chunk in [0, nchunks); tid in [0, threads) names
// the thread (for per-thread scratch). Chunks are claimed in order from a shared counter, so which thread
// runs a chunk varies, but a chunk's arithmetic never depends on it: results are bit-identical for any
// thread count as long as each chunk writes its own outputs (every kernel here keeps that rule).
typedef void (*pool_fn)(void *ctx, int chunk, int tid);

void pool_set_threads(int threads);  // 1..POOL_MAX_THREADS; starts workers on first need
int pool_threads(void);
void pool_for(int nchunks, pool_fn fn, void *ctx);

#endif
