/* cgrad — strided views: walking a view's elements through its strides, and the
 * row-major copy of its values that cg_data and the kernels read. */
#include "tensor_internal.h"
#include <pthread.h>
#include <string.h>

void cg__strides(const cg_tensor *t, int64_t *stride)
{
    if (t->strided) { /* (a loop: memcpy's size from ndim gave a false overflow warning with -Db_lto=true) */
        for (int d = 0; d < t->ndim; d++)
            stride[d] = t->strided->stride[d];
        return;
    }
    int64_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        stride[d] = s;
        s *= t->shape[d];
    }
}

/* The rows (runs along the last dim) of a view in row-major order: where each
 * starts in the storage, advanced like an odometer over the outer dims. */
typedef struct {
    int outer;                 /* dims before the last */
    int64_t len, step;         /* the last dim's size and stride */
    int64_t rows, off;
    int64_t idx[CG_MAX_DIMS];
} row_walk;

static void walk_init(row_walk *w, const cg_tensor *v)
{
    memset(w, 0, sizeof *w);
    if (v->ndim == 0) {
        w->len = 1, w->step = 1, w->rows = 1;
        return;
    }
    w->outer = v->ndim - 1;
    w->len = v->shape[w->outer];
    w->step = v->strided->stride[w->outer];
    w->rows = w->len ? v->numel / w->len : 0;
}

static void walk_next(row_walk *w, const cg_tensor *v)
{
    for (int d = w->outer - 1; d >= 0; d--) {
        w->off += v->strided->stride[d];
        if (++w->idx[d] < v->shape[d])
            return;
        w->off -= v->strided->stride[d] * v->shape[d];
        w->idx[d] = 0;
    }
}

void cg__gather(const cg_tensor *v, float *dst)
{
    if (!v->strided) {
        if (v->numel)
            memcpy(dst, v->data, sizeof(float) * (size_t)v->numel);
        return;
    }
    row_walk w;
    walk_init(&w, v);
    for (int64_t r = 0; r < w.rows; r++, dst += w.len) {
        const float *src = v->data + w.off;
        if (w.step == 1)
            memcpy(dst, src, sizeof(float) * (size_t)w.len);
        else
            for (int64_t j = 0; j < w.len; j++)
                dst[j] = src[j * w.step];
        walk_next(&w, v);
    }
}

void cg__gather_refresh(const cg_tensor *v, float *dst)
{
    row_walk w;
    walk_init(&w, v);
    for (int64_t r = 0; r < w.rows; r++, dst += w.len) {
        const float *src = v->data + w.off;
        for (int64_t j = 0; j < w.len; j++) {
            float x = src[j * w.step];
            if (memcmp(&dst[j], &x, sizeof x)) /* bits, so a NaN equal to itself is left alone */
                dst[j] = x;
        }
        walk_next(&w, v);
    }
}

bool cg__overlapping(const cg_tensor *t)
{
    if (!t->strided)
        return false;
    for (int d = 0; d < t->ndim; d++)
        if (t->strided->stride[d] == 0 && t->shape[d] > 1)
            return true;
    return false;
}

static pthread_mutex_t dense_mutex = PTHREAD_MUTEX_INITIALIZER;
void cg__dense_lock(void) { pthread_mutex_lock(&dense_mutex); }
void cg__dense_unlock(void) { pthread_mutex_unlock(&dense_mutex); }

cg_tensor *cg__dense_new(cg_tensor *t, const char *op)
{
    cg_tensor *d = cg__new_beside(t, t->ndim, t->shape, op);
    if (!d)
        return NULL;
    cg__gather(t, d->data);
    /* Its version is the storage's, as a view's is: a graph that saved it refuses
     * backward after an in-place write to the values it copied. */
    d->storage = cg__storage(t);
    if (!d->in_frame && t->base) {
        t->base->refcount++;
        d->base = t->base;
    }
    return d;
}

cg_tensor *cg__dense_plain(cg_tensor *t, const char *op)
{
    if (!t->strided)
        return t;
    cg__dense_lock();
    uint32_t version = cg__version(t);
    cg_tensor *d = t->strided->dense;
    if (d && t->strided->dense_version == version) {
        cg__gather_refresh(t, d->data); /* writes through cg_data are not counted: look */
    } else if ((d = cg__dense_new(t, op))) {
        cg_tensor_free(t->strided->dense); /* a graph that read the old copy keeps it */
        t->strided->dense = d;
        t->strided->dense_version = version;
    }
    cg__dense_unlock();
    return d;
}

/* The copy stops being the view's; if a graph still holds it, it holds the view. */
void cg__dense_rec_release(cg_tensor *x)
{
    cg_tensor *d = x->strided->dense_rec;
    x->strided->dense_rec = NULL;
    if (!d || d->in_frame)
        return;
    if (d->refcount > 1) {
        x->refcount++;
        d->nrefs = 1; /* its node's input, x */
        d->refcount--;
        return;
    }
    cg_tensor_free(d);
}

bool cg__dense_rec_outlives(cg_tensor *x)
{
    cg_tensor *d = x->strided ? x->strided->dense_rec : NULL;
    if (!d || d->in_frame || d->refcount <= 1)
        return false;
    x->refcount = 0;
    cg__dense_rec_release(x); /* x->refcount back to 1, now the copy's */
    return true;
}

void cg__scatter(cg_tensor *v, const float *src)
{
    row_walk w;
    walk_init(&w, v);
    for (int64_t r = 0; r < w.rows; r++, src += w.len) {
        float *dst = v->data + w.off;
        for (int64_t j = 0; j < w.len; j++)
            dst[j * w.step] = src[j];
        walk_next(&w, v);
    }
}

void cg__fill_strided(cg_tensor *v, float value)
{
    row_walk w;
    walk_init(&w, v);
    for (int64_t r = 0; r < w.rows; r++) {
        float *dst = v->data + w.off;
        for (int64_t j = 0; j < w.len; j++)
            dst[j * w.step] = value;
        walk_next(&w, v);
    }
}

int64_t cg__span(const cg_tensor *t)
{
    if (!t->strided)
        return t->numel;
    if (t->numel == 0)
        return 0;
    int64_t last = 0;
    for (int d = 0; d < t->ndim; d++)
        last += (t->shape[d] - 1) * t->strided->stride[d];
    return last + 1;
}

void cg__dense_written(cg_tensor *v)
{
    cg__scatter(v, v->strided->dense->data);
    cg__bump_version(v);
    v->strided->dense_version = cg__version(v);
}
