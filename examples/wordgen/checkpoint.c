/* wordgen — checkpoints: the model's parameters under their state-dict names,
 * AdamW's state as "optim.0.exp_avg", ..., and as metadata the kept settings
 * ("cfg.n_embd"), the vocabulary (hex), the step and the generator. A resumed
 * run continues exactly as the uninterrupted one would have. */
#include "wordgen.h"
#include "../common/ckpt.h"
#include <stdlib.h>
#include <string.h>

#define FORMAT "cgrad-wordgen-2"
#define FORMAT_BEFORE_RUNS "cgrad-wordgen-1" /* no run id or word list: still read */
#define NMETA (CFG_COUNT + 8)

/* The vocabulary as hex: the characters of tokens 1..V-1 (their bytes, for ASCII words). */
static void vocab_hex(const words *w, char *out) { vocab_to_hex(w->chars[0], w->V - 1, out); }

/* Names and tensors: the parameters, then the optimizer's state. */
static int collect(const model *m, cg_optim *opt, const char **names, cg_tensor **ts, char (*buf)[96])
{
    int np = cg_param_count(m->root), ns = opt ? cg_optim_state_count(opt) : 0;
    for (int i = 0; i < np; i++)
        names[i] = cg_param_name(m->root, i), ts[i] = cg_param_at(m->root, i);
    for (int i = 0; i < ns; i++) {
        snprintf(buf[i], 96, "optim.%s", cg_optim_state_name(opt, i));
        names[np + i] = buf[i], ts[np + i] = cg_optim_state_at(opt, i);
    }
    return np + ns;
}

static int save_with_meta(const char *path, const wg_cfg *c, const words *w, int n, const char **names,
                          cg_tensor **ts, long step)
{
    char keys[NMETA][32], vals[NMETA][1024], vocab[VOCAB_HEX_SIZE];
    const char *kp[NMETA], *vp[NMETA];
    for (int k = 0; k < CFG_COUNT; k++) {
        snprintf(keys[k], sizeof keys[k], "cfg.%s", cfg_name(k));
        cfg_text(c, k, vals[k], sizeof vals[k]);
    }
    uint8_t rng[CG_RNG_STATE_SIZE];
    cg_rng_get_state(rng, sizeof rng);
    char rng_hex[2 * CG_RNG_STATE_SIZE + 1];
    hex_of(rng, sizeof rng, rng_hex);
    snprintf(keys[CFG_COUNT], 32, "format"), snprintf(vals[CFG_COUNT], 1024, "%s", FORMAT);
    snprintf(keys[CFG_COUNT + 1], 32, "vocab_hex"), vocab_hex(w, vocab);
    snprintf(keys[CFG_COUNT + 2], 32, "positions"), snprintf(vals[CFG_COUNT + 2], 1024, "%d", w->T);
    snprintf(keys[CFG_COUNT + 3], 32, "step"), snprintf(vals[CFG_COUNT + 3], 1024, "%ld", step);
    snprintf(keys[CFG_COUNT + 4], 32, "run"), snprintf(vals[CFG_COUNT + 4], 1024, "%s", c->run);
    snprintf(keys[CFG_COUNT + 5], 32, "input_digest"), snprintf(vals[CFG_COUNT + 5], 1024, "%s", w->digest);
    for (int k = 0; k < NMETA - 2; k++)
        kp[k] = keys[k], vp[k] = k == CFG_COUNT + 1 ? vocab : vals[k];
    kp[NMETA - 2] = "input", vp[NMETA - 2] = w->path; /* (a path may be longer than the buffers above) */
    kp[NMETA - 1] = "rng", vp[NMETA - 1] = rng_hex;
    return cg_safetensors_save(path, n, names, ts, NMETA, kp, vp);
}

int checkpoint_save(const char *path, const wg_cfg *c, const words *w, const model *m, cg_optim *opt, long step)
{
    int cap = cg_param_count(m->root) + cg_optim_state_count(opt);
    const char **names = malloc(sizeof *names * (size_t)cap);
    cg_tensor **ts = malloc(sizeof *ts * (size_t)cap);
    char(*buf)[96] = malloc(sizeof *buf * (size_t)cap);
    int rc = -1;
    if (names && ts && buf)
        rc = save_with_meta(path, c, w, collect(m, opt, names, ts, buf), names, ts, step);
    if (rc != 0)
        fprintf(stderr, "wordgen: cannot write %s: %s\n", path, names && ts && buf ? cg_last_error() : "out of memory");
    free(names);
    free(ts);
    free(buf);
    return rc;
}

/* The kept settings into c: a flag given on the command line must agree. */
static bool read_settings(cg_safetensors *f, wg_cfg *c, const char *path)
{
    for (int k = 0; k < CFG_COUNT; k++) {
        char key[32], given[64];
        snprintf(key, sizeof key, "cfg.%s", cfg_name(k));
        const char *v = cg_safetensors_metadata(f, key);
        cfg_text(c, k, given, sizeof given);
        wg_cfg was = *c;
        if (!v || !cfg_set_text(c, k, v)) {
            fprintf(stderr, "wordgen: %s: the setting '%s' is missing or out of bounds\n", path, cfg_name(k));
            return false;
        }
        char now[64];
        cfg_text(c, k, now, sizeof now);
        if ((c->given >> k & 1) && strcmp(now, given)) {
            fprintf(stderr, "wordgen: %s %s contradicts the checkpoint's %s = %s; leave the flag out to resume\n",
                    cfg_flag(k), given, cfg_name(k), now);
            *c = was;
            return false;
        }
    }
    return true;
}

/* The largest tensors the settings imply are in the file with those sizes, so a model
 * built from the settings is no bigger than the file (the file is read whole and
 * bounded by its length): a damaged setting cannot make wordgen allocate gigabytes. */
static bool sizes_in_file(cg_safetensors *f, const wg_cfg *c, const words *w, const char *path)
{
    int64_t V = w->V, T = w->T, E = c->n_embd, E2 = c->n_embd2, shape[CG_MAX_DIMS];
    int kind = model_kind(c->model);
    char last[96], next[96];
    bool ok;
    switch (kind) {
    case M_BIGRAM:
        ok = ckpt_has_shape(f, "logits", V, V);
        break;
    case M_MLP:
        ok = ckpt_has_shape(f, "wte.weight", V + 1, E) && ckpt_has_shape(f, "mlp.0.weight", E2, T * E) &&
             ckpt_has_shape(f, "mlp.2.weight", V, E2);
        break;
    case M_TRANSFORMER: /* block n_layer - 1 is there, block n_layer is not */
        snprintf(last, sizeof last, "transformer.h.%ld.mlp.c_fc.weight", c->n_layer - 1);
        snprintf(next, sizeof next, "transformer.h.%ld.mlp.c_fc.weight", c->n_layer);
        ok = ckpt_has_shape(f, "transformer.wte.weight", V, E) && ckpt_has_shape(f, last, 4 * E, E) &&
             cg_safetensors_shape(f, next, shape) < 0 && ckpt_has_shape(f, "lm_head.weight", V, E);
        break;
    default: /* rnn, gru, lstm: 1, 3 or 4 gates */
        ok = ckpt_has_shape(f, "wte.weight", V, E) && ckpt_has_shape(f, "lm_head.weight", V, E2) &&
             ckpt_has_shape(f, "rnn.weight_hh_l0", (kind == M_LSTM ? 4 : kind == M_GRU ? 3 : 1) * E2, E2);
    }
    if (!ok)
        fprintf(stderr, "wordgen: %s: its tensors do not have the sizes its settings say\n", path);
    return ok;
}

/* The run's id and its word list (a checkpoint of an older wordgen has neither). */
static bool read_run(cg_safetensors *f, wg_cfg *c, const words *w, const char *path)
{
    const char *run = cg_safetensors_metadata(f, "run"), *input = cg_safetensors_metadata(f, "input");
    const char *digest = cg_safetensors_metadata(f, "input_digest");
    uint8_t b[8];
    if (!run || !bytes_of(run, b, 8) || !input || !digest || !bytes_of(digest, b, 8)) {
        fprintf(stderr, "wordgen: %s: its run id or word list is missing or malformed\n", path);
        return false;
    }
    if (strcmp(digest, w->digest)) {
        fprintf(stderr, "wordgen: %s is not the word list %s was trained on (%s)%s\n", w->path, path, input,
                c->input_given ? "" : ": it has changed since");
        return false;
    }
    snprintf(c->run, sizeof c->run, "%s", run);
    return true;
}

int checkpoint_input(wg_cfg *c)
{
    cg_safetensors *f = ckpt_open(c->resume, "wordgen");
    const char *input = f ? cg_safetensors_metadata(f, "input") : NULL;
    if (input && strlen(input) < sizeof c->input_buf)
        c->input = strcpy(c->input_buf, input);
    cg_safetensors_close(f);
    return f ? 0 : -1; /* a checkpoint without one (an older wordgen's): the default list, checked later */
}

cg_safetensors *checkpoint_open(const char *path, wg_cfg *c, const words *w)
{
    cg_safetensors *f = ckpt_open(path, "wordgen");
    if (!f)
        return NULL;
    const char *format = cg_safetensors_metadata(f, "format"), *vocab = cg_safetensors_metadata(f, "vocab_hex");
    const char *positions = cg_safetensors_metadata(f, "positions");
    char want[VOCAB_HEX_SIZE], T[16];
    vocab_hex(w, want);
    snprintf(T, sizeof T, "%d", w->T);
    bool current = format && !strcmp(format, FORMAT);
    if (!current && (!format || strcmp(format, FORMAT_BEFORE_RUNS)))
        fprintf(stderr, "wordgen: %s is not a wordgen checkpoint (format %s)\n", path, format ? format : "none");
    else if (current && !read_run(f, c, w, path))
        ;
    else if (!vocab || strcmp(vocab, want) || !positions || strcmp(positions, T))
        fprintf(stderr, "wordgen: %s was trained on other words (another vocabulary or longest word); "
                        "give its --input\n", path);
    else if (read_settings(f, c, path) && sizes_in_file(f, c, w, path))
        return f;
    cg_safetensors_close(f);
    return NULL;
}

/* Every tensor in the file is one wordgen writes: the model's, or AdamW's state. */
static int params_for_known;
static bool optim_state(const char *name) { return ckpt_is_optim_state(name, params_for_known); }

int checkpoint_load(cg_safetensors *f, const char *path, model *m, cg_optim *opt, long *step)
{
    int cap = cg_param_count(m->root) + (opt ? cg_optim_state_count(opt) : 0);
    const char **names = malloc(sizeof *names * (size_t)cap);
    cg_tensor **ts = malloc(sizeof *ts * (size_t)cap);
    char(*buf)[96] = malloc(sizeof *buf * (size_t)(cap ? cap : 1));
    int n = names && ts && buf ? collect(m, opt, names, ts, buf) : -1;
    params_for_known = cg_param_count(m->root);
    int rc = n >= 0 && ckpt_only_known(f, names, cg_param_count(m->root), optim_state, path, "wordgen") == 0
                 ? ckpt_read_tensors(f, ts, names, n, path, "wordgen")
                 : -1;
    free(names);
    free(ts);
    free(buf);
    if (rc != 0 || !opt)
        return rc;
    uint8_t rng[CG_RNG_STATE_SIZE];
    if (!parse_long(cg_safetensors_metadata(f, "step"), 0, 100000000, step) ||
        !bytes_of(cg_safetensors_metadata(f, "rng"), rng, sizeof rng) || cg_rng_set_state(rng, sizeof rng) != 0) {
        fprintf(stderr, "wordgen: %s: its step or generator state is missing or malformed\n", path);
        return -1;
    }
    return 0;
}
