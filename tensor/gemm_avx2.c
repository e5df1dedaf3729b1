/* cgrad — the SIMD GEMMs: packed panels around register-tiled kernels, 6x16 for
 * AVX2/FMA and 8x32 for AVX-512, and dot-product kernels for A·Bᵀ with few rows.
 *
 * C (M x N) += op(A) (M x K) · op(B) (K x N), row-major. op(B) is packed into
 * strips of 16 columns and op(A) into strips of 6 rows, k-major, so the kernel
 * streams both from contiguous memory whichever operand is transposed: the
 * transposed variants cost only a different packing loop. The kernel keeps a
 * 6x16 block of C in 12 ymm registers while k runs. Compiled for AVX2+FMA with
 * function attributes; gemm.c calls each only on CPUs that have it. */
#include "kernels.h"
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define KC 256
#define MC 120 /* a multiple of both kernels' row tiles: the packed A block stays in L2 */
#define NC 2048

#define AVX2 __attribute__((target("avx2,fma")))

/* dst (8 rows, ldd apart) = the transpose of src's 8 x 8 block (rows ld apart). */
AVX2 static inline void transpose_8x8(const float *src, int64_t ld, float *dst, int64_t ldd)
{
    __m256 r[8], t[8], u[8];
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(src + i * ld);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
        _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
    }
}

/* rows [0, rows) of a row-major block (ld apart), k in [0, kc), as k-major rows of
 * width W (dst[k * W + r] = src[r * ld + k]): whole 8 x 8 blocks transposed in
 * registers, the edges element by element; rows up to W are zero. */
AVX2 static void pack_transposed(const float *src, int64_t ld, int64_t rows, int64_t kc, float *dst, int64_t W)
{
    int64_t r8 = rows / 8 * 8, k8 = kc / 8 * 8;
    for (int64_t r = 0; r < r8; r += 8)
        for (int64_t k = 0; k < k8; k += 8)
            transpose_8x8(src + r * ld + k, ld, dst + k * W + r, W);
    for (int64_t r = 0; r < W; r++)
        for (int64_t k = r < r8 ? k8 : 0; k < kc; k++)
            dst[k * W + r] = r < rows ? src[r * ld + k] : 0;
}

/* op(B)[k0 .. k0+kc) x [j0 .. j0+nc) into strips of NR columns (zero-padded). A
 * transposed B is read along its rows (contiguous), writing the strip k-major. */
AVX2 static void pack_b(bool tb, const float *B, int64_t ldb, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst,
                        int64_t NR)
{
    for (int64_t js = 0; js < nc; js += NR) {
        int64_t nr = nc - js < NR ? nc - js : NR;
        float *strip = dst + (js / NR) * kc * NR;
        if (tb) {
            pack_transposed(B + (j0 + js) * ldb + k0, ldb, nr, kc, strip, NR);
            continue;
        }
        for (int64_t k = 0; k < kc; k++) {
            memcpy(strip + k * NR, B + (k0 + k) * ldb + j0 + js, (size_t)nr * sizeof(float));
            for (int64_t c = nr; c < NR; c++)
                strip[k * NR + c] = 0;
        }
    }
}

/* op(A)[i0 .. i0+mc) x [k0 .. k0+kc) into strips of MR rows (zero-padded). */
AVX2 static void pack_a(bool ta, const float *A, int64_t lda, int64_t i0, int64_t mc, int64_t k0, int64_t kc, float *dst,
                        int64_t MR)
{
    for (int64_t is = 0; is < mc; is += MR) {
        int64_t mr = mc - is < MR ? mc - is : MR;
        float *d = dst + (is / MR) * kc * MR;
        if (!ta) {
            pack_transposed(A + (i0 + is) * lda + k0, lda, mr, kc, d, MR);
            continue;
        }
        if (mr == MR && MR == 8) { /* whole strips: one vector move per k */
            for (int64_t k = 0; k < kc; k++)
                _mm256_storeu_ps(d + k * 8, _mm256_loadu_ps(A + (k0 + k) * lda + i0 + is));
            continue;
        }
        for (int64_t k = 0; k < kc; k++) {
            const float *s = A + (k0 + k) * lda + i0 + is;
            for (int64_t r = 0; r < mr; r++)
                d[k * MR + r] = s[r];
            for (int64_t r = mr; r < MR; r++)
                d[k * MR + r] = 0;
        }
    }
}

/* C[0..mr) x [0..nr) += a (6 x kc packed) · b (kc rows of 16, ldb apart: a packed
 * strip has ldb = 16, a row-major B is read in place with its own ldb). */
#define MR 6
#define NR 16
AVX2 static void kernel_6x16(int64_t kc, const float *a, const float *b, int64_t ldb, float *C, int64_t ldc,
                             int64_t mr, int64_t nr, bool add)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        __m256 b0 = _mm256_loadu_ps(b + k * ldb), b1 = _mm256_loadu_ps(b + k * ldb + 8);
        const float *ak = a + k * MR;
        __m256 a0 = _mm256_broadcast_ss(ak + 0), a1 = _mm256_broadcast_ss(ak + 1);
        c00 = _mm256_fmadd_ps(a0, b0, c00);
        c01 = _mm256_fmadd_ps(a0, b1, c01);
        c10 = _mm256_fmadd_ps(a1, b0, c10);
        c11 = _mm256_fmadd_ps(a1, b1, c11);
        __m256 a2 = _mm256_broadcast_ss(ak + 2), a3 = _mm256_broadcast_ss(ak + 3);
        c20 = _mm256_fmadd_ps(a2, b0, c20);
        c21 = _mm256_fmadd_ps(a2, b1, c21);
        c30 = _mm256_fmadd_ps(a3, b0, c30);
        c31 = _mm256_fmadd_ps(a3, b1, c31);
        __m256 a4 = _mm256_broadcast_ss(ak + 4), a5 = _mm256_broadcast_ss(ak + 5);
        c40 = _mm256_fmadd_ps(a4, b0, c40);
        c41 = _mm256_fmadd_ps(a4, b1, c41);
        c50 = _mm256_fmadd_ps(a5, b0, c50);
        c51 = _mm256_fmadd_ps(a5, b1, c51);
    }
    __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    if (mr == MR && nr == NR) {
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

/* ---- C += A · Bᵀ for few rows of A: dot products, nothing packed -------------------
 * The recurrent step's x · W_hhᵀ has 32 or so rows: packing W each step would
 * cost as much as the product. Here both operands are read along their rows
 * (contiguous in k); a 3x4 block of C is 12 accumulators of 8 partial sums each,
 * reduced across lanes at the end. */

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
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++)
            acc[r][c] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 a0 = _mm256_loadu_ps(a[0] + k), a1 = _mm256_loadu_ps(a[1] + k), a2 = _mm256_loadu_ps(a[2] + k);
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
        for (int c = 0; c < 4; c++) {
            __m256 bc = _mm256_maskload_ps(b[c] + k, mask);
            acc[0][c] = _mm256_fmadd_ps(a0, bc, acc[0][c]);
            acc[1][c] = _mm256_fmadd_ps(a1, bc, acc[1][c]);
            acc[2][c] = _mm256_fmadd_ps(a2, bc, acc[2][c]);
        }
    }
    for (int r = 0; r < 3; r++)
        _mm_storeu_ps(out[r], hsum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
}


#undef MR
#undef NR

/* C (mr x nr) += or = (add false: C's old values not read) a · b */
typedef void (*tile_kernel)(int64_t kc, const float *a, const float *b, int64_t ldb, float *C, int64_t ldc,
                            int64_t mr, int64_t nr, bool add);

/* The blocked product around a tile kernel of MR x NR. With pre (a transposed B
 * packed once, cg__gemm_pack_bt), B's strips are read from there instead of being
 * packed again: the same values, so the same bits. */
static int gemm_packed(tile_kernel kernel, int64_t MR, int64_t NR, bool trans_a, bool trans_b, int64_t M,
                        int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                        int64_t ldc, const cg__prepacked *pre, bool overwrite)
{
    int64_t nc_max = N < NC ? N : NC, kc_max = K < KC ? K : KC, mc_max = M < MC ? M : MC;
    /* A row-major B is read where it lies, NR columns at a time, when A has few rows
     * (an RNN step: packing B would cost as much as the product) or K is short; only
     * a transposed B, and the last partial strip, are packed then. With many rows
     * and a long K, B is packed too: a strip read in place walks K rows ldb apart,
     * and strides of a few KB fall into the same few L1 sets (on this Xeon, 512³:
     * 114 -> 141 GFLOP/s, 768x64x256: 89 -> 132). Packing moves values only, so
     * either way gives the same bits. */
    bool direct = !trans_b && !(M >= 128 && K >= 64);
    cg__scratch_begin();
    float *bp = pre ? NULL : cg__scratch((size_t)(((nc_max + NR - 1) / NR) * NR * kc_max) * sizeof(float));
    float *ap = cg__scratch((size_t)(((mc_max + MR - 1) / MR) * MR * kc_max) * sizeof(float));
    bool ok = (bp || pre) && ap;
    if (ok) {
        for (int64_t j0 = 0; j0 < N; j0 += NC) {
            int64_t nc = N - j0 < NC ? N - j0 : NC, full = direct ? nc / NR * NR : 0;
            for (int64_t k0 = 0; k0 < K; k0 += KC) {
                int64_t kc = K - k0 < KC ? K - k0 : KC;
                if (full < nc && !pre) /* what is not read in place: all of a transposed B, or B's last strip */
                    pack_b(trans_b, B, ldb, k0, kc, j0 + full, nc - full, bp, NR);
                for (int64_t i0 = 0; i0 < M; i0 += MC) {
                    int64_t mc = M - i0 < MC ? M - i0 : MC;
                    pack_a(trans_a, A, lda, i0, mc, k0, kc, ap, MR);
                    for (int64_t js = 0; js < nc; js += NR) {
                        bool in_place = js < full;
                        const float *b = in_place ? B + k0 * ldb + j0 + js
                                         : pre ? pre->data + k0 * pre->npad + ((pre->col0 + j0 + js) / NR) * kc * NR
                                               : bp + ((js - full) / NR) * kc * NR;
                        int64_t bstride = in_place ? ldb : NR;
                        for (int64_t is = 0; is < mc; is += MR)
                            kernel(kc, ap + (is / MR) * kc * MR, b, bstride, C + (i0 + is) * ldc + j0 + js, ldc,
                                   mc - is < MR ? mc - is : MR, nc - js < NR ? nc - js : NR, !overwrite || k0 > 0);
                    }
                }
            }
        }
    }
    cg__scratch_end();
    return ok ? 0 : -1;
}

int cg__gemm_avx2(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float *C, int64_t ldc, const cg__prepacked *pre, bool overwrite)
{
    return gemm_packed(kernel_6x16, 6, 16, trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, pre, overwrite);
}

/* ---- AVX-512: an 8x32 tile (16 zmm accumulators), and 3x4 dot products 16 wide ---- */

#define AVX512 __attribute__((target("avx512f,fma")))

AVX512 static void kernel_8x32(int64_t kc, const float *a, const float *b, int64_t ldb, float *C, int64_t ldc,
                               int64_t mr, int64_t nr, bool add)
{
    __m512 acc[8][2];
    for (int r = 0; r < 8; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    if (nr <= 16) { /* a narrow last strip (65 = 32 + 32 + 1 columns): half the work, same sums */
        for (int64_t k = 0; k < kc; k++) {
            __m512 b0 = _mm512_loadu_ps(b + k * ldb);
            for (int r = 0; r < 8; r++)
                acc[r][0] = _mm512_fmadd_ps(_mm512_set1_ps(a[k * 8 + r]), b0, acc[r][0]);
        }
    } else {
        for (int64_t k = 0; k < kc; k++) {
            __m512 b0 = _mm512_loadu_ps(b + k * ldb), b1 = _mm512_loadu_ps(b + k * ldb + 16);
            const float *ak = a + k * 8;
            for (int r = 0; r < 8; r++) {
                __m512 ar = _mm512_set1_ps(ak[r]);
                acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
            }
        }
    }
    __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
    for (int64_t r = 0; r < mr; r++) {
        float *c = C + r * ldc;
        _mm512_mask_storeu_ps(c, m0, add ? _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c), acc[r][0]) : acc[r][0]);
        _mm512_mask_storeu_ps(c + 16, m1, add ? _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + 16), acc[r][1]) : acc[r][1]);
    }
}

int cg__gemm_avx512(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                    const float *B, int64_t ldb, float *C, int64_t ldc, const cg__prepacked *pre, bool overwrite)
{
    return gemm_packed(kernel_8x32, 8, 32, trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, pre, overwrite);
}

/* Bᵀ (B: N x K, row-major) in the strips of NR columns gemm_packed reads, every KC
 * block of k after the other: block k0 at k0 * npad, strip s of it at s * kc * NR. */
void cg__gemm_avx_pack_bt(int64_t NR, int64_t N, int64_t K, const float *B, int64_t ldb, float *dst)
{
    int64_t npad = (N + NR - 1) / NR * NR;
    for (int64_t k0 = 0; k0 < K; k0 += KC)
        pack_b(true, B, ldb, k0, K - k0 < KC ? K - k0 : KC, 0, N, dst + k0 * npad, NR);
}

static inline AVX512 __m128 hsum4_512(__m256 a, __m256 b, __m256 c, __m256 d)
{
    __m256 ab = _mm256_hadd_ps(a, b), cd = _mm256_hadd_ps(c, d);
    __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

AVX512 static void dot_3x4_512(int64_t K, const float *const a[3], const float *const b[4], float out[3][4])
{
    __m512 acc[3][4];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++)
            acc[r][c] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k += 16) {
        __mmask16 m = K - k >= 16 ? 0xffff : (__mmask16)((1u << (K - k)) - 1);
        __m512 a0 = _mm512_maskz_loadu_ps(m, a[0] + k), a1 = _mm512_maskz_loadu_ps(m, a[1] + k);
        __m512 a2 = _mm512_maskz_loadu_ps(m, a[2] + k);
        for (int c = 0; c < 4; c++) {
            __m512 bc = _mm512_maskz_loadu_ps(m, b[c] + k);
            acc[0][c] = _mm512_fmadd_ps(a0, bc, acc[0][c]);
            acc[1][c] = _mm512_fmadd_ps(a1, bc, acc[1][c]);
            acc[2][c] = _mm512_fmadd_ps(a2, bc, acc[2][c]);
        }
    }
    /* fold each 16-lane sum to 8 lanes, then four at a time across lanes */
    for (int r = 0; r < 3; r++) {
        __m256 h[4];
        for (int c = 0; c < 4; c++)
            h[c] = _mm256_add_ps(_mm512_castps512_ps256(acc[r][c]),
                                 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[r][c]), 1)));
        _mm_storeu_ps(out[r], hsum4_512(h[0], h[1], h[2], h[3]));
    }
}


typedef void (*dot_kernel)(int64_t K, const float *const a[3], const float *const b[4], float out[3][4]);

/* C += A · Bᵀ in 3x4 blocks of dot products; columns outer, so a block of B's rows
 * stays in L1 while all of A's rows pass. Whole rows of k at once up to 4096 (finer
 * k blocks cost more in reductions than they save at RNN sizes). */
static void nt_small(dot_kernel dot, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                     int64_t ldb, float *C, int64_t ldc)
{
    const int64_t KB = 4096;
    for (int64_t k0 = 0; k0 < K; k0 += KB) {
        int64_t kb = K - k0 < KB ? K - k0 : KB;
        for (int64_t j = 0; j < N; j += 4) {
            int64_t nr = N - j < 4 ? N - j : 4;
            const float *b[4];
            for (int c = 0; c < 4; c++) /* a repeated row stands in for a missing one */
                b[c] = B + (j + (c < nr ? c : 0)) * ldb + k0;
            for (int64_t i = 0; i < M; i += 3) {
                int64_t mr = M - i < 3 ? M - i : 3;
                const float *a[3];
                for (int r = 0; r < 3; r++)
                    a[r] = A + (i + (r < mr ? r : 0)) * lda + k0;
                float out[3][4];
                dot(kb, a, b, out);
                for (int64_t r = 0; r < mr; r++)
                    for (int64_t c = 0; c < nr; c++)
                        C[(i + r) * ldc + j + c] += out[r][c];
            }
        }
    }
}

void cg__gemm_avx2_nt_small(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                            int64_t ldb, float *C, int64_t ldc)
{
    nt_small(dot_3x4, M, N, K, A, lda, B, ldb, C, ldc);
}

void cg__gemm_avx512_nt_small(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                              int64_t ldb, float *C, int64_t ldc)
{
    nt_small(dot_3x4_512, M, N, K, A, lda, B, ldb, C, ldc);
}

#else /* not x86: the dispatcher never calls these (no AVX2 reported) */

void cg__gemm_avx_pack_bt(int64_t NR, int64_t N, int64_t K, const float *B, int64_t ldb, float *dst)
{
    (void)NR, (void)N, (void)K, (void)B, (void)ldb, (void)dst;
}
int cg__gemm_avx2(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                  int64_t ldb, float *C, int64_t ldc, const cg__prepacked *pre, bool overwrite)
{
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B, (void)ldb, (void)C, (void)ldc, (void)pre;
    (void)overwrite;
    return -1;
}
int cg__gemm_avx512(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float *C, int64_t ldc, const cg__prepacked *pre, bool overwrite)
{
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B, (void)ldb, (void)C, (void)ldc, (void)pre;
    (void)overwrite;
    return -1;
}
void cg__gemm_avx2_nt_small(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                            float *C, int64_t ldc)
{
    (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B, (void)ldb, (void)C, (void)ldc;
}
void cg__gemm_avx512_nt_small(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                              int64_t ldb, float *C, int64_t ldc)
{
    (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B, (void)ldb, (void)C, (void)ldc;
}
#endif
