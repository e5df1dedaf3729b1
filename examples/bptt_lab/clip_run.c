/* bptt_lab clip's run, shared with the web lab page: a ReLU RNN whose W_hh has spectral
 * radius rho, over chunks of CLIP_T characters of CLIP_STREAMS streams, trained with plain
 * SGD (lr 0.05) so that nothing tames a large gradient but cg_clip_grad_norm. */
#include "text.h"
#include <math.h>
#include <stdlib.h>

int clip_run(const lab_text *text, long steps, long seed, double rho, float max_norm, double *loss, double *gnorm)
{
    long V = text->V;
    cg_manual_seed((uint64_t)seed);
    cg_module *rnn = cg_rnn_new(.input_size = V, .hidden_size = CLIP_HID, .nonlinearity = CG_RELU);
    cg_module *fc = cg_linear_new(.in_features = CLIP_HID, .out_features = V);
    cg_tensor *ps[6];
    cg_optim *opt = NULL;
    float *x = malloc(sizeof(float) * (size_t)(CLIP_T * CLIP_STREAMS * V)), *y = malloc(sizeof(float) * CLIP_T * CLIP_STREAMS);
    int rc = -1;
    if (rnn && fc && x && y && set_spectral_radius(cg_param(rnn, "weight_hh_l0"), rho) == 0) {
        lab_params(rnn, fc, ps);
        opt = cg_sgd_new(ps, 6, .lr = 0.05);
    }
    bool alive = opt != NULL;
    for (long s = 0; opt && s < steps; s++) {
        loss[s] = gnorm[s] = NAN;
        if (!alive)
            continue;
        cg_frame_begin();
        lab_text_batch(text, s * CLIP_T, CLIP_T, CLIP_STREAMS, x, y);
        cg_tensor *out = cg_rnn_forward(rnn, cg_tensor_from(x, CG_SHAPE(CLIP_T, CLIP_STREAMS, V)), NULL, NULL);
        cg_tensor *l = cg_cross_entropy(cg_reshape(cg_linear_forward(fc, out), CG_SHAPE(-1, V)),
                                        cg_tensor_from(y, CG_SHAPE(CLIP_T * CLIP_STREAMS)));
        cg_optim_zero_grad(opt);
        cg_backward(l);
        gnorm[s] = cg_clip_grad_norm(ps, 6, max_norm); /* the norm before any clipping */
        loss[s] = cg_item(l);
        alive = isfinite(loss[s]) && isfinite(gnorm[s]);
        if (alive)
            cg_optim_step(opt);
        cg_frame_end();
    }
    rc = opt ? 0 : -1;
    free(x), free(y);
    cg_optim_free(opt);
    cg_module_free(rnn);
    cg_module_free(fc);
    return rc;
}
