/* The web pages' model: a recurrent cell (RNN, LSTM or GRU) and a Linear head over a
 * vocabulary, trained by Adam — the hello page and the char-RNN page both use it. */
#include "api.h"
#include <string.h>

int web_model_new(web_model *m, const char *cell, int V, int hidden, double lr, int seed)
{
    memset(m, 0, sizeof *m);
    m->kind = cell && !strcmp(cell, "lstm") ? 1 : cell && !strcmp(cell, "gru") ? 2 : 0;
    if (!cell || (m->kind == 0 && strcmp(cell, "rnn")))
        return web_fail("the cell is rnn, lstm or gru");
    if (hidden < 1 || hidden > 1024 || !(lr > 0 && lr <= 10) || seed < 0)
        return web_fail("hidden size 1 to 1024, learning rate above 0 (at most 10), seed 0 or more");
    cg_manual_seed((uint64_t)seed);
    m->cell = m->kind == 1 ? cg_lstm_new(.input_size = V, .hidden_size = hidden)
              : m->kind == 2 ? cg_gru_new(.input_size = V, .hidden_size = hidden)
                             : cg_rnn_new(.input_size = V, .hidden_size = hidden);
    m->head = cg_linear_new(.in_features = hidden, .out_features = V);
    int nc = 0, nh = 0;
    cg_tensor **pc = m->cell ? cg_parameters(m->cell, &nc) : NULL, **ph = m->head ? cg_parameters(m->head, &nh) : NULL;
    if (!pc || !ph || nc + nh > (int)(sizeof m->params / sizeof *m->params)) {
        web_fail(cg_last_error());
        web_model_free(m);
        return -1;
    }
    memcpy(m->params, pc, sizeof *pc * (size_t)nc);
    memcpy(m->params + nc, ph, sizeof *ph * (size_t)nh);
    m->nparams = nc + nh;
    m->opt = cg_adam_new(m->params, m->nparams, .lr = lr);
    if (!m->opt) {
        web_fail(cg_last_error());
        web_model_free(m);
        return -1;
    }
    return 0;
}

cg_tensor *web_model_forward(web_model *m, cg_tensor *x, cg_tensor *h0, cg_tensor *c0, cg_tensor **h_n, cg_tensor **c_n)
{
    cg_tensor *h = m->kind == 1 ? cg_lstm_forward(m->cell, x, h0, c0, h_n, c_n)
                   : m->kind == 2 ? cg_gru_forward(m->cell, x, h0, h_n)
                                  : cg_rnn_forward(m->cell, x, h0, h_n);
    return cg_linear_forward(m->head, h);
}

void web_model_free(web_model *m)
{
    cg_optim_free(m->opt);
    cg_module_free(m->cell);
    cg_module_free(m->head);
    memset(m, 0, sizeof *m);
}
