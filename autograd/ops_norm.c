/* cgrad — layer_norm, as torch.nn.functional.layer_norm: each row of the last
 * `nd` dims normalised to mean 0 and variance 1 (biased variance, eps inside
 * the root), then scaled by weight and shifted by bias (both optional, of the
 * normalised shape). One op with its own backward: the mean and 1/std of each
 * row are kept for it. Statistics are computed in double. */
#include "autograd_internal.h"
#include <string.h>

/* What a layer_norm node keeps: the row length, and each row's mean and 1/std. */
typedef struct {
    int64_t rows, n;
    float eps;
    double stats[]; /* mean, rstd for each row */
} norm_saved;

/* The backward in tasks over the threads with the bits of one thread: x's gradient by
 * rows (each row alone), weight's and bias's by columns (each summing the rows in order). */
#define NORM_ROWS 32
#define NORM_COLS 16
typedef struct {
    const norm_saved *sv;
    const float *x, *w, *g;
    float *gx, *gw, *gb;
} norm_backward_job;

static void norm_dx_rows(void *ctx, int64_t begin, int64_t end)
{
    const norm_backward_job *j = ctx;
    int64_t n = j->sv->n;
    for (int64_t r = begin; r < end; r++) {
        const float *xr = j->x + r * n, *gr = j->g + r * n;
        double mean = j->sv->stats[2 * r], rstd = j->sv->stats[2 * r + 1], sum_dy, sum_dy_xhat;
        const float *w = j->w;
        if (w) { /* (sums in eight running values: one chain of dependent adds was most of a layer norm) */
            sum_dy = cg__row_dot(gr, w, n);
            CG__SUM8(sum_dy_xhat, n, k, (double)gr[k] * w[k] * ((xr[k] - mean) * rstd));
        } else {
            sum_dy = cg__row_sum(gr, n);
            CG__SUM8(sum_dy_xhat, n, k, (double)gr[k] * ((xr[k] - mean) * rstd));
        }
        for (int64_t k = 0; k < n; k++) {
            double xhat = (xr[k] - mean) * rstd, dy = (double)gr[k] * (j->w ? j->w[k] : 1.0f);
            j->gx[r * n + k] += (float)(rstd * (dy - sum_dy / (double)n - xhat * sum_dy_xhat / (double)n));
        }
    }
}

static void norm_dwb_cols(void *ctx, int64_t k0, int64_t k1)
{
    const norm_backward_job *j = ctx;
    int64_t n = j->sv->n;
    for (int64_t r = 0; r < j->sv->rows; r++) {
        const float *xr = j->x + r * n, *gr = j->g + r * n;
        double mean = j->sv->stats[2 * r], rstd = j->sv->stats[2 * r + 1];
        for (int64_t k = k0; k < k1; k++) {
            if (j->gw)
                j->gw[k] += (float)((double)gr[k] * ((xr[k] - mean) * rstd));
            if (j->gb)
                j->gb[k] += gr[k];
        }
    }
}

static int layer_norm_backward(cg_node *nd, const float *g)
{
    const norm_saved *sv = nd->saved;
    cg_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2];
    norm_backward_job j = {sv, x->data, w ? w->data : NULL, g, cg__grad_buf(x), cg__grad_buf(w), cg__grad_buf(b)};
    if (j.gw || j.gb)
        cg__parallel_range(sv->n, NORM_COLS, norm_dwb_cols, &j);
    if (j.gx)
        cg__parallel_range(sv->rows, NORM_ROWS, norm_dx_rows, &j);
    return 0;
}
static const cg_op layer_norm_op = {.name = "NativeLayerNormBackward0", .backward = layer_norm_backward,
                                    .saves = CG_SAVES_IN(0) | CG_SAVES_IN(1), .fills_after_record = true};

/* weight and bias, when given, have the normalised shape: x's last nd dims. */
static bool affine_ok(const cg_tensor *x, int nd, const cg_tensor *p, const char *what)
{
    bool ok = !p || (p->ndim == nd && !memcmp(p->shape, x->shape + x->ndim - nd, sizeof(int64_t) * (size_t)nd));
    if (!ok) {
        char a[CG_SHAPE_BUF], b[CG_SHAPE_BUF];
        cg__error("cg_layer_norm: %s of shape %s for the normalised shape %s", what,
                  cg__shape_fmt(a, p->ndim, p->shape), cg__shape_fmt(b, nd, x->shape + x->ndim - nd));
    }
    return ok;
}

/* The forward by rows, in tasks over the threads (each row alone). */
typedef struct {
    const float *x, *w, *b;
    float eps;
    int64_t rows, n;
    double *stats;
    float *out;
} norm_forward_job;

static void normalise_rows(void *ctx, int64_t begin, int64_t end)
{
    const norm_forward_job *j = ctx;
    int64_t n = j->n;
    for (int64_t r = begin; r < end; r++) {
        const float *xr = j->x + r * n;
        double mean = cg__row_sum(xr, n) / (double)n, var;
        CG__SUM8(var, n, k, (xr[k] - mean) * (xr[k] - mean));
        double rstd = 1.0 / sqrt(var / (double)n + (double)j->eps);
        j->stats[2 * r] = mean, j->stats[2 * r + 1] = rstd;
        for (int64_t k = 0; k < n; k++)
            j->out[r * n + k] = (float)((xr[k] - mean) * rstd) * (j->w ? j->w[k] : 1.0f) + (j->b ? j->b[k] : 0.0f);
    }
}

cg_tensor *cg_layer_norm(cg_tensor *x, int nd, cg_tensor *weight, cg_tensor *bias, float eps)
{
    if (!(x = cg__operand(x, "cg_layer_norm")) || (weight && !(weight = cg__operand(weight, "cg_layer_norm"))) ||
        (bias && !(bias = cg__operand(bias, "cg_layer_norm"))))
        return NULL;
    if (nd < 1 || nd > x->ndim || !(eps >= 0)) {
        cg__error("cg_layer_norm: normalises 1 to %d trailing dims with eps >= 0 (got %d, %g)", x->ndim, nd, (double)eps);
        return NULL;
    }
    if (!affine_ok(x, nd, weight, "weight") || !affine_ok(x, nd, bias, "bias"))
        return NULL;
    int64_t n = 1;
    for (int d = x->ndim - nd; d < x->ndim; d++)
        n *= x->shape[d];
    int64_t rows = n ? x->numel / n : 0;
    cg_tensor *out = cg__new(x->ndim, x->shape, "cg_layer_norm");
    if (!out)
        return NULL;
    cg_tensor *ins[3] = {x, weight, bias};
    norm_saved args = {.rows = rows, .n = n, .eps = eps};
    size_t stats_bytes = sizeof(double) * 2 * (size_t)rows;
    cg_node *node;
    out = cg__record(out, &layer_norm_op, 3, ins, &args, sizeof args, sizeof args + stats_bytes, &node);
    if (!out)
        return NULL;
    cg__scratch_begin();
    double *stats = node ? ((norm_saved *)node->saved)->stats : cg__scratch(stats_bytes);
    norm_forward_job job = {x->data, weight ? weight->data : NULL, bias ? bias->data : NULL, eps, rows, n, stats,
                            out->data};
    if (stats)
        cg__parallel_range(rows, NORM_ROWS, normalise_rows, &job);
    cg__scratch_end();
    return stats ? cg__forward_done(out, &layer_norm_op) : cg__forward_failed(out);
}
