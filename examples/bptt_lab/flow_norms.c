/* bptt_lab flow's measurement, shared with the web lab page: how the gradient of the
 * last step's loss reaches each earlier step. The net is unrolled with cells, so every
 * h_t is a tensor of the graph, and after one cg_backward its .grad (cg_grad) is
 * exactly the gradient that travelled back to it. */
#include "flow.h"
#include <math.h>
#include <stdlib.h>

cg_module *flow_cell_new(cell_kind kind, cg_nonlinearity act, double rho)
{
    if (kind == CELL_LSTM)
        return cg_lstm_cell_new(.input_size = FLOW_IN, .hidden_size = FLOW_HID);
    if (kind == CELL_GRU)
        return cg_gru_cell_new(.input_size = FLOW_IN, .hidden_size = FLOW_HID);
    cg_module *cell = cg_rnn_cell_new(.input_size = FLOW_IN, .hidden_size = FLOW_HID, .nonlinearity = act);
    if (cell && rho > 0 && set_spectral_radius(cg_param(cell, "weight_hh"), rho) != 0) {
        cg_module_free(cell);
        return NULL;
    }
    return cell;
}

cg_tensor *flow_unroll(cg_module *cell, cell_kind kind, cg_tensor *x, long T, cg_tensor **hs)
{
    cg_tensor *h = cg_zeros(CG_SHAPE(1, FLOW_HID)), *c = cg_zeros(CG_SHAPE(1, FLOW_HID));
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

int flow_norms(cell_kind kind, cg_nonlinearity act, double rho, long T, long seed, double *norms)
{
    cg_manual_seed((uint64_t)seed);
    cg_module *cell = flow_cell_new(kind, act, rho);
    cg_tensor **hs = calloc((size_t)T, sizeof *hs);
    int rc = -1;
    if (cell && hs) {
        cg_frame_begin();
        cg_tensor *x = cg_randn(CG_SHAPE(T, 1, FLOW_IN)), *w = cg_randn(CG_SHAPE(1, FLOW_HID));
        cg_tensor *last = flow_unroll(cell, kind, x, T, hs);
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
    free(hs);
    cg_module_free(cell);
    return rc;
}

