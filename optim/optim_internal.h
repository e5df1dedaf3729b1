/* cgrad — the optimizer struct, shared by optim's files. */
#ifndef CGRAD_OPTIM_INTERNAL_H
#define CGRAD_OPTIM_INTERNAL_H

#include "autograd_internal.h"
#include "optim.h"

typedef enum { OPT_SGD, OPT_ADAM, OPT_ADAMW, OPT_RMSPROP, OPT_ADAGRAD } optim_kind;

/* One of torch's param_groups: its hyperparameters (the optimizer's defaults where the
 * group's options did not give them). */
typedef struct {
    double lr;               /* a Python float in torch: schedulers change it */
    double initial_lr;       /* the lr when the first scheduler was made (torch's initial_lr); NAN before */
    union {
        cg_sgd_opts sgd;
        cg_adam_opts adam;
        cg_rmsprop_opts rmsprop;
        cg_adagrad_opts adagrad;
    } o;
} cg__optim_group;

struct cg_optim {
    optim_kind kind;
    const char *name;
    cg__optim_group defaults; /* what the constructor was given: later groups' options where theirs are not */
    int ngroups;
    cg__optim_group *groups;
    int n;                   /* parameters, over all groups in order */
    cg_tensor **params;
    int *group_of;           /* each parameter's group */
    int *first_slot;         /* where each parameter's state starts in state */
    int nstate;              /* state tensors, parameter-major; each parameter's first is "step" */
    cg_tensor **state;
    char (*state_names)[40];
};

#endif
