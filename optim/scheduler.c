/* cgrad — learning-rate schedulers with torch.optim.lr_scheduler's recursive
 * ("chainable") formulas, so the sequence of rates matches PyTorch's doubles. */
#include "optim_internal.h"
#include <stdlib.h>

typedef enum { SCHED_STEP, SCHED_EXPONENTIAL, SCHED_COSINE, SCHED_LINEAR } sched_kind;

struct cg_scheduler {
    sched_kind kind;
    cg_optim *opt;
    int epoch;          /* torch's last_epoch */
    double base_lr;
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
    s->base_lr = o->lr;
    return s;
}

cg_scheduler *cg_step_lr_new(cg_optim *o, int step_size, double gamma)
{
    if (step_size <= 0) {
        cg__error("cg_step_lr_new: step_size must be positive, got %d", step_size);
        return NULL;
    }
    cg_scheduler *s = sched_new(o, SCHED_STEP, "cg_step_lr_new");
    if (s)
        s->step_size = step_size, s->gamma = gamma;
    return s;
}

cg_scheduler *cg_exponential_lr_new(cg_optim *o, double gamma)
{
    cg_scheduler *s = sched_new(o, SCHED_EXPONENTIAL, "cg_exponential_lr_new");
    if (s)
        s->gamma = gamma;
    return s;
}

cg_scheduler *cg_cosine_annealing_lr_new(cg_optim *o, int t_max, double eta_min)
{
    if (t_max <= 0) {
        cg__error("cg_cosine_annealing_lr_new: T_max must be positive, got %d", t_max);
        return NULL;
    }
    cg_scheduler *s = sched_new(o, SCHED_COSINE, "cg_cosine_annealing_lr_new");
    if (s)
        s->t_max = t_max, s->eta_min = eta_min;
    return s;
}

cg_scheduler *cg_linear_lr_new(cg_optim *o, double start_factor, double end_factor, int total_iters)
{
    if (!(start_factor > 0 && start_factor <= 1) || !(end_factor >= 0 && end_factor <= 1) || total_iters <= 0) {
        cg__error("cg_linear_lr_new: needs 0 < start_factor <= 1, 0 <= end_factor <= 1, total_iters > 0 "
                  "(got %g, %g, %d)", start_factor, end_factor, total_iters);
        return NULL;
    }
    cg_scheduler *s = sched_new(o, SCHED_LINEAR, "cg_linear_lr_new");
    if (!s)
        return NULL;
    s->start_factor = start_factor, s->end_factor = end_factor, s->total_iters = total_iters;
    /* torch applies the first factor when the scheduler is made */
    o->lr = o->lr * start_factor;
    return s;
}

int cg_scheduler_step(cg_scheduler *s)
{
    if (!s) {
        cg__error_null("cg_scheduler_step");
        return -1;
    }
    int e = ++s->epoch;
    double lr = s->opt->lr;
    switch (s->kind) {
    case SCHED_STEP:
        if (e % s->step_size == 0)
            lr = lr * s->gamma;
        break;
    case SCHED_EXPONENTIAL:
        lr = lr * s->gamma;
        break;
    case SCHED_COSINE: {
        double T = s->t_max;
        if ((e - 1 - s->t_max) % (2 * s->t_max) == 0)
            lr = lr + (s->base_lr - s->eta_min) * (1 - cos(M_PI / T)) / 2;
        else
            lr = (1 + cos(M_PI * e / T)) / (1 + cos(M_PI * (e - 1) / T)) * (lr - s->eta_min) + s->eta_min;
        break;
    }
    case SCHED_LINEAR:
        if (e <= s->total_iters)
            lr = lr * (1. + (s->end_factor - s->start_factor) /
                                (s->total_iters * s->start_factor + (e - 1) * (s->end_factor - s->start_factor)));
        break;
    }
    s->opt->lr = lr;
    return 0;
}

double cg_scheduler_lr(const cg_scheduler *s)
{
    if (!s) {
        cg__error_null("cg_scheduler_lr");
        return NAN;
    }
    return s->opt->lr;
}

void cg_scheduler_free(cg_scheduler *s) { free(s); }
