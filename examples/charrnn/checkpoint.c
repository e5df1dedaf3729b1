/* charrnn — checkpoints: the model, Adam's state, the carried hidden state and,
 * as metadata, the settings, the vocabulary (as hex, so every byte survives),
 * the step, the stream position and the generator. cgrad's safetensors files
 * carry a CRC-32C of their data, checked on opening; here everything read back
 * is checked before it is used: each setting against its bounds, the model's
 * shapes in the file before anything is allocated for them, every value finite. */
#include "charrnn.h"
#include "../common/ckpt.h"
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT "cgrad-charrnn-3"
#define FORMAT_BEFORE_RUNS "cgrad-charrnn-2" /* no run id or text: still read */

/* The settings as one flat JSON object: {"hidden":128,...,"cell":"rnn"}. */
static void config_json(const train_cfg *c, char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "{");
    for (int k = 0; k < CFG_COUNT && len < n; k++) {
        char v[64];
        cfg_text(c, k, v, sizeof v);
        len += (size_t)snprintf(buf + len, n - len, k == CFG_CELL ? "%s\"%s\":\"%s\"" : "%s\"%s\":%s", k ? "," : "",
                                cfg_name(k), v);
    }
    if (len < n)
        snprintf(buf + len, n - len, "}");
}

/* The value text of "key": in a flat JSON object (quotes stripped), or false. */
static bool config_value(const char *json, const char *key, char *out, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = json ? strstr(json, pat) : NULL;
    if (!p)
        return false;
    p += strlen(pat);
    bool quoted = *p == '"';
    p += quoted;
    size_t len = strcspn(p, quoted ? "\"" : ",}");
    if (len == 0 || len >= n)
        return false;
    memcpy(out, p, len);
    out[len] = '\0';
    return true;
}

static int save_tensors(const char *path, const train_cfg *c, const corpus *text, const model *m,
                        const train_state *s, const char **names, cg_tensor **ts, char (*state_names)[64])
{
    int nstate = cg_optim_state_count(s->opt), k = 0;
    for (int i = 0; i < m->nparams; i++, k++)
        names[k] = m->names[i], ts[k] = m->params[i];
    for (int i = 0; i < nstate; i++, k++) {
        ts[k] = cg_optim_state_at(s->opt, i);
        snprintf(state_names[i], 64, "optim.%s", cg_optim_state_name(s->opt, i));
        names[k] = state_names[i];
    }
    names[k] = "carry.h", ts[k++] = s->carry_h;
    names[k] = "carry.c", ts[k++] = s->carry_c;
    uint8_t rng[CG_RNG_STATE_SIZE];
    char rng_hex[2 * CG_RNG_STATE_SIZE + 1], vocab_hex[2 * 256 + 1], config[512], step[32], pos[32];
    cg_rng_get_state(rng, sizeof rng);
    hex_of(rng, sizeof rng, rng_hex);
    hex_of(text->vocab, (size_t)text->V, vocab_hex);
    config_json(c, config, sizeof config);
    snprintf(step, sizeof step, "%ld", s->step);
    snprintf(pos, sizeof pos, "%ld", s->pos);
    const char *keys[] = {"format", "config", "vocab_hex", "step", "pos", "rng", "run", "text", "text_digest"};
    const char *vals[] = {FORMAT, config, vocab_hex, step, pos, rng_hex, c->run, text->path, text->digest};
    return cg_safetensors_save(path, k, names, ts, 9, keys, vals);
}

/* All ranks' carried states as one (layers, all streams, hidden) tensor on rank 0:
 * rank r's streams are r*batch .. (r+1)*batch - 1, as one process numbers them. */
static cg_tensor *gather_streams(cg_tensor *local, int rank, int ranks)
{
    const int64_t *sh = cg_shape(local);
    int64_t L = sh[0], B = sh[1], H = sh[2];
    cg_tensor *all = rank == 0 ? cg_zeros(CG_SHAPE(ranks, L, B, H)) : NULL;
    cg_tensor *global = rank == 0 ? cg_zeros(CG_SHAPE(L, ranks * B, H)) : NULL;
    int rc = cg_dist_gather(local, all);
    for (int64_t r = 0; rc == 0 && global && r < ranks; r++)
        for (int64_t l = 0; l < L; l++)
            memcpy(cg_data(global) + (l * ranks * B + r * B) * H, cg_data(all) + ((r * L + l) * B) * H,
                   sizeof(float) * (size_t)(B * H));
    cg_tensor_free(all);
    if (rc != 0) {
        cg_tensor_free(global);
        return NULL;
    }
    return global;
}

static int save_on_rank0(const char *path, const train_cfg *c, const corpus *text, const model *m,
                         const train_state *s)
{
    int nstate = cg_optim_state_count(s->opt);
    size_t n = (size_t)(m->nparams + nstate + 2);
    const char **names = malloc(sizeof *names * n);
    cg_tensor **ts = malloc(sizeof *ts * n);
    char(*state_names)[64] = malloc(sizeof *state_names * (size_t)(nstate ? nstate : 1));
    int rc = names && ts && state_names ? save_tensors(path, c, text, m, s, names, ts, state_names) : -1;
    if (rc != 0)
        fprintf(stderr, "charrnn: cannot write the checkpoint: %s\n", names && ts && state_names ? cg_last_error()
                                                                                                 : "out of memory");
    free(names);
    free(ts);
    free(state_names);
    return rc;
}

int checkpoint_save(const char *path, const train_cfg *c, const corpus *text, const model *m, const train_state *s)
{
    if (s->ranks <= 1)
        return save_on_rank0(path, c, text, m, s);
    train_state all = *s;
    train_cfg whole = *c;
    whole.batch = c->batch * s->ranks;
    all.carry_h = gather_streams(s->carry_h, s->rank, s->ranks);
    all.carry_c = gather_streams(s->carry_c, s->rank, s->ranks);
    int rc = 0;
    if (s->rank == 0)
        rc = all.carry_h && all.carry_c ? save_on_rank0(path, &whole, text, m, &all) : -1;
    cg_tensor_free(all.carry_h);
    cg_tensor_free(all.carry_c);
    return rc;
}

/* ---- reading ---------------------------------------------------------------------------- */

/* Every kept setting from the config, each within its bounds. */
static bool read_config(const char *json, train_cfg *c, const char *path)
{
    for (int k = 0; k < CFG_COUNT; k++) {
        char v[64];
        if (!config_value(json, cfg_name(k), v, sizeof v) || !cfg_set_text(c, k, v)) {
            fprintf(stderr, "charrnn: %s: the setting '%s' is missing or out of bounds\n", path, cfg_name(k));
            return false;
        }
    }
    return true;
}

/* The vocabulary: 1 to 256 distinct bytes in increasing order. */
static bool read_vocab(const char *hex, corpus *v, const char *path)
{
    size_t len = hex ? strlen(hex) : 0;
    bool ok = len >= 2 && len <= 512 && len % 2 == 0 && bytes_of(hex, v->vocab, len / 2);
    v->V = (int)(len / 2);
    for (int i = 1; ok && i < v->V; i++)
        ok = v->vocab[i] > v->vocab[i - 1];
    if (!ok)
        fprintf(stderr, "charrnn: %s: the vocabulary is missing or malformed\n", path);
    return ok;
}

/* The sizes the settings imply, seen in the file before a model of that size is made. */
static bool sizes_in_file(cg_safetensors *f, const ckpt_info *info, const char *path)
{
    const train_cfg *c = &info->cfg;
    long gates = !strcmp(c->cell, "lstm") ? 4 : !strcmp(c->cell, "gru") ? 3 : 1;
    char last[64];
    snprintf(last, sizeof last, "rnn.weight_hh_l%ld", c->layers - 1);
    if (ckpt_has_shape(f, "fc.weight", info->vocab.V, c->hidden) && ckpt_has_shape(f, last, gates * c->hidden, c->hidden))
        return true;
    fprintf(stderr, "charrnn: %s: its tensors do not have the sizes its settings say\n", path);
    return false;
}

/* Training progress, with the carried state's size (batch too) seen in the file. */
static bool read_progress(cg_safetensors *f, ckpt_info *info)
{
    int64_t shape[CG_MAX_DIMS];
    const train_cfg *c = &info->cfg;
    info->has_progress = parse_long(cg_safetensors_metadata(f, "step"), 0, 100000000, &info->step) &&
                         parse_long(cg_safetensors_metadata(f, "pos"), 0, LONG_MAX, &info->pos) &&
                         bytes_of(cg_safetensors_metadata(f, "rng"), info->rng, sizeof info->rng) &&
                         cg_safetensors_shape(f, "carry.h", shape) == 3 && shape[0] == c->layers &&
                         shape[1] == c->batch && shape[2] == c->hidden;
    return info->has_progress;
}

/* The run's id and its text (the current format has all three, well formed). */
static bool read_run(cg_safetensors *f, ckpt_info *info, bool current, const char *path)
{
    const char *run = cg_safetensors_metadata(f, "run"), *text = cg_safetensors_metadata(f, "text");
    const char *digest = cg_safetensors_metadata(f, "text_digest");
    uint8_t b[8];
    if (!current)
        return true;
    if (!run || !bytes_of(run, b, 8) || !text || !*text || strlen(text) >= sizeof info->text || !digest ||
        !bytes_of(digest, b, 8)) {
        fprintf(stderr, "charrnn: %s: its run id or text is missing or malformed\n", path);
        return false;
    }
    snprintf(info->run, sizeof info->run, "%s", run);
    snprintf(info->text, sizeof info->text, "%s", text);
    snprintf(info->text_digest, sizeof info->text_digest, "%s", digest);
    return true;
}

/* Every tensor in the file is one charrnn writes: the model's, Adam's state, the carried states. */
static int model_params_for_known;
static bool optim_or_carry(const char *name)
{
    return ckpt_is_optim_state(name, model_params_for_known) || !strcmp(name, "carry.h") || !strcmp(name, "carry.c");
}

cg_safetensors *checkpoint_open(const char *path, ckpt_info *info)
{
    cg_safetensors *f = ckpt_open(path, "charrnn");
    if (!f)
        return NULL;
    memset(info, 0, sizeof *info);
    const char *format = cg_safetensors_metadata(f, "format");
    bool current = format && !strcmp(format, FORMAT);
    if (!current && (!format || strcmp(format, FORMAT_BEFORE_RUNS))) {
        fprintf(stderr, "charrnn: %s is not a charrnn checkpoint (format %s)\n", path, format ? format : "none");
    } else if (read_config(cg_safetensors_metadata(f, "config"), &info->cfg, path) &&
               read_vocab(cg_safetensors_metadata(f, "vocab_hex"), &info->vocab, path) &&
               sizes_in_file(f, info, path) && read_run(f, info, current, path)) {
        read_progress(f, info);
        return f;
    }
    cg_safetensors_close(f);
    return NULL;
}

static int read_state(cg_safetensors *f, const char *path, train_state *s)
{
    int nstate = cg_optim_state_count(s->opt), n = nstate + 2;
    cg_tensor **ts = malloc(sizeof *ts * (size_t)n);
    const char **names = malloc(sizeof *names * (size_t)n);
    char(*buf)[64] = malloc(sizeof *buf * (size_t)n);
    int rc = -1;
    if (ts && names && buf) {
        for (int i = 0; i < nstate; i++) {
            ts[i] = cg_optim_state_at(s->opt, i);
            snprintf(buf[i], 64, "optim.%s", cg_optim_state_name(s->opt, i));
            names[i] = buf[i];
        }
        /* the states of every stream of the run, then this rank's part of them */
        const int64_t *sh = cg_shape(s->carry_h);
        int64_t L = sh[0], B = sh[1], H = sh[2];
        ts[nstate] = cg_zeros(CG_SHAPE(L, B * s->ranks, H)), names[nstate] = "carry.h";
        ts[nstate + 1] = cg_zeros(CG_SHAPE(L, B * s->ranks, H)), names[nstate + 1] = "carry.c";
        rc = ts[nstate] && ts[nstate + 1] ? ckpt_read_tensors(f, ts, names, n, path, "charrnn") : -1;
        for (int64_t l = 0; rc == 0 && l < L; l++) {
            size_t off = (size_t)((l * s->ranks * B + s->rank * B) * H), len = sizeof(float) * (size_t)(B * H);
            memcpy(cg_data(s->carry_h) + l * B * H, cg_data(ts[nstate]) + off, len);
            memcpy(cg_data(s->carry_c) + l * B * H, cg_data(ts[nstate + 1]) + off, len);
        }
        cg_tensor_free(ts[nstate]);
        cg_tensor_free(ts[nstate + 1]);
    }
    free(ts);
    free(names);
    free(buf);
    return rc;
}

int checkpoint_load(cg_safetensors *f, const char *path, model *m, train_state *s)
{
    model_params_for_known = m->nparams;
    if (ckpt_only_known(f, m->name_ptrs, m->nparams, optim_or_carry, path, "charrnn") != 0 ||
        ckpt_read_tensors(f, m->params, m->name_ptrs, m->nparams, path, "charrnn") != 0)
        return -1;
    return s ? read_state(f, path, s) : 0;
}
