/* cgrad — random sampling: randint, randperm, bernoulli and multinomial, each
 * drawing from the generator exactly as PyTorch 1.13's CPU kernels draw, so the
 * same seed gives the same samples. Results hold whole numbers as floats
 * (indices, counts, 0/1), as cgrad's other index tensors do. Not differentiable. */
#include "tensor_internal.h"
#include <string.h>

/* 24 random bits, as PyTorch's uniform_real_distribution<float>(0, 1). */
static float uniform_float(void) { return (float)((double)(cg_random_u32() & 0xFFFFFFu) * (1.0 / (double)(1u << 24))); }

cg_tensor *cg_randint(int64_t low, int64_t high, int ndim, const int64_t *shape)
{
    if (!(low < high) || high - low > (INT64_C(1) << 53)) {
        cg__error("cg_randint: needs low < high (got %lld and %lld), at most 2^53 apart", (long long)low,
                  (long long)high);
        return NULL;
    }
    cg_tensor *t = cg__new(ndim, shape, "cg_randint");
    if (!t)
        return NULL;
    uint64_t range = (uint64_t)(high - low);
    /* torch's random_from_to: one 32-bit draw per value below 2^32, else a 64-bit one */
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = (float)(low + (int64_t)((range >= (UINT64_C(1) << 32) ? cg__random_u64() : cg_random_u32()) % range));
    return t;
}

cg_tensor *cg_randperm(int64_t n)
{
    if (n < 0 || n > (INT64_C(1) << 24)) { /* floats hold whole numbers exactly to 2^24 */
        cg__error("cg_randperm: n must be in [0, 2^24], got %lld", (long long)n);
        return NULL;
    }
    cg_tensor *t = cg__new(1, &n, "cg_randperm");
    if (!t)
        return NULL;
    for (int64_t i = 0; i < n; i++)
        t->data[i] = (float)i;
    /* torch's randperm_cpu: swap each place with a random later one */
    for (int64_t i = 0; i + 1 < n; i++) {
        int64_t z = (int64_t)(cg_random_u32() % (uint64_t)(n - i));
        float keep = t->data[i];
        t->data[i] = t->data[z + i];
        t->data[z + i] = keep;
    }
    return t;
}

cg_tensor *cg_bernoulli(cg_tensor *p)
{
    if (!cg__check(p, "cg_bernoulli"))
        return NULL;
    for (int64_t i = 0; i < p->numel; i++)
        if (!(p->data[i] >= 0 && p->data[i] <= 1)) {
            cg__error("cg_bernoulli: probability %g at element %lld is not in [0, 1]", (double)p->data[i],
                      (long long)i);
            return NULL;
        }
    cg_tensor *t = cg__new(p->ndim, p->shape, "cg_bernoulli");
    for (int64_t i = 0; t && i < p->numel; i++)
        t->data[i] = uniform_float() < p->data[i] ? 1.0f : 0.0f;
    return t;
}

/* ---- multinomial ------------------------------------------------------------------- */

/* The rows of probs: non-negative, finite, not all zero. */
static bool rows_ok(const cg_tensor *probs, int64_t rows, int64_t C, int64_t n, bool replacement)
{
    if (probs->ndim < 1 || probs->ndim > 2 || C == 0) {
        char s[CG_SHAPE_BUF];
        cg__error("cg_multinomial: probabilities must be 1-D or 2-D with at least one category, got %s",
                  cg__shape_fmt(s, probs->ndim, probs->shape));
        return false;
    }
    if (n <= 0 || (!replacement && n > C)) {
        cg__error("cg_multinomial: cannot draw %lld samples from %lld categories %s replacement", (long long)n,
                  (long long)C, replacement ? "with" : "without");
        return false;
    }
    for (int64_t r = 0; r < rows; r++) {
        double sum = 0;
        int64_t nonzero = 0;
        for (int64_t c = 0; c < C; c++) {
            float v = probs->data[r * C + c];
            if (!(v >= 0) || !isfinite(v)) {
                cg__error("cg_multinomial: probabilities must be finite and >= 0 (row %lld has %g)", (long long)r,
                          (double)v);
                return false;
            }
            sum += v;
            nonzero += v > 0;
        }
        if (sum <= 0 || (!replacement && nonzero < n)) {
            cg__error("cg_multinomial: row %lld has %s", (long long)r,
                      sum <= 0 ? "no probability at all" : "fewer non-zero probabilities than samples");
            return false;
        }
    }
    return true;
}

/* Without replacement: torch's exponential trick, the
 * n largest p / q with q ~ Exp(1), drawn as -log(1 - u) in double. */
static void draw_without_replacement(const float *p, int64_t C, int64_t n, float *key, float *out)
{
    for (int64_t c = 0; c < C; c++)
        key[c] = p[c] / (float)(-1.0 * log(1.0 - cg__uniform_double()));
    for (int64_t k = 0; k < n; k++) { /* the k-th largest, the first of equals */
        int64_t best = -1;
        for (int64_t c = 0; c < C; c++)
            if (key[c] >= 0 && (best < 0 || key[c] > key[best]))
                best = c;
        out[k] = (float)best;
        key[best] = -1;
    }
}

/* With replacement: torch's cumulative distribution (in float, normalised) and
 * a binary search for each uniform double. */
static void draw_with_replacement(const float *p, int64_t C, int64_t n, float *cum, float *out)
{
    float sum = 0;
    for (int64_t c = 0; c < C; c++) {
        sum += p[c];
        cum[c] = sum;
    }
    for (int64_t c = 0; c < C; c++)
        cum[c] /= sum;
    for (int64_t k = 0; k < n; k++) {
        double u = cg__uniform_double();
        int64_t lo = 0, hi = C;
        while (hi - lo > 0) {
            int64_t mid = lo + (hi - lo) / 2;
            if ((double)cum[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        out[k] = (float)(lo < C ? lo : C - 1);
    }
}

cg_tensor *cg_multinomial(cg_tensor *probs, int64_t n, bool replacement)
{
    if (!cg__check(probs, "cg_multinomial"))
        return NULL;
    int64_t C = probs->ndim ? probs->shape[probs->ndim - 1] : 0, rows = probs->ndim == 2 ? probs->shape[0] : 1;
    if (!rows_ok(probs, rows, C, n, replacement))
        return NULL;
    int64_t shape[2] = {rows, n};
    cg_tensor *out = probs->ndim == 2 ? cg__new(2, shape, "cg_multinomial") : cg__new(1, &n, "cg_multinomial");
    if (!out)
        return NULL;
    cg__scratch_begin();
    float *work = cg__scratch((size_t)C * sizeof(float));
    for (int64_t r = 0; work && r < rows; r++) {
        if (!replacement)
            draw_without_replacement(probs->data + r * C, C, n, work, out->data + r * n);
        else
            draw_with_replacement(probs->data + r * C, C, n, work, out->data + r * n);
    }
    cg__scratch_end();
    if (!work) {
        cg_tensor_free(out);
        return NULL;
    }
    return out;
}
