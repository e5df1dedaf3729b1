/* cgrad — ops that move values without computing: views, transposes, joins,
 * selections and lookups. Each backward puts the gradient back where the
 * forward took the value from. */
#include "autograd_internal.h"
#include <string.h>

/* ---- reshape / view (a view: the result shares the input's values) ------------- */

static int reshape_backward(cg_node *n, const float *g)
{
    float *gx = cg__grad_buf(n->in[0]);
    if (gx)
        for (int64_t i = 0; i < n->out->numel; i++)
            gx[i] += g[i];
    return 0;
}
static const cg_op reshape_op = {.name = "ViewBackward0", .backward = reshape_backward, .saves = 0};
/* torch's names for the same view made by other calls (and reshape's view of its copy) */
static const cg_op squeeze_op = {.name = "SqueezeBackward1", .backward = reshape_backward, .saves = 0};
static const cg_op unsqueeze_op = {.name = "UnsqueezeBackward0", .backward = reshape_backward, .saves = 0};
static const cg_op unsafe_view_op = {.name = "UnsafeViewBackward0", .backward = reshape_backward, .saves = 0};


/* The strides that let shape view a strided tensor's elements in row-major order,
 * as torch's computeStride finds them: dims of the new shape must each lie within
 * one run of old dims that are laid out one after the other. False when none do. */
static bool view_strides(const cg_tensor *t, int ndim, const int64_t *shape, int64_t *stride)
{
    if (t->numel == 0 || t->ndim == 0) { /* any strides describe no element, or one */
        int64_t s = 1;
        for (int d = ndim - 1; d >= 0; d--) {
            stride[d] = s;
            s *= shape[d] ? shape[d] : 1;
        }
        return true;
    }
    int view_d = ndim - 1;
    int64_t chunk_base = t->strided->stride[t->ndim - 1], tensor_numel = 1, view_numel = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        tensor_numel *= t->shape[d];
        bool chunk_ends = d == 0 || (t->shape[d - 1] != 1 && t->strided->stride[d - 1] != tensor_numel * chunk_base);
        if (!chunk_ends)
            continue;
        while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
            stride[view_d] = view_numel * chunk_base;
            view_numel *= shape[view_d];
            view_d--;
        }
        if (view_numel != tensor_numel)
            return false;
        if (d > 0) {
            chunk_base = t->strided->stride[d - 1];
            tensor_numel = view_numel = 1;
        }
    }
    return view_d == -1;
}

static cg_tensor *reshape_as(cg_tensor *t, int ndim, const int64_t *shape, const char *name, const cg_op *op);

/* A strided tensor seen with another shape: a view when its strides allow one;
 * otherwise cg_view refuses, as torch's view does, and cg_reshape copies first. */
static cg_tensor *reshape_strided(cg_tensor *t, int ndim, const int64_t *shape, const char *name, const cg_op *op)
{
    int64_t stride[CG_MAX_DIMS];
    if (view_strides(t, ndim, shape, stride)) {
        cg_tensor *out = cg__strided_view(t, ndim, shape, stride, 0);
        cg_node *node;
        out = out ? cg__record(out, op, 1, &t, NULL, 0, 0, &node) : NULL;
        if (out)
            cg__mark_view(node, 0); /* the gradient is row-major whatever the values' strides */
        return out;
    }
    if (!strcmp(name, "cg_view")) {
        char a[CG_SHAPE_BUF];
        cg__error("cg_view: view size %s is not compatible with input tensor's size and stride (at least one "
                  "dimension spans across two contiguous subspaces); use cg_reshape, which copies",
                  cg__shape_fmt(a, ndim, shape));
        return NULL;
    }
    cg_tensor *copy = cg_contiguous(t);
    cg_tensor *out = copy ? reshape_as(copy, ndim, shape, name, &unsafe_view_op) : NULL;
    cg_tensor_free(copy); /* the view keeps it (outside frames) */
    return out;
}

/* t viewed with shape, recorded as op (torch's name for the call that made it). */
static cg_tensor *reshape_as(cg_tensor *t, int ndim, const int64_t *shape, const char *name, const cg_op *op)
{
    if (!cg__check(t, name))
        return NULL;
    char a[CG_SHAPE_BUF], b[CG_SHAPE_BUF];
    if (ndim < 0 || ndim > CG_MAX_DIMS || (ndim > 0 && !shape)) {
        cg__error("%s: bad target shape (%d dims)", name, ndim);
        return NULL;
    }
    int64_t s[CG_MAX_DIMS], known = 1;
    int infer = -1;
    for (int d = 0; d < ndim; d++) {
        s[d] = shape[d];
        if (s[d] == -1 && infer < 0) {
            infer = d;
        } else if (s[d] < 0) {
            cg__error("%s: invalid target shape %s", name, cg__shape_fmt(a, ndim, shape));
            return NULL;
        } else if (__builtin_mul_overflow(known, s[d], &known)) {
            /* checked before it overflows: no product of sizes is UB */
            cg__error("%s: shape %s is invalid for input of shape %s", name,
                      cg__shape_fmt(a, ndim, shape), cg__shape_fmt(b, t->ndim, t->shape));
            return NULL;
        }
    }
    if (infer >= 0) {
        if (known == 0 || t->numel % known != 0) {
            cg__error("%s: shape %s is invalid for input of shape %s", name,
                      cg__shape_fmt(a, ndim, shape), cg__shape_fmt(b, t->ndim, t->shape));
            return NULL;
        }
        s[infer] = t->numel / known;
        known *= s[infer];
    }
    if (known != t->numel) {
        cg__error("%s: shape %s is invalid for input of shape %s (%lld elements)", name,
                  cg__shape_fmt(a, ndim, shape), cg__shape_fmt(b, t->ndim, t->shape), (long long)t->numel);
        return NULL;
    }
    if (t->strided)
        return reshape_strided(t, ndim, s, name, op);
    cg_tensor *out = cg__view(t, ndim, s, 0);
    cg_node *node;
    out = out ? cg__record(out, op, 1, &t, NULL, 0, 0, &node) : NULL;
    if (out)
        cg__mark_view(node, 0);
    return out;
}

static cg_tensor *reshape_named(cg_tensor *t, int ndim, const int64_t *shape, const char *name)
{
    return reshape_as(t, ndim, shape, name, &reshape_op);
}

cg_tensor *cg_reshape(cg_tensor *t, int ndim, const int64_t *shape)
{
    return reshape_named(t, ndim, shape, "cg_reshape");
}

cg_tensor *cg_view(cg_tensor *t, int ndim, const int64_t *shape) { return reshape_named(t, ndim, shape, "cg_view"); }

cg_tensor *cg_flatten(cg_tensor *t) { return reshape_named(t, CG_SHAPE(-1), "cg_flatten"); }

cg_tensor *cg_squeeze(cg_tensor *t, int dim)
{
    if (!cg__check(t, "cg_squeeze"))
        return NULL;
    int d = cg__dim(dim, t->ndim, "cg_squeeze");
    if (d < 0)
        return NULL;
    if (t->ndim == 0 || t->shape[d] != 1) /* torch leaves a dim that is not 1 alone */
        return reshape_as(t, t->ndim, t->shape, "cg_squeeze", &squeeze_op);
    int64_t s[CG_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < t->ndim; i++)
        if (i != d)
            s[nd++] = t->shape[i];
    return reshape_as(t, nd, s, "cg_squeeze", &squeeze_op);
}

cg_tensor *cg_unsqueeze(cg_tensor *t, int dim)
{
    if (!cg__check(t, "cg_unsqueeze"))
        return NULL;
    if (t->ndim == CG_MAX_DIMS) {
        cg__error("cg_unsqueeze: already %d dims", CG_MAX_DIMS);
        return NULL;
    }
    int d = cg__dim(dim, t->ndim + 1, "cg_unsqueeze");
    if (d < 0)
        return NULL;
    int64_t s[CG_MAX_DIMS];
    for (int i = 0, j = 0; i <= t->ndim; i++)
        s[i] = i == d ? 1 : t->shape[j++];
    return reshape_as(t, t->ndim + 1, s, "cg_unsqueeze", &unsqueeze_op);
}

/* ---- permute / transpose (views with their strides reordered) ------------------- */

/* The backward: the output's gradient `from` added into the input's `to`, each element
 * where the permutation took it from (gradients are row-major whatever the strides). */
static void permute_add_back(const cg_tensor *src, const int *perm, int ndim, const int64_t *out_shape,
                             const float *from, float *to)
{
    int64_t in_stride[CG_MAX_DIMS], stride[CG_MAX_DIMS], idx[CG_MAX_DIMS] = {0};
    int64_t s = 1;
    for (int d = src->ndim - 1; d >= 0; d--) {
        in_stride[d] = s;
        s *= src->shape[d];
    }
    for (int d = 0; d < ndim; d++)
        stride[d] = in_stride[perm[d]];
    if (src->numel == 0)
        return;
    /* trailing dims that stay contiguous in the source move as one run */
    int nd = ndim;
    int64_t run = 1;
    while (nd > 0 && stride[nd - 1] == run)
        run *= out_shape[--nd];
    int64_t runs = src->numel / run, off = 0;
    for (int64_t i = 0; i < runs; i++) {
        for (int64_t j = 0; j < run; j++)
            to[off + j] += from[i * run + j];
        for (int d = nd - 1; d >= 0; d--) {
            off += stride[d];
            if (++idx[d] < out_shape[d])
                break;
            off -= stride[d] * out_shape[d];
            idx[d] = 0;
        }
    }
}

/* What a permute node keeps: the order of the dims. */
typedef struct {
    int perm[CG_MAX_DIMS];
} permute_saved;

static int permute_backward(cg_node *n, const float *g)
{
    const permute_saved *sv = n->saved;
    float *gx = cg__grad_buf(n->in[0]);
    if (gx)
        permute_add_back(n->in[0], sv->perm, n->out->ndim, n->out->shape, g, gx);
    return 0;
}
static const cg_op permute_op = {.name = "PermuteBackward0", .backward = permute_backward, .saves = 0};
static const cg_op transpose_op = {.name = "TransposeBackward0", .backward = permute_backward, .saves = 0};
static const cg_op t_op = {.name = "TBackward0", .backward = permute_backward, .saves = 0};

/* t's dims reordered, recorded as op (torch's name for the call that made it). */
static cg_tensor *permute_as(cg_tensor *t, int ndim, const int *dims, const char *name, const cg_op *op)
{
    if (!cg__check(t, name))
        return NULL;
    if (!dims || ndim != t->ndim) {
        cg__error("%s: %d dims given for a tensor of %d dims", name, dims ? ndim : 0, t->ndim);
        return NULL;
    }
    int perm[CG_MAX_DIMS];
    bool seen[CG_MAX_DIMS] = {false};
    int64_t shape[CG_MAX_DIMS];
    for (int d = 0; d < ndim; d++) {
        perm[d] = cg__dim(dims[d], ndim, name);
        if (perm[d] < 0)
            return NULL;
        if (seen[perm[d]]) {
            cg__error("%s: dim %d repeated", name, perm[d]);
            return NULL;
        }
        seen[perm[d]] = true;
        shape[d] = t->shape[perm[d]];
    }
    /* a view: the same storage walked in the new order of dims */
    int64_t in_stride[CG_MAX_DIMS], stride[CG_MAX_DIMS];
    cg__strides(t, in_stride);
    for (int d = 0; d < ndim; d++)
        stride[d] = in_stride[perm[d]];
    cg_tensor *out = cg__strided_view(t, ndim, shape, stride, 0);
    if (!out)
        return NULL;
    permute_saved sv;
    memcpy(sv.perm, perm, sizeof sv.perm);
    return CG__RECORD_WITH(out, op, 1, &t, &sv);
}

cg_tensor *cg_permute(cg_tensor *t, int ndim, const int *dims) { return permute_as(t, ndim, dims, "cg_permute", &permute_op); }

cg_tensor *cg_transpose(cg_tensor *t, int dim0, int dim1)
{
    if (!cg__check(t, "cg_transpose"))
        return NULL;
    int nd = t->ndim ? t->ndim : 1;
    int d0 = cg__dim(dim0, t->ndim, "cg_transpose"), d1 = d0 < 0 ? -1 : cg__dim(dim1, t->ndim, "cg_transpose");
    if (d0 < 0 || d1 < 0)
        return NULL;
    if (t->ndim == 0)
        return cg_reshape(t, 0, NULL);
    int perm[CG_MAX_DIMS];
    for (int d = 0; d < nd; d++)
        perm[d] = d;
    perm[d0] = d1;
    perm[d1] = d0;
    return permute_as(t, t->ndim, perm, "cg_transpose", &transpose_op);
}

cg_tensor *cg_t(cg_tensor *t)
{
    if (!cg__check(t, "cg_t"))
        return NULL;
    if (t->ndim > 2) {
        cg__error("cg_t: expects a tensor with <= 2 dimensions, but self is %dD", t->ndim);
        return NULL;
    }
    return permute_as(t, t->ndim, t->ndim == 2 ? (const int[]){1, 0} : (const int[]){0}, "cg_t", &t_op);
}

/* ---- cat / stack --------------------------------------------------------------- */

/* What a cat or stack node keeps (its inputs are the joined tensors). */
typedef struct {
    int dim;
    bool stack;
} join_saved;

/* The joined tensor's blocks and its parts' (part k: len[k] along dim, or 1 stacked),
 * copied one way or the other; parts over the threads when there is much to copy (a
 * sequence's steps stacked, and their gradients back), each part as one thread does it. */
typedef struct {
    float *whole;
    float **part;        /* each part's values (NULL: no gradient wanted) */
    const bool *fresh;   /* backward: nothing in the part's gradient yet (stored, not added) */
    const cg_tensor *const *in; /* the parts' tensors: their len along dim */
    cg__dim_split so;
    int dim;
    bool stack, into_whole;
} join_job;

#define JOIN_THREADED 65536 /* floats */

static void join_blocks(void *ctx, int64_t k0, int64_t k1)
{
    const join_job *j = ctx;
    int64_t at = 0;
    for (int64_t k = 0; k < k0; k++)
        at += j->stack ? 1 : j->in[k]->shape[j->dim];
    for (int64_t k = k0; k < k1; k++) {
        int64_t len = j->stack ? 1 : j->in[k]->shape[j->dim], n = len * j->so.inner; /* stacked parts lack the dim */
        for (int64_t o = 0; j->part[k] && o < j->so.outer; o++) {
            float *whole = j->whole + (o * j->so.n + at) * j->so.inner, *part = j->part[k] + o * n;
            if (j->into_whole)
                memcpy(whole, part, sizeof(float) * (size_t)n);
            else if (j->fresh[k])
                memcpy(part, whole, sizeof(float) * (size_t)n);
            else
                for (int64_t e = 0; e < n; e++)
                    part[e] += whole[e];
        }
        at += len;
    }
}

static void run_join(join_job *j, int nparts, int64_t numel)
{
    int threads = numel >= JOIN_THREADED && nparts > 1 ? cg_get_num_threads() : 1;
    if (threads > 1)
        cg__parallel_range(nparts, (nparts + threads - 1) / threads, join_blocks, j);
    else
        join_blocks(j, 0, nparts);
}

/* The parts JOIN_BATCH at a time: fill gives a batch's values (and freshness), here on
 * this thread and in order (a strided part's row-major copy, a part's gradient: in the
 * caller's frame, not a scratch frame's, where each would be a system block of its own
 * mapped anew each step), then the batch is copied; -1 when fill fails. */
#define JOIN_BATCH 64
typedef bool (*join_fill)(cg_tensor *const *in, int nb, float **part, bool *fresh, const char *name);

static int join_batches(const join_job *whole, cg_tensor *const *in, int n, int64_t numel, join_fill fill,
                        const char *name)
{
    int64_t at = 0;
    for (int k0 = 0; k0 < n; k0 += JOIN_BATCH) {
        int nb = n - k0 < JOIN_BATCH ? n - k0 : JOIN_BATCH;
        float *part[JOIN_BATCH];
        bool fresh[JOIN_BATCH];
        if (!fill(in + k0, nb, part, fresh, name))
            return -1;
        join_job j = *whole;
        j.whole += at * j.so.inner, j.part = part, j.fresh = fresh, j.in = (const cg_tensor *const *)in + k0;
        run_join(&j, nb, numel / n * nb);
        for (int k = 0; k < nb; k++)
            at += j.stack ? 1 : in[k0 + k]->shape[j.dim];
    }
    return 0;
}

static bool gradients_of(cg_tensor *const *in, int nb, float **part, bool *fresh, const char *name)
{
    (void)name;
    for (int k = 0; k < nb; k++)
        part[k] = cg__grad_buf_to_write(in[k], &fresh[k]);
    return true;
}

/* Every input's block along dim: the gradient goes back block by block. */
static int cat_backward(cg_node *n, const float *g)
{
    const join_saved *sv = n->saved;
    join_job j = {(float *)g, NULL, NULL, NULL, cg__split_at(n->out, sv->dim), sv->dim, sv->stack, false};
    return join_batches(&j, n->in, n->nin, n->out->numel, gradients_of, "cg_backward");
}
static const cg_op cat_op = {.name = "CatBackward0", .backward = cat_backward, .saves = 0};
static const cg_op stack_op = {.name = "StackBackward0", .backward = cat_backward, .saves = 0};

/* a strided view's values row-major (the node keeps the view: backward reads no value) */
static bool values_of(cg_tensor *const *in, int nb, float **part, bool *fresh, const char *name)
{
    (void)fresh;
    for (int k = 0; k < nb; k++) {
        cg_tensor *src = cg__dense_plain(in[k], name);
        if (!src)
            return false;
        part[k] = src->data;
    }
    return true;
}

/* Joins inputs along dim of the result; for stack each input is seen with a
 * size-1 dim there, so both share the copy and the backward. */
static cg_tensor *join(cg_tensor *const *ts, int n, int dim, bool stack, const char *name)
{
    if (!ts || n <= 0) {
        cg__error("%s: expects a non-empty list of tensors", name);
        return NULL;
    }
    if (!cg__check_all(n, ts, name))
        return NULL;
    const cg_tensor *first = ts[0];
    int nd = stack ? first->ndim + 1 : first->ndim;
    if (nd == 0 || nd > CG_MAX_DIMS) {
        cg__error("%s: cannot join tensors of %d dims", name, first->ndim);
        return NULL;
    }
    int d = cg__dim(dim, nd, name);
    if (d < 0)
        return NULL;
    int64_t shape[CG_MAX_DIMS];
    for (int i = 0, j = 0; i < nd; i++)
        shape[i] = (stack && i == d) ? 1 : first->shape[j++];
    int64_t total = 0;
    for (int k = 0; k < n; k++) {
        bool ok = ts[k]->ndim == first->ndim;
        for (int i = 0, j = 0; ok && i < nd; i++) {
            if (stack && i == d)
                continue;
            int64_t s = ts[k]->shape[j++];
            ok = stack || i == d ? (stack ? s == shape[i] : true) : s == shape[i];
        }
        if (!ok) {
            char a[CG_SHAPE_BUF], b[CG_SHAPE_BUF];
            cg__error("%s: tensor %d has shape %s, tensor 0 has %s (they must match %s)", name, k,
                      cg__shape_fmt(a, ts[k]->ndim, ts[k]->shape), cg__shape_fmt(b, first->ndim, first->shape),
                      stack ? "exactly" : "except in the joined dim");
            return NULL;
        }
        if (__builtin_add_overflow(total, stack ? 1 : ts[k]->shape[d], &total)) {
            cg__error("%s: the joined size overflows", name);
            return NULL;
        }
    }
    shape[d] = total;
    cg_tensor *out = cg__new(nd, shape, name);
    if (!out)
        return NULL;
    join_job j = {out->data, NULL, NULL, NULL, cg__split_at(out, d), d, stack, true};
    if (out->numel > 0 && join_batches(&j, ts, n, out->numel, values_of, name) < 0)
        return cg__forward_failed(out);
    /* The node's input list is the tensors themselves. */
    join_saved sv = {d, stack};
    return CG__RECORD_WITH(out, stack ? &stack_op : &cat_op, n, ts, &sv);
}

cg_tensor *cg_cat(cg_tensor *const *ts, int n, int dim) { return join(ts, n, dim, false, "cg_cat"); }
cg_tensor *cg_stack(cg_tensor *const *ts, int n, int dim) { return join(ts, n, dim, true, "cg_stack"); }

/* ---- narrow / slice / select ------------------------------------------------------ */

/* What a narrow or select node keeps: the values it took along dim. */
typedef struct {
    int dim;
    int64_t start, len;
} narrow_saved;

static int narrow_backward(cg_node *n, const float *g)
{
    const narrow_saved *sv = n->saved;
    cg_tensor *x = n->in[0];
    float *gx = cg__grad_buf(x);
    if (!gx || n->out->numel == 0)
        return 0;
    int dim = sv->dim;
    int64_t start = sv->start, len = sv->len;
    cg__dim_split s = cg__split_at(x, dim);
    for (int64_t o = 0; o < s.outer; o++)
        for (int64_t j = 0; j < len * s.inner; j++)
            gx[(o * s.n + start) * s.inner + j] += g[o * len * s.inner + j];
    return 0;
}
static const cg_op narrow_op = {.name = "SliceBackward0", .backward = narrow_backward, .saves = 0};
static const cg_op select_op = {.name = "SelectBackward0", .backward = narrow_backward, .saves = 0};
static const cg_op split_op = {.name = "SplitBackward0", .backward = narrow_backward, .saves = 0};

/* The values of x along dim from start, len of them; dropping the dim for select:
 * a view of x's storage. */
static cg_tensor *take(cg_tensor *x, int d, int64_t start, int64_t len, bool drop, const cg_op *op)
{
    int64_t shape[CG_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++)
        if (!(drop && i == d))
            shape[nd++] = i == d ? len : x->shape[i];
    cg__dim_split s = cg__split_at(x, d);
    cg_tensor *out;
    /* Along the first dim of a row-major tensor the part is row-major too, and its
     * gradient a part of x's; elsewhere it is a strided view. */
    bool view = s.outer == 1 && !x->strided;
    if (view) {
        out = cg__view_part(x, nd, shape, len * s.inner, start * s.inner);
    } else {
        int64_t in_stride[CG_MAX_DIMS], stride[CG_MAX_DIMS];
        cg__strides(x, in_stride);
        for (int i = 0, j = 0; i < x->ndim; i++)
            if (!(drop && i == d))
                stride[j++] = in_stride[i];
        out = cg__strided_view(x, nd, shape, stride, len ? start * in_stride[d] : 0);
    }
    if (!out)
        return NULL;
    cg_node *node;
    narrow_saved sv = {d, start, len};
    out = cg__record(out, op, 1, &x, &sv, sizeof sv, sizeof sv, &node);
    if (out && view)
        cg__mark_view(node, start * s.inner);
    return out;
}

cg_tensor *cg_narrow(cg_tensor *t, int dim, int64_t start, int64_t length)
{
    if (!cg__check(t, "cg_narrow"))
        return NULL;
    if (t->ndim == 0) {
        cg__error("cg_narrow: cannot narrow a 0-d tensor");
        return NULL;
    }
    int d = cg__dim(dim, t->ndim, "cg_narrow");
    if (d < 0)
        return NULL;
    int64_t size = t->shape[d];
    if (start < 0)
        start += size;
    if (start < 0 || length < 0 || start > size || length > size - start) {
        cg__error("cg_narrow: start %lld, length %lld out of range for dim %d of size %lld",
                  (long long)start, (long long)length, d, (long long)size);
        return NULL;
    }
    return take(t, d, start, length, false, &narrow_op);
}

cg_tensor *cg_slice(cg_tensor *t, int dim, int64_t start, int64_t end)
{
    if (!cg__check(t, "cg_slice"))
        return NULL;
    if (t->ndim == 0) {
        cg__error("cg_slice: cannot slice a 0-d tensor");
        return NULL;
    }
    int d = cg__dim(dim, t->ndim, "cg_slice");
    if (d < 0)
        return NULL;
    int64_t size = t->shape[d];
    /* Python's rules: negatives count from the end, then clip to [0, size]. */
    if (start < 0)
        start += size;
    if (end < 0)
        end += size;
    start = start < 0 ? 0 : (start > size ? size : start);
    end = end < start ? start : (end > size ? size : end);
    return take(t, d, start, end - start, false, &narrow_op);
}

cg_tensor *cg_select(cg_tensor *t, int dim, int64_t index)
{
    if (!cg__check(t, "cg_select"))
        return NULL;
    if (t->ndim == 0) {
        cg__error("cg_select: cannot select from a 0-d tensor");
        return NULL;
    }
    int d = cg__dim(dim, t->ndim, "cg_select");
    if (d < 0)
        return NULL;
    int64_t size = t->shape[d];
    if (index < -size || index >= size) {
        cg__error("cg_select: index %lld out of range for dim %d of size %lld", (long long)index, d,
                  (long long)size);
        return NULL;
    }
    return take(t, d, index < 0 ? index + size : index, 1, true, &select_op);
}

/* torch.split / torch.chunk: count pieces along dim, each `each` long but the last
 * (what is left), each a view as cg_narrow's. Returns count, or -1 with an error;
 * with out NULL and n 0, only the count. */
static int split_into(cg_tensor *t, int d, int64_t count, int64_t each, cg_tensor **out, int n, const char *name)
{
    if (!out && n == 0)
        return (int)count;
    if (!out || count > n) {
        cg__error("%s: %lld pieces, room for %d in out", name, (long long)count, out ? n : 0);
        return -1;
    }
    int64_t size = t->shape[d];
    for (int64_t k = 0; k < count; k++) {
        int64_t start = k * each < size ? k * each : size, len = size - start < each ? size - start : each;
        if (!(out[k] = take(t, d, start, len, false, &split_op))) {
            for (int64_t j = 0; j < k; j++) /* all or nothing (outside frames, the made ones go) */
                cg_tensor_free(out[j]);
            return -1;
        }
    }
    return (int)count;
}

/* The split dim, checked (a tensor of at least 1 dim), or -1. */
static int split_dim(cg_tensor *t, int dim, const char *name)
{
    if (!cg__check(t, name))
        return -1;
    if (t->ndim == 0) {
        cg__error("%s: expects at least a 1-dimensional tensor", name);
        return -1;
    }
    return cg__dim(dim, t->ndim, name);
}

#define MAX_PIECES (INT64_C(1) << 24)

int cg_split(cg_tensor *t, int64_t split_size, int dim, cg_tensor **out, int n)
{
    int d = split_dim(t, dim, "cg_split");
    if (d < 0)
        return -1;
    int64_t size = t->shape[d];
    if (split_size < 0 || (split_size == 0 && size != 0)) {
        cg__error("cg_split: split_size can only be 0 if dimension size is 0, but got split_size %lld for a "
                  "dimension size of %lld", (long long)split_size, (long long)size);
        return -1;
    }
    int64_t count = size ? (size + split_size - 1) / split_size : 1; /* a size-0 dim: one empty piece */
    if (count > MAX_PIECES) {
        cg__error("cg_split: %lld pieces is too many", (long long)count);
        return -1;
    }
    return split_into(t, d, count, split_size, out, n, "cg_split");
}

int cg_chunk(cg_tensor *t, int chunks, int dim, cg_tensor **out, int n)
{
    int d = split_dim(t, dim, "cg_chunk");
    if (d < 0)
        return -1;
    if (chunks <= 0) {
        cg__error("cg_chunk: chunk expects `chunks` to be greater than 0, got: %d", chunks);
        return -1;
    }
    int64_t size = t->shape[d], each = (size + chunks - 1) / chunks;
    /* torch: pieces of ceil(size / chunks), so maybe fewer than chunks; a size-0 dim gives chunks empty ones */
    return split_into(t, d, size ? (size + each - 1) / each : chunks, each, out, n, "cg_chunk");
}

/* ---- index_select / gather / embedding (indices as whole floats) ----------------- */

bool cg__index_ok(float v, int64_t n, int64_t *out, const char *op)
{
    if (!(v == floorf(v)) || v < 0 || v >= (float)n) {
        cg__error("%s: index %g is not a whole number in [0, %lld)", op, (double)v, (long long)n);
        return false;
    }
    *out = (int64_t)v;
    return true;
}

static bool check_indices(const cg_tensor *idx, int64_t n, const char *op)
{
    int64_t k;
    for (int64_t i = 0; i < idx->numel; i++)
        if (!cg__index_ok(idx->data[i], n, &k, op))
            return false;
    return true;
}

/* What an index_select node keeps (the index is its input 1). */
typedef struct {
    int dim;
} index_select_saved;

static int index_select_backward(cg_node *n, const float *g)
{
    const index_select_saved *sv = n->saved;
    cg_tensor *x = n->in[0], *idx = n->in[1];
    float *gx = cg__grad_buf(x);
    if (!gx || n->out->numel == 0)
        return 0;
    int d = sv->dim;
    cg__dim_split s = cg__split_at(x, d);
    int64_t k = idx->numel;
    for (int64_t o = 0; o < s.outer; o++)
        for (int64_t j = 0; j < k; j++) {
            float *dst = gx + (o * s.n + (int64_t)idx->data[j]) * s.inner;
            const float *src = g + (o * k + j) * s.inner;
            for (int64_t i = 0; i < s.inner; i++)
                dst[i] += src[i];
        }
    return 0;
}
static const cg_op index_select_op = {.name = "IndexSelectBackward0", .backward = index_select_backward, .saves = CG_SAVES_IN(1)};

cg_tensor *cg__index_select(cg_tensor *t, int dim, cg_tensor *index, const char *op)
{
    cg_tensor *ins[2] = {t, index};
    if (!cg__dense_all(2, ins, op))
        return NULL;
    t = ins[0], index = ins[1];
    int d = cg__dim(dim, t->ndim, op);
    if (d < 0)
        return NULL;
    if (index->ndim > 1) {
        cg__error("%s: index must be 0-d or 1-D, got %d dims", op, index->ndim);
        return NULL;
    }
    if (t->ndim == 0 && index->numel != 1) { /* torch: index to a scalar has one value */
        cg__error("%s: index to a 0-d tensor can have only 1 value, got %lld", op, (long long)index->numel);
        return NULL;
    }
    int64_t size = t->ndim ? t->shape[d] : 1;
    if (!check_indices(index, size, op))
        return NULL;
    int64_t shape[CG_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++)
        shape[i] = i == d ? index->numel : t->shape[i];
    cg_tensor *out = cg__new(t->ndim, shape, op);
    if (!out)
        return NULL;
    cg__dim_split s = cg__split_at(t, d);
    for (int64_t o = 0; out->numel > 0 && o < s.outer; o++)
        for (int64_t j = 0; j < index->numel; j++)
            memcpy(out->data + (o * index->numel + j) * s.inner,
                   t->data + (o * s.n + (int64_t)index->data[j]) * s.inner, (size_t)s.inner * sizeof(float));
    index_select_saved sv = {d};
    return CG__RECORD_WITH(out, &index_select_op, 2, ins, &sv);
}

cg_tensor *cg_index_select(cg_tensor *t, int dim, cg_tensor *index)
{
    return cg__index_select(t, dim, index, "cg_index_select");
}

/* For every element of index (shape of the result), its offset into t. */
static void gather_offsets(const cg_tensor *t, const cg_tensor *index, int d, int64_t *offsets)
{
    int64_t idx[CG_MAX_DIMS] = {0}, tstride[CG_MAX_DIMS], s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        tstride[i] = s;
        s *= t->shape[i];
    }
    for (int64_t e = 0; e < index->numel; e++) {
        int64_t off = 0;
        for (int i = 0; i < index->ndim; i++)
            off += (i == d ? (int64_t)index->data[e] : idx[i]) * tstride[i];
        offsets[e] = off;
        for (int i = index->ndim - 1; i >= 0; i--) {
            if (++idx[i] < index->shape[i])
                break;
            idx[i] = 0;
        }
    }
}

static void gather_values(const cg_tensor *t, const int64_t *off, cg_tensor *out)
{
    for (int64_t e = 0; e < out->numel; e++)
        out->data[e] = t->data[off[e]];
}

/* A gather node keeps, for each result element, its offset into the input. */
static int gather_backward(cg_node *n, const float *g)
{
    float *gx = cg__grad_buf(n->in[0]);
    const int64_t *off = n->saved;
    if (gx)
        for (int64_t e = 0; e < n->out->numel; e++)
            gx[off[e]] += g[e];
    return 0;
}
static const cg_op gather_op = {.name = "GatherBackward0", .backward = gather_backward, .saves = 0, .fills_after_record = true};

cg_tensor *cg_gather(cg_tensor *t, int dim, cg_tensor *index)
{
    cg_tensor *ins[2] = {t, index};
    if (!cg__dense_all(2, ins, "cg_gather"))
        return NULL;
    t = ins[0], index = ins[1];
    int d = cg__dim(dim, t->ndim, "cg_gather");
    if (d < 0)
        return NULL;
    char a[CG_SHAPE_BUF], b[CG_SHAPE_BUF];
    bool ok = index->ndim == t->ndim;
    for (int i = 0; ok && i < t->ndim; i++)
        ok = i == d || index->shape[i] <= t->shape[i];
    if (!ok) {
        cg__error("cg_gather: index of shape %s does not fit input of shape %s along dim %d",
                  cg__shape_fmt(a, index->ndim, index->shape), cg__shape_fmt(b, t->ndim, t->shape), d);
        return NULL;
    }
    if (!check_indices(index, t->ndim ? t->shape[d] : 1, "cg_gather"))
        return NULL;
    cg_tensor *out = cg__new_as(index, "cg_gather");
    if (!out)
        return NULL;
    /* Backward needs the offsets: they live in the node when there is one. */
    if (cg__needs_grad(1, &t)) {
        cg_node *node;
        out = cg__record(out, &gather_op, 1, &t, NULL, 0, (size_t)index->numel * sizeof(int64_t), &node);
        if (!out)
            return NULL;
        gather_offsets(t, index, d, node->saved);
        gather_values(t, node->saved, out);
        return cg__forward_done(out, &gather_op);
    }
    cg__scratch_begin();
    int64_t *off = cg__scratch((size_t)index->numel * sizeof(int64_t));
    if (off) {
        gather_offsets(t, index, d, off);
        gather_values(t, off, out);
    }
    cg__scratch_end();
    return off ? cg__forward_done(out, &gather_op) : cg__forward_failed(out);
}

/* ---- detach / clone ------------------------------------------------------------------ */

cg_tensor *cg_detach(cg_tensor *t)
{
    if (!cg__check(t, "cg_detach"))
        return NULL;
    if (t->strided)
        return cg__strided_view(t, t->ndim, t->shape, t->strided->stride, 0);
    return cg__view_part(t, t->ndim, t->shape, t->numel, 0);
}

static const cg_op clone_op = {.name = "CloneBackward0", .backward = reshape_backward, .saves = 0};

/* t's values row-major in a new tensor, differentiable (torch's clone). */
static cg_tensor *copy_of(cg_tensor *t, const char *name)
{
    cg_tensor *out = cg__new_as(t, name);
    if (!out)
        return NULL;
    cg__gather(t, out->data);
    return CG__RECORD(out, &clone_op, 1, &t);
}

cg_tensor *cg_clone(cg_tensor *t) { return cg__check(t, "cg_clone") ? copy_of(t, "cg_clone") : NULL; }

/* ---- contiguous: a strided view's values laid out row-major ------------------------- */

cg_tensor *cg_contiguous(cg_tensor *t)
{
    if (!cg__check(t, "cg_contiguous"))
        return NULL;
    if (!t->strided) /* torch returns the tensor itself; here a view of it, the caller's to free */
        return reshape_named(t, t->ndim, t->shape, "cg_contiguous");
    return copy_of(t, "cg_contiguous");
}

cg_tensor *cg__dense_strided(cg_tensor *x, const char *op)
{
    if (!cg__needs_grad(1, &x))
        return cg__dense_plain(x, op);
    cg__dense_lock();
    uint32_t version = cg__version(x);
    cg_tensor *d = x->strided->dense_rec;
    if (d && x->strided->dense_rec_version == version) {
        cg__gather_refresh(x, d->data);
    } else if ((d = cg__dense_new(x, op)) && (d = CG__RECORD(d, &clone_op, 1, &x))) {
        if (!d->in_frame) { /* x keeps it, not it x (no cycle); see cg__dense_rec_release */
            d->nrefs = 0;
            x->refcount--;
        }
        cg__dense_rec_release(x);
        x->strided->dense_rec = d;
        x->strided->dense_rec_version = version;
    }
    cg__dense_unlock();
    return d;
}

/* ---- expand ---------------------------------------------------------------------------
 * torch.Tensor.expand: size-1 dims (and new leading ones) repeated to the target
 * sizes, -1 keeping a dim: a view stepping 0 along the repeats, as torch's; the
 * backward sums the gradient back over them. */

static int expand_backward(cg_node *n, const float *g)
{
    cg_tensor *t = n->in[0];
    float *gt = cg__grad_buf(t);
    if (!gt)
        return 0;
    cg__bcast it;
    cg__bcast_init(&it, n->out->ndim, n->out->shape, 1, (const cg_tensor *const *)n->in);
    CG__BCAST_FOR(&it, { gt[o0_] += g[i_]; });
    return 0;
}

static const cg_op expand_op = {.name = "ExpandBackward0", .backward = expand_backward, .saves = 0};

/* The target sizes with -1 resolved, checked as torch checks them. */
static bool expand_shape(const cg_tensor *t, int ndim, const int64_t *sizes, int64_t *shape)
{
    if (ndim < t->ndim || ndim > CG_MAX_DIMS || (ndim > 0 && !sizes)) {
        cg__error("cg_expand: the number of sizes provided (%d) must be greater or equal to the number of "
                  "dimensions in the tensor (%d)%s", ndim, t->ndim, ndim > CG_MAX_DIMS ? " and at most 8" : "");
        return false;
    }
    char a[CG_SHAPE_BUF], b[CG_SHAPE_BUF];
    for (int d = 0; d < ndim; d++) {
        int td = d - (ndim - t->ndim);
        int64_t have = td >= 0 ? t->shape[td] : -2, want = sizes[d];
        if (td < 0 && want < 0) {
            cg__error("cg_expand: the expanded size of the tensor (%lld) isn't allowed in a leading, non-existing "
                      "dimension %d", (long long)want, d);
            return false;
        }
        shape[d] = want == -1 ? have : want;
        if (td >= 0 && want != -1 && want != have && have != 1) {
            cg__error("cg_expand: the expanded size of the tensor (%lld) must match the existing size (%lld) at "
                      "non-singleton dimension %d; target sizes %s, tensor sizes %s", (long long)want,
                      (long long)have, d, cg__shape_fmt(a, ndim, sizes), cg__shape_fmt(b, t->ndim, t->shape));
            return false;
        }
        if (shape[d] < 0) {
            cg__error("cg_expand: invalid target size %lld at dimension %d", (long long)want, d);
            return false;
        }
    }
    return true;
}

cg_tensor *cg_expand(cg_tensor *t, int ndim, const int64_t *sizes)
{
    int64_t shape[CG_MAX_DIMS];
    if (!cg__check(t, "cg_expand") || !expand_shape(t, ndim, sizes, shape))
        return NULL;
    /* a view: a repeated dim (or a new leading one) steps 0 through the storage */
    int64_t in_stride[CG_MAX_DIMS], stride[CG_MAX_DIMS];
    cg__strides(t, in_stride);
    int lead = ndim - t->ndim;
    for (int d = 0; d < ndim; d++)
        stride[d] = d < lead || t->shape[d - lead] != shape[d] ? 0 : in_stride[d - lead];
    cg_tensor *out = cg__strided_view(t, ndim, shape, stride, 0);
    return out ? CG__RECORD(out, &expand_op, 1, &t) : NULL;
}
