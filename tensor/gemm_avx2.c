/* cgrad — the x86 GEMM kernels: a 6x16 tile for AVX2/FMA and an 8x32 one for AVX-512
 * (12 ymm / 16 zmm accumulators while k runs), 3x4 dot-product kernels 8 and 16 wide,
 * and an 8x8 in-register transpose for packing. Compiled for their instruction sets
 * with function attributes; gemm.c calls them only on CPUs that have them. The
 * blocking around them is gemm_blocked.c's. */
#include "gemm_blocked.h"

#if defined(__x86_64__) || defined(__i386__)
#include "avx2_lanes.h"

#define AVX2 __attribute__((target("avx2,fma")))

/* dst (8 rows, ldd apart) = the transpose of the 8 x 8 block whose rows are r. */
AVX2 static inline __attribute__((always_inline)) void transpose_rows(const __m256 r[8], float *dst, int64_t ldd)
{
    __m256 t[8], u[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
        _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
    }
}

/* dst (8 rows, ldd apart) = the transpose of src's 8 x 8 block (rows ld apart). */
AVX2 static inline __attribute__((always_inline)) void transpose_8x8(const float *src, int64_t ld, float *dst, int64_t ldd)
{
    __m256 r[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(src + i * ld);
    transpose_rows(r, dst, ldd);
}

AVX2 static void pack_transposed(const float *src, int64_t ld, int64_t rows, int64_t kc, float *dst, int64_t W)
{
    CG__PACK_TRANSPOSED_BY(transpose_8x8, 8, src, ld, rows, kc, dst, W);
}

/* C[0..mr) x [0..nr) += a (6 x kc packed) · b (kc rows of 16, ldb apart: a packed
 * strip has ldb = 16, a row-major B is read in place with its own ldb). */
#define MR 6
#define NR 16
/* One 6x16 tile: the k loop, A k-major (rows = false) or along rows (rows = true), then
 * the store, the accumulators in registers throughout (as tile_8x32); wide: 16 columns,
 * or the first 8 only (an edge strip of 8 or fewer: an output layer's 65th column cost a
 * whole 16-wide strip, 2048x65x512 with B transposed 7% under OpenBLAS's Haswell kernels). */
AVX2 static inline __attribute__((always_inline)) void tile_6x16(bool rows, bool wide, int64_t kc, const float *a,
                                                                  int64_t sa, int64_t ka, const float *b, int64_t ldb,
                                                                  float *C, int64_t ldc, int64_t mr, int64_t nr, bool add)
{
    const float *row[MR];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) /* k-major: row r's values at a + r, ka apart */
        row[r] = rows ? a + r * sa : a + r;
    int64_t step = rows ? 1 : ka;
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t k = 0, at = 0; k < kc; k++, at += step) {
        __m256 b0 = _mm256_loadu_ps(b + k * ldb), b1 = wide ? _mm256_loadu_ps(b + k * ldb + 8) : b0;
        __m256 a0 = _mm256_broadcast_ss(row[0] + at), a1 = _mm256_broadcast_ss(row[1] + at);
        c00 = _mm256_fmadd_ps(a0, b0, c00);
        c10 = _mm256_fmadd_ps(a1, b0, c10);
        if (wide) {
            c01 = _mm256_fmadd_ps(a0, b1, c01);
            c11 = _mm256_fmadd_ps(a1, b1, c11);
        }
        __m256 a2 = _mm256_broadcast_ss(row[2] + at), a3 = _mm256_broadcast_ss(row[3] + at);
        c20 = _mm256_fmadd_ps(a2, b0, c20);
        c30 = _mm256_fmadd_ps(a3, b0, c30);
        if (wide) {
            c21 = _mm256_fmadd_ps(a2, b1, c21);
            c31 = _mm256_fmadd_ps(a3, b1, c31);
        }
        __m256 a4 = _mm256_broadcast_ss(row[4] + at), a5 = _mm256_broadcast_ss(row[5] + at);
        c40 = _mm256_fmadd_ps(a4, b0, c40);
        c50 = _mm256_fmadd_ps(a5, b0, c50);
        if (wide) {
            c41 = _mm256_fmadd_ps(a4, b1, c41);
            c51 = _mm256_fmadd_ps(a5, b1, c51);
        }
    }
    __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    if (mr == MR && nr == NR) {
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            float *c = C + r * ldc;
            _mm256_storeu_ps(c, add ? _mm256_add_ps(_mm256_loadu_ps(c), acc[r][0]) : acc[r][0]);
            _mm256_storeu_ps(c + 8, add ? _mm256_add_ps(_mm256_loadu_ps(c + 8), acc[r][1]) : acc[r][1]);
        }
        return;
    }
    _Alignas(32) float tmp[NR];
    for (int64_t r = 0; r < mr; r++) {
        _mm256_store_ps(tmp, acc[r][0]);
        _mm256_store_ps(tmp + 8, acc[r][1]);
        for (int64_t c = 0; c < nr; c++)
            C[r * ldc + c] = add ? C[r * ldc + c] + tmp[c] : tmp[c];
    }
}

AVX2 static void kernel_6x16(int64_t kc, const float *a, int64_t sa, int64_t ka, const float *b, int64_t ldb,
                             float *C, int64_t ldc, int64_t mr, int64_t nr, bool add)
{
    if (nr <= 8) /* (an edge strip: rare, so one form for every A) */
        tile_6x16(sa != 1, false, kc, a, sa, ka, b, ldb, C, ldc, mr, nr, add);
    else if (sa == 1 && ka == MR) /* packed (ka a constant the compiler folds) */
        tile_6x16(false, true, kc, a, sa, MR, b, ldb, C, ldc, mr, nr, add);
    else if (sa == 1)
        tile_6x16(false, true, kc, a, sa, ka, b, ldb, C, ldc, mr, nr, add);
    else
        tile_6x16(true, true, kc, a, sa, ka, b, ldb, C, ldc, mr, nr, add);
}

/* (the dot products for A · Bᵀ with few rows: a 3x4 block of C is 12 accumulators of 8
 * partial sums each, reduced across lanes at the end) */
static inline AVX2 __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d)
{
    __m256 ab = _mm256_hadd_ps(a, b), cd = _mm256_hadd_ps(c, d);
    __m256 abcd = _mm256_hadd_ps(ab, cd); /* per 128-bit lane: a b c d partial sums */
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

/* rows of A: a[0..2], rows of B: b[0..3] (repeated pointers stand in for missing ones) */
AVX2 static void dot_3x4(int64_t K, const float *const a[3], const float *const b[4], float out[3][4])
{
    __m256 acc[3][4];
#pragma GCC unroll 3
    for (int r = 0; r < 3; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            acc[r][c] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 a0 = _mm256_loadu_ps(a[0] + k), a1 = _mm256_loadu_ps(a[1] + k), a2 = _mm256_loadu_ps(a[2] + k);
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            __m256 bc = _mm256_loadu_ps(b[c] + k);
            acc[0][c] = _mm256_fmadd_ps(a0, bc, acc[0][c]);
            acc[1][c] = _mm256_fmadd_ps(a1, bc, acc[1][c]);
            acc[2][c] = _mm256_fmadd_ps(a2, bc, acc[2][c]);
        }
    }
    if (k < K) { /* the last K % 8 elements, the rest of the lanes masked off */
        __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(K - k)), idx);
        __m256 a0 = _mm256_maskload_ps(a[0] + k, mask), a1 = _mm256_maskload_ps(a[1] + k, mask);
        __m256 a2 = _mm256_maskload_ps(a[2] + k, mask);
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            __m256 bc = _mm256_maskload_ps(b[c] + k, mask);
            acc[0][c] = _mm256_fmadd_ps(a0, bc, acc[0][c]);
            acc[1][c] = _mm256_fmadd_ps(a1, bc, acc[1][c]);
            acc[2][c] = _mm256_fmadd_ps(a2, bc, acc[2][c]);
        }
    }
#pragma GCC unroll 3
    for (int r = 0; r < 3; r++)
        _mm_storeu_ps(out[r], hsum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
}


/* Tiny products (an RNN step of a toy model: 1 to 8 rows, a few columns): up to four
 * rows of C at once, eight columns a register, loads masked at the edge (C's rows stored
 * lane by lane there: cg__store_first). Each column of B (op(B)'s k-th row) is loaded once
 * for the four rows — from a row-major copy when B is transposed (tiny_of), else gathered. */
AVX2 static inline __attribute__((always_inline)) void tiny_rows(bool ta, bool tb, int rows, int64_t K, const float *A, int64_t lda, const float *B,
                           int64_t ldb, __m256i mask, int64_t nj, __m256i idx, float *C, int64_t ldc, bool overwrite)
{
    __m256 s[4];
#pragma GCC unroll 4
    for (int r = 0; r < rows; r++)
        s[r] = overwrite ? _mm256_setzero_ps() : _mm256_maskload_ps(C + r * ldc, mask);
    int64_t step_i = ta ? 1 : lda, step_k = ta ? lda : 1;
    for (int64_t k = 0; k < K; k++) {
        __m256 b = tb ? _mm256_mask_i32gather_ps(_mm256_setzero_ps(), B + k, idx, _mm256_castsi256_ps(mask), 4)
                      : _mm256_maskload_ps(B + k * ldb, mask);
#pragma GCC unroll 4
        for (int r = 0; r < rows; r++) /* separate multiply and add: the portable loops' rounding */
            s[r] = _mm256_add_ps(s[r], _mm256_mul_ps(_mm256_broadcast_ss(A + r * step_i + k * step_k), b));
    }
#pragma GCC unroll 4
    for (int r = 0; r < rows; r++)
        cg__store_first(C + r * ldc, s[r], nj);
}

/* A transposed B this deep or less is turned row-major first (below); deeper, gathered. */
#define TINY_TRANSPOSE_K 128

/* op(B)'s columns j0 .. j0 + nj - 1 for a transposed B (its rows b, b + ldb, ...: nj of
 * them, K long) as a K x 8 row-major block bt (K rounded up to 8 rows; lanes past nj 0).
 * A row of bt is then one plain load where it was a gather: a toy RNN step's 1x8x8
 * x·Wᵀ took 50-67 ns with gathers, 25-43 ns without (this AMD EPYC); the same values
 * reach the same sums in the same order, so the bits are the same. */
AVX2 static inline __attribute__((always_inline)) void tiny_transpose_b(const float *b, int64_t ldb, int64_t nj,
                                                                         int64_t K, float *bt)
{
    for (int64_t k0 = 0; k0 < K; k0 += 8) {
        __m256i kmask = cg__first_lanes(K - k0 < 8 ? K - k0 : 8);
        __m256 r[8];
#pragma GCC unroll 8
        for (int l = 0; l < 8; l++)
            r[l] = l < nj ? _mm256_maskload_ps(b + l * ldb + k0, kmask) : _mm256_setzero_ps();
        transpose_rows(r, bt + k0 * 8, 8);
    }
}

AVX2 static inline __attribute__((always_inline)) void tiny_block(bool ta, bool tb, int64_t M, int64_t K,
                                                                   const float *A, int64_t lda, const float *b,
                                                                   int64_t ldb, __m256i mask, int64_t nj, __m256i idx,
                                                                   float *C, int64_t ldc, bool overwrite)
{
    for (int64_t i = 0; i < M; i += 4) {
        const float *a = ta ? A + i : A + i * lda;
        float *c = C + i * ldc;
        switch (M - i < 4 ? M - i : 4) { /* each count its own unrolled loop, the sums in registers */
        case 1: tiny_rows(ta, tb, 1, K, a, lda, b, ldb, mask, nj, idx, c, ldc, overwrite); break;
        case 2: tiny_rows(ta, tb, 2, K, a, lda, b, ldb, mask, nj, idx, c, ldc, overwrite); break;
        case 3: tiny_rows(ta, tb, 3, K, a, lda, b, ldb, mask, nj, idx, c, ldc, overwrite); break;
        default: tiny_rows(ta, tb, 4, K, a, lda, b, ldb, mask, nj, idx, c, ldc, overwrite); break;
        }
    }
}

AVX2 static inline __attribute__((always_inline)) void tiny_of(bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                                                                const float *A, int64_t lda, const float *B,
                                                                int64_t ldb, float *C, int64_t ldc, bool overwrite)
{
    /* a transposed B's column j0 + l is l * ldb floats on (ldb < 2^28: the caller's check) */
    __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)ldb));
    float bt[TINY_TRANSPOSE_K * 8] __attribute__((aligned(32)));
    for (int64_t j0 = 0; j0 < N; j0 += 8) {
        int64_t nj = N - j0 < 8 ? N - j0 : 8;
        __m256i mask = cg__first_lanes(nj);
        if (tb && K <= TINY_TRANSPOSE_K) {
            tiny_transpose_b(B + j0 * ldb, ldb, nj, K, bt);
            tiny_block(ta, false, M, K, A, lda, bt, 8, mask, nj, idx, C + j0, ldc, overwrite);
        } else
            tiny_block(ta, tb, M, K, A, lda, tb ? B + j0 * ldb : B + j0, ldb, mask, nj, idx, C + j0, ldc, overwrite);
    }
}

/* Each transposition case its own copy: the k loop with no test of ta or tb in it (a toy
 * RNN step's product: 257 -> about 226 instructions a call, hello's step 45,756 -> 45,066 in callgrind). */
AVX2 static void tiny(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                      const float *B, int64_t ldb, float *C, int64_t ldc, bool overwrite)
{
    if (!ta && !tb)
        tiny_of(false, false, M, N, K, A, lda, B, ldb, C, ldc, overwrite);
    else if (!ta)
        tiny_of(false, true, M, N, K, A, lda, B, ldb, C, ldc, overwrite);
    else if (!tb)
        tiny_of(true, false, M, N, K, A, lda, B, ldb, C, ldc, overwrite);
    else
        tiny_of(true, true, M, N, K, A, lda, B, ldb, C, ldc, overwrite);
}

#undef MR
#undef NR
const cg__gemm_isa cg__gemm_avx2 = {"avx2", 6, 16, kernel_6x16, pack_transposed, dot_3x4, 65, tiny};

/* ---- AVX-512: an 8x32 tile (16 zmm accumulators), and 3x4 dot products 16 wide ---- */

#define AVX512 __attribute__((target("avx512f,fma")))

/* One 8x32 tile: the k loop, A k-major (rows = false: row r at a + r, k steps of ka) or
 * along rows (rows = true: row r at a + r * sa, k steps of 1); wide: 32 columns, or 16.
 * The accumulators are this function's own, every loop over them unrolled, so they stay
 * in registers from the first FMA to the store (at -O2, gcc kept an array of them that
 * two functions shared on the stack: a third of the kernel's speed). */
AVX512 static inline __attribute__((always_inline)) void tile_8x32(int R, bool rows, bool wide, int64_t kc,
                                                                    const float *a, int64_t sa, int64_t ka,
                                                                    const float *b, int64_t ldb, float *C,
                                                                    int64_t ldc, int64_t mr, int64_t nr, bool add)
{
    __m512 acc[8][2];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    const float *ak = a; /* k-major: this k's MR values */
    /* rows: two row pointers (rows 0 and 4) and three offsets, so the k loop's addresses
     * fit in registers (eight row offsets spilled two to the stack, reloaded every k) */
    const float *a0 = a, *a4 = a + 4 * sa;
    int64_t s1 = sa, s2 = 2 * sa, s3 = 3 * sa;
    for (int64_t k = 0; k < kc; k++, ak += ka, a0++, a4++) {
        __m512 b0 = _mm512_loadu_ps(b + k * ldb), b1 = wide ? _mm512_loadu_ps(b + k * ldb + 16) : b0;
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const float *ar_row = r < 4 ? a0 : a4;
            int64_t off = (r & 3) == 0 ? 0 : (r & 3) == 1 ? s1 : (r & 3) == 2 ? s2 : s3;
            __m512 ar = _mm512_set1_ps(rows ? ar_row[off] : ak[r]);
            acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
            if (wide)
                acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
        }
    }
    __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        if (r >= mr)
            break;
        float *c = C + r * ldc;
        _mm512_mask_storeu_ps(c, m0, add ? _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c), acc[r][0]) : acc[r][0]);
        if (wide)
            _mm512_mask_storeu_ps(c + 16, m1,
                                  add ? _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + 16), acc[r][1]) : acc[r][1]);
    }
}

AVX512 static void kernel_8x32(int64_t kc, const float *a, int64_t sa, int64_t ka, const float *b, int64_t ldb,
                               float *C, int64_t ldc, int64_t mr, int64_t nr, bool add)
{
    /* A last strip of few rows (65 = 8 * 8 + 1: an output layer's weight gradient) computes
     * only 4 rows, or 1, not 8: the same sums (each element's own k-ordered FMAs), and
     * 65x512x2048 (1, 0) on an AMD EPYC (Zen 4) 84 -> 92 GFLOP/s, 27x256x1024 93 -> 103.
     * Only packed strips are short. */
    bool packed = sa == 1 && ka == 8;
    if (packed && mr == 1)
        nr <= 16 ? tile_8x32(1, false, false, kc, a, sa, 8, b, ldb, C, ldc, mr, nr, add)
                 : tile_8x32(1, false, true, kc, a, sa, 8, b, ldb, C, ldc, mr, nr, add);
    else if (packed && mr <= 4)
        nr <= 16 ? tile_8x32(4, false, false, kc, a, sa, 8, b, ldb, C, ldc, mr, nr, add)
                 : tile_8x32(4, false, true, kc, a, sa, 8, b, ldb, C, ldc, mr, nr, add);
    /* a narrow last strip (65 = 32 + 32 + 1 columns): half the work, same sums */
    else if (packed && nr <= 16) /* (packed: ka a constant the compiler folds) */
        tile_8x32(8, false, false, kc, a, sa, 8, b, ldb, C, ldc, mr, nr, add);
    else if (packed)
        tile_8x32(8, false, true, kc, a, sa, 8, b, ldb, C, ldc, mr, nr, add);
    else if (sa == 1 && nr <= 16)
        tile_8x32(8, false, false, kc, a, sa, ka, b, ldb, C, ldc, mr, nr, add);
    else if (sa == 1)
        tile_8x32(8, false, true, kc, a, sa, ka, b, ldb, C, ldc, mr, nr, add);
    else if (nr <= 16)
        tile_8x32(8, true, false, kc, a, sa, ka, b, ldb, C, ldc, mr, nr, add);
    else
        tile_8x32(8, true, true, kc, a, sa, ka, b, ldb, C, ldc, mr, nr, add);
}

/* one step of dot_3x4_512: 16 values of k (the lanes of m) of three rows against four */
AVX512 static inline __attribute__((always_inline)) void dot_step_512(__mmask16 m, const float *a0p, const float *a1p,
                                                                       const float *a2p, const float *const b[4],
                                                                       int64_t k, __m512 acc[3][4])
{
    __m512 a0 = _mm512_maskz_loadu_ps(m, a0p + k), a1 = _mm512_maskz_loadu_ps(m, a1p + k);
    __m512 a2 = _mm512_maskz_loadu_ps(m, a2p + k);
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        __m512 bc = _mm512_maskz_loadu_ps(m, b[c] + k);
        acc[0][c] = _mm512_fmadd_ps(a0, bc, acc[0][c]);
        acc[1][c] = _mm512_fmadd_ps(a1, bc, acc[1][c]);
        acc[2][c] = _mm512_fmadd_ps(a2, bc, acc[2][c]);
    }
}

AVX512 static void dot_3x4_512(int64_t K, const float *const a[3], const float *const b[4], float out[3][4])
{
    __m512 acc[3][4];
#pragma GCC unroll 3
    for (int r = 0; r < 3; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            acc[r][c] = _mm512_setzero_ps();
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *const bs[4] = {b[0], b[1], b[2], b[3]};
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) /* whole registers, then the tail's lanes masked */
        dot_step_512(0xffff, a0, a1, a2, bs, k, acc);
    if (k < K)
        dot_step_512((__mmask16)((1u << (K - k)) - 1), a0, a1, a2, bs, k, acc);
    /* fold each 16-lane sum to 8 lanes, then four at a time across lanes */
#pragma GCC unroll 3
    for (int r = 0; r < 3; r++) {
        __m256 h[4];
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            h[c] = _mm256_add_ps(_mm512_castps512_ps256(acc[r][c]),
                                 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[r][c]), 1)));
        _mm_storeu_ps(out[r], hsum4(h[0], h[1], h[2], h[3]));
    }
}


/* dot products below 16 rows only: measured on an Intel Xeon by bench gemm, each dot
 * ends in a horizontal sum of a 16-wide register */
const cg__gemm_isa cg__gemm_avx512 = {"avx512", 8, 32, kernel_8x32, pack_transposed, dot_3x4_512, 16, tiny};
#endif
