/* cgrad — PyTorch's CPU generator, bit for bit.
 *
 * torch.manual_seed(s) seeds a 32-bit mt19937 with init_genrand(s); uniform_
 * turns one 32-bit draw r into (r & 0xFFFFFF) * 2^-24 in double, scaled in
 * double and rounded to float; doubles use two draws and 53 bits. normal_ on
 * 16 or more floats fills uniforms and applies Box-Muller to blocks of 16
 * (pairs i, i+8), recomputing the last 16 when the count is not a multiple of
 * 16; fewer than 16 use double-precision Box-Muller with a cached
 * second value, as at::normal_distribution<double> does. */
#include "tensor_internal.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MT_N 624
#define MT_M 397

/* The saved state's layout (cg_rng_get_state's bytes, in checkpoints): the
 * same since the first checkpoint cgrad wrote. */
typedef struct {
    uint32_t mt[MT_N];
    int index;
    bool has_next_normal; /* at::normal_distribution<double> caches its second value */
    double next_normal;
} mt_state;
_Static_assert(sizeof(mt_state) <= CG_RNG_STATE_SIZE, "CG_RNG_STATE_SIZE too small");

/* A generator, as torch.Generator: its state and a lock, so threads drawing
 * together each get whole runs of the one sequence (an op's draws are taken
 * under one lock, as PyTorch's kernels take theirs). */
struct cg_generator {
    pthread_mutex_t lock;
    bool seeded;     /* the default one is seeded on first use */
    bool is_default; /* never freed */
    mt_state st;
};

static cg_generator default_generator = {.lock = PTHREAD_MUTEX_INITIALIZER, .is_default = true};

static void seed_state(mt_state *st, uint64_t seed)
{
    uint32_t s = (uint32_t)seed;
    st->mt[0] = s;
    for (int i = 1; i < MT_N; i++)
        st->mt[i] = 1812433253u * (st->mt[i - 1] ^ (st->mt[i - 1] >> 30)) + (uint32_t)i;
    st->index = MT_N;
    st->has_next_normal = false;
    st->next_normal = 0;
}

cg_generator *cg__gen_acquire(cg_generator *g)
{
    g = g ? g : &default_generator;
    pthread_mutex_lock(&g->lock);
    if (!g->seeded) { /* PyTorch's default generator starts from seed 67280421310721 */
        seed_state(&g->st, UINT64_C(67280421310721));
        g->seeded = true;
    }
    return g;
}

void cg__gen_release(cg_generator *g) { pthread_mutex_unlock(&g->lock); }

cg_generator *cg_default_generator(void) { return &default_generator; }

cg_generator *cg_generator_new(uint64_t seed)
{
    cg_generator *g = calloc(1, sizeof *g);
    if (!g || pthread_mutex_init(&g->lock, NULL) != 0) {
        free(g);
        cg__error("cg_generator_new: out of memory");
        return NULL;
    }
    seed_state(&g->st, seed);
    g->seeded = true;
    return g;
}

void cg_generator_free(cg_generator *g)
{
    if (!g || g->is_default)
        return;
    pthread_mutex_destroy(&g->lock);
    free(g);
}

int cg_generator_manual_seed(cg_generator *g, uint64_t seed)
{
    g = g ? g : &default_generator;
    pthread_mutex_lock(&g->lock);
    seed_state(&g->st, seed);
    g->seeded = true;
    pthread_mutex_unlock(&g->lock);
    return 0;
}

void cg_manual_seed(uint64_t seed) { cg_generator_manual_seed(NULL, seed); }

static void twist(mt_state *st)
{
    for (int i = 0; i < MT_N; i++) {
        uint32_t y = (st->mt[i] & 0x80000000u) | (st->mt[(i + 1) % MT_N] & 0x7fffffffu);
        st->mt[i] = st->mt[(i + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    st->index = 0;
}

uint32_t cg__gen_u32(cg_generator *g)
{
    mt_state *st = &g->st;
    if (st->index >= MT_N)
        twist(st);
    uint32_t y = st->mt[st->index++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint32_t cg_generator_random_u32(cg_generator *g)
{
    g = cg__gen_acquire(g);
    uint32_t r = cg__gen_u32(g);
    cg__gen_release(g);
    return r;
}

uint32_t cg_random_u32(void) { return cg_generator_random_u32(NULL); }

uint64_t cg__gen_u64(cg_generator *g)
{
    uint64_t hi = cg__gen_u32(g);
    uint64_t lo = cg__gen_u32(g);
    return (hi << 32) | lo;
}

double cg__gen_uniform_double(cg_generator *g)
{
    return (double)(cg__gen_u64(g) & ((UINT64_C(1) << 53) - 1)) * (1.0 / (double)(UINT64_C(1) << 53));
}

float cg__gen_uniform_float(cg_generator *g, float low, float high)
{
    double x = (double)(cg__gen_u32(g) & 0xFFFFFFu) * (1.0 / (double)(1u << 24));
    return (float)(x * ((double)high - (double)low) + (double)low);
}

static double normal_double(cg_generator *g, double mean, double std)
{
    mt_state *st = &g->st;
    if (st->has_next_normal) {
        st->has_next_normal = false;
        return st->next_normal * std + mean;
    }
    double u1 = cg__gen_uniform_double(g);
    double u2 = cg__gen_uniform_double(g);
    double r = sqrt(-2.0 * log1p(-u2));
    double theta = 2.0 * M_PI * u1;
    st->has_next_normal = true;
    st->next_normal = r * sin(theta);
    return r * cos(theta) * std + mean;
}

static void normal_fill_16(float *d, float mean, float std)
{
    for (int j = 0; j < 8; j++) {
        float u1 = 1 - d[j]; /* [0, 1) -> (0, 1] for log */
        float u2 = d[j + 8];
        float radius = sqrtf(-2 * logf(u1));
        float theta = (float)(2.0 * M_PI * (double)u2);
        d[j] = radius * cosf(theta) * std + mean;
        d[j + 8] = radius * sinf(theta) * std + mean;
    }
}

static void normal_fill(cg_generator *g, float *d, int64_t n, float mean, float std)
{
    for (int64_t i = 0; i < n; i++)
        d[i] = cg__gen_uniform_float(g, 0, 1);
    for (int64_t i = 0; i + 16 <= n; i += 16)
        normal_fill_16(d + i, mean, std);
    if (n % 16 != 0) {
        float *tail = d + n - 16;
        for (int i = 0; i < 16; i++)
            tail[i] = cg__gen_uniform_float(g, 0, 1);
        normal_fill_16(tail, mean, std);
    }
}

/* Which element takes which draw in a strided view is torch's iteration order
 * (memory order, not the view's); rather than guess it, a fill refuses one. */
static bool draws_in_order(const cg_tensor *t, const char *op)
{
    if (!t->strided)
        return true;
    cg__error("%s: a strided view (from cg_transpose, cg_expand, ...): fill its base, or a cg_contiguous "
              "copy and cg_copy_ it in", op);
    return false;
}

int cg_uniform_gen_(cg_tensor *t, float low, float high, cg_generator *gen)
{
    if (!cg__check(t, "cg_uniform_") || !cg__inplace_ok(t, "cg_uniform_") || !draws_in_order(t, "cg_uniform_"))
        return -1;
    if (!(low <= high) || !isfinite(low) || !isfinite(high)) {
        cg__error("cg_uniform_: expects low <= high, both finite (got %g, %g)", low, high);
        return -1;
    }
    cg_generator *g = cg__gen_acquire(gen);
    cg__bump_version(t);
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = cg__gen_uniform_float(g, low, high);
    cg__gen_release(g);
    return 0;
}

int cg_normal_gen_(cg_tensor *t, float mean, float std, cg_generator *gen)
{
    if (!cg__check(t, "cg_normal_") || !cg__inplace_ok(t, "cg_normal_") || !draws_in_order(t, "cg_normal_"))
        return -1;
    if (!(std >= 0) || !isfinite(mean) || !isfinite(std)) {
        cg__error("cg_normal_: expects std >= 0 and finite values (got mean %g, std %g)", mean, std);
        return -1;
    }
    cg_generator *g = cg__gen_acquire(gen);
    cg__bump_version(t);
    if (t->numel >= 16)
        normal_fill(g, t->data, t->numel, mean, std);
    else
        for (int64_t i = 0; i < t->numel; i++)
            t->data[i] = (float)normal_double(g, mean, std);
    cg__gen_release(g);
    return 0;
}

int cg_uniform_(cg_tensor *t, float low, float high) { return cg_uniform_gen_(t, low, high, NULL); }
int cg_normal_(cg_tensor *t, float mean, float std) { return cg_normal_gen_(t, mean, std, NULL); }

static cg_tensor *filled(cg_tensor *t, int rc)
{
    if (rc == 0)
        return t;
    cg_tensor_free(t);
    return NULL;
}

cg_tensor *cg_uniform_gen(int ndim, const int64_t *shape, float low, float high, cg_generator *g)
{
    cg_tensor *t = cg__new(ndim, shape, "cg_uniform");
    return t ? filled(t, cg_uniform_gen_(t, low, high, g)) : NULL;
}

cg_tensor *cg_normal_gen(int ndim, const int64_t *shape, float mean, float std, cg_generator *g)
{
    cg_tensor *t = cg__new(ndim, shape, "cg_normal");
    return t ? filled(t, cg_normal_gen_(t, mean, std, g)) : NULL;
}

cg_tensor *cg_uniform(int ndim, const int64_t *shape, float low, float high)
{
    return cg_uniform_gen(ndim, shape, low, high, NULL);
}
cg_tensor *cg_normal(int ndim, const int64_t *shape, float mean, float std)
{
    return cg_normal_gen(ndim, shape, mean, std, NULL);
}
cg_tensor *cg_rand(int ndim, const int64_t *shape) { return cg_uniform_gen(ndim, shape, 0, 1, NULL); }
cg_tensor *cg_randn(int ndim, const int64_t *shape) { return cg_normal_gen(ndim, shape, 0, 1, NULL); }
cg_tensor *cg_rand_gen(int ndim, const int64_t *shape, cg_generator *g) { return cg_uniform_gen(ndim, shape, 0, 1, g); }
cg_tensor *cg_randn_gen(int ndim, const int64_t *shape, cg_generator *g) { return cg_normal_gen(ndim, shape, 0, 1, g); }

/* ---- the state, for checkpoints --------------------------------------------------- */

/* The state as bytes; op names the caller's function in errors. */
static int get_state(cg_generator *gen, uint8_t *out, size_t size, const char *op)
{
    if (!out || size < CG_RNG_STATE_SIZE) {
        cg__error("%s: needs a buffer of %d bytes", op, CG_RNG_STATE_SIZE);
        return -1;
    }
    cg_generator *g = cg__gen_acquire(gen);
    mt_state st;
    memset(&st, 0, sizeof st); /* padding bytes too: the same state, the same bytes */
    memcpy(st.mt, g->st.mt, sizeof st.mt);
    st.index = g->st.index;
    st.has_next_normal = g->st.has_next_normal;
    st.next_normal = g->st.next_normal;
    cg__gen_release(g);
    memset(out, 0, CG_RNG_STATE_SIZE);
    memcpy(out, &st, sizeof st);
    return 0;
}

/* Why bytes are not a state a generator could have been in, or NULL. */
static const char *state_fault(const uint8_t *in)
{
    mt_state st;
    memcpy(&st, in, sizeof st);
    uint8_t flag;
    memcpy(&flag, in + offsetof(mt_state, has_next_normal), 1);
    if (st.index < 0 || st.index > MT_N)
        return "the position in the state is out of range";
    if (flag > 1)
        return "the cached-normal flag is neither 0 nor 1";
    if (flag && !isfinite(st.next_normal))
        return "the cached normal value is not finite";
    bool all_zero = true;
    for (int i = 0; i < MT_N && all_zero; i++)
        all_zero = st.mt[i] == 0;
    if (all_zero)
        return "the state is all zeros (mt19937 would draw only zeros)";
    return NULL;
}

/* Bytes back into a generator, refused (and the generator untouched) when no generator
 * could hold them; op names the caller's function in errors. */
static int set_state(cg_generator *gen, const uint8_t *in, size_t size, const char *op)
{
    if (!in || size < CG_RNG_STATE_SIZE) {
        cg__error("%s: needs %d bytes of state", op, CG_RNG_STATE_SIZE);
        return -1;
    }
    const char *fault = state_fault(in);
    if (fault) {
        cg__error("%s: not a generator state: %s", op, fault);
        return -1;
    }
    cg_generator *g = cg__gen_acquire(gen);
    memcpy(&g->st, in, sizeof g->st);
    g->st.has_next_normal = in[offsetof(mt_state, has_next_normal)] != 0;
    g->seeded = true;
    cg__gen_release(g);
    return 0;
}

int cg_generator_get_state(cg_generator *g, uint8_t *out, size_t size)
{
    return get_state(g, out, size, "cg_generator_get_state");
}

int cg_generator_set_state(cg_generator *g, const uint8_t *in, size_t size)
{
    return set_state(g, in, size, "cg_generator_set_state");
}

int cg_rng_get_state(uint8_t *out, size_t size) { return get_state(NULL, out, size, "cg_rng_get_state"); }
int cg_rng_set_state(const uint8_t *in, size_t size) { return set_state(NULL, in, size, "cg_rng_set_state"); }
