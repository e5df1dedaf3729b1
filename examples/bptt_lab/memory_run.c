/* bptt_lab memory's training, shared with the web lab page: remember a symbol across a
 * gap — one of four symbols, then k distractors (random symbols of the same four), then
 * a recall marker; the net must name the first symbol at the last step. */
#include "flow.h"
#include <math.h>
#include <stdlib.h>

#define SYMBOLS MEMORY_SYMBOLS
#define RECALL 4
#define VOCAB 5
#define HID 32
#define BATCH 32

const char *const memory_cells[MEMORY_KINDS] = {"RNN", "LSTM", "GRU", "LSTM f+1"};

/* kind 3: an LSTM whose forget gates start at bias 1 (open: remember by default),
 * the usual remedy for an LSTM that forgets half of its state every step */
static cg_module *make(int kind)
{
    if (kind == 2)
        return cg_gru_new(.input_size = VOCAB, .hidden_size = HID);
    if (kind == 0)
        return cg_rnn_new(.input_size = VOCAB, .hidden_size = HID);
    cg_module *m = cg_lstm_new(.input_size = VOCAB, .hidden_size = HID);
    cg_tensor *b = cg_param(m, "bias_ih_l0"); /* gates i, f, g, o: f is the second block */
    for (int k = 0; m && kind == 3 && k < HID; k++)
        cg_data(b)[HID + k] = 1.0f;
    return m;
}

/* A batch of B sequences (gap + 2, B, VOCAB) one-hot, and their symbols. */
static void batch(long gap, long B, float *x, float *y)
{
    long T = gap + 2;
    for (long i = 0; i < T * B * VOCAB; i++)
        x[i] = 0;
    for (long b = 0; b < B; b++) {
        int s = (int)(cg_random_u32() % SYMBOLS);
        y[b] = (float)s;
        x[(0 * B + b) * VOCAB + s] = 1;
        for (long t = 1; t <= gap; t++) /* distractors: what the net must not overwrite it with */
            x[(t * B + b) * VOCAB + cg_random_u32() % SYMBOLS] = 1;
        x[((T - 1) * B + b) * VOCAB + RECALL] = 1;
    }
}

/* The logits (B, SYMBOLS) at the last step. */
static cg_tensor *logits_of(int kind, cg_module *rnn, cg_module *fc, cg_tensor *x, long T)
{
    cg_tensor *out = kind == 1 || kind == 3 ? cg_lstm_forward(rnn, x, NULL, NULL, NULL, NULL) : kind == 2
                                 ? cg_gru_forward(rnn, x, NULL, NULL) : cg_rnn_forward(rnn, x, NULL, NULL);
    return cg_linear_forward(fc, cg_select(out, 0, T - 1));
}

/* Trains one net on one gap; returns its accuracy on 512 fresh sequences. */
static double train_and_test(int kind, long gap, long steps, long seed, float *x, float *y)
{
    cg_manual_seed((uint64_t)seed);
    cg_module *rnn = make(kind), *fc = cg_linear_new(.in_features = HID, .out_features = SYMBOLS);
    cg_tensor *ps[6];
    int total = lab_params(rnn, fc, ps);
    cg_optim *opt = cg_adam_new(ps, total, .lr = 0.01);
    long T = gap + 2;
    for (long s = 0; s < steps; s++) {
        cg_frame_begin();
        batch(gap, BATCH, x, y);
        cg_tensor *loss = cg_cross_entropy(logits_of(kind, rnn, fc, cg_tensor_from(x, CG_SHAPE(T, BATCH, VOCAB)), T),
                                           cg_tensor_from(y, CG_SHAPE(BATCH)));
        cg_optim_zero_grad(opt);
        cg_backward(loss);
        cg_clip_grad_norm(ps, total, 5.0f);
        cg_optim_step(opt);
        cg_frame_end();
    }
    long right = 0;
    cg_no_grad_begin();
    for (int r = 0; r < 512 / BATCH; r++) {
        cg_frame_begin();
        batch(gap, BATCH, x, y);
        cg_tensor *guess = cg_argmax(logits_of(kind, rnn, fc, cg_tensor_from(x, CG_SHAPE(T, BATCH, VOCAB)), T), 1, false);
        for (long b = 0; guess && b < BATCH; b++)
            right += cg_data(guess)[b] == y[b];
        cg_frame_end();
    }
    cg_no_grad_end();
    cg_optim_free(opt);
    cg_module_free(rnn);
    cg_module_free(fc);
    return (double)right / 512;
}

double memory_accuracy(int kind, long gap, long steps, long seed)
{
    float *x = malloc(sizeof(float) * (size_t)((gap + 2) * BATCH * VOCAB)), *y = malloc(sizeof(float) * BATCH);
    double acc = x && y && kind >= 0 && kind < MEMORY_KINDS ? train_and_test(kind, gap, steps, seed, x, y) : NAN;
    free(x), free(y);
    return acc;
}
