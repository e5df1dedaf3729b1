/* bptt_lab flow — how the gradient of the last step's loss reaches each earlier
 * step: ||d L_T / d h_t|| for t = T-1 .. 0, for an RNN (tanh, relu), an LSTM and
 * a GRU at PyTorch's initialisation, and for tanh RNNs whose W_hh has spectral
 * radius 0.5, 1, 1.5 and 2. The net is unrolled with cells, so every h_t is a
 * tensor of the graph, and after one cg_backward its .grad (cg_grad) is
 * exactly the gradient that travelled back to it. */
#include "lab.h"
#include "flow.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *label;
    cell_kind kind;
    cg_nonlinearity act;
    double rho; /* 0: PyTorch's initialisation */
} variant;

static const variant variants[] = {
    {"RNN tanh", CELL_RNN, CG_TANH, 0}, {"RNN relu", CELL_RNN, CG_RELU, 0}, {"LSTM", CELL_LSTM, CG_TANH, 0},
    {"GRU", CELL_GRU, CG_TANH, 0},      {"RNN rho=0.5", CELL_RNN, CG_TANH, 0.5}, {"RNN rho=1", CELL_RNN, CG_TANH, 1},
    {"RNN rho=1.5", CELL_RNN, CG_TANH, 1.5}, {"RNN rho=2", CELL_RNN, CG_TANH, 2},
};
#define NVARIANTS ((int)(sizeof variants / sizeof variants[0]))

/* norms[t] = ||d L_T / d h_t|| for one variant; a message when it cannot be measured. */
static int measure(const variant *v, long T, long seed, double *norms)
{
    int rc = flow_norms(v->kind, v->act, v->rho, T, seed, norms);
    if (rc != 0)
        fprintf(stderr, "bptt_lab flow: %s: %s\n", v->label, cg_last_error());
    return rc;
}

/* The short RNN's graph as the interactive page, for looking at what flow measures. */
static int write_page(const char *path, long seed)
{
    cg_manual_seed((uint64_t)seed);
    cg_module *cell = flow_cell_new(CELL_RNN, CG_TANH, 0);
    cg_tensor *hs[12];
    cg_frame_begin();
    cg_tensor *x = cg_randn(CG_SHAPE(12, 1, FLOW_IN)), *w = cg_randn(CG_SHAPE(1, FLOW_HID));
    cg_tensor *loss = cg_sum(cg_mul(flow_unroll(cell, CELL_RNN, x, 12, hs), w));
    int rc = cg_backward_ex(loss, .retain_graph = true) == 0 &&
                     cg_graph_html(loss, path, .title = "bptt_lab flow: an RNN cell unrolled over 12 steps") == 0
                 ? 0 : -1;
    cg_frame_end();
    cg_module_free(cell);
    if (rc != 0)
        fprintf(stderr, "bptt_lab flow: %s\n", cg_last_error());
    else
        printf("wrote %s\n", path);
    return rc;
}

static void print_table(long T, double norms[][T])
{
    printf("%8s", "t");
    for (int v = 0; v < NVARIANTS; v++)
        printf(" %12s", variants[v].label);
    printf("\n");
    long every = T >= 10 ? T / 10 : 1;
    for (long back = 0; back < T + every; back += every) {
        long t = back < T ? T - 1 - back : 0; /* t = T-1, T-1-every, ..., and t = 0 last */
        printf("%8ld", t);
        for (int v = 0; v < NVARIANTS; v++)
            printf(" %12.3e", norms[v][t]);
        printf("\n");
        if (t == 0)
            break;
    }
}

/* A norm of exactly 0 is no measurement error: the gradient went below float32's
 * smallest value (about 1.4e-45) and underflowed. Say so, and from how far back. */
static void explain_underflow(long T, double norms[][T])
{
    for (int v = 0; v < NVARIANTS; v++) {
        long back = -1;
        for (long t = T - 1; t >= 0 && back < 0; t--)
            if (norms[v][t] == 0)
                back = T - 1 - t;
        if (back >= 0)
            printf("note: %s's gradient underflows float32 %ld steps back (below ~1.4e-45 it is 0): the vanishing "
                   "gradient, complete; earlier steps get nothing at all\n", variants[v].label, back);
    }
}

int lab_flow(const lab_cfg *c)
{
    long T = c->length > 0 ? c->length : 100;
    double (*norms)[T] = malloc(sizeof(double) * (size_t)(NVARIANTS * T));
    double *back = malloc(sizeof(double) * (size_t)T);
    if (!norms || !back) {
        free(norms), free(back);
        return lab_fail("flow", "out of memory");
    }
    int rc = 0;
    for (int v = 0; v < NVARIANTS && rc == 0; v++)
        rc = measure(&variants[v], T, c->seed, norms[v]);
    if (rc == 0) {
        printf("||d L_T / d h_t||: the gradient of the last step's loss (T = %ld) at each earlier step\n", T);
        print_table(T, norms);
        explain_underflow(T, norms);
        /* plotted against how far back: steps T-1-t, with the values reversed to match */
        double (*ys)[T] = malloc(sizeof(double) * (size_t)(NVARIANTS * T));
        plot p = {.title = "Gradient flow back through time: ||dL_T/dh_t||",
                  .xlabel = "steps back from T", .ylabel = "gradient norm", .log_y = true, .nseries = NVARIANTS};
        for (long t = 0; t < T; t++)
            back[t] = (double)t;
        for (int v = 0; ys && v < NVARIANTS; v++) {
            for (long t = 0; t < T; t++)
                ys[v][t] = norms[v][T - 1 - t];
            p.label[v] = variants[v].label, p.x[v] = back, p.y[v] = ys[v], p.n[v] = (int)T;
        }
        rc = ys ? plot_write(&p, c->out, "flow") : -1;
        free(ys);
    }
    if (rc == 0 && c->html)
        rc = write_page(c->html, c->seed);
    free(norms);
    free(back);
    return rc;
}
