/* cgrad — the WebAssembly SIMD GEMM kernels (SIMD128: four floats a register, no FMA):
 * a register-tiled micro-kernel, a 3x4 dot-product kernel and a 4x4 in-register
 * transpose, for gemm_blocked.c's blocking. Built where the compiler targets SIMD128
 * (emcc -msimd128, as tools/wasm-cross.ini does); the engines run it on the host's
 * SSE/AVX registers, 16 of them on x86-64, which sets the tile: 4 rows x 8 columns
 * is 8 accumulators, two B vectors and a broadcast A, with room for the products. */
#include "gemm_blocked.h"

#ifdef __wasm_simd128__
#include <wasm_simd128.h>

#define INLINE static inline __attribute__((always_inline))

INLINE void transpose_4x4(const float *src, int64_t ld, float *dst, int64_t ldd)
{
    v128_t r0 = wasm_v128_load(src), r1 = wasm_v128_load(src + ld);
    v128_t r2 = wasm_v128_load(src + 2 * ld), r3 = wasm_v128_load(src + 3 * ld);
    v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);
    v128_t t2 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
    wasm_v128_store(dst, wasm_i64x2_shuffle(t0, t2, 0, 2));
    wasm_v128_store(dst + ldd, wasm_i64x2_shuffle(t0, t2, 1, 3));
    wasm_v128_store(dst + 2 * ldd, wasm_i64x2_shuffle(t1, t3, 0, 2));
    wasm_v128_store(dst + 3 * ldd, wasm_i64x2_shuffle(t1, t3, 1, 3));
}

static void pack_transposed(const float *src, int64_t ld, int64_t rows, int64_t kc, float *dst, int64_t W)
{
    CG__PACK_TRANSPOSED_BY(transpose_4x4, 4, src, ld, rows, kc, dst, W);
}

/* C (mr x nr) += or = a (MR x kc: element (r, k) at a[r * sa + k * ka]) · b (kc rows of 4 NV floats, ldb apart);
 * with constant MR and NV the compiler keeps the accumulators in registers. */
INLINE void tile(int MR, int NV, int64_t kc, const float *a, int64_t sa, int64_t ka, const float *b, int64_t ldb,
                 float *C, int64_t ldc, int64_t mr, int64_t nr, bool add)
{
    v128_t acc[8][4];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++)
            acc[r][v] = wasm_f32x4_splat(0.0f);
    for (int64_t k = 0; k < kc; k++) {
        v128_t bv[4];
        for (int v = 0; v < NV; v++)
            bv[v] = wasm_v128_load(b + k * ldb + 4 * v);
        for (int r = 0; r < MR; r++) {
            v128_t ar = wasm_v128_load32_splat(a + r * sa + k * ka);
            for (int v = 0; v < NV; v++)
                acc[r][v] = wasm_f32x4_add(acc[r][v], wasm_f32x4_mul(ar, bv[v]));
        }
    }
    if (mr == MR && nr == 4 * NV) {
        for (int r = 0; r < MR; r++)
            for (int v = 0; v < NV; v++) {
                float *c = C + r * ldc + 4 * v;
                wasm_v128_store(c, add ? wasm_f32x4_add(wasm_v128_load(c), acc[r][v]) : acc[r][v]);
            }
        return;
    }
    float tmp[16];
    for (int64_t r = 0; r < mr; r++) {
        for (int v = 0; v < NV; v++)
            wasm_v128_store(tmp + 4 * v, acc[r][v]);
        for (int64_t c = 0; c < nr; c++)
            C[r * ldc + c] = add ? C[r * ldc + c] + tmp[c] : tmp[c];
    }
}

static void kernel_4x8(int64_t kc, const float *a, int64_t sa, int64_t ka, const float *b, int64_t ldb, float *C,
                       int64_t ldc, int64_t mr, int64_t nr, bool add)
{
    if (sa == 1 && ka == 4) /* packed, or along rows: constant strides the compiler folds */
        tile(4, 2, kc, a, 1, 4, b, ldb, C, ldc, mr, nr, add);
    else if (sa == 1)
        tile(4, 2, kc, a, 1, ka, b, ldb, C, ldc, mr, nr, add);
    else
        tile(4, 2, kc, a, sa, 1, b, ldb, C, ldc, mr, nr, add);
}

/* [sum a, sum b, sum c, sum d] */
INLINE v128_t hsum4(v128_t a, v128_t b, v128_t c, v128_t d)
{
    v128_t ab = wasm_f32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
    v128_t cd = wasm_f32x4_add(wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), wasm_i32x4_shuffle(c, d, 2, 6, 3, 7));
    return wasm_f32x4_add(wasm_i64x2_shuffle(ab, cd, 0, 2), wasm_i64x2_shuffle(ab, cd, 1, 3));
}

/* out[r][c] = a[r] · b[c]: 12 accumulators of 4 partial sums, the last K % 4 terms added
 * one by one after the lanes are summed */
static void dot_3x4(int64_t K, const float *const a[3], const float *const b[4], float out[3][4])
{
    v128_t acc[3][4];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++)
            acc[r][c] = wasm_f32x4_splat(0.0f);
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) {
        v128_t a0 = wasm_v128_load(a[0] + k), a1 = wasm_v128_load(a[1] + k), a2 = wasm_v128_load(a[2] + k);
        for (int c = 0; c < 4; c++) {
            v128_t bc = wasm_v128_load(b[c] + k);
            acc[0][c] = wasm_f32x4_add(acc[0][c], wasm_f32x4_mul(a0, bc));
            acc[1][c] = wasm_f32x4_add(acc[1][c], wasm_f32x4_mul(a1, bc));
            acc[2][c] = wasm_f32x4_add(acc[2][c], wasm_f32x4_mul(a2, bc));
        }
    }
    for (int r = 0; r < 3; r++) {
        wasm_v128_store(out[r], hsum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
        for (int c = 0; c < 4; c++)
            for (int64_t t = k; t < K; t++)
                out[r][c] += a[r][t] * b[c][t];
    }
}

/* Tiny products (cg__tiny_kernel): up to four rows of C at once, four columns a register
 * (a transposed B's four values gathered per k); C's last N % 4 columns element by
 * element, in the same order. */
INLINE void tiny_rows(bool ta, bool tb, int rows, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                      float *C, int64_t ldc, bool overwrite)
{
    v128_t s[4];
    for (int r = 0; r < rows; r++)
        s[r] = overwrite ? wasm_f32x4_splat(0.0f) : wasm_v128_load(C + r * ldc);
    int64_t step_i = ta ? 1 : lda, step_k = ta ? lda : 1;
    for (int64_t k = 0; k < K; k++) {
        v128_t b = tb ? wasm_f32x4_make(B[k], B[ldb + k], B[2 * ldb + k], B[3 * ldb + k]) : wasm_v128_load(B + k * ldb);
        for (int r = 0; r < rows; r++) /* separate multiply and add, as the portable loops */
            s[r] = wasm_f32x4_add(s[r], wasm_f32x4_mul(wasm_v128_load32_splat(A + r * step_i + k * step_k), b));
    }
    for (int r = 0; r < rows; r++)
        wasm_v128_store(C + r * ldc, s[r]);
}

static void tiny(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                 int64_t ldb, float *C, int64_t ldc, bool overwrite)
{
    int64_t N4 = N / 4 * 4, step_i = ta ? 1 : lda, step_k = ta ? lda : 1;
    for (int64_t j0 = 0; j0 < N4; j0 += 4) {
        const float *b = tb ? B + j0 * ldb : B + j0;
        for (int64_t i = 0; i < M; i += 4) {
            const float *a = A + i * step_i;
            float *c = C + i * ldc + j0;
            switch (M - i < 4 ? M - i : 4) { /* each count its own unrolled loop */
            case 1: tiny_rows(ta, tb, 1, K, a, lda, b, ldb, c, ldc, overwrite); break;
            case 2: tiny_rows(ta, tb, 2, K, a, lda, b, ldb, c, ldc, overwrite); break;
            case 3: tiny_rows(ta, tb, 3, K, a, lda, b, ldb, c, ldc, overwrite); break;
            default: tiny_rows(ta, tb, 4, K, a, lda, b, ldb, c, ldc, overwrite); break;
            }
        }
    }
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = N4; j < N; j++) {
            float s = overwrite ? 0.0f : C[i * ldc + j];
            for (int64_t k = 0; k < K; k++)
                s += A[i * step_i + k * step_k] * (tb ? B[j * ldb + k] : B[k * ldb + j]);
            C[i * ldc + j] = s;
        }
}

const cg__gemm_isa cg__gemm_simd128 = {"simd128", 4, 8, kernel_4x8, pack_transposed, dot_3x4, 65, tiny};
#endif
