/* cgrad — vectorised exp, tanh and sigmoid over arrays.
 *
 * exp: x = n ln2 + r with |r| <= ln2/2, e^r by Cephes' degree-6 polynomial,
 * scaled by 2^n through the exponent bits (about 1 ulp). tanh: Cephes' odd
 * polynomial for |x| < 0.625, 1 - 2 / (e^{2|x|} + 1) above, ±1 past 9, so the
 * relative error stays within a few ulp everywhere. The scalar versions are
 * libm's; the AVX2 ones run where the CPU has AVX2 and FMA, 16-wide twins of
 * them where it has AVX-512 (the same operations lane for lane: the same bits,
 * checked by the vmath_paths test). GELU's tanh form and its derivative are
 * torch's formulas around the same tanh. */
#include "kernels.h"
#include <pthread.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include "avx2_lanes.h"
#define CG_X86 1
#endif

/* What the CPU has, read once (pthread_once: two threads may reach the first
 * product together) and then only read. */
static bool has_avx2, has_avx512;
static pthread_once_t cpu_checked = PTHREAD_ONCE_INIT;

static void check_cpu(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    has_avx512 = has_avx2 && __builtin_cpu_supports("avx512f");
#endif
    if (getenv("CGRAD_NO_AVX2")) /* to test the portable path on any machine */
        has_avx2 = has_avx512 = false;
    if (getenv("CGRAD_NO_AVX512")) /* to test the AVX2 kernels on an AVX-512 machine */
        has_avx512 = false;
}

bool cg__cpu_has_avx2(void)
{
    pthread_once(&cpu_checked, check_cpu);
    return has_avx2;
}

bool cg__cpu_has_avx512(void)
{
    pthread_once(&cpu_checked, check_cpu);
    return has_avx512;
}

#ifdef CG_X86
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline __m256 exp8(__m256 x)
{
    const __m256 hi = _mm256_set1_ps(88.72283935546875f), lo = _mm256_set1_ps(-103.972076416f);
    __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ); /* below the smallest subnormal: 0 */
    __m256 overflow = _mm256_cmp_ps(x, _mm256_set1_ps(88.72283935546875f), _CMP_GT_OQ); /* past FLT_MAX: inf */
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    /* r = x - n ln2, in two parts for precision */
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500E-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
    __m256 r2 = _mm256_mul_ps(r, r);
    p = _mm256_fmadd_ps(p, r2, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    /* 2^n as 2^(n/2) * 2^(n - n/2): both halves are normal floats for n in [-150, 128],
     * so results near FLT_MAX stay finite and tiny ones come out subnormal */
    __m256i ni = _mm256_cvtps_epi32(n), half = _mm256_srai_epi32(ni, 1);
    __m256i e1 = _mm256_slli_epi32(_mm256_add_epi32(half, _mm256_set1_epi32(127)), 23);
    __m256i e2 = _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, half), _mm256_set1_epi32(127)), 23);
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e1)), _mm256_castsi256_ps(e2));
    y = _mm256_andnot_ps(underflow, y);
    return _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), overflow);
}

AVX2 static inline __m256 tanh8(__m256 x)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 ax = _mm256_andnot_ps(sign, x), s = _mm256_and_ps(sign, x);
    /* small: x + x z P(z), z = x^2 */
    __m256 z = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(-5.70498872745E-3f);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954E-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531E-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036E-1f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422E-1f));
    __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
    /* large: 1 - 2 / (e^{2|x|} + 1) */
    __m256 e = exp8(_mm256_add_ps(ax, ax));
    __m256 big = _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
    big = _mm256_min_ps(big, _mm256_set1_ps(1.0f));
    big = _mm256_or_ps(big, s);
    __m256 use_small = _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ);
    __m256 y = _mm256_blendv_ps(big, small, use_small);
    /* NaN stays NaN */
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

/* (a tail's masked store stays: on this AMD EPYC plain 4/2/1-lane stores of a short row's
 * tail made the overhead floor 3% slower, where the next op reads it back whole) */
AVX2 static void tanh_avx2(int64_t n, const float *x, float *y)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, tanh8(_mm256_loadu_ps(x + i)));
    if (i < n) { /* the tail: masked lanes read as 0 and are not written */
        __m256i m = cg__first_lanes(n - i);
        _mm256_maskstore_ps(y + i, m, tanh8(_mm256_maskload_ps(x + i, m)));
    }
}

AVX2 static void exp_avx2(int64_t n, const float *x, float *y, bool sigmoid)
{
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    int64_t i = 0;
    for (; i < n; i += 8) {
        bool full = i + 8 <= n;
        __m256i m = full ? _mm256_set1_epi32(-1) : cg__first_lanes(n - i); /* a tail's lanes past n read 0 */
        __m256 v = full ? _mm256_loadu_ps(x + i) : _mm256_maskload_ps(x + i, m), r;
        if (sigmoid) /* 1 / (1 + e^{-x}) */
            r = _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_xor_ps(v, sign))));
        else
            r = exp8(v);
        r = _mm256_blendv_ps(r, v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q)); /* NaN stays NaN */
        if (full)
            _mm256_storeu_ps(y + i, r);
        else
            _mm256_maskstore_ps(y + i, m, r);
    }
}

/* GELU (tanh form): 0.5 x (1 + tanh(beta (x + kappa x^3))); with g, the gradient
 * g (0.5 (1 + th) + 0.5 x (1 - th^2) beta (1 + 3 kappa x^2)), stored or added to gx. */
AVX2 static inline __m256 gelu8(__m256 x, __m256 g, bool grad)
{
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), beta = _mm256_set1_ps(CG__GELU_TANH_BETA);
    const __m256 kappa = _mm256_set1_ps(CG__GELU_KAPPA);
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 th = tanh8(_mm256_mul_ps(beta, _mm256_fmadd_ps(_mm256_mul_ps(kappa, x2), x, x)));
    __m256 right = _mm256_add_ps(one, th);
    if (!grad)
        return _mm256_mul_ps(_mm256_mul_ps(half, x), right);
    __m256 inner_d = _mm256_mul_ps(beta, _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(3.0f), kappa), x2, one));
    __m256 sech2 = _mm256_fnmadd_ps(th, th, one);
    __m256 d = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_mul_ps(half, x), sech2), inner_d, _mm256_mul_ps(half, right));
    return _mm256_mul_ps(g, d);
}

AVX2 static void gelu_tanh_avx2(int64_t n, const float *x, const float *g, float *y, bool grad, bool add)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) { /* whole vectors straight from memory */
        __m256 r = gelu8(_mm256_loadu_ps(x + i), grad ? _mm256_loadu_ps(g + i) : _mm256_setzero_ps(), grad);
        _mm256_storeu_ps(y + i, add ? _mm256_add_ps(_mm256_loadu_ps(y + i), r) : r);
    }
    if (i < n) { /* the tail through a padded copy */
        float xin[8] = {0}, gin[8] = {0}, out[8];
        for (int64_t k = i; k < n; k++)
            xin[k - i] = x[k], gin[k - i] = grad ? g[k] : 0.0f;
        _mm256_storeu_ps(out, gelu8(_mm256_loadu_ps(xin), _mm256_loadu_ps(gin), grad));
        for (int64_t k = i; k < n; k++)
            y[k] = add ? y[k] + out[k - i] : out[k - i];
    }
}

/* erfc's polynomial in 1/x^2 for |x| >= 2 (Cephes' erff), highest power first: one list
 * for every width */
static const float erfc_far_coefs[8] = {-1.047766399936249E+1f, 1.297719955372516E+1f, -7.495518717768503E+0f,
                                        2.921019019210786E+0f, -1.015265279202700E+0f, 4.218463358204948E-1f,
                                        -2.820767439740514E-1f, 5.641895067754075E-1f};

AVX2 static inline __m256 erfc_far8(__m256 y)
{
    __m256 r = _mm256_set1_ps(erfc_far_coefs[0]);
#pragma GCC unroll 7
    for (int i = 1; i < 8; i++)
        r = _mm256_fmadd_ps(r, y, _mm256_set1_ps(erfc_far_coefs[i]));
    return r;
}

/* erf by Cephes' erff: x P(x^2) for |x| <= 1; past it 1 - erfc, erfc(x) = e^{-x^2} / x
 * R(1/x^2) with one of two polynomials (|x| < 2, or beyond). About 1 ulp from glibc's. */
AVX2 static inline __m256 erf8(__m256 x, __m256 *exp_neg_x2)
{
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    __m256 ax = _mm256_andnot_ps(sign, x), s = _mm256_and_ps(sign, x), z = _mm256_mul_ps(x, x);
    __m256 t = _mm256_set1_ps(7.853861353153693E-5f);
    t = _mm256_fmadd_ps(t, z, _mm256_set1_ps(-8.010193625184903E-4f));
    t = _mm256_fmadd_ps(t, z, _mm256_set1_ps(5.188327685732524E-3f));
    t = _mm256_fmadd_ps(t, z, _mm256_set1_ps(-2.685381193529856E-2f));
    t = _mm256_fmadd_ps(t, z, _mm256_set1_ps(1.128358514861418E-1f));
    t = _mm256_fmadd_ps(t, z, _mm256_set1_ps(-3.761262582423300E-1f));
    t = _mm256_fmadd_ps(t, z, _mm256_set1_ps(1.128379165726710E+0f));
    __m256 small = _mm256_mul_ps(x, t);
    __m256 past_one = _mm256_cmp_ps(ax, one, _CMP_NLE_UQ); /* (NaN too) */
    if (_mm256_testz_ps(past_one, past_one)) { /* every lane within 1 (early in training, most values): no erfc */
        if (exp_neg_x2)
            *exp_neg_x2 = exp8(_mm256_xor_ps(z, sign));
        return small;
    }
    __m256 q = _mm256_div_ps(one, _mm256_max_ps(ax, one)), y = _mm256_mul_ps(q, q);
    __m256 p = _mm256_set1_ps(2.326819970068386E-2f); /* 1 <= |x| < 2 */
    p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(-1.387039388740657E-1f));
    p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(3.687424674597105E-1f));
    p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(-5.824733027278666E-1f));
    p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(6.210004621745983E-1f));
    p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(-4.944515323274145E-1f));
    p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(3.404879937665872E-1f));
    p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(-2.741127028184656E-1f));
    p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(5.638259427386472E-1f));
    /* |x| >= 2's polynomial only when a lane is there (most vectors of a GELU's inputs have
     * none): the blend picks the same polynomial for every lane either way */
    __m256 below_two = _mm256_cmp_ps(ax, _mm256_set1_ps(2.0f), _CMP_LT_OQ), far = _mm256_andnot_ps(below_two, past_one);
    if (!_mm256_testz_ps(far, far))
        p = _mm256_blendv_ps(erfc_far8(y), p, below_two);
    __m256 ex = exp8(_mm256_xor_ps(z, sign));
    if (exp_neg_x2)
        *exp_neg_x2 = ex;
    __m256 erfc = _mm256_mul_ps(_mm256_mul_ps(ex, q), p);
    __m256 big = _mm256_or_ps(_mm256_sub_ps(one, erfc), s);
    __m256 e = _mm256_blendv_ps(small, big, past_one);
    return _mm256_blendv_ps(e, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q)); /* NaN stays NaN */
}

/* GELU, exact: 0.5 x (1 + erf(x / sqrt 2)); with g, its gradient g (0.5 (1 + erf(x / sqrt 2))
 * + x e^{-x^2/2} / sqrt(2 pi)), stored or added to gx. e^{-x^2/2} is erf's own e^{-u^2}
 * at u = x / sqrt 2 (one exp a value, not two: exact GELU was a tenth of a GPT's step). */
#define GELU_ALPHA 0.70710678118654752440f /* 1/sqrt(2) */
#define GELU_BETA 0.39894228040143267794f  /* 1/sqrt(2 pi) */
AVX2 static inline __m256 gelu_erf8(__m256 x, __m256 g, bool grad)
{
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    __m256 e;
    __m256 cdf = _mm256_mul_ps(half, _mm256_add_ps(one, erf8(_mm256_mul_ps(x, _mm256_set1_ps(GELU_ALPHA)), grad ? &e : NULL)));
    if (!grad)
        return _mm256_mul_ps(x, cdf);
    __m256 pdf = _mm256_mul_ps(_mm256_set1_ps(GELU_BETA), e);
    return _mm256_mul_ps(g, _mm256_fmadd_ps(x, pdf, cdf));
}

AVX2 static void gelu_erf_avx2(int64_t n, const float *x, const float *g, float *y, bool grad, bool add)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 r = gelu_erf8(_mm256_loadu_ps(x + i), grad ? _mm256_loadu_ps(g + i) : _mm256_setzero_ps(), grad);
        _mm256_storeu_ps(y + i, add ? _mm256_add_ps(_mm256_loadu_ps(y + i), r) : r);
    }
    if (i < n) {
        float xin[8] = {0}, gin[8] = {0}, out[8];
        for (int64_t k = i; k < n; k++)
            xin[k - i] = x[k], gin[k - i] = grad ? g[k] : 0.0f;
        _mm256_storeu_ps(out, gelu_erf8(_mm256_loadu_ps(xin), _mm256_loadu_ps(gin), grad));
        for (int64_t k = i; k < n; k++)
            y[k] = add ? y[k] + out[k - i] : out[k - i];
    }
}

/* ---- the same functions 16 lanes wide (AVX-512F), lane for lane the same operations
 * as the 8-wide ones above, so either path gives the same bits. ---------------------- */
#define AVX512 __attribute__((target("avx2,fma,avx512f")))
#define PS(v) _mm512_castsi512_ps(v)
#define SI(v) _mm512_castps_si512(v)

AVX512 static inline __m512 exp16(__m512 x)
{
    const __m512 hi = _mm512_set1_ps(88.72283935546875f), lo = _mm512_set1_ps(-103.972076416f);
    __mmask16 underflow = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ), overflow = _mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500E-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512i ni = _mm512_cvtps_epi32(n), half = _mm512_srai_epi32(ni, 1);
    __m512i e1 = _mm512_slli_epi32(_mm512_add_epi32(half, _mm512_set1_epi32(127)), 23);
    __m512i e2 = _mm512_slli_epi32(_mm512_add_epi32(_mm512_sub_epi32(ni, half), _mm512_set1_epi32(127)), 23);
    __m512 y = _mm512_mul_ps(_mm512_mul_ps(p, PS(e1)), PS(e2));
    y = _mm512_maskz_mov_ps((__mmask16)~underflow, y);
    return _mm512_mask_mov_ps(y, overflow, _mm512_set1_ps(INFINITY));
}

AVX512 static inline __m512 tanh16(__m512 x)
{
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    __m512 ax = PS(_mm512_andnot_epi32(sign, SI(x)));
    __m512i s = _mm512_and_epi32(sign, SI(x));
    __m512 z = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(-5.70498872745E-3f);
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(2.06390887954E-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-5.37397155531E-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.33314422036E-1f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-3.33332819422E-1f));
    __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
    __m512 e = exp16(_mm512_add_ps(ax, ax));
    __m512 big = _mm512_sub_ps(_mm512_set1_ps(1.0f),
                               _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
    big = PS(_mm512_or_epi32(SI(_mm512_min_ps(big, _mm512_set1_ps(1.0f))), s));
    __m512 y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ), big, small);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), y, x); /* NaN stays NaN */
}

enum { F_EXP, F_SIGMOID, F_TANH };

AVX512 static inline __m512 apply16(int f, __m512 v)
{
    __m512 r = f == F_TANH ? tanh16(v)
             : f == F_EXP ? exp16(v) /* sigmoid: 1 / (1 + e^{-x}) */
                          : _mm512_div_ps(_mm512_set1_ps(1.0f),
                                          _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(PS(_mm512_xor_epi32(SI(v), _mm512_set1_epi32((int)0x80000000u))))));
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), r, v);
}

AVX512 static void map_avx512(int f, int64_t n, const float *x, float *y)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, apply16(f, _mm512_loadu_ps(x + i)));
    if (i < n) { /* the tail: masked lanes read as 0 and are not written */
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, apply16(f, _mm512_maskz_loadu_ps(m, x + i)));
    }
}
AVX512 static inline __m512 gelu16(__m512 x, __m512 g, bool grad) /* as gelu8 */
{
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f), beta = _mm512_set1_ps(CG__GELU_TANH_BETA);
    const __m512 kappa = _mm512_set1_ps(CG__GELU_KAPPA);
    __m512 x2 = _mm512_mul_ps(x, x);
    __m512 th = tanh16(_mm512_mul_ps(beta, _mm512_fmadd_ps(_mm512_mul_ps(kappa, x2), x, x)));
    __m512 right = _mm512_add_ps(one, th);
    if (!grad)
        return _mm512_mul_ps(_mm512_mul_ps(half, x), right);
    __m512 inner_d = _mm512_mul_ps(beta, _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(3.0f), kappa), x2, one));
    __m512 sech2 = _mm512_fnmadd_ps(th, th, one);
    __m512 d = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_mul_ps(half, x), sech2), inner_d, _mm512_mul_ps(half, right));
    return _mm512_mul_ps(g, d);
}

AVX512 static void gelu_tanh_avx512(int64_t n, const float *x, const float *g, float *y, bool grad, bool add)
{
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 r = gelu16(_mm512_maskz_loadu_ps(m, x + i), grad ? _mm512_maskz_loadu_ps(m, g + i) : _mm512_setzero_ps(),
                          grad);
        _mm512_mask_storeu_ps(y + i, m, add ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), r) : r);
    }
}
/* erfc_far8's polynomial 16 wide */
AVX512 static inline __m512 erfc_far16(__m512 y)
{
    __m512 r = _mm512_set1_ps(erfc_far_coefs[0]);
#pragma GCC unroll 7
    for (int i = 1; i < 8; i++)
        r = _mm512_fmadd_ps(r, y, _mm512_set1_ps(erfc_far_coefs[i]));
    return r;
}

/* erf and exact GELU 16 wide, lane for lane erf8's and gelu_erf8's operations */
AVX512 static inline __m512 erf16(__m512 x, __m512 *exp_neg_x2)
{
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 ax = PS(_mm512_andnot_epi32(sign, SI(x))), z = _mm512_mul_ps(x, x);
    __m512i s = _mm512_and_epi32(sign, SI(x));
    __m512 t = _mm512_set1_ps(7.853861353153693E-5f);
    t = _mm512_fmadd_ps(t, z, _mm512_set1_ps(-8.010193625184903E-4f));
    t = _mm512_fmadd_ps(t, z, _mm512_set1_ps(5.188327685732524E-3f));
    t = _mm512_fmadd_ps(t, z, _mm512_set1_ps(-2.685381193529856E-2f));
    t = _mm512_fmadd_ps(t, z, _mm512_set1_ps(1.128358514861418E-1f));
    t = _mm512_fmadd_ps(t, z, _mm512_set1_ps(-3.761262582423300E-1f));
    t = _mm512_fmadd_ps(t, z, _mm512_set1_ps(1.128379165726710E+0f));
    __m512 small = _mm512_mul_ps(x, t);
    __mmask16 past_one = _mm512_cmp_ps_mask(ax, one, _CMP_NLE_UQ); /* (NaN too) */
    if (!past_one) { /* every lane within 1 (early in training, most values): no erfc to blend in */
        if (exp_neg_x2)
            *exp_neg_x2 = exp16(PS(_mm512_xor_epi32(SI(z), sign)));
        return small;
    }
    __m512 q = _mm512_div_ps(one, _mm512_max_ps(ax, one)), y = _mm512_mul_ps(q, q);
    __m512 p = _mm512_set1_ps(2.326819970068386E-2f);
    p = _mm512_fmadd_ps(p, y, _mm512_set1_ps(-1.387039388740657E-1f));
    p = _mm512_fmadd_ps(p, y, _mm512_set1_ps(3.687424674597105E-1f));
    p = _mm512_fmadd_ps(p, y, _mm512_set1_ps(-5.824733027278666E-1f));
    p = _mm512_fmadd_ps(p, y, _mm512_set1_ps(6.210004621745983E-1f));
    p = _mm512_fmadd_ps(p, y, _mm512_set1_ps(-4.944515323274145E-1f));
    p = _mm512_fmadd_ps(p, y, _mm512_set1_ps(3.404879937665872E-1f));
    p = _mm512_fmadd_ps(p, y, _mm512_set1_ps(-2.741127028184656E-1f));
    p = _mm512_fmadd_ps(p, y, _mm512_set1_ps(5.638259427386472E-1f));
    __mmask16 below_two = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(2.0f), _CMP_LT_OQ);
    if (past_one & ~below_two) /* (as erf8: only when a lane reaches 2) */
        p = _mm512_mask_blend_ps(below_two, erfc_far16(y), p);
    __m512 ex = exp16(PS(_mm512_xor_epi32(SI(z), sign)));
    if (exp_neg_x2)
        *exp_neg_x2 = ex;
    __m512 erfc = _mm512_mul_ps(_mm512_mul_ps(ex, q), p);
    __m512 big = PS(_mm512_or_epi32(SI(_mm512_sub_ps(one, erfc)), s));
    __m512 e = _mm512_mask_blend_ps(past_one, small, big);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), e, x); /* NaN stays NaN */
}

AVX512 static inline __m512 gelu_erf16(__m512 x, __m512 g, bool grad)
{
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
    __m512 e;
    __m512 cdf = _mm512_mul_ps(half, _mm512_add_ps(one, erf16(_mm512_mul_ps(x, _mm512_set1_ps(GELU_ALPHA)), grad ? &e : NULL)));
    if (!grad)
        return _mm512_mul_ps(x, cdf);
    __m512 pdf = _mm512_mul_ps(_mm512_set1_ps(GELU_BETA), e);
    return _mm512_mul_ps(g, _mm512_fmadd_ps(x, pdf, cdf));
}

AVX512 static void gelu_erf_avx512(int64_t n, const float *x, const float *g, float *y, bool grad, bool add)
{
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 r = gelu_erf16(_mm512_maskz_loadu_ps(m, x + i), grad ? _mm512_maskz_loadu_ps(m, g + i) : _mm512_setzero_ps(),
                              grad);
        _mm512_mask_storeu_ps(y + i, m, add ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), r) : r);
    }
}
#undef PS
#undef SI

#else
static void gelu_tanh_avx512(int64_t n, const float *x, const float *g, float *y, bool grad, bool add)
{
    (void)n, (void)x, (void)g, (void)y, (void)grad, (void)add;
}
static void map_avx512(int f, int64_t n, const float *x, float *y) { (void)f, (void)n, (void)x, (void)y; }
static void gelu_erf_avx512(int64_t n, const float *x, const float *g, float *y, bool grad, bool add)
{
    (void)n, (void)x, (void)g, (void)y, (void)grad, (void)add;
}
enum { F_EXP, F_SIGMOID, F_TANH };
static void gelu_tanh_avx2(int64_t n, const float *x, const float *g, float *y, bool grad, bool add)
{
    (void)n, (void)x, (void)g, (void)y, (void)grad, (void)add;
}
static void tanh_avx2(int64_t n, const float *x, float *y) { (void)n, (void)x, (void)y; }
static void gelu_erf_avx2(int64_t n, const float *x, const float *g, float *y, bool grad, bool add)
{
    (void)n, (void)x, (void)g, (void)y, (void)grad, (void)add;
}
static void exp_avx2(int64_t n, const float *x, float *y, bool sigmoid) { (void)n, (void)x, (void)y, (void)sigmoid; }
#endif

#ifdef __wasm_simd128__
/* ---- the same functions 4 lanes wide for WebAssembly SIMD (no FMA there: each
 * fused step is a multiply and an add, within the same few ulp; exp's n ln2 is split
 * so that n * 0.693359375 is exact without one) ---------------------------------- */
#include <wasm_simd128.h>
#define F4(c) wasm_f32x4_splat(c)
#define MADD(a, b, c) wasm_f32x4_add(wasm_f32x4_mul(a, b), c)

static inline v128_t exp4(v128_t x)
{
    const v128_t hi = F4(88.72283935546875f), lo = F4(-103.972076416f);
    v128_t underflow = wasm_f32x4_lt(x, lo), overflow = wasm_f32x4_gt(x, hi);
    x = wasm_f32x4_min(wasm_f32x4_max(x, lo), hi);
    v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, F4(1.44269504088896341f)));
    v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, F4(0.693359375f)));
    r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, F4(-2.12194440e-4f)));
    v128_t p = F4(1.9875691500E-4f);
    p = MADD(p, r, F4(1.3981999507E-3f));
    p = MADD(p, r, F4(8.3334519073E-3f));
    p = MADD(p, r, F4(4.1665795894E-2f));
    p = MADD(p, r, F4(1.6666665459E-1f));
    p = MADD(p, r, F4(5.0000001201E-1f));
    p = MADD(p, wasm_f32x4_mul(r, r), wasm_f32x4_add(r, F4(1.0f)));
    v128_t ni = wasm_i32x4_trunc_sat_f32x4(n), half = wasm_i32x4_shr(ni, 1);
    v128_t e1 = wasm_i32x4_shl(wasm_i32x4_add(half, wasm_i32x4_splat(127)), 23);
    v128_t e2 = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_sub(ni, half), wasm_i32x4_splat(127)), 23);
    v128_t y = wasm_f32x4_mul(wasm_f32x4_mul(p, e1), e2);
    y = wasm_v128_andnot(y, underflow);
    return wasm_v128_bitselect(F4(INFINITY), y, overflow);
}

static inline v128_t tanh4(v128_t x)
{
    const v128_t sign = F4(-0.0f), one = F4(1.0f);
    v128_t ax = wasm_v128_andnot(x, sign), s = wasm_v128_and(x, sign), z = wasm_f32x4_mul(x, x);
    v128_t p = F4(-5.70498872745E-3f);
    p = MADD(p, z, F4(2.06390887954E-2f));
    p = MADD(p, z, F4(-5.37397155531E-2f));
    p = MADD(p, z, F4(1.33314422036E-1f));
    p = MADD(p, z, F4(-3.33332819422E-1f));
    v128_t small = MADD(wasm_f32x4_mul(p, z), x, x);
    v128_t e = exp4(wasm_f32x4_add(ax, ax));
    v128_t big = wasm_f32x4_sub(one, wasm_f32x4_div(F4(2.0f), wasm_f32x4_add(e, one)));
    big = wasm_v128_or(wasm_f32x4_min(big, one), s);
    v128_t y = wasm_v128_bitselect(small, big, wasm_f32x4_lt(ax, F4(0.625f)));
    return wasm_v128_bitselect(y, x, wasm_f32x4_eq(x, x)); /* NaN stays NaN */
}

static inline v128_t apply4(int f, v128_t v)
{
    v128_t r = f == F_TANH ? tanh4(v)
             : f == F_EXP ? exp4(v) /* sigmoid: 1 / (1 + e^{-x}) */
                          : wasm_f32x4_div(F4(1.0f), wasm_f32x4_add(F4(1.0f), exp4(wasm_f32x4_neg(v))));
    return wasm_v128_bitselect(r, v, wasm_f32x4_eq(v, v));
}

/* GELU (tanh form) and its gradient, as gelu8 */
static inline v128_t gelu4(v128_t x, v128_t g, bool grad)
{
    const v128_t half = F4(0.5f), one = F4(1.0f), beta = F4(CG__GELU_TANH_BETA), kappa = F4(CG__GELU_KAPPA);
    v128_t x2 = wasm_f32x4_mul(x, x);
    v128_t th = tanh4(wasm_f32x4_mul(beta, MADD(wasm_f32x4_mul(kappa, x2), x, x)));
    v128_t right = wasm_f32x4_add(one, th);
    if (!grad)
        return wasm_f32x4_mul(wasm_f32x4_mul(half, x), right);
    v128_t inner_d = wasm_f32x4_mul(beta, MADD(wasm_f32x4_mul(F4(3.0f), kappa), x2, one));
    v128_t sech2 = wasm_f32x4_sub(one, wasm_f32x4_mul(th, th));
    v128_t d = MADD(wasm_f32x4_mul(wasm_f32x4_mul(half, x), sech2), inner_d, wasm_f32x4_mul(half, right));
    return wasm_f32x4_mul(g, d);
}

/* y = f(x) or, for GELU (f < 0: grad when g is given), stored or added; whole vectors
 * from memory, the tail through a padded copy */
#define F_GELU (-1)
static void map_simd128(int f, int64_t n, const float *x, const float *g, float *y, bool add)
{
    for (int64_t i = 0; i < n; i += 4) {
        float xin[4] = {0}, gin[4] = {0}, out[4];
        bool full = i + 4 <= n;
        for (int64_t k = i; !full && k < n; k++)
            xin[k - i] = x[k], gin[k - i] = g ? g[k] : 0.0f;
        v128_t v = wasm_v128_load(full ? x + i : xin);
        v128_t r = f != F_GELU ? apply4(f, v) : gelu4(v, g ? wasm_v128_load(full ? g + i : gin) : F4(0.0f), g != NULL);
        if (full) {
            wasm_v128_store(y + i, add ? wasm_f32x4_add(wasm_v128_load(y + i), r) : r);
            continue;
        }
        wasm_v128_store(out, r);
        for (int64_t k = i; k < n; k++)
            y[k] = add ? y[k] + out[k - i] : out[k - i];
    }
}
#undef F4
#undef MADD
#define SIMD128(f, n, x, g, y, add) \
    do {                            \
        map_simd128(f, n, x, g, y, add); \
        return;                     \
    } while (0)
#else
#define SIMD128(f, n, x, g, y, add) (void)0
#endif

/* Whether n values take AVX-512's 16 lanes: fewer take AVX2's 8 (the same bits, lane for
 * lane, and cheaper to start). */
static bool wide_enough_for_avx512(int64_t n) { return n >= 16 && cg__cpu_has_avx512(); }

void cg__tanh_f32(int64_t n, const float *x, float *y)
{
    SIMD128(F_TANH, n, x, NULL, y, false);
    if (wide_enough_for_avx512(n)) {
        map_avx512(F_TANH, n, x, y);
        return;
    }
    if (cg__cpu_has_avx2()) {
        tanh_avx2(n, x, y);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        y[i] = tanhf(x[i]);
}

void cg__exp_f32(int64_t n, const float *x, float *y)
{
    SIMD128(F_EXP, n, x, NULL, y, false);
    if (wide_enough_for_avx512(n)) {
        map_avx512(F_EXP, n, x, y);
        return;
    }
    if (cg__cpu_has_avx2()) {
        exp_avx2(n, x, y, false);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        y[i] = expf(x[i]);
}

void cg__sigmoid_f32(int64_t n, const float *x, float *y)
{
    SIMD128(F_SIGMOID, n, x, NULL, y, false);
    if (wide_enough_for_avx512(n)) {
        map_avx512(F_SIGMOID, n, x, y);
        return;
    }
    if (cg__cpu_has_avx2()) {
        exp_avx2(n, x, y, true);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        y[i] = 1 / (1 + expf(-x[i]));
}

static inline float gelu_tanh_scalar(float x, float g, bool grad)
{
    float th = tanhf(CG__GELU_TANH_BETA * (x + CG__GELU_KAPPA * x * x * x));
    if (!grad)
        return 0.5f * x * (1 + th);
    float inner_d = CG__GELU_TANH_BETA * (1 + 3 * CG__GELU_KAPPA * x * x);
    return g * (0.5f * (1 + th) + 0.5f * x * (1 - th * th) * inner_d);
}

/* GELU (tanh form) over n values, on this thread. */
static void gelu_tanh_run(int64_t n, const float *x, const float *g, float *y, bool grad, bool add)
{
    SIMD128(F_GELU, n, x, g, y, add);
    if (cg__cpu_has_avx512()) {
        gelu_tanh_avx512(n, x, g, y, grad, add);
        return;
    }
    if (cg__cpu_has_avx2()) {
        gelu_tanh_avx2(n, x, g, y, grad, add);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float d = gelu_tanh_scalar(x[i], grad ? g[i] : 0, grad);
        y[i] = grad && add ? y[i] + d : d;
    }
}

/* GELU exact: 16 lanes with AVX-512, 8 with AVX2 (the same bits on either), else libm's
 * erff and expf. */
static inline float gelu_erf_scalar(float x, float g, bool grad)
{
    float cdf = 0.5f * (1 + erff(x * 0.70710678118654752440f));
    if (!grad)
        return x * cdf;
    return g * (cdf + x * (0.39894228040143267794f * expf(x * x * -0.5f)));
}

static void gelu_erf_run(int64_t n, const float *x, const float *g, float *y, bool grad, bool add)
{
    if (cg__cpu_has_avx512()) {
        gelu_erf_avx512(n, x, g, y, grad, add);
        return;
    }
    if (cg__cpu_has_avx2()) {
        gelu_erf_avx2(n, x, g, y, grad, add);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float d = gelu_erf_scalar(x[i], grad ? g[i] : 0, grad);
        y[i] = grad && add ? y[i] + d : d;
    }
}

/* Long runs in chunks over the threads (each value alone: the same bits on any count). */
#define GELU_CHUNK 16384
typedef struct {
    void (*run)(int64_t n, const float *x, const float *g, float *y, bool grad, bool add);
    int64_t n;
    const float *x, *g;
    float *y;
    bool grad, add;
} gelu_job;

static void gelu_chunk(void *ctx, int64_t begin, int64_t end)
{
    const gelu_job *j = ctx;
    j->run(end - begin, j->x + begin, j->g ? j->g + begin : NULL, j->y + begin, j->grad, j->add);
}

static void gelu_over_threads(gelu_job j)
{
    cg__parallel_range(j.n, GELU_CHUNK, gelu_chunk, &j);
}

void cg__gelu_tanh_f32(int64_t n, const float *x, float *y)
{
    gelu_over_threads((gelu_job){gelu_tanh_run, n, x, NULL, y, false, false});
}

void cg__gelu_tanh_grad_f32(int64_t n, const float *x, const float *g, float *gx, bool add)
{
    gelu_over_threads((gelu_job){gelu_tanh_run, n, x, g, gx, true, add});
}

void cg__gelu_f32(int64_t n, const float *x, float *y)
{
    gelu_over_threads((gelu_job){gelu_erf_run, n, x, NULL, y, false, false});
}

void cg__gelu_grad_f32(int64_t n, const float *x, const float *g, float *gx, bool add)
{
    gelu_over_threads((gelu_job){gelu_erf_run, n, x, g, gx, true, add});
}
