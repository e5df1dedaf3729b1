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
#include <string.h>

#define MT_N 624
#define MT_M 397

typedef struct {
    uint32_t mt[MT_N];
    int index;
    bool has_next_normal; /* at::normal_distribution<double> caches its second value */
    double next_normal;
} generator;

static generator gen;
static bool seeded;

void cg_manual_seed(uint64_t seed)
{
    uint32_t s = (uint32_t)seed;
    gen.mt[0] = s;
    for (int i = 1; i < MT_N; i++)
        gen.mt[i] = 1812433253u * (gen.mt[i - 1] ^ (gen.mt[i - 1] >> 30)) + (uint32_t)i;
    gen.index = MT_N;
    gen.has_next_normal = false;
    seeded = true;
}

/* PyTorch's default generator starts from seed 67280421310721. */
static void ensure_seeded(void)
{
    if (!seeded)
        cg_manual_seed(UINT64_C(67280421310721));
}

static void twist(void)
{
    for (int i = 0; i < MT_N; i++) {
        uint32_t y = (gen.mt[i] & 0x80000000u) | (gen.mt[(i + 1) % MT_N] & 0x7fffffffu);
        gen.mt[i] = gen.mt[(i + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    gen.index = 0;
}

uint32_t cg_random_u32(void)
{
    ensure_seeded();
    if (gen.index >= MT_N)
        twist();
    uint32_t y = gen.mt[gen.index++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint64_t cg__random_u64(void)
{
    uint64_t hi = cg_random_u32();
    uint64_t lo = cg_random_u32();
    return (hi << 32) | lo;
}

double cg__uniform_double(void)
{
    return (double)(cg__random_u64() & ((UINT64_C(1) << 53) - 1)) * (1.0 / (double)(UINT64_C(1) << 53));
}

float cg__uniform_float(float low, float high)
{
    double x = (double)(cg_random_u32() & 0xFFFFFFu) * (1.0 / (double)(1u << 24));
    return (float)(x * ((double)high - (double)low) + (double)low);
}

static double normal_double(double mean, double std)
{
    if (gen.has_next_normal) {
        gen.has_next_normal = false;
        return gen.next_normal * std + mean;
    }
    double u1 = cg__uniform_double();
    double u2 = cg__uniform_double();
    double r = sqrt(-2.0 * log1p(-u2));
    double theta = 2.0 * M_PI * u1;
    gen.has_next_normal = true;
    gen.next_normal = r * sin(theta);
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

static void normal_fill(float *d, int64_t n, float mean, float std)
{
    for (int64_t i = 0; i < n; i++)
        d[i] = cg__uniform_float(0, 1);
    for (int64_t i = 0; i + 16 <= n; i += 16)
        normal_fill_16(d + i, mean, std);
    if (n % 16 != 0) {
        float *tail = d + n - 16;
        for (int i = 0; i < 16; i++)
            tail[i] = cg__uniform_float(0, 1);
        normal_fill_16(tail, mean, std);
    }
}

int cg_uniform_(cg_tensor *t, float low, float high)
{
    if (!cg__check(t, "cg_uniform_") || !cg__inplace_ok(t, "cg_uniform_"))
        return -1;
    if (!(low <= high) || !isfinite(low) || !isfinite(high)) {
        cg__error("cg_uniform_: expects low <= high, both finite (got %g, %g)", low, high);
        return -1;
    }
    ensure_seeded();
    cg__bump_version(t);
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = cg__uniform_float(low, high);
    return 0;
}

int cg_normal_(cg_tensor *t, float mean, float std)
{
    if (!cg__check(t, "cg_normal_") || !cg__inplace_ok(t, "cg_normal_"))
        return -1;
    if (!(std >= 0) || !isfinite(mean) || !isfinite(std)) {
        cg__error("cg_normal_: expects std >= 0 and finite values (got mean %g, std %g)", mean, std);
        return -1;
    }
    ensure_seeded();
    cg__bump_version(t);
    if (t->numel >= 16)
        normal_fill(t->data, t->numel, mean, std);
    else
        for (int64_t i = 0; i < t->numel; i++)
            t->data[i] = (float)normal_double(mean, std);
    return 0;
}

static cg_tensor *filled(cg_tensor *t, int rc)
{
    if (rc == 0)
        return t;
    cg_tensor_free(t);
    return NULL;
}

cg_tensor *cg_uniform(int ndim, const int64_t *shape, float low, float high)
{
    cg_tensor *t = cg__new(ndim, shape, "cg_uniform");
    return t ? filled(t, cg_uniform_(t, low, high)) : NULL;
}

cg_tensor *cg_normal(int ndim, const int64_t *shape, float mean, float std)
{
    cg_tensor *t = cg__new(ndim, shape, "cg_normal");
    return t ? filled(t, cg_normal_(t, mean, std)) : NULL;
}

cg_tensor *cg_rand(int ndim, const int64_t *shape) { return cg_uniform(ndim, shape, 0, 1); }

cg_tensor *cg_randn(int ndim, const int64_t *shape) { return cg_normal(ndim, shape, 0, 1); }

_Static_assert(sizeof(generator) <= CG_RNG_STATE_SIZE, "CG_RNG_STATE_SIZE too small");

int cg_rng_get_state(uint8_t *out, size_t size)
{
    if (!out || size < CG_RNG_STATE_SIZE) {
        cg__error("cg_rng_get_state: needs a buffer of %d bytes", CG_RNG_STATE_SIZE);
        return -1;
    }
    ensure_seeded();
    memset(out, 0, CG_RNG_STATE_SIZE);
    memcpy(out, &gen, sizeof gen);
    return 0;
}

int cg_rng_set_state(const uint8_t *in, size_t size)
{
    generator g;
    if (!in || size < CG_RNG_STATE_SIZE) {
        cg__error("cg_rng_set_state: needs %d bytes of state", CG_RNG_STATE_SIZE);
        return -1;
    }
    memcpy(&g, in, sizeof g);
    if (g.index < 0 || g.index > MT_N) {
        cg__error("cg_rng_set_state: not a generator state");
        return -1;
    }
    gen = g;
    seeded = true;
    return 0;
}
