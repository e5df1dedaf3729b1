/* bptt_lab's measurements shared with the web lab page (web/lab_api.c): flow's norms
 * (flow_norms.c), clip's runs (clip_run.c), memory's training (memory_run.c), and the
 * models' set-up (spectral.c). */
#ifndef BPTT_FLOW_H
#define BPTT_FLOW_H

#include <cgrad.h>

#define FLOW_IN 8   /* input features of the measured cells */
#define FLOW_HID 32 /* their hidden size */

typedef enum { CELL_RNN, CELL_LSTM, CELL_GRU } cell_kind;

/* A cell at PyTorch's initialisation; an RNN cell with rho > 0 gets W_hh = rho * Q. */
cg_module *flow_cell_new(cell_kind kind, cg_nonlinearity act, double rho);
/* Unrolls the cell over x (T, 1, FLOW_IN) from zero state, steps marked; hs[t] = h_t. The last h. */
cg_tensor *flow_unroll(cg_module *cell, cell_kind kind, cg_tensor *x, long T, cg_tensor **hs);
/* norms[t] = ||d L_T / d h_t|| with L_T = <w, h_{T-1}>, x and w drawn from seed;
 * 0, or -1 with cg_last_error(). */
int flow_norms(cell_kind kind, cg_nonlinearity act, double rho, long T, long seed, double *norms);
/* W_hh of an RNN or RNN cell set to rho * Q, Q a random orthogonal matrix: every
 * eigenvalue then has modulus rho, so rho is its spectral radius exactly. */
int set_spectral_radius(cg_tensor *w_hh, double rho);
/* clip_run.c's shape: hidden size, streams, characters a chunk */
#define CLIP_HID 32
#define CLIP_STREAMS 16
#define CLIP_T 32
/* memory_run.c: nets RNN, LSTM, GRU, and an LSTM whose forget gates start open */
#define MEMORY_KINDS 4
#define MEMORY_SYMBOLS 4
extern const char *const memory_cells[MEMORY_KINDS];
/* Trains net kind (Adam 0.01, batch 32, hidden 32, clip 5) on gap for steps from seed;
 * its accuracy on 512 fresh sequences; NaN when out of memory. */
double memory_accuracy(int kind, long gap, long steps, long seed);
/* A one-layer recurrent module's 4 parameters, then a Linear's 2, into ps; returns 6. */
int lab_params(cg_module *rnn, cg_module *fc, cg_tensor **ps);

#endif
