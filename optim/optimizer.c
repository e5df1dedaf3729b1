/* cgrad — the optimizers, each update written as PyTorch 1.13's single-tensor
 * code computes it: float32 tensors, Python (double) scalars rounded to float
 * where torch passes them to a kernel. */
#include "optim_internal.h"
#include <stdlib.h>
#include <string.h>

/* ---- construction ------------------------------------------------------------------ */

static cg_optim *optim_new(optim_kind kind, const char *name, cg_tensor **params, int n, double lr,
                           const char *const *slots, int nslots)
{
    if (!params || n <= 0) {
        cg__error("%s: needs a non-empty list of parameters", name);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!cg__check(params[i], name))
            return NULL;
    if (!(lr >= 0)) {
        cg__error("%s: invalid learning rate %g", name, lr);
        return NULL;
    }
    cg_optim *o = calloc(1, sizeof *o);
    if (!o || !(o->params = malloc(sizeof *o->params * (size_t)n)) ||
        !(o->state = calloc((size_t)(n * nslots), sizeof *o->state)) ||
        !(o->state_names = calloc((size_t)(n * nslots), sizeof *o->state_names))) {
        cg_optim_free(o);
        cg__error("%s: out of memory", name);
        return NULL;
    }
    o->kind = kind;
    o->name = name;
    o->lr = lr;
    o->nslots = nslots;
    /* the optimizer keeps its parameters alive: freeing their module first is safe */
    memcpy(o->params, params, sizeof *params * (size_t)n);
    for (int i = 0; i < n; i++)
        cg__retain(params[i]);
    o->n = n;
    for (int i = 0; i < n; i++)
        for (int s = 0; s < nslots; s++) {
            bool is_step = !strcmp(slots[s], "step");
            cg_tensor *t = is_step ? cg__new_heap(0, NULL, name) : cg__new_heap(params[i]->ndim, params[i]->shape, name);
            if (!t) {
                cg_optim_free(o);
                return NULL;
            }
            memset(t->data, 0, (size_t)t->numel * sizeof(float));
            o->state[i * nslots + s] = t;
            snprintf(o->state_names[i * nslots + s], sizeof o->state_names[0], "%d.%s", i, slots[s]);
        }
    return o;
}

void cg_optim_free(cg_optim *o)
{
    if (!o)
        return;
    for (int i = 0; o->state && i < o->n * o->nslots; i++)
        cg_tensor_free(o->state[i]);
    for (int i = 0; i < o->n; i++) /* the references taken in optim_new */
        cg_tensor_free(o->params[i]);
    free(o->state);
    free(o->state_names);
    free(o->params);
    free(o);
}

static bool nonneg(double v, const char *what, const char *op)
{
    if (v >= 0)
        return true;
    cg__error("%s: invalid %s value: %g", op, what, v);
    return false;
}

static const cg__opt_field sgd_fields[] = {
    CG__OPT(cg_sgd_opts, lr), CG__OPT(cg_sgd_opts, momentum), CG__OPT(cg_sgd_opts, dampening),
    CG__OPT(cg_sgd_opts, weight_decay), CG__OPT(cg_sgd_opts, nesterov), CG__OPT(cg_sgd_opts, maximize)};

cg_optim *cg_sgd_new_with(cg_tensor **params, int n, cg_sgd_opts user)
{
    cg_sgd_opts o = {.lr = NAN};
    if (cg__opts_merge(&o, &user, user.given, sgd_fields, 6, "cg_sgd_new") < 0)
        return NULL;
    if (isnan(o.lr)) {
        cg__error("cg_sgd_new: .lr is required");
        return NULL;
    }
    if (!nonneg(o.momentum, "momentum", "cg_sgd_new") || !nonneg(o.weight_decay, "weight_decay", "cg_sgd_new"))
        return NULL;
    if (o.nesterov && (o.momentum <= 0 || o.dampening != 0)) {
        cg__error("cg_sgd_new: Nesterov momentum requires a momentum and zero dampening");
        return NULL;
    }
    static const char *const with_momentum[] = {"step", "momentum_buffer"};
    cg_optim *opt = optim_new(OPT_SGD, "cg_sgd_new", params, n, o.lr, with_momentum, o.momentum != 0 ? 2 : 1);
    if (opt)
        opt->o.sgd = o;
    return opt;
}

static const cg__opt_field adam_fields[] = {
    CG__OPT(cg_adam_opts, lr), CG__OPT(cg_adam_opts, beta1), CG__OPT(cg_adam_opts, beta2),
    CG__OPT(cg_adam_opts, eps), CG__OPT(cg_adam_opts, weight_decay), CG__OPT(cg_adam_opts, amsgrad),
    CG__OPT(cg_adam_opts, maximize)};

static cg_optim *adam_like(cg_tensor **params, int n, cg_adam_opts user, optim_kind kind, const char *op)
{
    cg_adam_opts o = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = kind == OPT_ADAMW ? 1e-2 : 0};
    if (cg__opts_merge(&o, &user, user.given, adam_fields, 7, op) < 0)
        return NULL;
    if (!nonneg(o.eps, "epsilon", op) || !nonneg(o.weight_decay, "weight_decay", op))
        return NULL;
    if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1)) {
        cg__error("%s: invalid beta parameters: (%g, %g)", op, o.beta1, o.beta2);
        return NULL;
    }
    static const char *const slots[] = {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
    cg_optim *opt = optim_new(kind, op, params, n, o.lr, slots, o.amsgrad ? 4 : 3);
    if (opt)
        opt->o.adam = o;
    return opt;
}

cg_optim *cg_adam_new_with(cg_tensor **params, int n, cg_adam_opts o) { return adam_like(params, n, o, OPT_ADAM, "cg_adam_new"); }
cg_optim *cg_adamw_new_with(cg_tensor **params, int n, cg_adam_opts o) { return adam_like(params, n, o, OPT_ADAMW, "cg_adamw_new"); }

static const cg__opt_field rmsprop_fields[] = {
    CG__OPT(cg_rmsprop_opts, lr), CG__OPT(cg_rmsprop_opts, alpha), CG__OPT(cg_rmsprop_opts, eps),
    CG__OPT(cg_rmsprop_opts, weight_decay), CG__OPT(cg_rmsprop_opts, momentum), CG__OPT(cg_rmsprop_opts, centered),
    CG__OPT(cg_rmsprop_opts, maximize)};

cg_optim *cg_rmsprop_new_with(cg_tensor **params, int n, cg_rmsprop_opts user)
{
    cg_rmsprop_opts o = {.lr = 1e-2, .alpha = 0.99, .eps = 1e-8};
    if (cg__opts_merge(&o, &user, user.given, rmsprop_fields, 7, "cg_rmsprop_new") < 0)
        return NULL;
    if (!nonneg(o.eps, "epsilon", "cg_rmsprop_new") || !nonneg(o.momentum, "momentum", "cg_rmsprop_new") ||
        !nonneg(o.weight_decay, "weight_decay", "cg_rmsprop_new") || !nonneg(o.alpha, "alpha", "cg_rmsprop_new"))
        return NULL;
    /* slots in a fixed order; grad_avg and momentum_buffer only when used */
    const char *slots[4] = {"step", "square_avg"};
    int ns = 2;
    if (o.momentum > 0)
        slots[ns++] = "momentum_buffer";
    if (o.centered)
        slots[ns++] = "grad_avg";
    cg_optim *opt = optim_new(OPT_RMSPROP, "cg_rmsprop_new", params, n, o.lr, slots, ns);
    if (opt)
        opt->o.rmsprop = o;
    return opt;
}

static const cg__opt_field adagrad_fields[] = {
    CG__OPT(cg_adagrad_opts, lr), CG__OPT(cg_adagrad_opts, lr_decay), CG__OPT(cg_adagrad_opts, weight_decay),
    CG__OPT(cg_adagrad_opts, initial_accumulator_value), CG__OPT(cg_adagrad_opts, eps),
    CG__OPT(cg_adagrad_opts, maximize)};

cg_optim *cg_adagrad_new_with(cg_tensor **params, int n, cg_adagrad_opts user)
{
    cg_adagrad_opts o = {.lr = 1e-2, .eps = 1e-10};
    if (cg__opts_merge(&o, &user, user.given, adagrad_fields, 6, "cg_adagrad_new") < 0)
        return NULL;
    if (!nonneg(o.lr_decay, "lr_decay", "cg_adagrad_new") || !nonneg(o.weight_decay, "weight_decay", "cg_adagrad_new") ||
        !nonneg(o.initial_accumulator_value, "initial_accumulator_value", "cg_adagrad_new") ||
        !nonneg(o.eps, "epsilon", "cg_adagrad_new"))
        return NULL;
    static const char *const slots[] = {"step", "sum"};
    cg_optim *opt = optim_new(OPT_ADAGRAD, "cg_adagrad_new", params, n, o.lr, slots, 2);
    if (!opt)
        return NULL;
    opt->o.adagrad = o;
    for (int i = 0; i < n; i++)
        cg_fill_(opt->state[i * 2 + 1], (float)o.initial_accumulator_value);
    return opt;
}

/* ---- the updates ------------------------------------------------------------------------ */

static void sgd_update(const cg_sgd_opts *o, float lr, float *p, const float *grad, float *buf, bool first, int64_t n)
{
    const float wd = (float)o->weight_decay, mom = (float)o->momentum, damp = (float)(1 - o->dampening);
    for (int64_t i = 0; i < n; i++) {
        float d = o->maximize ? -grad[i] : grad[i];
        if (wd != 0)
            d = d + wd * p[i];
        if (mom != 0) {
            buf[i] = first ? d : buf[i] * mom + damp * d;
            d = o->nesterov ? d + mom * buf[i] : buf[i];
        }
        p[i] = p[i] + -lr * d;
    }
}

/* 1 - beta^step for both betas; parameters usually share a step, so the last
 * answer is kept (pow is slow next to a small parameter's update). */
static void bias_corrections(const cg_adam_opts *o, double step, double *bc1, double *bc2)
{
    static _Thread_local double last_step = -1, last_b1, last_b2, last_bc1, last_bc2;
    if (step != last_step || o->beta1 != last_b1 || o->beta2 != last_b2) {
        last_bc1 = 1 - pow(o->beta1, step);
        last_bc2 = 1 - pow(o->beta2, step);
        last_step = step, last_b1 = o->beta1, last_b2 = o->beta2;
    }
    *bc1 = last_bc1, *bc2 = last_bc2;
}

/* Adam's constants for one update. */
typedef struct {
    float wd, b1, b2, one_b1, one_b2, eps, step_size, bc2_sqrt, shrink;
} adam_consts;

/* One pass over the elements; inlined with constant flags, so that each variant is
 * a branch-free loop the compiler vectorises (restrict: the four arrays are apart). */
static inline __attribute__((always_inline)) void adam_pass(const adam_consts *c, bool decoupled, bool wd_in_grad,
                                                            bool maximize, float *restrict p, const float *restrict grad,
                                                            float *restrict m, float *restrict v, float *restrict vmax,
                                                            int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float g = maximize ? -grad[i] : grad[i];
        if (decoupled)
            p[i] = p[i] * c->shrink;
        else if (wd_in_grad)
            g = g + c->wd * p[i];
        m[i] = m[i] * c->b1 + c->one_b1 * g;
        v[i] = v[i] * c->b2 + c->one_b2 * g * g; /* addcmul: value * t1 * t2 */
        float s = v[i];
        if (vmax) {
            vmax[i] = vmax[i] > v[i] ? vmax[i] : v[i];
            s = vmax[i];
        }
        float denom = sqrtf(s) / c->bc2_sqrt + c->eps;
        p[i] = p[i] + -c->step_size * m[i] / denom; /* addcdiv: value * t1 / t2 */
    }
}

static void adam_update(const cg_adam_opts *o, bool decoupled, double lr, double step, float *p, const float *grad,
                        float *m, float *v, float *vmax, int64_t n)
{
    double bc1, bc2;
    bias_corrections(o, step, &bc1, &bc2);
    adam_consts c = {.wd = (float)o->weight_decay, .b1 = (float)o->beta1, .b2 = (float)o->beta2,
                     .one_b1 = (float)(1 - o->beta1), .one_b2 = (float)(1 - o->beta2), .eps = (float)o->eps,
                     .step_size = (float)(lr / bc1), .bc2_sqrt = (float)sqrt(bc2),
                     .shrink = (float)(1 - lr * o->weight_decay)};
    bool wd = c.wd != 0;
    if (vmax || o->maximize) /* the rare forms: one general loop */
        adam_pass(&c, decoupled, !decoupled && wd, o->maximize, p, grad, m, v, vmax, n);
    else if (decoupled) /* AdamW */
        adam_pass(&c, true, false, false, p, grad, m, v, NULL, n);
    else if (wd)
        adam_pass(&c, false, true, false, p, grad, m, v, NULL, n);
    else
        adam_pass(&c, false, false, false, p, grad, m, v, NULL, n);
}

static void rmsprop_update(const cg_rmsprop_opts *o, float lr, float *p, const float *grad, float *sq, float *buf,
                           float *gavg, int64_t n)
{
    const float wd = (float)o->weight_decay, a = (float)o->alpha, one_a = (float)(1 - o->alpha);
    const float eps = (float)o->eps, mom = (float)o->momentum;
    for (int64_t i = 0; i < n; i++) {
        float g = o->maximize ? -grad[i] : grad[i];
        if (wd != 0)
            g = g + wd * p[i];
        sq[i] = sq[i] * a + one_a * g * g;
        float avg;
        if (gavg) {
            gavg[i] = gavg[i] * a + one_a * g;
            avg = sqrtf(sq[i] + -1.0f * gavg[i] * gavg[i]);
        } else {
            avg = sqrtf(sq[i]);
        }
        avg = avg + eps;
        if (buf) {
            buf[i] = buf[i] * mom + g / avg;
            p[i] = p[i] + -lr * buf[i];
        } else {
            p[i] = p[i] + -lr * g / avg;
        }
    }
}

static void adagrad_update(const cg_adagrad_opts *o, double lr, double step, float *p, const float *grad, float *sum,
                           int64_t n)
{
    const float wd = (float)o->weight_decay, eps = (float)o->eps;
    const float clr = (float)(lr / (1 + (step - 1) * o->lr_decay));
    for (int64_t i = 0; i < n; i++) {
        float g = o->maximize ? -grad[i] : grad[i];
        if (wd != 0)
            g = g + wd * p[i];
        sum[i] = sum[i] + 1.0f * g * g;
        float std = sqrtf(sum[i]) + eps;
        p[i] = p[i] + -clr * g / std;
    }
}

int cg_optim_step(cg_optim *o)
{
    if (!o) {
        cg__error_null("cg_optim_step");
        return -1;
    }
    for (int i = 0; i < o->n; i++) /* all checked first: a failed step changes nothing */
        if (!cg__check(o->params[i], "cg_optim_step"))
            return -1;
    for (int i = 0; i < o->n; i++) {
        cg_tensor *p = o->params[i], *grad = cg_grad(p);
        if (!grad)
            continue;
        cg__bump_version(p); /* a graph that saved p refuses to go backward after this */
        cg_tensor **st = o->state + (size_t)i * (size_t)o->nslots;
        double step = (double)(st[0]->data[0] += 1.0f);
        float *slot1 = o->nslots > 1 ? st[1]->data : NULL, *slot2 = o->nslots > 2 ? st[2]->data : NULL;
        float *slot3 = o->nslots > 3 ? st[3]->data : NULL;
        const float *g = cg_data(grad);
        switch (o->kind) {
        case OPT_SGD:
            sgd_update(&o->o.sgd, (float)o->lr, p->data, g, slot1, step == 1, p->numel);
            break;
        case OPT_ADAM:
        case OPT_ADAMW:
            adam_update(&o->o.adam, o->kind == OPT_ADAMW, o->lr, step, p->data, g, slot1, slot2, slot3, p->numel);
            break;
        case OPT_RMSPROP: {
            const cg_rmsprop_opts *r = &o->o.rmsprop;
            float *buf = r->momentum > 0 ? slot2 : NULL;
            float *gavg = r->centered ? (r->momentum > 0 ? slot3 : slot2) : NULL;
            rmsprop_update(r, (float)o->lr, p->data, g, slot1, buf, gavg, p->numel);
            break;
        }
        case OPT_ADAGRAD:
            adagrad_update(&o->o.adagrad, o->lr, step, p->data, g, slot1, p->numel);
            break;
        }
    }
    return 0;
}

void cg_optim_zero_grad(cg_optim *o)
{
    if (!o) {
        cg__error_null("cg_optim_zero_grad");
        return;
    }
    for (int i = 0; i < o->n; i++)
        if (cg__check(o->params[i], "cg_optim_zero_grad"))
            cg_zero_grad(o->params[i]);
}

double cg_optim_lr(const cg_optim *o)
{
    if (!o) {
        cg__error_null("cg_optim_lr");
        return NAN;
    }
    return o->lr;
}

int cg_optim_set_lr(cg_optim *o, double lr)
{
    if (!o) {
        cg__error_null("cg_optim_set_lr");
        return -1;
    }
    if (!(lr >= 0)) {
        cg__error("cg_optim_set_lr: invalid learning rate %g", lr);
        return -1;
    }
    o->lr = lr;
    return 0;
}

int cg_optim_state_count(const cg_optim *o)
{
    if (!o) {
        cg__error_null("cg_optim_state_count");
        return -1;
    }
    return o->n * o->nslots;
}

/* Whether i names one of o's state tensors; the error names op otherwise. */
static bool state_index_ok(const cg_optim *o, int i, const char *op)
{
    if (!o) {
        cg__error_null(op);
        return false;
    }
    if (i < 0 || i >= o->n * o->nslots) {
        cg__error("%s: index %d out of range [0, %d)", op, i, o->n * o->nslots);
        return false;
    }
    return true;
}

cg_tensor *cg_optim_state_at(cg_optim *o, int i)
{
    return state_index_ok(o, i, "cg_optim_state_at") ? o->state[i] : NULL;
}

const char *cg_optim_state_name(const cg_optim *o, int i)
{
    return state_index_ok(o, i, "cg_optim_state_name") ? o->state_names[i] : NULL;
}
