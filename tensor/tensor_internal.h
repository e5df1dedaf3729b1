/* cgrad — what the layers share about a tensor and are not for users. */
#ifndef CGRAD_TENSOR_INTERNAL_H
#define CGRAD_TENSOR_INTERNAL_H

#include "tensor.h"
#include <math.h>
#include <pthread.h>
#include <stdarg.h>

/* Thread-local state every op reads (frame depth, the innermost frame, grad mode, a
 * pending failure, the pass): in the shared library gcc reaches thread-locals through a
 * call each time; the initial-exec model reads them at a fixed offset from the thread
 * pointer. The model takes the library's whole thread-local block into static TLS, so it
 * is kept small (304 bytes; the install test holds it to 512), well inside what glibc
 * keeps for libraries loaded later by dlopen: large per-thread arrays live in
 * cg__thread_block's blocks instead. */
#if defined(__ELF__) && defined(__GNUC__) && !defined(__EMSCRIPTEN__)
#define CG__FAST_TLS _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define CG__FAST_TLS _Thread_local
#endif

#define CG_MAGIC_LIVE 0x7e5a11feu
#define CG_MAX_FRAMES 256

/* The head of the state a layer above keeps per tensor (autograd's, as
 * PyTorch's AutogradMeta): autograd allocates it, where the tensor lives, and
 * owns the rest of it; tensor/ reads only this head — what freeing, printing
 * and the in-place checks need. */
typedef struct cg__meta {
    cg_tensor *held;         /* a tensor this one owns a reference to (its gradient), or NULL */
    bool grad_none;          /* .grad set to None (cg_set_grad_none): held kept for the next pass to reuse, unread */
    bool requires_grad;
    const char *grad_fn;     /* PyTorch's name for the op that made it; NULL for a leaf */
    bool param;              /* a module's parameter: printed as torch prints an nn.Parameter */
    /* How the layer above frees this state when its heap tensor goes (tensor/ does not
     * know that layer's memory layout); NULL for state in a frame, which goes with it. */
    void (*release)(struct cg__meta *m);
} cg__meta;
#define CG_ALIGN 64

/* What a strided view (transpose, permute, expand, narrow past the first dim) has
 * beyond a tensor: its elements are not row-major from data on; element
 * (i0, i1, ...) is at data[i0 * stride[0] + i1 * stride[1] + ...]. */
typedef struct {
    int64_t stride[CG_MAX_DIMS];
    /* its values row-major (what cg_data and the kernels read): a tensor made beside
     * it, refreshed from the storage at each use; `dense_rec` is the same recorded
     * as cg_contiguous(view), the graph's way back to it */
    cg_tensor *dense, *dense_rec;
    uint32_t dense_version, dense_rec_version; /* the storage's version each was made at */
} cg__strided;

struct cg_tensor {
    uint32_t magic;          /* CG_MAGIC_LIVE while usable; anything else: freed or its frame ended */
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    int64_t numel;
    float *data;
    cg_tensor *base;         /* a view made outside frames keeps the tensor it views alive */
    cg_tensor *storage;      /* a view: the tensor whose values it views (its version counter); NULL: itself */
    uint32_t version;        /* in-place writes so far (a view counts on its storage's) */
    int refcount;            /* heap tensors: the owner's reference + one per view or node using it */
    cg_tensor **refs;        /* heap tensors this one keeps alive (its node's inputs) */
    int nrefs;
    bool in_frame;           /* lives in a frame (not freed one by one) */
    int frame_level;         /* the frame it lives in (1 = outermost), 0 outside frames */
    uint32_t frame_gen;      /* which opening of that level: stale once the frame ends */
    cg__meta *meta;          /* the layers above's state (one block, freed with a heap tensor), or NULL */
    const char *name;        /* parameter name for printing and graphs, or NULL */
    const char *made_by;     /* the public call that made it ("cg_tanh"), for messages; NULL for views */
    cg__strided *strided;    /* a strided view's strides (in the same block), or NULL: row-major */
};

static inline bool cg__requires_grad(const cg_tensor *t) { return t->meta && t->meta->requires_grad; }
static inline cg_tensor *cg__grad_of(const cg_tensor *t) { return t->meta && !t->meta->grad_none ? t->meta->held : NULL; }

/* ---- allocation: arena when a frame is open, the system otherwise -------- */
void *cg__alloc(size_t bytes);           /* 64-byte aligned; frame or heap; NULL + error when out of memory */
extern CG__FAST_TLS int cg__depth; /* frames open on this thread */
/* A chunk of a thread's arena (memory.c); the one being filled, and the failure
 * injector's request to refuse (0: none armed), for cg__alloc_at's inline path. */
typedef struct cg__chunk {
    struct cg__chunk *next;
    size_t size, used;
    _Alignas(CG_ALIGN) unsigned char mem[];
} cg__chunk;
extern CG__FAST_TLS cg__chunk *cg__cur_chunk;
extern CG__FAST_TLS int64_t cg__refused_request;
/* The usual arena request: room in the current chunk and no failure armed, a bump of a
 * pointer; else NULL (memory.c's slow path decides). */
/* n rounded up to whole CG_ALIGN blocks, and at least one (every request gets memory) */
static inline size_t cg__arena_size(size_t n) { return ((n ? n : 1) + CG_ALIGN - 1) & ~(size_t)(CG_ALIGN - 1); }
static inline void *cg__arena_bump(size_t bytes)
{
    size_t need = cg__arena_size(bytes);
    cg__chunk *c = cg__cur_chunk;
    if (__builtin_expect(c == NULL || cg__refused_request != 0 || c->size - c->used < need, 0))
        return NULL;
    void *p = c->mem + c->used;
    c->used += need;
    return p;
}
void *cg__alloc_at_slow(int level, size_t bytes);
/* The same in the frame of the given level (0: the heap), which may be an
 * outer one: memory that lives exactly as long as a tensor of that frame. Every op's
 * result, node and gradient comes from here: the usual request (the innermost frame,
 * room in its chunk) is inlined where it is asked for. */
static inline void *cg__alloc_at(int level, size_t bytes)
{
    void *p = level == cg__depth && level > 0 ? cg__arena_bump(bytes) : NULL;
    return __builtin_expect(p != NULL, 1) ? p : cg__alloc_at_slow(level, bytes);
}
/* Which opening of a frame level is the open one (0: level 0, or a level that shares an
 * outer frame's memory); tensors made there carry it. */
uint32_t cg__frame_gen_at(int level);
extern CG__FAST_TLS uint32_t cg__top_gen; /* cg__frame_gen_at(cg__depth) */
static inline uint32_t cg__frame_gen_of(int level) { return level == cg__depth ? cg__top_gen : cg__frame_gen_at(level); }
static inline bool cg__in_frame(void) { return cg__depth > 0; }
/* Whether the frame a tensor was made in is still open (cheap enough for every
 * check, so reading a loss after cg_frame_end fails cleanly in release builds). */
static inline bool cg__frame_alive(const cg_tensor *t)
{
    int level = t->frame_level;
    if (level == 0)
        return true;
    if (level > cg__depth)
        return false;
    return cg__frame_gen_of(level) == t->frame_gen;
}
void *cg__sys_malloc(size_t bytes);      /* counted system allocation */
/* A zeroed block of slot->size bytes for the calling thread, made on its first call and
 * freed when the thread ends; NULL when out of memory (thread_block.c says why). */
typedef struct {
    size_t size;
    void (*destroy)(void *); /* what a thread's value gets when the thread ends */
    bool made, ok;           /* the key was made; and it worked */
    pthread_key_t key;
} cg__thread_slot;
void *cg__thread_block(cg__thread_slot *slot);
/* The slot's pthread key, made on first use; false when it could not be made. */
bool cg__thread_key(cg__thread_slot *slot);
/* Testing failure paths, as SQLite does: from now on this thread's allocation
 * requests (system and arena) are counted and the nth is refused (0: none);
 * cg__allocations_counted() says how many were made since. */
void cg__fail_allocation(int64_t nth);
int64_t cg__allocations_counted(void);
void cg__sys_free(void *p);
/* Scratch memory for the duration of one operation: always the arena, opening
 * a private frame when none is open. Pair with cg__scratch_end. */
void cg__scratch_begin(void);
void *cg__scratch(size_t bytes);
void cg__scratch_end(void);
/* Room for n floats for the duration of one operation: on the caller's stack when they
 * are few (a toy model's rows: opening and closing a scratch frame cost more than the
 * op's arithmetic), else in a scratch frame; NULL when out of memory. Pair with
 * cg__room_end. */
#define CG_ROOM_LOCAL 256
typedef struct {
    _Alignas(CG_ALIGN) float local[CG_ROOM_LOCAL];
    bool framed;
} cg__room;
static inline float *cg__room_begin(cg__room *r, int64_t n)
{
    r->framed = n > CG_ROOM_LOCAL;
    if (!r->framed)
        return r->local;
    cg__scratch_begin();
    return cg__scratch((size_t)n * sizeof(float));
}
static inline void cg__room_end(cg__room *r)
{
    if (r->framed)
        cg__scratch_end();
}

/* A tensor with shape but no values set, allocated where cg__alloc puts it. */
cg_tensor *cg__new(int ndim, const int64_t *shape, const char *op);
/* A tensor of t's shape (checked when t was made), where cg__new makes one. */
cg_tensor *cg__new_as(const cg_tensor *t, const char *op);
/* The same, always outside frames (a parameter's gradient made during a step). */
cg_tensor *cg__new_heap(int ndim, const int64_t *shape, const char *op);
/* The same where `like` lives: its frame (an outer one too) or the heap. */
cg_tensor *cg__new_beside(const cg_tensor *like, int ndim, const int64_t *shape, const char *op);
/* A tensor of t's own shape where t lives (a gradient buffer): no second shape check,
 * t's was checked when t was made. */
cg_tensor *cg__new_like(const cg_tensor *t, const char *op);
/* A tensor viewing t's data with another shape (same numel, or a first-dim slice). */
cg_tensor *cg__view(cg_tensor *t, int ndim, const int64_t *shape, int64_t offset);
/* The same for a shape that is t's own or a part of it (a narrow, a select: every size at
 * most t's), numel its count: not checked again. */
cg_tensor *cg__view_part(cg_tensor *t, int ndim, const int64_t *shape, int64_t numel, int64_t offset);
/* A view of t from offset with `like`'s shape, living where `like` lives (a view's gradient:
 * a part of its base's gradient, living with the view). */
cg_tensor *cg__view_beside(const cg_tensor *like, cg_tensor *t, int64_t offset);

/* ---- strided views ---------------------------------------------------------- */
/* t's strides in elements (row-major ones for a tensor that is not a strided view). */
void cg__strides(const cg_tensor *t, int64_t *stride);
/* A view of t's storage with shape and strides, its element 0 at t->data + offset:
 * a strided view, or a plain one when those strides are row-major anyway. */
cg_tensor *cg__strided_view(cg_tensor *t, int ndim, const int64_t *shape, const int64_t *stride, int64_t offset);
/* v's values row-major into dst (any tensor: a strided view walks its strides). */
void cg__gather(const cg_tensor *v, float *dst);
/* A new tensor made beside strided view t holding its values row-major: its version
 * is t's storage's, and outside frames it keeps t's base alive as t does. */
cg_tensor *cg__dense_new(cg_tensor *t, const char *op);
/* t's values row-major: t itself unless t is a strided view, else its `dense`
 * tensor made or refreshed now (not recorded in the graph); NULL when out of memory. */
cg_tensor *cg__dense_plain(cg_tensor *t, const char *op);
/* The lock a strided view's row-major copy is made and refreshed under, and the
 * refresh itself: writes only elements that differ (so readers of an up-to-date
 * copy on other threads see no write). */
void cg__dense_lock(void);
void cg__dense_unlock(void);
void cg__gather_refresh(const cg_tensor *v, float *dst);
/* A strided view's recorded copy (dense_rec) reads the view in its node but does
 * not keep it alive (the view keeps the copy: no cycle). When the view's last
 * reference goes, or the copy is replaced, while a graph still holds the copy,
 * the copy takes the view over instead. Called by cg_tensor_free with x's count
 * at 0: true when x was handed to its copy and must stay. */
bool cg__dense_rec_outlives(cg_tensor *x);
void cg__dense_rec_release(cg_tensor *x);

/* Whether some element of a strided view is another's memory (a stride 0 from
 * expand): torch refuses in-place writes to such a view. */
bool cg__overlapping(const cg_tensor *t);
/* An update in place of a strided view's values (an optimizer's step on a parameter
 * that is a transpose, as torch allows): cg__dense_plain first (the values row-major,
 * which can fail), then the update on them, then cg__dense_written, which writes them
 * back through the strides and bumps the version (the copy stays current). */
void cg__dense_written(cg_tensor *v);

/* Row-major src written to v's elements, or one value to all of them (in-place writes). */
void cg__scatter(cg_tensor *v, const float *src);
void cg__fill_strided(cg_tensor *v, float value);
/* The storage elements from t->data that t's elements lie within. */
int64_t cg__span(const cg_tensor *t);

/* The product of every dim but the last: the rows of t seen as a matrix
 * (1 for 0-d and 1-D tensors). Computed from the shape, never as numel / last,
 * which divides by zero when the last dim is 0. */
static inline int64_t cg__rows(const cg_tensor *t)
{
    int64_t r = 1;
    for (int i = 0; i + 1 < t->ndim; i++)
        r *= t->shape[i];
    return r;
}

/* One more reference to a heap tensor (cg_tensor_free drops one); frame tensors need none. */
static inline cg_tensor *cg__retain(cg_tensor *t)
{
    if (t && !t->in_frame)
        t->refcount++;
    return t;
}

/* ---- version counters: in-place writes, as PyTorch counts them ----------
 * A graph node notes the versions of the tensors its backward reads; backward
 * refuses to run when one has changed since. */
static inline cg_tensor *cg__storage(cg_tensor *t) { return t->storage ? t->storage : t; }
static inline uint32_t cg__version(cg_tensor *t) { return cg__storage(t)->version; }
static inline void cg__bump_version(cg_tensor *t) { cg__storage(t)->version++; }

/* Grad mode (PyTorch keeps it in core too): no-grad regions open on this thread. */
extern CG__FAST_TLS int cg__no_grad_depth;
/* Whether op may write t in place: not a leaf that requires grad, nor a tensor
 * the graph computed, while grad mode is on (cgrad records no in-place op, so
 * such a write would leave the graph computing something else). False + error. */
bool cg__inplace_ok(cg_tensor *t, const char *op);

/* ---- errors -------------------------------------------------------------- */
void cg__error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern CG__FAST_TLS bool cg__failure_pending; /* see error.c */
/* For a NULL input: keeps the first message of a failing chain, else says which op. */
void cg__error_null(const char *op);
/* Checks t is a live tensor; on failure records a message naming op and returns false. */
bool cg__check_failed(const cg_tensor *t, const char *op);
static inline bool cg__check(const cg_tensor *t, const char *op)
{
    return (t && t->magic == CG_MAGIC_LIVE && cg__frame_alive(t)) || cg__check_failed(t, op);
}
/* "(3, 5, 2)" into buf, which holds CG_SHAPE_BUF bytes. */
const char *cg__shape_fmt(char *buf, int ndim, const int64_t *shape);
#define CG_SHAPE_BUF 192
/* The most elements a tensor may have: 2^40, and on a machine with a smaller size_t
 * (32-bit, WebAssembly) few enough that every byte count the library forms from them
 * (several buffers of numel floats, with headers) stays far inside SIZE_MAX. */
static inline int64_t cg__max_numel(void)
{
    uint64_t by_size = (uint64_t)(SIZE_MAX / 64);
    return by_size < (UINT64_C(1) << 40) ? (int64_t)by_size : INT64_C(1) << 40;
}
/* Validates a shape for creation: dims >= 0, numel within what memory allows. */
bool cg__check_shape(int ndim, const int64_t *shape, const char *op, int64_t *numel);
/* Normalises a possibly negative dim against ndim; -1 and an error if out of range. */
int cg__dim(int dim, int ndim, const char *op);

/* CRC-32C of n bytes, continuing from crc (0 to start). */
uint32_t cg__crc32c(uint32_t crc, const void *data, size_t n);

/* ---- generator ------------------------------------------------------------ *
 * An op draws between acquire and release (the generator's lock held, so its
 * draws are one run of the sequence even when threads draw together); g NULL
 * is the default generator. The draws below need the lock held. */
cg_generator *cg__gen_acquire(cg_generator *g);
void cg__gen_release(cg_generator *g);
uint32_t cg__gen_u32(cg_generator *g);
uint64_t cg__gen_u64(cg_generator *g);             /* two 32-bit draws, as PyTorch's random64() */
double cg__gen_uniform_double(cg_generator *g);    /* 53-bit, like at::uniform_real_distribution<double>(0, 1) */
float cg__gen_uniform_float(cg_generator *g, float low, float high); /* like tensor.uniform_ for one element */

/* ---- option structs: which designators the caller wrote ------------------- */
typedef struct { const char *name; size_t offset, size; } cg__opt_field;
/* Copies into dst (holding the defaults) each field of user that `given` (the
 * stringified designated initialisers) names. Returns 0, or -1 and an error
 * naming the unknown option. */
int cg__opts_merge(void *dst, const void *user, const char *given,
                   const cg__opt_field *fields, int nfields, const char *op);
#define CG__OPT(type, field) {#field, offsetof(type, field), sizeof(((type *)0)->field)}

#endif
