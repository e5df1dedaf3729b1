/* bptt_lab — setting up the experiments' models (also for the web lab page): a recurrent
 * weight with a chosen spectral radius (rho times an orthogonal matrix, so every
 * eigenvalue has modulus rho), and a model's parameters in one list. */
#include "flow.h"
#include <math.h>
#include <stdlib.h>

int set_spectral_radius(cg_tensor *w_hh, double rho)
{
    int64_t H = cg_shape(w_hh)[1];
    double *q = malloc(sizeof(double) * (size_t)(H * H));
    cg_tensor *g = cg_randn(CG_SHAPE(H, H)), *w = cg_zeros(CG_SHAPE(H, H));
    if (!q || !g || !w) {
        free(q), cg_tensor_free(g), cg_tensor_free(w);
        return -1;
    }
    /* Gram-Schmidt on the rows of a normal matrix: an orthogonal Q */
    for (int64_t i = 0; i < H; i++) {
        for (int64_t k = 0; k < H; k++)
            q[i * H + k] = cg_data(g)[i * H + k];
        for (int pass = 0; pass < 2; pass++) /* twice, for orthogonality in floating point */
            for (int64_t j = 0; j < i; j++) {
                double dot = 0;
                for (int64_t k = 0; k < H; k++)
                    dot += q[i * H + k] * q[j * H + k];
                for (int64_t k = 0; k < H; k++)
                    q[i * H + k] -= dot * q[j * H + k];
            }
        double norm = 0;
        for (int64_t k = 0; k < H; k++)
            norm += q[i * H + k] * q[i * H + k];
        for (int64_t k = 0; k < H; k++)
            q[i * H + k] /= sqrt(norm);
    }
    for (int64_t i = 0; i < H * H; i++)
        cg_data(w)[i] = (float)(rho * q[i]);
    cg_no_grad_begin(); /* a parameter: written as an initialiser writes it */
    int rc = cg_copy_(w_hh, w);
    cg_no_grad_end();
    free(q);
    cg_tensor_free(g);
    cg_tensor_free(w);
    return rc;
}

int lab_params(cg_module *rnn, cg_module *fc, cg_tensor **ps)
{
    for (int i = 0; i < 4; i++)
        ps[i] = cg_param_at(rnn, i);
    ps[4] = cg_param(fc, "weight"), ps[5] = cg_param(fc, "bias");
    return 6;
}
