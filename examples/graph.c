/* graph — pictures of the hello RNN's unrolled graph.
 *
 * Builds RNN(5, 8) + Linear(8, 5) on "hihell" -> "ihello", runs one forward and
 * backward, and writes into the current directory (or --out DIR):
 *   hello_graph.dot   the graph, one cluster per time step, reading left to right
 *   hello_grads.dot   the same coloured by gradient norm (blue: small, red: large)
 * and .svg pictures of both when cgrad is built with Graphviz. With --train N
 * the picture is taken after N Adam steps. */
#include <cgrad.h>
#include "common/ckpt.h"
#include "common/parse.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int draw(cg_tensor *root, const char *dir, const char *name, cg_graph_opts opts)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.dot", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "graph: cannot write %s\n", path);
        return -1;
    }
    int rc = cg_graph_dot_with(root, f, opts);
    fclose(f);
    if (rc != 0) {
        fprintf(stderr, "graph: %s\n", cg_last_error());
        return -1;
    }
    printf("wrote %s\n", path);
    if (cg_graph_has_graphviz()) {
        snprintf(path, sizeof path, "%s/%s.svg", dir, name);
        if (cg_graph_render_with(root, path, opts) != 0) {
            fprintf(stderr, "graph: %s\n", cg_last_error());
            return -1;
        }
        printf("wrote %s\n", path);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (asked_version(argc, argv, "graph"))
        return 0;
    const char *dir = ".", *html = NULL;
    long train = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s [options]\n"
                   "Writes the hello RNN's unrolled graph and its gradient-norm view as DOT (and SVG).\n"
                   "  --out DIR     where to write the pictures (default the current directory)\n"
                   "  --train N     Adam steps before drawing (default 0: the initial weights)\n"
                   "  --html FILE   also write the interactive page: step the backward pass node by\n"
                   "                node, see every node's values and gradient (default: none)\n"
                   "Pictures graph drew before are drawn again; any other file in their place is kept.\n",
                   argv[0]);
            return 0;
        } else if (!strcmp(argv[i], "--html") && i + 1 < argc) {
            html = argv[++i];
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!strcmp(argv[i], "--train") && i + 1 < argc) {
            char *end;
            train = strtol(argv[++i], &end, 10);
            if (*end || train < 0 || train > 100000) {
                fprintf(stderr, "%s: --train needs a count from 0 to 100000\n", argv[0]);
                return 2;
            }
        } else {
            fprintf(stderr, "%s: unknown or incomplete option '%s' (see --help)\n", argv[0], argv[i]);
            return 2;
        }
    }
    /* its own pictures of an earlier run are drawn again; any other file there is kept */
    static const char *const names[] = {"hello_graph", "hello_grads"};
    for (int k = 0; k < 2; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.dot", dir, names[k]);
        if (ckpt_replaceable(path, "digraph cgrad {", "graph", "--out") != 0)
            return 1;
        snprintf(path, sizeof path, "%s/%s.svg", dir, names[k]);
        if (cg_graph_has_graphviz() && ckpt_replaceable(path, "<!-- Title: cgrad ", "graph", "--out") != 0)
            return 1;
    }
    if (html && ckpt_replaceable(html, "<title>cgrad graph</title>", "graph", "--html") != 0)
        return 1;
    cg_manual_seed(0);
    cg_module *rnn = cg_rnn_new(.input_size = 5, .hidden_size = 8);
    cg_module *fc = cg_linear_new(.in_features = 8, .out_features = 5);
    cg_tensor *params[6];
    int n;
    memcpy(params, cg_parameters(rnn, &n), 4 * sizeof *params);
    memcpy(params + 4, cg_parameters(fc, &n), 2 * sizeof *params);
    cg_optim *opt = cg_adam_new(params, 6, .lr = 0.1);
    cg_tensor *ids = cg_tensor_from((float[]){0, 1, 0, 2, 3, 3}, CG_SHAPE(6)); /* h i h e l l */
    cg_tensor *x = cg_one_hot(ids, 5), *y = cg_tensor_from((float[]){1, 0, 2, 3, 3, 4}, CG_SHAPE(6));
    int rc = 0;
    for (long step = 0; step <= train; step++) {
        cg_frame_begin();
        cg_tensor *loss = cg_cross_entropy(cg_linear_forward(fc, cg_rnn_forward(rnn, x, NULL, NULL)), y);
        cg_optim_zero_grad(opt);
        cg_backward(loss);
        if (step == train) {
            char title[128];
            snprintf(title, sizeof title, "hello RNN unrolled over 6 steps, loss %.4f", (double)cg_item(loss));
            rc |= draw(loss, dir, "hello_graph", (cg_graph_opts){.given = ".title", .title = title});
            snprintf(title, sizeof title, "gradient norms after %ld training steps (blue small, red large)", train);
            rc |= draw(loss, dir, "hello_grads",
                       (cg_graph_opts){.given = ".title, .grads, .color_by_grad", .title = title, .grads = true,
                                       .color_by_grad = true});
            if (html && cg_graph_html(loss, html, .title = "hello RNN, unrolled over 6 steps: step the backward pass") != 0) {
                fprintf(stderr, "graph: %s\n", cg_last_error());
                rc = 1;
            } else if (html) {
                printf("wrote %s\n", html);
            }
        } else {
            cg_optim_step(opt);
        }
        cg_frame_end();
    }
    cg_optim_free(opt);
    cg_module_free(rnn);
    cg_module_free(fc);
    cg_tensor_free(ids);
    cg_tensor_free(x);
    cg_tensor_free(y);
    cg_frame_release_memory();
    return rc ? 1 : 0;
}
