/* cgrad — GEMM: C = op(A) op(B) + beta * C, row-major: the dispatcher.
 *
 * Big products are split by columns over the thread pool; each part goes to
 * gemm_blocked.c's blocking around the SIMD kernels (gemm_avx2.c: AVX-512 or AVX2,
 * chosen at run time; gemm_simd128.c: WebAssembly SIMD). Without them, and for
 * tiny products, portable loops: the i-k-j loop over rows of B
 * (a contiguous axpy the compiler vectorises, blocked so a stripe of C stays in
 * cache), with a transposed B transposed once into scratch, or dot products
 * when the product is tiny. */
#include "gemm_blocked.h"
#include "cgrad_config.h"
#include <stdlib.h>
#include <string.h>
#ifdef CG_USE_OPENBLAS
#include <cblas.h>
#endif

#define JBLOCK 512
#define KBLOCK 256

static void scale_c(int64_t M, int64_t N, float beta, float *C, int64_t ldc)
{
    if (beta == 1.0f)
        return;
    if (beta == 0.0f && ldc == N) { /* contiguous C: one clear */
        memset(C, 0, (size_t)(M * N) * sizeof(float));
        return;
    }
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f)
            memset(c, 0, (size_t)N * sizeof(float));
        else
            for (int64_t j = 0; j < N; j++)
                c[j] *= beta;
    }
}

/* C += op(A) B with B K x N row-major. */
static void gemm_b_rows(bool trans_a, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const float *B, int64_t ldb, float *C, int64_t ldc)
{
    for (int64_t j0 = 0; j0 < N; j0 += JBLOCK) {
        int64_t nj = N - j0 < JBLOCK ? N - j0 : JBLOCK;
        for (int64_t k0 = 0; k0 < K; k0 += KBLOCK) {
            int64_t nk = K - k0 < KBLOCK ? K - k0 : KBLOCK;
            for (int64_t i = 0; i < M; i++) {
                float *restrict c = C + i * ldc + j0;
                int64_t k = k0;
                /* Four rows of B per pass: one load and store of c per four FMAs. */
                for (; k + 4 <= k0 + nk; k += 4) {
                    float a0 = trans_a ? A[k * lda + i] : A[i * lda + k];
                    float a1 = trans_a ? A[(k + 1) * lda + i] : A[i * lda + k + 1];
                    float a2 = trans_a ? A[(k + 2) * lda + i] : A[i * lda + k + 2];
                    float a3 = trans_a ? A[(k + 3) * lda + i] : A[i * lda + k + 3];
                    const float *restrict b0 = B + k * ldb + j0;
                    const float *restrict b1 = b0 + ldb, *restrict b2 = b1 + ldb, *restrict b3 = b2 + ldb;
                    for (int64_t j = 0; j < nj; j++)
                        c[j] += a0 * b0[j] + a1 * b1[j] + a2 * b2[j] + a3 * b3[j];
                }
                for (; k < k0 + nk; k++) {
                    float a = trans_a ? A[k * lda + i] : A[i * lda + k];
                    const float *restrict b = B + k * ldb + j0;
                    for (int64_t j = 0; j < nj; j++)
                        c[j] += a * b[j];
                }
            }
        }
    }
}

/* The kernels of the instruction set this CPU (or this build, for WebAssembly) has:
 * AVX-512 or AVX2 as the CPU reports them, WebAssembly SIMD when compiled with
 * -msimd128; NULL where there are none (the portable loops below). */
static const cg__gemm_isa *cpu_isa_checked(void)
{
#if defined(__x86_64__) || defined(__i386__)
    if (cg__cpu_has_avx512())
        return &cg__gemm_avx512;
    if (cg__cpu_has_avx2())
        return &cg__gemm_avx2;
#endif
#ifdef __wasm_simd128__
    return &cg__gemm_simd128;
#else
    return NULL;
#endif
}

/* The same, asked once (every product asks: a tiny one is a few dozen instructions). */
static const cg__gemm_isa *cpu_isa(void)
{
    static const cg__gemm_isa *known;
    const cg__gemm_isa *isa = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (!isa) {
        isa = cpu_isa_checked();
        __atomic_store_n(&known, isa, __ATOMIC_RELAXED);
    }
    return isa;
}

/* Whether A · Bᵀ with M rows takes the dot-product kernel (few rows: dot products
 * beat packing B). It depends on M and K only, so a thread's column strip picks
 * what one thread would. */
static bool dots(const cg__gemm_isa *isa, bool trans_a, bool trans_b, int64_t M, int64_t K)
{
    return trans_b && !trans_a && M < isa->dot_rows && K >= 16;
}

/* The SIMD products for one block of C's columns (pre: B packed, or NULL); 0, or
 * -1 when the packing scratch could not be had. */
static int simd_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                     const float *B, int64_t ldb, float *C, int64_t ldc, const cg__prepacked *pre, bool overwrite)
{
    const cg__gemm_isa *isa = cpu_isa();
    if (dots(isa, trans_a, trans_b, M, K)) {
        if (overwrite)
            scale_c(M, N, 0.0f, C, ldc);
        cg__gemm_dots(isa, M, N, K, A, lda, B, ldb, C, ldc);
        return 0;
    }
    return cg__gemm_blocked(isa, trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, pre, overwrite);
}

/* Big products are split over the thread pool, by columns of C (or by rows, when C has
 * too few columns for a fair share each: the output layer's 65): every element is still
 * computed by one thread in one order, with the kernel one thread would use, so results
 * match a single thread bit for bit. */
typedef struct {
    bool ta, tb, by_rows;
    int64_t M, N, K, lda, ldb, ldc, chunk;
    const float *A, *B;
    float *C;
    const cg__prepacked *pre;
    bool overwrite;
    int failed; /* set (atomically) by a part that could not run */
} split_job;

static void split_task(void *ctx, int64_t t)
{
    split_job *j = ctx;
    int64_t at = t * j->chunk, total = j->by_rows ? j->M : j->N, n = total - at < j->chunk ? total - at : j->chunk;
    int rc = 0;
    if (n > 0 && j->by_rows) { /* rows [at, at + n) of C: those of op(A), all of B */
        rc = simd_gemm(j->ta, j->tb, n, j->N, j->K, j->ta ? j->A + at : j->A + at * j->lda, j->lda, j->B, j->ldb,
                       j->C + at * j->ldc, j->ldc, j->pre, j->overwrite);
    } else if (n > 0) { /* columns [at, at + n) of C: those of op(B), all of A */
        cg__prepacked part = j->pre ? (cg__prepacked){j->pre->data, j->pre->col0 + at, j->pre->npad} : (cg__prepacked){0};
        rc = simd_gemm(j->ta, j->tb, j->M, n, j->K, j->A, j->lda, j->tb ? j->B + at * j->ldb : j->B + at, j->ldb,
                       j->C + at, j->ldc, j->pre ? &part : NULL, j->overwrite);
    }
    if (rc < 0)
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
}

/* The split of a product over threads: by columns in whole 32-column strips (the packed
 * form's) when each thread gets 64 or more, or by rows in blocks of 24 (every row tile
 * divides it) when each gets 72 or more — more than any dot-product kernel takes, so
 * every part runs the kernel the whole would; else by columns still when there are 64 or
 * more; chunk 0: not split. Where both splits can be had, the one whose parts pack less
 * of what they share: every part of a split by columns packs all of op(A) (unless it is
 * read in place), every part of one by rows all of op(B) — a weight gradient gᵀ·x over
 * 768 rows into 512 x 128 packed its 393K-float A on each thread by columns, its 98K-float
 * B by rows. */
static split_job split_of(int threads, bool ta, bool tb, int64_t M, int64_t N, int64_t K, bool pre)
{
    split_job j = {.ta = ta, .tb = tb};
    int64_t cols = ((N + threads - 1) / threads + 31) / 32 * 32, rows = ((M + threads - 1) / threads + 23) / 24 * 24;
    bool by_cols = N >= 64 * threads, by_rows = M >= 72 * threads && !(tb && !ta && M < cpu_isa()->dot_rows);
    if (by_cols && by_rows) {
        int64_t shared_a = cg__gemm_reads_a_in_place(ta, cols, K) ? 0 : M * K;
        int64_t shared_b = pre || cg__gemm_reads_b_in_place(tb, rows, K) ? 0 : K * N;
        by_cols = shared_a <= shared_b;
    }
    if (by_cols || (!by_rows && N >= 64)) {
        j.chunk = cols;
    } else if (by_rows) {
        j.by_rows = true;
        j.chunk = rows;
    }
    return j;
}

static int gemm_dispatch(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                         const float *B, int64_t ldb, float beta, float *C, int64_t ldc, const cg__prepacked *pre);

/* A tiny product (a toy model's step) straight to its kernel, which stores over C when
 * beta is 0, before anything a big one needs; false when it is not one. */
static inline bool tiny_product(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float *A,
                                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    const cg__gemm_isa *isa = cpu_isa();
    if (!isa || !isa->tiny || M * N * K >= 4096 || K == 0 || ldb >= (INT64_C(1) << 28))
        return false;
    if (beta != 0.0f)
        scale_c(M, N, beta, C, ldc);
    if (M > 0 && N > 0)
        isa->tiny(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, beta == 0.0f);
    return true;
}

/* The one message of a product that could not run (its part's own error may come from a worker thread). */
static int gemm_result(int rc, int64_t M, int64_t N, int64_t K)
{
    if (rc < 0)
        cg__error("out of memory for the packing scratch of a %lld x %lld x %lld matrix product", (long long)M,
                  (long long)N, (long long)K);
    return rc;
}

int cg__gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
             const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    if (tiny_product(trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc))
        return 0;
    return gemm_result(gemm_dispatch(trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc, NULL), M, N, K);
}

/* Whether a product of this shape goes to the SIMD kernels (split over threads or
 * not); others are portable loops. Packing pays off once there are a few blocks of work. */
static bool simd_path(int64_t M, int64_t N, int64_t K)
{
    return M * N * K >= 4096 && N >= 8 && cpu_isa();
}

int cg__gemm_tri(cg__tri tri, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                 const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
#ifndef CG_USE_OPENBLAS
    /* (the other paths compute all of it: the dot products, the tiny kernel, the portable loops) */
    if (tri != CG__TRI_NONE && simd_path(M, N, K) && !dots(cpu_isa(), trans_a, trans_b, M, K)) {
        bool overwrite = beta == 0.0f;
        if (!overwrite)
            scale_c(M, N, beta, C, ldc);
        return gemm_result(cg__gemm_blocked_tri(cpu_isa(), tri, trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, overwrite),
                           M, N, K);
    }
#endif
    (void)tri;
    return cg__gemm(trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

int cg__gemm_rows(int64_t M, int64_t N, int64_t K, const float *const *a_rows, const float *const *b_rows, float beta,
                  float *C, int64_t ldc)
{
    const cg__gemm_isa *isa = cpu_isa();
    bool one_thread = M * N * K < (INT64_C(1) << 21) || cg__in_pool_task() || cg_get_num_threads() == 1;
#ifndef CG_USE_OPENBLAS
    if (one_thread && simd_path(M, N, K) && M > 0) { /* one thread's blocked product: packed from the rows */
        bool overwrite = beta == 0.0f;
        if (!overwrite)
            scale_c(M, N, beta, C, ldc);
        return gemm_result(cg__gemm_blocked_rows(isa, M, N, K, a_rows, b_rows, C, ldc, overwrite), M, N, K);
    }
#endif
    (void)isa, (void)one_thread;
    /* else the rows gathered, one product as any other (over the threads, or the portable loops) */
    cg__scratch_begin();
    float *a = cg__scratch((size_t)(K * M) * sizeof(float)), *b = cg__scratch((size_t)(K * N) * sizeof(float));
    int rc = a && b ? 0 : gemm_result(-1, M, N, K);
    for (int64_t k = 0; rc == 0 && k < K; k++) {
        memcpy(a + k * M, a_rows[k], (size_t)M * sizeof(float));
        memcpy(b + k * N, b_rows[k], (size_t)N * sizeof(float));
    }
    if (rc == 0)
        rc = cg__gemm(true, false, M, N, K, a, M, b, N, beta, C, ldc);
    cg__scratch_end();
    return rc;
}

/* The packed form's strip width: the kernel's columns (cg__gemm_isa_pack_b). */
static int64_t packed_nr(void) { return cpu_isa()->NR; }

int64_t cg__gemm_row_chunk(bool trans_b, int64_t M, int64_t N, int64_t K)
{
    int threads = M * N * K >= (INT64_C(1) << 21) ? cg_get_num_threads() : 1;
    const cg__gemm_isa *isa = cpu_isa();
    if (threads < 2 || !isa)
        return 0;
    int64_t chunk = (M + threads - 1) / threads, last = M - (M - 1) / chunk * chunk;
    /* every part takes the kernel the whole takes: not the tiny products' (under 4096
     * multiply-adds), and the dot products below dot_rows rows only if the whole does */
    bool whole_dots = dots(isa, false, trans_b, M, K);
    if (chunk < 8 || last * N * K < 4096 || dots(isa, false, trans_b, last, K) != whole_dots ||
        dots(isa, false, trans_b, chunk, K) != whole_dots)
        return 0;
    return chunk;
}

int64_t cg__gemm_b_packed_len(bool trans_b, int64_t M, int64_t N, int64_t K)
{
#ifdef CG_USE_OPENBLAS
    (void)trans_b, (void)M, (void)N, (void)K;
    return 0;
#else
    if (M <= 0 || K <= 0 || !simd_path(M, N, K) || dots(cpu_isa(), false, trans_b, M, K))
        return 0;
    return (N + packed_nr() - 1) / packed_nr() * packed_nr() * K;
#endif
}

void cg__gemm_pack_b(bool trans_b, int64_t N, int64_t K, const float *B, int64_t ldb, float *packed)
{
    cg__gemm_isa_pack_b(cpu_isa(), trans_b, N, K, B, ldb, packed);
}

int cg__gemm_b_packed(bool trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                      int64_t ldb, const float *packed, float beta, float *C, int64_t ldc)
{
    if (tiny_product(false, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc))
        return 0;
    cg__prepacked pre = {packed, 0, packed ? (N + packed_nr() - 1) / packed_nr() * packed_nr() : 0};
    return gemm_result(gemm_dispatch(false, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc, packed ? &pre : NULL), M,
                       N, K);
}

static int gemm_dispatch(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                         const float *B, int64_t ldb, float beta, float *C, int64_t ldc, const cg__prepacked *pre)
{
#ifdef CG_USE_OPENBLAS
    /* -Dblas=openblas: the same products through OpenBLAS, to compare against */
    if (M * N * K >= 4096 && M > 0 && N > 0 && K > 0) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)M,
                    (int)N, (int)K, 1.0f, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
        return 0;
    }
#endif
    /* the SIMD kernels store a product over C when beta is 0: C is not cleared first */
    bool overwrite = beta == 0.0f && K > 0 && simd_path(M, N, K);
    if (!overwrite)
        scale_c(M, N, beta, C, ldc);
    if (M == 0 || N == 0 || K == 0)
        return 0;
    /* (inside a pool task a split would run its parts one after the other, each packing
     * what they share) */
    int threads = M * N * K >= (INT64_C(1) << 21) && !cg__in_pool_task() ? cg_get_num_threads() : 1;
    split_job job = threads > 1 && cpu_isa() ? split_of(threads, trans_a, trans_b, M, N, K, pre != NULL) : (split_job){0};
    if (job.chunk > 0) {
        job.M = M, job.N = N, job.K = K, job.lda = lda, job.ldb = ldb, job.ldc = ldc;
        job.A = A, job.B = B, job.C = C, job.pre = pre, job.overwrite = overwrite;
        cg__parallel_for(((job.by_rows ? M : N) + job.chunk - 1) / job.chunk, split_task, &job);
        return __atomic_load_n(&job.failed, __ATOMIC_RELAXED) ? -1 : 0;
    }
    if (simd_path(M, N, K))
        return simd_gemm(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, pre, overwrite);
    if (!trans_b && M * N * K < 4096) { /* tiny: rows of B scaled into rows of C */
        for (int64_t i = 0; i < M; i++) {
            float *restrict c = C + i * ldc;
            for (int64_t k = 0; k < K; k++) {
                float a = trans_a ? A[k * lda + i] : A[i * lda + k];
                const float *restrict b = B + k * ldb;
                for (int64_t j = 0; j < N; j++)
                    c[j] += a * b[j];
            }
        }
        return 0;
    }
    if (!trans_b) {
        gemm_b_rows(trans_a, M, N, K, A, lda, B, ldb, C, ldc);
        return 0;
    }
    if (M * N * K >= 4096) { /* without SIMD kernels: transpose B once, then axpy rows */
        cg__scratch_begin();
        float *bt = cg__scratch((size_t)(K * N) * sizeof(float));
        if (bt) {
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < K; k++)
                    bt[k * N + n] = B[n * ldb + k];
            gemm_b_rows(trans_a, M, N, K, A, lda, bt, N, C, ldc);
        }
        cg__scratch_end();
        return bt ? 0 : -1;
    }
    /* Small products (an RNN step of a toy model): plain loops, nothing packed. */
    if (!trans_a) { /* C[i][j] += A[i] · B[j] row by row, both contiguous in k */
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                const float *a = A + i * lda, *b = B + j * ldb;
                float s = C[i * ldc + j]; /* added to one by one, as the loops above (cg__tiny_kernel) */
                for (int64_t k = 0; k < K; k++)
                    s += a[k] * b[k];
                C[i * ldc + j] = s;
            }
        return 0;
    }
    for (int64_t i = 0; i < M; i++) /* both transposed: rare; element by element */
        for (int64_t j = 0; j < N; j++) {
            float s = C[i * ldc + j];
            for (int64_t k = 0; k < K; k++)
                s += A[k * lda + i] * B[j * ldb + k];
            C[i * ldc + j] = s;
        }
    return 0;
}
