/* cgrad — matmul with torch.matmul's rules: 1-D·1-D is a dot product, a 1-D
 * operand is taken as a row (left) or column (right) and that dim dropped from
 * the result, and dims before the last two are batch dims that broadcast.
 * Backward: dA += dC · Bᵀ and dB += Aᵀ · dC, accumulated by the GEMM itself
 * (beta = 1), which also sums the gradient of a broadcast batch operand. */
#include "autograd_internal.h"
#include <string.h>

typedef struct {
    int64_t n, k, m;              /* each product: (n, k) @ (k, m) */
    int bnd;                      /* batch dims of the result */
    int64_t bshape[CG_MAX_DIMS];
    cg_tensor abatch, bbatch;     /* headers with only the batch shapes, for the broadcast walk */
    bool fold;                    /* b has no batch dims: all of a's rows in one product */
} mm_plan;

static bool plan(const cg_tensor *a, const cg_tensor *b, mm_plan *p, int *ndim, int64_t *shape)
{
    char sa[CG_SHAPE_BUF], sb[CG_SHAPE_BUF];
    if (a->ndim == 0 || b->ndim == 0) {
        cg__error("cg_matmul: both arguments need at least 1 dim, got shapes %s and %s",
                  cg__shape_fmt(sa, a->ndim, a->shape), cg__shape_fmt(sb, b->ndim, b->shape));
        return false;
    }
    p->n = a->ndim >= 2 ? a->shape[a->ndim - 2] : 1;
    p->k = a->shape[a->ndim - 1];
    int64_t kb = b->ndim >= 2 ? b->shape[b->ndim - 2] : b->shape[0];
    p->m = b->ndim >= 2 ? b->shape[b->ndim - 1] : 1;
    if (p->k != kb) {
        cg__error("cg_matmul: shapes %s and %s do not match (%lld != %lld)",
                  cg__shape_fmt(sa, a->ndim, a->shape), cg__shape_fmt(sb, b->ndim, b->shape),
                  (long long)p->k, (long long)kb);
        return false;
    }
    if (a->ndim <= 2 && b->ndim <= 2) { /* no batch dims: one product */
        p->bnd = 0;
        p->fold = true;
        int nd = 0;
        if (a->ndim == 2)
            shape[nd++] = p->n;
        if (b->ndim == 2)
            shape[nd++] = p->m;
        *ndim = nd;
        return true;
    }
    memset(&p->abatch, 0, sizeof p->abatch);
    memset(&p->bbatch, 0, sizeof p->bbatch);
    p->abatch.ndim = a->ndim > 2 ? a->ndim - 2 : 0;
    p->bbatch.ndim = b->ndim > 2 ? b->ndim - 2 : 0;
    for (int d = 0; d < p->abatch.ndim; d++)
        p->abatch.shape[d] = a->shape[d];
    for (int d = 0; d < p->bbatch.ndim; d++)
        p->bbatch.shape[d] = b->shape[d];
    const cg_tensor *bt[2] = {&p->abatch, &p->bbatch};
    if (!cg__broadcast_shape(2, bt, &p->bnd, p->bshape, "cg_matmul")) {
        cg__error("cg_matmul: batch dims of shapes %s and %s do not broadcast",
                  cg__shape_fmt(sa, a->ndim, a->shape), cg__shape_fmt(sb, b->ndim, b->shape));
        return false;
    }
    p->fold = p->bbatch.ndim == 0;
    int nd = 0;
    for (int d = 0; d < p->bnd; d++)
        shape[nd++] = p->bshape[d];
    if (a->ndim >= 2)
        shape[nd++] = p->n;
    if (b->ndim >= 2)
        shape[nd++] = p->m;
    *ndim = nd;
    return true;
}

/* Calls body(ai, bi, ci) for each batch: the batch index into a, b and the result. */
#define FOR_BATCH(p, ...)                                                                 \
    do {                                                                                   \
        if ((p)->fold) {                                                                   \
            int64_t ai = 0, bi = 0, ci = 0;                                                \
            __VA_ARGS__;                                                                          \
            break;                                                                         \
        }                                                                                  \
        cg__bcast it;                                                                      \
        const cg_tensor *bt_[2] = {&(p)->abatch, &(p)->bbatch};                            \
        cg__bcast_init(&it, (p)->bnd, (p)->bshape, 2, bt_);                                \
        CG__BCAST_FOR(&it, {                                                               \
            int64_t ai = o0_, bi = o1_, ci = i_;                                           \
            __VA_ARGS__;                                                                          \
        });                                                                                \
    } while (0)

/* How an operand's matrices lie in memory: row-major, or (a transpose's view, read
 * in place by the GEMM) each the transpose of a row-major matrix, the batches one
 * after another. ld: the length of a stored row (set with the plan). */
typedef struct {
    bool trans;
    int64_t ld;
} mm_layout;

/* Whether strided view x is a transpose of row-major matrices, batches one after
 * another: the GEMM reads it where it lies (other strided views are copied first). */
static bool transposed_in_place(const cg_tensor *x)
{
    if (x->ndim < 2)
        return false;
    int64_t R = x->shape[x->ndim - 2], C = x->shape[x->ndim - 1];
    if (x->strided->stride[x->ndim - 2] != 1 || x->strided->stride[x->ndim - 1] != R)
        return false;
    int64_t batch = R * C;
    for (int d = x->ndim - 3; d >= 0; d--) {
        if (x->shape[d] != 1 && x->strided->stride[d] != batch)
            return false;
        batch *= x->shape[d];
    }
    return true;
}

/* With fold, a's batches are rows of one product. */
static int64_t rows(const mm_plan *p, const cg_tensor *a)
{
    return p->fold ? cg__rows(a) : p->n;
}

/* The product's plan for operands as they lie: row-major, or a strided view that
 * transposed_in_place took (others were copied before); a transposed a is not folded (its
 * batches' rows do not follow one another). */
static bool plan_laid_out(const cg_tensor *a, const cg_tensor *b, mm_plan *p, int *nd, int64_t *shape,
                          mm_layout *la, mm_layout *lb)
{
    la->trans = a->strided != NULL;
    lb->trans = b->strided != NULL;
    if (!plan(a, b, p, nd, shape))
        return false;
    if (la->trans && a->ndim > 2)
        p->fold = false;
    la->ld = la->trans ? p->n : p->k; /* a (n, k), stored as is or as (k, n) */
    lb->ld = lb->trans ? p->k : p->m; /* b (k, m), stored as is or as (m, k) */
    return true;
}

static int matmul_backward(cg_node *n, const float *g)
{
    cg_tensor *a = n->in[0], *b = n->in[1];
    mm_plan p;
    mm_layout la = {0}, lb = {0};
    int nd;
    int64_t shape[CG_MAX_DIMS];
    plan_laid_out(a, b, &p, &nd, shape, &la, &lb);
    float *ga = cg__grad_buf(a), *gb = cg__grad_buf(b);
    int64_t M = rows(&p, a), K = p.k, N = p.m;
    if (M == 0 || K == 0)
        return 0;
    int rc = 0;
    FOR_BATCH(&p, {
        const float *gc = g + ci * M * N;
        if (ga) /* dA (M, K) += dC (M, N) · Bᵀ (the gradients are row-major whatever the operands) */
            rc |= cg__gemm(false, !lb.trans, M, K, N, gc, N, b->data + bi * K * N, lb.ld, 1.0f, ga + ai * M * K, K);
        if (gb) /* dB (K, N) += Aᵀ · dC */
            rc |= cg__gemm(!la.trans, false, K, N, M, a->data + ai * M * K, la.ld, gc, N, 1.0f, gb + bi * K * N, N);
    });
    return rc;
}
static const cg_op matmul_op = {.name = "MmBackward0", .backward = matmul_backward, .saves = CG_SAVES_IN(0) | CG_SAVES_IN(1)};

cg_tensor *cg_matmul(cg_tensor *a, cg_tensor *b)
{
    cg_tensor *ops[2] = {a, b};
    if (!cg__check_all(2, ops, "cg_matmul"))
        return NULL;
    for (int i = 0; i < 2; i++) /* a transpose is read where it lies; other strided views copied */
        if (ops[i]->strided && !transposed_in_place(ops[i]) && !(ops[i] = cg__dense(ops[i], "cg_matmul")))
            return NULL;
    a = ops[0], b = ops[1];
    mm_plan p;
    mm_layout la = {0}, lb = {0};
    int nd;
    int64_t shape[CG_MAX_DIMS];
    if (!plan_laid_out(a, b, &p, &nd, shape, &la, &lb))
        return NULL;
    cg_tensor *out = cg__new(nd, shape, "cg_matmul");
    if (!out)
        return NULL;
    int64_t M = rows(&p, a), K = p.k, N = p.m;
    int rc = 0;
    if (out->numel > 0)
        FOR_BATCH(&p, {
            rc |= cg__gemm(la.trans, lb.trans, M, N, K, a->data + ai * M * K, la.ld, b->data + bi * K * N, lb.ld,
                           0.0f, out->data + ci * M * N, N);
        });
    if (rc < 0) {
        cg__error("cg_matmul: out of memory for a product of %lld x %lld x %lld", (long long)M, (long long)K,
                  (long long)N);
        return cg__forward_failed(out);
    }
    return CG__RECORD(out, &matmul_op, 2, ops);
}

/* ---- linear: x @ wᵀ + b, as torch.nn.functional.linear --------------------------------
 * One GEMM with w read transposed in place, the bias written first so the GEMM
 * accumulates onto it; backward never materialises a transpose either. */


/* Whether rows [r0, r1) of x (in_f a row) are one-hot (a single 1, zeros elsewhere); if
 * so, hot[i] gets the column of row i. */
static bool rows_one_hot_in(const float *x, int64_t r0, int64_t r1, int64_t in_f, int32_t *hot)
{
    for (int64_t i = r0; i < r1; i++) {
        const float *r = x + i * in_f;
        /* branch-free counts the compiler vectorises (a branch a value ran at a tenth
         * of the speed): nonzeros, values other than 0 and 1 (NaN among them), and the
         * sum of the nonzeros' places — the 1's place when it is the only one */
        uint32_t nonzero = 0, other = 0, at = 0; /* (in_f < 2^31: none of them wraps) */
        for (int64_t k = 0; k < in_f; k++) {
            nonzero += r[k] != 0.0f;
            other += r[k] != 0.0f && r[k] != 1.0f;
            at += r[k] != 0.0f ? (uint32_t)k : 0;
        }
        if (nonzero != 1 || other)
            return false;
        hot[i] = (int32_t)at;
    }
    return true;
}

typedef struct {
    const float *x;
    int64_t in_f;
    int32_t *hot;
    int not_one_hot; /* set (atomically) by a part that found a row that is not */
} one_hot_check;

static void one_hot_part(void *ctx, int64_t r0, int64_t r1)
{
    one_hot_check *c = ctx;
    if (!__atomic_load_n(&c->not_one_hot, __ATOMIC_RELAXED) && !rows_one_hot_in(c->x, r0, r1, c->in_f, c->hot))
        __atomic_store_n(&c->not_one_hot, 1, __ATOMIC_RELAXED);
}

/* Whether every row of x (rows x in_f) is one-hot, hot[i] the column of row i's 1. One-hot
 * inputs (characters, tokens) make x · wᵀ a lookup of w's columns, and dw a scatter of g
 * into them. The first row on this thread (most inputs are not one-hot, and say so there);
 * the rest over the threads when many. */
#define ONE_HOT_PART 32768 /* floats */
static bool rows_one_hot(const float *x, int64_t rows, int64_t in_f, int32_t *hot)
{
    if (rows == 0 || !rows_one_hot_in(x, 0, 1, in_f, hot))
        return rows == 0;
    one_hot_check c = {x + in_f, in_f, hot + 1, 0}; /* rows 1 on */
    if ((rows - 1) * in_f >= 2 * ONE_HOT_PART)
        cg__parallel_range(rows - 1, (ONE_HOT_PART + in_f - 1) / in_f, one_hot_part, &c);
    else
        one_hot_part(&c, 0, rows - 1);
    return !c.not_one_hot;
}

/* What a linear node keeps: the row count (computed once, in the forward), the
 * fused activation, and where each row's 1 is when x's rows are one-hot. */
typedef struct {
    int64_t rows;
    int act;          /* CG_TANH, CG_RELU or LINEAR_NO_ACT */
    bool one_hot;
    int32_t hot[];    /* rows of them when one_hot */
} linear_saved;

/* db (out) += the column sums of g (M, out), four rows a pass (one load and store
 * of db per four rows). */
static void bias_grad(float *restrict db, const float *restrict g, int64_t M, int64_t out)
{
    int64_t i = 0;
    for (; i + 4 <= M; i += 4) {
        const float *g0 = g + i * out, *g1 = g0 + out, *g2 = g1 + out, *g3 = g2 + out;
        for (int64_t j = 0; j < out; j++)
            db[j] += (g0[j] + g1[j]) + (g2[j] + g3[j]);
    }
    for (; i < M; i++)
        for (int64_t j = 0; j < out; j++)
            db[j] += g[i * out + j];
}

/* linear's two backward products: dx (M, in) = g (M, out) · w (out, in), and
 * dw (out, in) = gᵀ · x; each stores into a fresh buffer or adds. */
typedef struct {
    int64_t M, in_f, out_f;
    const float *g, *x, *w, *w_packed; /* w_packed: w packed for g · w (cg__grad_packed_weight), or NULL */
    float *gx, *gw;
    bool fresh_x, fresh_w;
    int failed; /* set (atomically) by a product that could not run */
} weight_products;

static void weight_product(void *ctx, int64_t which)
{
    weight_products *p = ctx;
    int rc;
    if (which == 0)
        rc = cg__gemm_b_packed(false, p->M, p->in_f, p->out_f, p->g, p->out_f, p->w, p->in_f, p->w_packed,
                               p->fresh_x ? 0.0f : 1.0f, p->gx, p->in_f);
    else
        rc = cg__gemm(true, false, p->out_f, p->in_f, p->M, p->g, p->out_f, p->x, p->in_f, p->fresh_w ? 0.0f : 1.0f,
                      p->gw, p->in_f);
    if (rc < 0)
        __atomic_store_n(&p->failed, 1, __ATOMIC_RELAXED);
}

/* dst (cols x rows) = src (rows x cols) transposed */
static void transpose(float *restrict dst, const float *restrict src, int64_t rows, int64_t cols)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            dst[c * rows + r] = src[r * cols + c];
}

/* One-hot rows' gradients in one pass over g (it was two, g being a sequence's 2 MB at
 * H = 256): w's, dw[:, hot[i]] += g[i] — with many rows in a transposed copy t of dw (in x
 * out: row hot[i] of it gets g's row i, contiguous, where a column of dw takes one value a
 * cache line), put back after — and the bias's, in bias_grad's order. Each element sums
 * its rows in order onto its old value, so the bits are the scattered loop's and
 * bias_grad's. */
static void hot_rows_sum(float *t, float *gb, const float *g, const int32_t *hot, int64_t M, int64_t out_f)
{
    int64_t i = 0;
    for (; i + 4 <= M; i += 4) {
        const float *g0 = g + i * out_f, *g1 = g0 + out_f, *g2 = g1 + out_f, *g3 = g2 + out_f;
        for (int k = 0; t && k < 4; k++) { /* (one row at a time: two of them may be one row of t) */
            float *restrict row = t + hot[i + k] * out_f;
            const float *restrict gi = g0 + k * out_f;
            for (int64_t o = 0; o < out_f; o++)
                row[o] += gi[o];
        }
        for (int64_t o = 0; gb && o < out_f; o++)
            gb[o] += (g0[o] + g1[o]) + (g2[o] + g3[o]);
    }
    for (; i < M; i++)
        for (int64_t o = 0; o < out_f; o++) {
            if (t)
                t[hot[i] * out_f + o] += g[i * out_f + o];
            if (gb)
                gb[o] += g[i * out_f + o];
        }
}

/* Whether one_hot_grads adds into w's gradient transposed (scratch room: many rows) rather than in place. */
static bool one_hot_grads_transpose(const float *gw, int64_t M, int64_t in_f) { return gw && M >= 2 * in_f; }

static void one_hot_grads(float *gw, float *gb, const float *g, const int32_t *hot, int64_t M, int64_t in_f,
                          int64_t out_f)
{
    float *t = one_hot_grads_transpose(gw, M, in_f) ? cg__scratch((size_t)(in_f * out_f) * sizeof(float)) : NULL;
    if (gw && !t) { /* few rows (or no scratch: nothing failed): add in place */
        if (one_hot_grads_transpose(gw, M, in_f))
            cg_clear_error();
        for (int64_t i = 0; i < M; i++)
            for (int64_t o = 0; o < out_f; o++)
                gw[o * in_f + hot[i]] += g[i * out_f + o];
    }
    if (t)
        transpose(t, gw, out_f, in_f);
    /* (on this thread: g's rows come from the threads of the steps before, and its columns
     * over two threads took 15% longer than on one, a char-RNN's 2048 x 256 at H = 256) */
    if (t || gb)
        hot_rows_sum(t, gb, g, hot, M, out_f);
    if (t)
        transpose(gw, t, in_f, out_f);
}

/* A recurrent step's backward over rows [r0, r1) (rows of `chunk`, a task each): g through
 * the activation, the addend's gradient, and dx's rows (as linear_rows_task forward: one
 * wait, not three, on two threads or more, and each row computed as one thread would). */
typedef struct {
    const float *g, *z; /* the result's gradient, the result (the activation's output) */
    float *gp;          /* g · act'(z) */
    float *gacc;        /* the addend's gradient, or NULL */
    bool fresh_acc;
    int act;
    weight_products *wp; /* dx's product (gp · w): its sizes, w, gx */
    int64_t chunk;
} step_rows;

static void act_grad(float *restrict gp, const float *restrict g, const float *restrict z, int64_t n, int act)
{
    if (act == CG_TANH) /* (each loop on its own: plain loops the compiler vectorises) */
        for (int64_t i = 0; i < n; i++)
            gp[i] = g[i] * (1 - z[i] * z[i]);
    else
        for (int64_t i = 0; i < n; i++)
            gp[i] = z[i] > 0 ? g[i] : 0.0f;
}

static void addend_grad(float *restrict gacc, const float *restrict g, int64_t n, bool fresh)
{
    if (fresh)
        memcpy(gacc, g, sizeof(float) * (size_t)n);
    else
        for (int64_t i = 0; i < n; i++)
            gacc[i] += g[i];
}

static void step_rows_task(void *ctx, int64_t t)
{
    step_rows *j = ctx;
    weight_products *p = j->wp;
    int64_t r0 = t * j->chunk, rows = p->M - r0 < j->chunk ? p->M - r0 : j->chunk, out_f = p->out_f;
    act_grad(j->gp + r0 * out_f, j->g + r0 * out_f, j->z + r0 * out_f, rows * out_f, j->act);
    if (j->gacc)
        addend_grad(j->gacc + r0 * out_f, j->gp + r0 * out_f, rows * out_f, j->fresh_acc);
    if (p->gx && cg__gemm_b_packed(false, rows, p->in_f, out_f, j->gp + r0 * out_f, out_f, p->w, p->in_f, p->w_packed,
                                   p->fresh_x ? 0.0f : 1.0f, p->gx + r0 * p->in_f, p->in_f) < 0)
        __atomic_store_n(&p->failed, 1, __ATOMIC_RELAXED);
}

/* Two gradient buffers that share no element (x and w may be one tensor, or views of one). */
static bool apart(const float *a, int64_t na, const float *b, int64_t nb)
{
    return a + na <= b || b + nb <= a;
}

static int linear_backward(cg_node *n, const float *g)
{
    const linear_saved *sv = n->saved;
    cg_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2], *acc = n->in[3];
    int64_t out_f = w->shape[0], in_f = w->shape[1], M = sv->rows;
    /* Taken in the order they are written below: when two inputs are one tensor,
     * the first write stores (into a fresh buffer) and the second adds. */
    const int32_t *hot = sv->one_hot ? sv->hot : NULL;
    /* a weight's gradient over a time step's rows is put off, summed over the steps in one product */
    bool defer_w = !hot && M < 128 && M * w->numel >= 65536 && cg__grad_deferrable(w, 3, (cg_tensor *[]){x, b, acc}, M);
    bool fresh_acc, fresh_x, fresh_w = false;
    float *gacc = cg__grad_buf_to_write(acc, &fresh_acc), *gx = cg__grad_buf_to_write(x, &fresh_x);
    float *gw = defer_w ? NULL : hot ? cg__grad_buf(w) : cg__grad_buf_to_write(w, &fresh_w), *gb = cg__grad_buf(b);
    /* (before the scratch frame: a buffer made inside it would be a block of its own) */
    int act = sv->act;
    /* a put-off product reads g after this backward: through an activation, g · act'(z) then needs room of its own */
    float *gp_kept = NULL;
    if (defer_w && act != LINEAR_NO_ACT && !(gp_kept = cg__grad_defer_room(M * out_f)))
        return -1;
    const float *w_packed = defer_w && gx ? cg__grad_packed_weight(w, M) : NULL;
    /* room for g · act'(z) (on the stack for a toy step: hello has 6 a step), and a frame
     * for the one-hot rows' transposed gradient */
    cg__room gp_room;
    bool gp_in_room = act != LINEAR_NO_ACT && !gp_kept;
    float *gp_made = gp_in_room ? cg__room_begin(&gp_room, M * out_f) : NULL;
    if (gp_in_room && !gp_made) { /* out of memory (reported): the engine undoes the pass */
        cg__room_end(&gp_room);
        return -1;
    }
    bool scratch = hot && one_hot_grads_transpose(gw, M, in_f);
    if (scratch)
        cg__scratch_begin();
    weight_products wp = {M, in_f, out_f, g, x->data, w->data, w_packed, gx, gw, fresh_x, fresh_w, 0};
    bool big = (double)M * (double)in_f * (double)out_f >= 2097152.0; /* worth two threads (cg__gemm_row_chunk's least) */
    bool pair = big && gx && gw && !hot && apart(gx, x->numel, gw, w->numel);
    /* a recurrent step (its dw put off): the activation's gradient, the addend's and dx by rows over the threads
     * (the addend's gradient and x's row for row the same buffer, or apart: a row's writes stay in its task) */
    int64_t chunk = big && act != LINEAR_NO_ACT && gx && !pair && (!gacc || gacc == gx || apart(gacc, M * out_f, gx, M * in_f))
                        ? cg__gemm_row_chunk(false, M, in_f, out_f)
                        : 0;
    if (act != LINEAR_NO_ACT) { /* through the fused activation first: g · act'(z) */
        float *gp = gp_kept ? gp_kept : gp_made;
        step_rows job = {g, n->out->data, gp, gacc, fresh_acc, act, &wp, chunk};
        if (chunk > 0)
            cg__parallel_for((M + chunk - 1) / chunk, step_rows_task, &job);
        else
            act_grad(gp, g, n->out->data, M * out_f, act);
        wp.g = g = gp;
    }
    if (gacc && chunk == 0)
        addend_grad(gacc, g, M * out_f, fresh_acc);
    if (pair)
        cg__parallel_for(2, weight_product, &wp); /* dx and dw at once, one thread each (the same bits) */
    else {
        if (gx && chunk == 0)
            weight_product(&wp, 0);
        if (hot)
            one_hot_grads(gw, gb, g, hot, M, in_f, out_f);
        else if (gw)
            weight_product(&wp, 1);
    }
    if (gb && !hot)
        bias_grad(gb, g, M, out_f);
    if (scratch)
        cg__scratch_end();
    if (gp_in_room)
        cg__room_end(&gp_room);
    /* (after the scratch frame: what it is put off with must outlive it, and g does: n->out's gradient, or gp_kept) */
    if (defer_w && cg__grad_defer_product(w, g, x->data, M, out_f, in_f) < 0)
        return -1;
    if (wp.failed) {
        cg__error("cg_backward: a product of %s's backward could not run (out of memory)", n->op->name);
        return -1;
    }
    return 0;
}
static const cg_op linear_op = {.name = "AddmmBackward0", .backward = linear_backward, .saves = CG_SAVES_IN(0) | CG_SAVES_IN(1), .fills_after_record = true};
/* named for the fusion: torch has no one op for it (it shows TanhBackward0 over AddmmBackward0) */
static const cg_op linear_act_op = {.name = "LinearActBackward", .backward = linear_backward, .saves = CG_SAVES_IN(0) | CG_SAVES_IN(1) | CG_SAVES_OUT, .fills_after_record = true};

/* Rows [r0, r1) of linear's forward: act(acc + x wᵀ + b), the sum started from acc and b
 * and the product accumulated onto them (one-hot rows: w's column added). A task: the
 * rows of a step over the threads, each row computed as one thread computes it. */
typedef struct {
    const float *x, *w, *w_packed, *b, *acc;
    float *out;
    int64_t in_f, out_f;
    int act;
    const int32_t *hot; /* each row's 1, for one-hot rows; else NULL */
    const float *wt;    /* w transposed (in x out: a row's lookup contiguous), or NULL */
    int64_t M, chunk;
    int failed; /* -1 (atomically) when a part's product could not run */
} linear_rows;

static inline __attribute__((always_inline)) void linear_rows_task(void *ctx, int64_t t)
{
    linear_rows *j = ctx;
    int64_t out_f = j->out_f, in_f = j->in_f, r0 = t * j->chunk;
    int64_t rows = j->M - r0 < j->chunk ? j->M - r0 : j->chunk, n = rows * out_f;
    float *restrict out = j->out + r0 * out_f;
    const float *restrict acc = j->acc ? j->acc + r0 * out_f : NULL, *restrict b = j->b, *w = j->w;
    const int32_t *hot = j->hot ? j->hot + r0 : NULL;
    if (acc && !b)
        memcpy(out, acc, (size_t)n * sizeof(float));
    for (int64_t i = 0; b && i < rows; i++) { /* acc + b in one pass over the rows */
        float *restrict o = out + i * out_f;
        if (acc)
            for (int64_t k = 0; k < out_f; k++)
                o[k] = acc[i * out_f + k] + b[k];
        else
            memcpy(o, b, (size_t)out_f * sizeof(float));
    }
    bool start_from_zero = !acc && !b;
    if (hot && j->wt)
        for (int64_t i = 0; i < rows; i++) {
            const float *restrict col = j->wt + (int64_t)hot[i] * out_f; /* w's column hot[i] */
            for (int64_t o = 0; o < out_f; o++)
                out[i * out_f + o] = (start_from_zero ? 0.0f : out[i * out_f + o]) + col[o];
        }
    else if (hot)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t o = 0; o < out_f; o++)
                out[i * out_f + o] = (start_from_zero ? 0.0f : out[i * out_f + o]) + w[o * in_f + hot[i]];
    else if (cg__gemm_b_packed(true, rows, out_f, in_f, j->x + r0 * in_f, in_f, w, in_f, j->w_packed,
                               start_from_zero ? 0.0f : 1.0f, out, out_f) < 0) {
        __atomic_store_n(&j->failed, -1, __ATOMIC_RELAXED);
        return;
    }
    if (j->act == CG_TANH)
        cg__tanh_f32(n, out, out);
    else if (j->act == CG_RELU)
        for (int64_t i = 0; i < n; i++)
            out[i] = out[i] > 0 ? out[i] : (isnan(out[i]) ? out[i] : 0.0f);
}

/* w (out x in) transposed in scratch memory, for many one-hot rows (each row's lookup then
 * reads a contiguous column of w, not one value every in_f floats); a scratch frame begun
 * unless *scratch says one is open. NULL when memory is short: the rows read w itself. */
static const float *transposed_weight(const float *w, int64_t out_f, int64_t in_f, bool *scratch)
{
    if (!*scratch)
        cg__scratch_begin();
    *scratch = true;
    float *t = cg__scratch((size_t)(in_f * out_f) * sizeof(float));
    if (t)
        transpose(t, w, out_f, in_f);
    else /* out of memory for it: the rows read w itself, and nothing failed */
        cg_clear_error();
    return t;
}

/* One-hot rows are a lookup: over the threads in equal runs of rows once the copying is
 * large (a sequence's input projection, T x B rows of w's columns), each row as one
 * thread writes it. 0: on this thread. */
static int64_t one_hot_chunk(int64_t M, int64_t out_f)
{
    int threads = M * out_f >= (INT64_C(1) << 16) ? cg_get_num_threads() : 1;
    return threads > 1 ? (M + threads - 1) / threads : 0;
}

/* act(x · wᵀ (+ b) (+ acc)): acc, when given, has the result's shape and starts the
 * sum, so a recurrent step's input part, hidden part and nonlinearity make one tensor. */
static cg_tensor *linear_impl(cg_tensor *x, cg_tensor *w, const float *w_packed, cg_tensor *b, cg_tensor *acc, int act,
                              const char *op)
{
    if (!(x = cg__operand(x, op)) || !(w = cg__operand(w, op)) || (b && !(b = cg__operand(b, op))) ||
        (acc && !(acc = cg__operand(acc, op))))
        return NULL;
    cg_tensor *ins[4] = {x, w, b, acc};
    char sx[CG_SHAPE_BUF], sw[CG_SHAPE_BUF], sb[CG_SHAPE_BUF];
    if (w->ndim != 2 || x->ndim < 1 || x->shape[x->ndim - 1] != w->shape[1] ||
        (b && !(b->ndim == 1 && b->shape[0] == w->shape[0]))) {
        cg__error("%s: input %s, weight %s and bias %s do not fit (*, in), (out, in), (out)", op,
                  cg__shape_fmt(sx, x->ndim, x->shape), cg__shape_fmt(sw, w->ndim, w->shape),
                  b ? cg__shape_fmt(sb, b->ndim, b->shape) : "none");
        return NULL;
    }
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    shape[x->ndim - 1] = w->shape[0];
    if (acc && !(acc->ndim == x->ndim && !memcmp(acc->shape, shape, sizeof(int64_t) * (size_t)x->ndim))) {
        cg__error("%s: the addend has shape %s, the product %s", op, cg__shape_fmt(sx, acc->ndim, acc->shape),
                  cg__shape_fmt(sw, x->ndim, shape));
        return NULL;
    }
    cg_tensor *out = cg__new(x->ndim, shape, op);
    if (!out)
        return NULL;
    int64_t out_f = w->shape[0], in_f = w->shape[1], M = cg__rows(x);
    /* One-hot rows: remember where each row's 1 is (for backward too). */
    size_t hot_bytes = (size_t)M * sizeof(int32_t);
    linear_saved args = {.rows = M, .act = act};
    cg_node *node;
    out = cg__record(out, act == LINEAR_NO_ACT ? &linear_op : &linear_act_op, 4, ins, &args, sizeof args,
                     sizeof args + hot_bytes, &node);
    if (!out)
        return NULL;
    linear_saved *sv = node ? node->saved : NULL;
    bool scratch = !sv;
    if (scratch) /* the one-hot rows' places: kept by the node, or room for this call */
        cg__scratch_begin();
    int32_t *hot = sv ? sv->hot : cg__scratch(hot_bytes);
    bool one_hot = hot && M >= 16 && in_f >= 8 && in_f <= INT32_MAX && rows_one_hot(x->data, M, in_f, hot);
    int rc = 0;
    if (sv)
        sv->one_hot = one_hot;
    const float *wt = one_hot && M >= 2 * in_f ? transposed_weight(w->data, out_f, in_f, &scratch) : NULL;
    linear_rows job = {x->data, w->data, w_packed, b ? b->data : NULL, acc ? acc->data : NULL, out->data, in_f, out_f,
                       act,     one_hot ? hot : NULL, wt, M, M, 0};
    /* a recurrent step on two threads or more: each its rows, sum, product and activation (one wait, not two) */
    int64_t chunk = one_hot ? one_hot_chunk(M, out_f)
                    : M * out_f * in_f < (INT64_C(1) << 21) ? 0 : cg__gemm_row_chunk(true, M, out_f, in_f);
    if (chunk > 0) {
        job.chunk = chunk;
        cg__parallel_for((M + chunk - 1) / chunk, linear_rows_task, &job);
    } else if (M > 0) {
        linear_rows_task(&job, 0);
    }
    rc = job.failed;
    if (scratch)
        cg__scratch_end();
    if (rc < 0) {
        cg__error("%s: out of memory for the product of x %lld x %lld and the weight", op, (long long)M,
                  (long long)in_f);
        return cg__forward_failed(out);
    }
    return cg__forward_done(out, act == LINEAR_NO_ACT ? &linear_op : &linear_act_op);
}

cg_tensor *cg__linear_packed(cg_tensor *x, cg_tensor *w, const float *w_packed, cg_tensor *b, cg_tensor *acc, int act,
                             const char *op)
{
    return linear_impl(x, w, w_packed, b, acc, act, op);
}

cg_tensor *cg_linear(cg_tensor *x, cg_tensor *w, cg_tensor *b)
{
    return linear_impl(x, w, NULL, b, NULL, LINEAR_NO_ACT, "cg_linear");
}

cg_tensor *cg_linear_act(cg_tensor *x, cg_tensor *w, cg_tensor *b, cg_tensor *acc, cg_nonlinearity act)
{
    if (act != CG_TANH && act != CG_RELU) {
        cg__error("cg_linear_act: unknown activation %d (CG_TANH or CG_RELU)", (int)act);
        return NULL;
    }
    return linear_impl(x, w, NULL, b, acc, act, "cg_linear_act");
}

cg_tensor *cg_linear_add(cg_tensor *x, cg_tensor *w, cg_tensor *b, cg_tensor *acc)
{
    if (!acc) {
        cg__error_null("cg_linear_add");
        return NULL;
    }
    return linear_impl(x, w, NULL, b, acc, LINEAR_NO_ACT, "cg_linear_add");
}
