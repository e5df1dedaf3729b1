/* bptt_lab flow — how the gradient of the last step's loss reaches each earlier
 * step: ||d L_T / d h_t|| for t = T-1 .. 0, for an RNN (tanh, relu), an LSTM and
 * a GRU at PyTorch's initialisation, and for tanh RNNs whose W_hh has spectral
 * radius 0.5, 1, 1.5 and 2. The net is unrolled with cells, so every h_t is a
 * tensor of the graph, and after one cg_backward its .grad (cg_grad) is
 * exactly the gradient that travelled back to it. */
#include "lab.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define IN 8
#define HID 32

typedef enum { CELL_RNN, CELL_LSTM, CELL_GRU } cell_kind;

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

static cg_module *make_cell(const variant *v)
{
    if (v->kind == CELL_LSTM)
        return cg_lstm_cell_new(.input_size = IN, .hidden_size = HID);
    if (v->kind == CELL_GRU)
        return cg_gru_cell_new(.input_size = IN, .hidden_size = HID);
    cg_module *cell = cg_rnn_cell_new(.input_size = IN, .hidden_size = HID, .nonlinearity = v->act);
    if (cell && v->rho > 0 && set_spectral_radius(cg_param(cell, "weight_hh"), v->rho) != 0) {
        cg_module_free(cell);
        return NULL;
    }
    return cell;
}

/* Unrolls the cell over x (T, 1, IN) from zero state; hs[t] = h_t. Returns the last h. */
static cg_tensor *unroll(cg_module *cell, cell_kind kind, cg_tensor *x, long T, cg_tensor **hs)
{
    cg_tensor *h = cg_zeros(CG_SHAPE(1, HID)), *c = cg_zeros(CG_SHAPE(1, HID));
    for (long t = 0; t < T && h; t++) {
        cg_set_step((int)t);
        cg_tensor *xt = cg_select(x, 0, t);
        h = kind == CELL_LSTM ? cg_lstm_cell_forward(cell, xt, h, c, &c)
            : kind == CELL_GRU ? cg_gru_cell_forward(cell, xt, h)
                               : cg_rnn_cell_forward(cell, xt, h);
        hs[t] = h;
    }
    cg_set_step(-1);
    return h;
}

/* norms[t] = ||d L_T / d h_t|| with L_T = <w, h_{T-1}> for a fixed random w. */
static int measure(const variant *v, long T, long seed, double *norms)
{
    cg_manual_seed((uint64_t)seed);
    cg_module *cell = make_cell(v);
    cg_tensor **hs = calloc((size_t)T, sizeof *hs);
    int rc = -1;
    if (cell && hs) {
        cg_frame_begin();
        cg_tensor *x = cg_randn(CG_SHAPE(T, 1, IN)), *w = cg_randn(CG_SHAPE(1, HID));
        cg_tensor *last = unroll(cell, v->kind, x, T, hs);
        if (last && cg_backward(cg_sum(cg_mul(last, w))) == 0) {
            for (long t = 0; t < T; t++) {
                cg_tensor *g = cg_grad(hs[t]);
                double sq = 0;
                for (int64_t k = 0; g && k < cg_numel(g); k++)
                    sq += (double)cg_data(g)[k] * cg_data(g)[k];
                norms[t] = g ? sqrt(sq) : 0;
            }
            rc = 0;
        }
        cg_frame_end();
    }
    if (rc != 0)
        fprintf(stderr, "bptt_lab flow: %s: %s\n", v->label, cg_last_error());
    free(hs);
    cg_module_free(cell);
    return rc;
}

/* The short RNN's graph as the interactive page, for looking at what flow measures. */
static int write_page(const char *path, long seed)
{
    cg_manual_seed((uint64_t)seed);
    cg_module *cell = make_cell(&variants[0]);
    cg_tensor *hs[12];
    cg_frame_begin();
    cg_tensor *x = cg_randn(CG_SHAPE(12, 1, IN)), *w = cg_randn(CG_SHAPE(1, HID));
    cg_tensor *loss = cg_sum(cg_mul(unroll(cell, CELL_RNN, x, 12, hs), w));
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
