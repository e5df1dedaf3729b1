/* cgrad — scaled dot-product attention as one op with its own backward:
 * softmax(q kᵀ · scale + mask) v over the last two dims, for every leading
 * (batch, head) index. The node keeps the attention weights P, so backward is
 * four products and a softmax backward:
 *   dV = P̃ᵀ dO,  dP̃ = dO Vᵀ,  dP = dP̃ ⊙ D,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),  dQ = dS K · scale,  dK = dSᵀ Q · scale,
 * where P̃ = P ⊙ D is P after dropout (D is 0 or 1/(1-p) per weight; D = 1 without
 * dropout). Softmax's derivative needs the undropped P, so with dropout the node
 * keeps P and which weights were kept, and forms P̃ again for dV.
 * The additive mask (or the causal one) is a constant: it gets no gradient.
 * Each operand's rows are read where they lie (a placement: an offset per batch and a
 * row stride), so cg_packed_attention reads the heads out of nanoGPT's c_attn output
 * and writes them joined, with none of the transposes' copies, by the same products. */
#include "autograd_internal.h"
#include <string.h>

/* Where batch b's rows of an operand lie: at first + (b / heads) * outer + (b % heads) * inner,
 * ld apart. Separate q, k, v: one head, whole matrices; packed: a head's columns in each row. */
typedef struct {
    int64_t first, heads, outer, inner, ld;
} placement;

static int64_t at(const placement *p, int64_t b) { return p->first + (b / p->heads) * p->outer + (b % p->heads) * p->inner; }

/* What an attention node keeps: the sizes, the operands' placements (q, k, v, out; in
 * the node's inputs, or all three in its only one), the scale, and P for every batch. */
typedef struct {
    int64_t batches, L, S, E, Ev;
    placement q, k, v, o;
    bool packed;
    bool causal; /* is_causal: P's upper triangle is 0, and the products leave it out (cg__gemm_tri) */
    float scale;
    float dropout_p; /* 0: no dropout, and no keep flags after p */
    float p[];       /* batches x L x S softmax weights (before dropout); with dropout,
                        batches x L x S bytes follow: 1 where the weight was kept */
} attention_saved;

/* torch's dropout: each weight kept with probability 1 - p (a double draw) and
 * scaled by 1/(1-p), as cg_dropout does. */
static float dropout_scale(float p) { return 1.0f / (1.0f - p); }

/* P̃ = P ⊙ D for n weights, from the keep flags. */
static void apply_dropout(const float *P, const uint8_t *keep, float p, int64_t n, float *dropped)
{
    float s = dropout_scale(p);
    for (int64_t i = 0; i < n; i++)
        dropped[i] = keep[i] ? P[i] * s : 0.0f;
}

static uint8_t *keep_flags(const attention_saved *sv)
{
    return sv->dropout_p > 0 ? (uint8_t *)(sv->p + sv->batches * sv->L * sv->S) : NULL;
}

/* One batch's backward (a task: batches write disjoint parts of the gradients, so
 * they run on any thread in any order with the same bits). */
typedef struct {
    const attention_saved *sv;
    const float *q, *k, *v, *g;
    float *gq, *gk, *gv;
    float beta; /* 0: the gradients are fresh, each element stored once; 1: added to */
    const uint8_t *keep;
    int failed;
} backward_job;

static void backward_batch(void *ctx, int64_t b)
{
    backward_job *j = ctx;
    const attention_saved *sv = j->sv;
    int64_t L = sv->L, S = sv->S, E = sv->E, Ev = sv->Ev;
    int64_t ldq = sv->q.ld, ldk = sv->k.ld, ldv = sv->v.ld, ldo = sv->o.ld;
    int64_t oq = at(&sv->q, b), ok = at(&sv->k, b), ov = at(&sv->v, b);
    const float *P = sv->p + b * L * S, *dO = j->g + at(&sv->o, b);
    const float *Q = j->q + oq, *K = j->k + ok, *V = j->v + ov;
    const uint8_t *kb = j->keep ? j->keep + b * L * S : NULL;
    /* with is_causal P and dS are lower triangular: P̃ᵀ and dSᵀ upper, dP wanted below the diagonal only */
    cg__tri lower = sv->causal ? CG__TRI_A_LOWER : CG__TRI_NONE, upper = sv->causal ? CG__TRI_A_UPPER : CG__TRI_NONE;
    cg__scratch_begin();
    float *dp = cg__scratch(sizeof(float) * (size_t)(L * S));
    float *dropped = kb ? cg__scratch(sizeof(float) * (size_t)(L * S)) : NULL;
    int rc = dp && (dropped || !kb) ? 0 : -1;
    if (rc == 0 && kb)
        apply_dropout(P, kb, sv->dropout_p, L * S, dropped);
    if (rc == 0 && j->gv) /* dV (S, Ev) += P̃ᵀ (S, L) dO (L, Ev) */
        rc |= cg__gemm_tri(upper, true, false, S, Ev, L, kb ? dropped : P, S, dO, ldo, j->beta, j->gv + ov, ldv);
    if (rc == 0 && (j->gq || j->gk)) {
        /* dP̃ = dO Vᵀ (past the diagonal 0 or the product: finite, and P is 0 there) */
        rc |= cg__gemm_tri(sv->causal ? CG__TRI_C_LOWER : CG__TRI_NONE, false, true, L, S, Ev, dO, ldo, V, ldv, 0.0f, dp, S);
        if (kb) /* dP = dP̃ ⊙ D */
            apply_dropout(dp, kb, sv->dropout_p, L * S, dp);
        cg__attention_ds(dp, P, L, S, sv->causal, sv->scale); /* dS = P ⊙ (dP − rowsum(dP ⊙ P)), then · scale */
        if (j->gq) /* dQ (L, E) += dS (L, S) K (S, E) */
            rc |= cg__gemm_tri(lower, false, false, L, E, S, dp, S, K, ldk, j->beta, j->gq + oq, ldq);
        if (j->gk) /* dK (S, E) += dSᵀ (S, L) Q (L, E) */
            rc |= cg__gemm_tri(upper, true, false, S, E, L, dp, S, Q, ldq, j->beta, j->gk + ok, ldk);
    }
    cg__scratch_end();
    if (rc)
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
}

static int attention_backward(cg_node *n, const float *g)
{
    const attention_saved *sv = n->saved;
    cg_tensor *q = n->in[0], *k = sv->packed ? q : n->in[1], *v = sv->packed ? q : n->in[2];
    bool empty = sv->batches == 0 || sv->L == 0 || sv->S == 0, fresh = false;
    float *gq, *gk, *gv;
    if (sv->packed) { /* q, k and v apart in one buffer, which the batches' heads cover once (or it is empty) */
        gq = gk = gv = cg__grad_buf_to_write(q, &fresh);
    } else {
        gq = cg__grad_buf(q), gk = cg__grad_buf(k), gv = cg__grad_buf(v);
    }
    if (empty) /* no weights: nothing reaches q, k or v */
        return 0;
    backward_job job = {sv, q->data, k->data, v->data, g, gq, gk, gv, fresh ? 0.0f : 1.0f, keep_flags(sv), 0};
    cg__parallel_for(sv->batches, backward_batch, &job); /* the batches over the threads */
    if (job.failed) {
        cg__error("cg_backward: out of memory in the attention's backward");
        return -1;
    }
    return 0;
}
static const cg_op attention_op = {.name = "ScaledDotProductAttentionBackward0", .backward = attention_backward,
                                   .saves = CG_SAVES_IN(0) | CG_SAVES_IN(1) | CG_SAVES_IN(2),
                                   .fills_after_record = true};
/* (packed: q, k and v are one input; torch's backward node there is the same attention's) */
static const cg_op packed_attention_op = {.name = "ScaledDotProductAttentionBackward0", .backward = attention_backward,
                                          .saves = CG_SAVES_IN(0), .fills_after_record = true};

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

/* P = softmax(Q Kᵀ scale + mask) for one batch, rows of L. */
static int attention_weights(const float *Q, int64_t ldq, const float *K, int64_t ldk, const float *mask, bool causal,
                              float scale, int64_t L, int64_t S, int64_t E, float *P)
{
    /* (causal: past the diagonal the logits overwrite whatever the product left there) */
    if (cg__gemm_tri(causal ? CG__TRI_C_LOWER : CG__TRI_NONE, false, true, L, S, E, Q, ldq, K, ldk, 0.0f, P, S) < 0)
        return -1;
    /* each row shifted by its largest value, one vectorised exp over them all (causal: over
     * each row's open part), then each row scaled by the inverse of its sum: cg_softmax's
     * arithmetic, as torch's softmax */
    cg__attention_logits(P, L, S, mask, causal, scale);
    if (causal) /* (past the diagonal the logits left zeros: the weights there) */
        for (int64_t i = 0; i < L; i++)
            cg__exp_f32(cg__attention_open(i, S, true), P + i * S, P + i * S);
    else
        cg__exp_f32(L * S, P, P);
    cg__attention_normalise(P, L, S, causal);
    return 0;
}

/* One batch's forward (a task: batches write disjoint outputs and weights). */
typedef struct {
    const attention_saved *a;
    const cg_attention_opts *o;
    const float *q, *k, *v;
    float *out, *P;
    const uint8_t *keep;
    int failed;
} forward_job;

static void forward_batch(void *ctx, int64_t b)
{
    forward_job *j = ctx;
    const attention_saved *a = j->a;
    int64_t L = a->L, S = a->S;
    const cg_tensor *m = j->o->attn_mask;
    const float *mask = m ? m->data + (m->ndim == 2 ? 0 : b * L * S) : NULL;
    float *Pb = j->P + b * L * S;
    const uint8_t *kb = j->keep ? j->keep + b * L * S : NULL;
    cg__scratch_begin();
    float *dropped = kb ? cg__scratch(sizeof(float) * (size_t)(L * S)) : NULL;
    bool ok = (dropped || !kb) && attention_weights(j->q + at(&a->q, b), a->q.ld, j->k + at(&a->k, b), a->k.ld, mask,
                                                    j->o->is_causal, a->scale, L, S, a->E, Pb) == 0;
    if (ok && kb)
        apply_dropout(Pb, kb, a->dropout_p, L * S, dropped);
    ok = ok && cg__gemm_tri(a->causal ? CG__TRI_A_LOWER : CG__TRI_NONE, false, false, L, a->Ev, S, kb ? dropped : Pb, S,
                            j->v + at(&a->v, b), a->v.ld, 0.0f, j->out + at(&a->o, b), a->o.ld) == 0;
    cg__scratch_end();
    if (!ok)
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
}

/* The options of an attention call: the user's over torch's defaults, checked. */
static bool attention_opts(cg_attention_opts *o, const cg_attention_opts *user, const char *op)
{
    static const cg__opt_field fields[] = {CG__OPT(cg_attention_opts, attn_mask), CG__OPT(cg_attention_opts, is_causal),
                                           CG__OPT(cg_attention_opts, dropout_p), CG__OPT(cg_attention_opts, scale),
                                           CG__OPT(cg_attention_opts, generator)};
    *o = (cg_attention_opts){.scale = NAN}; /* NaN after the merge: no scale given, torch's 1 / sqrt(E) */
    if (cg__opts_merge(o, user, user->given, fields, 5, op) < 0 || (o->attn_mask && !(o->attn_mask = cg__operand(o->attn_mask, op))))
        return false;
    if (isnan(user->scale)) { /* a NaN the caller wrote, not the default */
        cg__error("%s: scale is NaN", op);
        return false;
    }
    if (o->is_causal && o->attn_mask) { /* torch: "Explicit attn_mask should not be set when is_causal=True" */
        cg__error("%s: attn_mask and is_causal both given (torch refuses an explicit mask with is_causal)", op);
        return false;
    }
    if (!(o->dropout_p >= 0 && o->dropout_p < 1)) {
        cg__error("%s: dropout_p must be in [0, 1), got %g", op, (double)o->dropout_p);
        return false;
    }
    return true;
}

/* softmax(Q Kᵀ scale + mask) V for every batch of sv's sizes and placements, into a new
 * tensor of out_shape, recorded as op over ins. */
static cg_tensor *attend(const cg_op *op, int nin, cg_tensor **ins, attention_saved args, const cg_attention_opts *o,
                         int ndim, const int64_t *out_shape, const char *name)
{
    int64_t batches = args.batches, L = args.L, S = args.S, E = args.E;
    /* P holds batches x L x S weights: sizes from several tensors, so their product is
     * checked here (each tensor's own sizes are bounded, their product across is not) */
    int64_t weights_n = 0;
    if (batches && L && S &&
        (__builtin_mul_overflow(batches, L, &weights_n) || __builtin_mul_overflow(weights_n, S, &weights_n) ||
         weights_n > cg__max_numel())) {
        cg__error("%s: the attention weights (%lld x %lld x %lld) are too large to hold", name, (long long)batches,
                  (long long)L, (long long)S);
        return NULL;
    }
    cg_tensor *out = cg__new(ndim, out_shape, name);
    if (!out)
        return NULL;
    bool dropout = o->dropout_p > 0;
    args.scale = isnan(o->scale) ? 1.0f / sqrtf((float)(E ? E : 1)) : o->scale;
    args.dropout_p = o->dropout_p;
    args.causal = o->is_causal;
    size_t weights = (size_t)weights_n;
    size_t p_bytes = sizeof(float) * weights + (dropout ? weights : 0);
    cg_node *node;
    if (!(out = cg__record(out, op, nin, ins, &args, sizeof args, sizeof args + p_bytes, &node)))
        return NULL;
    cg__scratch_begin();
    float *P = node ? ((attention_saved *)node->saved)->p : cg__scratch(p_bytes);
    uint8_t *keep = dropout && P ? (uint8_t *)(P + weights) : NULL;
    if (keep) { /* torch: bernoulli(1 - p) for each weight, batch by batch, row by row */
        cg_generator *g = cg__gen_acquire(o->generator);
        for (size_t i = 0; i < weights; i++)
            keep[i] = cg__gen_uniform_double(g) < 1.0 - (double)o->dropout_p;
        cg__gen_release(g);
    }
    const float *q = ins[0]->data, *k = args.packed ? q : ins[1]->data, *v = args.packed ? q : ins[2]->data;
    forward_job job = {&args, o, q, k, v, out->data, P, keep, !P};
    if (P && batches && L && S)
        cg__parallel_for(batches, forward_batch, &job); /* the batches over the threads */
    else if (P && out->numel) /* no key to attend to: torch gives zeros */
        memset(out->data, 0, sizeof(float) * (size_t)out->numel);
    cg__scratch_end();
    if (job.failed) {
        cg__error("%s: out of memory", name);
        return cg__forward_failed(out);
    }
    return cg__forward_done(out, op);
}

cg_tensor *cg_scaled_dot_product_attention_with(cg_tensor *q, cg_tensor *k, cg_tensor *v, cg_attention_opts user)
{
    const char *op = "cg_scaled_dot_product_attention";
    cg_attention_opts o;
    cg_tensor *ins[3] = {q, k, v};
    if (!cg__dense_all(3, ins, op))
        return NULL;
    q = ins[0], k = ins[1], v = ins[2];
    if (!attention_opts(&o, &user, op) || !shapes_ok(q, k, v, o.attn_mask))
        return NULL;
    int64_t L = q->shape[q->ndim - 2], E = q->shape[q->ndim - 1], S = k->shape[k->ndim - 2], Ev = v->shape[v->ndim - 1];
    int64_t batches = cg__rows(q) / (L ? L : 1);
    attention_saved args = {batches, L, S, E, Ev, .q = {0, 1, L * E, 0, E}, .k = {0, 1, S * E, 0, E},
                            .v = {0, 1, S * Ev, 0, Ev}, .o = {0, 1, L * Ev, 0, Ev}};
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, q->shape, sizeof(int64_t) * (size_t)q->ndim);
    shape[q->ndim - 1] = Ev;
    return attend(&attention_op, 3, ins, args, &o, q->ndim, shape, op);
}

cg_tensor *cg_scaled_dot_product_attention(cg_tensor *q, cg_tensor *k, cg_tensor *v)
{
    return cg_scaled_dot_product_attention_with(q, k, v, (cg_attention_opts){0});
}

/* ---- the heads packed as nanoGPT's c_attn makes them -------------------------------------
 * qkv (..., T, 3 E): each row q | k | v, each of n_head heads of E / n_head side by side.
 * Batch b is (b / n_head, b % n_head): its q rows start at the head's column of the
 * outer index's T rows, 3 E apart; the output's at the same column of (..., T, E). */
cg_tensor *cg_packed_attention_with(cg_tensor *qkv, int n_head, cg_attention_opts user)
{
    const char *op = "cg_packed_attention";
    cg_attention_opts o;
    if (!(qkv = cg__operand(qkv, op)) || !attention_opts(&o, &user, op))
        return NULL;
    int64_t C3 = qkv->ndim >= 2 ? qkv->shape[qkv->ndim - 1] : -1, T = qkv->ndim >= 2 ? qkv->shape[qkv->ndim - 2] : 0;
    if (qkv->ndim < 2 || n_head < 1 || C3 % 3 != 0 || (C3 / 3) % n_head != 0) {
        char a[CG_SHAPE_BUF];
        cg__error("%s: qkv %s is not (..., T, 3 E) with E a multiple of n_head = %d", op,
                  cg__shape_fmt(a, qkv->ndim, qkv->shape), n_head);
        return NULL;
    }
    int64_t E = C3 / 3, hs = E / n_head, outer = T ? cg__rows(qkv) / T : 0;
    cg_tensor *mask = o.attn_mask; /* (T, T), or one per batch and head: (..., n_head, T, T) */
    bool mask_ok = !mask || (mask->ndim == 2 && mask->shape[0] == T && mask->shape[1] == T) ||
                   (mask->ndim == qkv->ndim + 1 && !memcmp(mask->shape, qkv->shape, sizeof(int64_t) * (size_t)(qkv->ndim - 2)) &&
                    mask->shape[qkv->ndim - 2] == n_head && mask->shape[qkv->ndim - 1] == T && mask->shape[qkv->ndim] == T);
    if (!mask_ok) {
        char a[CG_SHAPE_BUF], b[CG_SHAPE_BUF];
        cg__error("%s: the mask %s fits neither (T, T) nor (..., n_head, T, T) for qkv %s", op,
                  cg__shape_fmt(a, mask->ndim, mask->shape), cg__shape_fmt(b, qkv->ndim, qkv->shape));
        return NULL;
    }
    attention_saved args = {outer * n_head, T, T, hs, hs, .packed = true,
                            .q = {0, n_head, T * C3, hs, C3}, .k = {E, n_head, T * C3, hs, C3},
                            .v = {2 * E, n_head, T * C3, hs, C3}, .o = {0, n_head, T * E, hs, E}};
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, qkv->shape, sizeof(int64_t) * (size_t)qkv->ndim);
    shape[qkv->ndim - 1] = E;
    return attend(&packed_attention_op, 1, &qkv, args, &o, qkv->ndim, shape, op);
}

cg_tensor *cg_packed_attention(cg_tensor *qkv, int n_head)
{
    return cg_packed_attention_with(qkv, n_head, (cg_attention_opts){0});
}
