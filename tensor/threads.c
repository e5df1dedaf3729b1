/* cgrad — a small pool of worker threads for the big products.
 *
 * cg_set_num_threads(n) starts n - 1 workers (default 1: none, or the
 * CGRAD_THREADS environment variable). cg__parallel_for hands out task numbers
 * [0, n) to the caller and the workers; each task is deterministic work on its
 * own part of the output, so results do not depend on the thread count.
 * Workers spin briefly between jobs (a training step issues them back to back),
 * then sleep on a condition variable. */
#include "kernels.h"
#include <pthread.h>
#include <stdlib.h>

#define MAX_THREADS 64

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() ((void)0)
#endif

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t workers[MAX_THREADS];
    int nthreads;                 /* including the caller */
    bool started;
    /* the current job */
    void (*fn)(void *ctx, int64_t task);
    void *ctx;
    int64_t ntasks;
    int64_t next;                 /* next task to take (atomic) */
    int64_t done;                 /* tasks finished (atomic) */
    uint64_t generation;          /* bumped per job (atomic) */
    bool quit;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 1, false, NULL, NULL, 0, 0, 0, 0, false};

static void run_tasks(void)
{
    int64_t t;
    while ((t = __atomic_fetch_add(&pool.next, 1, __ATOMIC_ACQ_REL)) < pool.ntasks) {
        pool.fn(pool.ctx, t);
        __atomic_fetch_add(&pool.done, 1, __ATOMIC_ACQ_REL);
    }
}

static void *worker(void *arg)
{
    (void)arg;
    uint64_t seen = 0;
    for (;;) {
        /* spin a little for the next job, then sleep */
        uint64_t g;
        for (int spin = 0; spin < 20000; spin++) {
            g = __atomic_load_n(&pool.generation, __ATOMIC_ACQUIRE);
            if (g != seen || __atomic_load_n(&pool.quit, __ATOMIC_ACQUIRE))
                break;
            cpu_relax();
        }
        pthread_mutex_lock(&pool.lock);
        while ((g = __atomic_load_n(&pool.generation, __ATOMIC_ACQUIRE)) == seen && !pool.quit)
            pthread_cond_wait(&pool.wake, &pool.lock);
        bool quit = pool.quit;
        pthread_mutex_unlock(&pool.lock);
        if (quit) {
            cg_frame_release_memory(); /* this thread's scratch arena */
            return NULL;
        }
        seen = g;
        run_tasks();
    }
}

static void stop_workers(void)
{
    if (!pool.started)
        return;
    pthread_mutex_lock(&pool.lock);
    __atomic_store_n(&pool.quit, true, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < pool.nthreads - 1; i++)
        pthread_join(pool.workers[i], NULL);
    pool.started = false;
    pool.quit = false;
}

static int env_threads(void)
{
    const char *e = getenv("CGRAD_THREADS");
    int n = e ? atoi(e) : 1;
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : n;
}

static void ensure_started(void)
{
    static bool configured;
    if (!configured) {
        configured = true;
        if (pool.nthreads == 1)
            cg_set_num_threads(env_threads());
    }
}

int cg_set_num_threads(int n)
{
    if (n < 1 || n > MAX_THREADS) {
        cg__error("cg_set_num_threads: %d threads (1 to %d)", n, MAX_THREADS);
        return -1;
    }
    stop_workers();
    pool.nthreads = n;
    for (int i = 0; i < n - 1; i++)
        if (pthread_create(&pool.workers[i], NULL, worker, NULL) != 0) {
            pool.nthreads = i + 1;
            cg__error("cg_set_num_threads: could only start %d threads", i + 1);
            break;
        }
    pool.started = pool.nthreads > 1;
    return 0;
}

int cg_get_num_threads(void)
{
    ensure_started();
    return pool.nthreads;
}

void cg__parallel_for(int64_t ntasks, void (*fn)(void *ctx, int64_t task), void *ctx)
{
    ensure_started();
    if (pool.nthreads == 1 || ntasks <= 1) {
        for (int64_t t = 0; t < ntasks; t++)
            fn(ctx, t);
        return;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    pool.ntasks = ntasks;
    /* done first: a worker that sees the new `next` must also see done reset */
    __atomic_store_n(&pool.done, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&pool.next, 0, __ATOMIC_RELEASE);
    pthread_mutex_lock(&pool.lock);
    __atomic_fetch_add(&pool.generation, 1, __ATOMIC_ACQ_REL);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    run_tasks();
    while (__atomic_load_n(&pool.done, __ATOMIC_ACQUIRE) < ntasks)
        cpu_relax();
}
