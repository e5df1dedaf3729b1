/* Prints a checksum of every bit of layer_norm's result and of its input's, weight's and
 * bias's gradients, for row lengths around the eight-wide sums and the vector widths
 * (tails included), with and without weight and bias, rows near constant and far from
 * zero; and of gradient clipping's norm and scaled gradients (its sums of squares):
 * tests/meson.build runs it on the AVX-512, AVX2 and portable paths, and all three must
 * print the same (norm_rows.c compiles one source for each). */
#include <cgrad.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

double cg__sum_squares(const float *x, int64_t n); /* (internal: clipping's sums, in double) */

static uint64_t fold(uint64_t h, cg_tensor *t)
{
    const float *d = cg_data(t);
    for (int64_t i = 0; t && i < cg_numel(t); i++) {
        uint32_t bits;
        memcpy(&bits, &d[i], 4);
        h = (h ^ bits) * 1099511628211u; /* FNV-1a over the bits */
    }
    return h;
}

/* One layer norm of rows x n, forward and backward against a random weighting of its
 * result; affine: with weight and bias. */
static uint64_t one_norm(uint64_t h, int64_t rows, int64_t n, bool affine)
{
    cg_frame_begin();
    cg_tensor *x = cg_randn(CG_SHAPE(rows, n)), *r = cg_randn(CG_SHAPE(rows, n));
    float *xd = cg_data(x);
    for (int64_t i = 0; i < rows * n; i++) /* some rows shifted far from 0, one nearly constant */
        xd[i] = (i / n) % 3 == 1 ? 1000.0f + xd[i] : (i / n) % 3 == 2 ? 3.0f + 1e-4f * xd[i] : xd[i];
    cg_tensor *w = affine ? cg_randn(CG_SHAPE(n)) : NULL, *b = affine ? cg_randn(CG_SHAPE(n)) : NULL;
    cg_set_requires_grad(x, true);
    if (affine)
        cg_set_requires_grad(w, true), cg_set_requires_grad(b, true);
    cg_tensor *y = cg_layer_norm(x, 1, w, b, 1e-5f);
    if (!y || cg_backward(cg_sum(cg_mul(y, r))) != 0) {
        fprintf(stderr, "norm_bits: %s\n", cg_last_error());
        cg_frame_end();
        return 0;
    }
    h = fold(fold(h, y), cg_grad(x));
    if (affine)
        h = fold(fold(h, cg_grad(w)), cg_grad(b));
    cg_frame_end();
    return h;
}

int main(void)
{
    cg_manual_seed(7);
    const int64_t lengths[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 127, 128, 129, 200, 1000};
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++)
        for (int affine = 0; affine < 2; affine++)
            if (!(h = one_norm(h, 37, lengths[i], affine)))
                return 1;
    /* clipping: gradients of lengths around the vector widths, one far larger */
    cg_frame_begin();
    const int64_t sizes[] = {1, 7, 8, 9, 17, 100, 4099};
    cg_tensor *ps[7];
    for (int i = 0; i < 7; i++) {
        ps[i] = cg_randn(CG_SHAPE(sizes[i]));
        cg_set_requires_grad(ps[i], true);
        cg_backward(cg_sum(cg_mul(ps[i], cg_mul_scalar(cg_randn(CG_SHAPE(sizes[i])), (float)(i + 1)))));
    }
    for (int i = 0; i < 7; i++) { /* each sum's own bits (float norms would round most differences away) */
        double sq = cg__sum_squares(cg_data(cg_grad(ps[i])), sizes[i]);
        uint64_t sq_bits;
        memcpy(&sq_bits, &sq, 8);
        h = (h ^ sq_bits) * 1099511628211u;
    }
    float total = cg_clip_grad_norm(ps, 7, 0.5f);
    uint32_t bits;
    memcpy(&bits, &total, 4);
    h = (h ^ bits) * 1099511628211u;
    for (int i = 0; i < 7; i++)
        h = fold(h, cg_grad(ps[i]));
    cg_frame_end();
    printf("%016" PRIx64 "\n", h);
    return 0;
}
