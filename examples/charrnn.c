/* charrnn — train and sample a character-level language model.
 *
 *   charrnn train [FILE] [options]   train on FILE (default: data/sonnets.txt)
 *   charrnn sample CKPT [options]    generate text from a checkpoint
 *
 * Training reads B parallel streams of the text in chunks of T characters and
 * carries each stream's hidden state from one chunk to the next with detach
 * (truncated BPTT); Adam with gradient-norm clipping. Checkpoints hold the
 * model, the optimizer state, the step, the generator state, the config and
 * the vocabulary, written atomically, so --resume continues bit for bit. */
#include <cgrad.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef CGRAD_DATA_DIR
#define CGRAD_DATA_DIR "data"
#endif

typedef struct {
    const char *file, *out, *resume, *cell;
    long hidden, layers, seq_len, batch, steps, seed, eval_every;
    double lr, clip;
    bool plot;
} train_cfg;

/* ---- arguments ------------------------------------------------------------------------ */

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = s ? strtod(s, &end) : 0;
    if (!s || end == s || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

static void train_usage(FILE *f)
{
    fprintf(f, "usage: charrnn train [FILE] [--hidden N] [--layers N] [--cell rnn|lstm|gru] [--seq-len T]\n"
               "                     [--batch B] [--lr X] [--steps N] [--clip X] [--seed N] [--eval-every N]\n"
               "                     [--out CKPT] [--plot] [--resume CKPT]\n"
               "Trains on FILE (default %s/sonnets.txt); writes CKPT (default charrnn.safetensors),\n"
               "its loss log CKPT.csv and, with --plot, the loss curves CKPT.svg.\n", CGRAD_DATA_DIR);
}

static int parse_train(int argc, char **argv, train_cfg *c)
{
    *c = (train_cfg){NULL, "charrnn.safetensors", NULL, "rnn", 128, 1, 64, 32, 500, 0, 100, 2e-3, 5.0, false};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true, takes = true;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            train_usage(stdout);
            return 1;
        } else if (!strcmp(a, "--hidden")) ok = parse_long(v, 1, 8192, &c->hidden);
        else if (!strcmp(a, "--layers")) ok = parse_long(v, 1, 16, &c->layers);
        else if (!strcmp(a, "--seq-len")) ok = parse_long(v, 1, 100000, &c->seq_len);
        else if (!strcmp(a, "--batch")) ok = parse_long(v, 1, 100000, &c->batch);
        else if (!strcmp(a, "--steps")) ok = parse_long(v, 0, 100000000, &c->steps);
        else if (!strcmp(a, "--seed")) ok = parse_long(v, 0, 0x7fffffff, &c->seed);
        else if (!strcmp(a, "--eval-every")) ok = parse_long(v, 1, 100000000, &c->eval_every);
        else if (!strcmp(a, "--lr")) ok = parse_double(v, 1e-12, 100, &c->lr);
        else if (!strcmp(a, "--clip")) ok = parse_double(v, 0, 1e12, &c->clip);
        else if (!strcmp(a, "--out")) ok = v != NULL && (c->out = v);
        else if (!strcmp(a, "--resume")) ok = v != NULL && (c->resume = v);
        else if (!strcmp(a, "--cell"))
            ok = v && (!strcmp(v, "rnn") || !strcmp(v, "lstm") || !strcmp(v, "gru")) && (c->cell = v);
        else if (!strcmp(a, "--plot")) c->plot = true, takes = false;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "charrnn train: unknown option '%s'\n", a);
            train_usage(stderr);
            return 2;
        } else if (!c->file) c->file = a, takes = false;
        else {
            fprintf(stderr, "charrnn train: one FILE only (got '%s' too)\n", a);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "charrnn train: %s needs a valid value\n", a);
            return 2;
        }
        i += takes;
    }
    return 0;
}

/* ---- text and vocabulary ------------------------------------------------------------------ */

typedef struct {
    unsigned char *ids; /* the text as vocabulary indices */
    long n;
    char vocab[257];    /* the characters, sorted by byte value */
    int V;
} corpus;

static int read_text(const char *path, corpus *c)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "charrnn: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    long cap = 1 << 16, n = 0;
    unsigned char *buf = malloc((size_t)cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, (size_t)(cap - n), f)) > 0) {
        n += (long)got;
        if (n == cap) {
            if (cap > (1L << 30)) {
                fprintf(stderr, "charrnn: %s is larger than 1 GiB\n", path);
                free(buf);
                fclose(f);
                return -1;
            }
            unsigned char *bigger = realloc(buf, (size_t)(cap *= 2));
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "charrnn: out of memory reading %s\n", path);
        return -1;
    }
    bool seen[256] = {false};
    for (long i = 0; i < n; i++)
        seen[buf[i]] = true;
    int map[256];
    c->V = 0;
    for (int ch = 0; ch < 256; ch++)
        if (seen[ch]) {
            map[ch] = c->V;
            c->vocab[c->V++] = (char)ch;
        }
    c->vocab[c->V] = '\0';
    for (long i = 0; i < n; i++)
        buf[i] = (unsigned char)map[buf[i]];
    c->ids = buf;
    c->n = n;
    return 0;
}

/* ---- the model: one-hot -> RNN/LSTM/GRU -> Linear ----------------------------------------------- */

typedef struct {
    cg_module *rnn, *fc;
    bool lstm, gru;
    cg_tensor *params[64];
    const char *names[64];
    char name_buf[64][64];
    int nparams;
} model;

static int model_init(model *m, const char *cell, int V, long hidden, long layers)
{
    memset(m, 0, sizeof *m);
    m->lstm = !strcmp(cell, "lstm");
    m->gru = !strcmp(cell, "gru");
    m->rnn = m->lstm ? cg_lstm_new(.input_size = V, .hidden_size = hidden, .num_layers = (int)layers)
             : m->gru ? cg_gru_new(.input_size = V, .hidden_size = hidden, .num_layers = (int)layers)
                      : cg_rnn_new(.input_size = V, .hidden_size = hidden, .num_layers = (int)layers);
    m->fc = cg_linear_new(.in_features = hidden, .out_features = V);
    if (!m->rnn || !m->fc) {
        fprintf(stderr, "charrnn: %s\n", cg_last_error());
        return -1;
    }
    int nr, nf;
    cg_tensor **pr = cg_parameters(m->rnn, &nr), **pf = cg_parameters(m->fc, &nf);
    for (int i = 0; i < nr + nf && i < 64; i++) {
        bool r = i < nr;
        m->params[i] = r ? pr[i] : pf[i - nr];
        snprintf(m->name_buf[i], sizeof m->name_buf[i], "%s.%s", r ? "rnn" : "fc",
                 cg_param_name(r ? m->rnn : m->fc, r ? i : i - nr));
        m->names[i] = m->name_buf[i];
    }
    m->nparams = nr + nf;
    return 0;
}

static void model_free(model *m)
{
    cg_module_free(m->rnn);
    cg_module_free(m->fc);
}

/* Logits (T*B, V) for one-hot x (T, B, V); the states are replaced by the final ones. */
static cg_tensor *model_forward(model *m, cg_tensor *x, cg_tensor **h, cg_tensor **c)
{
    cg_tensor *hn = NULL, *cn = NULL, *out;
    if (m->lstm)
        out = cg_lstm_forward(m->rnn, x, *h, *c, &hn, &cn);
    else if (m->gru)
        out = cg_gru_forward(m->rnn, x, *h, &hn);
    else
        out = cg_rnn_forward(m->rnn, x, *h, &hn);
    *h = hn;
    if (m->lstm)
        *c = cn;
    cg_tensor *logits = cg_linear_forward(m->fc, out);
    return cg_reshape(logits, CG_SHAPE(-1, cg_shape(logits) ? cg_shape(logits)[2] : 1));
}

/* One-hot inputs and targets of the chunk at offset pos of each of B streams. */
static void make_batch(const corpus *c, long start, long stream_len, long pos, long T, long B, float *x, float *y)
{
    memset(x, 0, sizeof(float) * (size_t)(T * B * c->V));
    for (long t = 0; t < T; t++)
        for (long b = 0; b < B; b++) {
            long at = start + b * stream_len + pos + t;
            x[(t * B + b) * c->V + c->ids[at]] = 1;
            y[t * B + b] = c->ids[at + 1];
        }
}

/* ---- training state and checkpoints ---------------------------------------------------------- */

typedef struct {
    train_cfg cfg;
    corpus text;
    long train_n, val_n;      /* the first 90% trains, the rest validates */
    model m;
    cg_optim *opt;
    cg_tensor *carry_h, *carry_c; /* hidden state carried between chunks (outside frames) */
    long step, pos;           /* steps done; offset of the next chunk within each stream */
    double last_val;
} trainer;

static long stream_len(const trainer *t) { return t->train_n / t->cfg.batch; }

static void hex_of(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static bool bytes_of(const char *hex, uint8_t *b, size_t n)
{
    if (!hex || strlen(hex) != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return false;
        b[i] = (uint8_t)v;
    }
    return true;
}

static int save_checkpoint(trainer *t)
{
    const train_cfg *c = &t->cfg;
    int nstate = cg_optim_state_count(t->opt);
    int n = t->m.nparams + nstate + 2;
    const char **names = malloc(sizeof *names * (size_t)n);
    cg_tensor **ts = malloc(sizeof *ts * (size_t)n);
    char (*state_names)[64] = malloc(sizeof *state_names * (size_t)(nstate ? nstate : 1));
    int k = 0;
    for (int i = 0; i < t->m.nparams; i++, k++)
        names[k] = t->m.names[i], ts[k] = t->m.params[i];
    for (int i = 0; i < nstate; i++, k++) {
        const char *sn;
        ts[k] = cg_optim_state(t->opt, i, &sn);
        snprintf(state_names[i], 64, "optim.%s", sn);
        names[k] = state_names[i];
    }
    names[k] = "carry.h", ts[k++] = t->carry_h;
    names[k] = "carry.c", ts[k++] = t->carry_c;
    uint8_t rng[CG_RNG_STATE_SIZE];
    char rng_hex[2 * CG_RNG_STATE_SIZE + 1];
    cg_rng_get_state(rng, sizeof rng);
    hex_of(rng, sizeof rng, rng_hex);
    char config[512], step[32], pos[32];
    snprintf(config, sizeof config,
             "{\"cell\":\"%s\",\"hidden\":%ld,\"layers\":%ld,\"seq_len\":%ld,\"batch\":%ld,\"lr\":%.17g,"
             "\"clip\":%.17g,\"seed\":%ld,\"eval_every\":%ld}",
             c->cell, c->hidden, c->layers, c->seq_len, c->batch, c->lr, c->clip, c->seed, c->eval_every);
    snprintf(step, sizeof step, "%ld", t->step);
    snprintf(pos, sizeof pos, "%ld", t->pos);
    const char *keys[] = {"format", "config", "vocab", "step", "pos", "rng", "cell"};
    const char *vals[] = {"cgrad-charrnn", config, t->text.vocab, step, pos, rng_hex, c->cell};
    int rc = cg_safetensors_save(c->out, k, names, ts, 7, keys, vals);
    if (rc != 0)
        fprintf(stderr, "charrnn: %s\n", cg_last_error());
    free(names);
    free(ts);
    free(state_names);
    return rc;
}

/* Reads a number from the config JSON text ("key":value). */
static bool config_num(const char *json, const char *key, double *out)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = json ? strstr(json, pat) : NULL;
    if (!p)
        return false;
    char *end;
    *out = strtod(p + strlen(pat), &end);
    return end != p + strlen(pat);
}

static bool config_cell(const char *json, char *cell, size_t n)
{
    const char *p = json ? strstr(json, "\"cell\":\"") : NULL;
    if (!p)
        return false;
    p += 8;
    size_t len = strcspn(p, "\"");
    if (len == 0 || len >= n)
        return false;
    memcpy(cell, p, len);
    cell[len] = '\0';
    return !strcmp(cell, "rnn") || !strcmp(cell, "lstm") || !strcmp(cell, "gru");
}

/* The model's tensors from an open checkpoint, every shape checked before any is read. */
static int load_params(cg_safetensors *f, cg_tensor **ts, const char **names, int n, const char *path)
{
    for (int i = 0; i < n; i++) {
        int64_t shape[CG_MAX_DIMS];
        int nd = cg_safetensors_shape(f, names[i], shape);
        bool same = nd == cg_ndim(ts[i]);
        for (int d = 0; same && d < nd; d++)
            same = shape[d] == cg_shape(ts[i])[d];
        if (!same) {
            fprintf(stderr, "charrnn: %s: '%s' is missing or has another shape\n", path, names[i]);
            return -1;
        }
    }
    for (int i = 0; i < n; i++)
        cg_safetensors_read_into(f, names[i], ts[i]);
    return 0;
}

/* ---- evaluation ------------------------------------------------------------------------------ */

/* Mean cross-entropy over (up to 64 chunks of) the validation text, in B streams. */
static double validate(trainer *t)
{
    long T = t->cfg.seq_len, B = t->cfg.batch, H = t->cfg.hidden, L = t->cfg.layers, V = t->text.V;
    long len = t->val_n / B;
    if (len < 2)
        return NAN;
    long chunk = T < len - 1 ? T : len - 1;
    long chunks = (len - 1) / chunk;
    if (chunks > 64)
        chunks = 64;
    float *x = malloc(sizeof(float) * (size_t)(chunk * B * V)), *y = malloc(sizeof(float) * (size_t)(chunk * B));
    cg_tensor *h = cg_zeros(CG_SHAPE(L, B, H)), *c = cg_zeros(CG_SHAPE(L, B, H));
    double total = 0;
    cg_no_grad_begin();
    for (long k = 0; k < chunks; k++) {
        cg_frame_begin();
        make_batch(&t->text, t->train_n, len, k * chunk, chunk, B, x, y);
        cg_tensor *hh = h, *cc = c;
        cg_tensor *logits = model_forward(&t->m, cg_tensor_from(x, CG_SHAPE(chunk, B, V)), &hh, &cc);
        cg_tensor *loss = cg_cross_entropy(logits, cg_tensor_from(y, CG_SHAPE(chunk * B)));
        total += cg_item(loss);
        cg_copy_(h, hh);
        if (t->m.lstm)
            cg_copy_(c, cc);
        cg_frame_end();
    }
    cg_no_grad_end();
    cg_tensor_free(h);
    cg_tensor_free(c);
    free(x);
    free(y);
    return total / (double)chunks;
}

/* ---- progress ------------------------------------------------------------------------------------- */

static void progress(const trainer *t, double loss, double cps, double eta, bool tty)
{
    if (tty) {
        int width = 30, done = t->cfg.steps ? (int)(width * t->step / t->cfg.steps) : width;
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < done ? '#' : '.';
        bar[width] = '\0';
        printf("\r[%s] step %ld/%ld  loss %.4f  val %.4f  %.0f char/s  %.0fs left \033[K", bar, t->step,
               t->cfg.steps, loss, t->last_val, cps, eta);
        fflush(stdout);
    } else {
        printf("step %ld/%ld loss %.4f val_loss %.4f %.0f char/s %.0fs left\n", t->step, t->cfg.steps, loss,
               t->last_val, cps, eta);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the loss curves as an SVG picture ---------------------------------------------------------- */

static int write_plot(const char *csv_path, const char *svg_path)
{
    FILE *f = fopen(csv_path, "r");
    if (!f)
        return -1;
    long cap = 1024, n = 0;
    double *step = malloc(sizeof(double) * (size_t)cap), *tr = malloc(sizeof(double) * (size_t)cap),
           *va = malloc(sizeof(double) * (size_t)cap);
    char line[256];
    if (!fgets(line, sizeof line, f)) /* header */
        n = 0;
    while (fgets(line, sizeof line, f)) {
        if (n == cap) {
            cap *= 2;
            step = realloc(step, sizeof(double) * (size_t)cap);
            tr = realloc(tr, sizeof(double) * (size_t)cap);
            va = realloc(va, sizeof(double) * (size_t)cap);
        }
        char v[64] = "";
        if (sscanf(line, "%lf,%lf,%63[^,\n]", &step[n], &tr[n], v) >= 2) {
            va[n] = v[0] ? strtod(v, NULL) : NAN;
            n++;
        }
    }
    fclose(f);
    FILE *o = fopen(svg_path, "w");
    if (!o || n == 0) {
        if (o)
            fclose(o);
        free(step), free(tr), free(va);
        return -1;
    }
    double lo = INFINITY, hi = -INFINITY, smax = step[n - 1] > 0 ? step[n - 1] : 1;
    for (long i = 0; i < n; i++) {
        lo = fmin(lo, fmin(tr[i], isnan(va[i]) ? tr[i] : va[i]));
        hi = fmax(hi, fmax(tr[i], isnan(va[i]) ? tr[i] : va[i]));
    }
    if (hi - lo < 1e-9)
        hi = lo + 1;
    const double W = 640, Hh = 400, x0 = 60, y0 = 20, w = 560, h = 330;
    fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" font-family=\"sans-serif\" font-size=\"12\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#888\"/>\n",
            W, Hh, x0, y0, w, h);
    for (int k = 0; k <= 4; k++) {
        double v = lo + (hi - lo) * k / 4, y = y0 + h - h * k / 4;
        fprintf(o, "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%.2f</text>\n", x0 - 6, y + 4, v);
        fprintf(o, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%.0f</text>\n", x0 + w * k / 4, y0 + h + 18, smax * k / 4);
    }
    const char *colors[2] = {"#1f77b4", "#d62728"};
    for (int s = 0; s < 2; s++) {
        fprintf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", colors[s]);
        for (long i = 0; i < n; i++) {
            double v = s ? va[i] : tr[i];
            if (!isnan(v))
                fprintf(o, "%.1f,%.1f ", x0 + w * step[i] / smax, y0 + h - h * (v - lo) / (hi - lo));
        }
        fprintf(o, "\"/>\n");
    }
    fprintf(o, "<text x=\"%g\" y=\"%g\" fill=\"%s\">training loss</text>\n", x0 + w - 150, y0 + 20, colors[0]);
    fprintf(o, "<text x=\"%g\" y=\"%g\" fill=\"%s\">validation loss</text>\n", x0 + w - 150, y0 + 36, colors[1]);
    fprintf(o, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">step</text>\n</svg>\n", x0 + w / 2, Hh - 8);
    fclose(o);
    free(step), free(tr), free(va);
    return 0;
}

/* ---- train ------------------------------------------------------------------------------------------ */

static void with_suffix(char *buf, size_t n, const char *path, const char *suffix)
{
    snprintf(buf, n, "%s%s", path, suffix);
}

static int setup(trainer *t)
{
    train_cfg *c = &t->cfg;
    char default_file[512];
    snprintf(default_file, sizeof default_file, "%s/sonnets.txt", CGRAD_DATA_DIR);
    if (read_text(c->file ? c->file : default_file, &t->text) != 0)
        return -1;
    t->train_n = t->text.n * 9 / 10;
    t->val_n = t->text.n - t->train_n;
    if (stream_len(t) < c->seq_len + 2 || t->val_n / c->batch < 2) {
        fprintf(stderr, "charrnn: the text (%ld characters) is too short for %ld streams of %ld-character chunks\n",
                t->text.n, c->batch, c->seq_len);
        return -1;
    }
    cg_manual_seed((uint64_t)c->seed);
    if (model_init(&t->m, c->cell, t->text.V, c->hidden, c->layers) != 0)
        return -1;
    t->opt = cg_adam_new(t->m.params, t->m.nparams, .lr = c->lr);
    t->carry_h = cg_zeros(CG_SHAPE(c->layers, c->batch, c->hidden));
    t->carry_c = cg_zeros(CG_SHAPE(c->layers, c->batch, c->hidden));
    t->last_val = NAN;
    return t->opt ? 0 : -1;
}

static int resume(trainer *t)
{
    cg_safetensors *f = cg_safetensors_open(t->cfg.resume);
    if (!f) {
        fprintf(stderr, "charrnn: %s\n", cg_last_error());
        return -1;
    }
    int rc = -1;
    const char *vocab = cg_safetensors_metadata(f, "vocab");
    uint8_t rng[CG_RNG_STATE_SIZE];
    long step, pos;
    if (!vocab || strcmp(vocab, t->text.vocab)) {
        fprintf(stderr, "charrnn: %s was trained on another vocabulary\n", t->cfg.resume);
    } else if (!bytes_of(cg_safetensors_metadata(f, "rng"), rng, sizeof rng) ||
               !parse_long(cg_safetensors_metadata(f, "step"), 0, 100000000, &step) ||
               !parse_long(cg_safetensors_metadata(f, "pos"), 0, 1L << 40, &pos)) {
        fprintf(stderr, "charrnn: %s is not a charrnn checkpoint\n", t->cfg.resume);
    } else if (load_params(f, t->m.params, t->m.names, t->m.nparams, t->cfg.resume) == 0) {
        int nstate = cg_optim_state_count(t->opt);
        cg_tensor *ts[nstate + 2];
        const char *names[nstate + 2];
        char buf[nstate + 2][64];
        for (int i = 0; i < nstate; i++) {
            const char *sn;
            ts[i] = cg_optim_state(t->opt, i, &sn);
            snprintf(buf[i], 64, "optim.%s", sn);
            names[i] = buf[i];
        }
        ts[nstate] = t->carry_h, names[nstate] = "carry.h";
        ts[nstate + 1] = t->carry_c, names[nstate + 1] = "carry.c";
        if (load_params(f, ts, names, nstate + 2, t->cfg.resume) == 0) {
            cg_rng_set_state(rng, sizeof rng);
            t->step = step;
            t->pos = pos;
            rc = 0;
        }
    }
    cg_safetensors_close(f);
    return rc;
}

static int train(int argc, char **argv)
{
    trainer t = {0};
    int rc = parse_train(argc, argv, &t.cfg);
    if (rc)
        return rc == 1 ? 0 : rc;
    const train_cfg *c = &t.cfg;
    if (setup(&t) != 0 || (c->resume && resume(&t) != 0))
        return 1;
    long T = c->seq_len, B = c->batch, V = t.text.V, L = stream_len(&t);
    char csv_path[1024], svg_path[1024];
    with_suffix(csv_path, sizeof csv_path, c->out, ".csv");
    with_suffix(svg_path, sizeof svg_path, c->out, ".svg");
    FILE *csv = fopen(csv_path, c->resume ? "a" : "w");
    if (!csv) {
        fprintf(stderr, "charrnn: cannot write %s\n", csv_path);
        return 1;
    }
    if (!c->resume)
        fprintf(csv, "step,train_loss,val_loss,chars_per_sec\n");
    char model_str[256];
    cg_module_str(t.m.rnn, model_str, sizeof model_str);
    printf("charrnn: %ld characters, vocabulary %d, %s + Linear(%ld, %d), %lld parameters\n", t.text.n, t.text.V,
           model_str, c->hidden, t.text.V, (long long)(cg_num_params(t.m.rnn) + cg_num_params(t.m.fc)));
    bool tty = isatty(STDOUT_FILENO);
    float *x = malloc(sizeof(float) * (size_t)(T * B * V)), *y = malloc(sizeof(float) * (size_t)(T * B));
    double start = now(), loss_avg = NAN;
    long start_step = t.step;
    while (t.step < c->steps) {
        if (t.pos + T + 1 > L) { /* every stream wraps to its start: the carried state starts over */
            t.pos = 0;
            cg_fill_(t.carry_h, 0);
            cg_fill_(t.carry_c, 0);
        }
        cg_frame_begin();
        make_batch(&t.text, 0, L, t.pos, T, B, x, y);
        cg_tensor *h = cg_detach(t.carry_h), *cc = cg_detach(t.carry_c);
        cg_tensor *logits = model_forward(&t.m, cg_tensor_from(x, CG_SHAPE(T, B, V)), &h, &cc);
        cg_tensor *loss = cg_cross_entropy(logits, cg_tensor_from(y, CG_SHAPE(T * B)));
        if (!loss) {
            fprintf(stderr, "charrnn: %s\n", cg_last_error());
            return 1;
        }
        cg_optim_zero_grad(t.opt);
        cg_backward(loss);
        if (c->clip > 0)
            cg_clip_grad_norm(t.m.params, t.m.nparams, (float)c->clip);
        cg_optim_step(t.opt);
        cg_copy_(t.carry_h, h);
        if (t.m.lstm)
            cg_copy_(t.carry_c, cc);
        double l = cg_item(loss);
        cg_frame_end();
        loss_avg = isnan(loss_avg) ? l : 0.95 * loss_avg + 0.05 * l;
        t.pos += T;
        t.step++;
        double elapsed = now() - start, cps = (double)((t.step - start_step) * T * B) / elapsed;
        double eta = elapsed / (double)(t.step - start_step) * (double)(c->steps - t.step);
        bool eval = t.step % c->eval_every == 0 || t.step == c->steps;
        if (eval)
            t.last_val = validate(&t);
        if (eval) {
            fprintf(csv, "%ld,%.6f,%.6f,%.0f\n", t.step, l, t.last_val, cps);
            fflush(csv);
            if (save_checkpoint(&t) != 0)
                return 1;
        } else {
            fprintf(csv, "%ld,%.6f,,%.0f\n", t.step, l, cps);
        }
        if (tty || eval || t.step % 10 == 0)
            progress(&t, loss_avg, cps, eta, tty);
        if (tty && eval)
            printf("\n");
    }
    fclose(csv);
    if (start_step == c->steps) { /* nothing to train: evaluate what is there */
        t.last_val = validate(&t);
        if (save_checkpoint(&t) != 0)
            return 1;
    }
    printf("val_loss %.4f\n", t.last_val);
    printf("checkpoint %s (loss log %s)\n", c->out, csv_path);
    if (c->plot) {
        if (write_plot(csv_path, svg_path) == 0)
            printf("loss curves %s\n", svg_path);
        else
            fprintf(stderr, "charrnn: could not write %s\n", svg_path);
    }
    free(x);
    free(y);
    free(t.text.ids);
    cg_tensor_free(t.carry_h);
    cg_tensor_free(t.carry_c);
    cg_optim_free(t.opt);
    model_free(&t.m);
    cg_frame_release_memory();
    return 0;
}

/* ---- sample ------------------------------------------------------------------------------------------- */

static int sample(int argc, char **argv)
{
    const char *ckpt = NULL, *prime = "\n";
    long length = 500, seed = 0, top_k = 0;
    double temperature = 1.0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: charrnn sample CKPT [--length N] [--temperature X] [--top-k K] [--prime TEXT] [--seed N]\n");
            return 0;
        } else if (!strcmp(a, "--length")) ok = parse_long(v, 0, 100000000, &length);
        else if (!strcmp(a, "--temperature")) ok = parse_double(v, 1e-6, 1e6, &temperature);
        else if (!strcmp(a, "--top-k")) ok = parse_long(v, 0, 256, &top_k);
        else if (!strcmp(a, "--seed")) ok = parse_long(v, 0, 0x7fffffff, &seed);
        else if (!strcmp(a, "--prime")) ok = v && *v && (prime = v);
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "charrnn sample: unknown option '%s'\n", a);
            return 2;
        } else if (!ckpt) {
            ckpt = a;
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
    if (!ckpt) {
        fprintf(stderr, "usage: charrnn sample CKPT [options] (see --help)\n");
        return 2;
    }
    cg_safetensors *f = cg_safetensors_open(ckpt);
    if (!f) {
        fprintf(stderr, "charrnn: %s\n", cg_last_error());
        return 1;
    }
    const char *config = cg_safetensors_metadata(f, "config"), *meta_vocab = cg_safetensors_metadata(f, "vocab");
    double hidden, layers;
    char cell[8], vocab[257]; /* the file's strings go when it is closed */
    snprintf(vocab, sizeof vocab, "%s", meta_vocab ? meta_vocab : "");
    if (!*vocab || !config_num(config, "hidden", &hidden) || !config_num(config, "layers", &layers) ||
        !config_cell(config, cell, sizeof cell) || hidden < 1 || layers < 1) {
        fprintf(stderr, "charrnn: %s is not a charrnn checkpoint\n", ckpt);
        cg_safetensors_close(f);
        return 1;
    }
    int V = (int)strlen(vocab);
    for (const char *p = prime; *p; p++)
        if (!strchr(vocab, *p)) {
            fprintf(stderr, "charrnn: the prime text has '%c', which is not in the vocabulary\n", *p);
            cg_safetensors_close(f);
            return 2;
        }
    model m;
    if (model_init(&m, cell, V, (long)hidden, (long)layers) != 0 ||
        load_params(f, m.params, m.names, m.nparams, ckpt) != 0) {
        cg_safetensors_close(f);
        return 1;
    }
    cg_safetensors_close(f);
    cg_manual_seed((uint64_t)seed);
    cg_module_train(m.rnn, false);
    cg_tensor *h = cg_zeros(CG_SHAPE((long)layers, 1, (long)hidden)), *c = cg_zeros(CG_SHAPE((long)layers, 1, (long)hidden));
    float *probs = malloc(sizeof(float) * (size_t)V);
    int next = (int)(strchr(vocab, prime[0]) - vocab);
    fputs(prime, stdout);
    size_t plen = strlen(prime);
    cg_no_grad_begin();
    for (long i = 0; i < (long)plen - 1 + length; i++) {
        cg_frame_begin();
        cg_tensor *x = cg_zeros(CG_SHAPE(1, 1, V));
        cg_data(x)[next] = 1;
        cg_tensor *hh = h, *cc = c;
        cg_tensor *logits = model_forward(&m, x, &hh, &cc);
        cg_copy_(h, hh);
        if (m.lstm)
            cg_copy_(c, cc);
        if (i + 1 < (long)plen) { /* still reading the prime */
            next = (int)(strchr(vocab, prime[i + 1]) - vocab);
            cg_frame_end();
            continue;
        }
        cg_tensor *p = cg_softmax(cg_div_scalar(logits, (float)temperature), 1);
        memcpy(probs, cg_data(p), sizeof(float) * (size_t)V);
        cg_frame_end();
        if (top_k > 0 && top_k < V) { /* keep the k most likely */
            float kth;
            float *sorted = malloc(sizeof(float) * (size_t)V);
            memcpy(sorted, probs, sizeof(float) * (size_t)V);
            for (int a = 0; a < top_k; a++) /* partial selection: the top_k largest to the front */
                for (int b = a + 1; b < V; b++)
                    if (sorted[b] > sorted[a]) {
                        float tmp = sorted[a];
                        sorted[a] = sorted[b];
                        sorted[b] = tmp;
                    }
            kth = sorted[top_k - 1];
            free(sorted);
            for (int a = 0; a < V; a++)
                if (probs[a] < kth)
                    probs[a] = 0;
        }
        double total = 0;
        for (int a = 0; a < V; a++)
            total += probs[a];
        double r = (double)(cg_random_u32() >> 8) / (double)(1u << 24) * total, acc = 0;
        next = V - 1;
        for (int a = 0; a < V; a++) {
            acc += probs[a];
            if (r < acc && probs[a] > 0) {
                next = a;
                break;
            }
        }
        putchar(vocab[next]);
    }
    cg_no_grad_end();
    putchar('\n');
    free(probs);
    cg_tensor_free(h);
    cg_tensor_free(c);
    model_free(&m);
    cg_frame_release_memory();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: charrnn train [FILE] [options]   train a character-level model (see train --help)\n"
                   "       charrnn sample CKPT [options]    generate text from a checkpoint (see sample --help)\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "train"))
        return train(argc - 2, argv + 2);
    if (!strcmp(argv[1], "sample"))
        return sample(argc - 2, argv + 2);
    fprintf(stderr, "charrnn: unknown command '%s' (train or sample)\n", argv[1]);
    return 2;
}
