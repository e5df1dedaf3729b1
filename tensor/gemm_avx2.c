/* cgrad — the AVX2/FMA GEMM: packed panels and a 6x16 register-tiled kernel.
 *
 * C (M x N) += op(A) (M x K) · op(B) (K x N), row-major. op(B) is packed into
 * strips of 16 columns and op(A) into strips of 6 rows, k-major, so the kernel
 * streams both from contiguous memory whichever operand is transposed: the
 * transposed variants cost only a different packing loop. The kernel keeps a
 * 6x16 block of C in 12 ymm registers while k runs. Compiled for AVX2+FMA with
 * function attributes; gemm.c calls it only on CPUs that have both. */
#include "kernels.h"
#include <immintrin.h>
#include <string.h>

#define MR 6
#define NR 16
#define KC 256
#define MC 120 /* a multiple of MR: the packed A block stays in L2 */
#define NC 2048

#define AVX2 __attribute__((target("avx2,fma")))

/* op(B)[k0 .. k0+kc) x [j0 .. j0+nc) into strips of NR columns (zero-padded). A
 * transposed B is read along its rows (contiguous), writing the strip k-major. */
static void pack_b(bool tb, const float *B, int64_t ldb, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst)
{
    for (int64_t js = 0; js < nc; js += NR) {
        int64_t nr = nc - js < NR ? nc - js : NR;
        float *strip = dst + (js / NR) * kc * NR;
        if (!tb) {
            for (int64_t k = 0; k < kc; k++) {
                memcpy(strip + k * NR, B + (k0 + k) * ldb + j0 + js, (size_t)nr * sizeof(float));
                for (int64_t c = nr; c < NR; c++)
                    strip[k * NR + c] = 0;
            }
            continue;
        }
        for (int64_t c = 0; c < NR; c++) {
            const float *row = B + (j0 + js + c) * ldb + k0;
            for (int64_t k = 0; k < kc; k++)
                strip[k * NR + c] = c < nr ? row[k] : 0;
        }
    }
}

/* op(A)[i0 .. i0+mc) x [k0 .. k0+kc) into strips of MR rows (zero-padded). */
static void pack_a(bool ta, const float *A, int64_t lda, int64_t i0, int64_t mc, int64_t k0, int64_t kc, float *dst)
{
    for (int64_t is = 0; is < mc; is += MR) {
        int64_t mr = mc - is < MR ? mc - is : MR;
        float *d = dst + (is / MR) * kc * MR;
        if (ta) {
            for (int64_t k = 0; k < kc; k++) {
                const float *s = A + (k0 + k) * lda + i0 + is;
                for (int64_t r = 0; r < mr; r++)
                    d[k * MR + r] = s[r];
                for (int64_t r = mr; r < MR; r++)
                    d[k * MR + r] = 0;
            }
        } else {
            for (int64_t r = 0; r < MR; r++) {
                const float *s = A + (i0 + is + r) * lda + k0;
                for (int64_t k = 0; k < kc; k++)
                    d[k * MR + r] = r < mr ? s[k] : 0;
            }
        }
    }
}

/* C[0..mr) x [0..nr) += a (MR x kc packed) · b (kc x NR packed). */
AVX2 static void kernel_6x16(int64_t kc, const float *a, const float *b, float *C, int64_t ldc, int64_t mr, int64_t nr)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(b + k * NR), b1 = _mm256_load_ps(b + k * NR + 8);
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
            _mm256_storeu_ps(c, _mm256_add_ps(_mm256_loadu_ps(c), acc[r][0]));
            _mm256_storeu_ps(c + 8, _mm256_add_ps(_mm256_loadu_ps(c + 8), acc[r][1]));
        }
        return;
    }
    _Alignas(32) float tmp[NR];
    for (int64_t r = 0; r < mr; r++) {
        _mm256_store_ps(tmp, acc[r][0]);
        _mm256_store_ps(tmp + 8, acc[r][1]);
        for (int64_t c = 0; c < nr; c++)
            C[r * ldc + c] += tmp[c];
    }
}

AVX2 void cg__gemm_avx2(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        const float *B, int64_t ldb, float *C, int64_t ldc)
{
    int64_t nc_max = N < NC ? N : NC, kc_max = K < KC ? K : KC, mc_max = M < MC ? M : MC;
    cg__scratch_begin();
    float *bp = cg__scratch((size_t)(((nc_max + NR - 1) / NR) * NR * kc_max) * sizeof(float));
    float *ap = cg__scratch((size_t)(((mc_max + MR - 1) / MR) * MR * kc_max) * sizeof(float));
    if (bp && ap) {
        for (int64_t j0 = 0; j0 < N; j0 += NC) {
            int64_t nc = N - j0 < NC ? N - j0 : NC;
            for (int64_t k0 = 0; k0 < K; k0 += KC) {
                int64_t kc = K - k0 < KC ? K - k0 : KC;
                pack_b(trans_b, B, ldb, k0, kc, j0, nc, bp);
                for (int64_t i0 = 0; i0 < M; i0 += MC) {
                    int64_t mc = M - i0 < MC ? M - i0 : MC;
                    pack_a(trans_a, A, lda, i0, mc, k0, kc, ap);
                    for (int64_t js = 0; js < nc; js += NR)
                        for (int64_t is = 0; is < mc; is += MR)
                            kernel_6x16(kc, ap + (is / MR) * kc * MR, bp + (js / NR) * kc * NR,
                                        C + (i0 + is) * ldc + j0 + js, ldc, mc - is < MR ? mc - is : MR,
                                        nc - js < NR ? nc - js : NR);
                }
            }
        }
    }
    cg__scratch_end();
}
