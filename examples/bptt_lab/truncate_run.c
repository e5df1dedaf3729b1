/* bptt_lab truncate's run, shared with the web lab page: the text in chunks of T
 * characters in TRUNCATE_STREAMS streams, an RNN (hidden TRUNCATE_HID) trained by Adam
 * 3e-3, the hidden state carried from chunk to chunk as a detached value, so backward
 * stops at the chunk's start. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "text.h"
#include <stdlib.h>
#include <time.h>

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int truncate_run(const lab_text *text, long T, long chars, long seed, truncate_curve *cv)
{
    long V = text->V, steps = chars / (T * TRUNCATE_STREAMS);
    cg_manual_seed((uint64_t)seed);
    cg_module *rnn = cg_rnn_new(.input_size = V, .hidden_size = TRUNCATE_HID), *fc = cg_linear_new(.in_features = TRUNCATE_HID, .out_features = V);
    cg_tensor *ps[6];
    lab_params(rnn, fc, ps);
    cg_optim *opt = cg_adam_new(ps, 6, .lr = 3e-3);
    cg_tensor *carry = cg_zeros(CG_SHAPE(1, TRUNCATE_STREAMS, TRUNCATE_HID));
    float *x = malloc(sizeof(float) * (size_t)(T * TRUNCATE_STREAMS * V)), *y = malloc(sizeof(float) * (size_t)(T * TRUNCATE_STREAMS));
    cv->chars = malloc(sizeof(double) * (size_t)(steps + 1)), cv->loss = malloc(sizeof(double) * (size_t)(steps + 1));
    if (!x || !y || !cv->chars || !cv->loss || !opt || !carry) {
        free(x), free(y), free(cv->chars), free(cv->loss);
        cv->chars = cv->loss = NULL;
        cg_tensor_free(carry), cg_optim_free(opt), cg_module_free(rnn), cg_module_free(fc);
        return -1;
    }
    double start = seconds_now();
    for (long s = 0; s < steps; s++) {
        cg_frame_begin();
        lab_text_batch(text, s * T, T, TRUNCATE_STREAMS, x, y);
        cg_tensor *h_n;
        cg_tensor *out = cg_rnn_forward(rnn, cg_tensor_from(x, CG_SHAPE(T, TRUNCATE_STREAMS, V)), cg_detach(carry), &h_n);
        cg_tensor *loss = cg_cross_entropy(cg_reshape(cg_linear_forward(fc, out), CG_SHAPE(-1, V)),
                                           cg_tensor_from(y, CG_SHAPE(T * TRUNCATE_STREAMS)));
        cg_optim_zero_grad(opt);
        cg_backward(loss);
        cg_clip_grad_norm(ps, 6, 5.0f);
        cg_optim_step(opt);
        cg_copy_(carry, h_n); /* only the value crosses into the next chunk */
        cv->chars[s] = (double)((s + 1) * T * TRUNCATE_STREAMS);
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

