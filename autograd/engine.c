/* cgrad — the engine: recording nodes as ops run, and running them backwards.
 *
 * Each op's result points at its node; the node points at its inputs. Backward
 * walks the nodes reachable from the root in a depth-first post-order (with an
 * explicit stack, so a 10,000-step unrolled chain needs no deep recursion),
 * then calls each node's backward in reverse of that order, so a node runs
 * only after every use of its output has added into the output's gradient. */
#include "autograd_internal.h"
#include <string.h>

#define no_grad_depth cg__no_grad_depth
static CG__FAST_TLS int current_step = -1;
static CG__FAST_TLS uint32_t visit_epoch;

void cg_no_grad_begin(void) { no_grad_depth++; }
void cg_no_grad_end(void)
{
    if (no_grad_depth > 0)
        no_grad_depth--;
    else
        cg__error("cg_no_grad_end: no no-grad region is open");
}
bool cg_grad_enabled(void) { return no_grad_depth == 0; }
void cg_set_step(int step) { current_step = step < 0 ? -1 : step; }

/* A heap tensor's autograd state is one system block that starts with its meta
 * (cg__meta_make's, or cg__record's meta + node + record): freed whole. */
static void release_block(cg__meta *m) { cg__sys_free(m); }

static void meta_init(cg__autograd_meta *m, int level)
{
    *m = (cg__autograd_meta){.step = -1};
    m->head.release = level == 0 ? release_block : NULL;
}

cg__autograd_meta *cg__meta_make(cg_tensor *t, const char *op)
{
    if (t->meta)
        return cg__ag(t);
    cg__autograd_meta *m = cg__alloc_at(t->frame_level, sizeof *m);
    if (!m) {
        cg__error("%s: out of memory", op);
        return NULL;
    }
    meta_init(m, t->frame_level);
    t->meta = &m->head;
    return m;
}

int cg__mark_param(cg_tensor *t)
{
    cg__autograd_meta *m = cg__meta_make(t, "cg_module");
    if (!m)
        return -1;
    m->head.param = true;
    m->head.requires_grad = true;
    return 0;
}

bool cg__check_all(int n, cg_tensor *const *ts, const char *op)
{
    for (int i = 0; i < n; i++)
        if (!cg__check(ts[i], op))
            return false;
    return true;
}

bool cg__dense_all(int n, cg_tensor **ts, const char *op)
{
    if (!cg__check_all(n, ts, op))
        return false;
    for (int i = 0; i < n; i++)
        if (!(ts[i] = cg__dense(ts[i], op)))
            return false;
    return true;
}

static inline bool needs_grad(int nin, cg_tensor *const *in)
{
    if (no_grad_depth > 0)
        return false;
    for (int i = 0; i < nin; i++)
        if (in[i] && cg__requires_grad(in[i]))
            return true;
    return false;
}

bool cg__needs_grad(int nin, cg_tensor *const *in) { return needs_grad(nin, in); }

/* The tensor whose flags say whether t's gradient is written: for a view that is all of
 * its base (grad_whole), the base's owner (a reshape of an unsqueeze of a leaf: the leaf);
 * else t. */
static cg_tensor *grad_owner(const cg_tensor *t)
{
    while (t && t->meta && cg__ag(t)->grad_whole)
        t = cg__node_of(t)->in[0];
    return (cg_tensor *)t;
}

/* ---- anomaly mode: every result and every gradient checked for NaN/Inf ---------- */

static bool anomaly; /* process-wide, as torch's detect_anomaly */

void cg_set_detect_anomaly(bool on) { __atomic_store_n(&anomaly, on, __ATOMIC_RELAXED); }
bool cg_is_anomaly_enabled(void) { return __atomic_load_n(&anomaly, __ATOMIC_RELAXED); }

/* The first element that is NaN or infinite, or -1. */
static int64_t first_non_finite(const float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return i;
    return -1;
}

/* The first element that is NaN, or -1. */
static int64_t first_nan(const float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (isnan(v[i]))
            return i;
    return -1;
}

static const char *step_text(int step, char *buf, size_t n)
{
    if (step < 0)
        snprintf(buf, n, "no time step set");
    else
        snprintf(buf, n, "time step %d", step);
    return buf;
}

bool cg__anomaly_forward_ok(cg_tensor *out, const cg_op *op)
{
    if (!cg_is_anomaly_enabled() || out->strided) /* a view: its values were checked where they were made */
        return true;
    /* an infinite result is a value (a -inf attention mask, torch.masked_fill's
     * -inf, log(0)); a NaN is the anomaly */
    int64_t at = first_nan(out->data, out->numel);
    if (at < 0)
        return true;
    char st[32];
    cg__error("%s: anomaly detected: its result holds %g at element %lld (grad_fn %s, %s)",
              out->made_by ? out->made_by : op->name, (double)out->data[at], (long long)at, op->name,
              step_text(current_step, st, sizeof st));
    cg_tensor_free(out); /* outside frames: the result is not handed out */
    return false;
}

/* After node n's backward: the gradients it added to are still finite. */
static bool anomaly_backward_ok(const cg_node *n)
{
    for (int i = 0; i < n->nin; i++) {
        const cg_tensor *t = n->in[i];
        cg_tensor *g = t ? cg__grad_of(t) : NULL;
        if (!g || !cg__requires_grad(t) || cg__ag(grad_owner(t))->grad_unwritten)
            continue;
        int64_t at = first_non_finite(g->data, g->numel);
        if (at < 0)
            continue;
        char st[32];
        cg__error("cg_backward: anomaly detected: %s returned %g in the gradient of its input %d (element %lld); "
                  "the op was %s, at %s", n->op->name, (double)g->data[at], i, (long long)at,
                  n->out->made_by ? n->out->made_by : n->op->name, step_text(cg__step_of(n->out), st, sizeof st));
        return false;
    }
    return true;
}

cg_tensor *cg__record(cg_tensor *out, const cg_op *op, int nin, cg_tensor *const *in, const void *args,
                      size_t args_size, size_t saved_size, cg_node **node)
{
    if (node)
        *node = NULL;
    if (!op->fills_after_record && __atomic_load_n(&anomaly, __ATOMIC_RELAXED) && !cg__anomaly_forward_ok(out, op))
        return NULL;
    if (!needs_grad(nin, in))
        return out;
    /* One block, where the output lives: its meta, the node, the op's record. */
    size_t meta_size = (sizeof(cg__autograd_meta) + 15) & ~(size_t)15;
    size_t head = sizeof(cg_node) + (size_t)nin * sizeof(cg_tensor *);
    head = (head + 15) & ~(size_t)15;
    unsigned char *block = cg__alloc_at(out->frame_level, meta_size + head + saved_size);
    if (!block) {
        cg__error("%s: out of memory recording the graph", out->made_by ? out->made_by : op->name);
        cg_tensor_free(out);
        return NULL;
    }
    cg__autograd_meta *meta = (cg__autograd_meta *)block;
    cg_node *n = (cg_node *)(block + meta_size);
    meta_init(meta, out->frame_level);
    memset(n, 0, sizeof *n);
    n->op = op;
    n->out = out;
    n->nin = nin;
    for (int i = 0; i < nin; i++)
        n->in[i] = in[i];
    n->saved = saved_size ? (char *)n + head : NULL;
    if (args_size)
        memcpy(n->saved, args, args_size);
    /* the versions of what backward will read, checked before it runs */
    for (unsigned m = op->saves & ((1u << CG_SAVED_SLOTS) - 1); m; m &= m - 1) {
        int i = __builtin_ctz(m);
        cg_tensor *t = i == CG_SAVED_OUT_SLOT ? out : i < nin ? in[i] : NULL;
        n->saved_version[i] = t ? cg__version(t) : 0;
    }
    meta->node = n;
    meta->step = current_step;
    meta->head.grad_fn = op->name;
    out->meta = &meta->head;
    if (!out->in_frame) {
        /* A graph made outside frames keeps its inputs alive until its result is freed. */
        for (int i = 0; i < nin; i++)
            if (in[i] && !in[i]->in_frame)
                in[i]->refcount++;
        out->refs = n->in;
        out->nrefs = nin;
    }
    meta->head.requires_grad = true;
    if (node)
        *node = n;
    return out;
}

void cg__mark_view(cg_node *n, int64_t offset)
{
    if (n) {
        n->view = true;
        n->view_offset = offset;
    }
}

/* ---- a pass that can fail: what it changed in leaves' .grad, to put back ---------- *
 * A leaf's .grad is noted the first time a pass writes it: no .grad yet, a .grad of
 * zeros (after zero_grad: nothing to copy), or a copy of its values. A failed pass
 * (no memory for a gradient or a backward's scratch, a product that could not run,
 * anomaly mode) puts every noted .grad back as it was, so cg_backward either does
 * the whole pass or changes nothing a caller can see. */
typedef struct {
    cg_tensor *leaf;
    float *old; /* its values before, or NULL: none (had_grad false) or all zeros */
    bool had_grad;
} undo_entry;

/* A leaf weight's gradient products gᵀ · x put off (cg__grad_defer_product): where each
 * step's g and x lie (alive until the pass ends), multiplied KC_ROWS rows at a time —
 * on a worker as soon as there are that many (with two threads or more), the rest when
 * the pass ends or the weight's gradient is next asked for. */
#define KC_ROWS 256 /* rows a product: the kernel's k block */
typedef struct {
    const float *g, *x;
    int64_t rows;
} deferred_rows;

typedef struct {
    cg_tensor *w;
    int64_t out_f, in_f;
    deferred_rows *parts;  /* the pass's memory (work_alloc) */
    size_t nparts, cap;
    size_t next_part;      /* the first row not multiplied yet: parts[next_part], its row next_row */
    int64_t next_row, pending;
    float *C;              /* w's gradient, once a product has started; fresh: nothing in it yet */
    bool fresh;
    deferred_rows *pieces;  /* where a product's rows lie (KC_ROWS of them at most) */
    const float *packed;   /* w packed for g · w (cg__grad_packed_weight), or NULL */
} deferred_product;

/* One product of KC_ROWS rows or fewer: C (out_f x in_f) = beta C + gᵀ · x; rc its result.
 * With npieces, g's and x's rows are read from the pieces (cg__gemm_rows, on the thread
 * that multiplies: a worker, while the backward goes on). */
typedef struct {
    const float *g, *x;
    float *C;
    int64_t out_f, in_f, rows;
    float beta;
    const deferred_rows *pieces;
    int64_t npieces;
    int rc;
} rows_product;

/* Leaves a pass notes before its records leave the stack for memory (a toy model's
 * step has 2 to 8 parameters; growing from none was 1% of the floor's step). */
#define UNDO_LOCAL 8

typedef struct {
    undo_entry *e;   /* e_local, or the pass's memory once more leaves are noted */
    size_t n, cap;
    bool e_on_stack;
    undo_entry e_local[UNDO_LOCAL]; /* (not zeroed: written as leaves are noted) */
    bool heap;       /* the pass runs outside frames: its records are system memory */
    uint32_t mark;   /* this pass's number, in the leaves' pass_mark */
    bool failed;     /* a gradient buffer could not be made (the error says why) */
    deferred_product *deferred; /* the pass's memory (work_alloc) */
    size_t ndeferred, deferred_cap;
    rows_product background; /* the product a worker runs, when background_w is not NULL */
    const cg_tensor *background_w;
    float **rooms;   /* outside frames: cg__grad_defer_room's blocks, freed at the end */
    size_t nrooms, rooms_cap;
} pass_log;

static CG__FAST_TLS pass_log *current_pass;
static CG__FAST_TLS uint32_t passes_run;

/* Room for cap elements of size bytes: frame memory inside a frame, else the heap. */
static void *work_alloc(size_t cap, size_t size, bool heap) { return heap ? cg__sys_malloc(cap * size) : cg__alloc(cap * size); }

static bool all_zero_bits(const float *v, int64_t n)
{
    /* one OR over all of it (the compiler vectorises it; a gradient that is not zero is
     * copied whole next anyway, so stopping early would save little) */
    const uint32_t *u = (const uint32_t *)v;
    uint32_t any = 0;
    for (int64_t i = 0; i < n; i++)
        any |= u[i];
    return any == 0;
}

/* Doubles a full array of *cap elements (an empty one gets 16); false when out of memory
 * (the old one stays). Frame memory, or system memory with heap; the old array is freed
 * unless it is the caller's (on_stack). */
static bool grow_from(void **arr, size_t *cap, size_t size, bool heap, bool on_stack)
{
    size_t more = *cap ? *cap * 2 : 16;
    void *bigger = work_alloc(more, size, heap);
    if (!bigger)
        return false;
    if (*cap)
        memcpy(bigger, *arr, *cap * size);
    if (heap && !on_stack)
        cg__sys_free(*arr);
    *arr = bigger;
    *cap = more;
    return true;
}

static bool grow(void **arr, size_t *cap, size_t size, bool heap) { return grow_from(arr, cap, size, heap, false); }

/* Room for one more entry in *arr (room for *cap, used of them taken): doubled when full, the first
 * time from the caller's stack array (*local: not to be freed). False when out of memory. */
static bool room_for_one(void **arr, size_t *cap, size_t used, size_t size, bool heap, bool *local)
{
    if (used < *cap)
        return true;
    if (!grow_from(arr, cap, size, heap, *local))
        return false;
    *local = false;
    return true;
}

/* Notes leaf t's .grad before this pass first changes it; false when out of memory. */
static bool note_leaf(pass_log *p, cg_tensor *t)
{
    if (!room_for_one((void **)&p->e, &p->cap, p->n, sizeof *p->e, p->heap, &p->e_on_stack))
        return false;
    cg_tensor *g = cg__grad_of(t);
    undo_entry u = {t, NULL, g != NULL};
    if (g && !all_zero_bits(g->data, g->numel)) {
        if (!(u.old = work_alloc((size_t)g->numel, sizeof(float), p->heap)))
            return false;
        memcpy(u.old, g->data, (size_t)g->numel * sizeof(float));
    }
    p->e[p->n++] = u;
    return true;
}

static void pass_begin(pass_log *p)
{
    /* (field by field: a struct literal would zero e_local too) */
    p->e = p->e_local, p->n = 0, p->cap = UNDO_LOCAL, p->e_on_stack = true;
    p->heap = !cg__in_frame();
    p->mark = ++passes_run;
    p->failed = false;
    p->deferred = NULL, p->ndeferred = p->deferred_cap = 0;
    p->background = (rows_product){0}, p->background_w = NULL;
    p->rooms = NULL, p->nrooms = p->rooms_cap = 0;
    if (p->mark == 0) /* wrapped: 0 is every new leaf's mark */
        p->mark = ++passes_run;
    current_pass = p;
}

/* (the pass's arrays are system memory outside frames, else the frame's) */
static void drop_deferred(const pass_log *p, deferred_product *d)
{
    if (p->heap)
        cg__sys_free(d->parts);
}

static int background_done(pass_log *p);

/* Ends the pass: on failure every noted .grad goes back as it was. */
static void pass_end(pass_log *p, bool failed)
{
    if (p->deferred_cap || p->rooms_cap) { /* (a pass that put products off, or made room to) */
        background_done(p);
        for (size_t k = 0; k < p->ndeferred; k++) /* (only after a failure are any left) */
            drop_deferred(p, &p->deferred[k]);
        if (p->heap)
            cg__sys_free(p->deferred);
        for (size_t k = 0; k < p->nrooms; k++)
            cg__sys_free(p->rooms[k]);
        cg__sys_free(p->rooms);
    }
    for (size_t k = p->n; failed && k-- > 0;) {
        undo_entry *u = &p->e[k];
        cg__autograd_meta *m = cg__ag(u->leaf);
        cg_tensor *g = m->head.held;
        if (!u->had_grad) { /* made by this pass: gone again */
            m->head.held = NULL;
            m->grad_unwritten = false;
            cg_tensor_free(g);
        } else if (u->old)
            memcpy(g->data, u->old, (size_t)g->numel * sizeof(float));
        else
            memset(g->data, 0, (size_t)g->numel * sizeof(float));
    }
    if (p->heap) {
        for (size_t k = 0; k < p->n; k++)
            cg__sys_free(p->e[k].old);
        if (!p->e_on_stack)
            cg__sys_free(p->e);
    }
    current_pass = NULL;
}

static int flush_deferred(pass_log *p, const cg_tensor *w);

static cg_tensor *grad_buffer_ex(cg_tensor *t, bool flush);

/* The gradient of a view (n: its node) that requires grad through its base: a view of the
 * base's gradient at the view's place, made by the base's first. NULL when it could not be. */
static __attribute__((noinline)) cg_tensor *grad_as_view(cg_tensor *t, cg__autograd_meta *m, const cg_node *n, pass_log *p)
{
    cg_tensor *base = n->in[0];
    /* a view of all of its base, in order: the first write to either stores, as to the base
     * itself; a part of it: the base's gradient zeroed first, the views adding into parts */
    bool whole = t->numel == base->numel && n->view_offset == 0 && !t->strided && !base->strided;
    if (whole ? !grad_buffer_ex(base, true) : !cg__grad_buf(base))
        return NULL;
    cg_tensor *g = cg__view_beside(t, cg__grad_of(base), n->view_offset);
    if (!g) {
        if (p)
            p->failed = true;
        return NULL;
    }
    cg__ag(base)->grad_viewed = true;
    m->head.held = g;
    m->grad_alias = true;
    m->grad_whole = whole;
    return g;
}

/* A fresh buffer for t's gradient, its values unwritten. The gradient lives where its
 * tensor lives (outside frames, or in the tensor's own frame even when backward runs in
 * an inner one). */
static cg_tensor *grad_made(cg_tensor *t, cg__autograd_meta *m, pass_log *p)
{
    cg_tensor *g = cg__new_like(t, "cg_backward");
    if (!g) {
        if (p)
            p->failed = true;
        return NULL;
    }
    m->head.held = g;
    m->grad_unwritten = true;
    return g;
}

/* What this pass does first with a leaf's .grad or a gradient it had put off: noted for
 * undoing, the products put off for it added (with flush). False when that failed. */
static __attribute__((noinline)) bool grad_first_touch(cg_tensor *t, cg__autograd_meta *m, pass_log *p, bool flush)
{
    if (flush && p->ndeferred && flush_deferred(p, t) < 0) {
        p->failed = true;
        return false;
    }
    if (!m->node && m->pass_mark != p->mark) {
        if (!note_leaf(p, t)) {
            cg__error("cg_backward: out of memory noting a gradient before changing it");
            p->failed = true;
            return false;
        }
        m->pass_mark = p->mark;
    }
    return true;
}

/* t's gradient buffer, made on first use with its values unwritten; with flush, the
 * products put off for it added first. The usual case (an intermediate's first gradient,
 * a leaf's already noted) calls only what makes the buffer. */
static cg_tensor *grad_buffer_ex(cg_tensor *t, bool flush)
{
    if (!t || !cg__requires_grad(t))
        return NULL;
    cg__autograd_meta *m = cg__ag(t);
    const cg_node *n = m->node;
    pass_log *p = current_pass;
    if (p && ((flush && p->ndeferred) || (!n && m->pass_mark != p->mark)) && !grad_first_touch(t, m, p, flush))
        return NULL;
    if (m->head.grad_none) { /* None until now: its old buffer, unwritten (stored over, or zeroed first) */
        m->head.grad_none = false;
        m->grad_unwritten = true;
    }
    if (m->head.held)
        return m->head.held;
    if (n && n->view && cg__requires_grad(n->in[0]))
        return grad_as_view(t, m, n, p);
    return grad_made(t, m, p);
}

static inline cg_tensor *grad_buffer(cg_tensor *t) { return grad_buffer_ex(t, true); }

/* Zeros over the threads in parts when many (a sequence's input projection, whose steps'
 * gradients are added into it; a GPT's 768 x 128 residual stream, 2% of a two-thread
 * iteration); [b, e) of them a task. */
#define ZERO_PART 16384
static void zero_part(void *ctx, int64_t b, int64_t e) { memset((float *)ctx + b, 0, (size_t)(e - b) * sizeof(float)); }

/* Zero-fills a stale gradient, so readers see this pass's zero. */
static void zero_unwritten(cg__autograd_meta *m)
{
    if (m->head.held->numel >= 2 * ZERO_PART)
        cg__parallel_range(m->head.held->numel, ZERO_PART, zero_part, m->head.held->data);
    else
        zero_part(m->head.held->data, 0, m->head.held->numel);
    m->grad_unwritten = false;
}

static inline void settle(cg_tensor *t)
{
    cg__autograd_meta *m = t && t->meta ? cg__ag(t) : NULL;
    if (m && m->grad_whole) /* (rare: the owner's flags) */
        m = cg__ag(grad_owner(t));
    if (m && m->grad_unwritten)
        zero_unwritten(m);
}

float *cg__grad_buf(cg_tensor *t)
{
    cg_tensor *g = grad_buffer(t);
    if (g)
        settle(t);
    return g ? g->data : NULL;
}

float *cg__grad_buf_to_write(cg_tensor *t, bool *overwrite)
{
    cg_tensor *g = grad_buffer(t);
    cg__autograd_meta *m = g ? cg__ag(t) : NULL;
    if (m && m->grad_whole) /* (rare: the owner's flags) */
        m = cg__ag(grad_owner(t));
    *overwrite = m && m->grad_unwritten;
    if (m)
        m->grad_unwritten = false;
    return g ? g->data : NULL;
}

/* ---- weight gradients of a sequence in long products ---------------------------------
 * An RNN's W_hh meets one gradient product per time step, dW += gᵀ · x over a batch's
 * rows (K = 32): each reads and writes all of dW for a short k, so the kernel spends its
 * time on C rather than on FMAs (and at H = 512 dW, W and the packed W no longer share
 * L2). Put off, dW gets products 256 rows long (the kernel's k block) over the steps'
 * rows, in the order the steps' backwards ran — each on a worker as soon as its rows are
 * there when the pool has one (multiply_in_background), beside the steps' chain of
 * g · W, which reads W packed once for the pass. Only for a leaf that views nothing:
 * grad_buffer adds what is put off first whenever anything asks for the weight's
 * gradient (a view of it, another use of it), and the pass adds the rest at its end. */

static deferred_product *deferred_of(pass_log *p, const cg_tensor *w)
{
    for (size_t k = 0; k < p->ndeferred; k++)
        if (p->deferred[k].w == w)
            return &p->deferred[k];
    return NULL;
}

static void run_rows_product(void *ctx, int64_t task)
{
    (void)task;
    rows_product *r = ctx;
    if (!r->npieces) {
        r->rc = cg__gemm(true, false, r->out_f, r->in_f, r->rows, r->g, r->out_f, r->x, r->in_f, r->beta, r->C, r->in_f);
        return;
    }
    /* each row of g and x where it lies, for the product's packing to read (copying them
     * together first was 9% of a worker's time at H = 256) */
    cg__scratch_begin();
    const float **g_rows = cg__scratch((size_t)r->rows * sizeof *g_rows), **x_rows = cg__scratch((size_t)r->rows * sizeof *x_rows);
    for (int64_t i = 0, at = 0; g_rows && x_rows && i < r->npieces; i++)
        for (int64_t k = 0; k < r->pieces[i].rows; k++, at++)
            g_rows[at] = r->pieces[i].g + k * r->out_f, x_rows[at] = r->pieces[i].x + k * r->in_f;
    r->rc = g_rows && x_rows ? cg__gemm_rows(r->out_f, r->in_f, r->rows, g_rows, x_rows, r->beta, r->C, r->in_f) : -1;
    cg__scratch_end();
}

/* Waits for the worker's product, if one runs; its result. */
static int background_done(pass_log *p)
{
    if (!p->background_w)
        return 0;
    cg__background_wait();
    p->background_w = NULL;
    if (p->background.rc < 0)
        cg__error("cg_backward: a weight's gradient product could not run (out of memory)");
    return p->background.rc;
}

/* d's next product: up to KC_ROWS rows from where it stopped, as the pieces they lie in (a
 * weight met once: its rows as one); false when out of memory for the list of pieces
 * (reported). (Its room is the pass's: called from an op's backward, after its scratch
 * frame.) */
static bool next_rows(deferred_product *d, rows_product *r)
{
    *r = (rows_product){.out_f = d->out_f, .in_f = d->in_f, .C = d->C, .beta = d->fresh ? 0.0f : 1.0f};
    if (d->nparts == 1 && d->next_row == 0) {
        r->g = d->parts[0].g, r->x = d->parts[0].x, r->rows = d->parts[0].rows;
    } else {
        /* (the pieces' own list: d->parts moves when it grows, while a worker reads these) */
        size_t words = KC_ROWS * sizeof *d->pieces / sizeof(float);
        if (!d->pieces && !(d->pieces = (deferred_rows *)cg__grad_defer_room((int64_t)words)))
            return false;
        r->pieces = d->pieces;
        while (r->rows < KC_ROWS && d->next_part < d->nparts) {
            const deferred_rows *part = &d->parts[d->next_part];
            int64_t n = part->rows - d->next_row < KC_ROWS - r->rows ? part->rows - d->next_row : KC_ROWS - r->rows;
            d->pieces[r->npieces++] =
                (deferred_rows){part->g + d->next_row * d->out_f, part->x + d->next_row * d->in_f, n};
            r->rows += n, d->next_row += n;
            if (d->next_row == part->rows)
                d->next_part++, d->next_row = 0;
        }
    }
    d->pending -= r->rows;
    d->fresh = false;
    return true;
}

/* w's gradient, to write d's products into (made, and noted for undoing, as any gradient). */
static bool target_of(deferred_product *d)
{
    if (d->C)
        return true;
    cg_tensor *g = grad_buffer_ex(d->w, false);
    if (!g)
        return false;
    d->C = g->data;
    d->fresh = cg__ag(d->w)->grad_unwritten;
    cg__ag(d->w)->grad_unwritten = false;
    return true;
}

/* The products put off for w (if any) added to its gradient; 0, or -1. */
static int flush_deferred(pass_log *p, const cg_tensor *w)
{
    deferred_product *at = deferred_of(p, w);
    if (!at)
        return 0;
    deferred_product d = *at;
    *at = p->deferred[--p->ndeferred]; /* off the list first: grad_buffer asks again */
    int rc = p->background_w == w ? background_done(p) : 0;
    if (rc == 0 && !target_of(&d))
        rc = -1;
    while (rc == 0 && d.pending > 0) {
        rows_product r;
        if (!next_rows(&d, &r)) { /* (reported) */
            rc = -1;
            break;
        }
        run_rows_product(&r, 0);
        if ((rc = r.rc) < 0)
            cg__error("cg_backward: the gradient products of a %lld x %lld weight could not run (out of memory)",
                      (long long)d.out_f, (long long)d.in_f);
    }
    drop_deferred(p, &d);
    return rc;
}

static int flush_all_deferred(pass_log *p)
{
    while (p->ndeferred)
        if (flush_deferred(p, p->deferred[p->ndeferred - 1].w) < 0)
            return -1;
    return 0;
}

/* With KC_ROWS rows waiting and a worker free, their product goes to it while the
 * backward goes on: the same products in the same order as at the end, so the same
 * bits on any number of threads. 0, or -1 (a product before it failed). */
static int multiply_in_background(pass_log *p, deferred_product *d)
{
    if (d->pending < KC_ROWS || cg_get_num_threads() < 2)
        return 0;
    int rc = background_done(p); /* (the last one: KC_ROWS rows of steps ago) */
    if (rc < 0 || !target_of(d))
        return -1;
    if (!next_rows(d, &p->background))
        return -1;
    if (cg__background_start(run_rows_product, &p->background)) {
        p->background_w = d->w; /* (its result is read when it is waited for) */
        return 0;
    }
    run_rows_product(&p->background, 0); /* no worker free after all: now */
    if (p->background.rc < 0)
        cg__error("cg_backward: a weight's gradient product could not run (out of memory)");
    return p->background.rc;
}

bool cg__grad_deferrable(const cg_tensor *w, int nin, cg_tensor *const *others, int64_t M)
{
    if (!current_pass || anomaly || M >= 128 || !cg__requires_grad(w) || cg__node_of(w) || w->storage ||
        M * w->numel < 65536)
        return false;
    for (int i = 0; i < nin; i++) /* no other input's gradient lies in w's */
        if (others[i] && cg__storage(others[i]) == w)
            return false;
    return true;
}

const float *cg__grad_packed_weight(cg_tensor *w, int64_t M)
{
    pass_log *p = current_pass;
    deferred_product *d = p ? deferred_of(p, w) : NULL;
    if (!d || d->packed)
        return d ? d->packed : NULL;
    int64_t len = cg__gemm_b_packed_len(false, M, d->in_f, d->out_f);
    float *packed = len > 0 ? cg__grad_defer_room(len) : NULL;
    if (!packed) {
        cg_clear_error(); /* out of memory for it: the products read w where it lies, and nothing failed */
        return NULL;
    }
    cg__gemm_pack_b(false, d->in_f, d->out_f, w->data, d->in_f, packed);
    return d->packed = packed;
}

float *cg__grad_defer_room(int64_t n)
{
    pass_log *p = current_pass;
    float *room = work_alloc((size_t)n, sizeof(float), p->heap);
    if (!room) {
        cg__error("cg_backward: out of memory for a weight's gradient rows");
        return NULL;
    }
    if (p->heap && p->nrooms == p->rooms_cap && !grow((void **)&p->rooms, &p->rooms_cap, sizeof *p->rooms, true)) {
        cg__sys_free(room);
        cg__error("cg_backward: out of memory for a weight's gradient rows");
        return NULL;
    }
    if (p->heap)
        p->rooms[p->nrooms++] = room;
    return room;
}

int cg__grad_defer_product(cg_tensor *w, const float *g, const float *x, int64_t M, int64_t out_f, int64_t in_f)
{
    pass_log *p = current_pass;
    deferred_product *d = deferred_of(p, w);
    if (!d) {
        if (p->ndeferred == p->deferred_cap && !grow((void **)&p->deferred, &p->deferred_cap, sizeof *p->deferred, p->heap))
            goto no_memory;
        d = &p->deferred[p->ndeferred++];
        *d = (deferred_product){.w = w, .out_f = out_f, .in_f = in_f};
    }
    if (d->nparts == d->cap && !grow((void **)&d->parts, &d->cap, sizeof *d->parts, p->heap))
        goto no_memory;
    d->parts[d->nparts++] = (deferred_rows){g, x, M};
    d->pending += M;
    return multiply_in_background(p, d);
no_memory:
    cg__error("cg_backward: out of memory noting a weight's gradient product");
    return -1;
}

int cg_set_requires_grad(cg_tensor *t, bool on)
{
    if (!cg__check(t, "cg_set_requires_grad"))
        return -1;
    if (cg__node_of(t)) {
        cg__error("cg_set_requires_grad: only leaf tensors can change requires_grad "
                  "(this one is the result of %s); use cg_detach", t->meta->grad_fn);
        return -1;
    }
    if (!on && !t->meta)
        return 0;
    cg__autograd_meta *m = cg__meta_make(t, "cg_set_requires_grad");
    if (!m)
        return -1;
    m->head.requires_grad = on;
    return 0;
}

bool cg_requires_grad(const cg_tensor *t) { return cg__check(t, "cg_requires_grad") && cg__requires_grad(t); }
bool cg_is_leaf(const cg_tensor *t) { return cg__check(t, "cg_is_leaf") && !cg__node_of(t); }
cg_tensor *cg_grad(const cg_tensor *t) { return cg__check(t, "cg_grad") ? cg__grad_of(t) : NULL; }

int cg_zero_grad(cg_tensor *t)
{
    if (!cg__check(t, "cg_zero_grad"))
        return -1;
    cg_tensor *g = cg__grad_of(t);
    if (g)
        memset(g->data, 0, (size_t)g->numel * sizeof(float));
    if (t->meta)
        cg__ag(t)->grad_unwritten = false;
    return 0;
}

int cg_set_grad_none(cg_tensor *t)
{
    if (!cg__check(t, "cg_set_grad_none"))
        return -1;
    if (cg__node_of(t)) {
        cg__error("cg_set_grad_none: only a leaf's .grad is set to None (this tensor is the result of %s)",
                  t->meta->grad_fn);
        return -1;
    }
    if (t->meta && t->meta->held) {
        t->meta->grad_none = true;
        cg__ag(t)->grad_unwritten = false;
    }
    return 0;
}

int cg_set_name(cg_tensor *t, const char *name)
{
    if (!cg__check(t, "cg_set_name"))
        return -1;
    t->name = name;
    return 0;
}

const char *cg_name(const cg_tensor *t) { return cg__check(t, "cg_name") ? t->name : NULL; }

/* ---- backward ---------------------------------------------------------------- */

typedef struct {
    cg_node *node;
    int next; /* next input to visit */
} frame_entry;

/* The tensor in slot i of a node's saved versions: an input, or the output. */
static cg_tensor *saved_tensor(const cg_node *n, int i)
{
    return i == CG_SAVED_OUT_SLOT ? n->out : i < n->nin ? n->in[i] : NULL;
}

/* PyTorch's check: a tensor a node saved must not have been written in place
 * since, or its backward would compute with the new values. */
static bool saved_versions_ok(const cg_node *n)
{
    for (unsigned m = n->op->saves & ((1u << CG_SAVED_SLOTS) - 1); m; m &= m - 1) { /* the slots it saved */
        int i = __builtin_ctz(m);
        cg_tensor *t = saved_tensor(n, i);
        if (!t || cg__version(t) == n->saved_version[i])
            continue;
        char b[CG_SHAPE_BUF];
        cg__error("cg_backward: one of the variables needed for gradient computation has been "
                  "modified by an inplace operation: the tensor of shape %s that is %s %d of %s is at "
                  "version %u; expected version %u instead. Compute it again after the write, or "
                  "write to a cg_clone() of it",
                  cg__shape_fmt(b, t->ndim, t->shape), i == CG_SAVED_OUT_SLOT ? "output" : "input",
                  i == CG_SAVED_OUT_SLOT ? 0 : i, n->op->name, cg__version(t), n->saved_version[i]);
        return false;
    }
    return true;
}

/* Nodes a graph has before topo_order's arrays leave the stack for memory (a toy
 * model's step: the hello RNN has 40; two allocations a pass were 1.3% of the floor's). */
#define ORDER_LOCAL 64

/* Post-order of the nodes reachable from root (inputs before their users), in
 * order_local (ORDER_LOCAL entries) while it fits, else in memory (*heap: the
 * system's, for the caller to free when *order_out is not order_local), each node's
 * saved tensors checked as it is placed. Returns the count, or -1 when a node was
 * already released or a saved tensor was written since. */
static int64_t topo_order(cg_node *root, cg_node **order_local, cg_node ***order_out, bool *heap)
{
    uint32_t epoch = ++visit_epoch;
    if (epoch == 0) /* wrapped: marks of 0 must not look visited */
        epoch = ++visit_epoch;
    frame_entry stack_local[ORDER_LOCAL];
    size_t cap = ORDER_LOCAL, stack_cap = ORDER_LOCAL; /* both grow by doubling */
    bool order_on_stack = true, stack_on_stack = true;
    int64_t count = 0, top = 0;
    *heap = !cg__in_frame();
    cg_node **order = order_local;
    frame_entry *stack = stack_local;
    root->visit = epoch;
    stack[top++] = (frame_entry){root, 0};
    for (cg_node *pushed = root; top > 0;) {
        if (pushed && pushed->released) { /* (checked once a node, as it is reached) */
            cg__error("cg_backward: the graph through %s was already freed by an earlier backward; "
                      "pass .retain_graph = true to that backward (cg_backward_ex) to go through it twice",
                      pushed->op->name);
            count = -1;
            goto done;
        }
        frame_entry *f = &stack[top - 1];
        cg_node *node = f->node;
        pushed = NULL;
        for (int i = f->next; i < node->nin && !pushed;) { /* the next input whose node is new */
            cg_tensor *in = node->in[i++];
            cg_node *child = in ? cg__node_of(in) : NULL;
            f->next = i;
            if (child && cg__requires_grad(in) && child->visit != epoch)
                pushed = child;
        }
        if (pushed) {
            pushed->visit = epoch;
            if (!room_for_one((void **)&stack, &stack_cap, (size_t)top, sizeof *stack, *heap, &stack_on_stack))
                goto oom;
            stack[top++] = (frame_entry){pushed, 0};
            continue;
        }
        if (!saved_versions_ok(node)) { /* (before the pass changes anything) */
            count = -1;
            goto done;
        }
        if (!room_for_one((void **)&order, &cap, (size_t)count, sizeof *order, *heap, &order_on_stack))
            goto oom;
        order[count++] = node;
        top--;
    }
    goto done;
oom:
    cg__error("cg_backward: out of memory ordering the graph");
    count = -1;
done:
    if (*heap && !stack_on_stack)
        cg__sys_free(stack);
    if (count < 0 && *heap && !order_on_stack)
        cg__sys_free(order);
    *order_out = count < 0 ? NULL : order;
    return count;
}

int cg_backward(cg_tensor *root) { return cg_backward_with(root, (cg_backward_opts){0}); }

/* An intermediate's gradient after a failed pass: zero, not half written. */
static void clear_intermediate(cg_tensor *t)
{
    cg_tensor *g = cg__grad_of(t);
    cg__autograd_meta *m = cg__ag(t);
    if (g && !m->grad_alias)
        memset(g->data, 0, (size_t)g->numel * sizeof(float));
    m->grad_unwritten = false;
}

/* An intermediate's gradient at the start of a pass: stale, or zeroed when views'
 * gradients live in it (they add into parts of it); a view's own is its base's. */
static void restart_grad(cg_tensor *t)
{
    cg_tensor *g = cg__grad_of(t);
    cg__autograd_meta *m = cg__ag(t);
    if (!g || m->grad_alias)
        return;
    if (m->grad_viewed)
        memset(g->data, 0, (size_t)g->numel * sizeof(float));
    else
        m->grad_unwritten = true;
}

int cg_backward_with(cg_tensor *root, cg_backward_opts opts)
{
    if (!cg__check(root, "cg_backward"))
        return -1;
    if (opts.grad && (!cg__check(opts.grad, "cg_backward") || !(opts.grad = cg__dense_plain(opts.grad, "cg_backward"))))
        return -1; /* its values row-major */
    if (!cg__requires_grad(root)) {
        cg__error("cg_backward: the root does not require grad and has no grad_fn");
        return -1;
    }
    char a[CG_SHAPE_BUF], b[CG_SHAPE_BUF];
    if (opts.grad && opts.grad->numel != root->numel) {
        cg__error("cg_backward: gradient of shape %s for a root of shape %s",
                  cg__shape_fmt(a, opts.grad->ndim, opts.grad->shape), cg__shape_fmt(b, root->ndim, root->shape));
        return -1;
    }
    if (!opts.grad && root->numel != 1) {
        cg__error("cg_backward: the root has shape %s; grad can be implied only for a scalar "
                  "(pass .grad to cg_backward_ex)", cg__shape_fmt(a, root->ndim, root->shape));
        return -1;
    }
    cg_node *order_local[ORDER_LOCAL], **order = NULL;
    bool heap = false;
    int64_t count = 0;
    if (cg__node_of(root)) {
        count = topo_order(cg__node_of(root), order_local, &order, &heap);
        heap = heap && order != order_local; /* (now: order is the system's, to free) */
        if (count < 0)
            return -1;
        /* Gradients of intermediate tensors belong to this pass alone: each starts
         * stale (zero until its first contribution writes it); one that views'
         * gradients live in is zeroed; a view's own is part of its base's. */
        for (int64_t i = 0; i < count; i++)
            restart_grad(order[i]->out);
    }
    int rc = 0;
    pass_log pass;
    pass_begin(&pass);
    float *g = cg__grad_buf(root);
    if (!g) {
        rc = -1;
        goto out;
    }
    if (opts.grad) /* (two loops: the compiler vectorises the first, a ternary inside kept it scalar) */
        for (int64_t i = 0; i < root->numel; i++)
            g[i] += opts.grad->data[i];
    else
        for (int64_t i = 0; i < root->numel; i++)
            g[i] += 1.0f;
    for (int64_t i = count - 1; i >= 0; i--) {
        cg_node *n = order[i];
        cg_tensor *gout = cg__grad_of(n->out);
        settle(n->out); /* no contribution reached it: its gradient is zero */
        /* (an aliased view's gradient is in place already) */
        if (gout && !cg__ag(n->out)->grad_alias && n->op->backward(n, gout->data) < 0)
            rc = -1;
        if (rc < 0 || pass.failed || (anomaly && !anomaly_backward_ok(n))) {
            rc = -1;
            break;
        }
    }
    if (rc == 0 && flush_all_deferred(&pass) < 0)
        rc = -1;
out:
    pass_end(&pass, rc < 0);
    for (int64_t i = 0; i < count; i++) {
        if (rc < 0) /* after a failure, every gradient of this pass reads zero */
            clear_intermediate(order[i]->out);
        else if (!opts.retain_graph) /* released only by a pass that went through */
            order[i]->released = true;
    }
    if (heap)
        cg__sys_free(order);
    return rc;
}
