/* bptt_lab clip — an exploding RNN, with and without gradient clipping: a ReLU
 * RNN whose W_hh has spectral radius 2 over chunks of 32 characters, trained
 * with plain SGD, so nothing tames a large gradient but cg_clip_grad_norm. The
 * loss and the gradient norm (measured before clipping) per step, both runs. */
#include "lab.h"
#include "text.h"
#include <math.h>
#include <stdlib.h>

#define RHO 2.0
#define MAX_NORM 1.0f /* the clipped run's threshold */

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
    int rc = clip_run(&text, steps, c->seed, RHO, INFINITY, loss[0], gnorm[0]);
    rc = rc ? rc : clip_run(&text, steps, c->seed, RHO, MAX_NORM, loss[1], gnorm[1]);
    if (rc == 0) {
        printf("ReLU RNN(%d, %d), W_hh spectral radius %.1f, SGD 0.05, chunks of %d: without and with clipping to norm 1\n"
               "%6s %14s %14s %14s %14s\n", text.V, CLIP_HID, RHO, CLIP_T, "step", "loss", "grad norm", "loss clipped", "grad norm");
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
