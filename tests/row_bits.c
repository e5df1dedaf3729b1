/* Prints a checksum of every bit of layer_norm's result and of its input's, weight's and
 * bias's gradients, for row lengths around the eight-wide sums and the vector widths
 * (tails included), with and without weight and bias, rows near constant and far from
 * zero; of gradient clipping's norm and scaled gradients (its sums of squares); and of
 * attention's softmax rows, causal, masked (-inf in places, a row masked whole) and
 * plain; and of Adam's five forms' updates: tests/meson.build runs it on the AVX-512,
 * AVX2 and portable paths, and all three must print the same (row_loops.c and
 * optimizer.c compile one source for each). */
#include <cgrad.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

double cg__sum_squares(const float *x, int64_t n); /* (internal: clipping's sums, in double) */

static uint64_t fold(uint64_t h, cg_tensor *t)
{
    const float *d = cg_data(t);
    for (int64_t i = 0; t && i < cg_numel(t); i++) {
        uint32_t bits;
        memcpy(&bits, &d[i], 4);
        h = (h ^ bits) * 1099511628211u; /* FNV-1a over the bits */
    }
    return h;
}

/* One layer norm of rows x n, forward and backward against a random weighting of its
 * result; affine: with weight and bias. */
static uint64_t one_norm(uint64_t h, int64_t rows, int64_t n, bool affine)
{
    cg_frame_begin();
    cg_tensor *x = cg_randn(CG_SHAPE(rows, n)), *r = cg_randn(CG_SHAPE(rows, n));
    float *xd = cg_data(x);
    for (int64_t i = 0; i < rows * n; i++) /* some rows shifted far from 0, one nearly constant */
        xd[i] = (i / n) % 3 == 1 ? 1000.0f + xd[i] : (i / n) % 3 == 2 ? 3.0f + 1e-4f * xd[i] : xd[i];
    cg_tensor *w = affine ? cg_randn(CG_SHAPE(n)) : NULL, *b = affine ? cg_randn(CG_SHAPE(n)) : NULL;
    cg_set_requires_grad(x, true);
    if (affine)
        cg_set_requires_grad(w, true), cg_set_requires_grad(b, true);
    cg_tensor *y = cg_layer_norm(x, 1, w, b, 1e-5f);
    if (!y || cg_backward(cg_sum(cg_mul(y, r))) != 0) {
        fprintf(stderr, "row_bits: %s\n", cg_last_error());
        cg_frame_end();
        return 0;
    }
    h = fold(fold(h, y), cg_grad(x));
    if (affine)
        h = fold(fold(h, cg_grad(w)), cg_grad(b));
    cg_frame_end();
    return h;
}

void cg__attention_logits(float *P, int64_t L, int64_t S, const float *mask, bool causal, float scale); /* (internal) */
void cg__attention_normalise(float *P, int64_t L, int64_t S, bool causal);
void cg__attention_ds(float *dp, const float *P, int64_t L, int64_t S, bool causal, float scale);

static uint64_t fold_floats(uint64_t h, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], 4);
        h = (h ^ bits) * 1099511628211u;
    }
    return h;
}

/* Attention's softmax rows (L x S weights): before the exponential (causal, with a mask
 * holding -inf in places and a row masked whole, plain), after it (the test's own expf, the
 * same on every path), and the backward's dS; S around the vector widths. */
static uint64_t attention_rows(uint64_t h, int64_t L, int64_t S, int variant)
{
    cg_frame_begin();
    cg_tensor *pt = cg_randn(CG_SHAPE(L, S)), *mt = cg_randn(CG_SHAPE(L, S)), *dt = cg_randn(CG_SHAPE(L, S));
    float *P = cg_data(pt), *mask = cg_data(mt), *dp = cg_data(dt);
    for (int64_t i = 0; i < L * S; i += 5)
        mask[i] = -INFINITY;
    for (int64_t j = 0; j < S && L > 1; j++)
        mask[S + j] = -INFINITY;
    cg__attention_logits(P, L, S, variant == 1 ? mask : NULL, variant == 0, 0.35f);
    h = fold_floats(h, P, L * S);
    for (int64_t i = 0; i < L * S; i++) /* (causal: past the diagonal stays the zeros the logits left) */
        P[i] = variant == 0 && i % S > i / S ? P[i] : expf(P[i]);
    cg__attention_normalise(P, L, S, variant == 0);
    h = fold_floats(h, P, L * S);
    cg__attention_ds(dp, P, L, S, variant == 0, 0.35f);
    h = fold_floats(h, dp, L * S);
    cg_frame_end();
    return h;
}

/* A causal row's sums stop past its open part, at a whole eight (or S): the bits of the
 * sums over all S with the zeros (a span that leaves out a term of the open part, or
 * groups the running sums otherwise, fails), on rows of every open length. */
static bool causal_sums_are_the_whole_rows(void)
{
    enum { L = 24, S = 20 };
    float P[2][L * S], dp[2][L * S];
    uint32_t x = 12345;
    for (int64_t i = 0; i < L; i++)
        for (int64_t j = 0; j < S; j++) {
            x = x * 1664525u + 1013904223u;
            float v = (float)(x >> 8) * 0x1p-24f; /* [0, 1): weights after the exponential */
            P[0][i * S + j] = P[1][i * S + j] = j <= i ? v : 0.0f;
            dp[0][i * S + j] = dp[1][i * S + j] = j <= i ? v - 0.5f : 0.0f;
        }
    for (int way = 0; way < 2; way++) {
        cg__attention_normalise(P[way], L, S, way == 0);
        cg__attention_ds(dp[way], P[way], L, S, way == 0, 1.0f);
    }
    if (memcmp(P[0], P[1], sizeof P[0]) || memcmp(dp[0], dp[1], sizeof dp[0])) {
        fprintf(stderr, "row_bits: a causal row's sums differ from the whole row's\n");
        return false;
    }
    return true;
}

/* Three steps of each Adam form (plain, weight decay, AdamW, amsgrad, maximize) on
 * parameters of lengths around the vector widths: the parameters' and the moments' bits
 * (optimizer.c compiles the update for AVX2 and the baseline). */
static uint64_t adam_forms(uint64_t h)
{
    const int64_t sizes[] = {1, 3, 7, 8, 9, 17, 40, 65};
    enum { N = sizeof sizes / sizeof *sizes };
    for (int form = 0; form < 5; form++) {
        cg_tensor *ps[N];
        for (int i = 0; i < N; i++) {
            ps[i] = cg_randn(CG_SHAPE(sizes[i]));
            cg_set_requires_grad(ps[i], true);
        }
        cg_optim *o = form == 2   ? cg_adamw_new(ps, N, .lr = 1e-2)
                      : form == 1 ? cg_adam_new(ps, N, .lr = 1e-2, .weight_decay = 0.1)
                      : form == 3 ? cg_adam_new(ps, N, .lr = 1e-2, .amsgrad = true)
                      : form == 4 ? cg_adam_new(ps, N, .lr = 1e-2, .maximize = true)
                                  : cg_adam_new(ps, N, .lr = 1e-2);
        for (int step = 0; step < 3; step++) {
            cg_optim_zero_grad(o);
            cg_frame_begin();
            for (int i = 0; i < N; i++) /* a gradient of each sign and size: d/dp of sum(p^3 - p) */
                cg_backward(cg_sum(cg_sub(cg_pow_scalar(ps[i], 3), ps[i])));
            cg_frame_end();
            cg_optim_step(o);
        }
        for (int i = 0; i < N; i++)
            h = fold(h, ps[i]);
        for (int k = 0; k < cg_optim_state_count(o); k++)
            h = fold(h, cg_optim_state_at(o, k));
        cg_optim_free(o);
        for (int i = 0; i < N; i++)
            cg_tensor_free(ps[i]);
    }
    return h;
}

int main(void)
{
    cg_manual_seed(7);
    const int64_t lengths[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 127, 128, 129, 200, 1000};
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++)
        for (int affine = 0; affine < 2; affine++)
            if (!(h = one_norm(h, 37, lengths[i], affine)))
                return 1;
    const int64_t steps[] = {1, 5, 8, 17, 33, 64, 100};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
        for (int variant = 0; variant < 3; variant++)
            h = attention_rows(h, steps[i], steps[(i + 2) % 7], variant);
    if (!causal_sums_are_the_whole_rows())
        return 1;
    h = adam_forms(h);
    /* clipping: gradients of lengths around the vector widths, one far larger */
    cg_frame_begin();
    const int64_t sizes[] = {1, 7, 8, 9, 17, 100, 4099};
    cg_tensor *ps[7];
    for (int i = 0; i < 7; i++) {
        ps[i] = cg_randn(CG_SHAPE(sizes[i]));
        cg_set_requires_grad(ps[i], true);
        cg_backward(cg_sum(cg_mul(ps[i], cg_mul_scalar(cg_randn(CG_SHAPE(sizes[i])), (float)(i + 1)))));
    }
    for (int i = 0; i < 7; i++) { /* each sum's own bits (float norms would round most differences away) */
        double sq = cg__sum_squares(cg_data(cg_grad(ps[i])), sizes[i]);
        uint64_t sq_bits;
        memcpy(&sq_bits, &sq, 8);
        h = (h ^ sq_bits) * 1099511628211u;
    }
    float total = cg_clip_grad_norm(ps, 7, 0.5f);
    uint32_t bits;
    memcpy(&bits, &total, 4);
    h = (h ^ bits) * 1099511628211u;
    for (int i = 0; i < 7; i++)
        h = fold(h, cg_grad(ps[i]));
    cg_frame_end();
    printf("%016" PRIx64 "\n", h);
    return 0;
}
