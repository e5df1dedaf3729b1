/* cgrad — scaled dot-product attention as one op with its own backward:
 * softmax(q kᵀ · scale + mask) v over the last two dims, for every leading
 * (batch, head) index. The node keeps the attention weights P, so backward is
 * four products and a softmax backward:
 *   dV = Pᵀ dO,  dP = dO Vᵀ,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),  dQ = dS K · scale,  dK = dSᵀ Q · scale.
 * The additive mask (or the causal one) is a constant: it gets no gradient. */
#include "autograd_internal.h"
#include <string.h>

/* What an attention node keeps: the sizes, the scale, and P for every batch. */
typedef struct {
    int64_t batches, L, S, E, Ev;
    float scale;
    float p[]; /* batches x L x S attention weights (after dropout's scaling when training) */
} attention_saved;

static void attention_backward(cg_node *n, const float *g)
{
    const attention_saved *sv = n->saved;
    cg_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2];
    float *gq = cg__grad_buf(q), *gk = cg__grad_buf(k), *gv = cg__grad_buf(v);
    int64_t L = sv->L, S = sv->S, E = sv->E, Ev = sv->Ev;
    cg__scratch_begin();
    float *dp = cg__scratch(sizeof(float) * (size_t)(L * S));
    for (int64_t b = 0; dp && b < sv->batches; b++) {
        const float *P = sv->p + b * L * S, *dO = g + b * L * Ev;
        const float *Q = q->data + b * L * E, *K = k->data + b * S * E, *V = v->data + b * S * Ev;
        if (gv) /* dV (S, Ev) += Pᵀ (S, L) dO (L, Ev) */
            cg__gemm(true, false, S, Ev, L, P, S, dO, Ev, 1.0f, gv + b * S * Ev, Ev);
        if (!gq && !gk)
            continue;
        cg__gemm(false, true, L, S, Ev, dO, Ev, V, Ev, 0.0f, dp, S); /* dP = dO Vᵀ */
        for (int64_t i = 0; i < L; i++) { /* dS = P ⊙ (dP − rowsum(dP ⊙ P)), then · scale */
            double dot = 0;
            for (int64_t j = 0; j < S; j++)
                dot += (double)dp[i * S + j] * P[i * S + j];
            for (int64_t j = 0; j < S; j++)
                dp[i * S + j] = P[i * S + j] * (dp[i * S + j] - (float)dot) * sv->scale;
        }
        if (gq) /* dQ (L, E) += dS (L, S) K (S, E) */
            cg__gemm(false, false, L, E, S, dp, S, K, E, 1.0f, gq + b * L * E, E);
        if (gk) /* dK (S, E) += dSᵀ (S, L) Q (L, E) */
            cg__gemm(true, false, S, E, L, dp, S, Q, E, 1.0f, gk + b * S * E, E);
    }
    cg__scratch_end();
}
static const cg_op attention_op = {.name = "ScaledDotProductAttentionBackward0", .backward = attention_backward,
                                   .saves = CG_SAVES_IN(0) | CG_SAVES_IN(1) | CG_SAVES_IN(2),
                                   .fills_after_record = true};

/* q (..., L, E), k (..., S, E), v (..., S, Ev), the same leading dims; mask (L, S) or q's leading dims + (L, S). */
static bool shapes_ok(const cg_tensor *q, const cg_tensor *k, const cg_tensor *v, const cg_tensor *mask)
{
    bool ok = q->ndim >= 2 && k->ndim == q->ndim && v->ndim == q->ndim && k->shape[k->ndim - 1] == q->shape[q->ndim - 1] &&
              v->shape[v->ndim - 2] == k->shape[k->ndim - 2];
    for (int d = 0; ok && d < q->ndim - 2; d++)
        ok = k->shape[d] == q->shape[d] && v->shape[d] == q->shape[d];
    int64_t L = ok ? q->shape[q->ndim - 2] : 0, S = ok ? k->shape[k->ndim - 2] : 0;
    bool mask_ok = !mask || (mask->ndim >= 2 && mask->shape[mask->ndim - 2] == L && mask->shape[mask->ndim - 1] == S &&
                             (mask->ndim == 2 || (mask->ndim == q->ndim && !memcmp(mask->shape, q->shape,
                                                                                     sizeof(int64_t) * (size_t)(q->ndim - 2)))));
    if (!ok || !mask_ok) {
        char a[CG_SHAPE_BUF], b[CG_SHAPE_BUF], c[CG_SHAPE_BUF];
        cg__error("cg_scaled_dot_product_attention: q %s, k %s, v %s do not fit (..., L, E), (..., S, E), (..., S, Ev)%s",
                  cg__shape_fmt(a, q->ndim, q->shape), cg__shape_fmt(b, k->ndim, k->shape),
                  cg__shape_fmt(c, v->ndim, v->shape), ok ? " with the mask (L, S)" : "");
    }
    return ok && mask_ok;
}

/* P = softmax(Q Kᵀ scale + mask) for one batch, rows of L; then dropout. */
static void attention_weights(const float *Q, const float *K, const float *mask, bool causal, float scale,
                              float dropout_p, int64_t L, int64_t S, int64_t E, float *P)
{
    cg__gemm(false, true, L, S, E, Q, E, K, E, 0.0f, P, S);
    for (int64_t i = 0; i < L; i++) {
        float *row = P + i * S, top = -INFINITY;
        for (int64_t j = 0; j < S; j++) {
            row[j] = row[j] * scale + (mask ? mask[i * S + j] : 0.0f);
            if (causal && j > i) /* torch's is_causal: the upper triangle of an (L, S) matrix */
                row[j] = -INFINITY;
            top = row[j] > top ? row[j] : top;
        }
        double sum = 0;
        for (int64_t j = 0; j < S; j++)
            sum += row[j] = top == -INFINITY ? 0.0f : expf(row[j] - top);
        for (int64_t j = 0; j < S; j++)
            row[j] = sum > 0 ? (float)(row[j] / sum) : 0.0f;
        for (int64_t j = 0; dropout_p > 0 && j < S; j++) /* torch: bernoulli(1 - p) / (1 - p) */
            row[j] = cg__uniform_double() < 1.0 - (double)dropout_p ? row[j] / (1.0f - dropout_p) : 0.0f;
    }
}

cg_tensor *cg_scaled_dot_product_attention_with(cg_tensor *q, cg_tensor *k, cg_tensor *v, cg_attention_opts user)
{
    static const cg__opt_field fields[] = {CG__OPT(cg_attention_opts, attn_mask), CG__OPT(cg_attention_opts, is_causal),
                                           CG__OPT(cg_attention_opts, dropout_p), CG__OPT(cg_attention_opts, scale)};
    const char *op = "cg_scaled_dot_product_attention";
    cg_attention_opts o = {0};
    cg_tensor *ins[3] = {q, k, v};
    if (!cg__check_all(3, ins, op) || cg__opts_merge(&o, &user, user.given, fields, 4, op) < 0 ||
        (o.attn_mask && !cg__check(o.attn_mask, op)) || !shapes_ok(q, k, v, o.attn_mask))
        return NULL;
    if (!(o.dropout_p >= 0 && o.dropout_p < 1)) {
        cg__error("%s: dropout_p must be in [0, 1), got %g", op, (double)o.dropout_p);
        return NULL;
    }
    int64_t L = q->shape[q->ndim - 2], E = q->shape[q->ndim - 1], S = k->shape[k->ndim - 2], Ev = v->shape[v->ndim - 1];
    int64_t batches = cg__rows(q) / (L ? L : 1);
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, q->shape, sizeof(int64_t) * (size_t)q->ndim);
    shape[q->ndim - 1] = Ev;
    cg_tensor *out = cg__new(q->ndim, shape, op);
    if (!out)
        return NULL;
    attention_saved args = {batches, L, S, E, Ev, o.scale > 0 ? o.scale : 1.0f / sqrtf((float)(E ? E : 1))};
    size_t p_bytes = sizeof(float) * (size_t)(batches * L * S);
    cg_node *node;
    if (!(out = cg__record(out, &attention_op, 3, ins, &args, sizeof args, sizeof args + p_bytes, &node)))
        return NULL;
    cg__scratch_begin();
    float *P = node ? ((attention_saved *)node->saved)->p : cg__scratch(p_bytes);
    for (int64_t b = 0; P && b < batches; b++) {
        const float *mask = o.attn_mask ? o.attn_mask->data + (o.attn_mask->ndim == 2 ? 0 : b * L * S) : NULL;
        float *Pb = P + b * L * S;
        attention_weights(q->data + b * L * E, k->data + b * S * E, mask, o.is_causal, args.scale, o.dropout_p, L, S,
                          E, Pb);
        cg__gemm(false, false, L, Ev, S, Pb, S, v->data + b * S * Ev, Ev, 0.0f, out->data + b * L * Ev, Ev);
    }
    cg__scratch_end();
    return P ? cg__forward_done(out, &attention_op) : cg__forward_failed(out);
}

cg_tensor *cg_scaled_dot_product_attention(cg_tensor *q, cg_tensor *k, cg_tensor *v)
{
    return cg_scaled_dot_product_attention_with(q, k, v, (cg_attention_opts){0});
}
