/* bptt_lab — backprop-through-time, measured: the classic experiments, each a
 * subcommand that prints a table and writes an SVG plot and a CSV.
 *   bptt_lab flow       how the last step's gradient reaches earlier steps
 *   bptt_lab memory     remembering a symbol across a gap: RNN vs LSTM vs GRU
 *   bptt_lab truncate   truncated BPTT: chunk length against loss and speed
 *   bptt_lab clip       an exploding RNN with and without gradient clipping */
#include "lab.h"
#include "../common/ckpt.h"
#include "../common/parse.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int lab_fail(const char *experiment, const char *why)
{
    const char *detail = cg_last_error();
    fprintf(stderr, "bptt_lab %s: %s%s%s\n", experiment, why, detail[0] ? ": " : "", detail);
    return -1;
}


static void usage(FILE *f)
{
    fprintf(f, "usage: bptt_lab EXPERIMENT [options]\n"
               "  flow       the norm of d L_T / d h_t for every t: vanishing and exploding, RNN/LSTM/GRU\n"
               "  memory     accuracy on remembering a symbol across a gap k, RNN vs LSTM vs GRU\n"
               "  truncate   truncated BPTT with chunks of 8/16/32/64: loss curves and steps/s\n"
               "  clip       an exploding RNN with and without cg_clip_grad_norm\n"
               "options:\n"
               "  --out DIR      where the .svg and .csv go (default the current directory)\n"
               "  --length N     flow: sequence length (default 100); memory: the longest gap (default 40);\n"
               "                 truncate: characters of text to train on (default 40000)\n"
               "  --steps N      training steps (memory: 600, clip: 150; truncate trains on --length)\n"
               "  --seed N       the generator's seed (default 0)\n"
               "  --text FILE    truncate's text (default %s/sonnets.txt)\n"
               "  --html PAGE    flow: also the interactive graph page of a 12-step RNN\n", example_data_dir());
}

int main(int argc, char **argv)
{
    if (asked_version(argc, argv, "bptt_lab"))
        return 0;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    /* each experiment and the options it reads: any other is refused, never ignored */
    static const struct {
        const char *name;
        int (*run)(const lab_cfg *);
        const char *takes;
        const char *plots[2]; /* what it writes in --out: NAME.svg and NAME.csv */
    } experiments[] = {{"flow", lab_flow, "--out --length --seed --html", {"flow"}},
                       {"memory", lab_memory, "--out --length --steps --seed", {"memory"}},
                       {"truncate", lab_truncate, "--out --length --seed --text", {"truncate"}},
                       {"clip", lab_clip, "--out --steps --seed --text", {"clip_loss", "clip_gradnorm"}}};
    int e = -1;
    for (int k = 0; k < 4; k++)
        if (!strcmp(argv[1], experiments[k].name))
            e = k;
    if (e < 0) {
        fprintf(stderr, "bptt_lab: unknown experiment '%s' (flow, memory, truncate or clip)\n", argv[1]);
        return 2;
    }
    lab_cfg c = {.out = ".", .steps = -1, .length = -1, .seed = 0, .text = NULL, .html = NULL};
    for (int i = 2; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = v != NULL;
        if (a[0] == '-' && a[1] == '-' && !strstr(experiments[e].takes, a)) {
            fprintf(stderr, "bptt_lab %s: %s %s (it takes %s; see --help)\n", argv[1], a,
                    strstr("--out --length --seed --html --steps --text", a) ? "does not apply to it" : "is no option",
                    experiments[e].takes);
            return 2;
        }
        if (!strcmp(a, "--out")) c.out = v;
        else if (!strcmp(a, "--text")) c.text = v;
        else if (!strcmp(a, "--html")) c.html = v;
        else if (!strcmp(a, "--length")) ok = parse_long(v, e == 1 ? 5 : 2, 10000000, &c.length);
        else if (!strcmp(a, "--steps")) ok = parse_long(v, 1, 1000000, &c.steps);
        else if (!strcmp(a, "--seed")) ok = parse_long(v, 0, 0x7fffffff, &c.seed);
        else {
            fprintf(stderr, "bptt_lab: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "bptt_lab %s: %s needs a valid value%s\n", argv[1], a,
                    e == 1 && !strcmp(a, "--length") ? " (memory: the longest gap, at least 5, the shortest tried)"
                                                     : "");
            return 2;
        }
    }
    /* its own pictures and tables of an earlier run are written again; any other file there is kept */
    for (int k = 0; k < 2 && experiments[e].plots[k]; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.svg", c.out, experiments[e].plots[k]);
        if (ckpt_replaceable(path, BPTT_LAB_SVG_MARK, "bptt_lab", "--out") != 0)
            return 1;
        snprintf(path, sizeof path, "%s/%s.csv", c.out, experiments[e].plots[k]);
        if (ckpt_replaceable(path, "series,", "bptt_lab", "--out") != 0)
            return 1;
    }
    if (c.html && ckpt_replaceable(c.html, "<title>cgrad graph</title>", "bptt_lab", "--html") != 0)
        return 1;
    int (*run)(const lab_cfg *) = experiments[e].run;
    int rc = run(&c);
    cg_frame_release_memory();
    return rc == 0 ? 0 : 1;
}
