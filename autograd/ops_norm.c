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
    cg__norm_dx_rows(j->x, j->g, j->w, j->sv->n, j->sv->stats, j->gx, begin, end);
}

static void norm_dwb_cols(void *ctx, int64_t k0, int64_t k1)
{
    const norm_backward_job *j = ctx;
    cg__norm_dwb_cols(j->x, j->g, j->sv->n, j->sv->rows, j->sv->stats, j->gw, j->gb, k0, k1);
}

/* Columns a task for the weight's and bias's gradients: an equal part a thread, in
 * whole 16s (16 columns a task read 64 bytes of each row 512 apart, which no
 * prefetcher followed: memory-bound at a tenth of the bandwidth). */
static int64_t cols_a_thread(int64_t n)
{
    int64_t threads = n >= 2 * NORM_COLS ? cg_get_num_threads() : 1;
    return ((n + threads - 1) / threads + NORM_COLS - 1) / NORM_COLS * NORM_COLS;
}

static int layer_norm_backward(cg_node *nd, const float *g)
{
    const norm_saved *sv = nd->saved;
    cg_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2];
    norm_backward_job j = {sv, x->data, w ? w->data : NULL, g, cg__grad_buf(x), cg__grad_buf(w), cg__grad_buf(b)};
    if (j.gw || j.gb) /* a part of each row a thread (rows read along, which the prefetcher follows) */
        cg__parallel_range(sv->n, cols_a_thread(sv->n), norm_dwb_cols, &j);
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
    cg__norm_forward_rows(j->x, j->n, (double)j->eps, j->w, j->b, j->stats, j->out, begin, end);
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
    cg_tensor *out = cg__new_as(x, "cg_layer_norm");
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
