/* cgrad — learning-rate schedulers with torch.optim.lr_scheduler's recursive
 * ("chainable") formulas, so the sequence of rates matches PyTorch's doubles. */
#include "optim_internal.h"
#include <math.h>
#include <stdlib.h>

typedef enum { SCHED_STEP, SCHED_EXPONENTIAL, SCHED_COSINE, SCHED_LINEAR } sched_kind;

struct cg_scheduler {
    sched_kind kind;
    cg_optim *opt;
    int epoch;          /* torch's last_epoch */
    int ngroups;        /* the optimizer's groups when the scheduler was made: it schedules those */
    double *base_lrs;   /* each group's initial_lr */
    int step_size, t_max, total_iters;
    double gamma, eta_min, start_factor, end_factor;
};

static cg_scheduler *sched_new(cg_optim *o, sched_kind kind, const char *op)
{
    if (!o) {
        cg__error_null(op);
        return NULL;
    }
    cg_scheduler *s = calloc(1, sizeof *s);
    if (!s) {
        cg__error("%s: out of memory", op);
        return NULL;
    }
    s->kind = kind;
    s->opt = o;
    s->ngroups = o->ngroups;
    if (!(s->base_lrs = malloc(sizeof *s->base_lrs * (size_t)o->ngroups))) {
        free(s);
        cg__error("%s: out of memory", op);
        return NULL;
    }
    for (int g = 0; g < o->ngroups; g++) { /* torch: group.setdefault('initial_lr', group['lr']) */
        if (isnan(o->groups[g].initial_lr))
            o->groups[g].initial_lr = o->groups[g].lr;
        s->base_lrs[g] = o->groups[g].initial_lr;
    }
    return s;
}

static const cg__opt_field step_fields[] = {CG__OPT(cg_step_lr_opts, step_size), CG__OPT(cg_step_lr_opts, gamma)};

cg_scheduler *cg_step_lr_new_with(cg_optim *o, cg_step_lr_opts user)
{
    cg_step_lr_opts c = {.gamma = 0.1}; /* step_size has no default, as in torch */
    if (cg__opts_merge(&c, &user, user.given, step_fields, 2, "cg_step_lr_new") < 0)
        return NULL;
    if (c.step_size <= 0) {
        cg__error("cg_step_lr_new: .step_size must be given, and positive (got %d)", c.step_size);
        return NULL;
    }
    cg_scheduler *s = sched_new(o, SCHED_STEP, "cg_step_lr_new");
    if (s)
        s->step_size = c.step_size, s->gamma = c.gamma;
    return s;
}

static const cg__opt_field exponential_fields[] = {CG__OPT(cg_exponential_lr_opts, gamma)};

cg_scheduler *cg_exponential_lr_new_with(cg_optim *o, cg_exponential_lr_opts user)
{
    cg_exponential_lr_opts c = {.gamma = NAN}; /* required, as in torch */
    if (cg__opts_merge(&c, &user, user.given, exponential_fields, 1, "cg_exponential_lr_new") < 0)
        return NULL;
    if (isnan(c.gamma)) {
        cg__error("cg_exponential_lr_new: .gamma must be given");
        return NULL;
    }
    cg_scheduler *s = sched_new(o, SCHED_EXPONENTIAL, "cg_exponential_lr_new");
    if (s)
        s->gamma = c.gamma;
    return s;
}

static const cg__opt_field cosine_fields[] = {CG__OPT(cg_cosine_annealing_lr_opts, t_max),
                                              CG__OPT(cg_cosine_annealing_lr_opts, eta_min)};

cg_scheduler *cg_cosine_annealing_lr_new_with(cg_optim *o, cg_cosine_annealing_lr_opts user)
{
    cg_cosine_annealing_lr_opts c = {.eta_min = 0};
    if (cg__opts_merge(&c, &user, user.given, cosine_fields, 2, "cg_cosine_annealing_lr_new") < 0)
        return NULL;
    if (c.t_max <= 0) {
        cg__error("cg_cosine_annealing_lr_new: .t_max must be given, and positive (got %d)", c.t_max);
        return NULL;
    }
    cg_scheduler *s = sched_new(o, SCHED_COSINE, "cg_cosine_annealing_lr_new");
    if (s)
        s->t_max = c.t_max, s->eta_min = c.eta_min;
    return s;
}

static const cg__opt_field linear_fields[] = {CG__OPT(cg_linear_lr_opts, start_factor),
                                              CG__OPT(cg_linear_lr_opts, end_factor),
                                              CG__OPT(cg_linear_lr_opts, total_iters)};

cg_scheduler *cg_linear_lr_new_with(cg_optim *o, cg_linear_lr_opts user)
{
    cg_linear_lr_opts c = {.start_factor = 1.0 / 3, .end_factor = 1.0, .total_iters = 5};
    if (cg__opts_merge(&c, &user, user.given, linear_fields, 3, "cg_linear_lr_new") < 0)
        return NULL;
    if (!(c.start_factor > 0 && c.start_factor <= 1) || !(c.end_factor >= 0 && c.end_factor <= 1) ||
        c.total_iters <= 0) {
        cg__error("cg_linear_lr_new: needs 0 < start_factor <= 1, 0 <= end_factor <= 1, total_iters > 0 "
                  "(got %g, %g, %d)", c.start_factor, c.end_factor, c.total_iters);
        return NULL;
    }
    cg_scheduler *s = sched_new(o, SCHED_LINEAR, "cg_linear_lr_new");
    if (!s)
        return NULL;
    s->start_factor = c.start_factor, s->end_factor = c.end_factor, s->total_iters = c.total_iters;
    /* torch applies the first factor when the scheduler is made */
    for (int g = 0; g < s->ngroups; g++)
        o->groups[g].lr = o->groups[g].lr * c.start_factor;
    return s;
}

/* The next epoch's rate for a group now at lr, torch's chainable form. */
static double next_lr(const cg_scheduler *s, int e, double lr, double base_lr)
{
    switch (s->kind) {
    case SCHED_STEP:
        return e % s->step_size == 0 ? lr * s->gamma : lr;
    case SCHED_EXPONENTIAL:
        return lr * s->gamma;
    case SCHED_COSINE: {
        double T = s->t_max;
        if ((e - 1 - s->t_max) % (2 * s->t_max) == 0)
            return lr + (base_lr - s->eta_min) * (1 - cos(M_PI / T)) / 2;
        return (1 + cos(M_PI * e / T)) / (1 + cos(M_PI * (e - 1) / T)) * (lr - s->eta_min) + s->eta_min;
    }
    case SCHED_LINEAR:
        if (e > s->total_iters)
            return lr;
        return lr * (1. + (s->end_factor - s->start_factor) /
                              (s->total_iters * s->start_factor + (e - 1) * (s->end_factor - s->start_factor)));
    }
    return lr;
}

int cg_scheduler_step(cg_scheduler *s)
{
    if (!s) {
        cg__error_null("cg_scheduler_step");
        return -1;
    }
    int e = ++s->epoch;
    for (int g = 0; g < s->ngroups; g++) /* every group it was made with, each from its own rate */
        s->opt->groups[g].lr = next_lr(s, e, s->opt->groups[g].lr, s->base_lrs[g]);
    return 0;
}

double cg_scheduler_lr(const cg_scheduler *s)
{
    if (!s) {
        cg__error_null("cg_scheduler_lr");
        return NAN;
    }
    return s->opt->groups[0].lr;
}

void cg_scheduler_free(cg_scheduler *s)
{
    if (s)
        free(s->base_lrs);
    free(s);
}
