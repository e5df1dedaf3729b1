/* cgrad — RNN, LSTM, GRU and their cells, made of linear and pointwise ops.
 *
 * Each layer and direction first projects the whole input sequence at once
 * (x W_ihᵀ + b_ih: one GEMM), then steps through time adding h W_hhᵀ + b_hh and
 * applying the cell's gates, exactly as PyTorch's CPU implementation orders
 * them. Backprop-through-time is just autograd over this unrolled graph. */
#include "nn_internal.h"
#include <stdlib.h>
#include <string.h>

static int gates_of(module_kind k)
{
    return k == KIND_LSTM || k == KIND_LSTM_CELL ? 4 : k == KIND_GRU || k == KIND_GRU_CELL ? 3 : 1;
}

/* ---- one step of each cell ---------------------------------------------------------
 * xw: this step's input projection x W_ihᵀ + b_ih, (B, G*H). Returns h'; for LSTM
 * *c_io holds c and gets c'. Intermediates are released as soon as the graph
 * holds them (a no-op inside frames). */

static cg_tensor *release(cg_tensor *keep, cg_tensor *a, cg_tensor *b, cg_tensor *c)
{
    cg_tensor_free(a);
    cg_tensor_free(b);
    cg_tensor_free(c);
    return keep;
}

/* The recurrent weight of one step: w_hh, and (or NULL) its packed form made once
 * for the whole sequence (cg__gemm_pack_b). */
typedef struct {
    cg_tensor *w;
    const float *packed;
} recurrent_weight;

static cg_tensor *rnn_step(cg_nonlinearity act, cg_tensor *xw, cg_tensor *h, recurrent_weight w_hh, cg_tensor *b_hh,
                           const char *op)
{
    return cg__linear_packed(h, w_hh.w, w_hh.packed, b_hh, xw, act, op); /* act(xw + h W_hhᵀ + b_hh) */
}

/* LSTM: the gates from one product, then one op for the rest (ops_cells.c); h and c
 * are views of its (2, B, H) result. On failure *c_io is left as it was. */
static cg_tensor *lstm_step(cg_tensor *xw, cg_tensor *h, cg_tensor **c_io, recurrent_weight w_hh, cg_tensor *b_hh,
                            const char *op)
{
    cg_tensor *gates = cg__linear_packed(h, w_hh.w, w_hh.packed, b_hh, xw, LINEAR_NO_ACT, op);
    cg_tensor *hc = gates ? cg__lstm_cell(gates, *c_io, op) : NULL;
    cg_tensor *out = hc ? cg_select(hc, 0, 0) : NULL, *c = hc ? cg_select(hc, 0, 1) : NULL;
    release(NULL, gates, hc, NULL);
    if (!out || !c)
        return release(NULL, out, c, NULL);
    *c_io = c;
    return out;
}

/* GRU: the state's gates from one product, then one op for the rest (ops_cells.c). */
static cg_tensor *gru_step(cg_tensor *xw, cg_tensor *h, recurrent_weight w_hh, cg_tensor *b_hh, const char *op)
{
    cg_tensor *hw = cg__linear_packed(h, w_hh.w, w_hh.packed, b_hh, NULL, LINEAR_NO_ACT, op);
    cg_tensor *out = hw ? cg__gru_cell(xw, hw, h, op) : NULL;
    cg_tensor_free(hw);
    return out;
}

static cg_tensor *step(const cg_module *m, cg_tensor *xw, cg_tensor *h, cg_tensor **c_io, recurrent_weight w_hh,
                       cg_tensor *b_hh)
{
    bool cell = m->kind >= KIND_RNN_CELL;
    switch (gates_of(m->kind)) {
    case 4:
        return lstm_step(xw, h, c_io, w_hh, b_hh, cell ? "cg_lstm_cell_forward" : "cg_lstm_forward");
    case 3:
        return gru_step(xw, h, w_hh, b_hh, cell ? "cg_gru_cell_forward" : "cg_gru_forward");
    default:
        return rnn_step(cell ? m->o.cell.nonlinearity : m->o.rnn.nonlinearity, xw, h, w_hh, b_hh,
                        cell ? "cg_rnn_cell_forward" : "cg_rnn_forward");
    }
}

/* W_hh packed once for the T products of a sequence with B rows each (a tensor in
 * the caller's frame, or the caller's to free), or NULL when those products would
 * not read it (or memory is short: they pack it themselves then). */
static cg_tensor *pack_recurrent(cg_tensor *w_hh, int64_t B)
{
    int64_t N = w_hh->shape[0], K = w_hh->shape[1], len = cg__gemm_b_packed_len(true, B, N, K);
    cg_tensor *packed = len > 0 ? cg_empty(CG_SHAPE(len)) : NULL;
    if (packed)
        cg__gemm_pack_b(true, N, K, w_hh->data, K, packed->data);
    else if (len > 0) /* out of memory for it: the steps pack as they go, and nothing failed */
        cg_clear_error();
    return packed;
}

/* ---- construction -------------------------------------------------------------------- */

static const cg__opt_field rnn_fields[] = {
    CG__OPT(cg_rnn_opts, input_size), CG__OPT(cg_rnn_opts, hidden_size), CG__OPT(cg_rnn_opts, num_layers),
    CG__OPT(cg_rnn_opts, nonlinearity), CG__OPT(cg_rnn_opts, bias), CG__OPT(cg_rnn_opts, batch_first),
    CG__OPT(cg_rnn_opts, dropout), CG__OPT(cg_rnn_opts, bidirectional), CG__OPT(cg_rnn_opts, generator)};

/* The checks every recurrent module and cell makes of its sizes and nonlinearity. */
static bool valid_sizes(const char *op, int64_t input_size, int64_t hidden_size, cg_nonlinearity act)
{
    if (input_size <= 0 || hidden_size <= 0) {
        cg__error("%s: input_size (%lld) and hidden_size (%lld) must be positive", op, (long long)input_size,
                  (long long)hidden_size);
        return false;
    }
    if (act != CG_TANH && act != CG_RELU) {
        cg__error("%s: unknown nonlinearity %d (CG_TANH or CG_RELU)", op, (int)act);
        return false;
    }
    return true;
}

/* Adds weight_ih, weight_hh, bias_ih, bias_hh with this suffix ("_l0", "_l1_reverse", ""). */
static bool add_weights(cg_module *m, const char *suffix, int64_t in, int64_t H, int G, bool bias)
{
    char name[CG_PARAM_NAME];
    snprintf(name, sizeof name, "weight_ih%s", suffix);
    if (!cg__module_add_param(m, name, CG_SHAPE(G * H, in)))
        return false;
    snprintf(name, sizeof name, "weight_hh%s", suffix);
    if (!cg__module_add_param(m, name, CG_SHAPE(G * H, H)))
        return false;
    if (!bias)
        return true;
    snprintf(name, sizeof name, "bias_ih%s", suffix);
    if (!cg__module_add_param(m, name, CG_SHAPE(G * H)))
        return false;
    snprintf(name, sizeof name, "bias_hh%s", suffix);
    return cg__module_add_param(m, name, CG_SHAPE(G * H)) != NULL;
}

/* torch's reset_parameters: every parameter, in order, uniform_(-1/sqrt(H), 1/sqrt(H)). */
static void init_uniform(cg_module *m, int64_t H)
{
    double stdv = 1.0 / sqrt((double)H);
    cg_no_grad_begin(); /* torch's init writes under no_grad too */
    for (int i = 0; i < m->nparams; i++)
        cg_uniform_gen_(m->params[i], (float)-stdv, (float)stdv, m->gen);
    cg_no_grad_end();
}

static cg_module *recurrent_new(cg_rnn_opts user, module_kind kind, const char *type, const char *op)
{
    cg_rnn_opts o = {.num_layers = 1, .nonlinearity = CG_TANH, .bias = true};
    if (cg__opts_merge(&o, &user, user.given, rnn_fields, 9, op) < 0)
        return NULL;
    if (!valid_sizes(op, o.input_size, o.hidden_size, o.nonlinearity))
        return NULL;
    if (kind != KIND_RNN && o.nonlinearity != CG_TANH) { /* torch's LSTM and GRU take no nonlinearity */
        cg__error("%s: %s has no nonlinearity option", op, type);
        return NULL;
    }
    if (o.num_layers < 1) {
        cg__error("%s: num_layers must be positive, got %d", op, o.num_layers);
        return NULL;
    }
    if (!(o.dropout >= 0 && o.dropout <= 1)) {
        cg__error("%s: dropout should be a number in range [0, 1], got %g", op, (double)o.dropout);
        return NULL;
    }
    cg_module *m = cg__module_new(kind, type);
    if (!m)
        return NULL;
    m->o.rnn = o;
    m->gen = o.generator;
    int D = o.bidirectional ? 2 : 1;
    for (int l = 0; l < o.num_layers; l++)
        for (int d = 0; d < D; d++) {
            char suffix[32];
            snprintf(suffix, sizeof suffix, "_l%d%s", l, d ? "_reverse" : "");
            if (!add_weights(m, suffix, l == 0 ? o.input_size : D * o.hidden_size, o.hidden_size,
                             gates_of(kind), o.bias)) {
                cg_module_free(m);
                return NULL;
            }
        }
    init_uniform(m, o.hidden_size);
    return m;
}

cg_module *cg_rnn_new_with(cg_rnn_opts o) { return recurrent_new(o, KIND_RNN, "RNN", "cg_rnn_new"); }
cg_module *cg_lstm_new_with(cg_rnn_opts o) { return recurrent_new(o, KIND_LSTM, "LSTM", "cg_lstm_new"); }
cg_module *cg_gru_new_with(cg_rnn_opts o) { return recurrent_new(o, KIND_GRU, "GRU", "cg_gru_new"); }

static const cg__opt_field cell_fields[] = {CG__OPT(cg_cell_opts, input_size), CG__OPT(cg_cell_opts, hidden_size),
                                            CG__OPT(cg_cell_opts, bias), CG__OPT(cg_cell_opts, nonlinearity),
                                            CG__OPT(cg_cell_opts, generator)};

static cg_module *cell_new(cg_cell_opts user, module_kind kind, const char *type, const char *op)
{
    cg_cell_opts o = {.bias = true, .nonlinearity = CG_TANH};
    if (cg__opts_merge(&o, &user, user.given, cell_fields, 5, op) < 0)
        return NULL;
    if (!valid_sizes(op, o.input_size, o.hidden_size, o.nonlinearity))
        return NULL;
    if (kind != KIND_RNN_CELL && o.nonlinearity != CG_TANH) {
        cg__error("%s: %s has no nonlinearity option", op, type);
        return NULL;
    }
    cg_module *m = cg__module_new(kind, type);
    if (!m)
        return NULL;
    m->o.cell = o;
    m->gen = o.generator;
    if (!add_weights(m, "", o.input_size, o.hidden_size, gates_of(kind), o.bias)) {
        cg_module_free(m);
        return NULL;
    }
    init_uniform(m, o.hidden_size);
    return m;
}

cg_module *cg_rnn_cell_new_with(cg_cell_opts o) { return cell_new(o, KIND_RNN_CELL, "RNNCell", "cg_rnn_cell_new"); }
cg_module *cg_lstm_cell_new_with(cg_cell_opts o) { return cell_new(o, KIND_LSTM_CELL, "LSTMCell", "cg_lstm_cell_new"); }
cg_module *cg_gru_cell_new_with(cg_cell_opts o) { return cell_new(o, KIND_GRU_CELL, "GRUCell", "cg_gru_cell_new"); }

/* ---- shapes ---------------------------------------------------------------------------- */

static bool check_state(const cg_tensor *s, int64_t layers, int64_t B, int64_t H, bool batched, const char *what,
                        const char *op)
{
    if (!s)
        return true;
    if (!cg__check(s, op)) /* a freed state, or one whose frame has ended */
        return false;
    bool ok = batched ? s->ndim == 3 && s->shape[0] == layers && s->shape[1] == B && s->shape[2] == H
                      : s->ndim == 2 && s->shape[0] == layers && s->shape[1] == H;
    if (!ok) {
        char a[CG_SHAPE_BUF];
        if (batched)
            cg__error("%s: expected %s of shape (%lld, %lld, %lld), got %s", op, what, (long long)layers,
                      (long long)B, (long long)H, cg__shape_fmt(a, s->ndim, s->shape));
        else
            cg__error("%s: expected %s of shape (%lld, %lld), got %s", op, what, (long long)layers, (long long)H,
                      cg__shape_fmt(a, s->ndim, s->shape));
    }
    return ok;
}

/* Temporary arrays of tensor pointers: frame memory inside frames, else the heap. */
static cg_tensor **ptr_array(int64_t n)
{
    cg_tensor **a = cg__alloc((size_t)(n > 0 ? n : 1) * sizeof *a);
    if (a)
        memset(a, 0, (size_t)(n > 0 ? n : 1) * sizeof *a);
    return a;
}
static void ptr_array_free(cg_tensor **a)
{
    if (a && !cg__in_frame())
        cg__sys_free(a);
}

/* ---- the multi-layer forward -------------------------------------------------------------- */

/* One layer in one direction over x (T, B, In): fills outs[t] with h at each t;
 * h, c are the starting states and get the final ones. */
static bool run_direction(cg_module *m, cg_tensor *x, int idx, bool reverse, cg_tensor **h, cg_tensor **c,
                          cg_tensor **outs)
{
    int P = m->o.rnn.bias ? 4 : 2;
    cg_tensor *w_ih = m->params[idx * P], *w_hh = m->params[idx * P + 1];
    cg_tensor *b_ih = m->o.rnn.bias ? m->params[idx * P + 2] : NULL, *b_hh = m->o.rnn.bias ? m->params[idx * P + 3] : NULL;
    cg_tensor *xw = cg_linear(x, w_ih, b_ih);
    if (!xw)
        return false;
    int64_t T = x->shape[0];
    cg_tensor *packed = pack_recurrent(w_hh, x->ndim == 3 ? x->shape[1] : 1);
    bool ok = true;
    for (int64_t s = 0; s < T && ok; s++) {
        int64_t t = reverse ? T - 1 - s : s;
        cg_set_step((int)t);
        cg_tensor *xw_t = cg_select(xw, 0, t);
        cg_tensor *h_prev = *h, *c_prev = *c;
        /* (a step takes a NULL input part as none: a failed select must stop here) */
        cg_tensor *h_new = xw_t ? step(m, xw_t, h_prev, c, (recurrent_weight){w_hh, packed ? packed->data : NULL}, b_hh)
                                : NULL;
        /* Our references to what this step used go; the graph holds its own. The
         * outputs are kept in outs, and released by the caller after stacking. */
        cg_tensor_free(xw_t);
        if (s == 0)
            cg_tensor_free(h_prev);
        if (c_prev != *c)
            cg_tensor_free(c_prev);
        *h = outs[t] = h_new;
        ok = h_new != NULL;
    }
    cg_set_step(-1);
    cg_tensor_free(xw);
    cg_tensor_free(packed);
    cg__retain(*h); /* one reference for outs, one for the final state */
    return ok;
}

/* The input (T, B, I), (B, T, I) with batch_first, or unbatched (T, I), and the
 * initial states fit the module; *batched and *B say which. */
static bool check_forward(cg_module *m, cg_tensor *input, cg_tensor *h0, cg_tensor *c0, bool *batched, int64_t *B,
                          const char *op)
{
    if (!cg__module_check(m, -1, op) || !cg__check(input, op))
        return false;
    if (m->kind != KIND_RNN && m->kind != KIND_LSTM && m->kind != KIND_GRU) {
        cg__error("%s: given a %s module", op, m->type);
        return false;
    }
    const cg_rnn_opts *o = &m->o.rnn;
    char a[CG_SHAPE_BUF];
    *batched = input->ndim == 3;
    if ((input->ndim != 2 && input->ndim != 3) || input->shape[input->ndim - 1] != o->input_size ||
        input->shape[0] == 0) {
        cg__error("%s: expected input of shape (T, B, %lld)%s or unbatched (T, %lld), T > 0; got %s", op,
                  (long long)o->input_size, o->batch_first ? " with batch_first: (B, T, I)" : "",
                  (long long)o->input_size, cg__shape_fmt(a, input->ndim, input->shape));
        return false;
    }
    int64_t LD = (int64_t)o->num_layers * (o->bidirectional ? 2 : 1);
    *B = *batched ? input->shape[o->batch_first ? 0 : 1] : 1;
    if (!check_state(h0, LD, *B, o->hidden_size, *batched, "h0", op) ||
        !check_state(c0, LD, *B, o->hidden_size, *batched, "c0", op))
        return false;
    if (*batched && input->shape[o->batch_first ? 1 : 0] == 0) {
        cg__error("%s: the sequence is empty", op);
        return false;
    }
    return true;
}

/* Layer l over x (T, B, In), every direction, from the initial states in h0b/c0b
 * (or zeros); hn/cn get its final states. Returns the layer's output (T, B, D*H)
 * — or (B, T, D*H) when time_dim is 1: the last layer of a batch_first net stacks
 * its steps straight into the caller's layout, saving a transposing copy (and its
 * backward) — with dropout applied when another layer follows in train mode. */
static cg_tensor *run_layer(cg_module *m, cg_tensor *x, int l, cg_tensor *h0b, cg_tensor *c0b, int64_t B,
                            cg_tensor **outs, cg_tensor **hn, cg_tensor **cn, int time_dim)
{
    const cg_rnn_opts *o = &m->o.rnn;
    int D = o->bidirectional ? 2 : 1;
    int64_t T = x->shape[0], H = o->hidden_size;
    bool lstm = m->kind == KIND_LSTM, ok = true;
    for (int d = 0; ok && d < D; d++) {
        int idx = l * D + d;
        /* the caller's initial states, or zeros (which need no gradient) */
        cg_tensor *h = h0b ? cg_select(h0b, 0, idx) : cg_zeros(CG_SHAPE(B, H));
        cg_tensor *c = !lstm ? NULL : c0b ? cg_select(c0b, 0, idx) : cg_zeros(CG_SHAPE(B, H));
        ok = h && (!lstm || c) && run_direction(m, x, idx, d == 1, &h, &c, outs + d * T);
        hn[idx] = h;
        cn[idx] = c;
    }
    cg_tensor *layer = ok ? cg_stack(outs, (int)T, time_dim) : NULL;
    if (ok && D == 2) {
        cg_tensor *back = cg_stack(outs + T, (int)T, time_dim);
        cg_tensor *both[2] = {layer, back};
        cg_tensor *joined = layer && back ? cg_cat(both, 2, 2) : NULL;
        release(NULL, layer, back, NULL);
        layer = joined;
    }
    for (int64_t i = 0; i < T * D; i++) {
        cg_tensor_free(outs[i]);
        outs[i] = NULL;
    }
    if (layer && l + 1 < o->num_layers && o->dropout > 0 && m->training) {
        cg_tensor *dropped = cg_dropout_gen(layer, o->dropout, true, m->gen);
        cg_tensor_free(layer);
        layer = dropped;
    }
    return layer;
}

/* The final states of every layer and direction as one tensor (LD, B, H), or (LD, H) unbatched. */
static cg_tensor *stack_states(cg_tensor **states, int n, bool batched)
{
    cg_tensor *s = cg_stack(states, n, 0);
    if (batched || !s)
        return s;
    cg_tensor *squeezed = cg_squeeze(s, 1);
    cg_tensor_free(s);
    return squeezed;
}

/* Hands the results out: *h_n and *c_n when asked for (made only then); NULL if any failed. */
static cg_tensor *hand_out(cg_tensor *out, cg_tensor *hstack, cg_tensor *cstack, cg_tensor **h_n, cg_tensor **c_n)
{
    if (!out || (h_n && !hstack) || (c_n && !cstack)) {
        release(NULL, out, hstack, cstack);
        return NULL;
    }
    if (h_n)
        *h_n = hstack;
    if (c_n)
        *c_n = cstack;
    return out;
}

static cg_tensor *recurrent_forward(cg_module *m, cg_tensor *input, cg_tensor *h0, cg_tensor *c0, cg_tensor **h_n,
                                    cg_tensor **c_n, const char *op)
{
    if (h_n)
        *h_n = NULL;
    if (c_n)
        *c_n = NULL;
    bool batched;
    int64_t B;
    if (!check_forward(m, input, h0, c0, &batched, &B, op))
        return NULL;
    const cg_rnn_opts *o = &m->o.rnn;
    int LD = o->num_layers * (o->bidirectional ? 2 : 1);
    bool lstm = m->kind == KIND_LSTM;
    /* Work in (T, B, features). */
    cg_tensor *x = !batched ? cg_unsqueeze(input, 1) : o->batch_first ? cg_transpose(input, 0, 1) : input;
    cg_tensor *h0b = h0 && !batched ? cg_unsqueeze(h0, 1) : h0, *c0b = c0 && !batched ? cg_unsqueeze(c0, 1) : c0;
    int64_t T = x ? x->shape[0] : 0;
    cg_tensor **outs = ptr_array(T * LD), **hn = ptr_array(LD), **cn = ptr_array(LD);
    bool ok = x && outs && hn && cn;
    for (int l = 0; ok && l < o->num_layers; l++) {
        int time_dim = batched && o->batch_first && l + 1 == o->num_layers ? 1 : 0;
        cg_tensor *layer = run_layer(m, x, l, h0b, c0b, B, outs, hn, cn, time_dim);
        if (x != input)
            cg_tensor_free(x);
        x = layer;
        ok = x != NULL;
    }
    cg_tensor *out = NULL, *hstack = NULL, *cstack = NULL;
    if (ok) {
        out = !batched ? cg_squeeze(x, 1) : cg__retain(x); /* batch_first: already (B, T, D*H) */
        /* (a caller that does not ask for the final states records no stack of them: a node
         * and a copy less, hello's step 3% of its instructions) */
        hstack = h_n ? stack_states(hn, LD, batched) : NULL;
        cstack = lstm && c_n ? stack_states(cn, LD, batched) : NULL;
    }
    if (x != input)
        cg_tensor_free(x);
    for (int i = 0; hn && i < LD; i++)
        release(NULL, hn[i], cn ? cn[i] : NULL, NULL);
    release(NULL, h0b != h0 ? h0b : NULL, c0b != c0 ? c0b : NULL, NULL);
    ptr_array_free(outs);
    ptr_array_free(hn);
    ptr_array_free(cn);
    return hand_out(out, hstack, cstack, h_n, c_n);
}

cg_tensor *cg_rnn_forward(cg_module *m, cg_tensor *input, cg_tensor *h0, cg_tensor **h_n)
{
    if (!cg__module_check(m, KIND_RNN, "cg_rnn_forward"))
        return NULL;
    return recurrent_forward(m, input, h0, NULL, h_n, NULL, "cg_rnn_forward");
}

cg_tensor *cg_gru_forward(cg_module *m, cg_tensor *input, cg_tensor *h0, cg_tensor **h_n)
{
    if (!cg__module_check(m, KIND_GRU, "cg_gru_forward"))
        return NULL;
    return recurrent_forward(m, input, h0, NULL, h_n, NULL, "cg_gru_forward");
}

cg_tensor *cg_lstm_forward(cg_module *m, cg_tensor *input, cg_tensor *h0, cg_tensor *c0, cg_tensor **h_n,
                           cg_tensor **c_n)
{
    if (!cg__module_check(m, KIND_LSTM, "cg_lstm_forward"))
        return NULL;
    return recurrent_forward(m, input, h0, c0, h_n, c_n, "cg_lstm_forward");
}

/* ---- cells ------------------------------------------------------------------------------- */

static cg_tensor *cell_forward(cg_module *m, int kind, cg_tensor *x, cg_tensor *h, cg_tensor *c, cg_tensor **c_out,
                               const char *op)
{
    if (c_out)
        *c_out = NULL;
    if (!cg__module_check(m, kind, op) || !cg__check(x, op))
        return NULL;
    const cg_cell_opts *o = &m->o.cell;
    char a[CG_SHAPE_BUF];
    bool batched = x->ndim == 2;
    if ((x->ndim != 1 && x->ndim != 2) || x->shape[x->ndim - 1] != o->input_size) {
        cg__error("%s: expected input of shape (B, %lld) or (%lld), got %s", op, (long long)o->input_size,
                  (long long)o->input_size, cg__shape_fmt(a, x->ndim, x->shape));
        return NULL;
    }
    int64_t B = batched ? x->shape[0] : 1, H = o->hidden_size;
    cg_tensor *states[2] = {h, c};
    for (int i = 0; i < 2; i++) {
        cg_tensor *s = states[i];
        if (s && !cg__check(s, op))
            return NULL;
        if (s && !(batched ? s->ndim == 2 && s->shape[0] == B && s->shape[1] == H : s->ndim == 1 && s->shape[0] == H)) {
            cg__error("%s: expected %s of shape %s(%lld), got %s", op, i ? "c" : "h", batched ? "(B, H) = " : "",
                      (long long)H, cg__shape_fmt(a, s->ndim, s->shape));
            return NULL;
        }
    }
    cg_tensor *xb = batched ? x : cg_unsqueeze(x, 0);
    cg_tensor *hb = h ? (batched ? h : cg_unsqueeze(h, 0)) : cg_zeros(CG_SHAPE(B, H));
    cg_tensor *cb = kind != KIND_LSTM_CELL ? NULL : c ? (batched ? c : cg_unsqueeze(c, 0)) : cg_zeros(CG_SHAPE(B, H));
    cg_tensor *xw = cg_linear(xb, m->params[0], o->bias ? m->params[2] : NULL);
    cg_tensor *c_in = cb;
    cg_tensor *out = step(m, xw, hb, &cb, (recurrent_weight){m->params[1], NULL}, o->bias ? m->params[3] : NULL);
    cg_tensor_free(xw);
    if (xb != x)
        cg_tensor_free(xb);
    if (hb != h)
        cg_tensor_free(hb);
    if (c_in != c)
        cg_tensor_free(c_in);
    if (!batched) {
        cg_tensor *o1 = cg_squeeze(out, 0), *c1 = cb ? cg_squeeze(cb, 0) : NULL;
        release(NULL, out, cb, NULL);
        out = o1, cb = c1;
    }
    if (c_out)
        *c_out = cb;
    else
        cg_tensor_free(cb);
    return out;
}

cg_tensor *cg_rnn_cell_forward(cg_module *m, cg_tensor *x, cg_tensor *h)
{
    return cell_forward(m, KIND_RNN_CELL, x, h, NULL, NULL, "cg_rnn_cell_forward");
}

cg_tensor *cg_gru_cell_forward(cg_module *m, cg_tensor *x, cg_tensor *h)
{
    return cell_forward(m, KIND_GRU_CELL, x, h, NULL, NULL, "cg_gru_cell_forward");
}

cg_tensor *cg_lstm_cell_forward(cg_module *m, cg_tensor *x, cg_tensor *h, cg_tensor *c, cg_tensor **c_out)
{
    return cell_forward(m, KIND_LSTM_CELL, x, h, c, c_out, "cg_lstm_cell_forward");
}
