/* The web lab page's calls (built with web/api.c): bptt_lab flow's measurement — the
 * gradient of the last step's loss at each earlier step — for one cell and length. */
#include "api.h"
#include "../examples/bptt_lab/flow.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LENGTH 1000

static double norms[MAX_LENGTH];
static int measured; /* how many steps norms holds */

/* cell: "rnn_tanh", "rnn_relu", "lstm" or "gru"; rho > 0 sets an RNN's spectral radius
 * (0: PyTorch's initialisation). 0, or -1 with web_last_error(). */
int web_flow(const char *cell, double rho, int length, int seed)
{
    measured = 0;
    cell_kind kind = CELL_RNN;
    cg_nonlinearity act = CG_TANH;
    if (cell && !strcmp(cell, "rnn_relu"))
        act = CG_RELU;
    else if (cell && !strcmp(cell, "lstm"))
        kind = CELL_LSTM;
    else if (cell && !strcmp(cell, "gru"))
        kind = CELL_GRU;
    else if (!cell || strcmp(cell, "rnn_tanh"))
        return web_fail("the cell is rnn_tanh, rnn_relu, lstm or gru");
    if (length < 2 || length > MAX_LENGTH || !(rho >= 0 && rho <= 10) || seed < 0)
        return web_fail("length 2 to 1000, spectral radius 0 (PyTorch's init) to 10, seed 0 or more");
    if (kind != CELL_RNN && rho > 0)
        return web_fail("a spectral radius applies to the RNN cells only");
    if (flow_norms(kind, act, rho, length, seed, norms) != 0)
        return web_fail(cg_last_error());
    measured = length;
    return 0;
}

/* ||d L_T / d h_t|| for t = T-1-back; NaN outside the last measurement. */
double web_flow_norm(int back) { return back >= 0 && back < measured ? norms[measured - 1 - back] : NAN; }
