/* hello — the lecture's next-character task, trained.
 *
 * One-hot characters of "hihello": the input "hihell" should predict "ihello".
 * RNN(5, 8) + Linear(8, 5), cross-entropy, Adam with lr 0.1, as in PyTorch.
 * Exits 0 when the final prediction is right. */
#include <cgrad.h>
#include "common/chars.h"
#include "common/parse.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [options]\n"
            "Trains a recurrent net to predict each next character of WORD and prints the loss\n"
            "and the predicted string as it learns; exits 0 when the final prediction is right.\n"
            "  --text WORD   the word to learn (default \"hihello\")\n"
            "  --cell C      rnn, lstm or gru (default rnn)\n"
            "  --hidden N    hidden size (default 8)\n"
            "  --steps N     Adam steps (default 50)\n"
            "  --seed N      the generator's seed (default 0)\n"
            "  --lr X        Adam's learning rate (default 0.1)\n",
            prog);
}


typedef struct {
    const char *text, *cell;
    long hidden, steps, seed;
    double lr;
} config;

static int parse_args(int argc, char **argv, config *c)
{
    *c = (config){"hihello", "rnn", 8, 50, 0, 0.1};
    for (int i = 1; i < argc; i += 2) { /* a flag and its value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, argv[0]);
            return 1;
        }
        bool ok = v != NULL;
        if (!strcmp(a, "--text"))
            c->text = v;
        else if (!strcmp(a, "--cell"))
            ok = ok && (!strcmp(v, "rnn") || !strcmp(v, "lstm") || !strcmp(v, "gru")) && (c->cell = v);
        else if (!strcmp(a, "--hidden"))
            ok = ok && parse_long(v, 1, 4096, &c->hidden);
        else if (!strcmp(a, "--steps"))
            ok = ok && parse_long(v, 0, 1000000, &c->steps);
        else if (!strcmp(a, "--seed"))
            ok = ok && parse_long(v, 0, 0x7fffffff, &c->seed);
        else if (!strcmp(a, "--lr")) {
            char *end;
            ok = ok && (c->lr = strtod(v, &end)) > 0 && *end == '\0';
        } else {
            fprintf(stderr, "%s: unknown option '%s'\n", argv[0], a);
            usage(stderr, argv[0]);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "%s: %s needs a valid value\n", argv[0], a);
            return 2;
        }
    }
    int n = char_count(c->text); /* characters: UTF-8 sequences (chars.h) */
    if (n < 2 || n > 10000) {
        fprintf(stderr, "%s: --text needs 2 to 10000 characters\n", argv[0]);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (asked_version(argc, argv, "hello"))
        return 0;
    config c;
    int rc = parse_args(argc, argv, &c);
    if (rc)
        return rc == 1 ? 0 : rc;

    /* The characters, and the vocabulary in order of first appearance ("hihello" -> h i e l o). */
    char_text ct;
    int T = char_count(c.text) - 1;
    float *x = NULL, *y = malloc(sizeof(float) * (size_t)T);
    char *pred = calloc((size_t)T * 4 + 1, 1);
    if (char_text_read(c.text, &ct) != 0 || !y || !pred || !(x = calloc((size_t)(T * ct.V), sizeof(float)))) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        return 1;
    }
    int V = ct.V;
    for (int t = 0; t < T; t++) {
        x[t * V + ct.ids[t]] = 1;
        y[t] = (float)ct.ids[t + 1];
    }
    const char *expected = c.text + ct.first_len;

    cg_manual_seed((uint64_t)c.seed);
    cg_module *rnn = !strcmp(c.cell, "lstm") ? cg_lstm_new(.input_size = V, .hidden_size = c.hidden)
                     : !strcmp(c.cell, "gru") ? cg_gru_new(.input_size = V, .hidden_size = c.hidden)
                                              : cg_rnn_new(.input_size = V, .hidden_size = c.hidden);
    cg_module *fc = cg_linear_new(.in_features = c.hidden, .out_features = V);
    int nr, nf;
    cg_tensor **pr = cg_parameters(rnn, &nr), **pf = cg_parameters(fc, &nf);
    cg_tensor *params[16];
    memcpy(params, pr, sizeof *pr * (size_t)nr);
    memcpy(params + nr, pf, sizeof *pf * (size_t)nf);
    cg_optim *opt = cg_adam_new(params, nr + nf, .lr = c.lr);
    cg_tensor *input = cg_tensor_from(x, CG_SHAPE(T, V)), *target = cg_tensor_from(y, CG_SHAPE(T));

    char model[128];
    cg_module_str(rnn, model, sizeof model);
    printf("training %s + Linear(%ld, %d) on \"%.*s\" -> \"%s\", Adam lr %g\n", model, c.hidden, V,
           (int)(strlen(c.text) - strlen(ct.vocab[ct.ids[T]])), c.text, expected, c.lr);
    for (long step = 0; step <= c.steps; step++) {
        cg_frame_begin();
        cg_tensor *h = !strcmp(c.cell, "lstm") ? cg_lstm_forward(rnn, input, NULL, NULL, NULL, NULL)
                       : !strcmp(c.cell, "gru") ? cg_gru_forward(rnn, input, NULL, NULL)
                                                : cg_rnn_forward(rnn, input, NULL, NULL);
        cg_tensor *logits = cg_linear_forward(fc, h);
        cg_tensor *loss = cg_cross_entropy(logits, target);
        cg_tensor *best = cg_argmax(logits, 1, false);
        if (!loss || !best) {
            fprintf(stderr, "error: %s\n", cg_last_error());
            return 1;
        }
        char *end = pred;
        for (int t = 0; t < T; t++)
            end = stpcpy(end, ct.vocab[(int)cg_data(best)[t]]);
        if (step % 5 == 0 || step == c.steps)
            printf("step %3ld  loss %.4f  predicted \"%s\"\n", step, (double)cg_item(loss), pred);
        if (step < c.steps) { /* the last pass only evaluates */
            cg_optim_zero_grad(opt);
            cg_backward(loss);
            cg_optim_step(opt);
        }
        cg_frame_end();
    }
    bool right = !strcmp(pred, expected);
    if (right)
        printf("final prediction \"%s\": correct\n", pred);
    else
        printf("final prediction \"%s\": expected \"%s\"\n", pred, expected);

    cg_tensor_free(input);
    cg_tensor_free(target);
    cg_optim_free(opt);
    cg_module_free(rnn);
    cg_module_free(fc);
    cg_frame_release_memory();
    free(x);
    free(y);
    free(pred);
    char_text_free(&ct);
    return right ? 0 : 1;
}
