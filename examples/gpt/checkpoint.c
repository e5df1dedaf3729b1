/* gpt — checkpoints (OUT_DIR/ckpt.safetensors): the model under nanoGPT's state-dict
 * names (lm_head.weight is transformer.wte.weight and is written once, as the latter),
 * AdamW's state, its parameters numbered over both groups as nanoGPT's optimizer state
 * dict numbers them ("optim.3.exp_avg"), and as metadata every
 * setting, the vocabulary, iter_num, best_val_loss, the run's id and its text. And
 * gpt export / import: the weights as the state dict PyTorch's nanoGPT loads. */
#include "gpt.h"
#include "../common/ckpt.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FORMAT "cgrad-gpt-2"
/* (format 1, still read: AdamW's groups were two optimizers, "optim.decay.0.exp_avg",
 * "optim.no_decay.0.exp_avg", each numbering its own parameters) */
#define FORMAT_1 "cgrad-gpt-1"

/* The parameters in AdamW's decaying group, its first. */
static int decaying(const gpt_model *m)
{
    int n = 0;
    for (int i = 0; i < cg_param_count(m->root); i++)
        n += decays(cg_param_at(m->root, i));
    return n;
}

/* The optimizer's state tensors under their names in a checkpoint of format 2 (or 1,
 * ndecay parameters in its first group); how many. */
static int optim_tensors(cg_optim *o, bool v1, int ndecay, const char **names, cg_tensor **ts, char (*buf)[96])
{
    int n = o ? cg_optim_state_count(o) : 0;
    for (int i = 0; i < n; i++) {
        const char *name = cg_optim_state_name(o, i); /* "3.exp_avg" */
        char *slot;
        long k = strtol(name, &slot, 10);
        if (v1)
            snprintf(buf[i], 96, "optim.%s.%ld%s", k < ndecay ? "decay" : "no_decay", k < ndecay ? k : k - ndecay, slot);
        else
            snprintf(buf[i], 96, "optim.%s", name);
        names[i] = buf[i], ts[i] = cg_optim_state_at(o, i);
    }
    return n;
}

int checkpoint_save(const char *path, const train_cfg *c, const dataset *d, const gpt_model *m, const train_state *s,
                    const char *run)
{
    int np = cg_param_count(m->root), no = cg_optim_state_count(s->opt);
    const char **names = malloc(sizeof *names * (size_t)(np + no));
    cg_tensor **ts = malloc(sizeof *ts * (size_t)(np + no));
    char(*buf)[96] = malloc(sizeof *buf * (size_t)(no ? no : 1));
    int rc = -1;
    if (names && ts && buf) {
        for (int i = 0; i < np; i++)
            names[i] = cg_param_name(m->root, i), ts[i] = cg_param_at(m->root, i);
        int k = np + optim_tensors(s->opt, false, 0, names + np, ts + np, buf);
        char keys[S_COUNT + 9][32], vals[S_COUNT][64], vocab[VOCAB_HEX_SIZE], iter[32], best[32];
        char rng_hex[2 * CG_RNG_STATE_SIZE + 1];
        uint8_t rng[CG_RNG_STATE_SIZE];
        const char *kp[S_COUNT + 9], *vp[S_COUNT + 9];
        for (int j = 0; j < S_COUNT; j++) {
            snprintf(keys[j], sizeof keys[j], "cfg.%s", setting_name(j));
            setting_to_text(c, j, vals[j], sizeof vals[j]);
            kp[j] = keys[j], vp[j] = vals[j];
        }
        vocab_to_hex(d->chars[0], d->V, vocab);
        snprintf(iter, sizeof iter, "%ld", s->iter_num);
        snprintf(best, sizeof best, "%.9g", s->best_val_loss);
        cg_rng_get_state(rng, sizeof rng);
        hex_of(rng, sizeof rng, rng_hex);
        const char *more_k[] = {"format", "vocab_hex", "iter_num", "best_val_loss", "run", "data", "data_digest", "rng"};
        const char *more_v[] = {FORMAT, vocab, iter, best, run, d->path, d->digest, rng_hex};
        for (int j = 0; j < 8; j++)
            kp[S_COUNT + j] = more_k[j], vp[S_COUNT + j] = more_v[j];
        rc = cg_safetensors_save(path, k, names, ts, S_COUNT + 8, kp, vp);
    }
    if (rc != 0)
        fprintf(stderr, "gpt: cannot write %s: %s\n", path, names && ts && buf ? cg_last_error() : "out of memory");
    free(names);
    free(ts);
    free(buf);
    return rc;
}

/* The model settings from the file (a contradicting flag refused); the others keep the flags'. */
static bool read_settings(cg_safetensors *f, train_cfg *c, const char *path)
{
    for (int k = 0; k < S_MODEL_COUNT; k++) {
        char key[40], given[64], now[64];
        snprintf(key, sizeof key, "cfg.%s", setting_name(k));
        setting_to_text(c, k, given, sizeof given);
        const char *v = cg_safetensors_metadata(f, key);
        if (!v || !setting_from_text(c, k, v)) {
            fprintf(stderr, "gpt: %s: the setting '%s' is missing or out of bounds\n", path, setting_name(k));
            return false;
        }
        setting_to_text(c, k, now, sizeof now);
        if ((c->given >> k & 1) && strcmp(now, given)) {
            fprintf(stderr, "gpt: --%s=%s contradicts %s's %s=%s (leave the flag out to resume)\n", setting_name(k),
                    given, path, setting_name(k), now);
            return false;
        }
    }
    return true;
}

cg_safetensors *checkpoint_open(const char *path, train_cfg *c, char_vocab chars, int *V, char run[17],
                                char *data_path, size_t data_path_size, char data_digest[17])
{
    cg_safetensors *f = ckpt_open(path, "gpt");
    if (!f)
        return NULL;
    const char *format = cg_safetensors_metadata(f, "format"), *vocab = cg_safetensors_metadata(f, "vocab_hex");
    const char *id = cg_safetensors_metadata(f, "run"), *data = cg_safetensors_metadata(f, "data");
    const char *digest = cg_safetensors_metadata(f, "data_digest");
    uint8_t b8[8];
    int n = vocab ? vocab_from_hex(vocab, chars) : -1;
    bool ok = format && (!strcmp(format, FORMAT) || !strcmp(format, FORMAT_1));
    if (!ok)
        fprintf(stderr, "gpt: %s is not a gpt checkpoint (format %s)\n", path, format ? format : "none");
    else if (!(ok = n >= 1 && id && bytes_of(id, b8, 8) && data && strlen(data) < data_path_size && digest &&
                    bytes_of(digest, b8, 8)))
        fprintf(stderr, "gpt: %s: its vocabulary, run id or text is missing or malformed\n", path);
    ok = ok && read_settings(f, c, path);
    if (!ok) {
        cg_safetensors_close(f);
        return NULL;
    }
    *V = n;
    snprintf(run, 17, "%s", id);
    snprintf(data_path, data_path_size, "%s", data);
    snprintf(data_digest, 17, "%s", digest);
    return f;
}

static int n_params_for_known;
static bool format_1;
static bool optim_state(const char *name)
{
    if (!format_1)
        return ckpt_is_optim_state(name, n_params_for_known);
    char stripped[96];
    const char *rest = !strncmp(name, "optim.decay.", 12) ? name + 12 : !strncmp(name, "optim.no_decay.", 15) ? name + 15 : NULL;
    if (!rest)
        return false;
    snprintf(stripped, sizeof stripped, "optim.%s", rest);
    return ckpt_is_optim_state(stripped, n_params_for_known);
}

int checkpoint_load(cg_safetensors *f, const char *path, gpt_model *m, train_state *s)
{
    int np = cg_param_count(m->root);
    const char **names = malloc(sizeof *names * (size_t)np);
    cg_tensor **ts = malloc(sizeof *ts * (size_t)np);
    int rc = names && ts ? 0 : -1;
    for (int i = 0; rc == 0 && i < np; i++)
        names[i] = cg_param_name(m->root, i), ts[i] = cg_param_at(m->root, i);
    n_params_for_known = np;
    format_1 = !strcmp(cg_safetensors_metadata(f, "format"), FORMAT_1);
    rc = rc == 0 && ckpt_only_known(f, names, np, optim_state, path, "gpt") == 0 &&
                 ckpt_read_tensors(f, ts, names, np, path, "gpt") == 0
             ? 0
             : -1;
    free(names);
    free(ts);
    if (rc != 0 || !s)
        return rc;
    int no = cg_optim_state_count(s->opt);
    const char **on = malloc(sizeof *on * (size_t)(no ? no : 1));
    cg_tensor **ot = malloc(sizeof *ot * (size_t)(no ? no : 1));
    char(*buf)[96] = malloc(sizeof *buf * (size_t)(no ? no : 1));
    rc = on && ot && buf ? ckpt_read_tensors(f, ot, on, optim_tensors(s->opt, format_1, decaying(m), on, ot, buf), path,
                                             "gpt")
                         : -1;
    free(on), free(ot), free(buf);
    double best;
    if (rc == 0 && (!parse_long(cg_safetensors_metadata(f, "iter_num"), 0, 100000000, &s->iter_num) ||
                    !parse_double(cg_safetensors_metadata(f, "best_val_loss"), 0, 1e10, &best))) {
        fprintf(stderr, "gpt: %s: iter_num or best_val_loss is missing or malformed\n", path);
        rc = -1;
    }
    if (rc == 0)
        s->best_val_loss = best;
    return rc;
}

/* ---- export and import: nanoGPT's state dict ------------------------------------------------ */

/* Whether gpt export may write out: it is not there, or it is this run's own export (a
 * later checkpoint exported again); anything else is the user's, and stays (one line says so). */
static bool export_may_write(const char *out, const char *run)
{
    if (access(out, F_OK) != 0)
        return true;
    cg_safetensors *f = cg_safetensors_open(out);
    const char *id = f ? cg_safetensors_metadata(f, "run") : NULL;
    bool ours = id && !strcmp(id, run);
    cg_safetensors_close(f);
    if (!ours)
        fprintf(stderr, "gpt: %s exists and is not an export of this run; gpt will not overwrite it (move it, or "
                        "choose another OUT.safetensors)\n", out);
    return ours;
}

/* gpt export CKPT OUT.safetensors: every weight under nanoGPT's name, lm_head.weight too
 * (a copy of the tied wte, as torch's state_dict lists both), and the model's settings as
 * metadata (n_layer, n_head, n_embd, block_size, bias, vocab_size, dropout; and the run, so
 * that exporting the run again may replace it). */
int export_main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gpt export CKPT OUT.safetensors   (for PyTorch: nanoGPT's state dict)\n");
        return 2;
    }
    train_cfg c = {0};
    parse_train(0, NULL, &c);
    char_vocab chars;
    int V;
    char run[17], data[4096], digest[17];
    cg_safetensors *f = checkpoint_open(argv[0], &c, chars, &V, run, data, sizeof data, digest);
    if (!f)
        return 1;
    if (!export_may_write(argv[1], run)) {
        cg_safetensors_close(f);
        return 1;
    }
    gpt_model m;
    int rc = model_init(&m, &c, V) == 0 && checkpoint_load(f, argv[0], &m, NULL) == 0 ? 0 : -1;
    cg_safetensors_close(f);
    int np = rc == 0 ? cg_param_count(m.root) : 0;
    const char **names = malloc(sizeof *names * (size_t)(np + 1));
    cg_tensor **ts = malloc(sizeof *ts * (size_t)(np + 1));
    if (rc == 0 && names && ts) {
        for (int i = 0; i < np; i++)
            names[i] = cg_param_name(m.root, i), ts[i] = cg_param_at(m.root, i);
        names[np] = "lm_head.weight", ts[np] = cg_param(m.wte, "weight");
        char vals[S_MODEL_COUNT + 1][64], vocab[VOCAB_HEX_SIZE];
        const char *kp[S_MODEL_COUNT + 4], *vp[S_MODEL_COUNT + 4];
        for (int k = 0; k < S_MODEL_COUNT; k++) {
            setting_to_text(&c, k, vals[k], sizeof vals[k]);
            kp[k] = setting_name(k), vp[k] = vals[k];
        }
        snprintf(vals[S_MODEL_COUNT], 64, "%d", V);
        vocab_to_hex(chars[0], V, vocab);
        kp[S_MODEL_COUNT] = "vocab_size", vp[S_MODEL_COUNT] = vals[S_MODEL_COUNT];
        kp[S_MODEL_COUNT + 1] = "vocab_hex", vp[S_MODEL_COUNT + 1] = vocab;
        kp[S_MODEL_COUNT + 2] = "format", vp[S_MODEL_COUNT + 2] = "pt";
        kp[S_MODEL_COUNT + 3] = "run", vp[S_MODEL_COUNT + 3] = run;
        rc = cg_safetensors_save(argv[1], np + 1, names, ts, S_MODEL_COUNT + 4, kp, vp);
        if (rc != 0)
            fprintf(stderr, "gpt: %s\n", cg_last_error());
        else
            printf("gpt: wrote %s (%d tensors, nanoGPT's state dict)\n", argv[1], np + 1);
    }
    free(names);
    free(ts);
    if (np)
        model_free(&m);
    return rc == 0 ? 0 : 1;
}

/* gpt import IN.safetensors OUT_DIR: a nanoGPT state dict (as gpt export writes, or
 * PyTorch's safetensors of model.state_dict() with the settings as metadata) made into
 * OUT_DIR/ckpt.safetensors, ready for gpt sample or gpt train --init_from=resume. */
int import_main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gpt import IN.safetensors OUT_DIR   (a nanoGPT state dict, settings as metadata)\n");
        return 2;
    }
    cg_safetensors *f = cg_safetensors_open(argv[0]);
    if (!f) {
        fprintf(stderr, "gpt: %s\n", cg_last_error());
        return 1;
    }
    train_cfg c;
    parse_train(0, NULL, &c);
    dataset d = {0};
    const char *vocab = cg_safetensors_metadata(f, "vocab_hex");
    int V = vocab ? vocab_from_hex(vocab, d.chars) : -1;
    bool ok = V >= 1;
    for (int k = 0; ok && k < S_MODEL_COUNT; k++) {
        const char *v = cg_safetensors_metadata(f, setting_name(k));
        ok = v && setting_from_text(&c, k, v);
    }
    if (!ok) {
        fprintf(stderr, "gpt: %s lacks the model's settings (n_layer, n_head, n_embd, block_size, bias, dropout) or "
                        "its vocabulary (vocab_hex) as metadata\n", argv[0]);
        cg_safetensors_close(f);
        return 1;
    }
    d.V = V;
    snprintf(d.path, sizeof d.path, "(imported from %s)", argv[0]);
    snprintf(d.digest, sizeof d.digest, "%s", IMPORTED_DIGEST);
    gpt_model m;
    train_state s = {.best_val_loss = 1e9};
    int rc = model_init(&m, &c, d.V);
    if (rc == 0) { /* the weights; lm_head.weight must be the tied wte's */
        int np = cg_param_count(m.root);
        const char **names = malloc(sizeof *names * (size_t)(np + 1));
        cg_tensor **ts = malloc(sizeof *ts * (size_t)(np + 1));
        for (int i = 0; names && ts && i < np; i++)
            names[i] = cg_param_name(m.root, i), ts[i] = cg_param_at(m.root, i);
        cg_tensor *head = cg_zeros(CG_SHAPE(d.V, c.n_embd));
        if (names && ts && head)
            names[np] = "lm_head.weight", ts[np] = head;
        rc = names && ts && head && ckpt_only_known(f, names, np + 1, NULL, argv[0], "gpt") == 0 &&
                     ckpt_read_tensors(f, ts, names, np + 1, argv[0], "gpt") == 0
                 ? 0
                 : -1;
        if (rc == 0 && memcmp(cg_data(head), cg_data(cg_param(m.wte, "weight")), sizeof(float) * (size_t)cg_numel(head))) {
            fprintf(stderr, "gpt: %s: lm_head.weight is not transformer.wte.weight (nanoGPT ties them)\n", argv[0]);
            rc = -1;
        }
        cg_tensor_free(head);
        free(names), free(ts);
    }
    cg_safetensors_close(f);
    char ckpt[4200], run[17];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt.safetensors", argv[1]);
    ckpt_new_run_id(run);
    if (rc == 0) {
        c.out_dir = argv[1];
        rc = make_optimizers(&m, &c, &s, false) == 0 && /* fresh: no steps yet */
                     ckpt_make_dir(argv[1], "gpt") == 0 && ckpt_claim(ckpt, NULL, 0, run, "gpt", argv[1]) == 0 &&
                     checkpoint_save(ckpt, &c, &d, &m, &s, run) == 0
                 ? 0
                 : -1;
        if (rc == 0)
            printf("gpt: wrote %s\n", ckpt);
        cg_optim_free(s.opt);
    }
    model_free(&m);
    return rc == 0 ? 0 : 1;
}
