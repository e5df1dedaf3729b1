/* charrnn — the model: one-hot characters -> RNN/LSTM/GRU -> Linear to the vocabulary. */
#include "charrnn.h"
#include <stdlib.h>
#include <string.h>

static cg_module *recurrent_new(const char *cell, int V, long hidden, long layers)
{
    if (!strcmp(cell, "lstm"))
        return cg_lstm_new(.input_size = V, .hidden_size = hidden, .num_layers = (int)layers);
    if (!strcmp(cell, "gru"))
        return cg_gru_new(.input_size = V, .hidden_size = hidden, .num_layers = (int)layers);
    return cg_rnn_new(.input_size = V, .hidden_size = hidden, .num_layers = (int)layers);
}

/* The parameters of both modules in one list, named as the checkpoint names them. */
static int list_params(model *m)
{
    int nr, nf;
    cg_tensor **pr = cg_parameters(m->rnn, &nr), **pf = cg_parameters(m->fc, &nf);
    m->nparams = nr + nf;
    m->params = malloc(sizeof *m->params * (size_t)m->nparams);
    m->names = malloc(sizeof *m->names * (size_t)m->nparams);
    m->name_ptrs = malloc(sizeof *m->name_ptrs * (size_t)m->nparams);
    if (!pr || !pf || !m->params || !m->names || !m->name_ptrs) {
        fprintf(stderr, "charrnn: out of memory\n");
        return -1;
    }
    for (int i = 0; i < m->nparams; i++) {
        bool r = i < nr;
        m->params[i] = r ? pr[i] : pf[i - nr];
        snprintf(m->names[i], sizeof m->names[i], "%s.%s", r ? "rnn" : "fc",
                 cg_param_name(r ? m->rnn : m->fc, r ? i : i - nr));
        m->name_ptrs[i] = m->names[i];
    }
    return 0;
}

int model_init(model *m, const char *cell, int V, long hidden, long layers)
{
    memset(m, 0, sizeof *m);
    m->lstm = !strcmp(cell, "lstm");
    m->gru = !strcmp(cell, "gru");
    m->hidden = hidden;
    m->layers = layers;
    m->rnn = recurrent_new(cell, V, hidden, layers);
    m->fc = cg_linear_new(.in_features = hidden, .out_features = V);
    if (!m->rnn || !m->fc) {
        fprintf(stderr, "charrnn: %s\n", cg_last_error());
        return -1;
    }
    return list_params(m);
}

void model_free(model *m)
{
    cg_module_free(m->rnn);
    cg_module_free(m->fc);
    free(m->params);
    free(m->names);
    free(m->name_ptrs);
}

cg_tensor *model_forward(model *m, cg_tensor *x, cg_tensor **h, cg_tensor **c)
{
    cg_tensor *hn = NULL, *cn = NULL, *out;
    if (m->lstm)
        out = cg_lstm_forward(m->rnn, x, *h, *c, &hn, &cn);
    else if (m->gru)
        out = cg_gru_forward(m->rnn, x, *h, &hn);
    else
        out = cg_rnn_forward(m->rnn, x, *h, &hn);
    *h = hn;
    if (m->lstm)
        *c = cn;
    cg_tensor *logits = cg_linear_forward(m->fc, out);
    return cg_reshape(logits, CG_SHAPE(-1, cg_shape(logits) ? cg_shape(logits)[2] : 1));
}
