/* cgrad — row loops that matter to a training step, compiled three times: for AVX-512,
 * for AVX2 and for the baseline, picked at run time: layer norm's (autograd/ops_norm.c),
 * gradient clipping's sums of squares (optim/clip.c) and attention's softmax rows
 * (autograd/ops_attention.c). Statistics and sums are doubles, as before: the baseline's
 * SSE2 took two doubles a step (layer norm: 4 ns an element forward and backward, a
 * tenth of a GPT's step; attention's rows a fifth of its time); AVX-512 takes eight. One
 * source for all three, every element's operations in the same order and the sums in the
 * same eight running parts (CG__SUM8), nothing contracted into an FMA: the same bits on
 * every path (the row_paths test). */
#include "kernels.h"
#include <math.h>

#ifdef __clang__
#pragma clang fp contract(off) /* (gcc contracts nothing in ISO C mode: -std=c11) */
#endif

/* Rows [r0, r1) of x (n long) normalised: each row's mean and 1/std into stats (mean,
 * rstd pairs), then (x - mean) * rstd, times w, plus b (either NULL: 1, 0). */
static inline __attribute__((always_inline)) void forward_rows(const float *x, int64_t n, double eps,
                                                                const float *w, const float *b, double *stats,
                                                                float *out, int64_t r0, int64_t r1)
{
    for (int64_t r = r0; r < r1; r++) {
        const float *restrict xr = x + r * n;
        float *restrict o = out + r * n;
        double mean = cg__row_sum(xr, n) / (double)n, var;
        CG__SUM8(var, n, k, (xr[k] - mean) * (xr[k] - mean));
        double rstd = 1.0 / sqrt(var / (double)n + eps);
        stats[2 * r] = mean, stats[2 * r + 1] = rstd;
        if (w && b)
            for (int64_t k = 0; k < n; k++)
                o[k] = (float)((xr[k] - mean) * rstd) * w[k] + b[k];
        else
            for (int64_t k = 0; k < n; k++)
                o[k] = (float)((xr[k] - mean) * rstd) * (w ? w[k] : 1.0f) + (b ? b[k] : 0.0f);
    }
}

/* Rows [r0, r1) of x's gradient added to gx: rstd (dy - mean(dy) - x̂ mean(dy x̂)), dy = g w
 * (the means divided once a row: a division an element was a third of the loop). */
static inline __attribute__((always_inline)) void dx_rows(const float *x, const float *g, const float *w, int64_t n,
                                                           const double *stats, float *gx, int64_t r0, int64_t r1)
{
    for (int64_t r = r0; r < r1; r++) {
        const float *restrict xr = x + r * n, *restrict gr = g + r * n;
        float *restrict gxr = gx + r * n;
        double mean = stats[2 * r], rstd = stats[2 * r + 1], sum_dy, sum_dy_xhat, mean_dy, mean_dy_xhat;
        if (w) {
            sum_dy = cg__row_dot(gr, w, n);
            CG__SUM8(sum_dy_xhat, n, k, (double)gr[k] * w[k] * ((xr[k] - mean) * rstd));
            mean_dy = sum_dy / (double)n, mean_dy_xhat = sum_dy_xhat / (double)n;
            for (int64_t k = 0; k < n; k++) {
                double xhat = (xr[k] - mean) * rstd, dy = (double)gr[k] * w[k];
                gxr[k] += (float)(rstd * (dy - mean_dy - xhat * mean_dy_xhat));
            }
        } else {
            sum_dy = cg__row_sum(gr, n);
            CG__SUM8(sum_dy_xhat, n, k, (double)gr[k] * ((xr[k] - mean) * rstd));
            mean_dy = sum_dy / (double)n, mean_dy_xhat = sum_dy_xhat / (double)n;
            for (int64_t k = 0; k < n; k++) {
                double xhat = (xr[k] - mean) * rstd, dy = (double)gr[k];
                gxr[k] += (float)(rstd * (dy - mean_dy - xhat * mean_dy_xhat));
            }
        }
    }
}

/* Columns [k0, k1) of the weight's and the bias's gradients (either NULL), rows summed in
 * order: gw += g x̂, gb += g. */
static inline __attribute__((always_inline)) void dwb_cols(const float *x, const float *g, int64_t n, int64_t rows,
                                                            const double *stats, float *gw, float *gb, int64_t k0,
                                                            int64_t k1)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict xr = x + r * n, *restrict gr = g + r * n;
        double mean = stats[2 * r], rstd = stats[2 * r + 1];
        if (gw)
            for (int64_t k = k0; k < k1; k++)
                gw[k] += (float)((double)gr[k] * ((xr[k] - mean) * rstd));
        if (gb)
            for (int64_t k = k0; k < k1; k++)
                gb[k] += gr[k];
    }
}

/* x's sum of squares in double: cg__row_dot's loop, inlined into each instruction set's copy */
static inline __attribute__((always_inline)) double squares(const float *x, int64_t n) { return cg__row_dot(x, x, n); }

/* Attention's rows before the exponential: scaled (and masked: the additive mask added),
 * then each shifted by its largest value. Causal, past the diagonal is 0, not -inf: the
 * caller takes the exponential of each row's open part alone (exp(-inf) = 0 either way). */
static bool has_nan(const float *x, int64_t n)
{
    for (int64_t j = 0; j < n; j++)
        if (x[j] != x[j])
            return true;
    return false;
}

static inline __attribute__((always_inline)) void logits_rows(float *P, int64_t L, int64_t S, const float *mask,
                                                               bool causal, float scale)
{
    for (int64_t i = 0; i < L; i++) {
        float *restrict row = P + i * S;
        int64_t open = cg__attention_open(i, S, causal); /* torch's is_causal: the upper triangle is masked */
        if (mask)
            for (int64_t j = 0; j < open; j++)
                row[j] = row[j] * scale + mask[i * S + j];
        else
            for (int64_t j = 0; j < open; j++)
                row[j] = row[j] * scale;
        for (int64_t j = open; j < S; j++)
            row[j] = causal ? 0.0f : -INFINITY;
        float top = cg__row_max(row, open);
        if (top == -INFINITY) /* a row masked whole gets no weight (exp(-inf) = 0), unless a NaN is in it */
            top = has_nan(row, open) ? NAN : 0.0f;
        for (int64_t j = 0; j < open; j++) /* (a NaN anywhere in the row makes its sum NaN, so all of it NaN, as torch) */
            row[j] -= top;
    }
}

/* How much of a row the sums below read: past the diagonal a causal row is zeros, which add
 * nothing, so the sum stops at the first whole eight after its open part (CG__SUM8's running
 * sums then hold what they held over all S: the same bits), or runs to S. */
static inline int64_t summed(int64_t i, int64_t S, bool causal)
{
    int64_t open = cg__attention_open(i, S, causal), span = (open + 7) / 8 * 8;
    return span > S / 8 * 8 ? S : span;
}

/* After the exponential: each row scaled by the inverse of its sum (in double). */
static inline __attribute__((always_inline)) void normalise_rows(float *P, int64_t L, int64_t S, bool causal)
{
    for (int64_t i = 0; i < L; i++) {
        float *restrict row = P + i * S;
        double sum = cg__row_sum(row, summed(i, S, causal));
        float inv = sum == 0 ? 0.0f : (float)(1.0 / sum); /* (a NaN stays NaN, as in torch: past the diagonal too) */
        for (int64_t j = 0; j < S; j++)
            row[j] *= inv;
    }
}

/* The softmax backward over the rows: dS = P (dP - rowsum(dP P)) scale, over dP. */
static inline __attribute__((always_inline)) void ds_rows(float *dp, const float *P, int64_t L, int64_t S, bool causal,
                                                           float scale)
{
    for (int64_t i = 0; i < L; i++) {
        float *restrict d = dp + i * S;
        const float *restrict p = P + i * S;
        double dot = cg__row_dot(d, p, summed(i, S, causal));
        for (int64_t c = 0; c < S; c++)
            d[c] = p[c] * (d[c] - (float)dot) * scale;
    }
}

#define FORWARD_ARGS const float *x, int64_t n, double eps, const float *w, const float *b, double *stats, float *out, int64_t r0, int64_t r1
#define DX_ARGS const float *x, const float *g, const float *w, int64_t n, const double *stats, float *gx, int64_t r0, int64_t r1
#define DWB_ARGS const float *x, const float *g, int64_t n, int64_t rows, const double *stats, float *gw, float *gb, int64_t k0, int64_t k1

/* The three loops compiled for one instruction set (TARGET: a function attribute, or nothing). */
#define NORM_ROWS_FOR(ISA, TARGET)                                                                          \
    TARGET static void forward_##ISA(FORWARD_ARGS) { forward_rows(x, n, eps, w, b, stats, out, r0, r1); } \
    TARGET static void dx_##ISA(DX_ARGS) { dx_rows(x, g, w, n, stats, gx, r0, r1); }                      \
    TARGET static void dwb_##ISA(DWB_ARGS) { dwb_cols(x, g, n, rows, stats, gw, gb, k0, k1); }                 \
    TARGET static double squares_##ISA(const float *x, int64_t n) { return squares(x, n); }                         \
    TARGET static void logits_##ISA(float *P, int64_t L, int64_t S, const float *mask, bool causal, float scale)      \
    {                                                                                                              \
        logits_rows(P, L, S, mask, causal, scale);                                                                \
    }                                                                                                              \
    TARGET static void normalise_##ISA(float *P, int64_t L, int64_t S, bool causal) { normalise_rows(P, L, S, causal); } \
    TARGET static void ds_##ISA(float *dp, const float *P, int64_t L, int64_t S, bool causal, float scale)            \
    {                                                                                                              \
        ds_rows(dp, P, L, S, causal, scale);                                                                      \
    }

NORM_ROWS_FOR(plain, )
#if defined(__x86_64__) || defined(__i386__)
NORM_ROWS_FOR(avx2, __attribute__((target("avx2"))))
#ifdef __clang__
NORM_ROWS_FOR(avx512, __attribute__((target("avx512f"))))
#else /* (whole zmm registers: gcc's tunings for AVX-512 chips would take half) */
NORM_ROWS_FOR(avx512, __attribute__((target("avx512f,prefer-vector-width=512"))))
#endif
#define PICK(NAME) (cg__cpu_has_avx512() ? NAME##_avx512 : cg__cpu_has_avx2() ? NAME##_avx2 : NAME##_plain)
#else
#define PICK(NAME) NAME##_plain
#endif

void cg__norm_forward_rows(FORWARD_ARGS) { PICK(forward)(x, n, eps, w, b, stats, out, r0, r1); }
void cg__norm_dx_rows(DX_ARGS) { PICK(dx)(x, g, w, n, stats, gx, r0, r1); }
void cg__norm_dwb_cols(DWB_ARGS) { PICK(dwb)(x, g, n, rows, stats, gw, gb, k0, k1); }
double cg__sum_squares(const float *x, int64_t n) { return PICK(squares)(x, n); }
void cg__attention_logits(float *P, int64_t L, int64_t S, const float *mask, bool causal, float scale)
{
    PICK(logits)(P, L, S, mask, causal, scale);
}
void cg__attention_normalise(float *P, int64_t L, int64_t S, bool causal) { PICK(normalise)(P, L, S, causal); }
void cg__attention_ds(float *dp, const float *P, int64_t L, int64_t S, bool causal, float scale)
{
    PICK(ds)(dp, P, L, S, causal, scale);
}
