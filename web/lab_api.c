/* The web lab page's calls (built with web/api.c), bptt_lab's own code: flow's
 * measurement — the gradient of the last step's loss at each earlier step — and clip's
 * two runs of an exploding RNN, memory's training across a gap, and
 * truncate's runs. */
#include "api.h"
#include "../examples/bptt_lab/text.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LENGTH 1000

static double norms[MAX_LENGTH];
static int measured; /* how many steps norms holds */

/* cell: "rnn_tanh", "rnn_relu", "lstm" or "gru"; rho > 0 sets an RNN's spectral radius
 * (0: PyTorch's initialisation). 0, or -1 with web_last_error(). */
int web_flow(const char *cell, double rho, int length, int seed)
{
    measured = 0;
    cell_kind kind = CELL_RNN;
    cg_nonlinearity act = CG_TANH;
    if (cell && !strcmp(cell, "rnn_relu"))
        act = CG_RELU;
    else if (cell && !strcmp(cell, "lstm"))
        kind = CELL_LSTM;
    else if (cell && !strcmp(cell, "gru"))
        kind = CELL_GRU;
    else if (!cell || strcmp(cell, "rnn_tanh"))
        return web_fail("the cell is rnn_tanh, rnn_relu, lstm or gru");
    if (length < 2 || length > MAX_LENGTH || !(rho >= 0 && rho <= 10) || seed < 0)
        return web_fail("length 2 to 1000, spectral radius 0 (PyTorch's init) to 10, seed 0 or more");
    if (kind != CELL_RNN && rho > 0)
        return web_fail("a spectral radius applies to the RNN cells only");
    if (flow_norms(kind, act, rho, length, seed, norms) != 0)
        return web_fail(cg_last_error());
    measured = length;
    return 0;
}

/* ||d L_T / d h_t|| for t = T-1-back; NaN outside the last measurement. */
double web_flow_norm(int back) { return back >= 0 && back < measured ? norms[measured - 1 - back] : NAN; }

/* The page's text (n bytes) as bptt_lab's: vocabulary ids, a copy; false when out of memory. */
static bool text_of(const char *text, size_t n, lab_text *t)
{
    t->ids = malloc(n);
    if (!t->ids)
        return false;
    memcpy(t->ids, text, n);
    lab_text_ids(t, (long)n);
    return true;
}

/* ---- clip: an exploding RNN trained without and with clipping ---------------------- */
#define MAX_CLIP_STEPS 1000

static double clip_loss[2][MAX_CLIP_STEPS], clip_gnorm[2][MAX_CLIP_STEPS];
static int clip_steps; /* how many steps the last runs hold */

/* Two runs of bptt_lab clip on text (ReLU RNN, W_hh of spectral radius rho, SGD 0.05):
 * run 0 unclipped, run 1 clipped at max_norm. 0, or -1 with web_last_error(). */
int web_clip(const char *text, double rho, double max_norm, int steps, int seed)
{
    clip_steps = 0;
    size_t n = text ? strlen(text) : 0;
    if (n < (size_t)CLIP_STREAMS * (CLIP_T + 2) || n > 1000000)
        return web_fail("the text needs 544 to 1,000,000 characters (16 streams of 34 or more)");
    if (steps < 1 || steps > MAX_CLIP_STEPS || !(rho > 0 && rho <= 10) || !(max_norm > 0) || seed < 0)
        return web_fail("steps 1 to 1000, spectral radius above 0 (at most 10), threshold above 0, seed 0 or more");
    lab_text t;
    if (!text_of(text, n, &t))
        return web_fail("out of memory");
    int rc = clip_run(&t, steps, seed, rho, INFINITY, clip_loss[0], clip_gnorm[0]);
    rc = rc ? rc : clip_run(&t, steps, seed, rho, (float)max_norm, clip_loss[1], clip_gnorm[1]);
    free(t.ids);
    if (rc != 0)
        return web_fail("out of memory");
    clip_steps = steps;
    return 0;
}

/* Step s's loss, or its gradient norm before clipping, of run 0 (unclipped) or 1. */
double web_clip_loss(int run, int s) { return run >= 0 && run < 2 && s >= 0 && s < clip_steps ? clip_loss[run][s] : NAN; }
double web_clip_gnorm(int run, int s) { return run >= 0 && run < 2 && s >= 0 && s < clip_steps ? clip_gnorm[run][s] : NAN; }

/* ---- memory: remembering a symbol across a gap ------------------------------------- */

/* Net kind (0 RNN, 1 LSTM, 2 GRU, 3 LSTM with open forget gates) trained on gap for
 * steps; its accuracy on 512 fresh sequences, NaN with web_last_error(). */
double web_memory(int kind, int gap, int steps, int seed)
{
    if (kind < 0 || kind >= MEMORY_KINDS || gap < 1 || gap > 200 || steps < 1 || steps > 5000 || seed < 0)
        return web_fail("net 0 to 3, gap 1 to 200, steps 1 to 5000, seed 0 or more"), NAN;
    double acc = memory_accuracy(kind, gap, steps, seed);
    if (isnan(acc))
        web_fail("out of memory");
    return acc;
}

/* ---- truncate: truncated BPTT with chunks of T characters ---------------------------- */

static truncate_curve trunc_curve;

/* One run of bptt_lab truncate on text: chunks of T characters, chars characters read
 * in all. 0, or -1 with web_last_error(). */
int web_truncate(const char *text, int T, int chars, int seed)
{
    free(trunc_curve.chars), free(trunc_curve.loss);
    memset(&trunc_curve, 0, sizeof trunc_curve);
    size_t n = text ? strlen(text) : 0;
    if (T < 1 || T > 256 || chars < 2 * T * TRUNCATE_STREAMS || chars > 1000000 || seed < 0)
        return web_fail("chunk 1 to 256 characters, at least two chunks in each of the 16 streams, at most 1,000,000 read");
    if (n < (size_t)TRUNCATE_STREAMS * ((size_t)T + 2) || n > 1000000)
        return web_fail("the text is too short for 16 streams of this chunk length");
    lab_text t;
    if (!text_of(text, n, &t))
        return web_fail("out of memory");
    int rc = truncate_run(&t, T, chars, seed, &trunc_curve);
    free(t.ids);
    return rc == 0 ? 0 : web_fail("out of memory");
}

/* Of the last run: its steps, seconds, and step s's loss and characters read so far. */
long web_truncate_steps(void) { return trunc_curve.steps; }
double web_truncate_seconds(void) { return trunc_curve.seconds; }
double web_truncate_loss(int s) { return s >= 0 && s < trunc_curve.steps ? trunc_curve.loss[s] : NAN; }
double web_truncate_chars(int s) { return s >= 0 && s < trunc_curve.steps ? trunc_curve.chars[s] : NAN; }
