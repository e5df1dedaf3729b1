/* cgrad — gradcheck: backward's gradients against central differences.
 *
 * Float32 differences are only good to a few digits, so the defaults are
 * looser than torch's double-precision gradcheck; a wrong formula still
 * shows as an error near 100%. Inputs' .grad are left as they were. */
#include "autograd_internal.h"
#include <string.h>

static const cg__opt_field fields[] = {CG__OPT(cg_gradcheck_opts, eps), CG__OPT(cg_gradcheck_opts, atol),
                                       CG__OPT(cg_gradcheck_opts, rtol)};

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

static double eval(cg_gradcheck_fn fn, cg_tensor **inputs, void *ctx)
{
    cg_frame_begin();
    cg_tensor *s = scalar_of(fn, inputs, ctx);
    double v = s ? (double)s->data[0] : NAN;
    cg_frame_end();
    return v;
}

int cg_gradcheck_with(cg_gradcheck_fn fn, cg_tensor **inputs, int n, void *ctx, cg_gradcheck_opts user)
{
    if (!fn || !inputs || n <= 0) {
        cg__error("cg_gradcheck: needs a function and at least one input");
        return -1;
    }
    if (!cg__check_all(n, inputs, "cg_gradcheck"))
        return -1;
    cg_gradcheck_opts o = {.eps = 1e-3f, .atol = 1e-3f, .rtol = 1e-2f};
    if (cg__opts_merge(&o, &user, user.given, fields, 3, "cg_gradcheck") < 0)
        return -1;
    if (!cg_grad_enabled()) {
        cg__error("cg_gradcheck: called inside a no-grad region");
        return -1;
    }
    int rc = 0;
    cg_frame_begin();
    /* Set the inputs' gradients aside, and take backward's. */
    cg_tensor *old_grad[64];
    float *old_vals[64], *analytic[64];
    if (n > 64) {
        cg__error("cg_gradcheck: at most 64 inputs");
        cg_frame_end();
        return -1;
    }
    for (int k = 0; k < n; k++) {
        cg_tensor *g = inputs[k]->grad;
        old_grad[k] = g;
        old_vals[k] = g ? cg__alloc((size_t)g->numel * sizeof(float)) : NULL;
        if (g && old_vals[k]) {
            memcpy(old_vals[k], g->data, (size_t)g->numel * sizeof(float));
            memset(g->data, 0, (size_t)g->numel * sizeof(float));
        }
        analytic[k] = NULL;
    }
    cg_tensor *s = scalar_of(fn, inputs, ctx);
    if (!s || cg_backward(s) != 0) {
        rc = -1;
        goto restore;
    }
    for (int k = 0; k < n; k++) {
        cg_tensor *x = inputs[k];
        if (!x->requires_grad || !x->grad)
            continue;
        analytic[k] = cg__alloc((size_t)x->numel * sizeof(float));
        if (analytic[k])
            memcpy(analytic[k], x->grad->data, (size_t)x->numel * sizeof(float));
    }
    double worst = 0;
    for (int k = 0; k < n && rc == 0; k++) {
        cg_tensor *x = inputs[k];
        if (!x->requires_grad)
            continue;
        cg_no_grad_begin();
        for (int64_t i = 0; i < x->numel; i++) {
            float keep = x->data[i];
            x->data[i] = keep + o.eps;
            double plus = eval(fn, inputs, ctx);
            x->data[i] = keep - o.eps;
            double minus = eval(fn, inputs, ctx);
            x->data[i] = keep;
            double numeric = (plus - minus) / (2.0 * (double)o.eps);
            double a = analytic[k] ? analytic[k][i] : 0.0;
            double err = fabs(a - numeric), allowed = o.atol + o.rtol * fabs(numeric);
            if (!(err <= allowed) && err - allowed >= worst) {
                worst = err - allowed;
                cg__error("cg_gradcheck: input %d element %lld: backward gives %.6g, differences give %.6g",
                          k, (long long)i, a, numeric);
                rc = 1;
            }
        }
        cg_no_grad_end();
    }
restore:
    for (int k = 0; k < n; k++) {
        cg_tensor *x = inputs[k];
        if (old_grad[k]) {
            if (old_vals[k])
                memcpy(old_grad[k]->data, old_vals[k], (size_t)old_grad[k]->numel * sizeof(float));
        } else if (x->grad) {
            /* Made by our backward: a heap one is freed, a frame one dies with our frame. */
            cg_tensor *g = x->grad;
            x->grad = NULL;
            x->grad_owned = false;
            cg_tensor_free(g);
        }
    }
    cg_frame_end();
    return rc;
}
