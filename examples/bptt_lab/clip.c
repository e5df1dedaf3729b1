/* bptt_lab clip — an exploding RNN, with and without gradient clipping: a ReLU
 * RNN whose W_hh has spectral radius 2 over chunks of 32 characters, trained
 * with plain SGD, so nothing tames a large gradient but cg_clip_grad_norm. The
 * loss and the gradient norm (measured before clipping) per step, both runs. */
#include "text.h"
#include <math.h>
#include <stdlib.h>

#define HID 32
#define STREAMS 16
#define T 32
#define RHO 2.0
#define MAX_NORM 1.0f /* the clipped run's threshold */

/* One run: loss[s] and gnorm[s] per step (NAN once the loss is no longer finite). */
static int run(const lab_text *text, long steps, long seed, float max_norm, double *loss, double *gnorm)
{
    long V = text->V;
    cg_manual_seed((uint64_t)seed);
    cg_module *rnn = cg_rnn_new(.input_size = V, .hidden_size = HID, .nonlinearity = CG_RELU);
    cg_module *fc = cg_linear_new(.in_features = HID, .out_features = V);
    cg_tensor *ps[6];
    lab_params(rnn, fc, ps);
    set_spectral_radius(cg_param(rnn, "weight_hh_l0"), RHO);
    cg_optim *opt = cg_sgd_new(ps, 6, .lr = 0.05);
    float *x = malloc(sizeof(float) * (size_t)(T * STREAMS * V)), *y = malloc(sizeof(float) * T * STREAMS);
    if (!opt || !x || !y) {
        free(x), free(y), cg_optim_free(opt), cg_module_free(rnn), cg_module_free(fc);
        return lab_fail("clip", "out of memory");
    }
    bool alive = true;
    for (long s = 0; s < steps; s++) {
        loss[s] = gnorm[s] = NAN;
        if (!alive)
            continue;
        cg_frame_begin();
        lab_text_batch(text, s * T, T, STREAMS, x, y);
        cg_tensor *out = cg_rnn_forward(rnn, cg_tensor_from(x, CG_SHAPE(T, STREAMS, V)), NULL, NULL);
        cg_tensor *l = cg_cross_entropy(cg_reshape(cg_linear_forward(fc, out), CG_SHAPE(-1, V)),
                                        cg_tensor_from(y, CG_SHAPE(T * STREAMS)));
        cg_optim_zero_grad(opt);
        cg_backward(l);
        gnorm[s] = cg_clip_grad_norm(ps, 6, max_norm); /* the norm before any clipping */
        loss[s] = cg_item(l);
        alive = isfinite(loss[s]) && isfinite(gnorm[s]);
        if (alive)
            cg_optim_step(opt);
        cg_frame_end();
    }
    free(x), free(y);
    cg_optim_free(opt);
    cg_module_free(rnn);
    cg_module_free(fc);
    return 0;
}

int lab_clip(const lab_cfg *c)
{
    lab_text text;
    if (lab_text_read(c->text, &text) != 0)
        return -1;
    long steps = c->steps > 0 ? c->steps : 150;
    double *buf = malloc(sizeof(double) * (size_t)(5 * steps)), *xs = buf, *loss[2], *gnorm[2];
    if (!buf)
        return lab_fail("clip", "out of memory");
    loss[0] = buf + steps, loss[1] = buf + 2 * steps, gnorm[0] = buf + 3 * steps, gnorm[1] = buf + 4 * steps;
    for (long s = 0; s < steps; s++)
        xs[s] = (double)(s + 1);
    int rc = run(&text, steps, c->seed, INFINITY, loss[0], gnorm[0]);
    rc = rc ? rc : run(&text, steps, c->seed, MAX_NORM, loss[1], gnorm[1]);
    if (rc == 0) {
        printf("ReLU RNN(%d, %d), W_hh spectral radius %.1f, SGD 0.05, chunks of %d: without and with clipping to norm 1\n"
               "%6s %14s %14s %14s %14s\n", text.V, HID, RHO, T, "step", "loss", "grad norm", "loss clipped", "grad norm");
        for (long s = 0; s < steps; s += steps >= 10 ? steps / 10 : 1)
            printf("%6ld %14.4g %14.4g %14.4g %14.4g\n", s + 1, loss[0][s], gnorm[0][s], loss[1][s], gnorm[1][s]);
        plot pl = {.title = "An exploding RNN: training loss without and with clipping", .xlabel = "step",
                   .ylabel = "training loss", .log_y = true, .nseries = 2, .label = {"no clipping", "clip_grad_norm 1.0"},
                   .x = {xs, xs}, .y = {loss[0], loss[1]}, .n = {(int)steps, (int)steps}};
        plot pg = {.title = "An exploding RNN: the gradient norm before clipping", .xlabel = "step",
                   .ylabel = "gradient norm", .log_y = true, .nrefs = 1, .ref = {{MAX_NORM, "clip threshold"}}, .nseries = 2, .label = {"no clipping", "clip_grad_norm 1.0"},
                   .x = {xs, xs}, .y = {gnorm[0], gnorm[1]}, .n = {(int)steps, (int)steps}};
        rc = plot_write(&pl, c->out, "clip_loss") || plot_write(&pg, c->out, "clip_gradnorm") ? -1 : 0;
    }
    free(buf);
    free(text.ids);
    return rc;
}
