/* The char-RNN page's calls: a character-level model on a text (up to 100,000 characters), trained
 * on random windows of it (truncated BPTT without carry: each window from zero state),
 * clipped at norm 5, and sampled one character at a time with a temperature. */
#include "api.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TEXT 100000 /* characters: a page pastes a text, and wasm passes it on the stack */
#define MAX_SAMPLE 4000

static struct {
    web_model m;
    unsigned char *ids; /* the text as vocabulary ids */
    int n, V, seq, batch;
    char vocab[256];
    float *x, *y; /* one batch: one-hot (seq, batch, V), targets (seq * batch) */
    char sample[MAX_SAMPLE + 1];
    long steps;
} cr;

static void charrnn_free(void)
{
    web_model_free(&cr.m);
    free(cr.ids), free(cr.x), free(cr.y);
    memset(&cr, 0, sizeof cr);
    cg_frame_release_memory();
}

/* cell "rnn", "lstm" or "gru"; windows of seq_len characters, batch of them a step. */
int web_charrnn_new(const char *text, const char *cell, int hidden, int seq_len, int batch, double lr, int seed)
{
    charrnn_free();
    size_t n = text ? strlen(text) : 0;
    if (seq_len < 1 || seq_len > 512 || batch < 1 || batch > 256)
        return web_fail("sequence length 1 to 512, batch 1 to 256");
    if (n < (size_t)seq_len + 2 || n > MAX_TEXT)
        return web_fail("the text needs more characters than the sequence length (and at most 100,000)");
    cr.ids = malloc(n);
    cr.x = calloc((size_t)seq_len * (size_t)batch * 256, sizeof *cr.x);
    cr.y = malloc(sizeof *cr.y * (size_t)seq_len * (size_t)batch);
    if (!cr.ids || !cr.x || !cr.y) {
        charrnn_free();
        return web_fail("out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        char *at = memchr(cr.vocab, text[i], (size_t)cr.V);
        if (!at)
            at = &cr.vocab[cr.V++], *at = text[i];
        cr.ids[i] = (unsigned char)(at - cr.vocab);
    }
    cr.n = (int)n, cr.seq = seq_len, cr.batch = batch;
    return web_model_new(&cr.m, cell, cr.V, hidden, lr, seed);
}

/* One Adam step on batch random windows; the loss before it, NaN on error. */
double web_charrnn_step(void)
{
    if (!cr.m.opt)
        return web_fail("no model: call web_charrnn_new first"), NAN;
    int T = cr.seq, B = cr.batch, V = cr.V;
    memset(cr.x, 0, sizeof *cr.x * (size_t)(T * B * V));
    for (int b = 0; b < B; b++) {
        int start = (int)(cg_random_u32() % (uint32_t)(cr.n - T - 1));
        for (int t = 0; t < T; t++) {
            cr.x[(t * B + b) * V + cr.ids[start + t]] = 1;
            cr.y[t * B + b] = cr.ids[start + t + 1];
        }
    }
    cg_frame_begin();
    cg_tensor *logits = web_model_forward(&cr.m, cg_tensor_from(cr.x, CG_SHAPE(T, B, V)), NULL, NULL, NULL, NULL);
    cg_tensor *loss = cg_cross_entropy(cg_reshape(logits, CG_SHAPE(-1, V)), cg_tensor_from(cr.y, CG_SHAPE(T * B)));
    double value = loss ? cg_item(loss) : NAN;
    cg_optim_zero_grad(cr.m.opt);
    bool ok = !isnan(value) && cg_backward(loss) == 0 && cg_clip_grad_norm(cr.m.params, cr.m.nparams, 5.0f) >= 0 &&
              cg_optim_step(cr.m.opt) == 0;
    if (!ok)
        web_fail(cg_last_error());
    cg_frame_end();
    cr.steps += ok;
    return ok ? value : NAN;
}

/* length characters drawn one by one from the model (softmax of the logits over
 * temperature), starting after the text's first character; "" on error. */
const char *web_charrnn_sample(int length, double temperature)
{
    cr.sample[0] = '\0';
    if (!cr.m.opt || length < 1 || length > MAX_SAMPLE || !(temperature > 0.01 && temperature <= 10)) {
        web_fail(cr.m.opt ? "a sample of 1 to 4000 characters, temperature above 0.01 (at most 10)" : "no model");
        return cr.sample;
    }
    int V = cr.V, id = cr.ids[0];
    cg_tensor *h = NULL, *c = NULL;
    cg_no_grad_begin();
    cg_frame_begin();
    float *x = calloc((size_t)V, sizeof *x);
    for (int i = 0; x && i < length; i++) {
        memset(x, 0, sizeof *x * (size_t)V);
        x[id] = 1;
        cg_tensor *logits = web_model_forward(&cr.m, cg_tensor_from(x, CG_SHAPE(1, 1, V)), h, c, &h, &c);
        cg_tensor *next = cg_multinomial(cg_softmax(cg_div_scalar(cg_reshape(logits, CG_SHAPE(V)), (float)temperature), 0), 1, false);
        if (!next) {
            web_fail(cg_last_error());
            break;
        }
        id = (int)cg_data(next)[0];
        cr.sample[i] = cr.vocab[id], cr.sample[i + 1] = '\0';
    }
    free(x);
    cg_frame_end();
    cg_no_grad_end();
    return cr.sample;
}

long web_charrnn_steps(void) { return cr.steps; }
