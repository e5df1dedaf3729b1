/* cgrad — reductions: sum, mean, max (over everything or one dim), and the
 * softmax family. A tensor reduced along dim is seen as (outer, n, inner). */
#include "autograd_internal.h"
#include <string.h>

/* The result shape of reducing dim d (kept as 1, or dropped). */
static cg_tensor *reduced_out(const cg_tensor *x, int d, bool keepdim, const char *name)
{
    int64_t shape[CG_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != d)
            shape[nd++] = x->shape[i];
        else if (keepdim)
            shape[nd++] = 1;
    return cg__new(nd, shape, name);
}

/* ---- sum / mean ------------------------------------------------------------------ */

/* What a sum or mean node keeps. */
typedef struct {
    int dim;      /* -1: over everything */
    float scale;  /* 1 for sum, 1/n for mean */
} sum_saved;

static int sum_backward(cg_node *n, const float *g)
{
    const sum_saved *sv = n->saved;
    cg_tensor *x = n->in[0];
    float *gx = cg__grad_buf(x);
    if (!gx)
        return 0;
    float scale = sv->scale;
    if (sv->dim < 0) {
        for (int64_t i = 0; i < x->numel; i++)
            gx[i] += g[0] * scale;
        return 0;
    }
    cg__dim_split s = cg__split_at(x, sv->dim);
    for (int64_t o = 0; o < s.outer; o++)
        for (int64_t j = 0; j < s.n; j++)
            for (int64_t i = 0; i < s.inner; i++)
                gx[(o * s.n + j) * s.inner + i] += g[o * s.inner + i] * scale;
    return 0;
}
static const cg_op sum_op = {.name = "SumBackward0", .backward = sum_backward, .saves = 0};
static const cg_op sum_dim_op = {.name = "SumBackward1", .backward = sum_backward, .saves = 0};
static const cg_op mean_op = {.name = "MeanBackward0", .backward = sum_backward, .saves = 0};
static const cg_op mean_dim_op = {.name = "MeanBackward1", .backward = sum_backward, .saves = 0};

static cg_tensor *sum_all(cg_tensor *t, bool mean, const char *name)
{
    if (!(t = cg__operand(t, name)))
        return NULL;
    cg_tensor *out = cg__new(0, NULL, name);
    if (!out)
        return NULL;
    double acc = cg__row_sum(t->data, t->numel);
    float scale = mean ? 1.0f / (float)t->numel : 1.0f;
    out->data[0] = mean ? (float)(acc / (double)t->numel) : (float)acc;
    sum_saved sv = {-1, scale};
    return CG__RECORD_WITH(out, mean ? &mean_op : &sum_op, 1, &t, &sv);
}

static cg_tensor *sum_along(cg_tensor *t, int dim, bool keepdim, bool mean, const char *name)
{
    if (!(t = cg__operand(t, name)))
        return NULL;
    int d = cg__dim(dim, t->ndim, name);
    if (d < 0)
        return NULL;
    if (t->ndim == 0)
        return sum_all(t, mean, name);
    cg_tensor *out = reduced_out(t, d, keepdim, name);
    if (!out)
        return NULL;
    cg__dim_split s = cg__split_at(t, d);
    for (int64_t o = 0; o < s.outer; o++)
        for (int64_t i = 0; i < s.inner; i++) {
            double acc = 0;
            for (int64_t j = 0; j < s.n; j++)
                acc += t->data[(o * s.n + j) * s.inner + i];
            out->data[o * s.inner + i] = mean ? (float)(acc / (double)s.n) : (float)acc;
        }
    sum_saved sv = {d, mean ? 1.0f / (float)s.n : 1.0f};
    return CG__RECORD_WITH(out, mean ? &mean_dim_op : &sum_dim_op, 1, &t, &sv);
}

cg_tensor *cg_sum(cg_tensor *t) { return sum_all(t, false, "cg_sum"); }
cg_tensor *cg_mean(cg_tensor *t) { return sum_all(t, true, "cg_mean"); }
cg_tensor *cg_sum_dim(cg_tensor *t, int dim, bool keepdim) { return sum_along(t, dim, keepdim, false, "cg_sum_dim"); }
cg_tensor *cg_mean_dim(cg_tensor *t, int dim, bool keepdim) { return sum_along(t, dim, keepdim, true, "cg_mean_dim"); }

/* ---- max ------------------------------------------------------------------------ */

static int max_all_backward(cg_node *n, const float *g)
{
    cg_tensor *x = n->in[0];
    float *gx = cg__grad_buf(x);
    if (!gx)
        return 0;
    float m = n->out->data[0];
    int64_t ties = 0;
    for (int64_t i = 0; i < x->numel; i++)
        ties += x->data[i] == m || (isnan(m) && isnan(x->data[i]));
    for (int64_t i = 0; i < x->numel; i++)
        if (x->data[i] == m || (isnan(m) && isnan(x->data[i])))
            gx[i] += g[0] / (float)ties;
    return 0;
}
static const cg_op max_all_op = {.name = "MaxBackward1", .backward = max_all_backward, .saves = CG_SAVES_IN(0) | CG_SAVES_OUT};

cg_tensor *cg_max(cg_tensor *t)
{
    if (!(t = cg__operand(t, "cg_max")))
        return NULL;
    if (t->numel == 0) {
        cg__error("cg_max: the tensor is empty");
        return NULL;
    }
    cg_tensor *out = cg__new(0, NULL, "cg_max");
    if (!out)
        return NULL;
    float m = t->data[0];
    for (int64_t i = 1; i < t->numel && !isnan(m); i++)
        if (t->data[i] > m || isnan(t->data[i]))
            m = t->data[i];
    out->data[0] = m;
    return CG__RECORD(out, &max_all_op, 1, &t);
}

/* For each (o, i), the first j with the largest value (a NaN counts as largest). */
static void argmax_along(const cg_tensor *t, cg__dim_split s, float *values, int64_t *where)
{
    for (int64_t o = 0; o < s.outer; o++)
        for (int64_t i = 0; i < s.inner; i++) {
            const float *x = t->data + o * s.n * s.inner + i;
            int64_t best = 0;
            for (int64_t j = 1; j < s.n && !isnan(x[best * s.inner]); j++)
                if (x[j * s.inner] > x[best * s.inner] || isnan(x[j * s.inner]))
                    best = j;
            if (values)
                values[o * s.inner + i] = x[best * s.inner];
            where[o * s.inner + i] = best;
        }
}

/* What a max-along-a-dim node keeps: the dim, and where each maximum was. */
typedef struct {
    int dim;
    int64_t where[];
} max_dim_saved;

static int max_dim_backward(cg_node *n, const float *g)
{
    const max_dim_saved *sv = n->saved;
    cg_tensor *x = n->in[0];
    float *gx = cg__grad_buf(x);
    if (!gx)
        return 0;
    const int64_t *where = sv->where;
    cg__dim_split s = cg__split_at(x, sv->dim);
    for (int64_t o = 0; o < s.outer; o++)
        for (int64_t i = 0; i < s.inner; i++)
            gx[(o * s.n + where[o * s.inner + i]) * s.inner + i] += g[o * s.inner + i];
    return 0;
}
static const cg_op max_dim_op = {.name = "MaxBackward0", .backward = max_dim_backward, .saves = 0, .fills_after_record = true};

static cg_tensor *max_or_argmax(cg_tensor *t, int dim, bool keepdim, bool arg, const char *name)
{
    if (!(t = cg__operand(t, name)))
        return NULL;
    int d = cg__dim(dim, t->ndim, name);
    if (d < 0)
        return NULL;
    if (t->ndim > 0 && t->shape[d] == 0) {
        cg__error("%s: dim %d has size 0", name, d);
        return NULL;
    }
    cg_tensor *out = t->ndim ? reduced_out(t, d, keepdim, name) : cg__new(0, NULL, name);
    if (!out)
        return NULL;
    cg__dim_split s = t->ndim ? cg__split_at(t, d) : (cg__dim_split){1, 1, 1};
    size_t bytes = (size_t)out->numel * sizeof(int64_t);
    if (!arg && cg__needs_grad(1, &t)) {
        cg_node *node;
        max_dim_saved args = {.dim = d};
        if (!(out = cg__record(out, &max_dim_op, 1, &t, &args, sizeof args, sizeof args + bytes, &node)))
            return NULL;
        argmax_along(t, s, out->data, ((max_dim_saved *)node->saved)->where);
        return cg__forward_done(out, &max_dim_op);
    }
    cg__scratch_begin();
    int64_t *where = cg__scratch(bytes);
    if (where) {
        argmax_along(t, s, arg ? NULL : out->data, where);
        if (arg)
            for (int64_t e = 0; e < out->numel; e++)
                out->data[e] = (float)where[e];
    }
    cg__scratch_end();
    return where ? cg__forward_done(out, &max_dim_op) : cg__forward_failed(out);
}

cg_tensor *cg_max_dim(cg_tensor *t, int dim, bool keepdim) { return max_or_argmax(t, dim, keepdim, false, "cg_max_dim"); }
cg_tensor *cg_argmax(cg_tensor *t, int dim, bool keepdim) { return max_or_argmax(t, dim, keepdim, true, "cg_argmax"); }

/* ---- softmax, log_softmax, logsumexp ------------------------------------------------- */

enum { SOFTMAX, LOG_SOFTMAX, LOGSUMEXP };

/* One row (n values, inner apart): writes the chosen function of it. tmp has
 * room for n floats: contiguous rows (inner == 1) take the vectorised exp. */
static void softmax_row(const float *x, float *y, int64_t n, int64_t inner, int kind, float *tmp)
{
    float m = -INFINITY;
    for (int64_t j = 0; j < n; j++)
        if (x[j * inner] > m)
            m = x[j * inner];
    if (isinf(m)) /* all -inf (or +inf): keep the arithmetic finite where torch does */
        m = m > 0 ? m : 0;
    for (int64_t j = 0; j < n; j++)
        tmp[j] = x[j * inner] - m;
    cg__exp_f32(n, tmp, tmp);
    double sum = 0;
    for (int64_t j = 0; j < n; j++)
        sum += tmp[j];
    if (kind == LOGSUMEXP) {
        y[0] = m + (float)log(sum);
        return;
    }
    float logsum = (float)log(sum), inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < n; j++)
        y[j * inner] = kind == SOFTMAX ? tmp[j] * inv : x[j * inner] - m - logsum;
}

/* Rows of n values (contiguous) for one task of softmax_rows (x -> y) or of the
 * log-softmax backward (x: its log-probabilities, g -> gx); e: room for the exps. Each
 * row is computed as one thread computes it. */
typedef struct {
    const float *x, *g;
    float *y, *e, *gx;
    int64_t n;
    int kind;
    bool fresh;
} softmax_job;

/* Rows this many floats or more run in parts over the threads (a char model's logits:
 * 2048 x 65); the part's size does not change a value. */
#define SOFTMAX_THREADED 32768
#define SOFTMAX_PART_FLOATS 8192

static void over_rows(int64_t rows, int64_t n, void (*fn)(void *ctx, int64_t r0, int64_t r1), softmax_job *j)
{
    if (rows * n >= SOFTMAX_THREADED)
        cg__parallel_range(rows, (SOFTMAX_PART_FLOATS + n - 1) / n, fn, j);
    else
        fn(j, 0, rows);
}

/* Rows [r0, r1): every row's shifted values first, one vectorised exp over all of them,
 * then each row's sum. */
static void softmax_rows_part(void *ctx, int64_t r0, int64_t r1)
{
    const softmax_job *j = ctx;
    int64_t n = j->n;
    float *y = j->y + r0 * n, *e = j->e ? j->e + r0 * n : NULL;
    for (int64_t r = 0; r < r1 - r0; r++) {
        const float *xr = j->x + (r0 + r) * n;
        float m = cg__row_max(xr, n);
        if (isinf(m))
            m = m > 0 ? m : 0;
        for (int64_t k = 0; k < n; k++)
            y[r * n + k] = xr[k] - m;
    }
    if (j->kind == SOFTMAX) {
        cg__exp_f32((r1 - r0) * n, y, y);
        for (int64_t r = 0; r < r1 - r0; r++) {
            float inv = (float)(1.0 / cg__row_sum(y + r * n, n));
            for (int64_t k = 0; k < n; k++)
                y[r * n + k] *= inv;
        }
        return;
    }
    /* log_softmax: y = (x - m) - log(sum exp(x - m)) */
    cg__exp_f32((r1 - r0) * n, y, e);
    for (int64_t r = 0; r < r1 - r0; r++) {
        float logsum = (float)log(cg__row_sum(e + r * n, n));
        for (int64_t k = 0; k < n; k++)
            y[r * n + k] -= logsum;
    }
}

/* Contiguous rows (the class dim last, as for logits); log_softmax's exps go to scratch. */
static bool softmax_rows(const float *x, float *y, int64_t rows, int64_t n, int kind)
{
    cg__room room;
    float *e = kind == SOFTMAX ? NULL : cg__room_begin(&room, rows * n);
    bool ok = kind == SOFTMAX || e;
    if (ok)
        over_rows(rows, n, softmax_rows_part, &(softmax_job){.x = x, .y = y, .e = e, .n = n, .kind = kind});
    if (kind != SOFTMAX)
        cg__room_end(&room);
    return ok;
}

/* Rows [r0, r1) of log_softmax's backward: gx = g - exp(y) * sum(g), row by row. */
static void log_softmax_grad_part(void *ctx, int64_t r0, int64_t r1)
{
    const softmax_job *j = ctx;
    int64_t n = j->n;
    cg__exp_f32((r1 - r0) * n, j->x + r0 * n, j->e + r0 * n);
    for (int64_t o = r0; o < r1; o++) {
        const float *gr = j->g + o * n, *er = j->e + o * n;
        double dot = cg__row_sum(gr, n);
        for (int64_t k = 0; k < n; k++) /* nothing in it yet: stored, not added to zeros */
            CG__STORE_OR_ADD(j->gx[o * n + k], j->fresh, gr[k] - er[k] * (float)dot);
    }
}

/* What a softmax-family node keeps. */
typedef struct {
    int dim;
    int kind;  /* SOFTMAX, LOG_SOFTMAX or LOGSUMEXP */
} softmax_saved;

static int softmax_backward(cg_node *n, const float *g)
{
    cg_tensor *x = n->in[0];
    bool fresh;
    float *gx = cg__grad_buf_to_write(x, &fresh);
    if (!gx || x->numel == 0)
        return 0;
    const softmax_saved *sv = n->saved;
    int kind = sv->kind;
    const float *y = n->out->data;
    cg__dim_split s = x->ndim ? cg__split_at(x, sv->dim) : (cg__dim_split){1, 1, 1};
    if (kind == LOG_SOFTMAX && s.inner == 1) { /* contiguous rows: one exp over each part's rows */
        cg__room room;
        float *all = cg__room_begin(&room, s.outer * s.n);
        if (all)
            over_rows(s.outer, s.n, log_softmax_grad_part,
                      &(softmax_job){.x = y, .g = g, .e = all, .gx = gx, .n = s.n, .fresh = fresh});
        cg__room_end(&room);
        return all ? 0 : -1;
    }
    cg__scratch_begin();
    if (fresh) /* the loops below add */
        memset(gx, 0, sizeof(float) * (size_t)x->numel);
    float *e = cg__scratch((size_t)s.n * sizeof(float)); /* exp of this row's log-probabilities */
    for (int64_t o = 0; e && o < s.outer; o++)
        for (int64_t i = 0; i < s.inner; i++) {
            int64_t base = o * s.n * s.inner + i;
            if (kind == LOGSUMEXP) {
                float gv = g[o * s.inner + i], lse = y[o * s.inner + i];
                for (int64_t j = 0; j < s.n; j++)
                    e[j] = x->data[base + j * s.inner] - lse;
                cg__exp_f32(s.n, e, e);
                for (int64_t j = 0; j < s.n; j++)
                    gx[base + j * s.inner] += gv * e[j];
                continue;
            }
            double dot = 0;
            for (int64_t j = 0; j < s.n; j++)
                dot += kind == SOFTMAX ? (double)g[base + j * s.inner] * y[base + j * s.inner]
                                       : (double)g[base + j * s.inner];
            if (kind == SOFTMAX) {
                for (int64_t j = 0; j < s.n; j++) {
                    int64_t k = base + j * s.inner;
                    gx[k] += y[k] * (g[k] - (float)dot);
                }
                continue;
            }
            for (int64_t j = 0; j < s.n; j++)
                e[j] = y[base + j * s.inner];
            cg__exp_f32(s.n, e, e);
            for (int64_t j = 0; j < s.n; j++)
                gx[base + j * s.inner] += g[base + j * s.inner] - e[j] * (float)dot;
        }
    cg__scratch_end();
    return e ? 0 : -1;
}
static const cg_op softmax_op = {.name = "SoftmaxBackward0", .backward = softmax_backward, .saves = CG_SAVES_OUT};
static const cg_op log_softmax_op = {.name = "LogSoftmaxBackward0", .backward = softmax_backward, .saves = CG_SAVES_OUT};
static const cg_op logsumexp_op = {.name = "LogsumexpBackward0", .backward = softmax_backward, .saves = CG_SAVES_IN(0) | CG_SAVES_OUT};

static cg_tensor *softmax_family(cg_tensor *t, int dim, bool keepdim, int kind, const char *name)
{
    if (!(t = cg__operand(t, name)))
        return NULL;
    int d = cg__dim(dim, t->ndim, name);
    if (d < 0)
        return NULL;
    cg_tensor *out;
    if (kind == LOGSUMEXP)
        out = t->ndim ? reduced_out(t, d, keepdim, name) : cg__new(0, NULL, name);
    else
        out = cg__new_as(t, name);
    if (!out)
        return NULL;
    cg__dim_split s = t->ndim ? cg__split_at(t, d) : (cg__dim_split){1, 1, 1};
    bool ok;
    if (t->numel == 0) { /* no work for any row (however many): logsumexp of nothing is -inf */
        for (int64_t i = 0; i < out->numel; i++)
            out->data[i] = -INFINITY;
        ok = true;
    } else if (s.inner == 1 && kind != LOGSUMEXP) { /* contiguous rows: one vectorised pass */
        ok = softmax_rows(t->data, out->data, s.outer, s.n, kind);
    } else {
        cg__scratch_begin();
        float *tmp = cg__scratch((size_t)s.n * sizeof(float));
        for (int64_t o = 0; tmp && o < s.outer; o++)
            for (int64_t i = 0; i < s.inner; i++) {
                float *y = kind == LOGSUMEXP ? out->data + o * s.inner + i : out->data + o * s.n * s.inner + i;
                softmax_row(t->data + o * s.n * s.inner + i, y, s.n, s.inner, kind, tmp);
            }
        cg__scratch_end();
        ok = tmp != NULL;
    }
    if (!ok)
        return NULL;
    const cg_op *op = kind == SOFTMAX ? &softmax_op : kind == LOG_SOFTMAX ? &log_softmax_op : &logsumexp_op;
    softmax_saved sv = {d, kind};
    return CG__RECORD_WITH(out, op, 1, &t, &sv);
}

cg_tensor *cg_softmax(cg_tensor *t, int dim) { return softmax_family(t, dim, false, SOFTMAX, "cg_softmax"); }
cg_tensor *cg_log_softmax(cg_tensor *t, int dim) { return softmax_family(t, dim, false, LOG_SOFTMAX, "cg_log_softmax"); }
cg_tensor *cg_logsumexp(cg_tensor *t, int dim, bool keepdim)
{
    return softmax_family(t, dim, keepdim, LOGSUMEXP, "cg_logsumexp");
}
