/* cgrad — the tensor itself: creation, views, inspection, freeing. */
#include "tensor_internal.h"
#include "kernels.h"
#include <stdlib.h>
#include <string.h>

static size_t header_size(void) { return (sizeof(cg_tensor) + CG_ALIGN - 1) & ~(size_t)(CG_ALIGN - 1); }

/* A header for a tensor living in the frame of the given level (0: the heap), made at
 * frame generation gen. With whole_shape, shape has CG_MAX_DIMS sizes (another tensor's,
 * zero past its dims): copied in one go. */
static inline __attribute__((always_inline)) cg_tensor *init_header(cg_tensor *t, int ndim, const int64_t *shape,
                                                                     bool whole_shape, int64_t numel, int level,
                                                                     uint32_t gen)
{
    /* Field by field: a struct literal became a `rep stos` over the whole header, slow to
     * start for 176 bytes. Debug builds fill the header with garbage first, so a field
     * added to cg_tensor and not set here breaks the test suites. */
#ifdef CG_DEBUG
    memset(t, 0xdb, sizeof *t);
#endif
    t->magic = CG_MAGIC_LIVE;
    t->ndim = ndim;
    if (whole_shape) {
        memcpy(t->shape, shape, sizeof t->shape);
    } else {
        memset(t->shape, 0, sizeof t->shape); /* (a few vector stores) */
        for (int i = 0; i < ndim; i++)
            t->shape[i] = shape[i];
    }
    t->numel = numel;
    t->data = NULL;
    t->base = t->storage = NULL;
    t->version = 0;
    t->refcount = 1;
    t->refs = NULL;
    t->nrefs = 0;
    t->in_frame = level > 0;
    t->frame_level = level;
    t->frame_gen = gen;
    t->meta = NULL;
    t->name = t->made_by = NULL;
    t->strided = NULL;
    return t;
}

/* The header and values' block in place: a tensor of numel elements made by op. */
static inline __attribute__((always_inline)) cg_tensor *fill_block(unsigned char *block, int ndim,
                                                                    const int64_t *shape, bool whole_shape,
                                                                    int64_t numel, const char *op, int level,
                                                                    uint32_t gen)
{
    cg_tensor *t = init_header((cg_tensor *)block, ndim, shape, whole_shape, numel, level, gen);
    cg__failure_pending = false; /* something worked since the last failure */
    t->made_by = op;
    t->data = (float *)(block + header_size());
    return t;
}

/* make_tensor's way when the innermost frame's chunk cannot give the block at once. */
static __attribute__((noinline)) cg_tensor *make_tensor_slow(int ndim, const int64_t *shape, bool whole_shape,
                                                             int64_t numel, const char *op, int level)
{
    size_t bytes = header_size() + (size_t)numel * sizeof(float);
    unsigned char *block = cg__alloc_at_slow(level, bytes);
    if (!block) {
        cg__error("%s: out of memory (%zu bytes)", op, bytes);
        return NULL;
    }
    return fill_block(block, ndim, shape, whole_shape, numel, op, level, cg__frame_gen_of(level));
}

/* A tensor of a checked shape (numel its element count) in the frame of that level. One
 * block: the header, then the values, 64-byte aligned for SIMD. The usual request (the
 * innermost frame has room) calls nothing, so it saves no registers (hello's step makes
 * 35 tensors, the floor's 8). */
static inline __attribute__((always_inline)) cg_tensor *make_tensor(int ndim, const int64_t *shape, bool whole_shape,
                                                                     int64_t numel, const char *op, int level)
{
    unsigned char *block =
        level == cg__depth && level > 0 ? cg__arena_bump(header_size() + (size_t)numel * sizeof(float)) : NULL;
    if (__builtin_expect(block == NULL, 0))
        return make_tensor_slow(ndim, shape, whole_shape, numel, op, level);
    return fill_block(block, ndim, shape, whole_shape, numel, op, level, cg__top_gen);
}

static cg_tensor *new_tensor(int ndim, const int64_t *shape, const char *op, int level)
{
    int64_t numel;
    return cg__check_shape(ndim, shape, op, &numel) ? make_tensor(ndim, shape, false, numel, op, level) : NULL;
}

cg_tensor *cg__new_like(const cg_tensor *t, const char *op)
{
    return make_tensor(t->ndim, t->shape, true, t->numel, op, t->frame_level);
}

cg_tensor *cg__new(int ndim, const int64_t *shape, const char *op)
{
    return new_tensor(ndim, shape, op, cg__depth);
}

cg_tensor *cg__new_as(const cg_tensor *t, const char *op)
{
    return make_tensor(t->ndim, t->shape, true, t->numel, op, cg__depth);
}

cg_tensor *cg__new_heap(int ndim, const int64_t *shape, const char *op)
{
    return new_tensor(ndim, shape, op, 0);
}

cg_tensor *cg__new_beside(const cg_tensor *like, int ndim, const int64_t *shape, const char *op)
{
    return new_tensor(ndim, shape, op, like->frame_level);
}

/* A view's header (a strided view's strides follow it in the same block): t's storage
 * from offset; numel is the shape's count when shape is a tensor's own or a part of one
 * (checked when that was made), else -1: checked here. With whole_shape, shape is a
 * tensor's own array (zeros past its dims): copied whole. */
static cg_tensor *view_at(int level, cg_tensor *t, int ndim, const int64_t *shape, bool whole_shape, int64_t numel,
                          int64_t offset, bool strided)
{
    if (numel < 0 && !cg__check_shape(ndim, shape, "view", &numel))
        return NULL;
    size_t head = (sizeof(cg_tensor) + 15) & ~(size_t)15;
    cg_tensor *v = cg__alloc_at(level, strided ? head + sizeof(cg__strided) : sizeof(cg_tensor));
    if (!v) {
        cg__error("view: out of memory");
        return NULL;
    }
    init_header(v, ndim, shape, whole_shape, numel, level, cg__frame_gen_of(level));
    if (strided) {
        v->strided = (cg__strided *)((char *)v + head);
        memset(v->strided, 0, sizeof *v->strided);
    }
    cg__failure_pending = false;
    v->data = t->data + offset;
    v->storage = cg__storage(t);
    /* A heap view keeps its base alive; a frame view cannot outlive its frame,
     * and a frame tensor's base is either in an outer frame or on the heap. */
    if (!v->in_frame) {
        cg_tensor *root = t->base ? t->base : t;
        root->refcount++;
        v->base = root;
    }
    return v;
}

cg_tensor *cg__view(cg_tensor *t, int ndim, const int64_t *shape, int64_t offset)
{
    return view_at(cg__depth, t, ndim, shape, false, -1, offset, false);
}

cg_tensor *cg__view_part(cg_tensor *t, int ndim, const int64_t *shape, int64_t numel, int64_t offset)
{
    return view_at(cg__depth, t, ndim, shape, false, numel, offset, false);
}

/* Whether these strides are the row-major ones (size-1 dims' strides never matter). */
static bool row_major(int ndim, const int64_t *shape, const int64_t *stride)
{
    int64_t expect = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        if (shape[d] == 0)
            return true; /* no element: any strides describe it */
        if (shape[d] != 1 && stride[d] != expect)
            return false;
        expect *= shape[d];
    }
    return true;
}

cg_tensor *cg__strided_view(cg_tensor *t, int ndim, const int64_t *shape, const int64_t *stride, int64_t offset)
{
    bool strided = !row_major(ndim, shape, stride);
    cg_tensor *v = view_at(cg__depth, t, ndim, shape, false, -1, offset, strided);
    if (v && strided)
        for (int d = 0; d < ndim; d++)
            v->strided->stride[d] = stride[d];
    return v;
}

cg_tensor *cg__view_beside(const cg_tensor *like, cg_tensor *t, int64_t offset)
{
    return view_at(like->frame_level, t, like->ndim, like->shape, true, like->numel, offset, false);
}

/* cg_tensor_free of a heap tensor t: when its last reference goes, its values, its
 * gradient and node go, and the references it held are dropped in turn (iteratively: a
 * long unrolled chain must not recurse deeply). */
static __attribute__((noinline)) void free_heap_tensor(cg_tensor *t)
{
    cg_tensor *local[64], **stack = local;
    size_t top = 0, cap = 64;
    stack[top++] = t;
    while (top > 0) {
        cg_tensor *x = stack[--top];
        if (!x || x->magic != CG_MAGIC_LIVE || x->in_frame || --x->refcount > 0)
            continue;
        if (x->strided && cg__dense_rec_outlives(x))
            continue; /* its recorded copy, which a graph still holds, keeps it now */
        size_t need = top + (size_t)x->nrefs + 4;
        if (need > cap) {
            size_t ncap = need * 2;
            cg_tensor **bigger = cg__sys_malloc(ncap * sizeof *bigger);
            if (!bigger)
                continue; /* out of memory while freeing: leak rather than crash */
            memcpy(bigger, stack, top * sizeof *stack);
            if (stack != local)
                cg__sys_free(stack);
            stack = bigger;
            cap = ncap;
        }
        for (int i = 0; i < x->nrefs; i++)
            stack[top++] = x->refs[i];
        stack[top++] = x->base;
        if (x->strided) { /* a strided view's row-major copies */
            stack[top++] = x->strided->dense;
            stack[top++] = x->strided->dense_rec;
        }
        if (x->meta) { /* its gradient, and the layer above's state, freed as that layer says */
            stack[top++] = x->meta->held;
            if (x->meta->release)
                x->meta->release(x->meta);
        }
        x->magic = 0;
        cg__sys_free(x);
    }
    if (stack != local)
        cg__sys_free(stack);
}

/* Drops one reference to a heap tensor (see free_heap_tensor); a frame's tensor, NULL or
 * a freed one is left alone, at once (a recurrent forward drops 4 frame tensors a step). */
void cg_tensor_free(cg_tensor *t)
{
    if (t && t->magic == CG_MAGIC_LIVE && !t->in_frame)
        free_heap_tensor(t);
}

cg_tensor *cg_empty(int ndim, const int64_t *shape) { return cg__new(ndim, shape, "cg_empty"); }

cg_tensor *cg_full(int ndim, const int64_t *shape, float value)
{
    cg_tensor *t = cg__new(ndim, shape, "cg_full");
    if (t)
        for (int64_t i = 0; i < t->numel; i++)
            t->data[i] = value;
    return t;
}

cg_tensor *cg_zeros(int ndim, const int64_t *shape)
{
    cg_tensor *t = cg__new(ndim, shape, "cg_zeros");
    if (t)
        memset(t->data, 0, (size_t)t->numel * sizeof(float));
    return t;
}

cg_tensor *cg_ones(int ndim, const int64_t *shape)
{
    cg_tensor *t = cg__new(ndim, shape, "cg_ones");
    if (t)
        for (int64_t i = 0; i < t->numel; i++)
            t->data[i] = 1.0f;
    return t;
}

cg_tensor *cg_scalar(float value) { return cg_full(CG_SCALAR, value); }

cg_tensor *cg_zeros_like(const cg_tensor *t)
{
    return cg__check(t, "cg_zeros_like") ? cg_zeros(t->ndim, t->shape) : NULL;
}

cg_tensor *cg_ones_like(const cg_tensor *t)
{
    return cg__check(t, "cg_ones_like") ? cg_ones(t->ndim, t->shape) : NULL;
}

cg_tensor *cg_tensor_from(const float *data, int ndim, const int64_t *shape)
{
    if (!data) {
        cg__error("cg_tensor_from: data is NULL");
        return NULL;
    }
    cg_tensor *t = cg__new(ndim, shape, "cg_tensor_from");
    if (t)
        memcpy(t->data, data, (size_t)t->numel * sizeof(float));
    return t;
}

cg_tensor *cg_tensor_copy(const cg_tensor *src)
{
    if (!cg__check(src, "cg_tensor_copy"))
        return NULL;
    cg_tensor *t = cg__new_as(src, "cg_tensor_copy");
    if (t)
        cg__gather(src, t->data);
    return t;
}

cg_tensor *cg_arange(double start, double end, double step)
{
    if (step == 0 || !isfinite(start) || !isfinite(end) || !isfinite(step) ||
        (end - start) / step < 0) {
        cg__error("cg_arange: cannot go from %g to %g in steps of %g", start, end, step);
        return NULL;
    }
    double count = ceil((end - start) / step);
    if (count > (double)cg__max_numel()) {
        cg__error("cg_arange: %g elements is too many", count);
        return NULL;
    }
    cg_tensor *t = cg__new(1, (const int64_t[]){(int64_t)count}, "cg_arange");
    if (t)
        for (int64_t i = 0; i < t->numel; i++)
            t->data[i] = (float)(start + (double)i * step);
    return t;
}

cg_tensor *cg_eye(int64_t n, int64_t m)
{
    if (m <= 0)
        m = n;
    cg_tensor *t = cg_zeros(2, (const int64_t[]){n, m});
    if (t)
        for (int64_t i = 0; i < n && i < m; i++)
            t->data[i * m + i] = 1.0f;
    return t;
}

CG__FAST_TLS int cg__no_grad_depth;

bool cg__inplace_ok(cg_tensor *t, const char *op)
{
    if (!cg__requires_grad(t) || cg__no_grad_depth > 0)
        return true;
    const char *fn = t->meta->grad_fn;
    if (!fn)
        cg__error("%s: a leaf tensor that requires grad is being used in an in-place operation; "
                  "write it inside cg_no_grad_begin()/cg_no_grad_end(), as optimizers do", op);
    else
        cg__error("%s: this tensor is the result of %s in the graph, and in-place writes are not "
                  "recorded, so backward would be wrong; write to cg_clone() of it instead, or inside "
                  "a no-grad region", op, fn);
    return false;
}

uint32_t cg_version(const cg_tensor *t)
{
    return cg__check(t, "cg_version") ? cg__version((cg_tensor *)t) : 0;
}

/* torch refuses an in-place write to a view where elements share memory (expand). */
static bool writable(const cg_tensor *t, const char *op)
{
    if (!cg__overlapping(t))
        return true;
    cg__error("%s: unsupported operation: more than one element of the written-to tensor refers to a single "
              "memory location (a view from cg_expand); write to cg_clone() of it", op);
    return false;
}

int cg_fill_(cg_tensor *t, float value)
{
    if (!cg__check(t, "cg_fill_") || !cg__inplace_ok(t, "cg_fill_"))
        return -1;
    if (!writable(t, "cg_fill_"))
        return -1;
    cg__bump_version(t);
    if (t->strided) {
        cg__fill_strided(t, value);
        return 0;
    }
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = value;
    return 0;
}

/* Whether src broadcasts to dst's shape, as torch's copy_ requires: trailing dims
 * aligned, each of src's equal to dst's or 1, and no more dims than dst. */
static bool broadcasts_to(const cg_tensor *src, const cg_tensor *dst)
{
    if (src->ndim > dst->ndim)
        return false;
    for (int d = 1; d <= src->ndim; d++) {
        int64_t s = src->shape[src->ndim - d];
        if (s != 1 && s != dst->shape[dst->ndim - d])
            return false;
    }
    return true;
}

/* dst's elements from src broadcast to dst's shape. */
static void copy_broadcast(cg_tensor *dst, const cg_tensor *src)
{
    const cg_tensor *ops[2] = {dst, src};
    cg__bcast it;
    cg__bcast_init(&it, dst->ndim, dst->shape, 2, ops);
    float *D = dst->data;
    const float *S = src->data;
    CG__BCAST_FOR(&it, { D[o0_] = S[o1_]; });
}

/* torch refuses a copy between tensors that share some memory but are not the
 * same elements: which value an element ends with would depend on the order. */
static bool partly_overlapping(const cg_tensor *dst, const cg_tensor *src)
{
    bool meet = src->numel && dst->numel && src->data < dst->data + cg__span(dst) &&
                dst->data < src->data + cg__span(src);
    return meet && !(src->data == dst->data && src->numel == dst->numel) && !src->strided && !dst->strided;
}

/* dst's elements from row-major src broadcast to dst's shape (the two share no memory,
 * or are the same elements). */
static void copy_row_major(cg_tensor *dst, const cg_tensor *src)
{
    if (src->numel == dst->numel) /* the same elements in the same order */
        memmove(dst->data, src->data, (size_t)src->numel * sizeof(float));
    else
        copy_broadcast(dst, src);
}

/* A copy into or out of a strided view: src's values row-major (cg__dense_plain); into
 * a strided dst through a row-major copy of dst's shape, written back through its
 * strides (read whole before any write, so memory they share is safe). */
static int copy_strided(cg_tensor *dst, cg_tensor *src)
{
    cg_tensor *s = cg__dense_plain(src, "cg_copy_");
    if (!s)
        return -1;
    if (!dst->strided) { /* src is the strided one: s is a copy of its own */
        copy_row_major(dst, s);
        return 0;
    }
    cg_tensor *d = cg__new_heap(dst->ndim, dst->shape, "cg_copy_");
    if (!d)
        return -1;
    copy_row_major(d, s);
    cg__scatter(dst, d->data);
    cg_tensor_free(d);
    return 0;
}

int cg_copy_(cg_tensor *dst, const cg_tensor *src)
{
    if (!cg__check(dst, "cg_copy_") || !cg__check(src, "cg_copy_") || !cg__inplace_ok(dst, "cg_copy_"))
        return -1;
    if (!broadcasts_to(src, dst)) {
        char a[CG_SHAPE_BUF], b[CG_SHAPE_BUF];
        cg__error("cg_copy_: the source's shape %s does not broadcast to the destination's %s",
                  cg__shape_fmt(b, src->ndim, src->shape), cg__shape_fmt(a, dst->ndim, dst->shape));
        return -1;
    }
    if (partly_overlapping(dst, src)) {
        cg__error("cg_copy_: some elements of the source and the destination are the same memory "
                  "(copy the source with cg_tensor_copy first)");
        return -1;
    }
    if (!writable(dst, "cg_copy_"))
        return -1;
    if (src->strided || dst->strided) {
        if (copy_strided(dst, (cg_tensor *)src) < 0)
            return -1;
    } else {
        copy_row_major(dst, src);
    }
    cg__bump_version(dst);
    return 0;
}

int cg_ndim(const cg_tensor *t) { return cg__check(t, "cg_ndim") ? t->ndim : -1; }

const int64_t *cg_shape(const cg_tensor *t) { return cg__check(t, "cg_shape") ? t->shape : NULL; }

int64_t cg_size(const cg_tensor *t, int dim)
{
    if (!cg__check(t, "cg_size"))
        return -1;
    int d = cg__dim(dim, t->ndim, "cg_size");
    if (d < 0)
        return -1;
    return t->ndim ? t->shape[d] : 1;
}

int64_t cg_numel(const cg_tensor *t) { return cg__check(t, "cg_numel") ? t->numel : -1; }

bool cg_is_contiguous(const cg_tensor *t) { return cg__check(t, "cg_is_contiguous") && !t->strided; }

int64_t cg_stride(const cg_tensor *t, int dim)
{
    if (!cg__check(t, "cg_stride"))
        return -1;
    if (t->ndim == 0) {
        cg__error("cg_stride: a 0-d tensor has no dims");
        return -1;
    }
    int d = cg__dim(dim, t->ndim, "cg_stride");
    if (d < 0)
        return -1;
    int64_t stride[CG_MAX_DIMS];
    cg__strides(t, stride);
    return stride[d];
}

int64_t cg_storage_offset(const cg_tensor *t)
{
    if (!cg__check(t, "cg_storage_offset"))
        return -1;
    return t->data - cg__storage((cg_tensor *)t)->data;
}

float *cg_data(cg_tensor *t)
{
    if (!cg__check(t, "cg_data"))
        return NULL;
    if (!t->strided)
        return t->data;
    cg_tensor *d = cg__dense_plain(t, "cg_data");
    return d ? d->data : NULL;
}

float cg_item(const cg_tensor *t)
{
    if (!cg__check(t, "cg_item"))
        return NAN;
    if (t->numel != 1) {
        char b[CG_SHAPE_BUF];
        cg__error("cg_item: a tensor of shape %s has %lld elements, not 1",
                  cg__shape_fmt(b, t->ndim, t->shape), (long long)t->numel);
        return NAN;
    }
    return t->data[0];
}

bool cg_same_shape(const cg_tensor *a, const cg_tensor *b)
{
    if (!a || !b || a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return false;
    return true;
}

int cg_shape_str(const cg_tensor *t, char *buf, size_t size)
{
    if (!cg__check(t, "cg_shape_str"))
        return -1;
    if (!buf && size) {
        cg__error("cg_shape_str: buf is NULL");
        return -1;
    }
    char tmp[CG_SHAPE_BUF];
    /* PyTorch's torch.Size prints (3, 5, 2) and (4,) the same way. */
    return snprintf(buf, size, "%s", cg__shape_fmt(tmp, t->ndim, t->shape));
}
