/* cgrad — numeric kernels the autograd layer builds its ops from. Internal. */
#ifndef CGRAD_KERNELS_H
#define CGRAD_KERNELS_H

#include "tensor_internal.h"

/* ---- GEMM: C = op(A) op(B) + beta * C, row-major ---------------------------
 * op(A) is M x K: A itself (lda >= K) or, with trans_a, the transpose of a
 * K x M matrix (lda >= M); likewise op(B) is K x N. beta = 0 overwrites C
 * (NaNs in C do not survive), beta = 1 accumulates. Returns 0, or -1 (and an
 * error) when it could not run: no memory for its packing scratch; C is then
 * not a product and must not be used. */
int cg__gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
              const float *A, int64_t lda, const float *B, int64_t ldb,
              float beta, float *C, int64_t ldc);

/* cg__gemm for a product with a triangle known zero or not wanted, on the calling thread
 * (causal attention's six products, each skipping the work of the masked half):
 * CG__TRI_C_LOWER: only C[i][j] with j <= i is wanted (past it C gets the product or
 * nothing: 0 when beta is 0, else left as it was); CG__TRI_A_LOWER: op(A)[i][k] is 0 for
 * k > i; CG__TRI_A_UPPER: 0 for k < i. The products of the zeros are left out of the
 * sums: x + 0·b is x, so the bits of the whole product (but an inf or NaN in B times a
 * zero of A adds no NaN). */
typedef enum { CG__TRI_NONE, CG__TRI_C_LOWER, CG__TRI_A_LOWER, CG__TRI_A_UPPER } cg__tri;
int cg__gemm_tri(cg__tri tri, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                 const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* C (M x N) = beta C + Σ_k a_rows[k]ᵀ b_rows[k]: cg__gemm(true, false, M, N, K, ...) over K rows
 * of A (M floats each) and of B (N each) that lie apart (a recurrent weight's gradient over
 * the time steps' rows): on one thread packed from the rows where they lie, else gathered
 * first; the same bits either way. 0, or -1 with an error when out of memory. */
int cg__gemm_rows(int64_t M, int64_t N, int64_t K, const float *const *a_rows, const float *const *b_rows, float beta,
                  float *C, int64_t ldc);

/* A weight used by many products (a recurrent weight over T steps) packed once:
 * op(B) = Bᵀ for B (N x K) row-major with trans_b (x · Wᵀ reads a linear layer's weight
 * so), B (K x N) itself without (g · W, the gradient flowing back through it).
 * cg__gemm_b_packed_len says how many floats the packed form needs for products of M
 * rows (0 when such products would not read it: no SIMD kernels here, a tiny product,
 * or the dot-product kernel chosen); cg__gemm_pack_b fills it; cg__gemm_b_packed is
 * cg__gemm(false, trans_b, ...) reading op(B)'s packed form where it would pack B or
 * read it in place: the same bits (packing moves values only), without packing it again. */
int64_t cg__gemm_b_packed_len(bool trans_b, int64_t M, int64_t N, int64_t K);
void cg__gemm_pack_b(bool trans_b, int64_t N, int64_t K, const float *B, int64_t ldb, float *packed);
int cg__gemm_b_packed(bool trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                      int64_t ldb, const float *packed, float beta, float *C, int64_t ldc);
/* Rows a thread for cg__gemm(false, trans_b, M, N, K, ...) cut by rows of A and C over the
 * pool with work of its own around each part (a recurrent step's bias and activation):
 * each part then runs the kernel the whole would, so the same bits; 0 when it is not
 * worth cutting (one thread, a small product) or a part would take another kernel. */
int64_t cg__gemm_row_chunk(bool trans_b, int64_t M, int64_t N, int64_t K);
/* (how the kernels find a column range's strips in the packed form) */
typedef struct {
    const float *data;
    int64_t col0, npad; /* the first column of this product in the packed B; its padded width */
} cg__prepacked;

/* ---- vectorised elementwise functions (AVX2 where the CPU has it) ---------- */
bool cg__cpu_has_avx2(void);   /* AVX2 and FMA, unless CGRAD_NO_AVX2 is set */
bool cg__cpu_has_avx512(void); /* and AVX-512F, unless CGRAD_NO_AVX512 is set */
void cg__tanh_f32(int64_t n, const float *x, float *y);
void cg__exp_f32(int64_t n, const float *x, float *y);
void cg__sigmoid_f32(int64_t n, const float *x, float *y);
/* torch's gelu(approximate='tanh') and its gradient (g times the derivative, stored
 * into gx, or added to it) */
#define CG__GELU_TANH_BETA 0.7978845608028654f /* sqrt(2/pi) */
#define CG__GELU_KAPPA 0.044715f
void cg__gelu_tanh_f32(int64_t n, const float *x, float *y);
/* torch's gelu (exact, erf) and its gradient, the same way */
void cg__gelu_f32(int64_t n, const float *x, float *y);
void cg__gelu_grad_f32(int64_t n, const float *x, const float *g, float *gx, bool add);
void cg__gelu_tanh_grad_f32(int64_t n, const float *x, const float *g, float *gx, bool add);

/* ---- a row's largest value (NaNs passed over) and its sum in double: eight running
 * values, which the compiler keeps in vector registers (one chain of dependent adds or
 * compares was most of a softmax's time) ------------------------------------------ */
static inline float cg__row_max(const float *x, int64_t n)
{
    if (n < 8) { /* (a short row: the same values as below, without the lanes' fold) */
        float m = -INFINITY;
        for (int64_t j = 0; j < n; j++)
            m = x[j] > m ? x[j] : m;
        return m;
    }
    float m[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int c = 0; c < 8; c++)
            m[c] = x[j + c] > m[c] ? x[j + c] : m[c];
    for (; j < n; j++)
        m[0] = x[j] > m[0] ? x[j] : m[0];
    for (int c = 1; c < 8; c++)
        m[0] = m[c] > m[0] ? m[c] : m[0];
    return m[0];
}

/* s = the sum over k in [0, n) of term (a double expression in k), in eight running sums
 * (the remainder's terms in the first; a row under eight long, one sum): one chain of
 * dependent adds waits on each add, eight the compiler keeps in vector registers. */
#define CG__SUM8(s, n, k, term)                                                            \
    do {                                                                                   \
        int64_t n_ = (n), base_ = 0;                                                       \
        if (n_ < 8) { /* (the same sum in order, without the eight parts: a toy row) */     \
            double one_ = 0;                                                               \
            for (int64_t k = 0; k < n_; k++)                                               \
                one_ += (term);                                                            \
            (s) = one_;                                                                    \
            break;                                                                         \
        }                                                                                  \
        double part_[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                        \
        for (; base_ + 8 <= n_; base_ += 8)                                                \
            for (int c_ = 0; c_ < 8; c_++) {                                               \
                int64_t k = base_ + c_;                                                    \
                part_[c_] += (term);                                                       \
            }                                                                              \
        for (int64_t k = base_; k < n_; k++)                                               \
            part_[0] += (term);                                                            \
        (s) = n_ < 8 ? part_[0]                                                            \
                     : ((part_[0] + part_[1]) + (part_[2] + part_[3])) + ((part_[4] + part_[5]) + (part_[6] + part_[7])); \
    } while (0)

static inline double cg__row_sum(const float *x, int64_t n)
{
    double s;
    CG__SUM8(s, n, k, (double)x[k]);
    return s;
}

/* the sum of x[i] * y[i] in double, likewise */
static inline double cg__row_dot(const float *x, const float *y, int64_t n)
{
    double s;
    CG__SUM8(s, n, k, (double)x[k] * y[k]);
    return s;
}

/* ---- row loops (row_loops.c: AVX-512, AVX2 or the baseline, the same bits) ---- */
/* rows [r0, r1) of x (n long): stats[2r], stats[2r+1] = the row's mean and 1/sqrt(var + eps)
 * (doubles), out = (x - mean) * rstd * w + b (w, b may be NULL) */
void cg__norm_forward_rows(const float *x, int64_t n, double eps, const float *w, const float *b, double *stats,
                           float *out, int64_t r0, int64_t r1);
/* rows [r0, r1) of x's gradient added to gx, from g (the output's) and w (or NULL) */
void cg__norm_dx_rows(const float *x, const float *g, const float *w, int64_t n, const double *stats, float *gx,
                      int64_t r0, int64_t r1);
/* x's sum of squares in double: cg__row_dot(x, x, n)'s bits, eight doubles a step where the CPU has AVX-512 */
double cg__sum_squares(const float *x, int64_t n);
/* columns [k0, k1) of w's and b's gradients (either NULL) added to, over all rows in order */
void cg__norm_dwb_cols(const float *x, const float *g, int64_t n, int64_t rows, const double *stats, float *gw,
                       float *gb, int64_t k0, int64_t k1);
/* attention's L x S weights: before the exponential, each row scaled (+ mask, L x S or NULL)
 * and shifted by its largest value, past the diagonal 0 when causal (the exponential then
 * taken of each row's open part alone: cg__attention_open); after it, each row divided by
 * its sum; and the softmax backward dS = P (dP - rowsum(dP P)) scale over dp (causal: P's
 * past the diagonal is 0, and dp's finite) */
void cg__attention_logits(float *P, int64_t L, int64_t S, const float *mask, bool causal, float scale);
void cg__attention_normalise(float *P, int64_t L, int64_t S, bool causal);
void cg__attention_ds(float *dp, const float *P, int64_t L, int64_t S, bool causal, float scale);
/* row i's columns not masked by is_causal (torch's: j <= i), or all S */
static inline int64_t cg__attention_open(int64_t i, int64_t S, bool causal) { return causal && i + 1 < S ? i + 1 : S; }

/* ---- threads: tasks [0, n) spread over the pool (cg_set_num_threads) -------- */
void cg__parallel_for(int64_t ntasks, void (*fn)(void *ctx, int64_t task), void *ctx);
/* [0, n) in runs of `chunk` (the last one shorter) over the pool: fn(ctx, begin, end) for each. */
void cg__parallel_range(int64_t n, int64_t chunk, void (*fn)(void *ctx, int64_t begin, int64_t end), void *ctx);
/* true inside a task of a pool job (a worker's, or the caller's share): the pool is that
 * job's, so a parallel loop begun here runs its tasks alone on this thread */
bool cg__in_pool_task(void);
/* fn(ctx, 0) handed to a worker while the caller goes on: true when handed over (the
 * caller then calls cg__background_wait before it reads what fn writes, and before
 * anything else it hands the pool; meanwhile its own cg__parallel_for calls run alone
 * until fn is over, and on the pool after);
 * false when no worker is free (one thread, the pool busy), and nothing ran. */
bool cg__background_start(void (*fn)(void *ctx, int64_t task), void *ctx);
void cg__background_wait(void);

/* ---- broadcasting ------------------------------------------------------------
 * The shape two (or three) operands broadcast to, as torch does: align the
 * trailing dims; each pair must be equal or one of them 1. */
bool cg__broadcast_shape(int nops, const cg_tensor *const *ops, int *ndim, int64_t *shape, const char *op);

/* An iteration over an output shape with each operand's offset alongside;
 * dims that are contiguous for every operand are merged, so the common cases
 * (same shapes, a scalar, a row vector) run as one flat inner loop. */
#define CG__BCAST_MAX_OPS 3
typedef struct {
    int ndim, nops;
    int64_t shape[CG_MAX_DIMS];
    int64_t stride[CG__BCAST_MAX_OPS][CG_MAX_DIMS];
    int64_t numel;
} cg__bcast;

/* Whether every one of ops[0..nops) has exactly this shape (a loop the compiler
 * keeps inline: the common case of every broadcast asks it). */
static inline bool cg__same_shapes(int nops, const cg_tensor *const *ops, int ndim, const int64_t *shape)
{
    for (int k = 0; k < nops; k++) {
        if (ops[k]->ndim != ndim)
            return false;
        for (int d = 0; d < ndim; d++)
            if (ops[k]->shape[d] != shape[d])
                return false;
    }
    return true;
}

/* The walk of ops[0..nops) broadcast to (ndim, shape): each operand's strides,
 * with size-1 dims merged away. Nothing to walk when the shape has a 0. */
void cg__bcast_walk_init(cg__bcast *it, int ndim, const int64_t *shape, int nops, const cg_tensor *const *ops);
/* The same, with the usual case inline (every op with operands asks): the same shapes
 * everywhere, nothing empty — one flat run. */
static inline void cg__bcast_init(cg__bcast *it, int ndim, const int64_t *shape, int nops,
                                  const cg_tensor *const *ops)
{
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++)
        numel *= shape[d];
    if (numel == 0 || !cg__same_shapes(nops, ops, ndim, shape)) {
        cg__bcast_walk_init(it, ndim, shape, nops, ops);
        return;
    }
    it->nops = nops;
    it->numel = numel;
    it->ndim = 1;
    it->shape[0] = numel;
    for (int k = 0; k < CG__BCAST_MAX_OPS; k++)
        it->stride[k][0] = k < nops ? 1 : 0;
}

/* Runs BODY for every output index `i_`, with operand offsets `o0_`, `o1_`, `o2_`. */
#define CG__BCAST_FOR(it, ...)                                                          \
    do {                                                                                 \
        const cg__bcast *it_ = (it);                                                     \
        int nd_ = it_->ndim;                                                             \
        int64_t inner_ = nd_ ? it_->shape[nd_ - 1] : 1;                                  \
        int64_t s0_ = nd_ ? it_->stride[0][nd_ - 1] : 0;                                 \
        int64_t s1_ = nd_ ? it_->stride[1][nd_ - 1] : 0;                                 \
        int64_t s2_ = nd_ ? it_->stride[2][nd_ - 1] : 0;                                 \
        int64_t idx_[CG_MAX_DIMS] = {0}, b0_ = 0, b1_ = 0, b2_ = 0, i_ = 0;              \
        if (inner_ == 0)                                                                 \
            break;                                                                       \
        while (i_ < it_->numel) {                                                        \
            if (s0_ == 1 && s1_ == 1 && s2_ <= 1) {                                      \
                for (int64_t j_ = 0; j_ < inner_; j_++) {                                \
                    int64_t o0_ = b0_ + j_, o1_ = b1_ + j_, o2_ = b2_ + j_ * s2_;        \
                    (void)o0_, (void)o1_, (void)o2_;                                     \
                    { __VA_ARGS__ } i_++;                                                       \
                }                                                                        \
            } else {                                                                     \
                for (int64_t j_ = 0; j_ < inner_; j_++) {                                \
                    int64_t o0_ = b0_ + j_ * s0_, o1_ = b1_ + j_ * s1_, o2_ = b2_ + j_ * s2_; \
                    (void)o0_, (void)o1_, (void)o2_;                                     \
                    { __VA_ARGS__ } i_++;                                                       \
                }                                                                        \
            }                                                                            \
            for (int d_ = nd_ - 2; d_ >= 0; d_--) {                                      \
                b0_ += it_->stride[0][d_], b1_ += it_->stride[1][d_], b2_ += it_->stride[2][d_]; \
                if (++idx_[d_] < it_->shape[d_])                                         \
                    break;                                                               \
                b0_ -= it_->stride[0][d_] * it_->shape[d_];                              \
                b1_ -= it_->stride[1][d_] * it_->shape[d_];                              \
                b2_ -= it_->stride[2][d_] * it_->shape[d_];                              \
                idx_[d_] = 0;                                                            \
            }                                                                            \
        }                                                                                \
    } while (0)

/* ---- reductions along one dim, seen as (outer, n, inner) ------------------- */
typedef struct {
    int64_t outer, n, inner;
} cg__dim_split;
cg__dim_split cg__split_at(const cg_tensor *t, int dim);

#endif
