/* cgrad — what nn's files share: the module struct and parameter helpers. */
#ifndef CGRAD_NN_INTERNAL_H
#define CGRAD_NN_INTERNAL_H

#include "autograd_internal.h"
#include "nn.h"

#define CG_PARAM_NAME 96 /* room for a built-in module's own names ("bias_hh_l12_reverse") */

typedef enum { KIND_LINEAR, KIND_EMBEDDING, KIND_RNN, KIND_LSTM, KIND_GRU, KIND_RNN_CELL, KIND_LSTM_CELL, KIND_GRU_CELL,
               KIND_SEQUENTIAL, KIND_TANH, KIND_RELU, KIND_SIGMOID, KIND_DROPOUT, KIND_LAYER_NORM, KIND_GELU,
               KIND_IDENTITY, KIND_CUSTOM, KIND_MHA } module_kind;

struct cg_module {
    module_kind kind;
    const char *type;          /* PyTorch's class name */
    char type_buf[32];         /* a module of the user's own: its type name */
    /* every parameter, torch's named_parameters order: the module's own (the first
     * nown, which it owns), then each child's under "child." (which the child owns) */
    int nparams, nown, cap;
    cg_tensor **params;
    char **names;              /* each its own allocation, so no dotted name is ever cut */
    /* torch's parameters() and named_parameters(): each distinct tensor once, under its
     * first name (a weight tied to another module's is registered under both names but
     * listed once): params[distinct_at[k]]. Made again at every change (so that reading
     * a module from several threads stays a read), in arrays of params' capacity. */
    int ndistinct;
    int *distinct_at;
    cg_tensor **distinct;
    bool set_own;              /* cg_module_set_param replaced one of its own parameters */
    bool may_share;            /* it, or a module below it, did: its list may hold a tensor twice */
    bool training;
    cg_module **children;      /* owned */
    char **child_names;        /* each its own allocation */
    cg_module_forward_fn forward; /* a module of the user's own: its forward, or NULL */
    void *forward_ctx;
    int nchildren;
    cg_module *parent;         /* the module this one is a child of, or NULL */
    float p;                   /* Dropout */
    cg_generator *gen;         /* its generator option (borrowed; NULL: the default one) */
    union {
        cg_linear_opts linear;
        cg_embedding_opts embedding;
        cg_rnn_opts rnn;
        cg_cell_opts cell;
        cg_layer_norm_opts layer_norm;
        cg_gelu_opts gelu;
        cg_multihead_attention_opts mha;
    } o;
};

/* "a.b" (or a copy of a when b is NULL) in an allocation of its own; NULL when out of memory. */
char *cg__name_join(const char *a, const char *b);
/* A module with no parameters yet; NULL (and an error) when out of memory. */
cg_module *cg__module_new(module_kind kind, const char *type);
/* Adds a zero parameter of that shape under that name; NULL on failure. */
cg_tensor *cg__module_add_param(cg_module *m, const char *name, int ndim, const int64_t *shape);
/* Makes child a child of m under name (taking it); 0, or -1 with op in the error. */
int cg__module_adopt(cg_module *m, const char *name, cg_module *child, const char *op);
/* Room for n entries in m's parameter list; false (and an error) when out of memory. */
bool cg__module_reserve(cg_module *m, int n);
/* m's distinct parameters (its ndistinct, distinct, distinct_at) made again after its
 * list changed (never fails: they have the list's capacity). */
void cg__module_distinct(cg_module *m);
/* m's parameter list (and its ancestors') made again after a change. */
bool cg__module_refresh(cg_module *m);
/* Checks m is a module of that kind (or any kind if kind < 0), naming op in the error. */
bool cg__module_check(const cg_module *m, int kind, const char *op);
/* Whether i is in [0, n), with an error naming op when not (list getters). */
bool cg__list_index_ok(int i, int n, const char *op);

#endif
