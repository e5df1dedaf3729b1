/* wordgen — the flags: one table gives each kept setting's flag, default, bounds
 * and name in a checkpoint, so parsing, --help, saving and resuming check the same. */
#include "wordgen.h"
#include "../common/settings.h"
#include <stddef.h>
#include <string.h>

static const char *const models[] = {"bigram", "mlp", "rnn", "gru", "lstm", "transformer", NULL};

static const setting settings[CFG_COUNT] = {
    [CFG_MODEL] = {"model", "--model", SET_CHOICE, 0, 0, offsetof(wg_cfg, model), sizeof(((wg_cfg *)0)->model), models},
    [CFG_N_EMBD] = {"n_embd", "--n-embd", SET_LONG, 1, 4096, offsetof(wg_cfg, n_embd)},
    [CFG_N_EMBD2] = {"n_embd2", "--n-embd2", SET_LONG, 1, 4096, offsetof(wg_cfg, n_embd2)},
    [CFG_N_LAYER] = {"n_layer", "--n-layer", SET_LONG, 1, 64, offsetof(wg_cfg, n_layer)},
    [CFG_N_HEAD] = {"n_head", "--n-head", SET_LONG, 1, 64, offsetof(wg_cfg, n_head)},
    [CFG_BATCH] = {"batch", "--batch-size", SET_LONG, 1, 100000, offsetof(wg_cfg, batch)},
    [CFG_SEED] = {"seed", "--seed", SET_LONG, 0, 0x7fffffff, offsetof(wg_cfg, seed)},
    [CFG_LR] = {"lr", "--lr", SET_DOUBLE, 1e-12, 100, offsetof(wg_cfg, lr)},
    [CFG_WD] = {"weight_decay", "--weight-decay", SET_DOUBLE, 0, 100, offsetof(wg_cfg, weight_decay)},
};

const char *cfg_name(int k) { return settings[k].name; }
const char *cfg_flag(int k) { return settings[k].flag; }
bool cfg_set_text(wg_cfg *c, int k, const char *value) { return setting_set(&settings[k], c, value); }
void cfg_text(const wg_cfg *c, int k, char *buf, size_t n) { setting_text(&settings[k], c, buf, n); }

/* makemore's defaults (a 4-layer, 4-head, 64-wide Transformer; AdamW 5e-4, 0.01). */
static const wg_cfg defaults = {.model = "transformer", .n_embd = 64, .n_embd2 = 64, .n_layer = 4, .n_head = 4,
                                .batch = 32, .seed = 3407, .lr = 5e-4, .weight_decay = 0.01,
                                .input = "/usr/share/dict/words", .out = "wordgen.safetensors", .steps = 2000,
                                .eval_every = 500, .samples = 10};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: wordgen [options]\n"
            "Learns a list of words (one per line) and makes up more like them. Writes the\n"
            "checkpoint CKPT, its loss log CKPT.csv and, with --plot, the loss curves CKPT.svg.\n"
            "  --input FILE        the words (default %s)\n"
            "  --model M           bigram, mlp, rnn, gru, lstm or transformer (default %s)\n"
            "  --n-embd N          embedding width (default %ld)\n"
            "  --n-embd2 N         hidden width of mlp, rnn, gru, lstm (default %ld)\n"
            "  --n-layer N         transformer blocks (default %ld)\n"
            "  --n-head N          attention heads (default %ld)\n"
            "  --batch-size B      words per step (default %ld)\n"
            "  --lr X              AdamW's learning rate (default %g)\n"
            "  --weight-decay X    AdamW's weight decay (default %g)\n"
            "  --steps N           train until step N (default %ld)\n"
            "  --eval-every N      test loss, log line and checkpoint every N steps (default %ld)\n"
            "  --seed N            the generator's seed (default %ld)\n"
            "  --out CKPT          the checkpoint to write (default %s; with --resume, CKPT itself);\n"
            "                      never another run's: an existing file of another run is refused\n"
            "  --resume CKPT       continue training from CKPT, with its settings\n"
            "  --sample-only       no training: print samples from --resume's checkpoint\n"
            "  --samples N         words to print at the end (default %ld)\n"
            "  --plot              draw the loss curves\n",
            defaults.input, defaults.model, defaults.n_embd, defaults.n_embd2, defaults.n_layer, defaults.n_head,
            defaults.batch, defaults.lr, defaults.weight_decay, defaults.steps, defaults.eval_every, defaults.seed,
            defaults.out, defaults.samples);
}

/* One flag a with its value v (maybe NULL): how many arguments it took, -1 for a
 * bad value, -2 for an unknown flag. */
static int parse_one(wg_cfg *c, const char *a, const char *v)
{
    int took = settings_take(settings, CFG_COUNT, c, &c->given, a, v);
    if (took != 0)
        return took;
    if (!strcmp(a, "--steps"))
        return parse_long(v, 0, 100000000, &c->steps) ? 2 : -1;
    if (!strcmp(a, "--eval-every"))
        return parse_long(v, 1, 100000000, &c->eval_every) ? 2 : -1;
    if (!strcmp(a, "--samples"))
        return parse_long(v, 0, 100000, &c->samples) ? 2 : -1;
    const char **text = !strcmp(a, "--input") ? &c->input : !strcmp(a, "--out") ? &c->out
                        : !strcmp(a, "--resume") ? &c->resume : NULL;
    if (text) {
        if (!v || !*v)
            return -1;
        *text = v;
        c->input_given |= text == &c->input;
        c->out_given |= text == &c->out;
        return 2;
    }
    bool *flag = !strcmp(a, "--plot") ? &c->plot : !strcmp(a, "--sample-only") ? &c->sample_only : NULL;
    if (flag)
        *flag = true;
    return flag ? 1 : -2;
}

int parse_args(int argc, char **argv, wg_cfg *c)
{
    *c = defaults;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 1;
        }
        int took = parse_one(c, argv[i], i + 1 < argc ? argv[i + 1] : NULL);
        if (took == -2) {
            fprintf(stderr, "wordgen: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
        if (took == -1) {
            fprintf(stderr, "wordgen: %s needs a valid value (see --help)\n", argv[i]);
            return 2;
        }
        i += took - 1;
    }
    if (c->sample_only && !c->resume) {
        fprintf(stderr, "wordgen: --sample-only needs --resume CKPT\n");
        return 2;
    }
    return 0;
}
