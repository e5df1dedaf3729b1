/* cgrad — random sampling: randint, randperm, bernoulli and multinomial, each
 * drawing from the generator exactly as PyTorch 1.13's CPU kernels draw, so the
 * same seed gives the same samples. Results hold whole numbers as floats
 * (indices, counts, 0/1), as cgrad's other index tensors do. Not differentiable. */
#include "tensor_internal.h"
#include <stdlib.h>
#include <string.h>

/* 24 random bits, as PyTorch's uniform_real_distribution<float>(0, 1). */
static float uniform_float(cg_generator *g)
{
    return (float)((double)(cg__gen_u32(g) & 0xFFFFFFu) * (1.0 / (double)(1u << 24)));
}

/* The whole numbers float32 holds exactly, and so the values cgrad's index tensors can hold. */
#define EXACT_LIMIT (INT64_C(1) << 24)

cg_tensor *cg_randint_gen(int64_t low, int64_t high, int ndim, const int64_t *shape, cg_generator *gen)
{
    if (!(low < high)) {
        cg__error("cg_randint: needs low < high, got %lld and %lld", (long long)low, (long long)high);
        return NULL;
    }
    if (low < -EXACT_LIMIT || high - 1 > EXACT_LIMIT) { /* high > low here: high - 1 cannot overflow */
        cg__error("cg_randint: [%lld, %lld) reaches past +-2^24, the whole numbers float32 holds exactly "
                  "(cgrad's results are floats)", (long long)low, (long long)high);
        return NULL;
    }
    cg_tensor *t = cg__new(ndim, shape, "cg_randint");
    if (!t)
        return NULL;
    uint32_t range = (uint32_t)(high - low); /* at most 2^25 */
    cg_generator *g = cg__gen_acquire(gen);
    /* torch's random_from_to: one 32-bit draw per value for a range below 2^32 */
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = (float)(low + (int64_t)(cg__gen_u32(g) % range));
    cg__gen_release(g);
    return t;
}

cg_tensor *cg_randint(int64_t low, int64_t high, int ndim, const int64_t *shape)
{
    return cg_randint_gen(low, high, ndim, shape, NULL);
}

cg_tensor *cg_randperm_gen(int64_t n, cg_generator *gen)
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
    cg_generator *g = cg__gen_acquire(gen);
    for (int64_t i = 0; i + 1 < n; i++) {
        int64_t z = (int64_t)(cg__gen_u32(g) % (uint64_t)(n - i));
        float keep = t->data[i];
        t->data[i] = t->data[z + i];
        t->data[z + i] = keep;
    }
    cg__gen_release(g);
    return t;
}

cg_tensor *cg_randperm(int64_t n) { return cg_randperm_gen(n, NULL); }

cg_tensor *cg_bernoulli_gen(cg_tensor *p, cg_generator *gen)
{
    if (!cg__check(p, "cg_bernoulli") || !(p = cg__dense_plain(p, "cg_bernoulli")))
        return NULL;
    for (int64_t i = 0; i < p->numel; i++)
        if (!(p->data[i] >= 0 && p->data[i] <= 1)) {
            cg__error("cg_bernoulli: probability %g at element %lld is not in [0, 1]", (double)p->data[i],
                      (long long)i);
            return NULL;
        }
    cg_tensor *t = cg__new_as(p, "cg_bernoulli");
    if (!t)
        return NULL;
    cg_generator *g = cg__gen_acquire(gen);
    for (int64_t i = 0; i < p->numel; i++)
        t->data[i] = uniform_float(g) < p->data[i] ? 1.0f : 0.0f;
    cg__gen_release(g);
    return t;
}

cg_tensor *cg_bernoulli(cg_tensor *p) { return cg_bernoulli_gen(p, NULL); }

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

/* A category and its key, ordered largest key first, the lower index first among equals. */
typedef struct {
    float key;
    int64_t index;
} keyed;

static int larger_key_first(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key > y->key ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Without replacement: torch's exponential trick, the n largest p / q with
 * q ~ Exp(1) drawn as -log(1 - u) in double; a sort, so O(C log C). */
static void draw_without_replacement(cg_generator *g, const float *p, int64_t C, int64_t n, keyed *key, float *out)
{
    for (int64_t c = 0; c < C; c++) {
        float k = p[c] / (float)(-1.0 * log(1.0 - cg__gen_uniform_double(g)));
        key[c] = (keyed){isnan(k) ? -1.0f : k, c}; /* 0 / 0 (u = 0 on a zero weight): never first */
    }
    qsort(key, (size_t)C, sizeof *key, larger_key_first);
    for (int64_t k = 0; k < n; k++)
        out[k] = (float)key[k].index;
}

/* With replacement: torch's cumulative distribution (in float, normalised) and
 * a binary search for each uniform double. */
static void draw_with_replacement(cg_generator *g, const float *p, int64_t C, int64_t n, float *cum, float *out)
{
    float sum = 0;
    for (int64_t c = 0; c < C; c++) {
        sum += p[c];
        cum[c] = sum;
    }
    for (int64_t c = 0; c < C; c++)
        cum[c] /= sum;
    for (int64_t k = 0; k < n; k++) {
        double u = cg__gen_uniform_double(g);
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

cg_tensor *cg_multinomial_gen(cg_tensor *probs, int64_t n, bool replacement, cg_generator *gen)
{
    if (!cg__check(probs, "cg_multinomial") || !(probs = cg__dense_plain(probs, "cg_multinomial")))
        return NULL;
    int64_t C = probs->ndim ? probs->shape[probs->ndim - 1] : 0, rows = probs->ndim == 2 ? probs->shape[0] : 1;
    if (!rows_ok(probs, rows, C, n, replacement))
        return NULL;
    int64_t shape[2] = {rows, n};
    cg_tensor *out = probs->ndim == 2 ? cg__new(2, shape, "cg_multinomial") : cg__new(1, &n, "cg_multinomial");
    if (!out)
        return NULL;
    cg__scratch_begin();
    void *work = cg__scratch((size_t)C * (replacement ? sizeof(float) : sizeof(keyed)));
    cg_generator *g = work ? cg__gen_acquire(gen) : NULL;
    for (int64_t r = 0; work && r < rows; r++) {
        if (!replacement)
            draw_without_replacement(g, probs->data + r * C, C, n, work, out->data + r * n);
        else
            draw_with_replacement(g, probs->data + r * C, C, n, work, out->data + r * n);
    }
    if (g)
        cg__gen_release(g);
    cg__scratch_end();
    if (!work) {
        cg_tensor_free(out);
        return NULL;
    }
    return out;
}

cg_tensor *cg_multinomial(cg_tensor *probs, int64_t n, bool replacement)
{
    return cg_multinomial_gen(probs, n, replacement, NULL);
}
