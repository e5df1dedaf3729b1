/* Prints a checksum of every bit of cgrad's exp, sigmoid, tanh and both GELUs (and their
 * gradient) over 2^20 inputs spread across the float range, NaN and infinities
 * included: tests/meson.build runs it on the AVX-512, AVX2 and portable paths, and
 * the first two must print the same (they are written lane for lane alike). */
#include <cgrad.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static uint64_t fold(uint64_t h, const cg_tensor *t)
{
    const float *d = cg_data((cg_tensor *)t);
    for (int64_t i = 0; i < cg_numel((cg_tensor *)t); i++) {
        uint32_t bits;
        memcpy(&bits, &d[i], 4);
        h = (h ^ bits) * 1099511628211u; /* FNV-1a over the result's bits */
    }
    return h;
}

int main(void)
{
    enum { N = 1 << 20 };
    static float x[N];
    for (int i = 0; i < N; i++) /* a sweep of [-40, 40], then every exponent, then the specials */
        x[i] = i < N / 2 ? -40.0f + 80.0f * (float)i / (N / 2) : ldexpf((float)(i % 1000) / 999.0f, (i % 280) - 140);
    x[N - 1] = NAN, x[N - 2] = INFINITY, x[N - 3] = -INFINITY, x[N - 4] = -0.0f, x[N - 5] = 88.8f, x[N - 6] = -104.0f;
    cg_frame_begin();
    cg_tensor *t = cg_tensor_from(x, CG_SHAPE(N - 3)); /* an odd length: the tails too */
    cg_set_requires_grad(t, true);
    cg_tensor *outs[5] = {cg_exp(t), cg_sigmoid(t), cg_tanh(t), cg_gelu_tanh(t), cg_gelu(t)};
    uint64_t h = 14695981039346656037u;
    for (int k = 0; k < 5; k++)
        h = fold(h, outs[k]);
    if (cg_backward(cg_add(cg_sum(outs[3]), cg_sum(outs[4]))) != 0) /* both GELUs' gradients, summed */
        return 1;
    h = fold(h, cg_grad(t));
    printf("%016" PRIx64 "\n", h);
    cg_frame_end();
    return 0;
}
