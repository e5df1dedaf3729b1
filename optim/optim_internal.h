/* cgrad — the optimizer struct, shared by optim's files. */
#ifndef CGRAD_OPTIM_INTERNAL_H
#define CGRAD_OPTIM_INTERNAL_H

#include "autograd_internal.h"
#include "optim.h"

typedef enum { OPT_SGD, OPT_ADAM, OPT_ADAMW, OPT_RMSPROP, OPT_ADAGRAD } optim_kind;

struct cg_optim {
    optim_kind kind;
    const char *name;
    int n;                   /* parameters */
    cg_tensor **params;
    double lr;               /* a Python float in torch: schedulers change it */
    union {
        cg_sgd_opts sgd;
        cg_adam_opts adam;
        cg_rmsprop_opts rmsprop;
        cg_adagrad_opts adagrad;
    } o;
    int nslots;              /* state tensors per parameter; slot 0 is "step" */
    cg_tensor **state;       /* n * nslots, parameter-major */
    char (*state_names)[40];
};

#endif
