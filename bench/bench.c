/* cgrad's side of the benchmark: one workload per run, median time per step.
 *
 *   bench hello | floor | charrnn H T B [threads] | gemm M N K TA TB | peak
 *   (BENCH_COLD_C=1 bench gemm ...: C a fresh copy each run, out of cache, as a layer's output)
 *
 * Prints "median_us X" (and "gflops X" for gemm and peak) and "peak_rss_mb X".
 * bench/run runs these beside bench/bench_torch.py. The WebAssembly build (./dev.sh web)
 * has it too: node build-web/lib/bench/bench.js charrnn 128 64 32. */
#include <cgrad.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define X86 1
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

int cg__gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
              const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e6 * (double)ts.tv_sec + 1e-3 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return v[n / 2];
}

static void report(double us)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("median_us %.3f\npeak_rss_mb %.1f\n", us, (double)ru.ru_maxrss / 1024.0);
}

typedef void (*step_fn)(void *ctx);

/* Steps are timed for at least this long (and at least `reps` of them), here and in
 * bench_torch.py. A host's speed can move in phases of tens of milliseconds (a shared core:
 * on an AMD EPYC the overhead floor ran 0.37 or 0.65 µs a step, 10-20 ms at a time, while
 * the FMA peak held): a run of a few milliseconds lands inside one phase, where PyTorch's
 * step, a hundred times longer, spans many. With the same time on both sides, both medians
 * come from the same mix. */
#define MIN_TIMED_US 500000.0

/* A sample is a batch of steps lasting at least this long, its mean step kept (here and in
 * bench_torch.py). Reading the clock costs ~28 ns and it ticks every 20 ns on an AMD EPYC
 * VM: timed one by one, a 0.34 µs floor step carried 8% of clock reading and a 6% tick,
 * where PyTorch's 31 µs step carried 0.1%. Steps of 20 µs or more are still timed one by one. */
#define MIN_SAMPLE_US 20.0

/* Samples kept for the median: past this many, every second one is dropped and from then
 * on only every second sample is kept (every step is still timed and run), so a long run of
 * tiny steps does not grow the memory the table reports (the old 20,000-step array). */
#define MAX_SAMPLES 16384

/* Warms up, then times steps (at least `reps`, and MIN_TIMED_US) in batches of at least
 * MIN_SAMPLE_US and gives the median batch's mean step. */
static double time_steps(step_fn f, void *ctx, int warm, int reps)
{
    if (getenv("BENCH_REPS")) /* for profiling: many more steady steps */
        reps = atoi(getenv("BENCH_REPS"));
    double w0 = now_us();
    for (int i = 0; i < warm; i++)
        f(ctx);
    double warm_step = warm > 0 ? (now_us() - w0) / warm : MIN_SAMPLE_US;
    long batch = warm_step >= MIN_SAMPLE_US ? 1 : (long)ceil(MIN_SAMPLE_US / (warm_step > 0.001 ? warm_step : 0.001));
    static double t[MAX_SAMPLES];
    int n = 0;
    long steps = 0, samples = 0, keep_every = 1;
    for (double total = 0; steps < reps || total < MIN_TIMED_US;) {
        double t0 = now_us();
        for (long i = 0; i < batch; i++)
            f(ctx);
        double dt = now_us() - t0;
        total += dt;
        steps += batch;
        if (++samples % keep_every)
            continue;
        if (n == MAX_SAMPLES) {
            for (int i = 0; i < MAX_SAMPLES / 2; i++)
                t[i] = t[2 * i + 1];
            n = MAX_SAMPLES / 2, keep_every *= 2;
        }
        t[n++] = dt / (double)batch;
    }
    return median(t, n);
}

/* ---- a recurrent training step: one-hot input, RNN, Linear, CE, backward, (clip), Adam ---- */

typedef struct {
    cg_module *rnn, *fc;
    cg_optim *opt;
    cg_tensor *params[8], *x, *y;
    int nparams;
    float clip;
} rnn_step;

static void rnn_setup(rnn_step *s, int64_t V, int64_t H, int64_t T, int64_t B, float lr, float clip)
{
    cg_manual_seed(0);
    s->rnn = cg_rnn_new(.input_size = V, .hidden_size = H);
    s->fc = cg_linear_new(.in_features = H, .out_features = V);
    int n;
    cg_tensor **p = cg_parameters(s->rnn, &n);
    memcpy(s->params, p, 4 * sizeof *p);
    memcpy(s->params + 4, cg_parameters(s->fc, &n), 2 * sizeof *p);
    s->nparams = 6;
    s->opt = cg_adam_new(s->params, 6, .lr = lr);
    float *ids = malloc(sizeof(float) * (size_t)(T * B)), *tg = malloc(sizeof(float) * (size_t)(T * B));
    for (int64_t i = 0; i < T * B; i++)
        ids[i] = (float)(cg_random_u32() % (uint32_t)V), tg[i] = (float)(cg_random_u32() % (uint32_t)V);
    cg_tensor *idt = cg_tensor_from(ids, CG_SHAPE(T, B));
    s->x = cg_one_hot(idt, V);
    s->y = cg_tensor_from(tg, CG_SHAPE(T * B));
    cg_tensor_free(idt);
    free(ids);
    free(tg);
    s->clip = clip;
}

static void rnn_run(void *ctx)
{
    rnn_step *s = ctx;
    cg_frame_begin();
    cg_tensor *out = cg_rnn_forward(s->rnn, s->x, NULL, NULL);
    cg_tensor *logits = cg_linear_forward(s->fc, out);
    cg_tensor *loss = cg_cross_entropy(cg_reshape(logits, CG_SHAPE(-1, cg_shape(logits)[cg_ndim(logits) - 1])), s->y);
    cg_optim_zero_grad(s->opt);
    cg_backward(loss);
    if (s->clip > 0)
        cg_clip_grad_norm(s->params, s->nparams, s->clip);
    cg_optim_step(s->opt);
    cg_frame_end();
}

/* ---- the same step written as a user writes it (the README's style): batch-first
 * ids, the one-hot batch built every step, module forwards, cross-entropy over
 * (B*T, V), clipping, Adam ---- */

typedef struct {
    rnn_step s;
    cg_module *rnn_bf;    /* batch_first = true */
    cg_tensor *ids, *targets;
    int64_t V;
} user_step;

static void user_setup(user_step *u, int64_t V, int64_t H, int64_t T, int64_t B)
{
    rnn_setup(&u->s, V, H, T, B, 2e-3f, 5.0f);
    cg_manual_seed(0);
    u->rnn_bf = cg_rnn_new(.input_size = V, .hidden_size = H, .batch_first = true);
    int n;
    cg_tensor **p = cg_parameters(u->rnn_bf, &n);
    memcpy(u->s.params, p, 4 * sizeof *p);
    cg_optim_free(u->s.opt);
    u->s.opt = cg_adam_new(u->s.params, 6, .lr = 2e-3);
    float *ids = malloc(sizeof(float) * (size_t)(B * T));
    for (int64_t i = 0; i < B * T; i++)
        ids[i] = (float)(cg_random_u32() % (uint32_t)V);
    u->ids = cg_tensor_from(ids, CG_SHAPE(B, T));
    u->targets = cg_tensor_from(ids, CG_SHAPE(B * T));
    u->V = V;
    free(ids);
}

static void user_run(void *ctx)
{
    user_step *u = ctx;
    cg_frame_begin();
    cg_tensor *x = cg_one_hot(u->ids, u->V);                         /* (B, T, V), built each step */
    cg_tensor *out = cg_rnn_forward(u->rnn_bf, x, NULL, NULL);      /* (B, T, H) */
    cg_tensor *logits = cg_linear_forward(u->s.fc, out);            /* (B, T, V) */
    cg_tensor *loss = cg_cross_entropy(cg_reshape(logits, CG_SHAPE(-1, u->V)), u->targets);
    cg_optim_zero_grad(u->s.opt);
    cg_backward(loss);
    cg_clip_grad_norm(u->s.params, 6, 5.0f);
    cg_optim_step(u->s.opt);
    cg_frame_end();
}

/* ---- the overhead floor: tanh(W x + b).sum(), forward and backward, W 4x4 ---- */

typedef struct {
    cg_tensor *w, *x, *b;
} floor_ctx;

static void floor_run(void *ctx)
{
    floor_ctx *f = ctx;
    cg_frame_begin();
    cg_tensor *y = cg_sum(cg_tanh(cg_add(cg_matmul(f->w, f->x), f->b)));
    cg_zero_grad(f->w);
    cg_zero_grad(f->b);
    cg_backward(y);
    cg_frame_end();
}

/* ---- GEMM alone, and the core's FMA peak ---- */

typedef struct {
    int64_t M, N, K;
    bool ta, tb;
    float *A, *B, *C;
    int nc, next; /* C's copies, each used in turn (BENCH_COLD_C: enough that C comes from memory) */
} gemm_ctx;

static void gemm_run(void *ctx)
{
    gemm_ctx *g = ctx;
    float *C = g->C + (size_t)g->next * (size_t)(g->M * g->N);
    g->next = (g->next + 1) % g->nc;
    cg__gemm(g->ta, g->tb, g->M, g->N, g->K, g->A, g->ta ? g->M : g->K, g->B, g->tb ? g->K : g->N, 0.0f, C, g->N);
}

/* Attention scores q · kᵀ and their backward, with kᵀ a transpose's view read in
 * place by the products, or copied row-major first (what every transpose cost
 * before views). */
typedef struct {
    cg_tensor *q, *k;
    bool copy;
} views_ctx;

static void views_run(void *ctx)
{
    views_ctx *v = ctx;
    cg_frame_begin();
    cg_tensor *kt = cg_transpose(v->k, -2, -1);
    if (v->copy)
        kt = cg_contiguous(kt);
    cg_backward(cg_sum(cg_matmul(v->q, kt)));
    cg_frame_end();
}

/* The core's FMA peak: 12 independent chains of fused multiply-adds in registers
 * (enough to cover the latency on two FMA pipes), 8 or 16 lanes wide. */
#define CHAINS(V, FMA)                                                                                 \
    a0 = FMA(a0, m, c), a1 = FMA(a1, m, c), a2 = FMA(a2, m, c), a3 = FMA(a3, m, c), a4 = FMA(a4, m, c), \
    a5 = FMA(a5, m, c), a6 = FMA(a6, m, c), a7 = FMA(a7, m, c), a8 = FMA(a8, m, c), a9 = FMA(a9, m, c), \
    a10 = FMA(a10, m, c), a11 = FMA(a11, m, c)

#ifdef X86
__attribute__((target("avx2,fma"))) static double peak_avx2(void)
{
    /* distinct starting values: twelve identical chains are one chain to the compiler */
    __m256 a0 = _mm256_set1_ps(0.10f), a1 = _mm256_set1_ps(0.11f), a2 = _mm256_set1_ps(0.12f),
           a3 = _mm256_set1_ps(0.13f), a4 = _mm256_set1_ps(0.14f), a5 = _mm256_set1_ps(0.15f),
           a6 = _mm256_set1_ps(0.16f), a7 = _mm256_set1_ps(0.17f), a8 = _mm256_set1_ps(0.18f),
           a9 = _mm256_set1_ps(0.19f), a10 = _mm256_set1_ps(0.20f), a11 = _mm256_set1_ps(0.21f);
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    const long iters = 50000000;
    double t0 = now_us();
    for (long i = 0; i < iters; i++)
        CHAINS(__m256, _mm256_fmadd_ps);
    double us = now_us() - t0;
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float sink[8];
    _mm256_storeu_ps(sink, s);
    if (sink[0] == 12345.0f)
        printf("%f\n", (double)sink[0]);
    return (double)iters * 12 * 16 / (us * 1e3);
}

__attribute__((target("avx512f"))) static double peak_avx512(void)
{
    __m512 a0 = _mm512_set1_ps(0.10f), a1 = _mm512_set1_ps(0.11f), a2 = _mm512_set1_ps(0.12f),
           a3 = _mm512_set1_ps(0.13f), a4 = _mm512_set1_ps(0.14f), a5 = _mm512_set1_ps(0.15f),
           a6 = _mm512_set1_ps(0.16f), a7 = _mm512_set1_ps(0.17f), a8 = _mm512_set1_ps(0.18f),
           a9 = _mm512_set1_ps(0.19f), a10 = _mm512_set1_ps(0.20f), a11 = _mm512_set1_ps(0.21f);
    const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    const long iters = 50000000;
    double t0 = now_us();
    for (long i = 0; i < iters; i++)
        CHAINS(__m512, _mm512_fmadd_ps);
    double us = now_us() - t0;
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    if (_mm512_reduce_add_ps(s) == 12345.0f)
        printf("x\n");
    return (double)iters * 12 * 32 / (us * 1e3);
}

#endif

int main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "";
    if (!strcmp(w, "hello")) {
        rnn_step s;
        rnn_setup(&s, 5, 8, 6, 1, 0.1f, 0);
        report(time_steps(rnn_run, &s, 200, 2000));
    } else if (!strcmp(w, "floor")) {
        cg_manual_seed(0);
        floor_ctx f = {cg_randn(CG_SHAPE(4, 4)), cg_randn(CG_SHAPE(4)), cg_randn(CG_SHAPE(4))};
        cg_set_requires_grad(f.w, true);
        cg_set_requires_grad(f.b, true);
        report(time_steps(floor_run, &f, 1000, 20000));
    } else if (!strcmp(w, "charrnn") && argc >= 5) {
        rnn_step s;
        rnn_setup(&s, 65, atol(argv[2]), atol(argv[3]), atol(argv[4]), 2e-3f, 5.0f);
        report(time_steps(rnn_run, &s, 3, 15));
    } else if (!strcmp(w, "charrnn_user") && argc >= 5) {
        user_step u;
        user_setup(&u, 65, atol(argv[2]), atol(argv[3]), atol(argv[4]));
        report(time_steps(user_run, &u, 3, 15));
    } else if (!strcmp(w, "gemm") && argc >= 7) {
        gemm_ctx g = {atol(argv[2]), atol(argv[3]), atol(argv[4]), atoi(argv[5]) != 0, atoi(argv[6]) != 0, 0, 0, 0, 1, 0};
        /* BENCH_COLD_C=1: C written fresh each time, as a layer's output is each step (32 MB of
         * copies in turn: out of every cache); else one C, in cache from the second run on */
        if (getenv("BENCH_COLD_C"))
            g.nc = (int)((INT64_C(32) << 20) / (int64_t)sizeof(float) / (g.M * g.N > 0 ? g.M * g.N : 1)) + 1;
        g.A = malloc(sizeof(float) * (size_t)(g.M * g.K));
        g.B = malloc(sizeof(float) * (size_t)(g.K * g.N));
        g.C = calloc((size_t)g.nc * (size_t)(g.M * g.N), sizeof(float));
        for (int64_t i = 0; i < g.M * g.K; i++)
            g.A[i] = (float)(i % 7) * 0.1f;
        for (int64_t i = 0; i < g.K * g.N; i++)
            g.B[i] = (float)(i % 5) * 0.1f;
        double us = time_steps(gemm_run, &g, 20, 200);
        report(us);
        printf("gflops %.2f\n", 2.0 * (double)(g.M * g.N * g.K) / (us * 1e3));
    } else if (!strcmp(w, "views") && argc >= 5) {
        int64_t B = atol(argv[2]), T = atol(argv[3]), E = atol(argv[4]);
        cg_manual_seed(0);
        views_ctx v = {cg_randn(CG_SHAPE(B, T, E)), cg_randn(CG_SHAPE(B, T, E)), false};
        cg_set_requires_grad(v.q, true);
        cg_set_requires_grad(v.k, true);
        double view_us[5], copy_us[5];
        for (int r = 0; r < 5; r++) { /* alternating, so both see the same machine */
            v.copy = false;
            view_us[r] = time_steps(views_run, &v, 5, 50);
            v.copy = true;
            copy_us[r] = time_steps(views_run, &v, 5, 50);
        }
        double a = median(view_us, 5), c = median(copy_us, 5);
        printf("view_us %.1f\ncopy_us %.1f\nspeedup %.3f\ncopied_bytes_per_step %lld\n", a, c, c / a,
               (long long)(2 * B * T * E * 4)); /* kᵀ forward and its gradient back */
    } else if (!strcmp(w, "peak")) {
#ifdef X86
        __builtin_cpu_init();
        printf("avx2_gflops %.2f\n", __builtin_cpu_supports("avx2") ? peak_avx2() : 0.0);
        printf("avx512_gflops %.2f\n", __builtin_cpu_supports("avx512f") ? peak_avx512() : 0.0);
#else
        printf("no FMA peak measured here: x86 only\n");
#endif
    } else {
        fprintf(stderr, "usage: bench hello | floor | charrnn H T B | charrnn_user H T B | gemm M N K TA TB | views B T E | peak\n");
        return 2;
    }
    return 0;
}
