/* cgrad — the blocked GEMM's parts, shared by the instruction sets that have a
 * micro-kernel (gemm_avx2.c: AVX2 and AVX-512; gemm_simd128.c: WebAssembly SIMD).
 * Internal to the GEMM files. */
#ifndef CGRAD_GEMM_BLOCKED_H
#define CGRAD_GEMM_BLOCKED_H

#include "kernels.h"

/* C (mr x nr) += a · b, or = a · b when add is false (C's old values are not read):
 * a's element (row r, k) at a[r * sa + k * ka]: k-major (sa = 1; packed: ka = MR, a
 * transposed A read in place: ka = its ld, and then mr = MR), or rows along k (ka = 1:
 * an A read in place, sa = its ld, and then mr = MR); b kc rows of NR floats ldb apart (a packed
 * strip has ldb = NR; a row-major B is read in place with its own ldb). */
typedef void (*cg__tile_kernel)(int64_t kc, const float *a, int64_t sa, int64_t ka, const float *b, int64_t ldb,
                                float *C, int64_t ldc, int64_t mr, int64_t nr, bool add);
/* rows [0, rows) of a row-major block (ld apart), k in [0, kc), as k-major rows of
 * width W (dst[k * W + r] = src[r * ld + k]); rows from `rows` up to W are zero. */
typedef void (*cg__pack_transposed)(const float *src, int64_t ld, int64_t rows, int64_t kc, float *dst, int64_t W);
/* out[r][c] = a[r] · b[c] over K floats: three rows of A against four of B */
typedef void (*cg__dot_kernel)(int64_t K, const float *const a[3], const float *const b[4], float out[3][4]);

/* C (M x N) += op(A) op(B), or = when overwrite (C's old values not read), for tiny
 * products (under 4096 multiply-adds), nothing packed: each element's products added
 * to it one by one in k order (to +0 when overwriting), each rounded before its add
 * (no FMA) — the bits of the portable loops, which run where an instruction set has
 * none; a product accumulated in parts (a batch's weight gradient) gives the bits of
 * one longer sum. */
typedef void (*cg__tiny_kernel)(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float *A,
                                int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc, bool overwrite);

/* One instruction set's kernels. */
typedef struct {
    const char *name;
    int64_t MR, NR;                       /* the tile kernel's rows and columns */
    cg__tile_kernel tile;
    cg__pack_transposed pack_transposed;
    cg__dot_kernel dot;
    int64_t dot_rows; /* A · Bᵀ with fewer rows than this (and K >= 16) takes the dot kernel */
    cg__tiny_kernel tiny; /* or NULL: the portable loops */
} cg__gemm_isa;

/* A cg__pack_transposed in S x S blocks transposed in registers by TRANSPOSE
 * (src, ld, dst, ldd), the edges element by element. */
#define CG__PACK_TRANSPOSED_BY(TRANSPOSE, S, src, ld, rows, kc, dst, W)                   \
    do {                                                                                   \
        int64_t rs_ = (rows) / (S) * (S), ks_ = (kc) / (S) * (S);                          \
        for (int64_t r_ = 0; r_ < rs_; r_ += (S))                                          \
            for (int64_t k_ = 0; k_ < ks_; k_ += (S))                                      \
                TRANSPOSE((src) + r_ * (ld) + k_, (ld), (dst) + k_ * (W) + r_, (W));       \
        for (int64_t r_ = 0; r_ < (W); r_++)                                               \
            for (int64_t k_ = r_ < rs_ ? ks_ : 0; k_ < (kc); k_++)                         \
                (dst)[k_ * (W) + r_] = r_ < (rows) ? (src)[r_ * (ld) + k_] : 0;            \
    } while (0)

/* What cg__gemm_blocked reads where it lies rather than packing. A row-major B is read in
 * place when A has few rows (an RNN step: packing B would cost as much as the product)
 * or K is short; with many rows and a long K a strip read in place walks K rows ldb
 * apart, and strides of a few KB fall into the same few L1 sets, read again by every row
 * tile (on an Intel Xeon, 512³: 114 -> 141 GFLOP/s, 768x64x256: 89 -> 132; from 64 rows
 * with K from 128: an output layer's weight gradient 65x256x2048 117 -> 126, 96x512x512
 * 136 -> 152; with K = 64, 64x64x64 in place 175, packed 162). */
static inline bool cg__gemm_reads_b_in_place(bool trans_b, int64_t M, int64_t K)
{
    return !trans_b && !(M >= 128 && K >= 64) && !(M >= 64 && K >= 128);
}
/* With few columns (an output layer's 65, an embedding's 128), A is read where it lies,
 * whole strips of MR rows: the kernel broadcasts each value from memory either way, and
 * packing A cost up to a tenth of such a product (2048x65x512: 1313 -> 1195 us,
 * 768x128x384: 490 -> 465). An A along k is read a row each; a transposed one k-major as
 * the packed form is, a row of A per k, which pays with a short K (a weight gradient over
 * a batch) and not a long one (384x128x768: 523 -> 552 us). With more columns each packed
 * strip is read more often (512x512x32: 147 -> 166 us in place): those are packed. */
static inline bool cg__gemm_reads_a_in_place(bool trans_a, int64_t N, int64_t K) { return N <= 160 && (!trans_a || K <= 64); }

/* The instruction sets built in (NULL where this build has none of them). */
extern const cg__gemm_isa cg__gemm_avx2, cg__gemm_avx512, cg__gemm_simd128;

/* C += or = (overwrite) op(A) op(B) in KC x NC x MC blocks around isa's tile kernel;
 * pre: op(B) packed once (cg__gemm_isa_pack_b), or NULL. 0, or -1 when
 * the packing scratch could not be had. */
int cg__gemm_blocked(const cg__gemm_isa *isa, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc,
                     const cg__prepacked *pre, bool overwrite);
/* The same with a triangle of op(A) known zero or of C not wanted (cg__gemm_tri) */
int cg__gemm_blocked_tri(const cg__gemm_isa *isa, cg__tri tri, bool trans_a, bool trans_b, int64_t M, int64_t N,
                         int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc,
                         bool overwrite);
/* The same for C (M x N) += or = Σ_k a_rows[k]ᵀ b_rows[k] (gᵀ · x over rows that lie apart:
 * op(A) = Aᵀ and B of K rows each, M and N floats): both packed from the rows where they lie,
 * the values the gathered rows' product packs, so its bits. */
int cg__gemm_blocked_rows(const cg__gemm_isa *isa, int64_t M, int64_t N, int64_t K, const float *const *a_rows,
                          const float *const *b_rows, float *C, int64_t ldc, bool overwrite);
/* C += A · Bᵀ by isa's dot kernel, nothing packed */
void cg__gemm_dots(const cg__gemm_isa *isa, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                   const float *B, int64_t ldb, float *C, int64_t ldc);
/* op(B) (K x N: Bᵀ of B N x K when transposed, else B itself) in the strips
 * cg__gemm_blocked reads as pre */
void cg__gemm_isa_pack_b(const cg__gemm_isa *isa, bool transposed, int64_t N, int64_t K, const float *B, int64_t ldb,
                         float *dst);

#endif
