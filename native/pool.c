// The persistent thread pool behind every parallel kernel: one job at a time, the calling thread works
// as thread 0, workers spin briefly and then sleep on a condition variable. No OpenMP (its spin barriers
// were fragile on this noisy 2-core VM); one region per kernel call.
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include "pool.h"

static struct {
  pthread_mutex_t job_mu;     // one job at a time (several JS threads may share the addon)
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  int started;                // workers created so far (tids 1..started)
  int threads;                // threads a job uses, caller included
  unsigned long generation;   // bumped per job
  atomic_ulong published;     // generation, readable without the lock (spin phase)
  pool_fn fn;
  void *ctx;
  int nchunks;
  atomic_int next;            // next unclaimed chunk
  atomic_int pending;         // workers still inside the current job
} P = {.job_mu = PTHREAD_MUTEX_INITIALIZER, .mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
       .done = PTHREAD_COND_INITIALIZER, .threads = 1};

// spin-wait step: pause, and yield the core now and then so a busy machine's other threads can run
#define SPIN 20000
static inline void relax(int i) {
  if ((i & 255) == 255) sched_yield();
#if defined(__x86_64__) || defined(__i386__)
  else __builtin_ia32_pause();
#endif
}

static void run_chunks(int tid) {
  for (;;) {
    int c = atomic_fetch_add_explicit(&P.next, 1, memory_order_relaxed);
    if (c >= P.nchunks) return;
    P.fn(P.ctx, c, tid);
  }
}

static void *worker(void *arg) {
  int tid = (int)(intptr_t)arg;
  unsigned long seen = 0;
  for (;;) {
    // spin a little first: kernels come back to back within a training step
    for (int i = 0; i < SPIN && atomic_load_explicit(&P.published, memory_order_acquire) == seen; i++) relax(i);
    pthread_mutex_lock(&P.mu);
    while (P.generation == seen) pthread_cond_wait(&P.wake, &P.mu);
    seen = P.generation;
    int mine = tid < P.threads;
    pthread_mutex_unlock(&P.mu);
    if (!mine) continue;
    run_chunks(tid);
    if (atomic_fetch_sub_explicit(&P.pending, 1, memory_order_acq_rel) == 1) {
      pthread_mutex_lock(&P.mu); // the caller checks pending under this lock before it sleeps: no lost wake-up
      pthread_cond_signal(&P.done);
      pthread_mutex_unlock(&P.mu);
    }
  }
  return NULL;
}

void pool_set_threads(int threads) {
  if (threads < 1) threads = 1;
  if (threads > POOL_MAX_THREADS) threads = POOL_MAX_THREADS;
  pthread_mutex_lock(&P.job_mu);
  pthread_mutex_lock(&P.mu);
  while (P.started < threads - 1) {
    pthread_t th;
    if (pthread_create(&th, NULL, worker, (void *)(intptr_t)(P.started + 1)) != 0) break;
    pthread_detach(th);
    P.started++;
  }
  P.threads = P.started + 1 < threads ? P.started + 1 : threads;
  pthread_mutex_unlock(&P.mu);
  pthread_mutex_unlock(&P.job_mu);
}

int pool_threads(void) { return P.threads; }

void pool_for(int nchunks, pool_fn fn, void *ctx) {
  if (nchunks <= 0) return;
  pthread_mutex_lock(&P.job_mu);
  if (P.threads == 1 || nchunks == 1) {
    for (int c = 0; c < nchunks; c++) fn(ctx, c, 0);
    pthread_mutex_unlock(&P.job_mu);
    return;
  }
  pthread_mutex_lock(&P.mu);
  P.fn = fn;
  P.ctx = ctx;
  P.nchunks = nchunks;
  atomic_store_explicit(&P.next, 0, memory_order_relaxed);
  atomic_store_explicit(&P.pending, P.threads - 1, memory_order_relaxed);
  P.generation++;
  atomic_store_explicit(&P.published, P.generation, memory_order_release);
  pthread_cond_broadcast(&P.wake);
  pthread_mutex_unlock(&P.mu);
  run_chunks(0);
  // spin for the last chunks of the workers before sleeping: on a busy machine a sleeping caller can wait a
  // whole scheduler slice to be woken, and a training step has hundreds of these joins
  for (int i = 0; i < SPIN && atomic_load_explicit(&P.pending, memory_order_acquire) > 0; i++) relax(i);
  if (atomic_load_explicit(&P.pending, memory_order_acquire) > 0) {
    pthread_mutex_lock(&P.mu);
    while (atomic_load_explicit(&P.pending, memory_order_acquire) > 0) pthread_cond_wait(&P.done, &P.mu);
    pthread_mutex_unlock(&P.mu);
  }
  pthread_mutex_unlock(&P.job_mu);
}
