/* charrnn sample — text from a checkpoint: the prime fed in, then characters
 * drawn one at a time from the softmax of the logits / temperature (top-k). */
#include "charrnn.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *ckpt, *prime;
    long length, seed, top_k;
    double temperature;
} sample_cfg;

static void sample_usage(FILE *f)
{
    fprintf(f, "usage: charrnn sample CKPT [options]\n"
               "  --length N        characters to draw (default 500)\n"
               "  --temperature X   divides the logits (default 1)\n"
               "  --top-k K         draw from the K most likely only, 0 for all (default 0)\n"
               "  --prime TEXT      fed in first (default a newline)\n"
               "  --seed N          the generator's seed (default 0)\n");
}

/* 0 to go on, 1 after --help, 2 on a bad flag. */
static int parse_sample(int argc, char **argv, sample_cfg *s)
{
    *s = (sample_cfg){NULL, "\n", 500, 0, 0, 1.0};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            sample_usage(stdout);
            return 1;
        } else if (!strcmp(a, "--length")) ok = parse_long(v, 0, 100000000, &s->length);
        else if (!strcmp(a, "--temperature")) ok = parse_double(v, 1e-6, 1e6, &s->temperature);
        else if (!strcmp(a, "--top-k")) ok = parse_long(v, 0, 256, &s->top_k);
        else if (!strcmp(a, "--seed")) ok = parse_long(v, 0, 0x7fffffff, &s->seed);
        else if (!strcmp(a, "--prime")) ok = v && *v && (s->prime = v);
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "charrnn sample: unknown option '%s'\n", a);
            return 2;
        } else if (!s->ckpt) {
            s->ckpt = a;
            continue;
        } else {
            fprintf(stderr, "charrnn sample: one CKPT only\n");
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "charrnn sample: %s needs a valid value\n", a);
            return 2;
        }
        i++;
    }
    if (!s->ckpt) {
        fprintf(stderr, "usage: charrnn sample CKPT [options] (see --help)\n");
        return 2;
    }
    return 0;
}

/* The model of a checkpoint, its vocabulary and settings checked, its values finite. */
static int load_model(const char *path, model *m, corpus *vocab)
{
    ckpt_info info;
    cg_safetensors *f = checkpoint_open(path, &info);
    if (!f)
        return -1;
    *vocab = info.vocab;
    int rc = model_init(m, info.cfg.cell, info.vocab.V, info.cfg.hidden, info.cfg.layers);
    if (rc == 0 && checkpoint_load(f, path, m, NULL) != 0) {
        model_free(m);
        rc = -1;
    }
    cg_safetensors_close(f);
    return rc;
}

static int vocab_index(const corpus *v, unsigned char ch)
{
    const unsigned char *at = memchr(v->vocab, ch, (size_t)v->V);
    return at ? (int)(at - v->vocab) : -1;
}

/* Keeps the k most likely (ties with the k-th kept too). */
static void keep_top_k(float *probs, int V, long k)
{
    if (k <= 0 || k >= V)
        return;
    float *sorted = malloc(sizeof(float) * (size_t)V);
    if (!sorted)
        return;
    memcpy(sorted, probs, sizeof(float) * (size_t)V);
    for (long a = 0; a < k; a++) /* partial selection: the k largest to the front */
        for (int b = (int)a + 1; b < V; b++)
            if (sorted[b] > sorted[a]) {
                float tmp = sorted[a];
                sorted[a] = sorted[b];
                sorted[b] = tmp;
            }
    float kth = sorted[k - 1];
    free(sorted);
    for (int a = 0; a < V; a++)
        if (probs[a] < kth)
            probs[a] = 0;
}

/* One draw from probs (not necessarily normalised). */
static int draw(const float *probs, int V)
{
    double total = 0, acc = 0;
    for (int a = 0; a < V; a++)
        total += probs[a];
    double r = (double)(cg_random_u32() >> 8) / (double)(1u << 24) * total;
    for (int a = 0; a < V; a++) {
        acc += probs[a];
        if (r < acc && probs[a] > 0)
            return a;
    }
    return V - 1;
}

/* Feeds character id `in`, returns the next character's probabilities in probs. */
static void step_model(model *m, int V, int in, cg_tensor *h, cg_tensor *c, double temperature, float *probs)
{
    cg_frame_begin();
    cg_tensor *x = cg_zeros(CG_SHAPE(1, 1, V));
    cg_data(x)[in] = 1;
    cg_tensor *hh = h, *cc = c;
    cg_tensor *logits = model_forward(m, x, &hh, &cc);
    cg_copy_(h, hh);
    if (m->lstm)
        cg_copy_(c, cc);
    if (probs)
        memcpy(probs, cg_data(cg_softmax(cg_div_scalar(logits, (float)temperature), 1)), sizeof(float) * (size_t)V);
    cg_frame_end();
}

static void generate(model *m, const corpus *vocab, const sample_cfg *s, float *probs)
{
    int V = vocab->V;
    cg_tensor *h = cg_zeros(CG_SHAPE(m->layers, 1, m->hidden)), *c = cg_zeros(CG_SHAPE(m->layers, 1, m->hidden));
    size_t plen = strlen(s->prime);
    fwrite(s->prime, 1, plen, stdout);
    cg_no_grad_begin();
    for (size_t i = 0; i + 1 < plen; i++) /* the prime, all but its last character */
        step_model(m, V, vocab_index(vocab, (unsigned char)s->prime[i]), h, c, s->temperature, NULL);
    int next = vocab_index(vocab, (unsigned char)s->prime[plen - 1]);
    for (long i = 0; i < s->length; i++) {
        step_model(m, V, next, h, c, s->temperature, probs);
        keep_top_k(probs, V, s->top_k);
        next = draw(probs, V);
        putchar(vocab->vocab[next]);
    }
    cg_no_grad_end();
    putchar('\n');
    cg_tensor_free(h);
    cg_tensor_free(c);
}

int sample_main(int argc, char **argv)
{
    sample_cfg s;
    int rc = parse_sample(argc, argv, &s);
    if (rc)
        return rc == 1 ? 0 : rc;
    model m;
    corpus vocab;
    if (load_model(s.ckpt, &m, &vocab) != 0)
        return 1;
    for (const char *p = s.prime; *p; p++)
        if (vocab_index(&vocab, (unsigned char)*p) < 0) {
            fprintf(stderr, "charrnn: the prime text has '%c', which is not in the vocabulary\n", *p);
            model_free(&m);
            return 2;
        }
    float *probs = malloc(sizeof(float) * (size_t)vocab.V);
    if (!probs) {
        model_free(&m);
        return 1;
    }
    cg_manual_seed((uint64_t)s.seed);
    cg_module_train(m.rnn, false);
    generate(&m, &vocab, &s, probs);
    free(probs);
    model_free(&m);
    cg_frame_release_memory();
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
