/* cgrad — optim: optimizers with PyTorch 1.13's exact update formulas, gradient
 * clipping, and learning-rate schedulers.
 *
 * Hyperparameters are doubles, as Python's floats are, so `.lr = 0.1` means
 * what it means in PyTorch. Parameters whose .grad is NULL are skipped. */
#ifndef CGRAD_OPTIM_H
#define CGRAD_OPTIM_H

#include "autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_optim cg_optim;

typedef struct {
    const char *given;
    double lr;               /* required, as in torch.optim.SGD */
    double momentum;         /* 0 */
    double dampening;        /* 0 */
    double weight_decay;     /* 0 */
    bool nesterov;           /* false */
    bool maximize;           /* false */
} cg_sgd_opts;

typedef struct {
    const char *given;
    double lr;               /* 1e-3 */
    double beta1, beta2;     /* 0.9, 0.999 */
    double eps;              /* 1e-8 */
    double weight_decay;     /* 0 for Adam, 1e-2 for AdamW */
    bool amsgrad;            /* false */
    bool maximize;           /* false */
} cg_adam_opts;

typedef struct {
    const char *given;
    double lr;               /* 1e-2 */
    double alpha;            /* 0.99 */
    double eps;              /* 1e-8 */
    double weight_decay;     /* 0 */
    double momentum;         /* 0 */
    bool centered;           /* false */
    bool maximize;           /* false */
} cg_rmsprop_opts;

typedef struct {
    const char *given;
    double lr;                         /* 1e-2 */
    double lr_decay;                   /* 0 */
    double weight_decay;               /* 0 */
    double initial_accumulator_value;  /* 0 */
    double eps;                        /* 1e-10 */
    bool maximize;                     /* false */
} cg_adagrad_opts;

/* params: n tensors (e.g. from cg_parameters); the list is copied, and the
 * optimizer holds a reference to each tensor (made outside frames) until
 * cg_optim_free, so freeing their module first is safe. Owned: cg_optim_free. */
cg_optim *cg_sgd_new_with(cg_tensor **params, int n, cg_sgd_opts opts);
cg_optim *cg_adam_new_with(cg_tensor **params, int n, cg_adam_opts opts);
cg_optim *cg_adamw_new_with(cg_tensor **params, int n, cg_adam_opts opts);
cg_optim *cg_rmsprop_new_with(cg_tensor **params, int n, cg_rmsprop_opts opts);
cg_optim *cg_adagrad_new_with(cg_tensor **params, int n, cg_adagrad_opts opts);
#define cg_sgd_new(...) cg_sgd_new_with(CG__HEAD2(__VA_ARGS__, ), CG__OPTS(cg_sgd_opts, CG__TAIL2(__VA_ARGS__, )))
#define cg_adam_new(...) cg_adam_new_with(CG__HEAD2(__VA_ARGS__, ), CG__OPTS(cg_adam_opts, CG__TAIL2(__VA_ARGS__, )))
#define cg_adamw_new(...) cg_adamw_new_with(CG__HEAD2(__VA_ARGS__, ), CG__OPTS(cg_adam_opts, CG__TAIL2(__VA_ARGS__, )))
#define cg_rmsprop_new(...) cg_rmsprop_new_with(CG__HEAD2(__VA_ARGS__, ), CG__OPTS(cg_rmsprop_opts, CG__TAIL2(__VA_ARGS__, )))
#define cg_adagrad_new(...) cg_adagrad_new_with(CG__HEAD2(__VA_ARGS__, ), CG__OPTS(cg_adagrad_opts, CG__TAIL2(__VA_ARGS__, )))
void cg_optim_free(cg_optim *o);

void cg_optim_zero_grad(cg_optim *o);   /* zeroes every .grad in place (PyTorch 1.13's default) */
void cg_optim_zero_grad_set_to_none(cg_optim *o); /* every .grad to None: zero_grad(set_to_none=True), cg_set_grad_none */
int cg_optim_step(cg_optim *o);         /* 0, or -1 with an error */
double cg_optim_lr(const cg_optim *o);  /* the first group's lr; NAN on error */
int cg_optim_set_lr(cg_optim *o, double lr); /* every group's lr */

/* ---- parameter groups (torch's param_groups and add_param_group) ------------------
 * The constructor makes group 0; each call below adds one, with its own options, those
 * not given (.given, as everywhere) taken from what the constructor was given (torch's
 * defaults): cg_adam_add_param_group(opt, no_decay, n, .weight_decay = 0). The Adam
 * form adds to Adam and AdamW. A parameter may be in one group only, once. State
 * indices and names number the parameters over all groups in order ("3.exp_avg"), as
 * torch's state_dict does. Schedulers set every group's lr from its own initial lr.
 * (An Adagrad group starts its sums at its own initial_accumulator_value; torch 1.13
 * takes the constructor's for every group, and its add_param_group cannot add one.)
 * 0, or -1 (and an error) leaving the optimizer as it was. */
int cg_sgd_add_param_group_with(cg_optim *o, cg_tensor **params, int n, cg_sgd_opts opts);
int cg_adam_add_param_group_with(cg_optim *o, cg_tensor **params, int n, cg_adam_opts opts);
int cg_rmsprop_add_param_group_with(cg_optim *o, cg_tensor **params, int n, cg_rmsprop_opts opts);
int cg_adagrad_add_param_group_with(cg_optim *o, cg_tensor **params, int n, cg_adagrad_opts opts);
#define cg_sgd_add_param_group(...) \
    cg_sgd_add_param_group_with(CG__HEAD3(__VA_ARGS__, ), CG__OPTS(cg_sgd_opts, CG__TAIL3(__VA_ARGS__, )))
#define cg_adam_add_param_group(...) \
    cg_adam_add_param_group_with(CG__HEAD3(__VA_ARGS__, ), CG__OPTS(cg_adam_opts, CG__TAIL3(__VA_ARGS__, )))
#define cg_rmsprop_add_param_group(...) \
    cg_rmsprop_add_param_group_with(CG__HEAD3(__VA_ARGS__, ), CG__OPTS(cg_rmsprop_opts, CG__TAIL3(__VA_ARGS__, )))
#define cg_adagrad_add_param_group(...) \
    cg_adagrad_add_param_group_with(CG__HEAD3(__VA_ARGS__, ), CG__OPTS(cg_adagrad_opts, CG__TAIL3(__VA_ARGS__, )))
int cg_optim_group_count(const cg_optim *o);               /* -1 on error */
double cg_optim_group_lr(const cg_optim *o, int group);    /* NAN on error */
int cg_optim_set_group_lr(cg_optim *o, int group, double lr);

/* The optimizer's state, as tensors named like PyTorch's state_dict entries:
 * "0.step", "0.exp_avg", "1.momentum_buffer", ... (index = parameter number).
 * Read them to save a checkpoint; write into them (cg_copy_) to restore one. */
int cg_optim_state_count(const cg_optim *o);
/* Borrowed: the tensor and the name belong to the optimizer and go with cg_optim_free. */
cg_tensor *cg_optim_state_at(cg_optim *o, int i);
const char *cg_optim_state_name(const cg_optim *o, int i);

/* ---- clipping ------------------------------------------------------------------ */
/* torch.nn.utils.clip_grad_norm_: scales all gradients by max_norm / (total + 1e-6)
 * when that is below 1; returns the total 2-norm (NAN on error). */
float cg_clip_grad_norm(cg_tensor **params, int n, float max_norm);
int cg_clip_grad_value(cg_tensor **params, int n, float clip_value);

/* ---- learning-rate schedulers (torch.optim.lr_scheduler, step() once per epoch) ---
 * Options as everywhere: cg_step_lr_new(opt, .step_size = 30, .gamma = 0.1).
 * A scheduler points at its optimizer, which must outlive it. Owned: cg_scheduler_free. */
typedef struct cg_scheduler cg_scheduler;
typedef struct {
    const char *given;
    int step_size;           /* required */
    double gamma;            /* 0.1 */
} cg_step_lr_opts;
typedef struct {
    const char *given;
    double gamma;            /* required */
} cg_exponential_lr_opts;
typedef struct {
    const char *given;
    int t_max;               /* required (torch's T_max) */
    double eta_min;          /* 0 */
} cg_cosine_annealing_lr_opts;
typedef struct {
    const char *given;
    double start_factor;     /* 1/3 */
    double end_factor;       /* 1.0 */
    int total_iters;         /* 5 */
} cg_linear_lr_opts;
cg_scheduler *cg_step_lr_new_with(cg_optim *o, cg_step_lr_opts opts);                         /* StepLR */
cg_scheduler *cg_exponential_lr_new_with(cg_optim *o, cg_exponential_lr_opts opts);           /* ExponentialLR */
cg_scheduler *cg_cosine_annealing_lr_new_with(cg_optim *o, cg_cosine_annealing_lr_opts opts); /* CosineAnnealingLR */
cg_scheduler *cg_linear_lr_new_with(cg_optim *o, cg_linear_lr_opts opts);                     /* LinearLR (warm-up) */
#define cg_step_lr_new(...) cg_step_lr_new_with(CG__HEAD1(__VA_ARGS__, ), CG__OPTS(cg_step_lr_opts, CG__TAIL1(__VA_ARGS__, )))
#define cg_exponential_lr_new(...) \
    cg_exponential_lr_new_with(CG__HEAD1(__VA_ARGS__, ), CG__OPTS(cg_exponential_lr_opts, CG__TAIL1(__VA_ARGS__, )))
#define cg_cosine_annealing_lr_new(...) \
    cg_cosine_annealing_lr_new_with(CG__HEAD1(__VA_ARGS__, ), CG__OPTS(cg_cosine_annealing_lr_opts, CG__TAIL1(__VA_ARGS__, )))
#define cg_linear_lr_new(...) cg_linear_lr_new_with(CG__HEAD1(__VA_ARGS__, ), CG__OPTS(cg_linear_lr_opts, CG__TAIL1(__VA_ARGS__, )))
int cg_scheduler_step(cg_scheduler *s);   /* sets the optimizer's lr for the next epoch */
double cg_scheduler_lr(const cg_scheduler *s);
void cg_scheduler_free(cg_scheduler *s);

#ifdef __cplusplus
}
#endif
#endif
