/* cgrad — nn: modules with PyTorch's names, shapes, defaults and initial weights.
 *
 * A module owns its parameters (tensors made outside frames) and their .grad.
 * Parameters are listed in PyTorch's state-dict order under PyTorch's names,
 * so weights move both ways. The recurrent modules are made of linear, tanh,
 * sigmoid and elementwise ops: backprop-through-time is autograd running
 * backwards over the unrolled graph, with no hand-written recurrent backward. */
#ifndef CGRAD_NN_H
#define CGRAD_NN_H

#include "autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_module cg_module;
/* A forward a module of your own carries (cg_module_set_forward), so cg_module_forward
 * and Sequential can run it: the module, its input, and the context given with it. */
typedef cg_tensor *(*cg_module_forward_fn)(cg_module *m, cg_tensor *x, void *ctx);

/* ---- every module ------------------------------------------------------------------
 * Ownership: every cg_X_new returns a module that is the caller's to free with
 * cg_module_free (unless handed to cg_sequential_new, which takes it). Every
 * getter below returns something borrowed from the module, never to be freed by
 * the caller: a tensor, name or child until the module is freed; the array of
 * cg_parameters until then too, or until a parameter or child is added to the
 * module or to a module below it, or a parameter set (cg_module_set_param: the list
 * changes; ask for it again). A parameter replaced by cg_module_set_param lives on
 * while someone else holds it. */
void cg_module_free(cg_module *m);
cg_tensor *cg_param(cg_module *m, const char *name);   /* borrowed; "weight_ih_l0", "bias_hh_l1_reverse" */
cg_tensor **cg_parameters(cg_module *m, int *n);       /* borrowed array, in state-dict order, each tensor once */
int cg_param_count(cg_module *m);                      /* how many parameters (distinct tensors) */
cg_tensor *cg_param_at(cg_module *m, int i);           /* borrowed; the i-th in state-dict order, each once */
const char *cg_param_name(cg_module *m, int i);        /* borrowed; the i-th parameter's name */
int64_t cg_num_params(cg_module *m);                   /* scalars in all parameters */
int cg_module_train(cg_module *m, bool on);            /* train (default) or eval mode */
bool cg_module_is_training(const cg_module *m);
int cg_module_zero_grad(cg_module *m);                 /* zeroes every parameter's .grad in place */
int cg_module_zero_grad_set_to_none(cg_module *m);     /* every parameter's .grad to None (zero_grad(set_to_none=True)) */
/* print(model) as PyTorch shows it: "RNN(4, 2)", "Linear(in_features=8, out_features=5, bias=True)" */
int cg_module_str(const cg_module *m, char *buf, size_t size);
const char *cg_module_type(const cg_module *m);        /* "RNN", "Linear", ... (a static string) */


/* ---- Linear: y = x Wᵀ + b ---------------------------------------------------------- */
typedef struct {
    const char *given;
    int64_t in_features, out_features;
    bool bias;                  /* true */
    cg_generator *generator;    /* NULL: the default generator, for the initial weights */
} cg_linear_opts;
cg_module *cg_linear_new_with(cg_linear_opts opts);
#define cg_linear_new(...) cg_linear_new_with(CG__OPTS(cg_linear_opts, __VA_ARGS__))
cg_tensor *cg_linear_forward(cg_module *linear, cg_tensor *x);

/* ---- Embedding: rows of a (num_embeddings, embedding_dim) table, N(0, 1) init ------ */
typedef struct {
    const char *given;
    int64_t num_embeddings, embedding_dim;
    cg_generator *generator;    /* NULL: the default generator, for the initial weights */
} cg_embedding_opts;
cg_module *cg_embedding_new_with(cg_embedding_opts opts);
#define cg_embedding_new(...) cg_embedding_new_with(CG__OPTS(cg_embedding_opts, __VA_ARGS__))
cg_tensor *cg_embedding_forward(cg_module *emb, cg_tensor *ids);

/* ---- recurrent modules: RNN, LSTM, GRU and their cells ------------------------------ */
typedef struct {
    const char *given;
    int64_t input_size, hidden_size;
    int num_layers;                 /* 1 */
    cg_nonlinearity nonlinearity;   /* CG_TANH (RNN only) */
    bool bias;                      /* true */
    bool batch_first;               /* false: input (T, B, I); true: (B, T, I) */
    float dropout;                  /* 0: dropout on each layer's output but the last, in training */
    bool bidirectional;             /* false */
    cg_generator *generator;        /* NULL: the default generator, for the initial weights and dropout */
} cg_rnn_opts;

cg_module *cg_rnn_new_with(cg_rnn_opts opts);
cg_module *cg_lstm_new_with(cg_rnn_opts opts);
cg_module *cg_gru_new_with(cg_rnn_opts opts);
#define cg_rnn_new(...) cg_rnn_new_with(CG__OPTS(cg_rnn_opts, __VA_ARGS__))
#define cg_lstm_new(...) cg_lstm_new_with(CG__OPTS(cg_rnn_opts, __VA_ARGS__))
#define cg_gru_new(...) cg_gru_new_with(CG__OPTS(cg_rnn_opts, __VA_ARGS__))

/* input (T, B, I), (B, T, I) with batch_first, or unbatched (T, I); h0 (L*D, B, H)
 * or (L*D, H), NULL for zeros. Returns output (T, B, D*H) (batch_first: (B, T, D*H));
 * *h_n, if h_n is not NULL, gets (L*D, B, H). */
cg_tensor *cg_rnn_forward(cg_module *rnn, cg_tensor *input, cg_tensor *h0, cg_tensor **h_n);
cg_tensor *cg_gru_forward(cg_module *gru, cg_tensor *input, cg_tensor *h0, cg_tensor **h_n);
/* The same, with the cell state: c0 like h0, *c_n like *h_n. */
cg_tensor *cg_lstm_forward(cg_module *lstm, cg_tensor *input, cg_tensor *h0, cg_tensor *c0,
                           cg_tensor **h_n, cg_tensor **c_n);

/* Cells: one step. x (B, I) or (I); h (B, H) or (H), NULL for zeros. */
typedef struct {
    const char *given;
    int64_t input_size, hidden_size;
    bool bias;                      /* true */
    cg_nonlinearity nonlinearity;   /* CG_TANH (RNNCell only) */
    cg_generator *generator;        /* NULL: the default generator, for the initial weights */
} cg_cell_opts;
cg_module *cg_rnn_cell_new_with(cg_cell_opts opts);
cg_module *cg_lstm_cell_new_with(cg_cell_opts opts);
cg_module *cg_gru_cell_new_with(cg_cell_opts opts);
#define cg_rnn_cell_new(...) cg_rnn_cell_new_with(CG__OPTS(cg_cell_opts, __VA_ARGS__))
#define cg_lstm_cell_new(...) cg_lstm_cell_new_with(CG__OPTS(cg_cell_opts, __VA_ARGS__))
#define cg_gru_cell_new(...) cg_gru_cell_new_with(CG__OPTS(cg_cell_opts, __VA_ARGS__))
cg_tensor *cg_rnn_cell_forward(cg_module *cell, cg_tensor *x, cg_tensor *h);
cg_tensor *cg_gru_cell_forward(cg_module *cell, cg_tensor *x, cg_tensor *h);
/* Returns h'; *c_out gets c'. */
cg_tensor *cg_lstm_cell_forward(cg_module *cell, cg_tensor *x, cg_tensor *h, cg_tensor *c, cg_tensor **c_out);

/* ---- weights in files: safetensors with PyTorch's state-dict names ---------------------------
 * A file saved from a PyTorch module's state_dict loads into the matching cgrad
 * module and the other way round. Loading checks every name, shape and dtype
 * first and leaves the module untouched on any fault (names the file lacks, or
 * has beyond the module's, are faults, as in load_state_dict(strict=True)). */
int cg_module_save(cg_module *m, const char *path);
int cg_module_load(cg_module *m, const char *path);

/* ---- Sequential, activations, Dropout ---------------------------------------------------- */
/* Takes ownership of the modules; their parameters are listed as "0.weight", "2.bias", ... */
cg_module *cg_sequential_new(cg_module *const *modules, int n);
cg_module *cg_tanh_new(void);
cg_module *cg_relu_new(void);
cg_module *cg_sigmoid_new(void);
typedef struct {
    const char *given;
    float p;                    /* 0.5 */
    cg_generator *generator;    /* NULL: the default generator, for the masks */
} cg_dropout_opts;
cg_module *cg_dropout_new_with(cg_dropout_opts opts);   /* active in train mode only */
#define cg_dropout_new(...) cg_dropout_new_with(CG__OPTS(cg_dropout_opts, __VA_ARGS__))
/* ---- modules of your own (torch.nn.Module) ------------------------------------------
 * A module with parameters of its own and named child modules; its parameter
 * list is its own, then each child's as "child.name" (torch's order and names),
 * so cg_parameters, cg_module_str, cg_module_save/load, train/eval, zero_grad
 * and optimizers work on the whole model. Its forward is a function you write. */
cg_module *cg_module_new(const char *type);            /* an empty module printed as type ("Block") */
/* A parameter of m's own: zeros, requiring grad (initialise it under no-grad);
 * borrowed, owned by m. NULL for built-in modules and names already used. */
cg_tensor *cg_module_add_param(cg_module *m, const char *name, int ndim, const int64_t *shape);
int cg_module_add_child(cg_module *m, const char *name, cg_module *child); /* takes child; 0 or -1 */
cg_module *cg_module_list_new(void);                   /* torch.nn.ModuleList */
/* The forward cg_module_forward (and a Sequential holding m) runs for m: fn(m, x, ctx).
 * Modules of your own only; 0 or -1. */
int cg_module_set_forward(cg_module *m, cg_module_forward_fn fn, void *ctx);
int cg_module_append(cg_module *list, cg_module *child); /* named "0", "1", ...; takes child */
cg_module *cg_module_child(cg_module *m, const char *name); /* borrowed; a dotted path: "blocks.0.attn" */
/* torch's `module.lm_head.weight = other.weight`: the parameter at name (a dotted path
 * from m) becomes p, shared with whoever else holds it (tying weights); p must be a
 * leaf made outside frames, of the old parameter's shape. Afterwards cg_parameters
 * and cg_param_at/name list p once, under its first name in state-dict order, as
 * torch's parameters() and named_parameters() do; cg_module_save writes it once under
 * the name safetensors' save_model keeps (the first in sorted order), and
 * cg_module_load takes it under any of its names. 0, or -1 leaving m as it was. */
int cg_module_set_param(cg_module *m, const char *name, cg_tensor *p);
const char *cg_module_child_name(const cg_module *m, int i); /* borrowed; the i-th child's name */
int cg_module_child_count(const cg_module *m);             /* number of submodules */
cg_module *cg_module_child_at(cg_module *m, int i);        /* borrowed: freed with its parent */

/* ---- Transformer parts: LayerNorm, GELU, Identity, MultiheadAttention ------------- */
/* LayerNorm over the last dim (torch.nn.LayerNorm(n)): weight ones, bias zeros. */
typedef struct {
    const char *given;
    int64_t normalized_shape;   /* required: the last dim's size */
    float eps;                  /* 1e-5 */
    bool elementwise_affine;    /* true */
} cg_layer_norm_opts;
cg_module *cg_layer_norm_new_with(cg_layer_norm_opts opts);
#define cg_layer_norm_new(...) cg_layer_norm_new_with(CG__OPTS(cg_layer_norm_opts, __VA_ARGS__))
typedef struct {
    const char *given;
    bool tanh;                  /* false; true: torch's approximate='tanh' */
} cg_gelu_opts;
cg_module *cg_gelu_new_with(cg_gelu_opts opts);
#define cg_gelu_new(...) cg_gelu_new_with(CG__OPTS(cg_gelu_opts, __VA_ARGS__))
cg_module *cg_identity_new(void);                          /* torch.nn.Identity: returns its input (as a view) */
/* torch.nn.MultiheadAttention(embed_dim, num_heads): in_proj_weight (3E, E),
 * in_proj_bias (3E), out_proj.weight and .bias, initialised as torch does. */
typedef struct {
    const char *given;
    int64_t embed_dim;          /* required */
    int num_heads;              /* required; divides embed_dim */
    float dropout;              /* 0: on the attention weights, in train mode */
    bool bias;                  /* true */
    bool batch_first;           /* false: (L, N, E); true: (N, L, E) */
    cg_generator *generator;    /* NULL: the default generator, for the initial weights and dropout */
} cg_multihead_attention_opts;
cg_module *cg_multihead_attention_new_with(cg_multihead_attention_opts opts);
#define cg_multihead_attention_new(...) cg_multihead_attention_new_with(CG__OPTS(cg_multihead_attention_opts, __VA_ARGS__))
/* The attention output, (L, N, E) (or as batch_first, or unbatched (L, E)), as
 * torch's forward(query, key, value, attn_mask=...)[0]; attn_mask (L, S) additive, may be NULL. */
cg_tensor *cg_multihead_attention_forward(cg_module *m, cg_tensor *query, cg_tensor *key, cg_tensor *value,
                                          cg_tensor *attn_mask);

/* ---- any module's forward ----------------------------------------------------------
 * One input, one output: Linear, Embedding, activations, Sequential; RNN, LSTM and GRU
 * give their output sequence (zero initial state). */
cg_tensor *cg_module_forward(cg_module *m, cg_tensor *x);

#ifdef __cplusplus
}
#endif
#endif
