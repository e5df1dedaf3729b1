/* cgrad — the optimizers, each update written as PyTorch 1.13's single-tensor
 * code computes it: float32 tensors, Python (double) scalars rounded to float
 * where torch passes them to a kernel. */
#include "optim_internal.h"
#include <stdlib.h>
#include <string.h>

/* ---- the state each parameter has, by its group's options ----------------------------- */

/* The names of a parameter's state tensors in its group (torch's state_dict order);
 * how many. Slot 0 is "step". */
static int slots_of(optim_kind kind, const cg__optim_group *g, const char *slots[4])
{
    int n = 0;
    slots[n++] = "step";
    switch (kind) {
    case OPT_SGD:
        if (g->o.sgd.momentum != 0)
            slots[n++] = "momentum_buffer";
        break;
    case OPT_ADAM:
    case OPT_ADAMW:
        slots[n++] = "exp_avg", slots[n++] = "exp_avg_sq";
        if (g->o.adam.amsgrad)
            slots[n++] = "max_exp_avg_sq";
        break;
    case OPT_RMSPROP: /* grad_avg and momentum_buffer only when used */
        slots[n++] = "square_avg";
        if (g->o.rmsprop.momentum > 0)
            slots[n++] = "momentum_buffer";
        if (g->o.rmsprop.centered)
            slots[n++] = "grad_avg";
        break;
    case OPT_ADAGRAD:
        slots[n++] = "sum";
        break;
    }
    return n;
}

/* ---- construction: an optimizer is its groups ----------------------------------------- */

/* Whether params (n of them) can join o: live tensors, none twice, none already in o
 * (torch: "some parameters appear in more than one parameter group"). */
static bool params_ok(const cg_optim *o, cg_tensor **params, int n, const char *op)
{
    if (!params || n <= 0) {
        cg__error("%s: needs a non-empty list of parameters", op);
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!cg__check(params[i], op))
            return false;
        if (cg__overlapping(params[i])) { /* torch's step would refuse to write it */
            cg__error("%s: parameter %d is a view whose elements share memory (from cg_expand); "
                      "optimise the tensor it views", op, i);
            return false;
        }
        for (int k = 0; k < i + o->n; k++)
            if ((k < i ? params[k] : o->params[k - i]) == params[i]) {
                cg__error("%s: parameter %d appears twice (in this list, or in the optimizer already)", op, i);
                return false;
            }
    }
    return true;
}

/* Room for n more parameters and their state; false when out of memory (o unchanged
 * but for capacity). */
static bool grow(cg_optim *o, int n, int slots)
{
    size_t np = (size_t)(o->n + n), ns = (size_t)(o->nstate + n * slots);
    cg_tensor **p = realloc(o->params, sizeof *p * np);
    if (p)
        o->params = p;
    int *g = p ? realloc(o->group_of, sizeof *g * np) : NULL;
    if (g)
        o->group_of = g;
    int *f = g ? realloc(o->first_slot, sizeof *f * np) : NULL;
    if (f)
        o->first_slot = f;
    cg_tensor **st = f ? realloc(o->state, sizeof *st * ns) : NULL;
    if (st)
        o->state = st;
    char(*names)[40] = st ? realloc(o->state_names, sizeof *names * ns) : NULL;
    if (names)
        o->state_names = names;
    cg__optim_group *groups = names ? realloc(o->groups, sizeof *groups * (size_t)(o->ngroups + 1)) : NULL;
    if (groups)
        o->groups = groups;
    return groups != NULL;
}

/* Appends a group of params with options g: their state made (zero, as torch's lazy
 * state starts), a reference to each taken. 0, or -1 leaving o as it was. */
static int add_group(cg_optim *o, cg_tensor **params, int n, const cg__optim_group *g, const char *op)
{
    if (!params_ok(o, params, n, op))
        return -1;
    const char *slots[4];
    int ns = slots_of(o->kind, g, slots), made = 0;
    if (!grow(o, n, ns)) {
        cg__error("%s: out of memory", op);
        return -1;
    }
    for (int i = 0; i < n; i++)
        for (int s = 0; s < ns; s++, made++) {
            cg_tensor *p = params[i];
            cg_tensor *t = s == 0 ? cg__new_heap(0, NULL, op) : cg__new_heap(p->ndim, p->shape, op);
            if (!t) {
                while (made-- > 0)
                    cg_tensor_free(o->state[o->nstate + made]);
                return -1;
            }
            memset(t->data, 0, (size_t)t->numel * sizeof(float));
            if (s > 0 && o->kind == OPT_ADAGRAD)
                cg_fill_(t, (float)g->o.adagrad.initial_accumulator_value);
            o->state[o->nstate + made] = t;
            snprintf(o->state_names[o->nstate + made], sizeof o->state_names[0], "%d.%s", o->n + i, slots[s]);
        }
    for (int i = 0; i < n; i++) { /* the optimizer keeps its parameters alive: freeing their module first is safe */
        o->params[o->n + i] = cg__retain(params[i]);
        o->group_of[o->n + i] = o->ngroups;
        o->first_slot[o->n + i] = o->nstate + i * ns;
    }
    o->groups[o->ngroups++] = *g;
    o->n += n, o->nstate += made;
    return 0;
}

/* An optimizer of one group (params, with opts as its options and the defaults of
 * the groups added later). */
static cg_optim *optim_new(optim_kind kind, const char *name, cg_tensor **params, int n, const cg__optim_group *g)
{
    cg_optim *o = calloc(1, sizeof *o);
    if (!o) {
        cg__error("%s: out of memory", name);
        return NULL;
    }
    o->kind = kind;
    o->name = name;
    o->defaults = *g;
    if (add_group(o, params, n, g, name) < 0) {
        cg_optim_free(o);
        return NULL;
    }
    return o;
}

void cg_optim_free(cg_optim *o)
{
    if (!o)
        return;
    for (int i = 0; i < o->nstate; i++)
        cg_tensor_free(o->state[i]);
    for (int i = 0; i < o->n; i++) /* the references taken in add_group */
        cg_tensor_free(o->params[i]);
    free(o->state);
    free(o->state_names);
    free(o->params);
    free(o->group_of);
    free(o->first_slot);
    free(o->groups);
    free(o);
}

static bool nonneg(double v, const char *what, const char *op)
{
    if (v >= 0)
        return true;
    cg__error("%s: invalid %s value: %g", op, what, v);
    return false;
}

static bool lr_ok(double lr, const char *op)
{
    if (lr >= 0)
        return true;
    cg__error("%s: invalid learning rate %g", op, lr);
    return false;
}

/* An optimizer's options for a group: the defaults under what the user gave, checked. */
static const cg__opt_field sgd_fields[] = {
    CG__OPT(cg_sgd_opts, lr), CG__OPT(cg_sgd_opts, momentum), CG__OPT(cg_sgd_opts, dampening),
    CG__OPT(cg_sgd_opts, weight_decay), CG__OPT(cg_sgd_opts, nesterov), CG__OPT(cg_sgd_opts, maximize)};

static bool sgd_group(cg__optim_group *g, const void *given, const char *op)
{
    const cg_sgd_opts *user = given;
    cg_sgd_opts *o = &g->o.sgd;
    if (cg__opts_merge(o, user, user->given, sgd_fields, 6, op) < 0)
        return false;
    if (isnan(o->lr)) {
        cg__error("%s: .lr is required", op);
        return false;
    }
    if (!lr_ok(o->lr, op) || !nonneg(o->momentum, "momentum", op) || !nonneg(o->weight_decay, "weight_decay", op))
        return false;
    if (o->nesterov && (o->momentum <= 0 || o->dampening != 0)) {
        cg__error("%s: Nesterov momentum requires a momentum and zero dampening", op);
        return false;
    }
    g->lr = o->lr, g->initial_lr = NAN;
    return true;
}

cg_optim *cg_sgd_new_with(cg_tensor **params, int n, cg_sgd_opts user)
{
    cg__optim_group g = {.o.sgd = {.lr = NAN}};
    return sgd_group(&g, &user, "cg_sgd_new") ? optim_new(OPT_SGD, "cg_sgd_new", params, n, &g) : NULL;
}

static const cg__opt_field adam_fields[] = {
    CG__OPT(cg_adam_opts, lr), CG__OPT(cg_adam_opts, beta1), CG__OPT(cg_adam_opts, beta2),
    CG__OPT(cg_adam_opts, eps), CG__OPT(cg_adam_opts, weight_decay), CG__OPT(cg_adam_opts, amsgrad),
    CG__OPT(cg_adam_opts, maximize)};

static bool adam_group(cg__optim_group *g, const void *given, const char *op)
{
    const cg_adam_opts *user = given;
    cg_adam_opts *o = &g->o.adam;
    if (cg__opts_merge(o, user, user->given, adam_fields, 7, op) < 0)
        return false;
    if (!lr_ok(o->lr, op) || !nonneg(o->eps, "epsilon", op) || !nonneg(o->weight_decay, "weight_decay", op))
        return false;
    if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1)) {
        cg__error("%s: invalid beta parameters: (%g, %g)", op, o->beta1, o->beta2);
        return false;
    }
    g->lr = o->lr, g->initial_lr = NAN;
    return true;
}

static cg_optim *adam_like(cg_tensor **params, int n, cg_adam_opts user, optim_kind kind, const char *op)
{
    cg__optim_group g = {.o.adam = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                                    .weight_decay = kind == OPT_ADAMW ? 1e-2 : 0}};
    return adam_group(&g, &user, op) ? optim_new(kind, op, params, n, &g) : NULL;
}

cg_optim *cg_adam_new_with(cg_tensor **params, int n, cg_adam_opts o) { return adam_like(params, n, o, OPT_ADAM, "cg_adam_new"); }
cg_optim *cg_adamw_new_with(cg_tensor **params, int n, cg_adam_opts o) { return adam_like(params, n, o, OPT_ADAMW, "cg_adamw_new"); }

static const cg__opt_field rmsprop_fields[] = {
    CG__OPT(cg_rmsprop_opts, lr), CG__OPT(cg_rmsprop_opts, alpha), CG__OPT(cg_rmsprop_opts, eps),
    CG__OPT(cg_rmsprop_opts, weight_decay), CG__OPT(cg_rmsprop_opts, momentum), CG__OPT(cg_rmsprop_opts, centered),
    CG__OPT(cg_rmsprop_opts, maximize)};

static bool rmsprop_group(cg__optim_group *g, const void *given, const char *op)
{
    const cg_rmsprop_opts *user = given;
    cg_rmsprop_opts *o = &g->o.rmsprop;
    if (cg__opts_merge(o, user, user->given, rmsprop_fields, 7, op) < 0)
        return false;
    if (!lr_ok(o->lr, op) || !nonneg(o->eps, "epsilon", op) || !nonneg(o->momentum, "momentum", op) ||
        !nonneg(o->weight_decay, "weight_decay", op) || !nonneg(o->alpha, "alpha", op))
        return false;
    g->lr = o->lr, g->initial_lr = NAN;
    return true;
}

cg_optim *cg_rmsprop_new_with(cg_tensor **params, int n, cg_rmsprop_opts user)
{
    cg__optim_group g = {.o.rmsprop = {.lr = 1e-2, .alpha = 0.99, .eps = 1e-8}};
    return rmsprop_group(&g, &user, "cg_rmsprop_new") ? optim_new(OPT_RMSPROP, "cg_rmsprop_new", params, n, &g) : NULL;
}

static const cg__opt_field adagrad_fields[] = {
    CG__OPT(cg_adagrad_opts, lr), CG__OPT(cg_adagrad_opts, lr_decay), CG__OPT(cg_adagrad_opts, weight_decay),
    CG__OPT(cg_adagrad_opts, initial_accumulator_value), CG__OPT(cg_adagrad_opts, eps),
    CG__OPT(cg_adagrad_opts, maximize)};

static bool adagrad_group(cg__optim_group *g, const void *given, const char *op)
{
    const cg_adagrad_opts *user = given;
    cg_adagrad_opts *o = &g->o.adagrad;
    if (cg__opts_merge(o, user, user->given, adagrad_fields, 6, op) < 0)
        return false;
    if (!lr_ok(o->lr, op) || !nonneg(o->lr_decay, "lr_decay", op) || !nonneg(o->weight_decay, "weight_decay", op) ||
        !nonneg(o->initial_accumulator_value, "initial_accumulator_value", op) || !nonneg(o->eps, "epsilon", op))
        return false;
    g->lr = o->lr, g->initial_lr = NAN;
    return true;
}

cg_optim *cg_adagrad_new_with(cg_tensor **params, int n, cg_adagrad_opts user)
{
    cg__optim_group g = {.o.adagrad = {.lr = 1e-2, .eps = 1e-10}};
    return adagrad_group(&g, &user, "cg_adagrad_new") ? optim_new(OPT_ADAGRAD, "cg_adagrad_new", params, n, &g) : NULL;
}

/* ---- torch's add_param_group: options not given are the optimizer's defaults ---------- */

/* A group of params added to o, its options made by make from the user's over the
 * defaults (the constructor's options: torch's defaults dict); fits: o is of a kind
 * these options belong to. */
static int add_param_group(cg_optim *o, bool fits, cg_tensor **params, int n,
                           bool (*make)(cg__optim_group *, const void *, const char *), const void *user, const char *op)
{
    if (!o) {
        cg__error_null(op);
        return -1;
    }
    if (!fits) {
        cg__error("%s: given a %s optimizer", op, o->name);
        return -1;
    }
    cg__optim_group g = o->defaults;
    return make(&g, user, op) ? add_group(o, params, n, &g, op) : -1;
}

int cg_sgd_add_param_group_with(cg_optim *o, cg_tensor **params, int n, cg_sgd_opts user)
{
    return add_param_group(o, o && o->kind == OPT_SGD, params, n, sgd_group, &user, "cg_sgd_add_param_group");
}

int cg_adam_add_param_group_with(cg_optim *o, cg_tensor **params, int n, cg_adam_opts user)
{
    return add_param_group(o, o && (o->kind == OPT_ADAM || o->kind == OPT_ADAMW), params, n, adam_group, &user,
                           "cg_adam_add_param_group");
}

int cg_rmsprop_add_param_group_with(cg_optim *o, cg_tensor **params, int n, cg_rmsprop_opts user)
{
    return add_param_group(o, o && o->kind == OPT_RMSPROP, params, n, rmsprop_group, &user,
                           "cg_rmsprop_add_param_group");
}

int cg_adagrad_add_param_group_with(cg_optim *o, cg_tensor **params, int n, cg_adagrad_opts user)
{
    return add_param_group(o, o && o->kind == OPT_ADAGRAD, params, n, adagrad_group, &user,
                           "cg_adagrad_add_param_group");
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

/* The four forms of the pass, each its own loop; with `wide`, the same operations on the
 * CPU's 8-float registers (AVX2, no FMA: every product and sum rounded as before, the same
 * bits), where the baseline build's loops take 4 floats at a time. */
#define ADAM_FORMS(c, decoupled, wd, maximize, p, grad, m, v, vmax, n)                          \
    do {                                                                                       \
        if ((vmax) || (maximize)) /* the rare forms: one general loop */                         \
            adam_pass(c, decoupled, !(decoupled) && (wd), maximize, p, grad, m, v, vmax, n);  \
        else if (decoupled) /* AdamW */                                                        \
            adam_pass(c, true, false, false, p, grad, m, v, NULL, n);                         \
        else if (wd)                                                                           \
            adam_pass(c, false, true, false, p, grad, m, v, NULL, n);                         \
        else                                                                                   \
            adam_pass(c, false, false, false, p, grad, m, v, NULL, n);                        \
    } while (0)

static void adam_forms(const adam_consts *c, bool decoupled, bool wd, bool maximize, float *p, const float *grad,
                       float *m, float *v, float *vmax, int64_t n)
{
    ADAM_FORMS(c, decoupled, wd, maximize, p, grad, m, v, vmax, n);
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2"))) static void adam_forms_wide(const adam_consts *c, bool decoupled, bool wd,
                                                             bool maximize, float *p, const float *grad, float *m,
                                                             float *v, float *vmax, int64_t n)
{
    ADAM_FORMS(c, decoupled, wd, maximize, p, grad, m, v, vmax, n);
}
#endif

static void adam_update(const cg_adam_opts *o, bool decoupled, double lr, double step, float *p, const float *grad,
                        float *m, float *v, float *vmax, int64_t n)
{
    double bc1, bc2;
    bias_corrections(o, step, &bc1, &bc2);
    adam_consts c = {.wd = (float)o->weight_decay, .b1 = (float)o->beta1, .b2 = (float)o->beta2,
                     .one_b1 = (float)(1 - o->beta1), .one_b2 = (float)(1 - o->beta2), .eps = (float)o->eps,
                     .step_size = (float)(lr / bc1), .bc2_sqrt = (float)sqrt(bc2),
                     .shrink = (float)(1 - lr * o->weight_decay)};
#if defined(__x86_64__) || defined(__i386__)
    if (cg__cpu_has_avx2()) {
        adam_forms_wide(&c, decoupled, c.wd != 0, o->maximize, p, grad, m, v, vmax, n);
        return;
    }
#endif
    adam_forms(&c, decoupled, c.wd != 0, o->maximize, p, grad, m, v, vmax, n);
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

/* The update runs in chunks of parameters' elements over the threads (a task each: every
 * element is updated alone, so the same bits on any thread count); a chunk a parameter
 * left a char-RNN's 65K-float W_hh on one thread while the other finished the rest. */
#define STEP_CHUNK 16384

static float *values_of(cg_tensor *p) { return p->strided ? p->strided->dense->data : p->data; }

static int64_t chunks_of(const cg_optim *o, int i)
{
    cg_tensor *p = o->params[i];
    return cg__grad_of(p) ? (p->numel + STEP_CHUNK - 1) / STEP_CHUNK : 0;
}

/* Elements [lo, hi) of parameter i's update (its step counted already). */
static void update_range(cg_optim *o, int i, int64_t lo, int64_t hi)
{
    cg_tensor *p = o->params[i];
    const cg__optim_group *gr = &o->groups[o->group_of[i]];
    const char *names[4];
    int nslots = slots_of(o->kind, gr, names);
    cg_tensor **st = o->state + o->first_slot[i];
    double step = (double)st[0]->data[0];
    float *slot1 = nslots > 1 ? st[1]->data + lo : NULL, *slot2 = nslots > 2 ? st[2]->data + lo : NULL;
    float *slot3 = nslots > 3 ? st[3]->data + lo : NULL;
    float *values = values_of(p) + lo;
    const float *g = cg__grad_of(p)->data + lo;
    int64_t n = hi - lo;
    switch (o->kind) {
    case OPT_SGD:
        sgd_update(&gr->o.sgd, (float)gr->lr, values, g, slot1, step == 1, n);
        break;
    case OPT_ADAM:
    case OPT_ADAMW:
        adam_update(&gr->o.adam, o->kind == OPT_ADAMW, gr->lr, step, values, g, slot1, slot2, slot3, n);
        break;
    case OPT_RMSPROP: {
        const cg_rmsprop_opts *r = &gr->o.rmsprop;
        float *buf = r->momentum > 0 ? slot2 : NULL;
        float *gavg = r->centered ? (r->momentum > 0 ? slot3 : slot2) : NULL;
        rmsprop_update(r, (float)gr->lr, values, g, slot1, buf, gavg, n);
        break;
    }
    case OPT_ADAGRAD:
        adagrad_update(&gr->o.adagrad, gr->lr, step, values, g, slot1, n);
        break;
    }
}

/* Task i: all of parameter i (when none has more than one chunk: a toy model's few). */
static void step_param(void *ctx, int64_t i)
{
    cg_optim *o = ctx;
    if (cg__grad_of(o->params[i]))
        update_range(o, (int)i, 0, o->params[i]->numel);
}

/* Task t: the chunk it names, counting the parameters' chunks in order. */
static void step_chunk(void *ctx, int64_t t)
{
    cg_optim *o = ctx;
    for (int i = 0; i < o->n; i++) {
        int64_t k = chunks_of(o, i);
        if (t < k) {
            int64_t lo = t * STEP_CHUNK, hi = lo + STEP_CHUNK < o->params[i]->numel ? lo + STEP_CHUNK : o->params[i]->numel;
            update_range(o, i, lo, hi);
            return;
        }
        t -= k;
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
    for (int i = 0; i < o->n; i++) /* a strided parameter's values row-major, made before any update */
        if (o->params[i]->strided && cg__grad_of(o->params[i]) && !cg__dense_plain(o->params[i], "cg_optim_step"))
            return -1;
    int64_t chunks = 0;
    bool one_each = true;
    for (int i = 0; i < o->n; i++) { /* each step counted (and each version bumped) once, before the chunks */
        cg_tensor *p = o->params[i];
        if (!cg__grad_of(p))
            continue; /* (torch passes a parameter whose .grad is None by) */
        if (!p->strided)
            cg__bump_version(p); /* a graph that saved p refuses to go backward after this */
        o->state[o->first_slot[i]]->data[0] += 1.0f;
        int64_t k = chunks_of(o, i);
        chunks += k;
        one_each = one_each && k <= 1;
    }
    if (one_each)
        cg__parallel_for(o->n, step_param, o); /* a parameter a task */
    else
        cg__parallel_for(chunks, step_chunk, o); /* the chunks over the threads */
    for (int i = 0; i < o->n; i++)
        if (o->params[i]->strided && cg__grad_of(o->params[i]))
            cg__dense_written(o->params[i]); /* back through its strides, its version bumped */
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

void cg_optim_zero_grad_set_to_none(cg_optim *o)
{
    if (!o) {
        cg__error_null("cg_optim_zero_grad_set_to_none");
        return;
    }
    for (int i = 0; i < o->n; i++)
        cg_set_grad_none(o->params[i]);
}

double cg_optim_lr(const cg_optim *o)
{
    if (!o) {
        cg__error_null("cg_optim_lr");
        return NAN;
    }
    return o->groups[0].lr;
}

int cg_optim_set_lr(cg_optim *o, double lr)
{
    if (!o) {
        cg__error_null("cg_optim_set_lr");
        return -1;
    }
    if (!lr_ok(lr, "cg_optim_set_lr"))
        return -1;
    for (int g = 0; g < o->ngroups; g++) /* nanoGPT's `for group in param_groups: group['lr'] = lr` */
        o->groups[g].lr = lr;
    return 0;
}

int cg_optim_group_count(const cg_optim *o)
{
    if (!o) {
        cg__error_null("cg_optim_group_count");
        return -1;
    }
    return o->ngroups;
}

/* Whether i is one of o's groups (or of its state tensors); the error names op otherwise. */
static bool in_range(const cg_optim *o, int i, bool group, const char *op)
{
    if (!o) {
        cg__error_null(op);
        return false;
    }
    int n = group ? o->ngroups : o->nstate;
    if (i < 0 || i >= n) {
        cg__error("%s: %s %d out of range [0, %d)", op, group ? "group" : "index", i, n);
        return false;
    }
    return true;
}

double cg_optim_group_lr(const cg_optim *o, int g)
{
    return in_range(o, g, true, "cg_optim_group_lr") ? o->groups[g].lr : NAN;
}

int cg_optim_set_group_lr(cg_optim *o, int g, double lr)
{
    if (!in_range(o, g, true, "cg_optim_set_group_lr") || !lr_ok(lr, "cg_optim_set_group_lr"))
        return -1;
    o->groups[g].lr = lr;
    return 0;
}

int cg_optim_state_count(const cg_optim *o)
{
    if (!o) {
        cg__error_null("cg_optim_state_count");
        return -1;
    }
    return o->nstate;
}

cg_tensor *cg_optim_state_at(cg_optim *o, int i)
{
    return in_range(o, i, false, "cg_optim_state_at") ? o->state[i] : NULL;
}

const char *cg_optim_state_name(const cg_optim *o, int i)
{
    return in_range(o, i, false, "cg_optim_state_name") ? o->state_names[i] : NULL;
}
