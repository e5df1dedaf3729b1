/* cgrad — the tape: nodes, the op table entries, and helpers every op uses. */
#ifndef CGRAD_AUTOGRAD_INTERNAL_H
#define CGRAD_AUTOGRAD_INTERNAL_H

#include "autograd.h"
#include "kernels.h"

typedef struct cg_node cg_node;

/* One entry of the op table: the name PyTorch gives its grad_fn, and the
 * backward formula, which adds d loss / d input into each input's gradient
 * (cg__grad_buf) from gout = d loss / d output. It returns 0, or -1 (with an
 * error) when it could not finish — no memory for its scratch, a product that
 * could not run; the engine then undoes the whole pass. A gradient buffer that
 * could not be made is noticed by the engine itself (cg__grad_buf's NULL then
 * means "failed", not "needs none"). */
typedef struct {
    const char *name;
    int (*backward)(cg_node *n, const float *gout);
    unsigned saves;       /* what backward reads: CG_SAVES_IN(i), CG_SAVES_OUT */
    bool fills_after_record; /* writes its values after cg__record: checks them itself in anomaly mode */
} cg_op;

/* Which tensors an op's backward reads (so in-place writes to them since the
 * forward make backward refuse): inputs 0..3 and the output. */
#define CG_SAVED_SLOTS 5
#define CG_SAVED_OUT_SLOT 4
#define CG_SAVES_IN(i) (1u << (i))
#define CG_SAVES_OUT (1u << CG_SAVED_OUT_SLOT)

struct cg_node {
    const cg_op *op;
    cg_tensor *out;
    int nin;
    bool released;        /* a backward without retain_graph went through it */
    bool view;            /* out views in[0]'s values from element view_offset on */
    int64_t view_offset;
    uint32_t visit;       /* the engine's traversal mark */
    void *saved;          /* the op's own record (a struct named for the op: nll_saved, ...),
                             inside this node's block; NULL when the op keeps nothing */
    uint32_t saved_version[CG_SAVED_SLOTS]; /* versions of the tensors op->saves names, when recorded */
    cg_tensor *in[];      /* the inputs */
};

/* autograd's state for one tensor (PyTorch's AutogradMeta), made where the
 * tensor lives when it first needs one: when an op records the node that made
 * it (node and meta then share one block), or when a leaf is set to require grad. */
typedef struct {
    cg__meta head;        /* held: .grad (owned); requires_grad; grad_fn; param */
    bool grad_alias;      /* .grad is a view into the grad of the tensor this one views */
    bool grad_unwritten;  /* .grad's values are stale: it is zero for this pass until first written */
    bool grad_viewed;     /* views' gradients alias into .grad (so it is zeroed, never left stale) */
    bool grad_whole;      /* grad_alias of a view that is all of its base in order (a reshape, dropout's
                             identity): the base's grad_unwritten speaks for both, and it is not zeroed first */
    cg_node *node;        /* the op that made it; NULL for leaves */
    int step;             /* the time step (cg_set_step) it was made in; -1 none */
    uint32_t pass_mark;   /* a leaf: the backward pass that last noted its .grad for undoing */
} cg__autograd_meta;

static inline cg__autograd_meta *cg__ag(const cg_tensor *t) { return (cg__autograd_meta *)t->meta; }
static inline cg_node *cg__node_of(const cg_tensor *t) { return t->meta ? cg__ag(t)->node : NULL; }
static inline int cg__step_of(const cg_tensor *t) { return t->meta ? cg__ag(t)->step : -1; }
/* t's meta, made (where t lives) when it has none; NULL and an error when out of memory. */
cg__autograd_meta *cg__meta_make(cg_tensor *t, const char *op);
/* nn marks its parameters (for printing) through this, not a field of its own. */
int cg__mark_param(cg_tensor *t);

/* The one way an op finishes: records out as made by op from in[0..nin), when
 * grad mode is on and some input requires grad. The node keeps saved_size bytes
 * of the op's own record, the first args_size of them copied from args (the
 * rest, if any, for the op to fill through (*node)->saved). Returns out, or NULL
 * when the op must fail (out of memory, or anomaly mode found a NaN/Inf in out;
 * out is then freed when made outside frames); *node (if asked for) gets the
 * node, NULL when nothing was recorded. */
cg_tensor *cg__record(cg_tensor *out, const cg_op *op, int nin, cg_tensor *const *in, const void *args,
                      size_t args_size, size_t saved_size, cg_node **node);
/* The common forms: no record of the op's own, or one struct of it. */
#define CG__RECORD(out, op, nin, in) cg__record(out, op, nin, in, NULL, 0, 0, NULL)
#define CG__RECORD_WITH(out, op, nin, in, args) cg__record(out, op, nin, in, args, sizeof *(args), sizeof *(args), NULL)
/* Anomaly mode: out's values are all finite; otherwise an error naming the op
 * and its time step, out freed (outside frames), and false. True when off. */
bool cg__anomaly_forward_ok(cg_tensor *out, const cg_op *op);
/* The result of an op that fills its values after recording, checked. */
static inline cg_tensor *cg__forward_done(cg_tensor *out, const cg_op *op)
{
    return cg__anomaly_forward_ok(out, op) ? out : NULL;
}

/* The end of an op that could not finish (no memory for its own record or scratch;
 * the error is set): out goes (when made outside frames, a frame keeps its own). */
static inline cg_tensor *cg__forward_failed(cg_tensor *out)
{
    cg_tensor_free(out);
    return NULL;
}

/* Whether an op over these inputs will record (grad mode on, one requires grad). */
bool cg__needs_grad(int nin, cg_tensor *const *in);
/* The gradient buffer of t, zero-filled on first use; NULL if t needs no gradient.
 * A view's gradient is the matching part of its base's gradient (so the view op
 * has nothing to do in backward, and no buffer of its own is needed). */
float *cg__grad_buf(cg_tensor *t);
/* The same for an op that writes every element of t's gradient once (a one-to-one
 * backward): *overwrite says whether it holds nothing yet in this pass, so the op
 * stores (=) its contribution instead of adding it (+=) to zeros — no zero-fill. */
float *cg__grad_buf_to_write(cg_tensor *t, bool *overwrite);
/* Whether w's gradient product gᵀ · x over M rows may be put off (cg__grad_defer_product):
 * a backward pass is running, w is a leaf that views nothing, the product is short in k
 * (M < 128: a time step's batch) and not small (M * w's size >= 65536: the caller may ask
 * these two first, inline), and none of the node's other inputs (NULLs skipped) has its
 * gradient inside w's. */
bool cg__grad_deferrable(const cg_tensor *w, int nin, cg_tensor *const *others, int64_t M);
/* w's gradient += gᵀ · x (g: M x out_f, x: M x in_f, both read where they lie, so alive
 * and unchanged until the pass ends: a gradient of this pass, a saved input, or room
 * from cg__grad_defer_room), added with the others put off for w in products 256 rows
 * long: on a worker thread as soon as there are that many (two threads or more), the
 * rest when w's gradient is next asked for or the pass ends. Call it outside any
 * scratch frame. 0, or -1 (out of memory, reported). */
int cg__grad_defer_product(cg_tensor *w, const float *g, const float *x, int64_t M, int64_t out_f, int64_t in_f);
/* w (out_f x in_f) packed for the products g · w of M rows (cg__gemm_b_packed) that
 * flow a gradient back through it, when its gradient products are being put off for
 * this pass (so it meets many: a recurrent weight): packed once, at the second; else
 * NULL, and the products read w where it lies. */
const float *cg__grad_packed_weight(cg_tensor *w, int64_t M);
/* Room for n floats that lasts until the backward pass ends (not scratch: ask outside a
 * scratch frame); NULL when out of memory (reported). */
float *cg__grad_defer_room(int64_t n);
/* dst = v into a fresh buffer, else dst += v (a fresh buffer's old values are never read). */
#define CG__STORE_OR_ADD(dst, fresh, v) \
    do {                                \
        if (fresh)                      \
            (dst) = (v);                \
        else                            \
            (dst) += (v);               \
    } while (0)
/* Marks out (just recorded by node n) as a view of n->in[0] from element offset. */
void cg__mark_view(cg_node *n, int64_t offset);

/* An op's operand as its kernel reads it: x itself, or for a strided view its
 * values row-major in a tensor made beside it (recorded as cg_contiguous(x) when
 * x needs a gradient, so the gradient flows back through the view); refreshed at
 * each use. NULL (with an error) when out of memory. Every op that reads its
 * operands' values row-major takes them through this first. */
cg_tensor *cg__dense_strided(cg_tensor *x, const char *op);
static inline cg_tensor *cg__dense(cg_tensor *x, const char *op)
{
    return x && x->strided ? cg__dense_strided(x, op) : x;
}
/* An operand checked live (an error naming op if not), then as cg__dense makes it. */
static inline cg_tensor *cg__operand(cg_tensor *x, const char *op) { return cg__check(x, op) ? cg__dense(x, op) : NULL; }
/* The same for every operand of a list; false when one could not be made. */
bool cg__dense_all(int n, cg_tensor **ts, const char *op);

/* Shared shape checks: all inputs live, with op's name in the message. */
bool cg__check_all(int n, cg_tensor *const *ts, const char *op);
/* The result of an op over n operands broadcast together (checked live, shapes
 * broadcast as torch does), and *it the walk over it; NULL with an error naming op. */
cg_tensor *cg__broadcast_out(int n, cg_tensor **ops, const char *op, cg__bcast *it); /* ops become cg__dense's */

/* act(acc + x wᵀ + b) (acc, b may be NULL; act CG_TANH, CG_RELU or LINEAR_NO_ACT)
 * with w also given packed (cg__gemm_pack_b, or NULL): a recurrent weight packed
 * once for all T steps of a forward. The same op, values and backward as cg_linear_act. */
#define LINEAR_NO_ACT (-1)
cg_tensor *cg__linear_packed(cg_tensor *x, cg_tensor *w, const float *w_packed, cg_tensor *b, cg_tensor *acc, int act,
                             const char *op);

/* The pointwise part of a recurrent step as one op (ops_cells.c), for nn's LSTM and
 * GRU: hc = (h, c) stacked (2, ..., H) from gates (..., 4H) and c_prev (..., H); and
 * h' (..., H) from the input's gates xw, the state's hw (..., 3H) and h. Errors
 * name op, the function the user called. */
cg_tensor *cg__lstm_cell(cg_tensor *gates, cg_tensor *c_prev, const char *op);
cg_tensor *cg__gru_cell(cg_tensor *xw, cg_tensor *hw, cg_tensor *h, const char *op);

/* index_select reporting errors as the op the user called (cg_embedding). */
cg_tensor *cg__index_select(cg_tensor *t, int dim, cg_tensor *index, const char *op);

/* ---- graph pictures (graph.c), for the page graph_html.c writes ---- */
/* Every tensor behind root, in the order the DOT text numbers them (tensor k is
 * node "tk", the op that made it "opk"); malloc'd, NULL + error when out of memory. */
cg_tensor **cg__graph_tensors(cg_tensor *root, size_t *n);
double cg__norm_of(const cg_tensor *t);
/* Each tensor's label (graph_roles.c): its name, "loss" at the root, x_t, h_t, c_t
 * in a time step, or "" when it has no role to name; calloc'd, NULL + error when
 * out of memory. */
typedef char cg__role[32];
cg__role *cg__graph_roles(cg_tensor **ts, size_t n);
/* Graphviz's layout rendered to path, or into *data (malloc'd) when path is NULL. */
int cg__graph_layout(cg_tensor *root, cg_graph_opts opts, const char *format, const char *path, char **data,
                     size_t *len, const char *op);

/* Reads a whole-number index tensor value; false (and an error) if it is not whole or not in [0, n). */
bool cg__index_ok(float v, int64_t n, int64_t *out, const char *op);

#endif
