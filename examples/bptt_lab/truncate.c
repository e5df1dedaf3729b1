/* bptt_lab truncate — truncated BPTT: the text in chunks of T characters, the
 * hidden state carried from chunk to chunk as a detached value, so backward
 * stops at the chunk's start. Short chunks give many cheap updates that see
 * little of the past; long ones fewer, dearer updates that see more. Loss
 * against characters read, and steps/s, for T = 8, 16, 32, 64. */
#include "lab.h"
#include "text.h"
#include <stdlib.h>

#define HID 64
#define STREAMS 16

typedef struct {
    double *chars, *loss;  /* one point per step */
    long steps;
    double seconds;
} curve;

static int run_chunks(const lab_text *text, long T, long chars, long seed, curve *cv)
{
    long V = text->V, steps = chars / (T * STREAMS);
    cg_manual_seed((uint64_t)seed);
    cg_module *rnn = cg_rnn_new(.input_size = V, .hidden_size = HID), *fc = cg_linear_new(.in_features = HID, .out_features = V);
    cg_tensor *ps[6];
    lab_params(rnn, fc, ps);
    cg_optim *opt = cg_adam_new(ps, 6, .lr = 3e-3);
    cg_tensor *carry = cg_zeros(CG_SHAPE(1, STREAMS, HID));
    float *x = malloc(sizeof(float) * (size_t)(T * STREAMS * V)), *y = malloc(sizeof(float) * (size_t)(T * STREAMS));
    cv->chars = malloc(sizeof(double) * (size_t)(steps + 1)), cv->loss = malloc(sizeof(double) * (size_t)(steps + 1));
    if (!x || !y || !cv->chars || !cv->loss || !opt || !carry)
        return lab_fail("truncate", "out of memory");
    double start = seconds_now();
    for (long s = 0; s < steps; s++) {
        cg_frame_begin();
        lab_text_batch(text, s * T, T, STREAMS, x, y);
        cg_tensor *h_n;
        cg_tensor *out = cg_rnn_forward(rnn, cg_tensor_from(x, CG_SHAPE(T, STREAMS, V)), cg_detach(carry), &h_n);
        cg_tensor *loss = cg_cross_entropy(cg_reshape(cg_linear_forward(fc, out), CG_SHAPE(-1, V)),
                                           cg_tensor_from(y, CG_SHAPE(T * STREAMS)));
        cg_optim_zero_grad(opt);
        cg_backward(loss);
        cg_clip_grad_norm(ps, 6, 5.0f);
        cg_optim_step(opt);
        cg_copy_(carry, h_n); /* only the value crosses into the next chunk */
        cv->chars[s] = (double)((s + 1) * T * STREAMS);
        cv->loss[s] = cg_item(loss);
        cg_frame_end();
    }
    cv->seconds = seconds_now() - start;
    cv->steps = steps;
    free(x), free(y);
    cg_tensor_free(carry);
    cg_optim_free(opt);
    cg_module_free(rnn);
    cg_module_free(fc);
    return 0;
}

/* The mean of the last tenth of a curve's losses: where it ended, without its noise. */
static double final_loss(const curve *cv)
{
    long from = cv->steps - (cv->steps + 9) / 10;
    double sum = 0;
    for (long s = from; s < cv->steps; s++)
        sum += cv->loss[s];
    return sum / (double)(cv->steps - from);
}

int lab_truncate(const lab_cfg *c)
{
    lab_text text;
    if (lab_text_read(c->text, &text) != 0)
        return -1;
    long chars = c->length > 0 ? c->length : 40000, Ts[4] = {8, 16, 32, 64};
    if (chars < 2 * Ts[3] * STREAMS) { /* every chunk length must get two steps, or it has no curve */
        free(text.ids);
        fprintf(stderr, "bptt_lab truncate: --length %ld is too short: it needs at least %ld characters "
                        "(two chunks of %ld for each of the %d streams)\n", chars, 2 * Ts[3] * STREAMS, Ts[3], STREAMS);
        return -1;
    }
    curve cv[4] = {{0}};
    static char labels[4][16];
    plot p = {.title = "Truncated BPTT: training loss against characters read", .xlabel = "characters read",
              .ylabel = "training loss", .nseries = 4};
    printf("truncated BPTT on %ld characters of text, RNN(%d, %d), %d streams, Adam 3e-3\n%10s %8s %10s %12s %14s\n",
           chars, text.V, HID, STREAMS, "chunk T", "steps", "steps/s", "chars/s", "final loss");
    int rc = 0;
    for (int k = 0; k < 4 && rc == 0; k++) {
        if (chars / (Ts[k] * STREAMS) < 2 || (rc = run_chunks(&text, Ts[k], chars, c->seed, &cv[k])) != 0)
            break;
        printf("%10ld %8ld %10.1f %12.0f %14.4f\n", Ts[k], cv[k].steps, (double)cv[k].steps / cv[k].seconds,
               (double)(cv[k].steps * Ts[k] * STREAMS) / cv[k].seconds, final_loss(&cv[k]));
        snprintf(labels[k], sizeof labels[k], "T = %ld", Ts[k]);
        p.label[k] = labels[k], p.x[k] = cv[k].chars, p.y[k] = cv[k].loss, p.n[k] = (int)cv[k].steps;
        fflush(stdout);
    }
    if (rc == 0)
        rc = plot_write(&p, c->out, "truncate");
    for (int k = 0; k < 4; k++)
        free(cv[k].chars), free(cv[k].loss);
    free(text.ids);
    return rc;
}
