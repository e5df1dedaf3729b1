/* cgrad — a small pool of worker threads for the big products.
 *
 * cg_set_num_threads(n) starts n - 1 workers (default 1: none, or the
 * CGRAD_THREADS environment variable when the program has set no count).
 * Any number of the program's threads may call in: the pool runs one job at a
 * time, and a caller that finds it busy runs its tasks alone. cg__parallel_for hands out task numbers
 * [0, n) to the caller and the workers; each task is deterministic work on its
 * own part of the output, so results do not depend on the thread count.
 * Workers spin briefly between jobs (a training step issues them back to back),
 * then sleep on a condition variable. */
#include "kernels.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_THREADS 64

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* The current job: its number (0 while being written), and what it runs. */
typedef struct {
    uint64_t job;
    void (*fn)(void *ctx, int64_t task);
    void *ctx;
    int64_t ntasks;
} job_slot;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t workers[MAX_THREADS];
    int nthreads;                 /* including the caller */
    bool started;
    job_slot slot;
    uint64_t jobs;                /* jobs handed out (under `submit`) */
    /* the current job's number (high 32 bits) and its next task to take (low 32), as one
     * word: a task is taken together with the job it belongs to (atomic) */
    uint64_t ticket;
    int64_t done;                 /* the current job's tasks finished (atomic) */
    bool quit;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 1, false, {0}, 0, 0, 0, false};

#define TICKET_JOB(w) ((w) >> 32)
#define TICKET_TASK(w) ((int64_t)((w)&0xffffffffu))
#define MAX_TASKS (INT64_C(1) << 31) /* a job's tasks fit the ticket's low half */

/* Whether this thread is running a task of a pool job: then the pool is that job's, and
 * a parallel loop inside the task runs alone (cg__in_pool_task). */
static CG__FAST_TLS bool in_pool_task;

bool cg__in_pool_task(void) { return in_pool_task; }

static void run_task(void (*fn)(void *, int64_t), void *ctx, int64_t task)
{
    in_pool_task = true;
    fn(ctx, task);
    in_pool_task = false;
    __atomic_fetch_add(&pool.done, 1, __ATOMIC_ACQ_REL);
}

/* Takes the current job's tasks one by one until none is left. A thread may reach here
 * late, after the job it woke for has ended and the next has begun: its ticket then
 * belongs to whichever job was current when it took it, and the job record says what to
 * run if it still holds that job, read as a seqlock (else that job is over, and had no
 * task left for this ticket: a job ends only when all its tasks have run). (With the task
 * counter and the record apart, a late taker could read the next job's task count with
 * the old job's task number, and run a task twice.) */
static void run_tasks(void)
{
    for (;;) {
        uint64_t w = __atomic_fetch_add(&pool.ticket, 1, __ATOMIC_ACQ_REL), job = TICKET_JOB(w);
        const job_slot *s = &pool.slot;
        uint64_t before = __atomic_load_n(&s->job, __ATOMIC_ACQUIRE);
        void (*fn)(void *, int64_t) = __atomic_load_n(&s->fn, __ATOMIC_RELAXED);
        void *ctx = __atomic_load_n(&s->ctx, __ATOMIC_RELAXED);
        int64_t ntasks = __atomic_load_n(&s->ntasks, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (job == 0 || before != job || __atomic_load_n(&s->job, __ATOMIC_RELAXED) != job ||
            TICKET_TASK(w) >= ntasks)
            return;
        run_task(fn, ctx, TICKET_TASK(w));
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
            g = TICKET_JOB(__atomic_load_n(&pool.ticket, __ATOMIC_ACQUIRE));
            if (g != seen || __atomic_load_n(&pool.quit, __ATOMIC_ACQUIRE))
                break;
            cpu_relax();
        }
        pthread_mutex_lock(&pool.lock);
        while ((g = TICKET_JOB(__atomic_load_n(&pool.ticket, __ATOMIC_ACQUIRE))) == seen && !pool.quit)
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

/* One job at a time: a caller holds `submit` from handing out a job until its
 * last task is done. A second calling thread that finds the pool busy runs its
 * own tasks alone instead of waiting (the same numbers: tasks are deterministic). */
static pthread_mutex_t submit = PTHREAD_MUTEX_INITIALIZER;
static bool configured; /* guarded by submit: the count was set, by the program or CGRAD_THREADS */
static int current_threads; /* pool.nthreads, readable without the lock (0: not configured yet) */

static int start_workers(int n)
{
    stop_workers();
    pool.nthreads = n;
    for (int i = 0; i < n - 1; i++)
        if (pthread_create(&pool.workers[i], NULL, worker, NULL) != 0) {
            pool.nthreads = i + 1;
            pool.started = pool.nthreads > 1;
            __atomic_store_n(&current_threads, pool.nthreads, __ATOMIC_RELEASE);
            cg__error("cg_set_num_threads: could start only %d of %d threads", i + 1, n);
            return -1;
        }
    pool.started = pool.nthreads > 1;
    __atomic_store_n(&current_threads, pool.nthreads, __ATOMIC_RELEASE);
    return 0;
}

/* The first use reads CGRAD_THREADS, unless the program has set a count already. */
static void configure_locked(void)
{
    if (configured)
        return;
    configured = true;
    int n = env_threads();
    __atomic_store_n(&current_threads, 1, __ATOMIC_RELEASE);
    if (n > 1 && start_workers(n) < 0)
        fprintf(stderr, "cgrad: CGRAD_THREADS=%d: %s\n", n, cg_last_error());
}

int cg_set_num_threads(int n)
{
    if (n < 1 || n > MAX_THREADS) {
        cg__error("cg_set_num_threads: %d threads (1 to %d)", n, MAX_THREADS);
        return -1;
    }
#ifdef __EMSCRIPTEN__
    if (n > 1) { /* built without wasm threads (see meson.build): the caller's thread is all there is */
        cg__error("cg_set_num_threads: %d threads: this WebAssembly build runs on one thread", n);
        return -1;
    }
#endif
    pthread_mutex_lock(&submit);
    configured = true; /* the program's count wins over the environment */
    int rc = start_workers(n);
    pthread_mutex_unlock(&submit);
    return rc;
}


int cg_get_num_threads(void)
{
    int n = __atomic_load_n(&current_threads, __ATOMIC_ACQUIRE);
    if (n > 0)
        return n;
    pthread_mutex_lock(&submit);
    configure_locked();
    n = pool.nthreads;
    pthread_mutex_unlock(&submit);
    return n;
}

static void run_alone(int64_t ntasks, void (*fn)(void *ctx, int64_t task), void *ctx)
{
    for (int64_t t = 0; t < ntasks; t++)
        fn(ctx, t);
}

/* The pool's next job (the caller holds `submit`, and the last job is over): tasks
 * [first, ntasks) of fn for the takers, the workers woken (tasks before `first` are the
 * caller's). The record is marked as being written, written, marked with the job's
 * number (never 0), and then the ticket moves to it. */
static void hand_out(int64_t first, int64_t ntasks, void (*fn)(void *ctx, int64_t task), void *ctx)
{
    uint64_t job = ++pool.jobs & 0xffffffffu;
    if (job == 0)
        job = ++pool.jobs & 0xffffffffu;
    job_slot *s = &pool.slot;
    __atomic_store_n(&s->job, 0, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&s->fn, fn, __ATOMIC_RELAXED);
    __atomic_store_n(&s->ctx, ctx, __ATOMIC_RELAXED);
    __atomic_store_n(&s->ntasks, ntasks, __ATOMIC_RELAXED);
    __atomic_store_n(&s->job, job, __ATOMIC_RELEASE);
    /* done first: a worker that takes a task of the new job must also see done reset */
    __atomic_store_n(&pool.done, 0, __ATOMIC_RELEASE);
    pthread_mutex_lock(&pool.lock);
    __atomic_store_n(&pool.ticket, job << 32 | (uint64_t)first, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
}

/* The pool taken for a job (`submit` held), when it is free and has workers. */
static bool take_pool(void)
{
    /* one thread, configured: no lock to try (a toy model's optimizer step asks every time) */
    if (__atomic_load_n(&current_threads, __ATOMIC_ACQUIRE) == 1)
        return false;
    if (pthread_mutex_trylock(&submit) != 0)
        return false;
    configure_locked();
    if (pool.nthreads > 1)
        return true;
    pthread_mutex_unlock(&submit);
    return false;
}

/* This thread's background job: handed out (it holds `submit` until it waits), and
 * found finished by a job of its own that took the pool after it. */
static CG__FAST_TLS bool background_running, background_over;

/* The pool for a job of this thread: free, or held by this thread's background job that
 * has finished (its results read then, `submit` kept for cg__background_wait): the
 * worker that ran it takes part again instead of idling until the wait. */
static bool take_pool_for_job(void)
{
    if (background_running && !background_over && __atomic_load_n(&pool.done, __ATOMIC_ACQUIRE) >= 1)
        background_over = true;
    return background_running ? background_over : take_pool();
}

void cg__parallel_for(int64_t ntasks, void (*fn)(void *ctx, int64_t task), void *ctx)
{
    /* inside a task the pool is this job's: a nested job handed out would restart its
     * count under the running one (a finished background product let a recurrent step's
     * nested product do so, and the step returned before its other part was done) */
    if (ntasks <= 1 || ntasks >= MAX_TASKS || in_pool_task || !take_pool_for_job()) {
        run_alone(ntasks, fn, ctx);
        return;
    }
    /* the caller runs task 0 itself: a recurrent step's rows [0, chunk) then stay on one
     * core from step to step (a worker that took them, 28% of the steps at H = 256, read
     * them from the other core's cache) */
    hand_out(1, ntasks, fn, ctx);
    run_task(fn, ctx, 0);
    run_tasks();
    while (__atomic_load_n(&pool.done, __ATOMIC_ACQUIRE) < ntasks)
        cpu_relax();
    if (!background_running) /* (else kept for cg__background_wait) */
        pthread_mutex_unlock(&submit);
}

bool cg__background_start(void (*fn)(void *ctx, int64_t task), void *ctx)
{
    if (!take_pool())
        return false;
    hand_out(0, 1, fn, ctx); /* for the workers alone: the caller goes on, `submit` held until it waits */
    background_running = true, background_over = false;
    return true;
}

void cg__background_wait(void)
{
    while (!background_over && __atomic_load_n(&pool.done, __ATOMIC_ACQUIRE) < 1)
        cpu_relax();
    background_running = background_over = false;
    pthread_mutex_unlock(&submit);
}

typedef struct {
    int64_t n, chunk;
    void (*fn)(void *ctx, int64_t begin, int64_t end);
    void *ctx;
} range_job;

static void range_task(void *ctx, int64_t t)
{
    const range_job *j = ctx;
    int64_t begin = t * j->chunk, end = j->n - begin < j->chunk ? j->n : begin + j->chunk;
    j->fn(j->ctx, begin, end);
}

void cg__parallel_range(int64_t n, int64_t chunk, void (*fn)(void *ctx, int64_t begin, int64_t end), void *ctx)
{
    range_job j = {n, chunk, fn, ctx};
    if (n > 0)
        cg__parallel_for((n + chunk - 1) / chunk, range_task, &j);
}
