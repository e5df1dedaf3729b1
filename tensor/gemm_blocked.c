/* cgrad — the blocked GEMM around a register-tiled micro-kernel, and the dot-product
 * GEMM for A · Bᵀ with few rows; each instruction set brings its kernels
 * (cg__gemm_isa: gemm_avx2.c, gemm_simd128.c).
 *
 * C (M x N) += op(A) (M x K) · op(B) (K x N), row-major. op(B) is packed into strips
 * of NR columns and op(A) into strips of MR rows, k-major, so the kernel streams
 * both from contiguous memory whichever operand is transposed: the transposed
 * variants cost only a different packing loop. Packing moves values only: every
 * path through here gives the same bits for one kernel. */
#include "gemm_blocked.h"
#include <stdint.h>
#include <string.h>

#define KC 256
#define MC 120 /* a multiple of every kernel's row tile (6, 8, 4): the packed A block stays in L2 */
#define NC 2048

/* kc rows of W floats (ld apart) one after the other, for the strip widths the kernels
 * have: a copy of a constant size the compiler makes a few vector moves (a call to
 * memcpy for each 32 bytes cost 10% of a transposed-A product with K = 32). false: not
 * one of those widths. */
#define COPY_ROWS(WIDTH)                                                                   \
    for (int64_t k = 0; k < kc; k++)                                                       \
        memcpy(dst + k * (WIDTH), src + k * ld, (WIDTH) * sizeof(float));                  \
    return true
static bool copy_rows(int64_t W, const float *src, int64_t ld, int64_t kc, float *dst)
{
    switch (W) {
    case 4: COPY_ROWS(4);
    case 6: COPY_ROWS(6);
    case 8: COPY_ROWS(8);
    case 16: COPY_ROWS(16);
    case 32: COPY_ROWS(32);
    default: return false;
    }
}
#undef COPY_ROWS

/* Whole strips of W (6 or 8: op(A)'s row tiles), KGROUP rows of k at a time for all of
 * them: those rows' pieces stay in L1 while every strip takes its part. Strip by strip,
 * each strip walked all kc rows a few KB apart (a weight gradient's transposed A: g's
 * rows), which fall into one or two L1 sets, so the next strip found none of them there:
 * 512x128x768 with A transposed spent 27% of its time packing (13% now; 690 -> 620 us). */
#define KGROUP 8
#define COPY_STRIPS(WIDTH)                                                                         \
    for (int64_t k0 = 0; k0 < kc; k0 += KGROUP) {                                                  \
        int64_t k1 = kc - k0 < KGROUP ? kc : k0 + KGROUP;                                          \
        for (int64_t s = 0; s < strips; s++)                                                       \
            for (int64_t k = k0; k < k1; k++)                                                      \
                memcpy(dst + s * kc * (WIDTH) + k * (WIDTH), src + k * ld + s * (WIDTH), (WIDTH) * sizeof(float)); \
    }                                                                                              \
    return true
static bool copy_strips(int64_t W, const float *src, int64_t ld, int64_t kc, int64_t strips, float *dst)
{
    switch (W) {
    case 6: COPY_STRIPS(6);
    case 8: COPY_STRIPS(8);
    case 16: COPY_STRIPS(16);
    case 32: COPY_STRIPS(32);
    default: return false;
    }
}
#undef COPY_STRIPS

/* Columns [x0, x0+n) x rows [k0, k0+kc) of a K x X operand, into strips of W columns,
 * k-major (zero-padded): op(B) into strips of NR columns, op(A)ᵀ into strips of MR
 * rows. Stored transposed (X x K, its rows along k: a transposed B, an untransposed
 * A), its rows are read contiguously and transposed in registers; otherwise each k
 * gives a contiguous piece of each strip. */
static void pack_strips(const cg__gemm_isa *isa, bool transposed, const float *src, int64_t ld, int64_t k0, int64_t kc,
                        int64_t x0, int64_t n, float *dst, int64_t W)
{
    for (int64_t xs = 0; xs < n; xs += W) {
        int64_t w = n - xs < W ? n - xs : W;
        float *strip = dst + (xs / W) * kc * W;
        if (transposed) {
            isa->pack_transposed(src + (x0 + xs) * ld + k0, ld, w, kc, strip, W);
            continue;
        }
        const float *from = src + k0 * ld + x0 + xs;
        if (w == W && copy_strips(W, from, ld, kc, (n - xs) / W, strip)) { /* all the whole strips left */
            xs += ((n - xs) / W - 1) * W;
            continue;
        }
        if (w == W && copy_rows(W, from, ld, kc, strip))
            continue;
        for (int64_t k = 0; k < kc; k++) {
            memcpy(strip + k * W, from + k * ld, (size_t)w * sizeof(float));
            for (int64_t c = w; c < W; c++)
                strip[k * W + c] = 0;
        }
    }
}

/* pack_strips' packed form of a K x X operand whose rows k0.. lie apart (rows[k]: X floats):
 * columns [x0, x0 + n) of rows [k0, k0 + kc), KGROUP rows at a time for all the strips */
#define COPY_ROW_PIECES(WIDTH)                                                                  \
    for (int64_t k = g0; k < g1; k++)                                                           \
        memcpy(strip + k * (WIDTH), rows[k0 + k] + x0 + xs, (WIDTH) * sizeof(float));           \
    break
static void pack_rows(const float *const *rows, int64_t k0, int64_t kc, int64_t x0, int64_t n, float *dst, int64_t W)
{
    for (int64_t g0 = 0; g0 < kc; g0 += KGROUP) {
        int64_t g1 = kc - g0 < KGROUP ? kc : g0 + KGROUP;
        for (int64_t xs = 0; xs < n; xs += W) {
            int64_t w = n - xs < W ? n - xs : W;
            float *strip = dst + (xs / W) * kc * W;
            switch (w == W ? W : 0) { /* whole strips of the kernels' widths: copies of a constant size */
            case 4: COPY_ROW_PIECES(4);
            case 6: COPY_ROW_PIECES(6);
            case 8: COPY_ROW_PIECES(8);
            case 16: COPY_ROW_PIECES(16);
            case 32: COPY_ROW_PIECES(32);
            default:
                for (int64_t k = g0; k < g1; k++) {
                    memcpy(strip + k * W, rows[k0 + k] + x0 + xs, (size_t)w * sizeof(float));
                    for (int64_t c = w; c < W; c++)
                        strip[k * W + c] = 0;
                }
            }
        }
    }
}
#undef COPY_ROW_PIECES

/* The next block's operand, fetched into L2 a few lines before each tile while this
 * block is multiplied: rows_left rows of lines_a_row lines, ld_bytes apart. An operand
 * that comes from memory (a weight gradient's g and x, left by the forward long before)
 * otherwise stalls its packing and the kernel: 384x128x768 with A transposed ran 25%
 * slower on operands not in cache than on warm ones. A line fetched costs a few
 * instructions, and an operand's share of the multiply-adds goes as the other side's
 * width: A is fetched ahead only for 128 columns of C or more, B for 128 rows (an output
 * layer's 65 columns: 5% slower with A fetched). */
#define AHEAD_MIN 128
typedef struct {
    uintptr_t row; /* the row being fetched (an address: a line past the operand's end is fetched, never read) */
    int64_t ld_bytes, lines_a_row, rows_left, line; /* its next line */
} ahead;

static ahead ahead_of(const float *base, int64_t ld, int64_t rows, int64_t row_floats)
{
    int64_t lines_a_row = (row_floats * (int64_t)sizeof(float) + 63) / 64 + 1; /* (+1: a row that starts mid-line) */
    return (ahead){(uintptr_t)base, ld * (int64_t)sizeof(float), lines_a_row, rows, 0};
}

/* (lines: at most this many; how many the whole operand has, for a share of them a tile) */
static int64_t ahead_lines(const ahead *a) { return a->rows_left * a->lines_a_row; }

static void fetch_ahead(ahead *a, int64_t lines)
{
    for (; lines > 0 && a->rows_left > 0; lines--) {
        __builtin_prefetch((const void *)(a->row + (uintptr_t)a->line * 64), 0, 2);
        if (++a->line == a->lines_a_row)
            a->line = 0, a->row += (uintptr_t)a->ld_bytes, a->rows_left--;
    }
}

/* C's tile of mr x nr at c, fetched into L2: on the first k block the tile after the one
 * being multiplied, so its lines arrive while that one computes. A product's C is often fresh
 * memory no cache holds (a layer's output, written once an iteration): 768x512x128 stored
 * into a C out of cache ran at 124 GFLOP/s, 162 with this, and a baby GPT's iteration took
 * 38.3 ms against 40.2 (in cache C costs the fetches: 174 against 180; PREFETCHW, into L1,
 * did better alone, 182, and worse in the GPT, 39.3 ms). `BENCH_COLD_C=1 bench gemm` runs a
 * product into a C out of cache. Not below 64 of k: there a tile's few multiply-adds pay for
 * its fetches only when C is out of cache (512x512x32: 157 -> 131 GFLOP/s in cache, as the
 * benchmark table has it). */
static void fetch_c_tile(const float *c, int64_t ldc, int64_t mr, int64_t nr)
{
    for (int64_t r = 0; r < mr; r++) {
        uintptr_t line = (uintptr_t)(c + r * ldc) & ~(uintptr_t)63, end = (uintptr_t)(c + r * ldc + nr);
        for (; line < end; line += 64)
            __builtin_prefetch((const void *)line, 1, 2);
    }
}

/* op(A)'s block after rows [i0, i0 + MC) of k block k0 (this block's next rows, or the
 * next k block's first), where it lies; none after the last. */
static ahead next_a_block(bool trans_a, const float *A, int64_t lda, int64_t M, int64_t K, int64_t i0, int64_t k0)
{
    int64_t ni0 = i0 + MC < M ? i0 + MC : 0, nk0 = i0 + MC < M ? k0 : k0 + KC;
    if (nk0 >= K)
        return (ahead){0};
    int64_t mc = M - ni0 < MC ? M - ni0 : MC, kc = K - nk0 < KC ? K - nk0 : KC;
    return trans_a ? ahead_of(A + nk0 * lda + ni0, lda, kc, mc) : ahead_of(A + ni0 * lda + nk0, lda, mc, kc);
}

/* op(B)'s panel after k block k0, columns [j0, j0 + nc), where it lies; none after the last. */
static ahead next_b_panel(bool trans_b, const float *B, int64_t ldb, int64_t K, int64_t k0, int64_t j0, int64_t nc)
{
    int64_t nk0 = k0 + KC, kc = K - nk0 < KC ? K - nk0 : KC;
    if (nk0 >= K)
        return (ahead){0};
    return trans_b ? ahead_of(B + j0 * ldb + nk0, ldb, nc, kc) : ahead_of(B + nk0 * ldb + j0, ldb, kc, nc);
}

/* The part [*k_from, *k_to) of a k block [k0, k0 + kc) that a tile of C's rows [r0, r0 + mr) and
 * columns from c0 takes under tri (cg__gemm_tri): all of it, the part op(A)'s triangle leaves
 * nonzero, or none for a tile past C's diagonal. */
static void tile_k_range(cg__tri tri, int64_t r0, int64_t mr, int64_t c0, int64_t k0, int64_t kc, int64_t *k_from,
                         int64_t *k_to)
{
    int64_t from = 0, to = kc;
    if (tri == CG__TRI_A_LOWER) /* rows up to r0 + mr - 1 reach k <= that row */
        to = r0 + mr - k0;
    else if (tri == CG__TRI_A_UPPER) /* row r0 and after start at k = r0 */
        from = r0 - k0;
    else if (tri == CG__TRI_C_LOWER && c0 > r0 + mr - 1)
        to = 0;
    *k_from = from < 0 ? 0 : from > kc ? kc : from;
    *k_to = to < *k_from ? *k_from : to > kc ? kc : to;
}

/* cg__gemm_blocked, or with a_rows and b_rows (NULL or both) cg__gemm_blocked_rows, or with a
 * triangle (tri) cg__gemm_blocked_tri. With pre (op(B) packed once, cg__gemm_isa_pack_b), B's
 * strips are read from there instead of being packed again or read in place: the same values,
 * so the same bits. */
static int blocked(const cg__gemm_isa *isa, cg__tri tri, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                   const float *A, int64_t lda, const float *B, int64_t ldb, const float *const *a_rows,
                   const float *const *b_rows, float *C, int64_t ldc, const cg__prepacked *pre, bool overwrite)
{
    int64_t MR = isa->MR, NR = isa->NR;
    int64_t nc_max = N < NC ? N : NC, kc_max = K < KC ? K : KC, mc_max = M < MC ? M : MC;
    /* (B in place: NR columns at a time, only its last partial strip packed) */
    bool direct = !pre && !b_rows && cg__gemm_reads_b_in_place(trans_b, M, K);
    bool direct_a = !a_rows && cg__gemm_reads_a_in_place(trans_a, N, K);
    cg__scratch_begin();
    float *bp = pre ? NULL : cg__scratch((size_t)(((nc_max + NR - 1) / NR) * NR * kc_max) * sizeof(float));
    float *ap = cg__scratch((size_t)(((mc_max + MR - 1) / MR) * MR * kc_max) * sizeof(float));
    bool ok = (bp || pre) && ap;
    for (int64_t j0 = 0; ok && j0 < N; j0 += NC) {
        int64_t nc = N - j0 < NC ? N - j0 : NC, full = direct ? nc / NR * NR : 0;
        int64_t tiles = ((nc + NR - 1) / NR) * ((mc_max + MR - 1) / MR), blocks = (M + MC - 1) / MC;
        for (int64_t k0 = 0; k0 < K; k0 += KC) {
            int64_t kc = K - k0 < KC ? K - k0 : KC;
            if (full < nc && !pre && b_rows)
                pack_rows(b_rows, k0, kc, j0, nc, bp, NR);
            else if (full < nc && !pre) /* what is not read in place: all of a transposed B, or B's last strip */
                pack_strips(isa, trans_b, B, ldb, k0, kc, j0 + full, nc - full, bp, NR);
            /* the next panel of B, over all of this one's tiles (none to fetch for a packed B) */
            ahead next_b = pre || b_rows || M < AHEAD_MIN ? (ahead){0} : next_b_panel(trans_b, B, ldb, K, k0, j0, nc);
            int64_t b_lines = (ahead_lines(&next_b) + tiles * blocks - 1) / (tiles * blocks);
            for (int64_t i0 = 0; i0 < M; i0 += MC) {
                int64_t mc = M - i0 < MC ? M - i0 : MC, mfull = direct_a ? mc / MR * MR : 0;
                if (a_rows)
                    pack_rows(a_rows, k0, kc, i0, mc, ap, MR);
                else if (mfull < mc) /* what is not read in place: all of A, or its last partial strip of rows */
                    pack_strips(isa, !trans_a, A, lda, k0, kc, i0 + mfull, mc - mfull, ap, MR);
                ahead next_a = a_rows || N < AHEAD_MIN ? (ahead){0} : next_a_block(trans_a, A, lda, M, K, i0, k0); /* over this block's tiles */
                int64_t a_lines = (ahead_lines(&next_a) + tiles - 1) / tiles;
                for (int64_t js = 0; js < nc; js += NR) {
                    bool in_place = js < full;
                    const float *b = in_place ? B + k0 * ldb + j0 + js
                                     : pre ? pre->data + k0 * pre->npad + ((pre->col0 + j0 + js) / NR) * kc * NR
                                           : bp + ((js - full) / NR) * kc * NR;
                    int64_t bstride = in_place ? ldb : NR;
                    for (int64_t is = 0; is < mc; is += MR) {
                        const float *a = is >= mfull ? ap + ((is - mfull) / MR) * kc * MR
                                         : trans_a ? A + k0 * lda + i0 + is : A + (i0 + is) * lda + k0;
                        int64_t sa = is >= mfull || trans_a ? 1 : lda, ka = is >= mfull ? MR : trans_a ? lda : 1;
                        int64_t mr = mc - is < MR ? mc - is : MR, k_from = 0, k_to = kc;
                        bool add = !overwrite || k0 > 0;
                        if (tri != CG__TRI_NONE) {
                            tile_k_range(tri, i0 + is, mr, j0 + js, k0, kc, &k_from, &k_to);
                            if (k_to == k_from && add) /* nothing to add (a tile that stores stores its zeros) */
                                continue;
                        }
                        fetch_ahead(&next_a, a_lines);
                        fetch_ahead(&next_b, b_lines);
                        if (k0 == 0 && kc >= 64) { /* the next tile's C: this strip's next rows, or the next strip's first */
                            int64_t nis = is + MR < mc ? is + MR : 0, njs = is + MR < mc ? js : js + NR;
                            if (njs < nc)
                                fetch_c_tile(C + (i0 + nis) * ldc + j0 + njs, ldc, mc - nis < MR ? mc - nis : MR,
                                             nc - njs < NR ? nc - njs : NR);
                        }
                        isa->tile(k_to - k_from, a + k_from * ka, sa, ka, b + k_from * bstride,
                                  bstride, C + (i0 + is) * ldc + j0 + js, ldc, mr, nc - js < NR ? nc - js : NR, add);
                    }
                }
            }
        }
    }
    cg__scratch_end();
    return ok ? 0 : -1;
}

int cg__gemm_blocked(const cg__gemm_isa *isa, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc,
                     const cg__prepacked *pre, bool overwrite)
{
    return blocked(isa, CG__TRI_NONE, trans_a, trans_b, M, N, K, A, lda, B, ldb, NULL, NULL, C, ldc, pre, overwrite);
}

int cg__gemm_blocked_tri(const cg__gemm_isa *isa, cg__tri tri, bool trans_a, bool trans_b, int64_t M, int64_t N,
                         int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc,
                         bool overwrite)
{
    return blocked(isa, tri, trans_a, trans_b, M, N, K, A, lda, B, ldb, NULL, NULL, C, ldc, NULL, overwrite);
}

int cg__gemm_blocked_rows(const cg__gemm_isa *isa, int64_t M, int64_t N, int64_t K, const float *const *a_rows,
                          const float *const *b_rows, float *C, int64_t ldc, bool overwrite)
{
    return blocked(isa, CG__TRI_NONE, true, false, M, N, K, NULL, 0, NULL, 0, a_rows, b_rows, C, ldc, NULL, overwrite);
}

/* op(B) in the strips cg__gemm_blocked reads: every KC block of k after the other,
 * block k0 at k0 * npad, strip s of it at s * kc * NR. */
void cg__gemm_isa_pack_b(const cg__gemm_isa *isa, bool transposed, int64_t N, int64_t K, const float *B, int64_t ldb,
                         float *dst)
{
    int64_t npad = (N + isa->NR - 1) / isa->NR * isa->NR;
    for (int64_t k0 = 0; k0 < K; k0 += KC)
        pack_strips(isa, transposed, B, ldb, k0, K - k0 < KC ? K - k0 : KC, 0, N, dst + k0 * npad, isa->NR);
}

/* ---- C += A · Bᵀ for few rows of A: dot products, nothing packed -------------------
 * The recurrent step's x · W_hhᵀ has 32 or so rows: packing W each step would cost
 * as much as the product. Both operands are read along their rows (contiguous in
 * k), in 3x4 blocks of C; columns outer, so a block of B's rows stays in L1 while
 * all of A's rows pass. Whole rows of k at once up to 4096 (finer k blocks cost
 * more in reductions than they save at RNN sizes). */
void cg__gemm_dots(const cg__gemm_isa *isa, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                   const float *B, int64_t ldb, float *C, int64_t ldc)
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
                isa->dot(kb, a, b, out);
                for (int64_t r = 0; r < mr; r++)
                    for (int64_t c = 0; c < nr; c++)
                        C[(i + r) * ldc + j + c] += out[r][c];
            }
        }
    }
}
