/* cgrad — gradcheck: backward's gradients against central differences.
 *
 * Float32 differences are only good to a few digits, so the defaults are
 * looser than torch's double-precision gradcheck; a wrong formula still
 * shows as an error near 100%. Inputs' .grad are left as they were.
 *
 * Every evaluation of fn starts from the generator state gradcheck was called
 * with, so a random op (dropout, attention with dropout) draws the same mask
 * each time and its differences are of one function; afterwards the generator
 * is where one call of fn leaves it. */
#include "autograd_internal.h"
#include <string.h>

static const cg__opt_field fields[] = {CG__OPT(cg_gradcheck_opts, eps), CG__OPT(cg_gradcheck_opts, atol),
                                       CG__OPT(cg_gradcheck_opts, rtol), CG__OPT(cg_gradcheck_opts, generator)};

/* A fixed weighting, independent of the global generator: a small LCG. */
static float weight_at(int64_t i)
{
    uint64_t s = (uint64_t)i * 6364136223846793005ull + 1442695040888963407ull;
    s ^= s >> 33;
    s *= 0xff51afd7ed558ccdull;
    s ^= s >> 33;
    return (float)((double)(s >> 11) / (double)(1ull << 53)) * 1.5f + 0.25f;
}

/* fn's output reduced to one number (a weighted sum when it is not a scalar). */
static cg_tensor *scalar_of(cg_gradcheck_fn fn, cg_tensor **inputs, void *ctx)
{
    cg_tensor *out = fn(inputs, ctx);
    if (!out)
        return NULL;
    if (out->numel == 1)
        return cg_sum(out);
    cg_tensor *w = cg__new(out->ndim, out->shape, "cg_gradcheck");
    if (!w)
        return NULL;
    for (int64_t i = 0; i < w->numel; i++)
        w->data[i] = weight_at(i);
    return cg_sum(cg_mul(out, w));
}

/* The generators as gradcheck found them (the default one, and the caller's), set
 * again before each evaluation. */
typedef struct {
    cg_generator *gen[2];
    uint8_t at_entry[2][CG_RNG_STATE_SIZE];
    uint8_t after_one_call[2][CG_RNG_STATE_SIZE];
} draws;

static void draws_save(cg_generator *const *gen, uint8_t (*states)[CG_RNG_STATE_SIZE])
{
    for (int i = 0; i < 2; i++)
        if (gen[i])
            cg_generator_get_state(gen[i], states[i], CG_RNG_STATE_SIZE);
}

static void draws_restore(cg_generator *const *gen, uint8_t (*states)[CG_RNG_STATE_SIZE])
{
    for (int i = 0; i < 2; i++)
        if (gen[i])
            cg_generator_set_state(gen[i], states[i], CG_RNG_STATE_SIZE);
}

static double eval(cg_gradcheck_fn fn, cg_tensor **inputs, void *ctx, draws *d)
{
    cg_frame_begin();
    draws_restore(d->gen, d->at_entry);
    cg_tensor *s = scalar_of(fn, inputs, ctx);
    double v = s ? (double)s->data[0] : NAN;
    cg_frame_end();
    return v;
}

/* The inputs' gradients set aside while gradcheck runs its own backward. */
typedef struct {
    cg_tensor *old_grad[64];
    float *old_vals[64];  /* their values, restored at the end */
    float *analytic[64];  /* backward's gradient of each input, or NULL */
} check_state;

static void set_grads_aside(check_state *st, cg_tensor **inputs, int n)
{
    for (int k = 0; k < n; k++) {
        cg_tensor *g = cg__grad_of(inputs[k]);
        st->old_grad[k] = g;
        st->old_vals[k] = g ? cg__alloc((size_t)g->numel * sizeof(float)) : NULL;
        if (g && st->old_vals[k]) {
            memcpy(st->old_vals[k], g->data, (size_t)g->numel * sizeof(float));
            memset(g->data, 0, (size_t)g->numel * sizeof(float));
        }
        st->analytic[k] = NULL;
    }
}

static int backward_gradients(check_state *st, cg_gradcheck_fn fn, cg_tensor **inputs, int n, void *ctx, draws *d)
{
    cg_tensor *s = scalar_of(fn, inputs, ctx);
    draws_save(d->gen, d->after_one_call);
    if (!s || cg_backward(s) != 0)
        return -1;
    for (int k = 0; k < n; k++) {
        cg_tensor *x = inputs[k];
        if (!cg__requires_grad(x) || !cg__grad_of(x))
            continue;
        st->analytic[k] = cg__alloc((size_t)x->numel * sizeof(float));
        if (st->analytic[k])
            memcpy(st->analytic[k], cg__grad_of(x)->data, (size_t)x->numel * sizeof(float));
    }
    return 0;
}

/* Central differences for every element of every input that requires grad;
 * 1 (and the worst element in the message) when one disagrees, else 0. */
static int compare_with_differences(const check_state *st, cg_gradcheck_fn fn, cg_tensor **inputs, int n, void *ctx,
                                    const cg_gradcheck_opts *o, draws *d)
{
    double worst = 0;
    int rc = 0;
    cg_no_grad_begin();
    for (int k = 0; k < n; k++) {
        cg_tensor *x = inputs[k];
        for (int64_t i = 0; cg__requires_grad(x) && i < x->numel; i++) {
            float keep = x->data[i];
            x->data[i] = keep + o->eps;
            double plus = eval(fn, inputs, ctx, d);
            x->data[i] = keep - o->eps;
            double minus = eval(fn, inputs, ctx, d);
            x->data[i] = keep;
            double numeric = (plus - minus) / (2.0 * (double)o->eps);
            double a = st->analytic[k] ? st->analytic[k][i] : 0.0;
            double err = fabs(a - numeric), allowed = o->atol + o->rtol * fabs(numeric);
            if (!(err <= allowed) && err - allowed >= worst) {
                worst = err - allowed;
                cg__error("cg_gradcheck: input %d element %lld: backward gives %.6g, differences give %.6g", k,
                          (long long)i, a, numeric);
                rc = 1;
            }
        }
    }
    cg_no_grad_end();
    return rc;
}

static void restore_grads(const check_state *st, cg_tensor **inputs, int n)
{
    for (int k = 0; k < n; k++) {
        cg_tensor *x = inputs[k];
        if (st->old_grad[k]) {
            if (st->old_vals[k])
                memcpy(st->old_grad[k]->data, st->old_vals[k], (size_t)st->old_grad[k]->numel * sizeof(float));
        } else if (cg__grad_of(x)) {
            /* made by our backward: a heap one is freed, a frame one goes with its frame */
            cg_tensor *g = cg__grad_of(x);
            x->meta->held = NULL;
            cg_tensor_free(g);
        }
    }
}

int cg_gradcheck_with(cg_gradcheck_fn fn, cg_tensor **inputs, int n, void *ctx, cg_gradcheck_opts user)
{
    if (!fn || !inputs || n <= 0 || n > 64) {
        cg__error("cg_gradcheck: needs a function and 1 to 64 inputs");
        return -1;
    }
    if (!cg__check_all(n, inputs, "cg_gradcheck"))
        return -1;
    for (int i = 0; i < n; i++)
        if (inputs[i]->strided) { /* it nudges each input's values one by one, row-major */
            cg__error("cg_gradcheck: input %d is a strided view; pass cg_contiguous() of it", i);
            return -1;
        }
    cg_gradcheck_opts o = {.eps = 1e-3f, .atol = 1e-3f, .rtol = 1e-2f};
    if (cg__opts_merge(&o, &user, user.given, fields, 4, "cg_gradcheck") < 0)
        return -1;
    if (!cg_grad_enabled()) {
        cg__error("cg_gradcheck: called inside a no-grad region");
        return -1;
    }
    check_state st;
    draws d = {.gen = {cg_default_generator(), o.generator != cg_default_generator() ? o.generator : NULL}};
    draws_save(d.gen, d.at_entry);
    cg_frame_begin();
    set_grads_aside(&st, inputs, n);
    int rc = backward_gradients(&st, fn, inputs, n, ctx, &d);
    if (rc == 0)
        rc = compare_with_differences(&st, fn, inputs, n, ctx, &o, &d);
    restore_grads(&st, inputs, n);
    cg_frame_end();
    draws_restore(d.gen, d.after_one_call);
    return rc;
}
