/* cgrad tests — nn/: modules against PyTorch (initial weights, outputs, h_n and
 * every gradient), the seed program, hello's training losses, BPTT, errors. */
#include "fixture.h"
#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static fixture *fx, *ops, *mha;

static const char *configs[] = {"rnn1", "rnn1_h0", "rnn2_relu", "rnn_bf", "rnn_bidir2", "rnn_nobias",
                                "rnn_unbatched", "rnn_dropout", "lstm1", "lstm2_h0", "lstm_bidir_bf",
                                "lstm_unbatched", "gru1", "gru2_h0", "gru_bidir", "gru_nobias_unbatched"};
#define NCONFIGS ((int)(sizeof configs / sizeof configs[0]))

typedef struct {
    int kind, I, H, L;
    bool relu, bias, bf, bidir, h0, unbatched;
    float dropout;
    int seed;
} rnn_cfg;

static rnn_cfg read_cfg(const char *name)
{
    cg_tensor *c = fx_get(fx, "%s.cfg", name);
    const float *v = cg_data(c);
    rnn_cfg r = {(int)v[0], (int)v[1], (int)v[2], (int)v[3], v[4] != 0, v[5] != 0, v[6] != 0,
                 v[7] != 0, v[8] != 0, v[9] != 0, v[10], (int)v[11]};
    cg_tensor_free(c);
    return r;
}

static cg_module *make_module(const rnn_cfg *c)
{
    cg_manual_seed((uint64_t)c->seed);
    cg_nonlinearity act = c->relu ? CG_RELU : CG_TANH;
#define OPTS .input_size = c->I, .hidden_size = c->H, .num_layers = c->L, .bias = c->bias, \
             .batch_first = c->bf, .bidirectional = c->bidir, .dropout = c->dropout
    switch (c->kind) {
    case 1:
        return cg_lstm_new(OPTS);
    case 2:
        return cg_gru_new(OPTS);
    default:
        return cg_rnn_new(OPTS, .nonlinearity = act);
    }
#undef OPTS
}

/* Initial weights, outputs, h_n (c_n) and all gradients, as PyTorch gave them. */
START_TEST(recurrent_module_matches_pytorch)
{
    const char *name = configs[_i];
    rnn_cfg c = read_cfg(name);
    cg_module *m = make_module(&c);
    ck_assert_msg(m != NULL, "%s: %s", name, cg_last_error());
    int n;
    cg_tensor **ps = cg_parameters(m, &n);
    cg_frame_begin();
    for (int i = 0; i < n; i++) /* PyTorch's names, order and initial values */
        ck_assert_tensor_close(ps[i], fx_get(fx, "%s.param.%s", name, cg_param_name(m, i)), 0, 0);
    cg_tensor *x = fx_get(fx, "%s.x", name), *h0 = NULL, *c0 = NULL, *hn = NULL, *cn = NULL;
    cg_set_requires_grad(x, true);
    if (c.h0) {
        h0 = fx_get(fx, "%s.h0", name);
        cg_set_requires_grad(h0, true);
        if (c.kind == 1) {
            c0 = fx_get(fx, "%s.c0", name);
            cg_set_requires_grad(c0, true);
        }
    }
    cg_manual_seed(999); /* where the dropout draws come from */
    cg_tensor *out = c.kind == 1 ? cg_lstm_forward(m, x, h0, c0, &hn, &cn)
                     : c.kind == 2 ? cg_gru_forward(m, x, h0, &hn)
                                   : cg_rnn_forward(m, x, h0, &hn);
    ck_assert_msg(out != NULL, "%s: %s", name, cg_last_error());
    ck_assert_tensor_close(out, fx_get(fx, "%s.out", name), 1e-5, 1e-6);
    ck_assert_tensor_close(hn, fx_get(fx, "%s.hn", name), 1e-5, 1e-6);
    cg_tensor *loss = cg_add(cg_sum(cg_mul(out, fx_get(fx, "%s.w1", name))), cg_sum(cg_mul(hn, fx_get(fx, "%s.w2", name))));
    if (cn) {
        ck_assert_tensor_close(cn, fx_get(fx, "%s.cn", name), 1e-5, 1e-6);
        loss = cg_add(loss, cg_sum(cg_mul(cn, fx_get(fx, "%s.w3", name))));
    }
    ck_assert_int_eq(cg_backward(loss), 0);
    for (int i = 0; i < n; i++)
        ck_assert_tensor_close_scaled(cg_grad(ps[i]), fx_get(fx, "%s.grad.%s", name, cg_param_name(m, i)), 1e-5);
    ck_assert_tensor_close_scaled(cg_grad(x), fx_get(fx, "%s.grad_x", name), 1e-5);
    if (h0)
        ck_assert_tensor_close_scaled(cg_grad(h0), fx_get(fx, "%s.grad_h0", name), 1e-5);
    if (c0)
        ck_assert_tensor_close_scaled(cg_grad(c0), fx_get(fx, "%s.grad_c0", name), 1e-5);
    cg_frame_end();
    cg_module_free(m);
}
END_TEST

START_TEST(cells_match_pytorch)
{
    static const char *kinds[] = {"RNNCell", "LSTMCell", "GRUCell"};
    const char *kind = kinds[_i];
    cg_manual_seed(200 + (uint64_t)_i);
    cg_module *m = _i == 0 ? cg_rnn_cell_new(.input_size = 3, .hidden_size = 4)
                   : _i == 1 ? cg_lstm_cell_new(.input_size = 3, .hidden_size = 4)
                             : cg_gru_cell_new(.input_size = 3, .hidden_size = 4);
    int n;
    cg_tensor **ps = cg_parameters(m, &n);
    cg_frame_begin();
    for (int i = 0; i < n; i++)
        ck_assert_tensor_close(ps[i], fx_get(fx, "%s.param.%s", kind, cg_param_name(m, i)), 0, 0);
    cg_tensor *x = fx_get(fx, "%s.x", kind), *h = fx_get(fx, "%s.h", kind), *c = NULL, *cn = NULL, *hn;
    cg_set_requires_grad(x, true);
    cg_set_requires_grad(h, true);
    cg_tensor *w = cg_reshape(cg_arange(0, 8, 1), CG_SHAPE(2, 4));
    cg_tensor *loss;
    if (_i == 1) {
        c = fx_get(fx, "%s.c", kind);
        cg_set_requires_grad(c, true);
        hn = cg_lstm_cell_forward(m, x, h, c, &cn);
        ck_assert_tensor_close(cn, fx_get(fx, "%s.cn", kind), 1e-5, 1e-6);
        loss = cg_add(cg_sum(cg_mul(hn, w)), cg_sum(cg_mul(cn, cn)));
    } else {
        hn = _i == 0 ? cg_rnn_cell_forward(m, x, h) : cg_gru_cell_forward(m, x, h);
        loss = cg_sum(cg_mul(hn, w));
    }
    ck_assert_tensor_close(hn, fx_get(fx, "%s.hn", kind), 1e-5, 1e-6);
    cg_backward(loss);
    for (int i = 0; i < n; i++)
        ck_assert_tensor_close_scaled(cg_grad(ps[i]), fx_get(fx, "%s.grad.%s", kind, cg_param_name(m, i)), 1e-5);
    ck_assert_tensor_close_scaled(cg_grad(x), fx_get(fx, "%s.grad_x", kind), 1e-5);
    ck_assert_tensor_close_scaled(cg_grad(h), fx_get(fx, "%s.grad_h", kind), 1e-5);
    if (c)
        ck_assert_tensor_close_scaled(cg_grad(c), fx_get(fx, "%s.grad_c", kind), 1e-5);
    /* unbatched: (I) in, (H) out, the same numbers as row 0 */
    cg_tensor *h1 = _i == 1 ? cg_lstm_cell_forward(m, cg_select(x, 0, 0), cg_select(h, 0, 0), cg_select(c, 0, 0), NULL)
                    : _i == 0 ? cg_rnn_cell_forward(m, cg_select(x, 0, 0), cg_select(h, 0, 0))
                              : cg_gru_cell_forward(m, cg_select(x, 0, 0), cg_select(h, 0, 0));
    ck_assert_tensor_close(h1, cg_select(hn, 0, 0), 1e-6, 1e-7);
    cg_frame_end();
    cg_module_free(m);
}
END_TEST

START_TEST(linear_and_embedding_init_like_pytorch)
{
    cg_manual_seed(3);
    cg_module *lin = cg_linear_new(.in_features = 7, .out_features = 3);
    cg_manual_seed(4);
    cg_module *emb = cg_embedding_new(.num_embeddings = 6, .embedding_dim = 4);
    cg_frame_begin();
    ck_assert_tensor_close(cg_param(lin, "weight"), fx_get(fx, "linear.weight"), 0, 0);
    ck_assert_tensor_close(cg_param(lin, "bias"), fx_get(fx, "linear.bias"), 0, 0);
    ck_assert_tensor_close(cg_param(emb, "weight"), fx_get(fx, "embedding.weight"), 1e-6, 1e-6);
    ck_assert_int_eq(cg_num_params(lin), 24);
    /* forward: x Wᵀ + b, for any leading dims */
    cg_tensor *x = cg_randn(CG_SHAPE(2, 5, 7));
    cg_tensor *y = cg_linear_forward(lin, x);
    cg_tensor *ref = cg_add(cg_matmul(x, cg_transpose(cg_param(lin, "weight"), 0, 1)), cg_param(lin, "bias"));
    ck_assert_tensor_close(y, ref, 1e-5, 1e-6);
    cg_tensor *ids = cg_tensor_from((float[]){5, 0, 5}, CG_SHAPE(3));
    cg_tensor *e = cg_embedding_forward(emb, ids);
    ck_assert_tensor_close(cg_select(e, 0, 2), cg_select(cg_param(emb, "weight"), 0, 5), 0, 0);
    cg_frame_end();
    cg_module *nb = cg_linear_new(.in_features = 2, .out_features = 2, .bias = false);
    int n;
    cg_parameters(nb, &n);
    ck_assert_int_eq(n, 1);
    ck_assert_ptr_null(cg_param(nb, "bias"));
    cg_module_free(nb);
    cg_module_free(lin);
    cg_module_free(emb);
}
END_TEST

/* The lecture's program prints PyTorch's numbers. */
START_TEST(seed_program_prints_pytorchs_numbers)
{
    enum { H, E, L, O };
    const int word[3][5] = {{H, E, L, L, O}, {E, O, L, L, L}, {L, L, E, E, L}};
    float x[60] = {0};
    for (int i = 0; i < 3; i++)
        for (int t = 0; t < 5; t++)
            x[(i * 5 + t) * 4 + word[i][t]] = 1;
    for (int bf = 0; bf < 2; bf++) {
        cg_manual_seed(0);
        cg_module *rnn = cg_rnn_new(.input_size = 4, .hidden_size = 2, .batch_first = bf);
        cg_frame_begin();
        cg_tensor *status;
        cg_tensor *out = cg_rnn_forward(rnn, cg_tensor_from(x, CG_SHAPE(3, 5, 4)), NULL, &status);
        ck_assert_tensor_close(out, fx_get(fx, bf ? "seed_bf.outputs" : "seed.outputs"), 1e-6, 1e-6);
        if (!bf)
            ck_assert_tensor_close(status, fx_get(fx, "seed.status"), 1e-6, 1e-6);
        char buf[1024];
        cg_tensor_str(out, buf, sizeof buf);
        if (!bf)
            ck_assert_ptr_nonnull(strstr(buf, "tensor([[[-0.7497, -0.6135],\n         [-0.5282, -0.2473],"));
        cg_shape_str(out, buf, sizeof buf);
        ck_assert_str_eq(buf, "(3, 5, 2)");
        if (!bf) { /* print(rnn.bias_hh_l0), as torch shows an nn.Parameter */
            cg_tensor_str(cg_param(rnn, "bias_hh_l0"), buf, sizeof buf);
            ck_assert_str_eq(buf, "Parameter containing:\ntensor([-0.2915,  0.0262], requires_grad=True)");
        }
        cg_frame_end();
        cg_module_free(rnn);
    }
}
END_TEST

/* hello's first 15 training losses are PyTorch's. */
START_TEST(hello_training_follows_pytorch)
{
    cg_manual_seed(0);
    cg_module *rnn = cg_rnn_new(.input_size = 5, .hidden_size = 8);
    cg_module *fc = cg_linear_new(.in_features = 8, .out_features = 5);
    int nr, nf;
    cg_tensor *params[6];
    memcpy(params, cg_parameters(rnn, &nr), 4 * sizeof(cg_tensor *));
    memcpy(params + 4, cg_parameters(fc, &nf), 2 * sizeof(cg_tensor *));
    cg_optim *opt = cg_adam_new(params, 6, .lr = 0.1);
    const float in_ids[6] = {0, 1, 0, 2, 3, 3}, out_ids[6] = {1, 0, 2, 3, 3, 4};
    cg_tensor *ids = cg_tensor_from(in_ids, CG_SHAPE(6));
    cg_tensor *x = cg_one_hot(ids, 5), *y = cg_tensor_from(out_ids, CG_SHAPE(6));
    cg_tensor *expected = fx_get(fx, "hello.losses");
    for (int step = 0; step < 15; step++) {
        cg_frame_begin();
        cg_tensor *loss = cg_cross_entropy(cg_linear_forward(fc, cg_rnn_forward(rnn, x, NULL, NULL)), y);
        cg_optim_zero_grad(opt);
        cg_backward(loss);
        cg_optim_step(opt);
        ck_assert_msg(fabsf(cg_item(loss) - cg_data(expected)[step]) <= 1e-4f * (1 + fabsf(cg_data(expected)[step])),
                      "step %d: loss %.7f, PyTorch %.7f", step, (double)cg_item(loss), (double)cg_data(expected)[step]);
        cg_frame_end();
    }
    cg_optim_free(opt);
    cg_module_free(rnn);
    cg_module_free(fc);
    cg_tensor_free(x);
    cg_tensor_free(y);
    cg_tensor_free(ids);
    cg_tensor_free(expected);
}
END_TEST

/* Truncated BPTT: carry h across chunks with detach; each chunk's backward stops at its start. */
START_TEST(truncated_bptt_carries_detached_state)
{
    cg_manual_seed(1);
    cg_module *rnn = cg_rnn_new(.input_size = 2, .hidden_size = 3);
    cg_tensor *carry = cg_zeros(CG_SHAPE(1, 1, 3)); /* lives outside the frames */
    cg_tensor *seq = cg_randn(CG_SHAPE(8, 1, 2));
    for (int chunk = 0; chunk < 2; chunk++) {
        cg_frame_begin();
        cg_tensor *h0 = cg_detach(carry), *hn;
        cg_tensor *out = cg_rnn_forward(rnn, cg_narrow(seq, 0, chunk * 4, 4), h0, &hn);
        if (chunk == 0)
            cg_module_zero_grad(rnn);
        else { /* torch's model.zero_grad(set_to_none=True): every .grad None, then this chunk's alone */
            ck_assert_int_eq(cg_module_zero_grad_set_to_none(rnn), 0);
            int n;
            cg_tensor **ps = cg_parameters(rnn, &n);
            for (int i = 0; i < n; i++)
                ck_assert_ptr_null(cg_grad(ps[i]));
        }
        ck_assert_int_eq(cg_backward(cg_sum(out)), 0);
        ck_assert(!cg_requires_grad(h0));
        cg_copy_(carry, hn);
        cg_frame_end();
    }
    /* the carried state equals running the whole sequence at once */
    cg_frame_begin();
    cg_tensor *hn;
    cg_rnn_forward(rnn, seq, NULL, &hn);
    ck_assert_tensor_close(carry, hn, 1e-6, 1e-7);
    cg_frame_end();
    cg_tensor_free(carry);
    cg_tensor_free(seq);
    cg_module_free(rnn);
}
END_TEST

/* LSTM and GRU (their gates are one op each, ops_cells.c): backward agrees with
 * central differences for the input, both states and every parameter, over 6 steps,
 * with c_n used too (so the cell state's gradient flows from both outputs). */
static cg_module *gated;
static cg_tensor *gated_fn(cg_tensor **in, void *ctx)
{
    (void)ctx;
    if (strcmp(cg_module_type(gated), "GRU") == 0)
        return cg_gru_forward(gated, in[0], in[1], NULL);
    cg_tensor *c_n = NULL, *out = cg_lstm_forward(gated, in[0], in[1], in[2], NULL, &c_n);
    return cg_add(cg_sum(out), cg_mul_scalar(cg_sum(cg_mul(c_n, c_n)), 0.5f));
}

START_TEST(lstm_and_gru_pass_gradcheck)
{
    cg_manual_seed(11);
    for (int k = 0; k < 2; k++) {
        cg_rnn_opts o = CG_OPTS(cg_rnn_opts, .input_size = 3, .hidden_size = 4, .num_layers = 2);
        gated = k == 0 ? cg_lstm_new_with(o) : cg_gru_new_with(o);
        cg_frame_begin();
        cg_tensor *x = cg_randn(CG_SHAPE(6, 2, 3)), *h0 = cg_randn(CG_SHAPE(2, 2, 4)), *c0 = cg_randn(CG_SHAPE(2, 2, 4));
        cg_tensor *in[3] = {x, h0, c0};
        for (int i = 0; i < 3; i++)
            cg_set_requires_grad(in[i], true);
        ck_assert_msg(cg_gradcheck(gated_fn, in, k == 0 ? 3 : 2, NULL, .eps = 1e-2f, .atol = 2e-3f, .rtol = 2e-2f) == 0,
                      "%s: %s", cg_module_type(gated), cg_last_error());
        for (int i = 0; i < 3; i++)
            cg_set_requires_grad(in[i], false);
        for (int p = 0; p < cg_param_count(gated); p++) {
            cg_tensor *withp[4] = {x, h0, c0, cg_param_at(gated, p)};
            if (k == 1)
                withp[2] = withp[3];
            ck_assert_msg(cg_gradcheck(gated_fn, withp, k == 0 ? 4 : 3, NULL, .eps = 1e-2f, .atol = 2e-3f,
                                       .rtol = 2e-2f) == 0, "%s %s: %s", cg_module_type(gated),
                          cg_param_name(gated, p), cg_last_error());
        }
        cg_frame_end();
        cg_module_free(gated);
    }
}
END_TEST

/* The recurrent weight is packed once per forward (nn/recurrent.c): the same bits
 * as the step products composed by hand, which pack it at every step, for 1 and
 * 2 threads (H = 320: the products split over the threads, and K in two blocks). */
START_TEST(packed_recurrent_weight_gives_the_same_bits)
{
    if (!fx_threads_run())
        return;
    for (int threads = 1; threads <= 2; threads++) {
        ck_assert_int_eq(cg_set_num_threads(threads), 0);
        cg_manual_seed(3);
        cg_module *rnn = cg_rnn_new(.input_size = 16, .hidden_size = 320);
        cg_frame_begin();
        cg_tensor *x = cg_randn(CG_SHAPE(5, 32, 16));
        cg_tensor *out = cg_rnn_forward(rnn, x, NULL, NULL);
        cg_tensor *w_ih = cg_param(rnn, "weight_ih_l0"), *w_hh = cg_param(rnn, "weight_hh_l0");
        cg_tensor *xw = cg_linear(x, w_ih, cg_param(rnn, "bias_ih_l0")), *h = cg_zeros(CG_SHAPE(32, 320));
        for (int t = 0; t < 5; t++) {
            h = cg_linear_act(h, w_hh, cg_param(rnn, "bias_hh_l0"), cg_select(xw, 0, t), CG_TANH);
            ck_assert_tensor_close(cg_select(out, 0, t), h, 0, 0);
        }
        cg_frame_end();
        cg_module_free(rnn);
    }
    ck_assert_int_eq(cg_set_num_threads(1), 0);
}
END_TEST

static cg_module *deep_rnn;
static cg_tensor *deep_fn(cg_tensor **in, void *ctx)
{
    (void)ctx;
    return cg_rnn_forward(deep_rnn, in[0], in[1], NULL);
}

/* A 3-layer RNN over 200 steps: backward agrees with central differences. */
START_TEST(deep_long_rnn_passes_gradcheck)
{
    cg_manual_seed(5);
    deep_rnn = cg_rnn_new(.input_size = 2, .hidden_size = 3, .num_layers = 3);
    cg_frame_begin();
    cg_tensor *x = cg_mul_scalar(cg_randn(CG_SHAPE(200, 1, 2)), 0.5f), *h0 = cg_randn(CG_SHAPE(3, 1, 3));
    x = cg_tensor_copy(x);
    cg_set_requires_grad(x, true);
    cg_set_requires_grad(h0, true);
    int n;
    cg_tensor **ps = cg_parameters(deep_rnn, &n);
    cg_tensor *inputs[2] = {x, h0};
    ck_assert_msg(cg_gradcheck(deep_fn, inputs, 2, NULL, .eps = 1e-2f, .atol = 2e-3f, .rtol = 2e-2f) == 0, "%s",
                  cg_last_error());
    /* and the parameters, through the same function */
    for (int i = 0; i < n; i += 3) {
        cg_tensor *withp[3] = {x, h0, ps[i]};
        cg_set_requires_grad(x, false);
        cg_set_requires_grad(h0, false);
        ck_assert_msg(cg_gradcheck(deep_fn, withp, 3, NULL, .eps = 1e-2f, .atol = 2e-3f, .rtol = 2e-2f) == 0,
                      "%s: %s", cg_param_name(deep_rnn, i), cg_last_error());
    }
    cg_frame_end();
    cg_tensor_free(x);
    cg_module_free(deep_rnn);
}
END_TEST

START_TEST(modules_print_like_pytorch)
{
    char buf[256];
    cg_module *m = cg_rnn_new(.input_size = 4, .hidden_size = 2);
    cg_module_str(m, buf, sizeof buf);
    ck_assert_str_eq(buf, "RNN(4, 2)");
    cg_module_free(m);
    m = cg_lstm_new(.input_size = 4, .hidden_size = 2, .num_layers = 2, .batch_first = true, .dropout = 0.5f,
                    .bidirectional = true, .bias = false);
    cg_module_str(m, buf, sizeof buf);
    ck_assert_str_eq(buf, "LSTM(4, 2, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)");
    ck_assert_str_eq(cg_param_name(m, 3), "weight_hh_l0_reverse");
    ck_assert_ptr_nonnull(cg_param(m, "weight_ih_l1_reverse"));
    ck_assert_int_eq(cg_shape(cg_param(m, "weight_ih_l1"))[1], 4); /* D * H */
    cg_module_free(m);
    m = cg_linear_new(.in_features = 8, .out_features = 5);
    cg_module_str(m, buf, sizeof buf);
    ck_assert_str_eq(buf, "Linear(in_features=8, out_features=5, bias=True)");
    ck_assert(cg_module_is_training(m));
    cg_module_train(m, false);
    ck_assert(!cg_module_is_training(m));
    cg_module_free(m);
    m = cg_rnn_cell_new(.input_size = 3, .hidden_size = 2, .nonlinearity = CG_RELU);
    cg_module_str(m, buf, sizeof buf);
    ck_assert_str_eq(buf, "RNNCell(3, 2, nonlinearity=relu)");
    cg_module_free(m);
}
END_TEST

START_TEST(bad_module_use_fails_cleanly)
{
    cg_clear_error();
    ck_assert_ptr_null(cg_rnn_new(.input_size = 0, .hidden_size = 2));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "must be positive"));
    ck_assert_ptr_null(cg_rnn_new(.input_size = 4, .hidden_size = 2, .dropout = 2));
    ck_assert_ptr_null(cg_rnn_new(.input_size = 4, .hidden_size = 2, .nonlinearity = (cg_nonlinearity)9));
    ck_assert_ptr_null(cg_lstm_new(.input_size = 4, .hidden_size = 2, .nonlinearity = CG_RELU));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "LSTM has no nonlinearity option"));
    ck_assert_ptr_null(cg_linear_new(.in_features = -1, .out_features = 2));
    ck_assert_ptr_null(cg_embedding_new(.num_embeddings = 0, .embedding_dim = 2));
    cg_module *rnn = cg_rnn_new(.input_size = 4, .hidden_size = 2);
    cg_frame_begin();
    cg_tensor *hn = (cg_tensor *)1;
    ck_assert_ptr_null(cg_rnn_forward(rnn, cg_zeros(CG_SHAPE(3, 5, 3)), NULL, &hn));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "expected input of shape (T, B, 4)"));
    ck_assert_ptr_null(hn);
    ck_assert_ptr_null(cg_rnn_forward(rnn, cg_zeros(CG_SHAPE(3, 5, 4)), cg_zeros(CG_SHAPE(1, 4, 2)), NULL));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "expected h0 of shape (1, 5, 2)"));
    ck_assert_ptr_null(cg_rnn_forward(rnn, cg_zeros(CG_SHAPE(0, 5, 4)), NULL, NULL));
    ck_assert_ptr_null(cg_rnn_forward(rnn, NULL, NULL, NULL));
    ck_assert_ptr_null(cg_rnn_forward(NULL, cg_zeros(CG_SHAPE(3, 5, 4)), NULL, NULL));
    ck_assert_ptr_null(cg_lstm_forward(rnn, cg_zeros(CG_SHAPE(3, 5, 4)), NULL, NULL, NULL, NULL));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "given a RNN module"));
    ck_assert_ptr_null(cg_linear_forward(rnn, cg_zeros(CG_SHAPE(3))));
    ck_assert_ptr_null(cg_param(rnn, "nope"));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "RNN has no parameter 'nope'"));
    ck_assert_ptr_null(cg_param(rnn, NULL));
    ck_assert_ptr_null(cg_param_name(rnn, 4));
    ck_assert_ptr_null(cg_parameters(NULL, NULL));
    ck_assert_int_eq(cg_num_params(NULL), -1);
    ck_assert_int_eq(cg_module_str(NULL, NULL, 0), -1);
    cg_frame_end();
    cg_module_free(rnn);
    cg_module_free(NULL);
}
END_TEST

/* Outside any frame a forward's intermediates belong to its result: freeing the
 * result frees them (the sanitizer run checks nothing leaks). */
START_TEST(heap_graphs_free_with_their_result)
{
    cg_module *rnn = cg_lstm_new(.input_size = 2, .hidden_size = 3, .num_layers = 2, .bidirectional = true);
    cg_tensor *x = cg_randn(CG_SHAPE(4, 2, 2)), *hn, *cn;
    cg_tensor *out = cg_lstm_forward(rnn, x, NULL, NULL, &hn, &cn);
    ck_assert_ptr_nonnull(out);
    cg_tensor *s1 = cg_sum(out), *s2 = cg_sum(hn); /* every tensor a call returns is ours to free */
    cg_tensor *loss = cg_add(s1, s2);
    ck_assert_int_eq(cg_backward(loss), 0);
    ck_assert_ptr_nonnull(cg_grad(cg_param(rnn, "weight_hh_l1_reverse")));
    cg_tensor_free(loss);
    cg_tensor_free(s1);
    cg_tensor_free(s2);
    cg_tensor_free(out);
    cg_tensor_free(hn);
    cg_tensor_free(cn);
    cg_tensor_free(x);
    cg_module_free(rnn);
}
END_TEST

START_TEST(sequential_matches_pytorch)
{
    cg_manual_seed(8);
    cg_module *parts[4] = {cg_linear_new(.in_features = 4, .out_features = 6), cg_tanh_new(),
                           cg_linear_new(.in_features = 6, .out_features = 3), cg_relu_new()};
    cg_module *seq = cg_sequential_new(parts, 4);
    int n;
    cg_tensor **ps = cg_parameters(seq, &n);
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(cg_param_name(seq, 2), "2.weight");
    ck_assert_ptr_eq(cg_param(seq, "2.bias"), cg_param(cg_module_child_at(seq, 2), "bias"));
    ck_assert_int_eq(cg_module_child_count(seq), 4);
    ck_assert_ptr_eq(cg_param_at(seq, cg_param_count(seq) - 1), cg_param(seq, "2.bias"));
    cg_frame_begin();
    for (int i = 0; i < n; i++)
        ck_assert_tensor_close(ps[i], fx_get(fx, "seq.param.%s", cg_param_name(seq, i)), 0, 0);
    cg_tensor *out = cg_module_forward(seq, fx_get(fx, "seq.x"));
    ck_assert_tensor_close(out, fx_get(fx, "seq.out"), 1e-5, 1e-6);
    cg_backward(cg_sum(cg_mul(out, cg_reshape(cg_arange(0, 15, 1), CG_SHAPE(5, 3)))));
    for (int i = 0; i < n; i++)
        ck_assert_tensor_close_scaled(cg_grad(ps[i]), fx_get(fx, "seq.grad.%s", cg_param_name(seq, i)), 1e-5);
    cg_frame_end();
    char buf[512];
    cg_module_str(seq, buf, sizeof buf);
    ck_assert_str_eq(buf, "Sequential(\n"
                          "  (0): Linear(in_features=4, out_features=6, bias=True)\n"
                          "  (1): Tanh()\n"
                          "  (2): Linear(in_features=6, out_features=3, bias=True)\n"
                          "  (3): ReLU()\n"
                          ")");
    cg_module_train(seq, false);
    ck_assert(!cg_module_is_training(cg_module_child_at(seq, 0)));
    cg_module_free(seq); /* frees the children and their parameters */
    cg_module *d = cg_dropout_new(.p = 0.25f);
    cg_module_str(d, buf, sizeof buf);
    ck_assert_str_eq(buf, "Dropout(p=0.25, inplace=False)");
    cg_module_free(d);
    ck_assert_ptr_null(cg_dropout_new(.p = 2));
    cg_module *half = cg_dropout_new(); /* torch's default p */
    cg_module_str(half, buf, sizeof buf);
    ck_assert_str_eq(buf, "Dropout(p=0.5, inplace=False)");
    cg_module_free(half);
    ck_assert_ptr_null(cg_sequential_new(NULL, -1));
    cg_module *empty = cg_sequential_new(NULL, 0); /* torch: nn.Sequential() prints as "Sequential()" */
    ck_assert_ptr_nonnull(empty);
    cg_module_str(empty, buf, sizeof buf);
    ck_assert_str_eq(buf, "Sequential()");
    cg_module_free(empty);
    ck_assert_ptr_null(cg_module_child_at(NULL, 0));
}
END_TEST

/* A scratch path for this test process. */
static const char *tmp_path(const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "/tmp/cgrad_test_%d_%s", (int)getpid(), name);
    return buf;
}

static bool params_equal(cg_module *a, cg_module *b)
{
    int n, k;
    cg_tensor **pa = cg_parameters(a, &n), **pb = cg_parameters(b, &k);
    for (int i = 0; i < n; i++)
        if (memcmp(cg_data(pa[i]), cg_data(pb[i]), sizeof(float) * (size_t)cg_numel(pa[i])))
            return false;
    return n == k;
}

/* nanoGPT's tie: lm_head.weight = wte.weight, one tensor in two modules. */
static cg_module *tied_model(void)
{
    cg_module *m = cg_module_new("Tied");
    ck_assert_int_eq(cg_module_add_child(m, "wte", cg_embedding_new(.num_embeddings = 7, .embedding_dim = 4)), 0);
    ck_assert_int_eq(cg_module_add_child(m, "ln", cg_layer_norm_new(.normalized_shape = 4)), 0);
    ck_assert_int_eq(cg_module_add_child(m, "lm_head", cg_linear_new(.in_features = 4, .out_features = 7, .bias = false)), 0);
    ck_assert_int_eq(cg_module_set_param(m, "lm_head.weight", cg_param(m, "wte.weight")), 0);
    return m;
}

/* Listed once, its gradient the sum of both uses, updated once: three AdamW steps against
 * PyTorch; saved once under the name safetensors' save_model keeps, loaded under either. */
START_TEST(tied_weights_match_pytorch)
{
    cg_module *m = tied_model();
    cg_tensor *w = cg_param(m, "wte.weight");
    ck_assert_ptr_eq(cg_param(m, "lm_head.weight"), w);
    ck_assert_int_eq(cg_param_count(m), 3); /* torch: wte.weight ln.weight ln.bias */
    ck_assert_str_eq(cg_param_name(m, 0), "wte.weight");
    ck_assert_str_eq(cg_param_name(m, 2), "ln.bias");
    ck_assert_int_eq(cg_num_params(m), 28 + 8);
    cg_tensor *w0 = fx_get(fx, "tied.weight");
    cg_no_grad_begin();
    cg_copy_(w, w0);
    cg_no_grad_end();
    int n;
    cg_tensor **ps = cg_parameters(m, &n);
    cg_optim *opt = cg_adamw_new(ps, n, .lr = 0.01);
    for (int step = 0; step < 3; step++) {
        cg_frame_begin();
        cg_optim_zero_grad(opt);
        cg_tensor *ids = cg_tensor_from((float[]){1, 3, 5, 6, 0, 2}, CG_SHAPE(2, 3));
        cg_tensor *target = cg_tensor_from((float[]){3, 5, 6, 0, 2, 1}, CG_SHAPE(6));
        cg_tensor *h = cg_module_forward(cg_module_child(m, "ln"), cg_embedding_forward(cg_module_child(m, "wte"), ids));
        cg_tensor *logits = cg_linear_forward(cg_module_child(m, "lm_head"), h);
        cg_tensor *loss = cg_cross_entropy(cg_reshape(logits, CG_SHAPE(6, 7)), target);
        ck_assert_tensor_close(loss, fx_get(fx, "tied.loss.%d", step), 1e-5, 1e-6);
        ck_assert_int_eq(cg_backward(loss), 0);
        ck_assert_tensor_close_scaled(cg_grad(w), fx_get(fx, "tied.grad.%d", step), 1e-5);
        ck_assert_int_eq(cg_optim_step(opt), 0);
        ck_assert_tensor_close(w, fx_get(fx, "tied.after.%d", step), 1e-5, 1e-6);
        cg_frame_end();
    }
    cg_optim_free(opt);
    /* saved once, as "lm_head.weight" (the first of its names in sorted order) */
    char path[256];
    snprintf(path, sizeof path, "%s", tmp_path("tied.safetensors"));
    ck_assert_int_eq(cg_module_save(m, path), 0);
    cg_safetensors *f = cg_safetensors_open(path);
    ck_assert_int_eq(cg_safetensors_count(f), 3);
    int64_t shape[CG_MAX_DIMS];
    ck_assert_int_eq(cg_safetensors_shape(f, "lm_head.weight", shape), 2);
    ck_assert_int_lt(cg_safetensors_shape(f, "wte.weight", shape), 0);
    cg_safetensors_close(f);
    cg_module *back = tied_model();
    ck_assert_int_eq(cg_module_load(back, path), 0);
    ck_assert(params_equal(m, back));
    /* a file with the other name (what torch's state_dict, trimmed, might hold) loads too;
     * one without the weight under any name is refused and changes nothing */
    const char *names[3] = {"wte.weight", "ln.weight", "ln.bias"};
    cg_tensor *ts[3] = {w0, cg_param(m, "ln.weight"), cg_param(m, "ln.bias")};
    ck_assert_int_eq(cg_safetensors_save(path, 3, names, ts, 0, NULL, NULL), 0);
    cg_clear_error();
    ck_assert_int_eq(cg_module_load(back, path), 0);
    ck_assert_str_eq(cg_last_error(), ""); /* the name it is not under leaves no message behind */
    ck_assert_tensor_close(cg_param(back, "lm_head.weight"), w0, 0, 0);
    ck_assert_int_eq(cg_safetensors_save(path, 2, names + 1, ts + 1, 0, NULL, NULL), 0);
    cg_clear_error();
    ck_assert_int_eq(cg_module_load(back, path), -1);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "missing key 'wte.weight'"));
    ck_assert_tensor_close(cg_param(back, "wte.weight"), w0, 0, 0);
    remove(path);
    cg_module_free(back);
    cg_module_free(m);
    cg_tensor_free(w0);
}
END_TEST

/* Reading a module's parameter list is a read: threads may ask together (TSan in CI). */
static void *read_params(void *arg)
{
    cg_module *m = arg;
    for (int k = 0; k < 2000; k++) {
        int n;
        cg_tensor **ps = cg_parameters(m, &n);
        if (n != 3 || ps[0] != cg_param_at(m, 0) || strcmp(cg_param_name(m, 0), "wte.weight") || cg_param_count(m) != 3 ||
            cg_num_params(m) != 36)
            return (void *)1;
    }
    return NULL;
}

START_TEST(parameter_lists_are_read_by_threads_together)
{
    if (!fx_threads_run())
        return;
    cg_module *m = tied_model();
    pthread_t a, b;
    void *ra, *rb;
    ck_assert_int_eq(pthread_create(&a, NULL, read_params, m), 0);
    ck_assert_int_eq(pthread_create(&b, NULL, read_params, m), 0);
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    ck_assert_ptr_null(ra);
    ck_assert_ptr_null(rb);
    cg_module_free(m);
}
END_TEST

/* cg_module_set_param refuses what torch refuses, or what would break the module, and
 * leaves it as it was. */
START_TEST(set_param_refuses_bad_use)
{
    cg_module *m = tied_model();
    cg_tensor *w = cg_param(m, "wte.weight"), *other = cg_zeros(CG_SHAPE(7, 5));
    cg_clear_error();
    ck_assert_int_eq(cg_module_set_param(m, "lm_head.weight", other), -1); /* shape */
    ck_assert_str_eq(cg_last_error(), "cg_module_set_param: 'lm_head.weight' has shape (7, 4); the tensor given has (7, 5)");
    ck_assert_int_eq(cg_module_set_param(m, "lm_head.bias", w), -1);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "has no parameter 'bias'"));
    ck_assert_int_eq(cg_module_set_param(m, "head.weight", w), -1);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_module_set_param: Tied has no child 'head'"));
    ck_assert_int_eq(cg_module_set_param(m, NULL, w), -1);
    ck_assert_int_eq(cg_module_set_param(m, "lm_head.weight", NULL), -1);
    ck_assert_int_eq(cg_module_set_param(NULL, "weight", w), -1);
    cg_frame_begin();
    cg_tensor *made = cg_mul_scalar(w, 2.0f), *framed = cg_zeros(CG_SHAPE(7, 4));
    ck_assert_int_eq(cg_module_set_param(m, "lm_head.weight", made), -1); /* an op's result */
    ck_assert_int_eq(cg_module_set_param(m, "lm_head.weight", framed), -1);
    cg_frame_end();
    ck_assert_ptr_eq(cg_param(m, "lm_head.weight"), w); /* all refused: still tied */
    ck_assert_int_eq(cg_param_count(m), 3);
    /* untied again: a fresh tensor of its own, listed on its own */
    cg_tensor *own = cg_zeros(CG_SHAPE(7, 4));
    ck_assert_int_eq(cg_module_set_param(m, "lm_head.weight", own), 0);
    cg_tensor_free(own); /* the module holds its own reference */
    ck_assert_int_eq(cg_param_count(m), 4);
    ck_assert_str_eq(cg_param_name(m, 3), "lm_head.weight");
    ck_assert(cg_requires_grad(cg_param(m, "lm_head.weight")));
    ck_assert_int_eq(cg_module_set_param(m, "lm_head.weight", cg_param(m, "lm_head.weight")), 0); /* itself */
    cg_module_free(m);
    cg_tensor_free(other);
}
END_TEST

START_TEST(module_files_round_trip_and_load_pytorchs)
{
    cg_manual_seed(1);
    cg_module *a = cg_lstm_new(.input_size = 3, .hidden_size = 4, .num_layers = 2);
    cg_manual_seed(2);
    cg_module *b = cg_lstm_new(.input_size = 3, .hidden_size = 4, .num_layers = 2);
    ck_assert(!params_equal(a, b));
    char path[256];
    snprintf(path, sizeof path, "%s", tmp_path("lstm.safetensors"));
    ck_assert_int_eq(cg_module_save(a, path), 0);
    ck_assert_int_eq(cg_module_load(b, path), 0);
    ck_assert(params_equal(a, b));
    remove(path);
    /* a state_dict PyTorch wrote loads and gives PyTorch's outputs */
    ck_assert_int_eq(cg_module_load(b, FIXTURE_DIR "/lstm_pytorch.safetensors"), 0);
    cg_frame_begin();
    cg_tensor *out = cg_lstm_forward(b, fx_get(fx, "st.x"), NULL, NULL, NULL, NULL);
    ck_assert_tensor_close(out, fx_get(fx, "st.out"), 1e-5, 1e-6);
    cg_frame_end();
    cg_module_free(a);
    cg_module_free(b);
}
END_TEST

/* Writes bytes to the scratch file. */
static const char *write_bytes(const char *name, const void *data, size_t n)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
    return path;
}

START_TEST(bad_module_files_leave_the_module_untouched)
{
    cg_manual_seed(1);
    cg_module *m = cg_rnn_new(.input_size = 3, .hidden_size = 4);
    cg_manual_seed(1);
    cg_module *orig = cg_rnn_new(.input_size = 3, .hidden_size = 4);
    char good[256];
    snprintf(good, sizeof good, "%s", tmp_path("good.safetensors"));
    ck_assert_int_eq(cg_module_save(m, good), 0);
    FILE *f = fopen(good, "rb");
    unsigned char bytes[4096];
    size_t n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | bytes[i];
    struct {
        const char *what, *expect;
        size_t len;
        void (*mutate)(unsigned char *b, uint64_t hlen);
    } cases[] = {
        {"truncated data", "lies outside the data", n - 4, NULL},
        {"truncated header", "not a safetensors file", 20, NULL},
        {"empty", "not a safetensors file", 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cg_clear_error();
        ck_assert_int_eq(cg_module_load(m, write_bytes("bad.safetensors", bytes, cases[i].len)), -1);
        ck_assert_msg(strstr(cg_last_error(), cases[i].expect), "%s: %s", cases[i].what, cg_last_error());
        ck_assert(params_equal(m, orig));
    }
    /* corrupt the JSON */
    unsigned char bad[4096];
    memcpy(bad, bytes, n);
    bad[8] = 'x';
    ck_assert_int_eq(cg_module_load(m, write_bytes("bad.safetensors", bad, n)), -1);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "not one strict JSON object"));
    /* a header length past the end of the file */
    memcpy(bad, bytes, n);
    bad[0] = 0xff, bad[1] = 0xff;
    ck_assert_int_eq(cg_module_load(m, write_bytes("bad.safetensors", bad, n)), -1);
    /* the wrong shape: a module of another size */
    cg_module *other = cg_rnn_new(.input_size = 3, .hidden_size = 5);
    ck_assert_int_eq(cg_module_load(other, good), -1);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "has shape (4, 3) in the file, (5, 3) in the module"));
    /* missing and unexpected keys */
    cg_module *two = cg_rnn_new(.input_size = 3, .hidden_size = 4, .num_layers = 2);
    ck_assert_int_eq(cg_module_load(two, good), -1);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "missing key 'weight_ih_l1'"));
    char two_path[256];
    snprintf(two_path, sizeof two_path, "%s", tmp_path("two.safetensors"));
    cg_module_save(two, two_path);
    ck_assert_int_eq(cg_module_load(m, two_path), -1);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "unexpected key"));
    /* overlapping entries: point one entry's offsets at another's */
    char *hdr = (char *)bad + 8;
    memcpy(bad, bytes, n);
    char *offs = strstr(hdr, "\"data_offsets\":[48,");
    ck_assert_ptr_nonnull(offs);
    memcpy(offs, "\"data_offsets\":[40,", 19);
    ck_assert_int_eq(cg_module_load(m, write_bytes("bad.safetensors", bad, n)), -1);
    ck_assert_msg(strstr(cg_last_error(), "overlaps") || strstr(cg_last_error(), "spans"), "%s", cg_last_error());
    ck_assert(params_equal(m, orig));
    ck_assert_int_eq(cg_module_load(m, "/nonexistent/x.safetensors"), -1);
    ck_assert_int_eq(cg_module_load(m, NULL), -1);
    ck_assert_int_eq(cg_module_save(m, "/nonexistent/dir/x.safetensors"), -1);
    ck_assert_int_eq(cg_module_save(NULL, good), -1);
    (void)hlen;
    remove(good);
    remove(two_path);
    remove(tmp_path("bad.safetensors"));
    cg_module_free(m);
    cg_module_free(orig);
    cg_module_free(other);
    cg_module_free(two);
}
END_TEST

static int count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* The DOT of a T-step RNN: one cluster per step, the expected op and tensor nodes. */
/* cg_graph_json on the degenerate roots: a 0-d leaf, a size-0 tensor, a sum over nothing */
START_TEST(graph_json_of_degenerate_roots)
{
    cg_tensor *roots[3] = {cg_scalar(2.0f), cg_zeros(CG_SHAPE(0, 3)), NULL};
    ck_assert_int_eq(cg_set_requires_grad(roots[1], true), 0);
    roots[2] = cg_sum(roots[1]); /* recorded: the sum and its empty input */
    const char *shapes[3] = {"\"shape\":\"()\"", "\"shape\":\"(0, 3)\",\"step\":-1,\"numel\":0", "\"shape\":\"()\""};
    for (int k = 0; k < 3; k++) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        ck_assert_int_eq(cg_graph_json(roots[k], f), 0);
        fclose(f);
        ck_assert_msg(strstr(text, shapes[k]) != NULL, "%s", text);
        ck_assert_int_eq(count(text, "\"id\":\"t"), k == 2 ? 2 : 1);
        ck_assert_int_eq(count(text, "\"id\":\"op"), k == 2 ? 1 : 0);
        ck_assert_ptr_nonnull(strstr(text, k == 1 ? "\"values\":[]" : "\"values\":["));
        free(text);
    }
    for (int k = 0; k < 3; k++)
        cg_tensor_free(roots[k]);
}
END_TEST

START_TEST(graph_dot_of_an_unrolled_rnn)
{
    cg_manual_seed(3);
    cg_module *rnn = cg_rnn_new(.input_size = 2, .hidden_size = 3);
    cg_frame_begin();
    const int T = 4;
    cg_tensor *out = cg_rnn_forward(rnn, cg_randn(CG_SHAPE(T, 1, 2)), NULL, NULL);
    cg_tensor *loss = cg_sum(out);
    cg_backward(loss);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_int_eq(cg_graph_dot(loss, f, .grads = true, .color_by_grad = true), 0);
    fclose(f);
    ck_assert_int_eq(count(text, "subgraph cluster_t"), T);
    /* per step: select, tanh(x-part + h W_hhᵀ + b_hh); then the input projection, stack, sum */
    ck_assert_int_eq(count(text, "[shape=box"), 2 * T + 3);
    /* every op's result, plus the leaves: input, 4 parameters, the zero initial state */
    ck_assert_int_eq(count(text, "[shape=ellipse"), 2 * T + 3 + 6);
    ck_assert_int_eq(count(text, "weight_hh_l0"), 1);
    ck_assert_int_eq(count(text, "|grad|"), 2 * T + 3 + 4); /* x and h0 need no grad */
    ck_assert_ptr_nonnull(strstr(text, "digraph cgrad {"));
    free(text);
    /* the same graph as JSON (no Graphviz): every tensor, the ops in backward order */
    f = open_memstream(&text, &len);
    ck_assert_int_eq(cg_graph_json(loss, f), 0);
    fclose(f);
    ck_assert_int_eq(count(text, "\"id\":\"op"), 2 * T + 3);
    ck_assert_int_eq(count(text, "\"id\":\"t"), 2 * T + 3 + 6);
    ck_assert_ptr_nonnull(strstr(text, "{\"id\":\"t0\",\"op\":\"SumBackward0\",\"role\":\"loss\""));
    ck_assert_ptr_nonnull(strstr(text, "\"role\":\"h_3\""));
    ck_assert_ptr_nonnull(strstr(text, "\"role\":\"weight_hh_l0\""));
    ck_assert_ptr_nonnull(strstr(text, "\"ops\":[\n{\"id\":\"op0\",\"out\":\"t0\",\"name\":\"SumBackward0\""));
    free(text);
    /* no clusters when asked */
    f = open_memstream(&text, &len);
    ck_assert_int_eq(cg_graph_dot(loss, f, .cluster_steps = false), 0);
    fclose(f);
    ck_assert_int_eq(count(text, "subgraph cluster_t"), 0);
    ck_assert_int_eq(count(text, "[shape=box"), 2 * T + 3);
    free(text);
    char path[256];
    snprintf(path, sizeof path, "/tmp/cgrad_graph_%d.svg", (int)getpid());
    if (cg_graph_has_graphviz()) { /* Graphviz parses the DOT and lays it out */
        ck_assert_msg(cg_graph_render(loss, path) == 0, "%s", cg_last_error());
        FILE *svg = fopen(path, "r");
        char head[512] = {0};
        ck_assert_int_gt((int)fread(head, 1, sizeof head - 1, svg), 100);
        fclose(svg);
        ck_assert_ptr_nonnull(strstr(head, "<svg"));
        remove(path);
    } else {
        ck_assert_int_eq(cg_graph_render(loss, path), -1);
        ck_assert_ptr_nonnull(strstr(cg_last_error(), "without Graphviz"));
    }
    ck_assert_int_eq(cg_graph_render(loss, "/tmp/x.jpg"), -1);
    ck_assert_int_eq(cg_graph_dot(loss, NULL), -1);
    ck_assert_int_eq(cg_graph_dot(NULL, stdout), -1);
    cg_frame_end();
    cg_module_free(rnn);
}
END_TEST

/* ---- modules of your own: torch's nn.Module ------------------------------------------------ */

static cg_module *block_new(void)
{
    cg_module *b = cg_module_new("Block");
    cg_module_add_child(b, "ln", cg_layer_norm_new(.normalized_shape = 4));
    cg_module_add_child(b, "fc", cg_linear_new(.in_features = 4, .out_features = 4));
    cg_module_add_param(b, "scale", CG_SHAPE(4)); /* registered last, listed first: torch's order */
    return b;
}

static cg_tensor *block_forward(cg_module *b, cg_tensor *x) /* x + scale * fc(ln(x)) */
{
    cg_tensor *h = cg_linear_forward(cg_module_child(b, "fc"), cg_module_forward(cg_module_child(b, "ln"), x));
    return cg_add(x, cg_mul(cg_param(b, "scale"), h));
}

static cg_module *model_new(void)
{
    cg_module *m = cg_module_new("Model"), *blocks = cg_module_list_new();
    cg_module_add_param(m, "embed", CG_SHAPE(10, 4));
    cg_module_append(blocks, block_new());
    cg_module_append(blocks, block_new());
    cg_module_add_child(m, "blocks", blocks);
    cg_module_add_child(m, "head", cg_linear_new(.in_features = 4, .out_features = 10, .bias = false));
    return m;
}

START_TEST(own_modules_work_as_torch_modules)
{
    cg_manual_seed(0);
    cg_module *m = model_new();
    char buf[2048];
    cg_module_str(m, buf, sizeof buf); /* print(model) of the same torch model */
    ck_assert_str_eq(buf, "Model(\n  (blocks): ModuleList(\n    (0): Block(\n      (ln): LayerNorm((4,), eps=1e-05, "
                          "elementwise_affine=True)\n      (fc): Linear(in_features=4, out_features=4, bias=True)\n    )\n"
                          "    (1): Block(\n      (ln): LayerNorm((4,), eps=1e-05, elementwise_affine=True)\n      (fc): "
                          "Linear(in_features=4, out_features=4, bias=True)\n    )\n  )\n  (head): Linear(in_features=4, "
                          "out_features=10, bias=False)\n)");
    const char *names[] = {"embed", "blocks.0.scale", "blocks.0.ln.weight", "blocks.0.ln.bias", "blocks.0.fc.weight",
                           "blocks.0.fc.bias", "blocks.1.scale", "blocks.1.ln.weight", "blocks.1.ln.bias",
                           "blocks.1.fc.weight", "blocks.1.fc.bias", "head.weight"}; /* torch's named_parameters */
    ck_assert_int_eq(cg_param_count(m), 12);
    for (int i = 0; i < 12; i++)
        ck_assert_str_eq(cg_param_name(m, i), names[i]);
    ck_assert_ptr_eq(cg_param(m, "blocks.1.fc.bias"), cg_param(cg_module_child(m, "blocks.1.fc"), "bias"));
    ck_assert_int_eq(cg_num_params(m), 40 + 2 * (4 + 8 + 20) + 40);
    /* an optimizer over the whole model, one training step */
    int n;
    cg_tensor **ps = cg_parameters(m, &n);
    cg_no_grad_begin();
    for (int i = 0; i < n; i++)
        cg_uniform_(ps[i], -0.5f, 0.5f);
    cg_no_grad_end();
    cg_optim *opt = cg_adam_new(ps, n, .lr = 0.01);
    cg_frame_begin();
    cg_tensor *x = cg_embedding(cg_param(m, "embed"), cg_tensor_from((float[]){1, 3, 5}, CG_SHAPE(3)));
    for (int i = 0; i < 2; i++)
        x = block_forward(cg_module_child_at(cg_module_child(m, "blocks"), i), x);
    cg_tensor *loss = cg_cross_entropy(cg_linear_forward(cg_module_child(m, "head"), x),
                                       cg_tensor_from((float[]){2, 4, 6}, CG_SHAPE(3)));
    ck_assert_int_eq(cg_backward(loss), 0);
    for (int i = 0; i < n; i++)
        ck_assert_msg(cg_grad(ps[i]) != NULL, "%s has no gradient", names[i]);
    ck_assert_int_eq(cg_optim_step(opt), 0);
    cg_frame_end();
    /* the whole model to a file and back, with the dotted names */
    char path[64];
    snprintf(path, sizeof path, "/tmp/cgrad_own_%d.safetensors", (int)getpid());
    ck_assert_int_eq(cg_module_save(m, path), 0);
    cg_manual_seed(1);
    cg_module *again = model_new();
    ck_assert_int_eq(cg_module_load(again, path), 0);
    for (int i = 0; i < n; i++)
        ck_assert_tensor_close(cg_param_at(again, i), ps[i], 0, 0);
    cg_module_train(m, false);
    ck_assert(!cg_module_is_training(cg_module_child(m, "blocks.0.ln")));
    /* misuse refused */
    ck_assert_ptr_null(cg_module_add_param(m, "embed", CG_SHAPE(2)));
    cg_module *stray = cg_tanh_new(); /* refused: still the caller's */
    ck_assert_int_lt(cg_module_add_child(m, "x.y", stray), 0);
    ck_assert_int_lt(cg_module_add_child(m, "head", stray), 0);
    cg_module_free(stray);
    ck_assert_ptr_null(cg_module_child(m, "blocks.7"));
    ck_assert_ptr_null(cg_module_add_param(cg_module_child(m, "head"), "extra", CG_SHAPE(1)));
    ck_assert_ptr_null(cg_module_forward(m, x));
    cg_optim_free(opt);
    cg_module_free(m);
    cg_module_free(again);
    remove(path);
}
END_TEST

/* torch.nn.MultiheadAttention: the same initial weights for a seed, output and gradients */
START_TEST(multihead_attention_matches_pytorch)
{
    fixture *mf = mha;
    const char *cases[2] = {"plain", "causal_bf"};
    const char *pnames[4] = {"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"};
    for (int c = 0; c < 2; c++) {
        cg_manual_seed((uint64_t)c);
        cg_module *m = cg_multihead_attention_new(.embed_dim = 8, .num_heads = 2, .batch_first = c == 1);
        ck_assert_ptr_nonnull(m);
        cg_frame_begin();
        for (int i = 0; i < 4; i++) {
            ck_assert_str_eq(cg_param_name(m, i), pnames[i]);
            ck_assert_tensor_close(cg_param_at(m, i), fx_get(mf, "%s.init.%s", cases[c], pnames[i]), 1e-6, 1e-7);
        }
        cg_tensor *x = fx_get(mf, "%s.x", cases[c]);
        cg_set_requires_grad(x, true);
        cg_tensor *mask = c == 1 ? cg_triu(cg_full(CG_SHAPE(5, 5), -INFINITY), 1) : NULL;
        cg_tensor *out = cg_multihead_attention_forward(m, x, x, x, mask);
        ck_assert_tensor_close(out, fx_get(mf, "%s.out", cases[c]), 1e-5, 1e-6);
        ck_assert_int_eq(cg_backward(cg_sum(cg_mul(out, fx_get(mf, "%s.w", cases[c])))), 0);
        ck_assert_tensor_close(cg_grad(x), fx_get(mf, "%s.grad_x", cases[c]), 1e-4, 1e-5);
        for (int i = 0; i < 4; i++)
            ck_assert_tensor_close(cg_grad(cg_param_at(m, i)), fx_get(mf, "%s.grad.%s", cases[c], pnames[i]), 1e-4, 1e-5);
        cg_frame_end();
        /* outside frames: the result is ours, the graph keeps the rest, nothing leaks */
        cg_tensor *hx = cg_randn(CG_SHAPE(5, 3, 8)), *hout = cg_multihead_attention_forward(m, hx, hx, hx, NULL);
        ck_assert_ptr_nonnull(hout);
        cg_tensor_free(hout);
        cg_tensor_free(hx);
        char buf[256];
        cg_module_str(m, buf, sizeof buf);
        ck_assert_str_eq(buf, "MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear(in_features=8, "
                              "out_features=8, bias=True)\n)");
        cg_module_free(m);
    }
    ck_assert_ptr_null(cg_multihead_attention_new(.embed_dim = 8, .num_heads = 3));
}
END_TEST

/* ---- modules that hold up ------------------------------------------------------------ */

void cg__fail_allocation(int64_t nth); /* the library's test hook */

static void names_of(cg_module *m, char *out, size_t size)
{
    out[0] = '\0';
    for (int i = 0; i < cg_param_count(m); i++) {
        strncat(out, cg_param_name(m, i), size - strlen(out) - 2);
        strncat(out, ",", size - strlen(out) - 1);
    }
}

START_TEST(refused_changes_leave_modules_as_they_were)
{
    cg_module *top = cg_module_new("Top"), *mid = cg_module_new("Mid");
    ck_assert_ptr_nonnull(cg_module_add_param(mid, "a", CG_SHAPE(2)));
    ck_assert_int_eq(cg_module_add_child(top, "mid", mid), 0);
    ck_assert_ptr_nonnull(cg_module_add_param(top, "t", CG_SHAPE(3)));
    char before_top[512], before_mid[512], now[512];
    names_of(top, before_top, sizeof before_top);
    names_of(mid, before_mid, sizeof before_mid);
    ck_assert_str_eq(before_top, "t,mid.a,");
    /* a refused parameter (a bad shape; then no memory for its tensor) */
    ck_assert_ptr_null(cg_module_add_param(mid, "b", CG_SHAPE(-1)));
    cg__fail_allocation(1);
    ck_assert_ptr_null(cg_module_add_param(mid, "b", CG_SHAPE(4)));
    cg__fail_allocation(0);
    names_of(top, now, sizeof now);
    ck_assert_str_eq(now, before_top);
    names_of(mid, now, sizeof now);
    ck_assert_str_eq(now, before_mid);
    ck_assert_int_eq(cg_param_count(top), 2);
    /* a module cannot become its own ancestor */
    cg_module *leaf_mod = cg_module_new("Leaf");
    ck_assert_int_eq(cg_module_add_child(mid, "leaf", leaf_mod), 0);
    ck_assert_int_lt(cg_module_add_child(leaf_mod, "top", top), 0);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "own ancestor"));
    ck_assert_int_lt(cg_module_add_child(top, "self", top), 0);
    ck_assert_int_eq(cg_module_child_count(leaf_mod), 0);
    char buf[256];
    ck_assert_int_gt(cg_module_str(top, buf, sizeof buf), 0); /* terminates: no cycle */
    cg_module_free(top);
}
END_TEST

static cg_tensor *double_it(cg_module *m, cg_tensor *x, void *ctx)
{
    (void)m;
    return cg_mul_scalar(x, *(float *)ctx);
}

/* A 12-block model with long names: every dotted name whole, saved and loaded, printed whole. */
START_TEST(big_models_keep_every_name_and_line)
{
    const char *block_name = "a_rather_long_block_name_for_this_test";
    cg_module *model = cg_module_new("GPT"), *blocks = cg_module_list_new();
    for (int b = 0; b < 12; b++) {
        cg_module *blk = cg_module_new("Block"), *inner = cg_module_new("Inner");
        cg_module_add_child(inner, "projection_with_a_long_descriptive_name",
                            cg_linear_new(.in_features = 2, .out_features = 2));
        cg_module_add_child(blk, block_name, inner);
        cg_module_add_child(blk, "ln", cg_layer_norm_new(.normalized_shape = 2));
        cg_module_add_child(blk, "c_fc_with_a_name_long_enough_to_need_room",
                            cg_linear_new(.in_features = 2, .out_features = 8));
        cg_module_add_child(blk, "c_proj_with_a_name_long_enough_to_need_room",
                            cg_linear_new(.in_features = 8, .out_features = 2));
        ck_assert_int_eq(cg_module_append(blocks, blk), 0);
    }
    ck_assert_int_eq(cg_module_add_child(model, "transformer", blocks), 0);
    ck_assert_int_eq(cg_param_count(model), 12 * 8);
    const char *want = "transformer.11.a_rather_long_block_name_for_this_test.projection_with_a_long_descriptive_name.bias";
    ck_assert_str_eq(cg_param_name(model, 12 * 8 - 7), want);
    ck_assert_ptr_nonnull(cg_param(model, want));
    char path[] = "/tmp/cgrad_big_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(cg_module_save(model, path), 0);
    cg_no_grad_begin();
    cg_fill_(cg_param(model, want), 7);
    cg_no_grad_end();
    ck_assert_int_eq(cg_module_load(model, path), 0);
    ck_assert(cg_data(cg_param(model, want))[0] != 7);
    unlink(path);
    /* printed whole: the length asked for is the length written, whatever its size */
    int len = cg_module_str(model, NULL, 0);
    ck_assert_int_gt(len, 4096);
    char *text = malloc((size_t)len + 1);
    ck_assert_int_eq(cg_module_str(model, text, (size_t)len + 1), len);
    ck_assert_int_eq((int)strlen(text), len);
    ck_assert_ptr_nonnull(strstr(text, "      (projection_with_a_long_descriptive_name): Linear(in_features=2, out_features=2, bias=True)\n"));
    ck_assert_str_eq(text + len - 11, "    )\n  )\n)");
    int lines = 1;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    ck_assert_int_eq(lines, 2 + 12 * 8 + 2); /* GPT(, transformer, per block 8 lines, two closings */
    free(text);
    /* a module of one's own carries its forward, and a Sequential runs it */
    float two = 2;
    cg_module *mine = cg_module_new("Double");
    ck_assert_int_eq(cg_module_set_forward(mine, double_it, &two), 0);
    cg_module *lin = cg_linear_new(.in_features = 3, .out_features = 2);
    ck_assert_int_lt(cg_module_set_forward(lin, double_it, &two), 0);
    cg_module *seq = cg_sequential_new((cg_module *[]){lin, mine}, 2);
    ck_assert_ptr_nonnull(seq);
    cg_frame_begin();
    cg_tensor *x = cg_randn(CG_SHAPE(4, 3));
    cg_tensor *y = cg_module_forward(seq, x);
    cg_tensor *want_y = cg_mul_scalar(cg_linear_forward(lin, x), 2);
    ck_assert_tensor_close(y, want_y, 0, 0);
    ck_assert_int_eq(cg_backward(cg_sum(y)), 0);
    ck_assert_ptr_nonnull(cg_grad(cg_param(lin, "weight")));
    cg_frame_end();
    cg_module_free(seq);
    cg_module_free(model);
}
END_TEST

/* MultiheadAttention refuses a value whose shape is not the key's, as torch asserts;
 * attention's scale is used as given (0 too), a NaN refused. */
START_TEST(attention_takes_its_options_as_given)
{
    cg_frame_begin();
    cg_module *mha = cg_multihead_attention_new(.embed_dim = 4, .num_heads = 2);
    cg_tensor *q = cg_randn(CG_SHAPE(3, 1, 4)), *k = cg_randn(CG_SHAPE(5, 1, 4)), *v = cg_randn(CG_SHAPE(4, 1, 4));
    ck_assert_ptr_null(cg_multihead_attention_forward(mha, q, k, v, NULL));
    ck_assert_str_eq(cg_last_error(),
                     "cg_multihead_attention_forward: key shape (5, 1, 4) does not match value shape (4, 1, 4)");
    cg_module_free(mha);
    cg_tensor *Q = cg_randn(CG_SHAPE(2, 3)), *K = cg_randn(CG_SHAPE(4, 3)), *V = cg_randn(CG_SHAPE(4, 2));
    cg_tensor *flat = cg_scaled_dot_product_attention_ex(Q, K, V, .scale = 0); /* every weight 1/4 */
    cg_tensor *mean = cg_mean_dim(V, 0, true);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            ck_assert_float_eq_tol(cg_data(flat)[i * 2 + j], cg_data(mean)[j], 1e-6);
    ck_assert_ptr_null(cg_scaled_dot_product_attention_ex(Q, K, V, .scale = NAN));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "scale is NaN"));
    cg_tensor *dflt = cg_scaled_dot_product_attention(Q, K, V);
    cg_tensor *given = cg_scaled_dot_product_attention_ex(Q, K, V, .scale = 1 / sqrtf(3));
    ck_assert_tensor_close(dflt, given, 0, 0);
    /* a row masked whole has no weights (zeros out, as torch's safe softmax); a NaN in a
     * query makes its row NaN and leaves the others */
    cg_tensor *mask = cg_zeros(CG_SHAPE(2, 4));
    for (int j = 0; j < 4; j++)
        cg_data(mask)[j] = -INFINITY;
    cg_tensor *masked = cg_scaled_dot_product_attention_ex(Q, K, V, .attn_mask = mask);
    for (int j = 0; j < 2; j++) {
        ck_assert_float_eq(cg_data(masked)[j], 0.0f);
        ck_assert_float_eq(cg_data(masked)[2 + j], cg_data(dflt)[2 + j]);
    }
    cg_data(Q)[0] = NAN;
    cg_tensor *nan_row = cg_scaled_dot_product_attention(Q, K, V);
    for (int j = 0; j < 2; j++) {
        ck_assert(isnan(cg_data(nan_row)[j]));
        ck_assert_float_eq(cg_data(nan_row)[2 + j], cg_data(dflt)[2 + j]);
    }
    cg_frame_end();
}
END_TEST


static Suite *nn_suite(void)
{
    Suite *s = suite_create("nn");
    TCase *t = tcase_create("modules");
    tcase_set_timeout(t, 300);
    tcase_add_loop_test(t, recurrent_module_matches_pytorch, 0, NCONFIGS);
    tcase_add_loop_test(t, cells_match_pytorch, 0, 3);
    tcase_add_test(t, linear_and_embedding_init_like_pytorch);
    tcase_add_test(t, seed_program_prints_pytorchs_numbers);
    tcase_add_test(t, hello_training_follows_pytorch);
    tcase_add_test(t, truncated_bptt_carries_detached_state);
    tcase_add_test(t, deep_long_rnn_passes_gradcheck);
    tcase_add_test(t, lstm_and_gru_pass_gradcheck);
    tcase_add_test(t, packed_recurrent_weight_gives_the_same_bits);
    tcase_add_test(t, modules_print_like_pytorch);
    tcase_add_test(t, bad_module_use_fails_cleanly);
    tcase_add_test(t, heap_graphs_free_with_their_result);
    tcase_add_test(t, sequential_matches_pytorch);
    tcase_add_test(t, own_modules_work_as_torch_modules);
    tcase_add_test(t, multihead_attention_matches_pytorch);
    tcase_add_test(t, module_files_round_trip_and_load_pytorchs);
    tcase_add_test(t, bad_module_files_leave_the_module_untouched);
    tcase_add_test(t, graph_dot_of_an_unrolled_rnn);
    tcase_add_test(t, graph_json_of_degenerate_roots);
    tcase_add_test(t, refused_changes_leave_modules_as_they_were);
    tcase_add_test(t, big_models_keep_every_name_and_line);
    tcase_add_test(t, attention_takes_its_options_as_given);
    tcase_add_test(t, tied_weights_match_pytorch);
    tcase_add_test(t, set_param_refuses_bad_use);
    tcase_add_test(t, parameter_lists_are_read_by_threads_together);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    mha = fx_load("mha.txt");
    fx = fx_load("nn.txt");
    ops = fx_load("ops.txt");
    return fx_run(nn_suite());
}
