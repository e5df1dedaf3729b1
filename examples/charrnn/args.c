/* charrnn — train's flags: one table gives each setting's flag, default,
 * bounds and name in a checkpoint's config, so parsing, --help, saving and
 * reading a checkpoint back all check the same bounds. */
#include "charrnn.h"
#include "../common/parse.h"
#include "../common/settings.h"
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>



static const char *const cells[] = {"rnn", "lstm", "gru", NULL};

static const setting settings[CFG_COUNT] = {
    [CFG_HIDDEN] = {"hidden", "--hidden", SET_LONG, 1, 8192, offsetof(train_cfg, hidden)},
    [CFG_LAYERS] = {"layers", "--layers", SET_LONG, 1, 16, offsetof(train_cfg, layers)},
    [CFG_SEQ_LEN] = {"seq_len", "--seq-len", SET_LONG, 1, 100000, offsetof(train_cfg, seq_len)},
    [CFG_BATCH] = {"batch", "--batch", SET_LONG, 1, 100000, offsetof(train_cfg, batch)},
    [CFG_SEED] = {"seed", "--seed", SET_LONG, 0, 0x7fffffff, offsetof(train_cfg, seed)},
    [CFG_EVAL_EVERY] = {"eval_every", "--eval-every", SET_LONG, 1, 100000000, offsetof(train_cfg, eval_every)},
    [CFG_LR] = {"lr", "--lr", SET_DOUBLE, 1e-12, 100, offsetof(train_cfg, lr)},
    [CFG_CLIP] = {"clip", "--clip", SET_DOUBLE, 0, 1e12, offsetof(train_cfg, clip)},
    [CFG_CELL] = {"cell", "--cell", SET_CHOICE, 0, 0, offsetof(train_cfg, cell), sizeof(((train_cfg *)0)->cell), cells},
};

const char *cfg_name(int k) { return settings[k].name; }
const char *cfg_flag(int k) { return settings[k].flag; }
bool cfg_set_text(train_cfg *c, int k, const char *value) { return setting_set(&settings[k], c, value); }
void cfg_text(const train_cfg *c, int k, char *buf, size_t n) { setting_text(&settings[k], c, buf, n); }

static const train_cfg defaults = {.out = "charrnn.safetensors", .cell = "rnn", .hidden = 128, .layers = 1,
                                   .seq_len = 64, .batch = 32, .steps = 500, .seed = 0, .eval_every = 100,
                                   .lr = 2e-3, .clip = 5.0};

static void train_usage(FILE *f)
{
    fprintf(f,
            "usage: charrnn train [FILE] [options]\n"
            "Trains on FILE (default %s/tinyshakespeare.txt); writes CKPT, its loss log CKPT.csv and,\n"
            "with --plot, the loss curves CKPT.svg.\n"
            "  --hidden N        hidden size (default %ld, 1..8192)\n"
            "  --layers N        stacked layers (default %ld, 1..16)\n"
            "  --cell C          rnn, lstm or gru (default %s)\n"
            "  --seq-len T       characters per chunk, the BPTT length (default %ld)\n"
            "  --batch B         parallel streams (default %ld)\n"
            "  --lr X            Adam's learning rate (default %g)\n"
            "  --clip X          gradient-norm clipping, 0 for none (default %g)\n"
            "  --steps N         train until step N (default %ld)\n"
            "  --seed N          the generator's seed (default %ld)\n"
            "  --eval-every N    validate, log and checkpoint every N steps (default %ld)\n"
            "  --out CKPT        the checkpoint to write (default %s; with --resume, CKPT itself);\n"
            "                    never another run's: an existing file of another run is refused\n"
            "  --resume CKPT     continue from CKPT, with its settings and its text\n"
            "  --plot            draw the loss curves\n"
            "  --html PAGE       the last step's unrolled graph as the interactive page (default: none)\n"
            "  --detect-anomaly  stop at the first op that makes a NaN (or a backward that makes an Inf), and name it\n",
            example_data_dir(), defaults.hidden, defaults.layers, defaults.cell, defaults.seq_len, defaults.batch,
            defaults.lr, defaults.clip, defaults.steps, defaults.seed, defaults.eval_every, defaults.out);
}

/* One flag at argv[i] (its value, if any, at argv[i + 1]); returns how many
 * arguments it took, 0 for FILE, or -1 (message printed) when it is bad. */
static int parse_one(train_cfg *c, const char *a, const char *v)
{
    int took = settings_take(settings, CFG_COUNT, c, &c->given, a, v);
    if (took != 0)
        return took;
    if (!strcmp(a, "--steps"))
        return parse_long(v, 0, 100000000, &c->steps) ? 2 : -1;
    if (!strcmp(a, "--out") || !strcmp(a, "--resume") || !strcmp(a, "--html")) {
        if (!v)
            return -1;
        *(a[2] == 'o' ? &c->out : a[2] == 'r' ? &c->resume : &c->html) = v;
        c->out_given |= a[2] == 'o';
        return 2;
    }
    if (!strcmp(a, "--plot") || !strcmp(a, "--detect-anomaly")) {
        *(a[2] == 'p' ? &c->plot : &c->detect_anomaly) = true;
        return 1;
    }
    return a[0] == '-' && a[1] ? -2 : 0;
}

int parse_train(int argc, char **argv, train_cfg *c)
{
    *c = defaults;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            train_usage(stdout);
            return 1;
        }
        int took = parse_one(c, a, i + 1 < argc ? argv[i + 1] : NULL);
        if (took == -2) {
            fprintf(stderr, "charrnn train: unknown option '%s'\n", a);
            train_usage(stderr);
            return 2;
        }
        if (took == -1) {
            fprintf(stderr, "charrnn train: %s needs a valid value (see --help)\n", a);
            return 2;
        }
        if (took == 0 && c->file) {
            fprintf(stderr, "charrnn train: one FILE only (got '%s' too)\n", a);
            return 2;
        }
        if (took == 0)
            c->file = a, took = 1;
        i += took - 1;
    }
    return 0;
}
