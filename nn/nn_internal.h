/* cgrad — what nn's files share: the module struct and parameter helpers. */
#ifndef CGRAD_NN_INTERNAL_H
#define CGRAD_NN_INTERNAL_H

#include "autograd_internal.h"
#include "nn.h"

#define CG_PARAM_NAME 48

typedef enum { KIND_LINEAR, KIND_EMBEDDING, KIND_RNN, KIND_LSTM, KIND_GRU, KIND_RNN_CELL, KIND_LSTM_CELL, KIND_GRU_CELL,
               KIND_SEQUENTIAL, KIND_TANH, KIND_RELU, KIND_SIGMOID, KIND_DROPOUT, KIND_LAYER_NORM, KIND_GELU,
               KIND_IDENTITY } module_kind;

struct cg_module {
    module_kind kind;
    const char *type;          /* PyTorch's class name */
    int nparams, cap;
    cg_tensor **params;
    char (*names)[CG_PARAM_NAME];
    bool training;
    bool borrows_params;       /* Sequential: the tensors belong to the children */
    cg_module **children;
    int nchildren;
    float p;                   /* Dropout */
    union {
        cg_linear_opts linear;
        cg_embedding_opts embedding;
        cg_rnn_opts rnn;
        cg_cell_opts cell;
        cg_layer_norm_opts layer_norm;
        cg_gelu_opts gelu;
    } o;
};

/* A module with no parameters yet; NULL (and an error) when out of memory. */
cg_module *cg__module_new(module_kind kind, const char *type);
/* Adds a zero parameter of that shape under that name; NULL on failure. */
cg_tensor *cg__module_add_param(cg_module *m, const char *name, int ndim, const int64_t *shape);
/* Checks m is a module of that kind (or any kind if kind < 0), naming op in the error. */
bool cg__module_check(const cg_module *m, int kind, const char *op);

#endif
