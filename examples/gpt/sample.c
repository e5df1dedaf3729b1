/* gpt sample — nanoGPT's sample.py: from OUT_DIR's checkpoint, num_samples samples of
 * max_new_tokens tokens each after the start text, each token drawn from the softmax of
 * the last position's logits divided by the temperature, kept to the top_k largest. */
#include "gpt.h"
#include "../common/ckpt.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* The next token after ctx (n tokens): logits of the last position, / temperature,
 * top_k kept (v[:, [-1]]: the k-th largest; smaller ones -inf), softmax, multinomial. */
static int next_token(gpt_model *m, const float *ctx, long n, const sample_cfg *c, float *sorted)
{
    long from = n > m->block_size ? n - m->block_size : 0, T = n - from;
    cg_frame_begin();
    cg_tensor *logits = model_forward(m, cg_tensor_from(ctx + from, CG_SHAPE(1, T)), false);
    logits = cg_div_scalar(cg_reshape(cg_select(logits, 1, T - 1), CG_SHAPE(1, m->V)), (float)c->temperature);
    int tok = -1;
    if (logits) {
        float *l = cg_data(logits);
        if (c->top_k > 0) {
            long k = c->top_k < m->V ? c->top_k : m->V;
            memcpy(sorted, l, sizeof(float) * (size_t)m->V);
            qsort(sorted, (size_t)m->V, sizeof(float), cmp_desc);
            for (long i = 0; i < m->V; i++)
                if (l[i] < sorted[k - 1])
                    l[i] = -INFINITY;
        }
        cg_tensor *pick = cg_multinomial(cg_softmax(logits, -1), 1, false);
        tok = pick ? (int)cg_data(pick)[0] : -1;
    }
    if (tok < 0)
        fprintf(stderr, "gpt sample: %s\n", cg_last_error());
    cg_frame_end();
    return tok;
}

/* The start text: the flag's, or FILE:path's; each character must be in the vocabulary. */
static long encode_start(const sample_cfg *c, char_vocab chars, int V, float **ids)
{
    const char *text = c->start;
    char *file_text = NULL;
    long n = (long)strlen(text);
    if (!strncmp(text, "FILE:", 5)) { /* sample.py's open(path, 'r', encoding='utf-8').read() */
        if (!(file_text = file_bytes(text + 5, &n, "gpt sample")))
            return -1;
        if ((n = text_decode_or_say(file_text, n, "gpt sample", text + 5, NULL)) < 0) {
            free(file_text);
            return -1;
        }
        text = file_text;
    }
    if (n == 0) { /* (sample.py fails there too: the model reads the last position of none) */
        fprintf(stderr, "gpt sample: the start text is empty: give at least one character\n");
        free(file_text);
        return -1;
    }
    *ids = malloc(sizeof(float) * (size_t)(n + 1));
    long count = 0;
    for (long i = 0; *ids && i < n; i += char_len(text + i)) {
        int tok = vocab_index(chars[0], V, text + i);
        if (tok < 0) {
            int len = char_len(text + i);
            if (len == 1 && (unsigned char)text[i] >= 0x80) /* (a stray byte: not printable as it is) */
                fprintf(stderr, "gpt sample: the start text holds a character the model has not seen (byte 0x%02x)\n",
                        (unsigned char)text[i]);
            else
                fprintf(stderr, "gpt sample: the start text holds a character the model has not seen (%.*s)\n", len,
                        text + i);
            free(*ids), free(file_text);
            *ids = NULL; /* (the caller frees what it holds) */
            return -1;
        }
        (*ids)[count++] = (float)tok;
    }
    free(file_text);
    return *ids ? count : -1;
}

int sample_main(int argc, char **argv)
{
    sample_cfg s;
    int rc = parse_sample(argc, argv, &s);
    if (rc)
        return rc == 1 ? 0 : rc;
    char ckpt[4200], run[17], data[4096], digest[17];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt.safetensors", s.out_dir);
    train_cfg c;
    parse_train(0, NULL, &c);
    char_vocab chars;
    int V;
    cg_safetensors *f = checkpoint_open(ckpt, &c, chars, &V, run, data, sizeof data, digest);
    if (!f)
        return 1;
    cg_manual_seed((uint64_t)s.seed); /* sample.py seeds, then makes the model */
    gpt_model m;
    float *start = NULL;
    long n0 = -1;
    rc = model_init(&m, &c, V) == 0 && checkpoint_load(f, ckpt, &m, NULL) == 0 ? 0 : -1;
    cg_safetensors_close(f);
    if (rc == 0)
        n0 = encode_start(&s, chars, V, &start);
    float *ctx = n0 >= 0 ? malloc(sizeof(float) * (size_t)(n0 + s.max_new_tokens + 1)) : NULL;
    float *sorted = malloc(sizeof(float) * (size_t)V);
    rc = ctx && sorted ? 0 : -1;
    cg_no_grad_begin();
    for (long k = 0; rc == 0 && k < s.num_samples; k++) {
        memcpy(ctx, start, sizeof(float) * (size_t)n0);
        long n = n0;
        for (long t = 0; rc == 0 && t < s.max_new_tokens; t++) {
            int tok = next_token(&m, ctx, n, &s, sorted);
            rc = tok < 0 ? -1 : 0;
            ctx[n++] = (float)tok;
        }
        for (long i = 0; rc == 0 && i < n; i++)
            fputs(chars[(int)ctx[i]], stdout);
        if (rc == 0)
            printf("\n---------------\n");
    }
    cg_no_grad_end();
    free(ctx), free(start), free(sorted);
    if (m.root)
        model_free(&m);
    cg_frame_release_memory();
    return rc == 0 ? 0 : 1;
}
