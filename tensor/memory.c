/* cgrad — memory: frames over a per-thread arena, and counted system memory.
 *
 * While a frame is open every tensor, graph node and gradient made goes into
 * this thread's arena by bumping a pointer; cg_frame_end moves the pointer back
 * to where the frame began. Chunks are kept, so a training step that repeats
 * the same work asks the system for nothing after its first run. */
#include "tensor_internal.h"
#include <stdlib.h>
#include <string.h>

#define CHUNK_MIN ((size_t)1 << 20)
#define MAX_FRAMES CG_MAX_FRAMES

typedef cg__chunk chunk;

/* System blocks that belong to a frame other than the innermost (a gradient
 * made for an outer frame's tensor while an inner frame is open): freed when
 * their frame ends. The link sits in the CG_ALIGN bytes before the block. */
typedef struct owned_block {
    struct owned_block *next;
} owned_block;

/* An open frame: where the arena stood when it began, and its generation. */
typedef struct {
    chunk *chunk;
    size_t used;
    owned_block *owned;
    uint32_t gen; /* which opening of this level is the open one; 0 once it ends */
} mark;

/* The marks of the first NEAR_FRAMES levels are thread-locals; a thread that nests deeper
 * gets a block for the rest (thread_block.c: the thread-local block stays small). Levels
 * past the marked ones share the last marked level's memory and generation 0. */
#define NEAR_FRAMES 4
static CG__FAST_TLS chunk *first_chunk;
CG__FAST_TLS chunk *cg__cur_chunk;
#define cur_chunk cg__cur_chunk
static CG__FAST_TLS mark near_marks[NEAR_FRAMES];
static CG__FAST_TLS mark *deep_marks; /* levels NEAR_FRAMES + 1 .. MAX_FRAMES */
static CG__FAST_TLS int marked_levels = NEAR_FRAMES; /* MAX_FRAMES once deep_marks is made */
static void forget_deep_marks(void *block);
static cg__thread_slot deep_slot = {.size = (MAX_FRAMES - NEAR_FRAMES) * sizeof(mark), .destroy = forget_deep_marks};
static void thread_ends(void *first);
/* A thread's chunks, freed when it ends (the key's value is its first chunk). */
static cg__thread_slot chunks_slot = {.destroy = thread_ends};
CG__FAST_TLS int cg__depth;           /* frames open, counting any beyond the marked ones */
CG__FAST_TLS uint32_t cg__top_gen;
static CG__FAST_TLS uint32_t frames_opened;
#define depth cg__depth
static CG__FAST_TLS int scratch_depth; /* private frames opened by cg__scratch_begin */
static int64_t sys_allocs;            /* updated atomically */

/* The allocation-failure injector (tests/test_failures.c): while armed, this
 * thread's allocation requests are counted, and the nth is refused. */
static CG__FAST_TLS int64_t requests_counted;
CG__FAST_TLS int64_t cg__refused_request;
#define refused_request cg__refused_request

void cg__fail_allocation(int64_t nth)
{
    requests_counted = 0;
    refused_request = nth;
}

int64_t cg__allocations_counted(void) { return requests_counted; }

static bool refused(void) { return refused_request > 0 && ++requests_counted == refused_request; }

void *cg__sys_malloc(size_t bytes)
{
    if (refused())
        return NULL;
    __atomic_fetch_add(&sys_allocs, 1, __ATOMIC_RELAXED);
    void *p = NULL;
    if (posix_memalign(&p, CG_ALIGN, bytes ? bytes : 1) != 0)
        return NULL;
    return p;
}

void cg__sys_free(void *p) { free(p); }

int64_t cg_system_alloc_count(void) { return __atomic_load_n(&sys_allocs, __ATOMIC_RELAXED); }

int cg_frame_depth(void) { return depth - scratch_depth; }

/* The thread ends: its deep marks go (and nothing later on it reads them: frames past the
 * fourth then share the fourth's memory, as when the block could not be had). */
static void forget_deep_marks(void *block)
{
    free(block);
    deep_marks = NULL;
    marked_levels = NEAR_FRAMES;
}

static mark *mark_of(int level) { return level <= NEAR_FRAMES ? &near_marks[level - 1] : &deep_marks[level - 1 - NEAR_FRAMES]; }

uint32_t cg__frame_gen_at(int level) { return level >= 1 && level <= marked_levels ? mark_of(level)->gen : 0; }

/* cg__frame_alive's fast path: the generation of the innermost open frame. */
static void note_top_gen(void) { cg__top_gen = cg__frame_gen_at(depth); }

void cg_frame_begin(void)
{
    if (depth == NEAR_FRAMES && !deep_marks) {
        if (!refused() && (deep_marks = cg__thread_block(&deep_slot)))
            marked_levels = MAX_FRAMES;
        else
            cg__error("cg_frame_begin: out of memory for frames nested deeper than %d; the deeper ones "
                      "share the %dth", NEAR_FRAMES, NEAR_FRAMES);
    }
    if (depth < marked_levels)
        *mark_of(depth + 1) = (mark){cur_chunk, cur_chunk ? cur_chunk->used : 0, NULL, ++frames_opened};
    else if (depth == MAX_FRAMES)
        cg__error("cg_frame_begin: more than %d nested frames; the deeper ones share the %dth",
                  MAX_FRAMES, MAX_FRAMES);
    depth++;
    note_top_gen();
}

/* The release build trusts frames; debug builds poison what a frame frees, so a
 * tensor used after its frame ended fails its magic check instead of reading
 * whatever the next frame wrote there. */
static void poison(chunk *c, size_t from)
{
#ifdef CG_DEBUG
    for (; c; c = c->next, from = 0)
        if (c->used > from)
            memset(c->mem + from, 0xdb, c->used - from);
#else
    (void)c, (void)from;
#endif
}

void cg_frame_end(void)
{
    if (depth == 0) {
        cg__error("cg_frame_end: no frame is open");
        return;
    }
    depth--;
    note_top_gen();
    if (depth >= marked_levels)
        return;
    mark m = *mark_of(depth + 1);
    for (owned_block *b = m.owned, *next; b; b = next) {
        next = b->next;
        cg__sys_free(b);
    }
    mark_of(depth + 1)->gen = 0; /* its tensors now fail cg__check */
    chunk *c = m.chunk ? m.chunk : first_chunk;
    if (!c)
        return;
    poison(c, m.chunk ? m.used : 0);
    c->used = m.chunk ? m.used : 0;
    for (chunk *n = c->next; n; n = n->next)
        n->used = 0;
    cur_chunk = m.chunk ? m.chunk : first_chunk;
}

static void free_chunks(void *first)
{
    for (chunk *c = first, *n; c; c = n) {
        n = c->next;
        cg__sys_free(c);
    }
}

static void thread_ends(void *first)
{
    free_chunks(first);
    first_chunk = cur_chunk = NULL;
}

/* The thread's list of chunks starts at c from now on. */
static void set_first_chunk(chunk *c)
{
    first_chunk = c;
    if (cg__thread_key(&chunks_slot)) /* (if it cannot be noted, they stay when the thread ends) */
        pthread_setspecific(chunks_slot.key, c);
}

void cg_frame_release_memory(void)
{
    if (depth > 0) {
        cg__error("cg_frame_release_memory: %d frame(s) still open", depth);
        return;
    }
    free_chunks(first_chunk);
    set_first_chunk(NULL);
    cur_chunk = NULL;
}

static void *arena_alloc_slow(size_t bytes);

static inline void *arena_alloc(size_t bytes)
{
    void *p = cg__arena_bump(bytes);
    return p ? p : arena_alloc_slow(bytes);
}

static void *arena_alloc_slow(size_t bytes)
{
    if (refused())
        return NULL;
    bytes = cg__arena_size(bytes);
    if (cur_chunk && cur_chunk->size - cur_chunk->used >= bytes)
        goto bump;
    /* Move on to the next kept chunk if it is big enough, else put a new one there. */
    if (cur_chunk && cur_chunk->next && cur_chunk->next->size >= bytes) {
        cur_chunk = cur_chunk->next;
        cur_chunk->used = 0;
        goto bump;
    }
    if (!cur_chunk && first_chunk && first_chunk->size >= bytes) {
        cur_chunk = first_chunk;
        cur_chunk->used = 0;
        goto bump;
    }
    size_t size = bytes > CHUNK_MIN ? bytes : CHUNK_MIN;
    if (cur_chunk && cur_chunk->size * 2 > size && cur_chunk->size < ((size_t)64 << 20))
        size = cur_chunk->size * 2;
    chunk *c = cg__sys_malloc(sizeof(chunk) + size);
    if (!c)
        return NULL;
    c->size = size;
    c->used = 0;
    if (cur_chunk) {
        c->next = cur_chunk->next;
        cur_chunk->next = c;
    } else {
        c->next = first_chunk;
        set_first_chunk(c);
    }
    cur_chunk = c;
bump:;
    void *p = cur_chunk->mem + cur_chunk->used;
    cur_chunk->used += bytes;
    return p;
}

void *cg__alloc(size_t bytes)
{
    void *p = depth > 0 ? arena_alloc(bytes) : cg__sys_malloc(bytes);
    if (!p)
        cg__error("out of memory (asked for %zu bytes)", bytes);
    return p;
}

void *cg__alloc_at_slow(int level, size_t bytes)
{
    if (level <= 0 || level >= depth || level > marked_levels) {
        void *p = level <= 0 ? cg__sys_malloc(bytes) : arena_alloc(bytes);
        if (!p)
            cg__error("out of memory (asked for %zu bytes)", bytes);
        return p;
    }
    /* an outer frame's memory: a system block its frame frees when it ends */
    unsigned char *block = cg__sys_malloc(CG_ALIGN + bytes);
    if (!block) {
        cg__error("out of memory (asked for %zu bytes)", bytes);
        return NULL;
    }
    owned_block *b = (owned_block *)block;
    b->next = mark_of(level)->owned;
    mark_of(level)->owned = b;
    return block + CG_ALIGN;
}

void cg__scratch_begin(void)
{
    cg_frame_begin();
    scratch_depth++;
}

void *cg__scratch(size_t bytes) { return cg__alloc(bytes); }

void cg__scratch_end(void)
{
    scratch_depth--;
    cg_frame_end();
}
