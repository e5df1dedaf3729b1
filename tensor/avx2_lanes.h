/* cgrad — the first n of a ymm register's eight lanes: a mask for loads, and plain
 * stores for the tails of AVX2 loops (the GEMM's tiny products, the vector math).
 * Internal; x86 only. */
#ifndef CGRAD_AVX2_LANES_H
#define CGRAD_AVX2_LANES_H

#include <immintrin.h>
#include <stdint.h>

#define CG__AVX2_INLINE __attribute__((target("avx2"), always_inline)) static inline

/* Lanes 0 .. n-1 on (n in 0..8): for _mm256_maskload_ps, whose lanes past n read 0 and
 * touch no memory. */
CG__AVX2_INLINE __m256i cg__first_lanes(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The first n (1..8) lanes of v to c, with plain stores (8 in one, else 4, 2 and 1 at a
 * time): a masked store (vmaskmovps) costs many cycles on AMD's cores, and tiny products
 * and short rows are mostly their stores (hello's step 6%, the floor's 8% faster without). */
CG__AVX2_INLINE void cg__store_first(float *c, __m256 v, int64_t n)
{
    if (n == 8) {
        _mm256_storeu_ps(c, v);
        return;
    }
    __m128 part = _mm256_castps256_ps128(v);
    if (n >= 4) {
        _mm_storeu_ps(c, part);
        part = _mm256_extractf128_ps(v, 1);
        c += 4, n -= 4;
    }
    if (n >= 2) {
        _mm_storel_pi((__m64 *)c, part);
        part = _mm_movehl_ps(part, part);
        c += 2, n -= 2;
    }
    if (n)
        _mm_store_ss(c, part);
}

#endif
