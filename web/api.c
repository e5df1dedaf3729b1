/* cgrad's API for the web pages (built to WebAssembly by tools/build_site.sh): one
 * recurrent model learning to predict each next character of a text, through calls
 * that take and give numbers and strings, so that JavaScript needs no pointers.
 * One trainer at a time: a page trains one model. Errors come back as -1 or NaN,
 * with web_last_error() saying why. */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include "api.h"
#include "../examples/common/chars.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TEXT 10000

static struct {
    web_model m;
    cg_tensor *input, *target; /* one-hot text[0..T-1], ids of text[1..T] */
    char_text chars;           /* the text's characters and their vocabulary (as hello's) */
    char *prediction;
    int V, T;
    long steps;
} tr;
static char error_text[512];

int web_fail(const char *why)
{
    snprintf(error_text, sizeof error_text, "%s", why);
    return -1;
}

const char *web_last_error(void) { return error_text; }

void web_trainer_free(void)
{
    web_model_free(&tr.m);
    cg_tensor_free(tr.input);
    cg_tensor_free(tr.target);
    free(tr.prediction);
    char_text_free(&tr.chars);
    memset(&tr, 0, sizeof tr);
    cg_frame_release_memory();
}

/* The text as one-hot inputs and next-character targets, its characters (UTF-8 sequences,
 * as the native hello reads them) in order of first appearance ("hihello": h i e l o). */
static int load_text(const char *text)
{
    int n = text ? char_count(text) : 0;
    if (n < 2 || n > MAX_TEXT)
        return web_fail("the text needs 2 to 10000 characters");
    if (char_text_read(text, &tr.chars) != 0)
        return web_fail("out of memory");
    tr.V = tr.chars.V;
    tr.T = n - 1;
    float *x = calloc((size_t)tr.T * (size_t)tr.V, sizeof *x), *y = malloc(sizeof *y * (size_t)tr.T);
    tr.prediction = calloc((size_t)tr.T * 4 + 1, 1);
    for (int t = 0; x && y && t < tr.T; t++) {
        x[t * tr.V + tr.chars.ids[t]] = 1;
        y[t] = (float)tr.chars.ids[t + 1];
    }
    tr.input = x ? cg_tensor_from(x, CG_SHAPE(tr.T, tr.V)) : NULL;
    tr.target = y ? cg_tensor_from(y, CG_SHAPE(tr.T)) : NULL;
    free(x), free(y);
    return tr.input && tr.target && tr.prediction ? 0 : web_fail("out of memory");
}

/* A new model (cell "rnn", "lstm" or "gru", PyTorch's initialisation from seed) and
 * an Adam optimizer with learning rate lr; 0, or -1 with web_last_error(). */
int web_trainer_new(const char *text, const char *cell, int hidden, double lr, int seed)
{
    web_trainer_free();
    if (load_text(text) != 0)
        return -1;
    return web_model_new(&tr.m, cell, tr.V, hidden, lr, seed);
}

/* One pass: the loss of the model as it stands and its predictions; with learn, then
 * one Adam step. Returns the loss (before the step), NaN on error. */
static double pass(bool learn)
{
    if (!tr.m.opt)
        return web_fail("no model: call web_trainer_new first"), NAN;
    cg_frame_begin();
    cg_tensor *logits = web_model_forward(&tr.m, tr.input, NULL, NULL, NULL, NULL);
    cg_tensor *loss = cg_cross_entropy(logits, tr.target);
    cg_tensor *best = cg_argmax(logits, 1, false);
    double value = loss && best ? cg_item(loss) : NAN;
    char *end = tr.prediction;
    for (int t = 0; best && t < tr.T; t++)
        end = stpcpy(end, tr.chars.vocab[(int)cg_data(best)[t]]);
    bool ok = !isnan(value);
    if (ok && learn) {
        cg_optim_zero_grad(tr.m.opt);
        ok = cg_backward(loss) == 0 && cg_optim_step(tr.m.opt) == 0;
    }
    if (!ok)
        web_fail(cg_last_error());
    cg_frame_end();
    tr.steps += ok && learn;
    return ok ? value : NAN;
}

double web_trainer_step(void) { return pass(true); }
double web_trainer_loss(void) { return pass(false); }
/* The predicted next character at every position, as of the last step or loss. */
const char *web_trainer_prediction(void) { return tr.prediction ? tr.prediction : ""; }
long web_trainer_steps(void) { return tr.steps; }

/* The model's graph on the text as JSON (cg_graph_json) after one forward and one
 * backward pass, without an update: every tensor with its values and gradient, the ops
 * in the order backward ran them. "" with web_last_error() on error. */
const char *web_trainer_graph(void)
{
    static char *json;
    free(json);
    json = NULL;
    if (!tr.m.opt)
        return web_fail("no model: call web_trainer_new first"), "";
    size_t len = 0;
    FILE *f = open_memstream(&json, &len);
    if (!f)
        return web_fail("out of memory"), "";
    cg_frame_begin();
    cg_tensor *logits = web_model_forward(&tr.m, tr.input, NULL, NULL, NULL, NULL);
    cg_tensor *loss = cg_cross_entropy(logits, tr.target);
    cg_optim_zero_grad(tr.m.opt);
    bool ok = loss && cg_backward_ex(loss, .retain_graph = true) == 0 && cg_graph_json(loss, f) == 0;
    if (!ok)
        web_fail(cg_last_error());
    cg_frame_end();
    cg_optim_zero_grad(tr.m.opt); /* the next step starts from no gradient, as it would have */
    ok = fclose(f) == 0 && ok;
    return ok ? json : "";
}
