/* bptt_lab memory — remember a symbol across a gap: the input is one of four
 * symbols, then k distractors (random symbols of the same four), then a recall
 * marker; the net must name the first symbol at the last step. Accuracy after N training steps against the gap k, for an
 * RNN, an LSTM and a GRU: where plain RNNs fail, because the gradient that
 * would teach them has vanished k steps back. */
#include "lab.h"
#include <stdlib.h>

#define SYMBOLS 4
#define RECALL 4
#define VOCAB 5
#define HID 32
#define BATCH 32

#define KINDS 4
static const char *const cells[KINDS] = {"RNN", "LSTM", "GRU", "LSTM f+1"};

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

int lab_memory(const lab_cfg *c)
{
    long steps = c->steps > 0 ? c->steps : 600, longest = c->length > 0 ? c->length : 40;
    long gaps[8];
    int ng = 0;
    for (long g = 5; g <= longest && ng < 8; g *= 2)
        gaps[ng++] = g;
    float *x = malloc(sizeof(float) * (size_t)((longest + 2) * BATCH * VOCAB)), *y = malloc(sizeof(float) * BATCH);
    double acc[KINDS][8], gx[8];
    if (!x || !y) {
        free(x), free(y);
        return lab_fail("memory", "out of memory");
    }
    printf("accuracy on remembering one of %d symbols across a gap (chance %.2f), after %ld Adam steps\n%8s", SYMBOLS,
           1.0 / SYMBOLS, steps, "gap");
    for (int k = 0; k < KINDS; k++)
        printf(" %9s", cells[k]);
    printf("\n");
    for (int g = 0; g < ng; g++) {
        gx[g] = (double)gaps[g];
        printf("%8ld", gaps[g]);
        for (int k = 0; k < KINDS; k++) {
            acc[k][g] = train_and_test(k, gaps[g], steps, c->seed, x, y);
            printf(" %9.3f", acc[k][g]);
        }
        printf("\n");
        fflush(stdout);
    }
    plot p = {.title = "Remembering a symbol across a gap: accuracy after training", .xlabel = "gap k (steps)",
              .ylabel = "accuracy", .log_x = true, .markers = true, .y_from = 0, .y_to = 1, .nrefs = 1,
              .ref = {{1.0 / SYMBOLS, "chance"}}, .nseries = KINDS};
    for (int k = 0; k < KINDS; k++)
        p.label[k] = cells[k], p.x[k] = gx, p.y[k] = acc[k], p.n[k] = ng;
    int rc = plot_write(&p, c->out, "memory");
    free(x);
    free(y);
    return rc;
}
