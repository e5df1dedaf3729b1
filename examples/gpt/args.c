/* gpt — the flags, as nanoGPT's configurator takes them: --name=value (its form, so
 * its README's command pastes) or --name value, with _ or - in the name. One table
 * gives each setting's name, bounds and place, for parsing, --help and checkpoints. */
#include "gpt.h"
#include "../common/settings.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char *const booleans[] = {"False", "True", NULL};
#define LONG(k, name, lo, hi) [k] = {#name, "--" #name, SET_LONG, lo, hi, offsetof(train_cfg, name), 0, NULL}
#define REAL(k, name, lo, hi) [k] = {#name, "--" #name, SET_DOUBLE, lo, hi, offsetof(train_cfg, name), 0, NULL}
#define BOOL(k, name) [k] = {#name, "--" #name, SET_CHOICE, 0, 0, offsetof(train_cfg, name), 8, booleans}

static const setting settings[S_COUNT] = {
    LONG(S_BLOCK_SIZE, block_size, 1, 65536),
    LONG(S_N_LAYER, n_layer, 1, 256),
    LONG(S_N_HEAD, n_head, 1, 256),
    LONG(S_N_EMBD, n_embd, 1, 16384),
    REAL(S_DROPOUT, dropout, 0, 0.999),
    BOOL(S_BIAS, bias),
    LONG(S_BATCH_SIZE, batch_size, 1, 1 << 20),
    LONG(S_GRAD_ACCUM, gradient_accumulation_steps, 1, 1 << 20),
    REAL(S_LEARNING_RATE, learning_rate, 0, 100),
    LONG(S_MAX_ITERS, max_iters, 0, 100000000),
    REAL(S_WEIGHT_DECAY, weight_decay, 0, 100),
    REAL(S_BETA1, beta1, 0, 0.999999),
    REAL(S_BETA2, beta2, 0, 0.999999),
    REAL(S_GRAD_CLIP, grad_clip, 0, 1e9),
    BOOL(S_DECAY_LR, decay_lr),
    LONG(S_WARMUP_ITERS, warmup_iters, 0, 100000000),
    LONG(S_LR_DECAY_ITERS, lr_decay_iters, 1, 100000000),
    REAL(S_MIN_LR, min_lr, 0, 100),
    LONG(S_EVAL_INTERVAL, eval_interval, 1, 100000000),
    LONG(S_EVAL_ITERS, eval_iters, 1, 1000000),
    LONG(S_LOG_INTERVAL, log_interval, 1, 100000000),
    BOOL(S_ALWAYS_SAVE, always_save_checkpoint),
    BOOL(S_EVAL_ONLY, eval_only),
    LONG(S_SEED, seed, 0, 0x7fffffff),
};

const char *setting_name(int k) { return settings[k].name; }
bool setting_from_text(train_cfg *c, int k, const char *value) { return setting_set(&settings[k], c, value); }
void setting_to_text(const train_cfg *c, int k, char *buf, size_t n) { setting_text(&settings[k], c, buf, n); }
bool is_true(const char *v) { return !strcmp(v, "True"); }

/* config/train_shakespeare_char.py over train.py's defaults (seed: train.py's 1337). */
static const train_cfg shakespeare_char = {
    .block_size = 256, .n_layer = 6, .n_head = 6, .n_embd = 384, .dropout = 0.2, .bias = "False",
    .batch_size = 64, .gradient_accumulation_steps = 1, .learning_rate = 1e-3, .max_iters = 5000,
    .weight_decay = 1e-1, .beta1 = 0.9, .beta2 = 0.99, .grad_clip = 1.0, .decay_lr = "True", .warmup_iters = 100,
    .lr_decay_iters = 5000, .min_lr = 1e-4, .eval_interval = 250, .eval_iters = 200, .log_interval = 10,
    .always_save_checkpoint = "False", .eval_only = "False", .seed = 1337, .init_from = "scratch",
    .out_dir = "out-shakespeare-char"};

/* --config baby: nanoGPT's README run on a CPU (a smaller model, no dropout, fewer evals). */
static void baby(train_cfg *c)
{
    c->block_size = 64, c->batch_size = 12, c->n_layer = 4, c->n_head = 4, c->n_embd = 128, c->max_iters = 2000;
    c->lr_decay_iters = 2000, c->dropout = 0.0, c->eval_iters = 20, c->log_interval = 1;
}

static void train_usage(FILE *f)
{
    fprintf(f, "usage: gpt train [config/train_shakespeare_char.py] [--config baby] [--name=value ...]\n"
               "Trains nanoGPT's character-level GPT on a text (default: the tinyshakespeare text, as\n"
               "nanoGPT's data/shakespeare_char), writing OUT_DIR/ckpt.safetensors at the best val loss,\n"
               "OUT_DIR/log.csv and, with --plot, OUT_DIR/loss.svg. Settings (nanoGPT's names and values;\n"
               "--name=value or --name value, - or _ in names):\n");
    char v[64];
    for (int k = 0; k < S_COUNT; k++) {
        setting_text(&settings[k], &shakespeare_char, v, sizeof v);
        fprintf(f, "  --%-28s %s\n", settings[k].name, v);
    }
    fprintf(f, "  --out_dir=%s  --init_from=scratch|resume  --data=FILE  --plot\n"
               "  --config baby: %s\n"
               "  --device=cpu, --dtype=float32, --compile=False are taken (cgrad runs float32 on the CPU)\n",
            shakespeare_char.out_dir,
            "block_size 64, batch_size 12, n_layer 4, n_head 4, n_embd 128, max_iters 2000, lr_decay_iters 2000, "
            "dropout 0.0, eval_iters 20, log_interval 1");
}

/* "--max-iters=5" -> name "--max_iters", value "5" (value NULL when there is no '='). */
static void split_flag(const char *arg, char *name, size_t n, const char **value)
{
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    if (len >= n)
        len = n - 1;
    memcpy(name, arg, len);
    name[len] = '\0';
    for (size_t i = 2; i < len; i++)
        if (name[i] == '-')
            name[i] = '_';
    *value = eq ? eq + 1 : NULL;
}

/* nanoGPT's flags that name what cgrad always does: taken when they say so, else refused. */
static int machine_flag(const char *name, const char *v)
{
    if (!strcmp(name, "--device"))
        return v && !strcmp(v, "cpu") ? 1 : -1;
    if (!strcmp(name, "--dtype"))
        return v && !strcmp(v, "float32") ? 1 : -1;
    if (!strcmp(name, "--compile") || !strcmp(name, "--wandb_log"))
        return v && (!strcmp(v, "False") || !strcmp(v, "True")) ? 1 : -1;
    if (!strcmp(name, "--dataset"))
        return v && !strcmp(v, "shakespeare_char") ? 1 : -1;
    return 0;
}

/* One argument (its value in it after '=', or the next one): how many it took; -1 bad value, -2 unknown. */
static int parse_one(train_cfg *c, const char *arg, const char *next)
{
    char name[64];
    const char *v;
    split_flag(arg, name, sizeof name, &v);
    int took_next = v ? 0 : 1;
    if (!v)
        v = next;
    int m = machine_flag(name, v);
    if (m)
        return m < 0 ? -1 : 1 + took_next;
    int took = settings_take(settings, S_COUNT, c, &c->given, name, v);
    if (took == 2)
        return 1 + took_next;
    if (took < 0)
        return -1;
    if (!strcmp(name, "--out_dir") || !strcmp(name, "--data")) {
        if (!v || !*v)
            return -1;
        *(name[2] == 'o' ? &c->out_dir : &c->data) = v;
        return 1 + took_next;
    }
    if (!strcmp(name, "--init_from")) {
        if (!v || (strcmp(v, "scratch") && strcmp(v, "resume")))
            return -1;
        snprintf(c->init_from, sizeof c->init_from, "%s", v);
        return 1 + took_next;
    }
    if (!strcmp(name, "--config")) {
        if (!v || (strcmp(v, "baby") && strcmp(v, "shakespeare_char")))
            return -1;
        if (!strcmp(v, "baby"))
            baby(c);
        return 1 + took_next;
    }
    if (!strcmp(arg, "--plot")) {
        c->plot = true;
        return 1;
    }
    if (!strcmp(arg, "--resume")) { /* the same as --init_from=resume */
        snprintf(c->init_from, sizeof c->init_from, "resume");
        return 1;
    }
    return -2;
}

int parse_train(int argc, char **argv, train_cfg *c)
{
    *c = shakespeare_char;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            train_usage(stdout);
            return 1;
        }
        size_t len = strlen(a);
        if (a[0] != '-') { /* nanoGPT's config file: the one it ships for this model */
            if (len >= 25 && !strcmp(a + len - 25, "train_shakespeare_char.py"))
                continue;
            fprintf(stderr, "gpt train: '%s' is not a config gpt knows (config/train_shakespeare_char.py, or "
                            "--config baby)\n", a);
            return 2;
        }
        int took = parse_one(c, a, i + 1 < argc ? argv[i + 1] : NULL);
        if (took == -2) {
            fprintf(stderr, "gpt train: unknown option '%s' (see gpt train --help)\n", a);
            return 2;
        }
        if (took < 0) {
            fprintf(stderr, "gpt train: %s needs a valid value (see gpt train --help)\n", a);
            return 2;
        }
        i += took - 1;
    }
    if (c->n_embd % c->n_head != 0) {
        fprintf(stderr, "gpt train: n_embd (%ld) must be a multiple of n_head (%ld)\n", c->n_embd, c->n_head);
        return 2;
    }
    return 0;
}

static void sample_usage(FILE *f)
{
    fprintf(f, "usage: gpt sample [--out_dir=DIR] [--start=TEXT] [--num_samples=N] [--max_new_tokens=N]\n"
               "                  [--temperature=X] [--top_k=N] [--seed=N]\n"
               "Samples from DIR/ckpt.safetensors as nanoGPT's sample.py does (defaults: out-shakespeare-char,\n"
               "start \"\\n\" (FILE:path reads it from a file), 10 samples of 500 tokens, temperature 0.8,\n"
               "top_k 200, seed 1337).\n");
}

int parse_sample(int argc, char **argv, sample_cfg *c)
{
    *c = (sample_cfg){.out_dir = "out-shakespeare-char", .start = "\n", .num_samples = 10, .max_new_tokens = 500,
                      .top_k = 200, .seed = 1337, .temperature = 0.8};
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            sample_usage(stdout);
            return 1;
        }
        char name[64];
        const char *v;
        split_flag(argv[i], name, sizeof name, &v);
        int took = v ? 1 : 2;
        if (!v)
            v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = v != NULL;
        if (!strcmp(name, "--out_dir")) c->out_dir = v;
        else if (!strcmp(name, "--start")) c->start = v;
        else if (!strcmp(name, "--num_samples")) ok = parse_long(v, 1, 100000, &c->num_samples);
        else if (!strcmp(name, "--max_new_tokens")) ok = parse_long(v, 0, 10000000, &c->max_new_tokens);
        else if (!strcmp(name, "--top_k")) ok = parse_long(v, 0, 1000000, &c->top_k);
        else if (!strcmp(name, "--seed")) ok = parse_long(v, 0, 0x7fffffff, &c->seed);
        else if (!strcmp(name, "--temperature")) ok = parse_double(v, 1e-6, 1e6, &c->temperature);
        else if (machine_flag(name, v) != 0) ok = machine_flag(name, v) > 0;
        else {
            fprintf(stderr, "gpt sample: unknown option '%s' (see gpt sample --help)\n", argv[i]);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "gpt sample: %s needs a valid value\n", argv[i]);
            return 2;
        }
        i += took - 1;
    }
    return 0;
}
