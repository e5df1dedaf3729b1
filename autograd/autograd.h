/* cgrad — autograd: differentiable ops recorded on a tape as they run
 * (define-by-run, like PyTorch), and the engine that runs the tape backwards.
 *
 * Every op broadcasts as torch does where torch broadcasts, takes negative
 * dims, and on bad input (NULL, shapes that do not fit, a bad dim) returns
 * NULL, changes no input, and names the op and shapes in cg_last_error(). */
#ifndef CGRAD_AUTOGRAD_H
#define CGRAD_AUTOGRAD_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- gradients ------------------------------------------------------------ */
int cg_set_requires_grad(cg_tensor *t, bool on); /* leaves only; 0 or -1 */
bool cg_requires_grad(const cg_tensor *t);
bool cg_is_leaf(const cg_tensor *t);
/* .grad, or NULL before any backward. Borrowed: it belongs to t, lives where t
 * lives (t's frame, or outside frames) and goes with it; never free it. */
cg_tensor *cg_grad(const cg_tensor *t);
int cg_zero_grad(cg_tensor *t);                  /* zeroes .grad in place if it exists */
/* a leaf's .grad set to None (torch's `t.grad = None`, zero_grad(set_to_none=True)): cg_grad
 * gives NULL, optimizers and clipping pass it by, and the next backward stores its
 * gradient without adding to zeros (reusing the old buffer's memory: a pointer to the
 * old .grad then reads the new values). 0, or -1 for a tensor that is not a leaf. */
int cg_set_grad_none(cg_tensor *t);
/* A name shown in printouts and graph drawings (parameters get theirs from nn). */
int cg_set_name(cg_tensor *t, const char *name); /* the string must outlive t */
const char *cg_name(const cg_tensor *t);         /* borrowed */

/* Backward from a scalar root: .grad of every leaf that requires grad gets
 * d root / d leaf added to it. Returns 0, or -1 with an error. The graph is
 * freed after one backward unless .retain_graph is set. */
int cg_backward(cg_tensor *root);
typedef struct {
    const char *given;     /* filled in by the macro */
    cg_tensor *grad;       /* d loss / d root, root's shape; NULL: root must be a scalar, grad 1 */
    bool retain_graph;     /* allow another backward through the same graph */
} cg_backward_opts;
int cg_backward_with(cg_tensor *root, cg_backward_opts opts);
#define cg_backward_ex(...) cg_backward_with(CG__HEAD1(__VA_ARGS__, ), CG__OPTS(cg_backward_opts, CG__TAIL1(__VA_ARGS__, )))

/* No-grad regions nest: ops inside record no graph (optimizer updates, evaluation). */
void cg_no_grad_begin(void);
void cg_no_grad_end(void);
bool cg_grad_enabled(void);

/* Anomaly mode, like torch.autograd.detect_anomaly (for the whole process):
 * every op's result is checked for NaN (infinities are values there: a -inf
 * attention mask passes, as in torch) and every gradient backward computes for
 * NaN and Inf, and the first one fails its call (the op returns NULL, backward
 * -1) with a message naming the op, its grad_fn and its time step. Slow: for
 * finding where a NaN comes from, not for training runs. */
void cg_set_detect_anomaly(bool on);
bool cg_is_anomaly_enabled(void);

/* Which time step the next ops belong to, for graph drawings that cluster an
 * unrolled recurrent net by step; -1 (the default) for none. */
void cg_set_step(int step);

/* ---- elementwise, with broadcasting ---------------------------------------- */
cg_tensor *cg_add(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_sub(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_mul(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_div(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_pow(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_maximum(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_minimum(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_add_scalar(cg_tensor *a, float s);   /* a + s */
cg_tensor *cg_sub_scalar(cg_tensor *a, float s);   /* a - s */
cg_tensor *cg_rsub_scalar(cg_tensor *a, float s);  /* s - a */
cg_tensor *cg_mul_scalar(cg_tensor *a, float s);   /* a * s */
cg_tensor *cg_div_scalar(cg_tensor *a, float s);   /* a / s */
cg_tensor *cg_rdiv_scalar(cg_tensor *a, float s);  /* s / a */
cg_tensor *cg_pow_scalar(cg_tensor *a, float e);   /* a ** e */
cg_tensor *cg_neg(cg_tensor *x);
cg_tensor *cg_exp(cg_tensor *x);
cg_tensor *cg_log(cg_tensor *x);
cg_tensor *cg_sqrt(cg_tensor *x);
cg_tensor *cg_abs(cg_tensor *x);
cg_tensor *cg_tanh(cg_tensor *x);
cg_tensor *cg_sigmoid(cg_tensor *x);
cg_tensor *cg_relu(cg_tensor *x);
cg_tensor *cg_clamp(cg_tensor *x, float min, float max); /* NAN for no bound, as torch's None */
cg_tensor *cg_where(cg_tensor *cond, cg_tensor *a, cg_tensor *b); /* cond != 0 ? a : b */
cg_tensor *cg_gelu(cg_tensor *x);       /* torch's gelu, exact (erf) */
cg_tensor *cg_gelu_tanh(cg_tensor *x);  /* torch's gelu(approximate='tanh') */
/* value where mask != 0, t elsewhere; mask broadcasts with t (torch.masked_fill) */
cg_tensor *cg_masked_fill(cg_tensor *t, cg_tensor *mask, float value);
/* The lower (tril) or upper (triu) triangle of the last two dims from the given
 * diagonal (0 main, > 0 above, < 0 below), zeros elsewhere (torch.tril/triu). */
cg_tensor *cg_tril(cg_tensor *t, int64_t diagonal);
cg_tensor *cg_triu(cg_tensor *t, int64_t diagonal);
/* torch.nn.functional.layer_norm over the last nd dims; weight and bias (the
 * normalised shape) may be NULL. */
cg_tensor *cg_layer_norm(cg_tensor *x, int nd, cg_tensor *weight, cg_tensor *bias, float eps);

/* ---- linear algebra --------------------------------------------------------- */
cg_tensor *cg_matmul(cg_tensor *a, cg_tensor *b);   /* torch.matmul: 1-D, 2-D, batched with broadcast */
/* torch.nn.functional.linear: x (*, in) @ wᵀ (w is (out, in)) + b (out), b may be NULL. */
cg_tensor *cg_linear(cg_tensor *x, cg_tensor *w, cg_tensor *b);
/* acc + x wᵀ + b in one op (acc has the result's shape): cg_add(acc, cg_linear(x, w, b))
 * without the intermediate tensor. */
cg_tensor *cg_linear_add(cg_tensor *x, cg_tensor *w, cg_tensor *b, cg_tensor *acc);
/* Activations that can be fused into a linear op (and RNN's nonlinearity option). */
typedef enum { CG_TANH = 0, CG_RELU = 1 } cg_nonlinearity;
/* act(acc + x wᵀ + b), acc may be NULL: a recurrent step in one op, with one
 * tensor where cg_tanh(cg_linear_add(...)) makes two. */
cg_tensor *cg_linear_act(cg_tensor *x, cg_tensor *w, cg_tensor *b, cg_tensor *acc, cg_nonlinearity act);

/* ---- shapes ----------------------------------------------------------------- */
cg_tensor *cg_reshape(cg_tensor *t, int ndim, const int64_t *shape); /* one dim may be -1; a view */
cg_tensor *cg_view(cg_tensor *t, int ndim, const int64_t *shape);    /* same as reshape */
cg_tensor *cg_flatten(cg_tensor *t);                                 /* to 1-D */
cg_tensor *cg_squeeze(cg_tensor *t, int dim);
cg_tensor *cg_unsqueeze(cg_tensor *t, int dim);
cg_tensor *cg_transpose(cg_tensor *t, int dim0, int dim1);
cg_tensor *cg_permute(cg_tensor *t, int ndim, const int *dims);
cg_tensor *cg_t(cg_tensor *t); /* torch.t: a 2-D tensor transposed; 0-D and 1-D as they are */
#define CG_DIMS(...) CG__NARGS(__VA_ARGS__), (const int[]){__VA_ARGS__}
cg_tensor *cg_cat(cg_tensor *const *ts, int n, int dim);
cg_tensor *cg_stack(cg_tensor *const *ts, int n, int dim);
cg_tensor *cg_select(cg_tensor *t, int dim, int64_t index);          /* index may be negative */
cg_tensor *cg_narrow(cg_tensor *t, int dim, int64_t start, int64_t length);
cg_tensor *cg_slice(cg_tensor *t, int dim, int64_t start, int64_t end); /* t[start:end] along dim, python-style bounds */
/* torch.split(t, split_size, dim) and torch.chunk(t, chunks, dim): the pieces along dim
 * into out[0..n), each a view (SplitBackward0); returns how many, or -1 (more pieces
 * than n, a bad size). With out NULL and n 0 they only count. */
int cg_split(cg_tensor *t, int64_t split_size, int dim, cg_tensor **out, int n);
int cg_chunk(cg_tensor *t, int chunks, int dim, cg_tensor **out, int n);
cg_tensor *cg_index_select(cg_tensor *t, int dim, cg_tensor *index);  /* index: 1-D whole numbers */
cg_tensor *cg_gather(cg_tensor *t, int dim, cg_tensor *index);        /* torch.gather */
cg_tensor *cg_detach(cg_tensor *t);                                   /* a view outside the graph */
cg_tensor *cg_clone(cg_tensor *t);                                    /* a differentiable copy */
/* torch.Tensor.expand: size-1 dims and new leading dims repeated to sizes (-1 keeps a
 * dim); a view stepping 0 along the repeats; the gradient sums the repeats. */
cg_tensor *cg_expand(cg_tensor *t, int ndim, const int64_t *sizes);
/* torch.Tensor.contiguous: a strided view's values copied row-major (differentiable);
 * for a tensor already row-major, a view of it (a new handle: free both). */
cg_tensor *cg_contiguous(cg_tensor *t);

/* ---- reductions ------------------------------------------------------------- */
cg_tensor *cg_sum(cg_tensor *t);
cg_tensor *cg_sum_dim(cg_tensor *t, int dim, bool keepdim);
cg_tensor *cg_mean(cg_tensor *t);
cg_tensor *cg_mean_dim(cg_tensor *t, int dim, bool keepdim);
cg_tensor *cg_max(cg_tensor *t);                           /* gradient shared evenly among ties, as torch */
cg_tensor *cg_max_dim(cg_tensor *t, int dim, bool keepdim); /* values; gradient to the first maximum */
cg_tensor *cg_argmax(cg_tensor *t, int dim, bool keepdim);  /* indices as floats; not differentiable */
cg_tensor *cg_softmax(cg_tensor *t, int dim);
cg_tensor *cg_log_softmax(cg_tensor *t, int dim);
cg_tensor *cg_logsumexp(cg_tensor *t, int dim, bool keepdim);

/* ---- attention ------------------------------------------------------------------
 * torch.nn.functional.scaled_dot_product_attention as one op with its own
 * backward: softmax(q kᵀ · scale + attn_mask) v over the last two dims, q
 * (..., L, E), k (..., S, E), v (..., S, Ev) with the same leading dims. */
typedef struct {
    const char *given;
    cg_tensor *attn_mask;  /* NULL, or an additive float mask (L, S) or (..., L, S); no gradient */
    bool is_causal;        /* false: true masks out j > i (top-left, as torch); refused with an attn_mask, as torch */
    float dropout_p;       /* 0: the attention weights' dropout (training) */
    float scale;           /* not given: 1 / sqrt(E); given, used as given (torch >= 2.1: 0 too); NaN refused */
    cg_generator *generator; /* NULL: the default generator, for dropout's draws */
} cg_attention_opts;
cg_tensor *cg_scaled_dot_product_attention(cg_tensor *q, cg_tensor *k, cg_tensor *v);
cg_tensor *cg_scaled_dot_product_attention_with(cg_tensor *q, cg_tensor *k, cg_tensor *v, cg_attention_opts opts);
#define cg_scaled_dot_product_attention_ex(...)                                                              \
    cg_scaled_dot_product_attention_with(CG__HEAD3(__VA_ARGS__, ), CG__OPTS(cg_attention_opts, CG__TAIL3(__VA_ARGS__, )))
/* nanoGPT's attention over the heads as its c_attn Linear packs them: qkv (..., T, 3 E)
 * holds each token's q, k and v side by side, each n_head heads of E / n_head; returns
 * (..., T, E), the heads' outputs joined. The same numbers as splitting, viewing as
 * (..., T, n_head, E / n_head), transposing the heads forward, scaled dot-product
 * attention and back — without those transposes' copies (of the values nor of their
 * gradients): the products read each head where it lies. Options as above; a mask is
 * (T, T) or (..., n_head, T, T). */
cg_tensor *cg_packed_attention(cg_tensor *qkv, int n_head);
cg_tensor *cg_packed_attention_with(cg_tensor *qkv, int n_head, cg_attention_opts opts);
#define cg_packed_attention_ex(...) \
    cg_packed_attention_with(CG__HEAD2(__VA_ARGS__, ), CG__OPTS(cg_attention_opts, CG__TAIL2(__VA_ARGS__, )))

/* ---- losses and lookups ----------------------------------------------------- */
typedef enum { CG_MEAN = 0, CG_SUM, CG_NONE } cg_reduction;
typedef struct {
    const char *given;
    cg_reduction reduction;  /* CG_MEAN */
    int64_t ignore_index;    /* -100: targets equal to it add nothing (and are not counted by mean) */
    float label_smoothing;   /* 0 (cross_entropy only) */
    cg_tensor *weight;       /* NULL, or (C): each class's weight (nll_loss, cross_entropy) */
} cg_loss_opts;
/* logits (N, C), (C) or (N, C, d1, ...); target holds class ids as whole floats,
 * (N), () or (N, d1, ...) — or, with the logits' own shape, class probabilities
 * (torch's soft targets; ignore_index does not apply to them). */
cg_tensor *cg_cross_entropy(cg_tensor *logits, cg_tensor *target);
cg_tensor *cg_cross_entropy_with(cg_tensor *logits, cg_tensor *target, cg_loss_opts opts);
#define cg_cross_entropy_ex(...) cg_cross_entropy_with(CG__HEAD2(__VA_ARGS__, ), CG__LOSS_OPTS(CG__TAIL2(__VA_ARGS__, )))
cg_tensor *cg_nll_loss(cg_tensor *log_probs, cg_tensor *target);
cg_tensor *cg_nll_loss_with(cg_tensor *log_probs, cg_tensor *target, cg_loss_opts opts);
#define cg_nll_loss_ex(...) cg_nll_loss_with(CG__HEAD2(__VA_ARGS__, ), CG__LOSS_OPTS(CG__TAIL2(__VA_ARGS__, )))
cg_tensor *cg_mse_loss(cg_tensor *input, cg_tensor *target);
cg_tensor *cg_mse_loss_with(cg_tensor *input, cg_tensor *target, cg_loss_opts opts);
#define cg_mse_loss_ex(...) cg_mse_loss_with(CG__HEAD2(__VA_ARGS__, ), CG__LOSS_OPTS(CG__TAIL2(__VA_ARGS__, )))
#define CG__LOSS_OPTS(...) CG__OPTS(cg_loss_opts, __VA_ARGS__)

cg_tensor *cg_one_hot(cg_tensor *ids, int64_t num_classes);   /* (...) -> (..., C); not differentiable */
cg_tensor *cg_embedding(cg_tensor *weight, cg_tensor *ids);   /* weight (V, D), ids (...) -> (..., D) */
cg_tensor *cg_dropout(cg_tensor *x, float p, bool training);  /* torch's: zeroes with p, scales by 1/(1-p) */
cg_tensor *cg_dropout_gen(cg_tensor *x, float p, bool training, cg_generator *g); /* drawing from g (NULL: the default) */

/* ---- pictures of the graph: DOT text, and SVG/PNG through Graphviz ----------------- */
typedef struct {
    const char *given;
    bool values;          /* false; true: label each tensor with the norm of its values */
    bool grads;           /* false; true: label each tensor with the norm of its .grad */
    bool color_by_grad;   /* false; true: fill each tensor by its gradient norm on a log scale,
                             blue (vanishing) to red (exploding) */
    bool cluster_steps;   /* true: the nodes of each time step (cg_set_step) in a cluster */
    bool left_to_right;   /* true: data flows left to right, so time reads left to right */
    const char *title;    /* NULL: no title */
} cg_graph_opts;
/* Writes the graph behind root as DOT: op nodes (boxes) and tensor nodes (shape, and
 * their role: a parameter's name, loss, and in time step t x_t, h_t, c_t), edges in
 * the direction data flows, time steps as clusters laid out left to right. 0, or -1
 * on error. */
int cg_graph_dot_with(cg_tensor *root, FILE *out, cg_graph_opts opts);
#define cg_graph_dot(...) cg_graph_dot_with(CG__HEAD2(__VA_ARGS__, ), CG__OPTS(cg_graph_opts, CG__TAIL2(__VA_ARGS__, )))
/* Renders through Graphviz's library (libgvc); the format comes from the path's
 * ending (.svg, .png, .pdf). -1 with a clear message when built without Graphviz. */
int cg_graph_render_with(cg_tensor *root, const char *path, cg_graph_opts opts);
#define cg_graph_render(...) cg_graph_render_with(CG__HEAD2(__VA_ARGS__, ), CG__OPTS(cg_graph_opts, CG__TAIL2(__VA_ARGS__, )))
bool cg_graph_has_graphviz(void);
/* One self-contained HTML page (inline SVG laid out by Graphviz, inline script,
 * nothing fetched) where the reader steps the backward pass op by op, in the
 * order backward runs them, hovers or clicks a node for its op, role, values and
 * (once it has arrived) gradient, colours by gradient norm or value magnitude on
 * the graph's own range, zooms and pans, and collapses time steps into boxes that
 * keep the recurrent edges. Open it at PAGE#step=N to start at step N (also
 * #collapse, #expand, #zoom=Z, #show=tK). Needs Graphviz; 0 or -1. */
int cg_graph_html_with(cg_tensor *root, const char *path, cg_graph_opts opts);
/* The graph behind root as JSON, no Graphviz needed (the web graph page lays it out
 * itself): {"tensors": [{id, op, role, shape, step, numel, vnorm, values, gnorm,
 * grad}], "ops": [{id, out, name, args, inputs}]}, tensor "t0" the root, the ops in
 * the order backward runs them, args every input, inputs those that get a gradient.
 * 0, or -1 with an error. */
int cg_graph_json(cg_tensor *root, FILE *out);
#define cg_graph_html(...) cg_graph_html_with(CG__HEAD2(__VA_ARGS__, ), CG__OPTS(cg_graph_opts, CG__TAIL2(__VA_ARGS__, )))

/* ---- gradcheck ---------------------------------------------------------------- */
/* Compares the gradients backward gives for each input that requires grad with
 * central differences of fn. fn builds the output from the inputs; a non-scalar
 * output is reduced by a fixed random weighting. Each evaluation of fn starts
 * from the generator state of the call (random ops draw the same numbers each
 * time); afterwards the generators are where one call of fn leaves them. Returns 0 when they agree,
 * 1 when they do not (the worst element is in cg_last_error()), -1 on error. */
typedef cg_tensor *(*cg_gradcheck_fn)(cg_tensor **inputs, void *ctx);
typedef struct {
    const char *given;
    float eps;   /* 1e-3: the step of the differences */
    float atol;  /* 1e-3 */
    float rtol;  /* 1e-2: float32 differences are good to about this */
    cg_generator *generator; /* NULL; a generator fn draws from, restored before each evaluation
                                as the default one always is */
} cg_gradcheck_opts;
int cg_gradcheck_with(cg_gradcheck_fn fn, cg_tensor **inputs, int n, void *ctx, cg_gradcheck_opts opts);
#define cg_gradcheck(...) cg_gradcheck_with(CG__GRADCHECK_HEAD(__VA_ARGS__, ), CG__OPTS(cg_gradcheck_opts, CG__GRADCHECK_TAIL(__VA_ARGS__, )))
#define CG__GRADCHECK_HEAD(f, i, n, c, ...) f, i, n, c
#define CG__GRADCHECK_TAIL(f, i, n, c, ...) __VA_ARGS__

#ifdef __cplusplus
}
#endif
#endif
