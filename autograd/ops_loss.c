/* cgrad — losses, and the lookups that feed them: nll_loss (cross_entropy is
 * log_softmax then nll_loss, as in torch), mse_loss, one_hot, embedding, and
 * dropout. Class ids are floats holding whole numbers. */
#include "autograd_internal.h"
#include <string.h>

static cg_loss_opts loss_defaults(void)
{
    return (cg_loss_opts){.reduction = CG_MEAN, .ignore_index = -100, .label_smoothing = 0.0f};
}

static const cg__opt_field loss_fields[] = {
    CG__OPT(cg_loss_opts, reduction), CG__OPT(cg_loss_opts, ignore_index), CG__OPT(cg_loss_opts, label_smoothing),
    CG__OPT(cg_loss_opts, weight)};

static bool merge_loss_opts(cg_loss_opts *o, cg_loss_opts user, const char *op)
{
    *o = loss_defaults();
    if (cg__opts_merge(o, &user, user.given, loss_fields, 4, op) < 0)
        return false;
    if (o->weight && !(o->weight = cg__operand(o->weight, op)))
        return false;
    if (o->reduction < CG_MEAN || o->reduction > CG_NONE) {
        cg__error("%s: unknown reduction %d", op, (int)o->reduction);
        return false;
    }
    if (!(o->label_smoothing >= 0.0f && o->label_smoothing <= 1.0f)) {
        cg__error("%s: label_smoothing must be in [0, 1], got %g", op, (double)o->label_smoothing);
        return false;
    }
    return true;
}

/* ---- nll_loss ---------------------------------------------------------------------- */

typedef struct {
    int64_t N, C, S; /* batch, classes, positions per sample (product of d1, ...) */
} nll_dims;

static bool nll_shapes(const cg_tensor *x, const cg_tensor *target, nll_dims *d, const char *op)
{
    char a[CG_SHAPE_BUF], b[CG_SHAPE_BUF];
    bool ok;
    if (x->ndim == 0) {
        ok = false;
    } else if (x->ndim == 1) {
        *d = (nll_dims){1, x->shape[0], 1};
        ok = target->ndim == 0;
    } else {
        *d = (nll_dims){x->shape[0], x->shape[1], 1};
        ok = target->ndim == x->ndim - 1 && target->shape[0] == x->shape[0];
        for (int i = 2; ok && i < x->ndim; i++) {
            ok = target->shape[i - 1] == x->shape[i];
            d->S *= x->shape[i];
        }
    }
    if (!ok)
        cg__error("%s: input of shape %s and target of shape %s do not fit ((N, C) with (N), (C) with (), "
                  "or (N, C, d1, ...) with (N, d1, ...))", op,
                  cg__shape_fmt(a, x->ndim, x->shape), cg__shape_fmt(b, target->ndim, target->shape));
    return ok;
}

/* What an nll_loss node keeps (target and weight are its inputs 1 and 2). */
typedef struct {
    nll_dims d;
    int64_t ignore_index;
    cg_reduction reduction;
    float label_smoothing;
    float scale;      /* 1/(weighted count) for mean, else 1 */
} nll_saved;

static int nll_backward(cg_node *n, const float *g)
{
    const nll_saved *sv = n->saved;
    cg_tensor *x = n->in[0], *target = n->in[1], *weight = n->in[2];
    float *gx = cg__grad_buf(x);
    if (!gx)
        return 0;
    const float *w = weight ? weight->data : NULL;
    nll_dims d = sv->d;
    int64_t ignore = sv->ignore_index;
    float eps = sv->label_smoothing, scale = sv->scale;
    bool per_item = n->out->ndim > 0 || sv->reduction == CG_NONE;
    for (int64_t b = 0; b < d.N; b++)
        for (int64_t s = 0; s < d.S; s++) {
            int64_t t = (int64_t)target->data[b * d.S + s];
            if (t == ignore)
                continue;
            float gv = (per_item ? g[b * d.S + s] : g[0]) * scale;
            float *row = gx + b * d.C * d.S + s;
            row[t * d.S] -= gv * (1 - eps) * (w ? w[t] : 1.0f);
            if (eps != 0)
                for (int64_t c = 0; c < d.C; c++)
                    row[c * d.S] -= gv * eps / (float)d.C * (w ? w[c] : 1.0f);
        }
    return 0;
}
static const cg_op nll_op = {.name = "NllLossBackward0", .backward = nll_backward, .saves = CG_SAVES_IN(1) | CG_SAVES_IN(2)};

/* A target that is not a class id: the message names the call and, for a
 * negative whole id, the option that skips it. */
static bool target_class_ok(float v, int64_t C, int64_t *t, const char *op)
{
    if (v == floorf(v) && v >= 0 && v < (float)C) {
        *t = (int64_t)v;
        return true;
    }
    if (v == floorf(v) && v < 0 && v > -1e9f)
        cg__error("%s: target class %g is not in [0, %lld); pass .ignore_index = %g to skip it", op, (double)v,
                  (long long)C, (double)v);
    else
        cg__error("%s: target class %g is not a whole number in [0, %lld)", op, (double)v, (long long)C);
    return false;
}

/* nll_loss as the call the user made (cg_nll_loss or cg_cross_entropy) */
static cg_tensor *nll_loss(cg_tensor *x, cg_tensor *target, cg_loss_opts user, const char *op)
{
    cg_loss_opts o;
    nll_dims d;
    if (!(x = cg__operand(x, op)) || !(target = cg__operand(target, op)) || !merge_loss_opts(&o, user, op) ||
        !nll_shapes(x, target, &d, op))
        return NULL;
    cg_tensor *ins[3] = {x, target, o.weight};
    const float *w = o.weight ? o.weight->data : NULL;
    if (o.weight && !(o.weight->ndim == 1 && o.weight->shape[0] == d.C)) {
        char a[CG_SHAPE_BUF];
        cg__error("%s: weight of shape %s for %lld classes", op, cg__shape_fmt(a, o.weight->ndim, o.weight->shape),
                  (long long)d.C);
        return NULL;
    }
    double count = 0; /* targets not ignored, each counted with its class's weight */
    for (int64_t i = 0; i < target->numel; i++) {
        int64_t t;
        if (target->data[i] == (float)o.ignore_index)
            continue;
        if (!target_class_ok(target->data[i], d.C, &t, op))
            return NULL;
        count += w ? w[t] : 1.0;
    }
    cg_tensor *out = o.reduction == CG_NONE ? cg__new_as(target, op) : cg__new(0, NULL, op);
    if (!out)
        return NULL;
    double total = 0;
    float eps = o.label_smoothing;
    for (int64_t b = 0; b < d.N; b++)
        for (int64_t s = 0; s < d.S; s++) {
            float v = target->data[b * d.S + s], loss = 0;
            if (v != (float)o.ignore_index) {
                const float *row = x->data + b * d.C * d.S + s;
                int64_t t = (int64_t)v;
                loss = -row[t * d.S] * (w ? w[t] : 1.0f) * (1 - eps);
                if (eps != 0) {
                    double all = 0;
                    for (int64_t c = 0; c < d.C; c++)
                        all += row[c * d.S] * (w ? w[c] : 1.0f);
                    loss -= (float)all * eps / (float)d.C;
                }
            }
            if (o.reduction == CG_NONE)
                out->data[b * d.S + s] = loss;
            total += loss;
        }
    /* torch's mean divides by the (weighted) number of targets not ignored (0/0 is nan). */
    float scale = o.reduction == CG_MEAN ? (float)(1.0 / count) : 1.0f;
    if (o.reduction == CG_MEAN)
        out->data[0] = (float)(total / count);
    else if (o.reduction == CG_SUM)
        out->data[0] = (float)total;
    nll_saved sv = {d, o.ignore_index, o.reduction, eps, scale};
    return CG__RECORD_WITH(out, &nll_op, 3, ins, &sv);
}

cg_tensor *cg_nll_loss_with(cg_tensor *x, cg_tensor *target, cg_loss_opts opts)
{
    return nll_loss(x, target, opts, "cg_nll_loss");
}

cg_tensor *cg_nll_loss(cg_tensor *x, cg_tensor *target) { return cg_nll_loss_with(x, target, (cg_loss_opts){0}); }

/* Class probabilities as targets: -sum_c target_c' log_softmax_c (per weight_c), where
 * target' = (1 - eps) target + eps / C; mean over everything but the class dim. */
static cg_tensor *soft_cross_entropy(cg_tensor *logits, cg_tensor *target, cg_loss_opts user)
{
    cg_loss_opts o;
    if (!merge_loss_opts(&o, user, "cg_cross_entropy"))
        return NULL;
    int cdim = logits->ndim == 1 ? 0 : 1;
    int64_t C = logits->shape[cdim];
    if (o.weight && !(o.weight->ndim == 1 && o.weight->shape[0] == C)) {
        cg__error("cg_cross_entropy: weight must have one value per class (%lld)", (long long)C);
        return NULL;
    }
    /* Temporaries go in tmp and are released at the end: outside frames the graph
     * keeps what it needs; inside frames releasing is a no-op. */
    cg_tensor *tmp[8] = {NULL};
    int nt = 0;
    cg_tensor *t = target;
    if (o.label_smoothing != 0) {
        cg_tensor *scaled = tmp[nt++] = cg_mul_scalar(target, 1 - o.label_smoothing);
        t = tmp[nt++] = cg_add_scalar(scaled, o.label_smoothing / (float)C);
    }
    cg_tensor *logp = tmp[nt++] = cg_log_softmax(logits, cdim);
    cg_tensor *prod = tmp[nt++] = cg_mul(logp, t);
    if (o.weight) { /* weight along the class dim: (C) or (C, 1, ..., 1) */
        int64_t shape[CG_MAX_DIMS];
        for (int i = 0; i < logits->ndim - cdim; i++)
            shape[i] = i == 0 ? C : 1;
        cg_tensor *wv = tmp[nt++] = cg_reshape(o.weight, logits->ndim - cdim, shape);
        prod = tmp[nt++] = cg_mul(prod, wv);
    }
    cg_tensor *summed = tmp[nt++] = cg_sum_dim(prod, cdim, false);
    cg_tensor *per = cg_neg(summed);
    cg_tensor *loss = per;
    if (o.reduction != CG_NONE) {
        tmp[nt++] = per;
        loss = o.reduction == CG_MEAN ? cg_mean(per) : cg_sum(per);
    }
    for (int i = 0; i < nt; i++)
        cg_tensor_free(tmp[i]);
    return loss;
}

cg_tensor *cg_cross_entropy_with(cg_tensor *logits, cg_tensor *target, cg_loss_opts opts)
{
    if (!(logits = cg__operand(logits, "cg_cross_entropy")) || !(target = cg__operand(target, "cg_cross_entropy")))
        return NULL;
    if (logits->ndim == 0) {
        cg__error("cg_cross_entropy: logits must have a class dim, got a 0-d tensor");
        return NULL;
    }
    if (cg_same_shape(logits, target))
        return soft_cross_entropy(logits, target, opts);
    nll_dims d;
    if (!nll_shapes(logits, target, &d, "cg_cross_entropy"))
        return NULL;
    cg_tensor *logp = cg_log_softmax(logits, logits->ndim == 1 ? 0 : 1);
    cg_tensor *loss = logp ? nll_loss(logp, target, opts, "cg_cross_entropy") : NULL;
    cg_tensor_free(logp); /* outside frames the loss's node keeps it alive */
    return loss;
}

cg_tensor *cg_cross_entropy(cg_tensor *logits, cg_tensor *target)
{
    return cg_cross_entropy_with(logits, target, (cg_loss_opts){0});
}

/* ---- mse_loss: ((input - target)^2) reduced --------------------------------------------- */

cg_tensor *cg_mse_loss_with(cg_tensor *input, cg_tensor *target, cg_loss_opts user)
{
    cg_loss_opts o;
    cg_tensor *both[2] = {input, target};
    int nd;
    int64_t shape[CG_MAX_DIMS];
    if (!(input = cg__operand(input, "cg_mse_loss")) || !(target = cg__operand(target, "cg_mse_loss")) ||
        !merge_loss_opts(&o, user, "cg_mse_loss") ||
        !cg__broadcast_shape(2, (const cg_tensor *const *)both, &nd, shape, "cg_mse_loss"))
        return NULL;
    cg_tensor *diff = cg_sub(input, target);
    cg_tensor *sq = diff ? cg_mul(diff, diff) : NULL;
    cg_tensor_free(diff);
    if (!sq || o.reduction == CG_NONE)
        return sq;
    cg_tensor *loss = o.reduction == CG_MEAN ? cg_mean(sq) : cg_sum(sq);
    cg_tensor_free(sq);
    return loss;
}

cg_tensor *cg_mse_loss(cg_tensor *input, cg_tensor *target) { return cg_mse_loss_with(input, target, (cg_loss_opts){0}); }

/* ---- one_hot / embedding --------------------------------------------------------------- */

cg_tensor *cg_one_hot(cg_tensor *ids, int64_t num_classes)
{
    if (!(ids = cg__operand(ids, "cg_one_hot")))
        return NULL;
    if (ids->ndim == CG_MAX_DIMS) {
        cg__error("cg_one_hot: ids already have %d dims", CG_MAX_DIMS);
        return NULL;
    }
    if (num_classes < 0) { /* torch's -1: one more than the largest id */
        num_classes = 0;
        int64_t k;
        for (int64_t i = 0; i < ids->numel; i++) /* each id checked before it is converted */
            if (!cg__index_ok(ids->data[i], INT64_C(1) << 31, &k, "cg_one_hot"))
                return NULL;
            else if (k + 1 > num_classes)
                num_classes = k + 1;
    }
    int64_t k;
    for (int64_t i = 0; i < ids->numel; i++)
        if (!cg__index_ok(ids->data[i], num_classes, &k, "cg_one_hot"))
            return NULL;
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, ids->shape, sizeof(int64_t) * (size_t)ids->ndim);
    shape[ids->ndim] = num_classes;
    cg_tensor *out = cg_zeros(ids->ndim + 1, shape);
    if (out)
        for (int64_t i = 0; i < ids->numel; i++)
            out->data[i * num_classes + (int64_t)ids->data[i]] = 1.0f;
    return out;
}

cg_tensor *cg_embedding(cg_tensor *weight, cg_tensor *ids)
{
    if (!(weight = cg__operand(weight, "cg_embedding")) || !(ids = cg__operand(ids, "cg_embedding")))
        return NULL;
    char a[CG_SHAPE_BUF];
    if (weight->ndim != 2) {
        cg__error("cg_embedding: weight must be (num_embeddings, dim), got %s",
                  cg__shape_fmt(a, weight->ndim, weight->shape));
        return NULL;
    }
    if (ids->ndim >= CG_MAX_DIMS) {
        cg__error("cg_embedding: ids have too many dims (%d)", ids->ndim);
        return NULL;
    }
    cg_tensor *detached = cg_detach(ids);
    cg_tensor *flat_ids = detached ? cg_reshape(detached, CG_SHAPE(-1)) : NULL;
    cg_tensor *rows = flat_ids ? cg__index_select(weight, 0, flat_ids, "cg_embedding") : NULL;
    cg_tensor *out = NULL;
    if (rows) {
        int64_t shape[CG_MAX_DIMS];
        memcpy(shape, ids->shape, sizeof(int64_t) * (size_t)ids->ndim);
        shape[ids->ndim] = weight->shape[1];
        out = cg_reshape(rows, ids->ndim + 1, shape);
    }
    cg_tensor_free(rows);
    cg_tensor_free(flat_ids);
    cg_tensor_free(detached);
    return out;
}

/* ---- dropout ------------------------------------------------------------------------------ */

static int dropout_backward(cg_node *n, const float *g)
{
    float *gx = cg__grad_buf(n->in[0]);
    const float *mask = n->saved; /* 0 or 1/(1-p) */
    if (gx)
        for (int64_t i = 0; i < n->out->numel; i++)
            gx[i] += g[i] * mask[i];
    return 0;
}
static const cg_op dropout_op = {.name = "MulBackward0", .backward = dropout_backward, .saves = 0, .fills_after_record = true};

cg_tensor *cg_dropout_gen(cg_tensor *x, float p, bool training, cg_generator *gen)
{
    if (!(x = cg__operand(x, "cg_dropout")))
        return NULL;
    if (!(p >= 0.0f && p <= 1.0f)) {
        cg__error("cg_dropout: probability has to be between 0 and 1, but got %g", (double)p);
        return NULL;
    }
    if (!training || p == 0.0f)
        return cg_reshape(x, x->ndim, x->shape); /* the input itself, as a view */
    cg_tensor *out = cg__new_as(x, "cg_dropout");
    if (!out)
        return NULL;
    size_t bytes = (size_t)x->numel * sizeof(float); /* the node keeps the mask */
    cg_node *n;
    out = cg__record(out, &dropout_op, 1, &x, NULL, 0, bytes, &n);
    if (!out)
        return NULL;
    if (x->numel == 0) /* nothing to draw; torch returns the empty result */
        return out;
    if (!n)
        cg__scratch_begin();
    float *mask = n ? n->saved : cg__scratch(bytes);
    if (mask) {
        /* torch: noise = bernoulli_(1 - p) drawn element by element in double, then / (1 - p). */
        double keep = 1.0 - (double)p;
        float scale = p == 1.0f ? 0.0f : 1.0f / (1.0f - p);
        cg_generator *g = cg__gen_acquire(gen);
        for (int64_t i = 0; i < x->numel; i++)
            mask[i] = cg__gen_uniform_double(g) < keep ? scale : 0.0f;
        cg__gen_release(g);
        for (int64_t i = 0; i < x->numel; i++)
            out->data[i] = x->data[i] * mask[i];
    }
    if (!n)
        cg__scratch_end();
    return mask ? cg__forward_done(out, &dropout_op) : cg__forward_failed(out);
}

cg_tensor *cg_dropout(cg_tensor *x, float p, bool training) { return cg_dropout_gen(x, p, training, NULL); }
