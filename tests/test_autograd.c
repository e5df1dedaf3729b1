/* cgrad tests — autograd/: every op against PyTorch (values and gradients),
 * every op through gradcheck, the engine, and the error paths. */
#include "fixture.h"
#include "op_table.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static fixture *ops, *nets, *rnd, *views, *views_print;

#define IN(k) in[k]
#define OP(name, expr)                                                   \
    static cg_tensor *op_##name(cg_tensor **in, void *ctx)               \
    {                                                                    \
        (void)ctx;                                                       \
        return expr;                                                     \
    }

OP(add, cg_add(IN(0), IN(1)))
OP(sub, cg_sub(IN(0), IN(1)))
OP(mul, cg_mul(IN(0), IN(1)))
OP(div, cg_div(IN(0), IN(1)))
OP(pow, cg_pow(IN(0), IN(1)))
OP(maximum, cg_maximum(IN(0), IN(1)))
OP(minimum, cg_minimum(IN(0), IN(1)))
OP(add_scalar, cg_add_scalar(IN(0), 2.5f))
OP(sub_scalar, cg_sub_scalar(IN(0), 1.5f))
OP(rsub_scalar, cg_rsub_scalar(IN(0), 1.5f))
OP(mul_scalar, cg_mul_scalar(IN(0), -3.0f))
OP(div_scalar, cg_div_scalar(IN(0), 4.0f))
OP(rdiv_scalar, cg_rdiv_scalar(IN(0), 2.0f))
OP(pow_scalar, cg_pow_scalar(IN(0), 2.5f))
OP(neg, cg_neg(IN(0)))
OP(exp, cg_exp(IN(0)))
OP(log, cg_log(IN(0)))
OP(sqrt, cg_sqrt(IN(0)))
OP(abs, cg_abs(IN(0)))
OP(tanh, cg_tanh(IN(0)))
OP(sigmoid, cg_sigmoid(IN(0)))
OP(relu, cg_relu(IN(0)))
OP(clamp, cg_clamp(IN(0), -0.5f, 0.5f))
OP(clamp_min, cg_clamp(IN(0), -0.2f, NAN))
OP(where, cg_where(IN(0), IN(1), IN(2)))
OP(matmul, cg_matmul(IN(0), IN(1)))
OP(transpose, cg_transpose(IN(0), -1, 0))
OP(linear, cg_linear(IN(0), IN(1), IN(2)))
OP(linear_add, cg_linear_add(IN(0), IN(1), IN(2), IN(3)))
OP(linear_tanh, cg_linear_act(IN(0), IN(1), IN(2), IN(3), CG_TANH))
OP(linear_relu, cg_linear_act(IN(0), IN(1), IN(2), NULL, CG_RELU))
OP(permute, cg_permute(IN(0), CG_DIMS(2, 0, 1)))
OP(reshape, cg_mul_scalar(cg_reshape(IN(0), CG_SHAPE(-1, 6)), 1.0f))
OP(unsqueeze, cg_mul_scalar(cg_unsqueeze(IN(0), 1), 1.0f))
OP(cat, cg_cat(in, 2, 1))
OP(stack, cg_stack(in, 2, -1))
OP(stack0, cg_stack(in, 2, 0))
OP(select, cg_select(IN(0), 1, -1))
OP(select0, cg_select(IN(0), 0, 1))
OP(narrow, cg_narrow(IN(0), 0, 1, 2))
OP(slice, cg_slice(IN(0), 2, 1, -1))
OP(index_select, cg_index_select(IN(0), 1, IN(1)))
OP(gather, cg_gather(IN(0), 1, IN(1)))
OP(sum, cg_sum(IN(0)))
OP(sum_dim, cg_sum_dim(IN(0), 1, false))
OP(sum_dim_keep, cg_sum_dim(IN(0), -1, true))
OP(mean, cg_mean(IN(0)))
OP(mean_dim, cg_mean_dim(IN(0), 0, false))
OP(max, cg_max(IN(0)))
OP(max_dim, cg_max_dim(IN(0), 1, false))
OP(softmax, cg_softmax(IN(0), 1))
OP(log_softmax, cg_log_softmax(IN(0), -1))
OP(logsumexp, cg_logsumexp(IN(0), 1, true))
OP(cross_entropy, cg_cross_entropy(IN(0), IN(1)))
OP(cross_entropy_sum, cg_cross_entropy_ex(IN(0), IN(1), .reduction = CG_SUM))
OP(cross_entropy_none, cg_cross_entropy_ex(IN(0), IN(1), .reduction = CG_NONE))
OP(cross_entropy_ignore, cg_cross_entropy_ex(IN(0), IN(1), .ignore_index = 2))
OP(cross_entropy_smooth, cg_cross_entropy_ex(IN(0), IN(1), .label_smoothing = 0.1f))
OP(nll_loss, cg_nll_loss(IN(0), IN(1)))
OP(cross_entropy_weight, cg_cross_entropy_ex(IN(0), IN(1), .weight = IN(2), .ignore_index = 1))
OP(cross_entropy_weight_smooth, cg_cross_entropy_ex(IN(0), IN(1), .weight = IN(2), .label_smoothing = 0.2f))
OP(cross_entropy_probs, cg_cross_entropy(IN(0), IN(1)))
OP(cross_entropy_probs_nd, cg_cross_entropy_ex(IN(0), IN(1), .weight = IN(2), .label_smoothing = 0.1f, .reduction = CG_SUM))
OP(nll_loss_weight, cg_nll_loss_ex(IN(0), IN(1), .weight = IN(2), .reduction = CG_NONE))
OP(mse_loss, cg_mse_loss(IN(0), IN(1)))
OP(mse_loss_sum, cg_mse_loss_ex(IN(0), IN(1), .reduction = CG_SUM))
OP(embedding, cg_embedding(IN(0), IN(1)))
OP(gelu, cg_gelu(IN(0)))
OP(gelu_tanh, cg_gelu_tanh(IN(0)))
OP(tril, cg_tril(IN(0), 0))
OP(triu_1, cg_triu(IN(0), 1))
OP(tril_neg, cg_tril(IN(0), -1))
OP(masked_fill, cg_masked_fill(IN(0), IN(1), -1.5f))
OP(layer_norm, cg_layer_norm(IN(0), 1, IN(1), IN(2), 1e-5f))
OP(layer_norm_2d, cg_layer_norm(IN(0), 2, NULL, NULL, 1e-5f))
OP(pow_2, cg_pow_scalar(IN(0), 2))
OP(pow_3, cg_pow_scalar(IN(0), 3))
OP(pow_inv, cg_pow_scalar(IN(0), -1))
OP(pow_half, cg_pow_scalar(IN(0), 0.5f))
OP(sdpa, cg_scaled_dot_product_attention(IN(0), IN(1), IN(2)))
OP(sdpa_causal, cg_scaled_dot_product_attention_ex(IN(0), IN(1), IN(2), .is_causal = true))
OP(sdpa_mask, cg_scaled_dot_product_attention_ex(IN(0), IN(1), IN(2), .attn_mask = IN(3)))
OP(expand, cg_expand(IN(0), CG_SHAPE(2, 3, -1, 4)))
OP(expand_new, cg_expand(IN(0), CG_SHAPE(3, 1, 4)))

typedef struct {
    const char *name;
    cg_gradcheck_fn fn;
} op_case;

static const op_case cases[] = {
    {"add", op_add}, {"sub", op_sub}, {"mul", op_mul}, {"div", op_div}, {"pow", op_pow},
    {"maximum", op_maximum}, {"minimum", op_minimum}, {"add_scalar", op_add_scalar},
    {"sub_scalar", op_sub_scalar}, {"rsub_scalar", op_rsub_scalar}, {"mul_scalar", op_mul_scalar},
    {"div_scalar", op_div_scalar}, {"rdiv_scalar", op_rdiv_scalar}, {"pow_scalar", op_pow_scalar},
    {"neg", op_neg}, {"exp", op_exp}, {"log", op_log}, {"sqrt", op_sqrt}, {"abs", op_abs},
    {"tanh", op_tanh}, {"sigmoid", op_sigmoid}, {"relu", op_relu}, {"clamp", op_clamp},
    {"clamp_min", op_clamp_min}, {"where", op_where}, {"matmul_dot", op_matmul},
    {"matmul_mm", op_matmul}, {"matmul_vm", op_matmul}, {"matmul_mv", op_matmul},
    {"matmul_bm", op_matmul}, {"matmul_mb", op_matmul}, {"matmul_bb", op_matmul},
    {"matmul_vb", op_matmul}, {"matmul_bv", op_matmul}, {"transpose", op_transpose},
    {"linear", op_linear}, {"linear_add", op_linear_add}, {"linear_tanh", op_linear_tanh},
    {"linear_relu", op_linear_relu},
    {"permute", op_permute}, {"reshape", op_reshape}, {"unsqueeze", op_unsqueeze}, {"cat", op_cat},
    {"stack", op_stack}, {"stack0", op_stack0}, {"select", op_select}, {"select0", op_select0},
    {"narrow", op_narrow}, {"slice", op_slice}, {"index_select", op_index_select}, {"gather", op_gather},
    {"sum", op_sum}, {"sum_dim", op_sum_dim}, {"sum_dim_keep", op_sum_dim_keep}, {"mean", op_mean},
    {"mean_dim", op_mean_dim}, {"max", op_max}, {"max_dim", op_max_dim}, {"softmax", op_softmax},
    {"log_softmax", op_log_softmax}, {"logsumexp", op_logsumexp}, {"cross_entropy", op_cross_entropy},
    {"cross_entropy_sum", op_cross_entropy_sum}, {"cross_entropy_none", op_cross_entropy_none},
    {"cross_entropy_ignore", op_cross_entropy_ignore}, {"cross_entropy_smooth", op_cross_entropy_smooth},
    {"cross_entropy_1d", op_cross_entropy}, {"cross_entropy_nd", op_cross_entropy},
    {"nll_loss", op_nll_loss}, {"cross_entropy_weight", op_cross_entropy_weight},
    {"cross_entropy_weight_smooth", op_cross_entropy_weight_smooth}, {"cross_entropy_probs", op_cross_entropy_probs},
    {"cross_entropy_probs_nd", op_cross_entropy_probs_nd}, {"nll_loss_weight", op_nll_loss_weight}, {"mse_loss", op_mse_loss}, {"mse_loss_sum", op_mse_loss_sum},
    {"embedding", op_embedding}, {"gelu", op_gelu}, {"gelu_tanh", op_gelu_tanh}, {"tril", op_tril},
    {"triu_1", op_triu_1}, {"tril_neg", op_tril_neg}, {"masked_fill", op_masked_fill}, {"layer_norm", op_layer_norm},
    {"layer_norm_2d", op_layer_norm_2d}, {"pow_2", op_pow_2}, {"pow_3", op_pow_3}, {"pow_inv", op_pow_inv},
    {"pow_half", op_pow_half}, {"sdpa", op_sdpa}, {"sdpa_causal", op_sdpa_causal}, {"sdpa_mask", op_sdpa_mask},
    {"expand", op_expand}, {"expand_new", op_expand_new},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* Loads case c's inputs; those PyTorch gave a gradient require grad. */
static int load_inputs(const op_case *c, cg_tensor **in)
{
    int n = 0;
    while (fx_has(ops, "%s.in%d", c->name, n)) {
        in[n] = fx_get(ops, "%s.in%d", c->name, n);
        if (fx_has(ops, "%s.grad%d", c->name, n))
            cg_set_requires_grad(in[n], true);
        n++;
    }
    return n;
}

/* Forward values and the gradient of sum(out * w) for every input, as PyTorch gave them. */
START_TEST(op_matches_pytorch)
{
    const op_case *c = &cases[_i];
    cg_frame_begin();
    cg_tensor *in[4];
    int n = load_inputs(c, in);
    cg_tensor *out = c->fn(in, NULL);
    ck_assert_msg(out != NULL, "%s: %s", c->name, cg_last_error());
    ck_assert_tensor_close(out, fx_get(ops, "%s.out", c->name), 1e-5, 1e-6);
    cg_tensor *loss = cg_sum(cg_mul(out, fx_get(ops, "%s.w", c->name)));
    ck_assert_int_eq(cg_backward(loss), 0);
    for (int k = 0; k < n; k++) {
        if (!fx_has(ops, "%s.grad%d", c->name, k)) {
            ck_assert_ptr_null(cg_grad(in[k]));
            continue;
        }
        ck_assert_tensor_close(cg_grad(in[k]), fx_get(ops, "%s.grad%d", c->name, k), 1e-5, 1e-6);
    }
    cg_frame_end();
}
END_TEST

START_TEST(op_passes_gradcheck)
{
    const op_case *c = &cases[_i];
    cg_frame_begin();
    cg_tensor *in[4];
    int n = load_inputs(c, in);
    int rc = cg_gradcheck(c->fn, in, n, NULL);
    ck_assert_msg(rc == 0, "%s: %s", c->name, cg_last_error());
    cg_frame_end();
}
END_TEST

/* Every differentiable op in the table through gradcheck, on operands drawn
 * afresh; random ops draw the same numbers in every evaluation (gradcheck
 * restores the generator before each). */
static const op_entry *checked_entry;
/* gradcheck takes the operands that are tensors; the op gets its NULLs back where its .inputs say "-" */
static bool operand_is_null[OP_MAX_IN];
static cg_tensor *table_fn(cg_tensor **given, void *ctx)
{
    (void)ctx;
    cg_tensor *in[OP_MAX_IN] = {NULL};
    for (int k = 0, j = 0; k < checked_entry->arity; k++)
        in[k] = operand_is_null[k] ? NULL : given[j++];
    return checked_entry->apply(in, &checked_entry->args);
}

START_TEST(table_op_passes_gradcheck)
{
    const op_entry *e = &op_table[_i];
    if (e->no_gradcheck)
        return;
    cg_frame_begin();
    cg_manual_seed(1000 + (uint64_t)_i);
    cg_tensor *in[OP_MAX_IN];
    ck_assert_int_eq(op_make_inputs(e, in, 0), e->arity);
    checked_entry = e;
    cg_tensor *given[OP_MAX_IN];
    int n = 0;
    for (int k = 0; k < e->arity; k++)
        if (!(operand_is_null[k] = in[k] == NULL))
            given[n++] = in[k];
    int rc = cg_gradcheck(table_fn, given, n, NULL, .eps = 1e-2f, .atol = 2e-3f, .rtol = 2e-2f,
                          .generator = op_table_generator());
    ck_assert_msg(rc == 0, "%s (%s): %s", e->function, e->variant ? e->variant : "defaults", cg_last_error());
    cg_frame_end();
}
END_TEST

/* Every op in the table on strided views of its operands (a narrow with an offset,
 * and a transpose) gives the bits it gives on row-major ones, forward and backward:
 * an op that read a view's storage as if row-major would be caught here. */
typedef enum { TWIN_NARROW, TWIN_TRANSPOSE } twin_kind;

/* A strided view with x's values (NULL when x has none to stride), its base in *base. */
static cg_tensor *strided_twin(cg_tensor *x, twin_kind kind, cg_tensor **base)
{
    *base = NULL;
    int nd = x ? cg_ndim(x) : 0;
    if (nd == 0 || cg_numel(x) < 2 || (kind == TWIN_TRANSPOSE && nd < 2))
        return NULL;
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, cg_shape(x), sizeof(int64_t) * (size_t)nd);
    cg_tensor *v;
    if (kind == TWIN_NARROW) {
        shape[nd - 1] = 2 * shape[nd - 1] + 1;
        *base = cg_full(nd, shape, NAN); /* what lies outside the view must never be read */
        v = cg_narrow(*base, -1, 1, cg_size(x, -1));
    } else {
        int64_t t = shape[nd - 1];
        shape[nd - 1] = shape[nd - 2], shape[nd - 2] = t;
        *base = cg_full(nd, shape, NAN);
        v = cg_transpose(*base, -1, -2);
    }
    ck_assert_int_eq(cg_copy_(v, x), 0);
    if (cg_requires_grad(x)) { /* the gradient reaches the base through the view */
        cg_set_requires_grad(*base, true);
        v = kind == TWIN_NARROW ? cg_narrow(*base, -1, 1, cg_size(x, -1)) : cg_transpose(*base, -1, -2);
    }
    return v;
}

static uint8_t table_rng[CG_RNG_STATE_SIZE], table_gen[CG_RNG_STATE_SIZE];

/* The op on in, then backward of a weighted sum (weights 1, 2, 3, ... mod 7 less 3). */
static cg_tensor *run_weighted(const op_entry *e, cg_tensor **in)
{
    ck_assert_int_eq(cg_rng_set_state(table_rng, sizeof table_rng), 0);
    ck_assert_int_eq(cg_generator_set_state(op_table_generator(), table_gen, sizeof table_gen), 0);
    cg_tensor *out = e->apply(in, &e->args);
    ck_assert_msg(out, "%s: %s", e->function, cg_last_error());
    if (cg_requires_grad(out)) {
        cg_tensor *w = cg_empty(cg_ndim(out), cg_shape(out));
        for (int64_t i = 0; i < cg_numel(w); i++)
            cg_data(w)[i] = (float)(i % 7) - 3.0f;
        ck_assert_int_eq(cg_backward(cg_sum(cg_mul(out, w))), 0);
    }
    return out;
}

static void assert_same_bits(const float *a, const float *b, int64_t n, const char *what, const op_entry *e,
                             twin_kind kind)
{
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(a[i] == b[i] || !memcmp(&a[i], &b[i], sizeof(float)), "%s (%s), %s operands: %s element %lld: %g vs %g",
                      e->function, e->variant ? e->variant : "defaults",
                      kind == TWIN_NARROW ? "narrowed" : "transposed", what, (long long)i, (double)b[i], (double)a[i]);
}

START_TEST(table_op_reads_strided_operands)
{
    const op_entry *e = &op_table[_i];
    if (e->arity == 0)
        return;
    cg_frame_begin();
    cg_manual_seed(2000 + (uint64_t)_i);
    cg_tensor *in[OP_MAX_IN];
    ck_assert_int_eq(op_make_inputs(e, in, 0), e->arity);
    ck_assert_int_eq(cg_rng_get_state(table_rng, sizeof table_rng), 0);
    ck_assert_int_eq(cg_generator_get_state(op_table_generator(), table_gen, sizeof table_gen), 0);
    cg_tensor *want = run_weighted(e, in);
    for (twin_kind kind = TWIN_NARROW; kind <= TWIN_TRANSPOSE; kind++) {
        cg_tensor *twin[OP_MAX_IN], *base[OP_MAX_IN];
        bool any = false;
        for (int k = 0; k < e->arity; k++) {
            twin[k] = strided_twin(in[k], kind, &base[k]);
            if (twin[k] && cg_is_contiguous(twin[k])) /* size-1 dims: the same layout */
                twin[k] = NULL, base[k] = NULL;
            any |= twin[k] != NULL;
            if (!twin[k])
                twin[k] = in[k];
        }
        if (!any)
            continue;
        if (!strcmp(e->function, "cg_view")) { /* torch's view refuses what only a copy can give */
            ck_assert_msg(!e->apply(twin, &e->args) && strstr(cg_last_error(), "use cg_reshape"), "%s",
                          cg_last_error());
            continue;
        }
        cg_tensor *got = run_weighted(e, twin);
        ck_assert(cg_same_shape(got, want));
        assert_same_bits(cg_data(want), cg_data(got), cg_numel(want), "value", e, kind);
        for (int k = 0; k < e->arity; k++) {
            if (!base[k] || !cg_grad(in[k]))
                continue;
            cg_tensor *g = cg_grad(base[k]);
            ck_assert_msg(g, "%s: no gradient reached the view's base", e->function);
            cg_tensor *part = kind == TWIN_NARROW ? cg_narrow(g, -1, 1, cg_size(in[k], -1)) : cg_transpose(g, -1, -2);
            assert_same_bits(cg_data(cg_grad(in[k])), cg_data(part), cg_numel(part), "gradient", e, kind);
        }
    }
    cg_frame_end();
}
END_TEST

/* ---- the engine ---------------------------------------------------------------- */

static cg_tensor *vec(float a, float b)
{
    cg_tensor *t = cg_tensor_from((float[]){a, b}, CG_SHAPE(2));
    cg_set_requires_grad(t, true);
    return t;
}

START_TEST(gradients_accumulate_across_backwards)
{
    cg_tensor *x = vec(1, 2);
    for (int i = 0; i < 3; i++) {
        cg_frame_begin();
        ck_assert_int_eq(cg_backward(cg_sum(cg_mul(x, x))), 0);
        cg_frame_end();
    }
    /* d/dx sum(x^2) = 2x, three times */
    ck_assert_float_eq_tol(cg_data(cg_grad(x))[0], 6.0f, 1e-6);
    ck_assert_float_eq_tol(cg_data(cg_grad(x))[1], 12.0f, 1e-6);
    cg_zero_grad(x);
    ck_assert_float_eq(cg_data(cg_grad(x))[1], 0.0f);
    cg_tensor_free(x);
}
END_TEST

START_TEST(a_reused_value_sums_its_gradients)
{
    cg_frame_begin();
    cg_tensor *x = vec(0.5f, -1);
    cg_tensor *y = cg_tanh(x);
    cg_tensor *z = cg_add(cg_mul(y, y), y); /* y used three times */
    cg_backward(cg_sum(z));
    for (int i = 0; i < 2; i++) {
        float t = tanhf(cg_data(x)[i]);
        ck_assert_float_eq_tol(cg_data(cg_grad(x))[i], (2 * t + 1) * (1 - t * t), 1e-6);
    }
    cg_frame_end();
}
END_TEST

/* One intermediate y feeds one op as several inputs (linear's x, w and acc; mul's
 * a and b) and a view of it: gradient buffers that start unwritten (stored to,
 * not zero-filled) must still sum every contribution. */
static cg_tensor *shared_inputs_net(cg_tensor **in, void *ctx)
{
    (void)ctx;
    cg_tensor *y = cg_tanh(in[0]);                          /* (3, 3) */
    cg_tensor *l = cg_linear_add(y, y, NULL, y);            /* y + y yᵀ */
    cg_tensor *v = cg_reshape(y, CG_SHAPE(9));              /* a view of y */
    cg_tensor *s = cg_mul(cg_sigmoid(l), l);
    return cg_add(cg_sum(cg_mul(s, s)), cg_sum(cg_mul(v, cg_flatten(cg_exp(y)))));
}

START_TEST(fresh_gradient_buffers_sum_every_contribution)
{
    /* Leave NaNs where the next frame's buffers will be made: a buffer read before
     * its first write shows up as NaN. */
    cg_frame_begin();
    for (int i = 0; i < 64; i++)
        cg_full(CG_SHAPE(3, 3), NAN);
    cg_frame_end();
    cg_frame_begin();
    cg_tensor *x = cg_tensor_from((float[]){0.3f, -0.2f, 0.5f, 0.1f, -0.4f, 0.2f, 0.6f, -0.1f, 0.05f}, CG_SHAPE(3, 3));
    cg_set_requires_grad(x, true);
    ck_assert_msg(cg_gradcheck(shared_inputs_net, &x, 1, NULL) == 0, "%s", cg_last_error());
    cg_zero_grad(x);
    cg_tensor *loss = shared_inputs_net(&x, NULL);
    ck_assert_int_eq(cg_backward_ex(loss, .retain_graph = true), 0);
    float once[9];
    memcpy(once, cg_data(cg_grad(x)), sizeof once);
    ck_assert_int_eq(cg_backward(loss), 0); /* intermediates start again from zero */
    for (int i = 0; i < 9; i++) {
        ck_assert(isfinite(once[i]) && once[i] != 0);
        ck_assert_float_eq_tol(cg_data(cg_grad(x))[i], 2 * once[i], 1e-5);
    }
    cg_frame_end();
}
END_TEST

START_TEST(second_backward_through_a_freed_graph_fails_clearly)
{
    cg_frame_begin();
    cg_tensor *x = vec(1, 2);
    cg_tensor *loss = cg_sum(cg_exp(x));
    ck_assert_int_eq(cg_backward(loss), 0);
    float g0 = cg_data(cg_grad(x))[0];
    ck_assert_int_eq(cg_backward(loss), -1);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "retain_graph"));
    ck_assert_float_eq(cg_data(cg_grad(x))[0], g0); /* untouched */
    cg_tensor *loss2 = cg_sum(cg_exp(x));
    ck_assert_int_eq(cg_backward_ex(loss2, .retain_graph = true), 0);
    ck_assert_int_eq(cg_backward(loss2), 0);
    ck_assert_float_eq_tol(cg_data(cg_grad(x))[0], 3 * expf(1), 1e-5);
    cg_frame_end();
}
END_TEST

START_TEST(backward_with_an_output_gradient)
{
    cg_frame_begin();
    cg_tensor *x = vec(1, 2);
    cg_tensor *y = cg_mul_scalar(x, 3);
    ck_assert_int_eq(cg_backward(y), -1); /* not a scalar */
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "scalar"));
    cg_tensor *g = cg_tensor_from((float[]){10, 100}, CG_SHAPE(2));
    ck_assert_int_eq(cg_backward_ex(y, .grad = g), 0);
    ck_assert_float_eq_tol(cg_data(cg_grad(x))[0], 30, 1e-6);
    ck_assert_float_eq_tol(cg_data(cg_grad(x))[1], 300, 1e-6);
    cg_tensor *bad = cg_ones(CG_SHAPE(3));
    ck_assert_int_eq(cg_backward_ex(cg_mul_scalar(x, 2), .grad = bad), -1);
    cg_frame_end();
}
END_TEST

START_TEST(a_ten_thousand_step_chain_does_not_overflow)
{
    cg_frame_begin();
    cg_tensor *x = vec(0.1f, -0.2f);
    cg_tensor *h = x;
    for (int i = 0; i < 10000; i++)
        h = cg_tanh(cg_mul_scalar(h, 1.0f));
    ck_assert_int_eq(cg_backward(cg_sum(h)), 0);
    /* A long tanh chain: the gradient is a product of (1 - tanh^2) factors. */
    double g = 1, v = 0.1;
    for (int i = 0; i < 10000; i++) {
        v = tanh(v);
        g *= 1 - v * v;
    }
    ck_assert_float_eq_tol(cg_data(cg_grad(x))[0], (float)g, 1e-4 * g + 1e-7);
    cg_frame_end();
}
END_TEST

START_TEST(no_grad_and_detach_cut_the_graph)
{
    cg_frame_begin();
    cg_tensor *x = vec(1, 2);
    cg_no_grad_begin();
    cg_tensor *y = cg_mul(x, x);
    cg_no_grad_end();
    ck_assert(!cg_requires_grad(y));
    ck_assert(cg_grad_enabled());
    cg_tensor *d = cg_detach(cg_mul(x, x));
    ck_assert(!cg_requires_grad(d));
    ck_assert(cg_is_leaf(d));
    cg_tensor *z = cg_add(cg_mul(d, x), y); /* d and y are constants */
    cg_backward(cg_sum(z));
    ck_assert_float_eq_tol(cg_data(cg_grad(x))[0], 1, 1e-6);
    ck_assert_float_eq_tol(cg_data(cg_grad(x))[1], 4, 1e-6);
    cg_tensor *nonleaf = cg_mul(x, x);
    ck_assert_int_eq(cg_set_requires_grad(nonleaf, false), -1);
    ck_assert(cg_backward(y) == -1); /* no graph behind y */
    cg_frame_end();
}
END_TEST

START_TEST(broadcast_gradients_sum_back_to_shape)
{
    cg_frame_begin();
    cg_tensor *a = cg_ones(CG_SHAPE(2, 1, 3));
    cg_tensor *b = cg_ones(CG_SHAPE(4, 1));
    cg_set_requires_grad(a, true);
    cg_set_requires_grad(b, true);
    cg_tensor *c = cg_add(a, b);
    ck_assert_int_eq(cg_ndim(c), 3);
    ck_assert_int_eq(cg_shape(c)[1], 4);
    cg_backward(cg_sum(c));
    ck_assert_float_eq(cg_data(cg_grad(a))[0], 4); /* each a element is used 4 times */
    ck_assert_float_eq(cg_data(cg_grad(b))[0], 6);
    cg_frame_end();
}
END_TEST

/* A 3-layer tanh MLP and a 50-step recurrence by hand: PyTorch's gradients to 1e-5. */
START_TEST(mlp_matches_pytorch)
{
    cg_frame_begin();
    cg_tensor *h = fx_get(nets, "mlp.x"), *p[6];
    for (int i = 0; i < 6; i++) {
        p[i] = fx_get(nets, "mlp.p%d", i);
        cg_set_requires_grad(p[i], true);
    }
    for (int i = 0; i < 3; i++)
        h = cg_tanh(cg_add(cg_matmul(h, p[2 * i]), p[2 * i + 1]));
    cg_tensor *loss = cg_sum(cg_mul(h, h));
    ck_assert_tensor_close(loss, fx_get(nets, "mlp.loss"), 1e-5, 0);
    cg_backward(loss);
    for (int i = 0; i < 6; i++)
        ck_assert_tensor_close_scaled(cg_grad(p[i]), fx_get(nets, "mlp.grad%d", i), 1e-5);
    cg_frame_end();
}
END_TEST

START_TEST(recurrence_matches_pytorch)
{
    cg_frame_begin();
    cg_tensor *xs = fx_get(nets, "rec.x"), *wx = fx_get(nets, "rec.wx"), *wh = fx_get(nets, "rec.wh");
    cg_tensor *b = fx_get(nets, "rec.b"), *h0 = fx_get(nets, "rec.h0");
    cg_tensor *ps[4] = {wx, wh, b, h0};
    for (int i = 0; i < 4; i++)
        cg_set_requires_grad(ps[i], true);
    cg_tensor *h = h0;
    for (int t = 0; t < cg_shape(xs)[0]; t++)
        h = cg_tanh(cg_add(cg_add(cg_matmul(cg_select(xs, 0, t), wx), cg_matmul(h, wh)), b));
    cg_tensor *loss = cg_sum(h);
    ck_assert_tensor_close(loss, fx_get(nets, "rec.loss"), 1e-5, 0);
    cg_backward(loss);
    const char *names[4] = {"wx", "wh", "b", "h0"};
    for (int i = 0; i < 4; i++)
        ck_assert_tensor_close_scaled(cg_grad(ps[i]), fx_get(nets, "rec.grad_%s", names[i]), 1e-5);
    cg_frame_end();
}
END_TEST

/* ---- errors: NULL result, inputs unchanged, a message naming op and shapes ----- */

START_TEST(bad_inputs_fail_cleanly)
{
    cg_frame_begin();
    cg_tensor *a = cg_ones(CG_SHAPE(3, 4)), *b = cg_ones(CG_SHAPE(5, 2));
    cg_clear_error();
    ck_assert_ptr_null(cg_matmul(a, b));
    ck_assert_str_eq(cg_last_error(), "cg_matmul: shapes (3, 4) and (5, 2) do not match (4 != 5)");
    ck_assert_ptr_null(cg_add(a, b));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_add: shapes (3, 4) and (5, 2) do not broadcast"));
    ck_assert_ptr_null(cg_sum_dim(a, 2, false));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "dim 2 out of range"));
    ck_assert_ptr_null(cg_softmax(a, -3));
    ck_assert_ptr_null(cg_transpose(a, 0, 5));
    ck_assert_ptr_null(cg_permute(a, CG_DIMS(0, 0)));
    ck_assert_ptr_null(cg_reshape(a, CG_SHAPE(5, -1)));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "invalid for input of shape (3, 4)"));
    ck_assert_ptr_null(cg_reshape(a, CG_SHAPE(-1, -1)));
    ck_assert_ptr_null(cg_expand(a, CG_SHAPE(3, 5)));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_expand: the expanded size of the tensor (5) must match the "
                                                   "existing size (4) at non-singleton dimension 1"));
    ck_assert_ptr_null(cg_expand(a, CG_SHAPE(4)));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_expand: the number of sizes provided (1)"));
    ck_assert_ptr_null(cg_expand(a, CG_SHAPE(-1, 3, 4)));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_expand: the expanded size of the tensor (-1) isn't allowed"));
    ck_assert_ptr_null(cg_select(a, 0, 3));
    ck_assert_ptr_null(cg_narrow(a, 1, 2, 3));
    ck_assert_ptr_null(cg_cat((cg_tensor *[]){a, b}, 2, 0));
    ck_assert_ptr_null(cg_stack((cg_tensor *[]){a, b}, 2, 0));
    ck_assert_ptr_null(cg_cat(NULL, 0, 0));
    ck_assert_ptr_null(cg_index_select(a, 0, cg_tensor_from((float[]){3}, CG_SHAPE(1))));
    ck_assert_ptr_null(cg_index_select(a, 0, cg_tensor_from((float[]){0.5f}, CG_SHAPE(1))));
    ck_assert_ptr_null(cg_gather(a, 1, cg_tensor_from((float[]){4}, CG_SHAPE(1, 1))));
    ck_assert_ptr_null(cg_cross_entropy(a, cg_tensor_from((float[]){0, 1, 4}, CG_SHAPE(3))));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "not a whole number in [0, 4)"));
    ck_assert_ptr_null(cg_cross_entropy(a, cg_ones(CG_SHAPE(4))));
    ck_assert_ptr_null(cg_cross_entropy_ex(a, cg_zeros(CG_SHAPE(3)), .weight = cg_ones(CG_SHAPE(3))));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "weight of shape (3,) for 4 classes"));
    ck_assert_ptr_null(cg_cross_entropy_ex(a, cg_zeros(CG_SHAPE(3, 4)), .weight = cg_ones(CG_SHAPE(2))));
    ck_assert_ptr_null(cg_cross_entropy_ex(a, cg_zeros(CG_SHAPE(3)), .reduction = (cg_reduction)7));
    ck_assert_ptr_null(cg_one_hot(cg_tensor_from((float[]){-1}, CG_SHAPE(1)), 3));
    ck_assert_ptr_null(cg_embedding(a, cg_tensor_from((float[]){3}, CG_SHAPE(1))));
    ck_assert_ptr_null(cg_dropout(a, 1.5f, true));
    ck_assert_ptr_null(cg_matmul(cg_scalar(1), a));
    ck_assert_ptr_null(cg_where(cg_ones(CG_SHAPE(2)), a, a));
    ck_assert_ptr_null(cg_max(cg_zeros(CG_SHAPE(0))));
    ck_assert_ptr_null(cg_unsqueeze(a, 3));
    ck_assert_ptr_null(cg_linear(a, b, NULL));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_linear: input (3, 4), weight (5, 2)"));
    ck_assert_ptr_null(cg_linear_add(a, cg_ones(CG_SHAPE(2, 4)), NULL, cg_ones(CG_SHAPE(3, 3))));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "addend has shape (3, 3), the product (3, 2)"));
    ck_assert_ptr_null(cg_linear_add(a, cg_ones(CG_SHAPE(2, 4)), NULL, NULL));
    ck_assert_ptr_null(cg_linear_act(a, cg_ones(CG_SHAPE(2, 4)), NULL, NULL, (cg_nonlinearity)5));
    /* the inputs are as they were */
    for (int i = 0; i < 12; i++)
        ck_assert_float_eq(cg_data(a)[i], 1.0f);
    ck_assert(!cg_requires_grad(a));
    cg_frame_end();
}
END_TEST

START_TEST(null_inputs_keep_the_first_message)
{
    cg_frame_begin();
    cg_clear_error();
    ck_assert_ptr_null(cg_tanh(NULL));
    ck_assert_str_eq(cg_last_error(), "cg_tanh: input is NULL");
    cg_tensor *a = cg_ones(CG_SHAPE(2, 3));
    /* a failing chain reports its first failure, not the NULLs that follow */
    cg_tensor *r = cg_sum(cg_tanh(cg_matmul(a, a)));
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_matmul: shapes (2, 3) and (2, 3)"));
    ck_assert_int_eq(cg_backward(NULL), -1);
    ck_assert_ptr_null(cg_add(NULL, a));
    ck_assert_ptr_null(cg_cat((cg_tensor *[]){a, NULL}, 2, 0));
    ck_assert_ptr_null(cg_grad(NULL));
    ck_assert_int_eq(cg_set_requires_grad(NULL, true), -1);
    cg_frame_end();
}
END_TEST

static cg_tensor *wrong_grad_square(cg_tensor **in, void *ctx)
{
    (void)ctx;
    /* x * detach(x): backward sees only half of d(x^2)/dx */
    return cg_mul(in[0], cg_detach(in[0]));
}

START_TEST(gradcheck_catches_a_wrong_gradient)
{
    cg_frame_begin();
    cg_tensor *x = cg_tensor_from((float[]){1, 2, 3}, CG_SHAPE(3));
    cg_set_requires_grad(x, true);
    ck_assert_int_eq(cg_gradcheck(wrong_grad_square, &x, 1, NULL), 1);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "backward gives"));
    ck_assert_ptr_null(cg_grad(x)); /* left as it was */
    ck_assert_int_eq(cg_gradcheck(NULL, &x, 1, NULL), -1);
    ck_assert_int_eq(cg_gradcheck(op_tanh, &x, 1, NULL, .eps = 1e-2f, .rtol = 1e-3f), 0);
    cg_frame_end();
}
END_TEST

START_TEST(dropout_matches_pytorch_and_scales)
{
    cg_frame_begin();
    cg_manual_seed(5);
    cg_tensor *x = cg_ones(CG_SHAPE(40));
    cg_set_requires_grad(x, true);
    cg_tensor *y = cg_dropout(x, 0.3f, true);
    ck_assert_tensor_close(y, fx_get(rnd, "dropout_seed5"), 1e-6, 0);
    cg_backward(cg_sum(y));
    ck_assert_tensor_close(cg_grad(x), y, 1e-6, 0); /* the mask itself */
    cg_tensor *e = cg_dropout(x, 0.3f, false);
    ck_assert_tensor_close(e, x, 0, 0);
    cg_frame_end();
}
END_TEST

START_TEST(one_hot_and_argmax)
{
    cg_frame_begin();
    cg_tensor *ids = cg_tensor_from((float[]){2, 0, 1}, CG_SHAPE(3));
    cg_tensor *oh = cg_one_hot(ids, -1);
    ck_assert_tensor_close(oh, cg_tensor_from((float[]){0, 0, 1, 1, 0, 0, 0, 1, 0}, CG_SHAPE(3, 3)), 0, 0);
    cg_tensor *am = cg_argmax(oh, 1, false);
    ck_assert_tensor_close(am, ids, 0, 0);
    cg_tensor *am2 = cg_argmax(cg_tensor_from((float[]){1, 3, 3, 2}, CG_SHAPE(4)), 0, true);
    ck_assert_int_eq(cg_ndim(am2), 1);
    ck_assert_float_eq(cg_item(am2), 1.0f); /* the first of equal maxima */
    cg_frame_end();
}
END_TEST

/* Products big enough for the blocked SIMD GEMM, odd sizes included, in all four
 * transposition cases (forward and both backward products of matmul and linear),
 * against sums in double. Row counts past the kernels' row tiles by 1 to 5 (65, 17, 130,
 * 28, 67: the AVX-512 kernel's short last strips of 1 and 4 rows). */
START_TEST(large_products_match_a_double_reference)
{
    const int64_t sizes[][3] = {{37, 70, 45}, {64, 256, 65}, {1, 300, 17}, {130, 9, 300}, {7, 513, 8}, {28, 200, 67}};
    cg_manual_seed(9);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t M = sizes[s][0], K = sizes[s][1], N = sizes[s][2];
        cg_frame_begin();
        cg_tensor *a = cg_randn(CG_SHAPE(M, K)), *w = cg_randn(CG_SHAPE(N, K)), *g = cg_randn(CG_SHAPE(M, N));
        cg_set_requires_grad(a, true);
        cg_set_requires_grad(w, true);
        cg_tensor *y = cg_linear(a, w, NULL); /* a · wᵀ */
        cg_tensor *y2 = cg_matmul(a, cg_transpose(w, 0, 1));
        cg_backward_ex(y, .grad = g);
        const float *A = cg_data(a), *W = cg_data(w), *G = cg_data(g);
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double ref = 0, mag = 0;
                for (int64_t k = 0; k < K; k++)
                    ref += (double)A[i * K + k] * W[j * K + k], mag += fabs((double)A[i * K + k] * W[j * K + k]);
                ck_assert_msg(fabs(cg_data(y)[i * N + j] - ref) <= 1e-5 * mag + 1e-6, "linear (%lld,%lld,%lld)", (long long)M, (long long)K, (long long)N);
                ck_assert_msg(fabs(cg_data(y2)[i * N + j] - ref) <= 1e-5 * mag + 1e-6, "matmul (%lld,%lld,%lld)", (long long)M, (long long)K, (long long)N);
            }
        for (int64_t i = 0; i < M; i++) /* dA = G · W */
            for (int64_t k = 0; k < K; k++) {
                double ref = 0, mag = 0;
                for (int64_t j = 0; j < N; j++)
                    ref += (double)G[i * N + j] * W[j * K + k], mag += fabs((double)G[i * N + j] * W[j * K + k]);
                ck_assert(fabs(cg_data(cg_grad(a))[i * K + k] - ref) <= 1e-5 * mag + 1e-6);
            }
        for (int64_t j = 0; j < N; j++) /* dW = Gᵀ · A */
            for (int64_t k = 0; k < K; k++) {
                double ref = 0, mag = 0;
                for (int64_t i = 0; i < M; i++)
                    ref += (double)G[i * N + j] * A[i * K + k], mag += fabs((double)G[i * N + j] * A[i * K + k]);
                ck_assert(fabs(cg_data(cg_grad(w))[j * K + k] - ref) <= 1e-5 * mag + 1e-6);
            }
        cg_frame_end();
    }
}
END_TEST

/* One element of a tiny product as every path computes it: its products added to
 * it one by one in k order (from +0 for a new product), each rounded before its add
 * (the SIMD kernel for tiny products and the portable loops both; tests/meson.build
 * runs this suite on each). */
static float tiny_dot_onto(float s, int64_t K, const float *a, int64_t sa, const float *b, int64_t sb)
{
    for (int64_t k = 0; k < K; k++) {
        float p = a[k * sa] * b[k * sb];
        s = s + p;
    }
    return s;
}

static float tiny_dot(int64_t K, const float *a, int64_t sa, const float *b, int64_t sb)
{
    return tiny_dot_onto(0.0f, K, a, sa, b, sb);
}

/* Products under 4096 multiply-adds (a toy model's step), every edge of the kernel's
 * 4-row and 8-column blocks (every count of columns a block stores), a transposed B turned row-major 8 deep at a time (K past 8
 * and not a multiple of it) or gathered (K past 128), the four transposition cases
 * (transposes' views read in place), the gradients, and a gradient accumulated into
 * (C += ...): bit for bit the order above. */
START_TEST(tiny_products_sum_in_order_bit_for_bit)
{
    const int64_t Ms[] = {1, 2, 3, 4, 5, 8, 9}, Ns[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17}, Ks[] = {1, 2, 7, 8, 9, 17, 130};
    cg_manual_seed(21);
    for (size_t mi = 0; mi < 7; mi++)
        for (size_t ni = 0; ni < 11; ni++)
            for (size_t ki = 0; ki < 7; ki++)
                for (int tr = 0; tr < 4; tr++) {
                    int64_t M = Ms[mi], N = Ns[ni], K = Ks[ki];
                    bool ta = tr & 1, tb = tr & 2;
                    if (M * N * K >= 4096) /* (not a tiny product: other kernels, other orders) */
                        continue;
                    cg_frame_begin();
                    cg_tensor *a0 = ta ? cg_randn(CG_SHAPE(K, M)) : cg_randn(CG_SHAPE(M, K));
                    cg_tensor *b0 = tb ? cg_randn(CG_SHAPE(N, K)) : cg_randn(CG_SHAPE(K, N));
                    cg_tensor *a = ta ? cg_transpose(a0, 0, 1) : a0, *b = tb ? cg_transpose(b0, 0, 1) : b0;
                    cg_tensor *y = cg_matmul(a, b);
                    const float *A = cg_data(a0), *B = cg_data(b0);
                    for (int64_t i = 0; i < M; i++)
                        for (int64_t j = 0; j < N; j++) {
                            float want = tiny_dot(K, ta ? A + i : A + i * K, ta ? M : 1, tb ? B + j * K : B + j,
                                                  tb ? 1 : N);
                            ck_assert_msg(cg_data(y)[i * N + j] == want || (want != want && cg_data(y)[i * N + j] != cg_data(y)[i * N + j]),
                                          "%lldx%lldx%lld (%d, %d) [%lld,%lld]: %.9g, want %.9g", (long long)M,
                                          (long long)N, (long long)K, ta, tb, (long long)i, (long long)j,
                                          (double)cg_data(y)[i * N + j], (double)want);
                        }
                    cg_frame_end();
                }
    /* backward: dA = G · Bᵀ, dB = Aᵀ · G, and B used twice: dB = (Aᵀ G) + (A2ᵀ G) */
    cg_frame_begin();
    int64_t M = 3, N = 9, K = 5;
    cg_tensor *a = cg_randn(CG_SHAPE(M, K)), *a2 = cg_randn(CG_SHAPE(M, K)), *b = cg_randn(CG_SHAPE(K, N));
    cg_tensor *g = cg_randn(CG_SHAPE(M, N));
    cg_set_requires_grad(a, true);
    cg_set_requires_grad(b, true);
    ck_assert_int_eq(cg_backward_ex(cg_matmul(a, b), .grad = g), 0);
    ck_assert_int_eq(cg_backward_ex(cg_matmul(a2, b), .grad = g), 0);
    const float *A = cg_data(a), *A2 = cg_data(a2), *B = cg_data(b), *G = cg_data(g);
    for (int64_t i = 0; i < M; i++)
        for (int64_t k = 0; k < K; k++)
            ck_assert(cg_data(cg_grad(a))[i * K + k] == tiny_dot(N, G + i * N, 1, B + k * N, 1));
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < N; j++) {
            float first = tiny_dot(M, A + k, K, G + j, N);
            ck_assert(cg_data(cg_grad(b))[k * N + j] == tiny_dot_onto(first, M, A2 + k, K, G + j, N));
        }
    cg_frame_end();
}
END_TEST

/* exp, tanh and sigmoid (vectorised where the CPU allows) against libm in double,
 * over the whole float range that matters, within a few ulp. */
START_TEST(elementwise_functions_are_accurate)
{
    cg_frame_begin();
    const int n = 20011; /* not a multiple of 8: the tail path runs too */
    cg_tensor *x = cg_empty(CG_SHAPE(n));
    for (int i = 0; i < n; i++)
        cg_data(x)[i] = -95.0f + 190.0f * (float)i / (float)(n - 1);
    cg_data(x)[7] = 0.0f, cg_data(x)[8] = -0.0f, cg_data(x)[9] = 1e-30f, cg_data(x)[10] = 0.6249f, cg_data(x)[11] = 0.6251f;
    cg_data(x)[12] = INFINITY, cg_data(x)[13] = -INFINITY, cg_data(x)[14] = NAN;
    cg_tensor *t = cg_tanh(x), *s = cg_sigmoid(x), *e = cg_exp(x);
    for (int i = 0; i < n; i++) {
        double v = cg_data(x)[i];
        double want[3] = {tanh(v), 1 / (1 + exp(-v)), exp(v)};
        float got[3] = {cg_data(t)[i], cg_data(s)[i], cg_data(e)[i]};
        for (int f = 0; f < 3; f++) {
            if (isnan(v)) {
                ck_assert(isnan(got[f]));
                continue;
            }
            if (isinf(want[f]) || want[f] > 3.4e38) { /* past float's range */
                ck_assert(got[f] > 3e38f);
                continue;
            }
            /* exp keeps subnormal results; 1 / (1 + e^-x) may round them to 0, as libm does */
            double tol = 4 * 1.2e-7 * fabs(want[f]) + (f == 2 ? 1e-44 : 1.2e-38);
            ck_assert_msg(fabs(got[f] - want[f]) <= tol, "f%d(%.9g) = %.9g, expected %.9g", f, v, (double)got[f], want[f]);
        }
    }
    /* exact GELU and its gradient (erf's two ranges; the gradient's e^{-x^2/2} is erf's own),
     * within a few ulp of their terms (and of e^{-x^2/2}'s rounded argument), on the same values and on one vector's worth within
     * [-1, 1] after another (the path with no erfc): -1.4 to 1.4 in steps of 1/2^12 */
    for (int pass = 0; pass < 2; pass++) {
        cg_tensor *v = x;
        if (pass == 1) {
            v = cg_empty(CG_SHAPE(11468));
            for (int i = 0; i < 11468; i++)
                cg_data(v)[i] = -1.4f + (float)i / 4096.0f;
        }
        cg_set_requires_grad(v, true);
        cg_tensor *gl = cg_gelu(v);
        ck_assert_int_eq(cg_backward(cg_sum(gl)), 0);
        for (int i = 0; i < cg_numel(v); i++) {
            double a = cg_data(v)[i], cdf = 0.5 * (1 + erf(a / sqrt(2.0))), xpdf = a * exp(-a * a / 2) / sqrt(2 * M_PI);
            float got = cg_data(gl)[i], dgot = cg_data(cg_grad(v))[i];
            if (isnan(a)) {
                ck_assert(isnan(got) && isnan(dgot));
                continue;
            }
            if (isinf(a)) /* (cg_gelu(+-inf) = +inf, 0 as torch's; the gradient is NaN at -inf there too) */
                continue;
            /* (1 + erf rounds to float's ulp of 1, as torch's formula does: deep on the left it is 0) */
            ck_assert_msg(fabs(got - a * cdf) <= 8 * 1.2e-7 * fabs(a * cdf) + 6e-8 * fabs(a) + 1.2e-38, "gelu(%.9g) = %.9g, expected %.9g",
                          a, (double)got, a * cdf);
            /* (e^{-x^2/2} from a rounded x^2: its relative error grows as x^2 does, in any float evaluation) */
            ck_assert_msg(fabs(dgot - (cdf + xpdf)) <= (8 + a * a) * 1.2e-7 * (fabs(cdf) + fabs(xpdf)) + 6e-8 + 1.2e-38,
                          "gelu'(%.9g) = %.9g, expected %.9g", a, (double)dgot, cdf + xpdf);
        }
    }
    cg_frame_end();
}
END_TEST

/* nanoGPT's head split written out: split q, k, v, view the heads, move them forward,
 * attention, move them back and join. */
static cg_tensor *heads_by_hand(cg_tensor *qkv, int H, cg_tensor *mask, bool causal, float p, cg_generator *g)
{
    int64_t B = cg_size(qkv, 0), T = cg_size(qkv, 1), E = cg_size(qkv, 2) / 3;
    cg_tensor *x = cg_permute(cg_reshape(qkv, CG_SHAPE(B, T, 3, H, E / H)), CG_DIMS(2, 0, 3, 1, 4));
    cg_tensor *y = cg_scaled_dot_product_attention_ex(cg_select(x, 0, 0), cg_select(x, 0, 1), cg_select(x, 0, 2),
                                                      .attn_mask = mask, .is_causal = causal, .dropout_p = p, .generator = g);
    return cg_reshape(cg_transpose(y, 1, 2), CG_SHAPE(B, T, E));
}

/* The same as nanoGPT writes it, in views: q, k, v = c_attn(x).split(n_embd, dim=2);
 * k.view(B, T, nh, hs).transpose(1, 2); ...; y.transpose(1, 2).contiguous().view(B, T, C). */
static cg_tensor *heads_by_views(cg_tensor *qkv, int H, cg_tensor *mask, bool causal, float p, cg_generator *g)
{
    int64_t B = cg_size(qkv, 0), T = cg_size(qkv, 1), E = cg_size(qkv, 2) / 3;
    cg_tensor *part[3];
    ck_assert_int_eq(cg_split(qkv, E, 2, part, 3), 3);
    for (int k = 0; k < 3; k++) {
        ck_assert(!cg_is_contiguous(part[k]) && cg_storage_offset(part[k]) == k * E); /* views of qkv */
        part[k] = cg_transpose(cg_view(part[k], CG_SHAPE(B, T, H, E / H)), 1, 2);
        ck_assert_ptr_nonnull(part[k]);
    }
    cg_tensor *y = cg_scaled_dot_product_attention_ex(part[0], part[1], part[2], .attn_mask = mask, .is_causal = causal,
                                                      .dropout_p = p, .generator = g);
    return cg_view(cg_contiguous(cg_transpose(y, 1, 2)), CG_SHAPE(B, T, E));
}

/* cg_packed_attention is that composition without its copies: the same bits, forward and
 * backward, plain, with a mask, and causal with dropout from the same generator state;
 * size-0 batches and sequences; what it refuses. */
START_TEST(packed_attention_is_the_head_split_without_copies)
{
    cg_frame_begin();
    cg_manual_seed(21);
    cg_generator *g = cg_generator_new(5);
    cg_tensor *mask = cg_randn(CG_SHAPE(7, 7));
    for (int variant = 0; variant < 3; variant++) {
        bool causal = variant == 2;
        float p = variant == 2 ? 0.25f : 0.0f;
        cg_tensor *m = variant == 1 ? mask : NULL;
        cg_tensor *qkv = cg_randn(CG_SHAPE(3, 7, 36)), *w = cg_randn(CG_SHAPE(3, 7, 12)); /* 3 heads of 4 */
        cg_set_requires_grad(qkv, true);
        cg_tensor *out[3], *grad[3];
        for (int way = 0; way < 3; way++) {
            cg_generator_manual_seed(g, 9);
            cg_zero_grad(qkv);
            out[way] = way == 1 ? cg_packed_attention_ex(qkv, 3, .attn_mask = m, .is_causal = causal, .dropout_p = p,
                                                         .generator = g)
                       : way ? heads_by_views(qkv, 3, m, causal, p, g) : heads_by_hand(qkv, 3, m, causal, p, g);
            ck_assert_ptr_nonnull(out[way]);
            ck_assert_int_eq(cg_backward(cg_sum(cg_mul(out[way], w))), 0);
            grad[way] = cg_tensor_copy(cg_grad(qkv));
        }
        ck_assert_tensor_close(out[1], out[0], 0, 0);
        ck_assert_tensor_close(grad[1], grad[0], 0, 0);
        ck_assert_tensor_close(out[2], out[0], 0, 0);
        ck_assert_tensor_close(grad[2], grad[0], 0, 0);
        /* qkv used twice, its .grad None before the pass: the attention's backward stores into
         * the fresh buffer when it comes first, and adds when the other use wrote it first */
        cg_tensor *other_w = cg_randn(CG_SHAPE(3, 7, 36));
        for (int attention_first = 0; attention_first < 2; attention_first++) {
            cg_generator_manual_seed(g, 9);
            ck_assert_int_eq(cg_set_grad_none(qkv), 0);
            cg_tensor *att = cg_sum(cg_mul(cg_packed_attention_ex(qkv, 3, .attn_mask = m, .is_causal = causal,
                                                                   .dropout_p = p, .generator = g), w));
            cg_tensor *other = cg_sum(cg_mul(qkv, other_w));
            /* (backward runs the second operand's nodes first) */
            ck_assert_int_eq(cg_backward(attention_first ? cg_add(other, att) : cg_add(att, other)), 0);
            for (int64_t i = 0; i < cg_numel(qkv); i++) { /* (the sums' order differs: to rounding) */
                float want = cg_data(grad[1])[i] + cg_data(other_w)[i];
                ck_assert_float_eq_tol(cg_data(cg_grad(qkv))[i], want, 1e-6f * (1 + fabsf(want)));
            }
        }
    }
    /* size 0: no batch, or no time step — an empty result, and nothing for backward to do */
    cg_tensor *none = cg_zeros(CG_SHAPE(0, 5, 12)), *empty_t = cg_zeros(CG_SHAPE(2, 0, 12));
    cg_set_requires_grad(empty_t, true);
    cg_tensor *y0 = cg_packed_attention(none, 2), *y1 = cg_packed_attention(empty_t, 2);
    ck_assert(y0 && cg_ndim(y0) == 3 && cg_size(y0, 0) == 0 && cg_size(y0, 2) == 4);
    ck_assert(y1 && cg_size(y1, 1) == 0 && cg_size(y1, 2) == 4);
    ck_assert_int_eq(cg_backward(cg_sum(y1)), 0);
    /* refused, with the call named: 0-d, 3 E not a multiple of 3, E not of n_head, n_head < 1, a mask of another size */
    cg_clear_error();
    ck_assert_ptr_null(cg_packed_attention(cg_scalar(1), 1));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_packed_attention: qkv () is not (..., T, 3 E)"));
    ck_assert_ptr_null(cg_packed_attention(cg_zeros(CG_SHAPE(2, 3, 10)), 1));
    ck_assert_ptr_null(cg_packed_attention(cg_zeros(CG_SHAPE(2, 3, 12)), 3));
    ck_assert_ptr_null(cg_packed_attention(cg_zeros(CG_SHAPE(2, 3, 12)), 0));
    ck_assert_ptr_null(cg_packed_attention_ex(cg_zeros(CG_SHAPE(2, 3, 12)), 2, .attn_mask = cg_zeros(CG_SHAPE(3, 4))));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_packed_attention: the mask (3, 4)"));
    ck_assert_ptr_nonnull(cg_packed_attention_ex(cg_zeros(CG_SHAPE(2, 3, 12)), 2, .attn_mask = cg_zeros(CG_SHAPE(2, 2, 3, 3))));
    /* a mask and is_causal together: torch refuses an explicit mask with is_causal, and so does each entry */
    cg_tensor *qkv = cg_zeros(CG_SHAPE(2, 3, 12)), *mask3 = cg_zeros(CG_SHAPE(3, 3));
    cg_clear_error();
    ck_assert_ptr_null(cg_packed_attention_ex(qkv, 2, .attn_mask = mask3, .is_causal = true));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_packed_attention: attn_mask and is_causal both given"));
    ck_assert_ptr_null(cg_scaled_dot_product_attention_ex(qkv, qkv, qkv, .attn_mask = mask3, .is_causal = true));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_scaled_dot_product_attention: attn_mask and is_causal both given"));
    cg_generator_free(g);
    cg_frame_end();
}
END_TEST

/* is_causal leaves the masked half out of its six products (cg__gemm_tri: tiles past the
 * diagonal, the zero part of k per row tile); the numbers must be the full products' with
 * the same triangle as an additive mask of -inf: bit for bit, forward and every gradient,
 * square and not (torch's causal mask is top-left: j <= i), with dropout from one generator
 * state, and past a k block of the kernels (260). */
START_TEST(causal_attention_gives_the_masks_numbers_without_its_half)
{
    static const int64_t sizes[][3] = {{40, 40, 24}, {70, 50, 16}, {33, 80, 20}, {260, 260, 8}};
    cg_generator *g = cg_generator_new(3);
    for (int c = 0; c < 4; c++)
        for (int dropout = 0; dropout < 2; dropout++) {
            cg_frame_begin();
            cg_manual_seed(40 + c);
            int64_t L = sizes[c][0], S = sizes[c][1], E = sizes[c][2];
            cg_tensor *in[3] = {cg_randn(CG_SHAPE(2, L, E)), cg_randn(CG_SHAPE(2, S, E)), cg_randn(CG_SHAPE(2, S, E))};
            cg_tensor *w = cg_randn(CG_SHAPE(2, L, E)), *mask = cg_zeros(CG_SHAPE(L, S));
            for (int64_t i = 0; i < L; i++)
                for (int64_t j = i + 1; j < S; j++)
                    cg_data(mask)[i * S + j] = -INFINITY;
            cg_tensor *out[2], *grad[2][3];
            for (int way = 0; way < 2; way++) {
                for (int k = 0; k < 3; k++) {
                    cg_set_requires_grad(in[k], true);
                    cg_zero_grad(in[k]);
                }
                cg_generator_manual_seed(g, 17);
                out[way] = cg_scaled_dot_product_attention_ex(in[0], in[1], in[2], .is_causal = way == 0,
                                                              .attn_mask = way ? mask : NULL,
                                                              .dropout_p = dropout ? 0.3f : 0.0f, .generator = g);
                ck_assert_ptr_nonnull(out[way]);
                ck_assert_int_eq(cg_backward(cg_sum(cg_mul(out[way], w))), 0);
                for (int k = 0; k < 3; k++)
                    grad[way][k] = cg_tensor_copy(cg_grad(in[k]));
            }
            ck_assert_tensor_close(out[0], out[1], 0, 0);
            for (int k = 0; k < 3; k++)
                ck_assert_tensor_close(grad[0][k], grad[1][k], 0, 0);
            cg_frame_end();
        }
    cg_generator_free(g);
}
END_TEST

/* One-hot rows take linear's lookup path; it must give the matmul's numbers. */
START_TEST(linear_on_one_hot_rows_matches_matmul)
{
    cg_frame_begin();
    cg_manual_seed(4);
    float ids[40];
    for (int i = 0; i < 40; i++)
        ids[i] = (float)((i * 7) % 10);
    cg_tensor *x = cg_one_hot(cg_tensor_from(ids, CG_SHAPE(40)), 10);
    cg_tensor *w = cg_randn(CG_SHAPE(6, 10)), *b = cg_randn(CG_SHAPE(6)), *g = cg_randn(CG_SHAPE(40, 6));
    cg_tensor *w2 = cg_tensor_copy(w), *b2 = cg_tensor_copy(b);
    cg_tensor *ps[4] = {w, b, w2, b2};
    for (int i = 0; i < 4; i++)
        cg_set_requires_grad(ps[i], true);
    cg_tensor *fast = cg_linear(x, w, b);
    cg_tensor *slow = cg_add(cg_matmul(x, cg_transpose(w2, 0, 1)), b2);
    ck_assert_tensor_close(fast, slow, 0, 0);
    cg_backward_ex(fast, .grad = g);
    cg_backward_ex(slow, .grad = g);
    ck_assert_tensor_close(cg_grad(w), cg_grad(w2), 1e-6, 1e-6);
    ck_assert_tensor_close(cg_grad(b), cg_grad(b2), 1e-6, 1e-6);
    /* accumulated: each weight gradient element adds its rows in row order onto its old value */
    float ref[60];
    memcpy(ref, cg_data(cg_grad(w)), sizeof ref);
    for (int i = 0; i < 40; i++)
        for (int o = 0; o < 6; o++)
            ref[o * 10 + (int)ids[i]] += cg_data(g)[i * 6 + o];
    ck_assert_int_eq(cg_backward_ex(cg_linear(x, w, b), .grad = g), 0);
    for (int k = 0; k < 60; k++)
        ck_assert_msg(cg_data(cg_grad(w))[k] == ref[k], "weight gradient %d: %.9g, want %.9g", k,
                      (double)cg_data(cg_grad(w))[k], (double)ref[k]);
    /* a row with a 2 in it is not one-hot: the GEMM path, same numbers */
    cg_data(x)[3 * 10 + (int)ids[3]] = 2.0f;
    ck_assert_tensor_close(cg_linear(x, w, NULL), cg_matmul(x, cg_transpose(w, 0, 1)), 1e-6, 1e-6);
    /* many rows (a char model's T x B = 2100 of 65): checked in parts over the threads, and
     * looked up in w's transpose; every row is w's column (plus b), exactly. Then a row deep
     * in the last part that is not one-hot, and a NaN in a middle one: the product's numbers. */
    enum { R = 2100, V = 65 };
    float *big_ids = malloc(sizeof(float) * R);
    for (int i = 0; i < R; i++)
        big_ids[i] = (float)((i * 31 + 7) % V);
    cg_tensor *xb = cg_one_hot(cg_tensor_from(big_ids, CG_SHAPE(R)), V), *wb = cg_randn(CG_SHAPE(24, V));
    for (int threads = 1; threads <= (fx_threads_run() ? 2 : 1); threads++) {
        cg_set_num_threads(threads);
        const float *y = cg_data(cg_linear(xb, wb, NULL));
        for (int i = 0; i < R; i++)
            for (int o = 0; o < 24; o++)
                ck_assert_msg(y[i * 24 + o] == cg_data(wb)[o * V + (int)big_ids[i]], "row %d, %d threads", i, threads);
        for (int bad = 0; bad < 2; bad++) {
            int row = bad ? 1000 : R - 5;
            float keep = cg_data(xb)[row * V];
            cg_data(xb)[row * V] = bad ? NAN : 0.5f;
            ck_assert_tensor_close(cg_linear(xb, wb, NULL), cg_matmul(xb, cg_transpose(wb, 0, 1)), 1e-6, 1e-6);
            cg_data(xb)[row * V] = keep;
        }
        /* backward, 40 outputs: w's gradient sums each element's rows in row order onto its
         * old value, and the bias's is the product path's (a row not one-hot), bit for bit,
         * on one thread and two */
        cg_tensor *ww = cg_randn(CG_SHAPE(40, V)), *bw = cg_randn(CG_SHAPE(40)), *gy = cg_randn(CG_SHAPE(R, 40));
        cg_set_requires_grad(ww, true), cg_set_requires_grad(bw, true);
        cg_backward_ex(cg_linear(xb, ww, bw), .grad = gy);
        float *want = malloc(sizeof(float) * 40 * V);
        memcpy(want, cg_data(cg_grad(ww)), sizeof(float) * 40 * V);
        cg_tensor *hot_gb = cg_tensor_copy(cg_grad(bw));
        ck_assert_int_eq(cg_backward_ex(cg_linear(xb, ww, bw), .grad = gy), 0);
        for (int i = 0; i < R; i++)
            for (int o = 0; o < 40; o++)
                want[o * V + (int)big_ids[i]] += cg_data(gy)[i * 40 + o];
        for (int k = 0; k < 40 * V; k++)
            ck_assert_msg(cg_data(cg_grad(ww))[k] == want[k], "weight gradient %d, %d threads", k, threads);
        free(want);
        cg_zero_grad(bw);
        cg_data(xb)[8] = 0.5f; /* not one-hot: the product's path */
        cg_backward_ex(cg_linear(xb, ww, bw), .grad = gy);
        cg_data(xb)[8] = 0.0f;
        ck_assert_tensor_close(hot_gb, cg_grad(bw), 0, 0);
    }
    cg_set_num_threads(1);
    free(big_ids);
    cg_frame_end();
}
END_TEST

/* Products split over threads give the single thread's numbers, bit for bit. */
/* ---- a recurrent weight's gradient: put off and summed over the steps ----------------
 * h_t = tanh(h_{t-1} Wᵀ + b) over TS steps of a batch of RB rows, W also used whole (W * C)
 * and through a view (2 * its first rows), the loss the sum of every h_t * R: the engine puts
 * W's per-step products off and adds them in long ones (and packs W once for the steps'
 * g · W). The gradients against a double reference; h0's and b's bit for bit those of
 * anomaly mode (which puts nothing off: the g · W products are the same either way);
 * and every gradient bit for bit the same outside frames and on two threads. */
#define RH 150 /* not a multiple of the kernel's 32 columns */
#define RB 5   /* rows a step: the 256-row products cut a step's rows in two */
#define TS 70
typedef struct {
    cg_tensor *w, *b, *h0, *c, *r;
} recurrent_case;

/* The gradients of W, b and h0 into out (RH*RH + RH + RB*RH floats); in a frame or not. */
static void recurrent_grads(const recurrent_case *rc, bool in_frame, float *out)
{
    cg_tensor *made[TS + 12];
    int n = 0;
    if (in_frame)
        cg_frame_begin();
    cg_tensor *leaves[3] = {rc->w, rc->b, rc->h0};
    for (int k = 0; k < 3; k++)
        cg_zero_grad(leaves[k]);
    cg_tensor *h = rc->h0, *hs[TS];
    for (int t = 0; t < TS; t++)
        h = hs[t] = made[n++] = cg_linear_act(h, rc->w, rc->b, NULL, CG_TANH);
    cg_tensor *view = made[n++] = cg_narrow(rc->w, 0, 0, 3);
    cg_tensor *twice = made[n++] = cg_mul_scalar(view, 2.0f);
    cg_tensor *terms[4];
    cg_tensor *stacked = made[n++] = cg_stack(hs, TS, 0);
    cg_tensor *times_r = made[n++] = cg_mul(stacked, rc->r); /* every step's h * R */
    terms[0] = made[n++] = cg_sum(times_r);
    cg_tensor *wc = made[n++] = cg_mul(rc->w, rc->c);
    terms[1] = made[n++] = cg_sum(wc);
    terms[2] = made[n++] = cg_sum(twice);
    cg_tensor *two_terms = made[n++] = cg_add(terms[0], terms[1]);
    cg_tensor *loss = made[n++] = cg_add(two_terms, terms[2]);
    ck_assert_int_eq(cg_backward(loss), 0);
    memcpy(out, cg_data(cg_grad(rc->w)), sizeof(float) * RH * RH);
    memcpy(out + RH * RH, cg_data(cg_grad(rc->b)), sizeof(float) * RH);
    memcpy(out + RH * RH + RH, cg_data(cg_grad(rc->h0)), sizeof(float) * RB * RH);
    if (in_frame)
        cg_frame_end();
    else
        for (int k = n - 1; k >= 0; k--)
            cg_tensor_free(made[k]);
}

START_TEST(recurrent_weight_gradients_add_up_across_steps)
{
    cg_manual_seed(21);
    cg_tensor *w0 = cg_randn(CG_SHAPE(RH, RH));
    recurrent_case rc = {cg_mul_scalar(w0, 0.08f), cg_randn(CG_SHAPE(RH)), cg_randn(CG_SHAPE(RB, RH)),
                         cg_randn(CG_SHAPE(RH, RH)), cg_randn(CG_SHAPE(RB, RH))};
    cg_tensor_free(w0);
    cg_tensor *leaves[3] = {rc.w, rc.b, rc.h0};
    for (int k = 0; k < 3; k++)
        cg_set_requires_grad(leaves[k], true);
    size_t len = RH * RH + RH + RB * RH;
    float *put_off = malloc(sizeof(float) * len), *outside = malloc(sizeof(float) * len);
    float *anomaly = malloc(sizeof(float) * len), *two = malloc(sizeof(float) * len);
    recurrent_grads(&rc, true, put_off);
    recurrent_grads(&rc, false, outside);
    cg_set_detect_anomaly(true);
    recurrent_grads(&rc, true, anomaly);
    cg_set_detect_anomaly(false);
    ck_assert_mem_eq(put_off, outside, sizeof(float) * len);
    ck_assert_mem_eq(put_off + RH * RH, anomaly + RH * RH, sizeof(float) * (RH + RB * RH)); /* b, h0 */
    if (fx_threads_run()) {
        cg_set_num_threads(2);
        recurrent_grads(&rc, true, two);
        cg_set_num_threads(1);
        ck_assert_mem_eq(put_off, two, sizeof(float) * len);
    }
    /* the reference, in double: forward, then back through the steps */
    const float *W = cg_data(rc.w), *bias = cg_data(rc.b), *C = cg_data(rc.c), *R = cg_data(rc.r);
    double *hs = malloc(sizeof(double) * (TS + 1) * RB * RH), *g = malloc(sizeof(double) * RB * RH);
    double *gz = malloc(sizeof(double) * RB * RH), *dw = calloc(RH * RH, sizeof(double));
    double *mag = calloc(RH * RH, sizeof(double));
    for (int i = 0; i < RB * RH; i++)
        hs[i] = cg_data(rc.h0)[i];
    for (int t = 1; t <= TS; t++)
        for (int i = 0; i < RB; i++)
            for (int o = 0; o < RH; o++) {
                double z = bias[o];
                for (int k = 0; k < RH; k++)
                    z += hs[((t - 1) * RB + i) * RH + k] * W[o * RH + k];
                hs[(t * RB + i) * RH + o] = tanh(z);
            }
    for (int i = 0; i < RB * RH; i++)
        g[i] = 0;
    for (int t = TS; t >= 1; t--) {
        for (int i = 0; i < RB * RH; i++)
            g[i] += R[i]; /* h_t's own term */
        for (int i = 0; i < RB * RH; i++) {
            double y = hs[t * RB * RH + i];
            gz[i] = g[i] * (1 - y * y);
        }
        for (int o = 0; o < RH; o++)
            for (int k = 0; k < RH; k++)
                for (int i = 0; i < RB; i++) {
                    double term = gz[i * RH + o] * hs[((t - 1) * RB + i) * RH + k];
                    dw[o * RH + k] += term, mag[o * RH + k] += fabs(term);
                }
        for (int i = 0; i < RB; i++)
            for (int k = 0; k < RH; k++) {
                double s = 0;
                for (int o = 0; o < RH; o++)
                    s += gz[i * RH + o] * W[o * RH + k];
                g[i * RH + k] = s;
            }
    }
    for (int e = 0; e < RH * RH; e++) {
        double want = dw[e] + C[e] + (e < 3 * RH ? 2.0 : 0.0);
        ck_assert_msg(fabs(put_off[e] - want) <= 1e-5 * (mag[e] + fabs(C[e]) + 2) + 1e-6, "dW[%d]: %.9g, want %.9g", e,
                      put_off[e], want);
        ck_assert_msg(fabs(anomaly[e] - want) <= 1e-5 * (mag[e] + fabs(C[e]) + 2) + 1e-6, "dW[%d] (anomaly mode)", e);
    }
    free(hs), free(g), free(gz), free(dw), free(mag);
    free(put_off), free(outside), free(anomaly), free(two);
    cg_tensor *all[5] = {rc.w, rc.b, rc.h0, rc.c, rc.r};
    for (int k = 0; k < 5; k++)
        cg_tensor_free(all[k]);
}
END_TEST
#undef RH
#undef RB
#undef TS

/* A char-RNN's backward on two threads: every 256 rows of steps the weight gradient's
 * product goes to the worker, and once it is over the worker takes its part of the
 * steps' own products again (split by rows: 32 x 256 x 256) while the first thread has
 * still to wait for it. The same bits as on one thread, repeated: the handover is
 * timing, so several rounds. */
/* H = 512: each half of a step's rows is a product worth two threads of its own, which
 * runs on its task's thread (a nested job once reset the step's count under it). */
static void recurrent_steps_bits_on_two_threads(int H)
{
    enum { B = 32, T = 40 };
    cg_manual_seed(5);
    cg_tensor *w0 = cg_randn(CG_SHAPE(H, H)), *w = cg_mul_scalar(w0, 0.06f * 16.0f / sqrtf((float)H)), *b = cg_randn(CG_SHAPE(H));
    cg_tensor_free(w0);
    cg_tensor *h0 = cg_randn(CG_SHAPE(B, H)), *r = cg_randn(CG_SHAPE(T, B, H));
    cg_tensor *leaves[3] = {w, b, h0};
    for (int k = 0; k < 3; k++)
        cg_set_requires_grad(leaves[k], true);
    size_t len = (size_t)(H * H + H + B * H + T * B * H); /* the gradients, and the stacked steps */
    float *want = malloc(sizeof(float) * len), *got = malloc(sizeof(float) * len);
    for (int round = 0; round < 6; round++) {
        ck_assert_int_eq(cg_set_num_threads(round == 0 ? 1 : 2), 0);
        cg_frame_begin();
        for (int k = 0; k < 3; k++)
            cg_zero_grad(leaves[k]);
        cg_tensor *h = h0, *hs[T];
        for (int t = 0; t < T; t++)
            h = hs[t] = cg_linear_act(h, w, b, NULL, CG_TANH);
        cg_tensor *stacked = cg_stack(hs, T, 0); /* (its steps copied over the threads) */
        ck_assert_int_eq(cg_backward(cg_sum(cg_mul(stacked, r))), 0);
        float *out = round == 0 ? want : got;
        memcpy(out, cg_data(cg_grad(w)), sizeof(float) * H * H);
        memcpy(out + H * H, cg_data(cg_grad(b)), sizeof(float) * H);
        memcpy(out + H * H + H, cg_data(cg_grad(h0)), sizeof(float) * B * H);
        memcpy(out + H * H + H + B * H, cg_data(stacked), sizeof(float) * T * B * H);
        for (int t = 0; t < T; t++)
            ck_assert_mem_eq(cg_data(stacked) + t * B * H, cg_data(hs[t]), sizeof(float) * B * H);
        cg_frame_end();
        if (round > 0)
            ck_assert_msg(!memcmp(got, want, sizeof(float) * len), "H = %d: two threads' round %d differs from one thread's", H, round);
    }
    cg_set_num_threads(1);
    free(want), free(got);
    for (int k = 0; k < 3; k++)
        cg_tensor_free(leaves[k]);
    cg_tensor_free(r);
}

START_TEST(recurrent_steps_share_the_worker_after_a_background_product)
{
    if (!fx_threads_run())
        return;
    recurrent_steps_bits_on_two_threads(256);
    recurrent_steps_bits_on_two_threads(512);
}
END_TEST

START_TEST(threads_give_identical_results)
{
    if (!fx_threads_run())
        return;
    cg_frame_begin();
    cg_manual_seed(11);
    cg_tensor *a = cg_randn(CG_SHAPE(96, 300)), *w = cg_randn(CG_SHAPE(200, 300)), *v = cg_randn(CG_SHAPE(300, 130));
    cg_tensor *x2 = cg_randn(CG_SHAPE(128, 160)), *w2 = cg_randn(CG_SHAPE(130, 160)), *sq = cg_randn(CG_SHAPE(160, 160));
    cg_tensor *leaves[4] = {w, x2, w2, sq};
    for (int k = 0; k < 4; k++)
        cg_set_requires_grad(leaves[k], true);
    /* an output layer's shape: 65 columns, split by rows (and its gradients: columns, rows) */
    cg_tensor *h = cg_randn(CG_SHAPE(300, 200)), *wo = cg_randn(CG_SHAPE(65, 200));
    cg_tensor *x65 = cg_randn(CG_SHAPE(300, 65)), *w65 = cg_randn(CG_SHAPE(200, 65)); /* dx, dw: rows, A transposed too */
    cg_tensor *more[4] = {h, wo, x65, w65};
    for (int k = 0; k < 4; k++)
        cg_set_requires_grad(more[k], true);
    cg_tensor *outs[2][12];
    for (int run = 0; run < 2; run++) {
        ck_assert_int_eq(cg_set_num_threads(run ? 2 : 1), 0);
        ck_assert_int_eq(cg_get_num_threads(), run ? 2 : 1);
        for (int k = 0; k < 4; k++)
            cg_zero_grad(leaves[k]);
        outs[run][0] = cg_linear(a, w, NULL);              /* A · Bᵀ */
        outs[run][1] = cg_matmul(a, v);                    /* A · B */
        cg_backward(cg_sum(cg_mul(outs[run][0], outs[run][0])));
        outs[run][2] = cg_tensor_copy(cg_grad(w));         /* Aᵀ · B */
        /* dx and dw of one linear, big enough to run one per thread; and x = w, which must not */
        cg_backward(cg_add(cg_sum(cg_tanh(cg_linear(x2, w2, NULL))), cg_sum(cg_tanh(cg_linear(sq, sq, NULL)))));
        outs[run][3] = cg_tensor_copy(cg_grad(x2));
        outs[run][4] = cg_tensor_copy(cg_grad(w2));
        outs[run][5] = cg_tensor_copy(cg_grad(sq));
        outs[run][6] = cg_tensor_copy(outs[run][0]);
        cg_zero_grad(h), cg_zero_grad(wo);
        outs[run][7] = cg_linear(h, wo, NULL); /* 300 x 65 x 200 */
        cg_backward(cg_sum(cg_mul(outs[run][7], outs[run][7])));
        outs[run][8] = cg_tensor_copy(cg_grad(h));
        outs[run][9] = cg_tensor_copy(cg_grad(wo));
        cg_zero_grad(x65), cg_zero_grad(w65);
        cg_backward(cg_sum(cg_tanh(cg_linear(x65, w65, NULL))));
        outs[run][10] = cg_tensor_copy(cg_grad(x65));
        outs[run][11] = cg_tensor_copy(cg_grad(w65));
    }
    for (int k = 0; k < 12; k++)
        ck_assert_tensor_close(outs[1][k], outs[0][k], 0, 0);
    /* a recurrent step's fused linear (addend, bias, tanh; 37 rows: each thread its rows,
     * 19 and 18, sum, product and activation) and a one-hot input layer, forward and
     * backward (the activation's gradient, the addend's, the bias's sums) */
    float ids[600];
    for (int i = 0; i < 600; i++)
        ids[i] = (float)((i * 31) % 65);
    cg_tensor *xr = cg_randn(CG_SHAPE(37, 256)), *wr = cg_randn(CG_SHAPE(256, 256)), *br = cg_randn(CG_SHAPE(256));
    cg_tensor *ar = cg_randn(CG_SHAPE(37, 256)), *oh = cg_one_hot(cg_tensor_from(ids, CG_SHAPE(600)), 65);
    cg_tensor *wi = cg_randn(CG_SHAPE(256, 65)), *bi = cg_randn(CG_SHAPE(256));
    cg_tensor *fused[6] = {xr, wr, br, ar, wi, bi}, *fused_outs[2][8];
    for (int run = 0; run < 2; run++) {
        ck_assert_int_eq(cg_set_num_threads(run ? 2 : 1), 0);
        for (int k = 0; k < 6; k++) {
            cg_set_requires_grad(fused[k], true);
            cg_zero_grad(fused[k]);
        }
        cg_tensor *y = cg_linear_act(xr, wr, br, ar, CG_TANH), *z = cg_linear(oh, wi, bi);
        ck_assert_int_eq(cg_backward(cg_add(cg_sum(cg_mul(y, y)), cg_sum(cg_mul(z, z)))), 0);
        cg_tensor *got[8] = {y, z, cg_grad(xr), cg_grad(wr), cg_grad(br), cg_grad(ar), cg_grad(wi), cg_grad(bi)};
        for (int k = 0; k < 8; k++)
            fused_outs[run][k] = cg_tensor_copy(got[k]);
    }
    for (int k = 0; k < 8; k++)
        ck_assert_tensor_close(fused_outs[1][k], fused_outs[0][k], 0, 0);
    /* attention (the batches over the threads, dropout drawn first), layer norm (rows, and
     * columns for weight and bias) and GELU (chunks): the same bits on one thread and two */
    cg_tensor *qkv = cg_randn(CG_SHAPE(4, 33, 96)), *ln_w = cg_randn(CG_SHAPE(96)), *ln_b = cg_randn(CG_SHAPE(96));
    cg_tensor *wide = cg_randn(CG_SHAPE(300, 400)), *mix = cg_randn(CG_SHAPE(4, 33, 32));
    cg_tensor *ew[4] = {qkv, ln_w, ln_b, wide};
    cg_tensor *more_outs[2][7];
    for (int run = 0; run < 2; run++) {
        ck_assert_int_eq(cg_set_num_threads(run ? 2 : 1), 0);
        for (int k = 0; k < 4; k++) {
            cg_set_requires_grad(ew[k], true);
            cg_zero_grad(ew[k]);
        }
        cg_generator *g = cg_generator_new(3);
        cg_tensor *att = cg_packed_attention_ex(qkv, 4, .is_causal = true, .dropout_p = 0.2f, .generator = g);
        cg_tensor *ln = cg_layer_norm(qkv, 1, ln_w, ln_b, 1e-5f);
        cg_tensor *ge = cg_gelu(wide);
        cg_backward(cg_add(cg_add(cg_sum(cg_mul(att, mix)), cg_sum(cg_mul(ln, ln))), cg_sum(cg_mul(ge, ge))));
        cg_generator_free(g);
        cg_tensor *got[7] = {att, ln, ge, cg_grad(qkv), cg_grad(ln_w), cg_grad(ln_b), cg_grad(wide)};
        for (int k = 0; k < 7; k++)
            more_outs[run][k] = cg_tensor_copy(got[k]);
    }
    for (int k = 0; k < 7; k++)
        ck_assert_tensor_close(more_outs[1][k], more_outs[0][k], 0, 0);
    /* softmax and log_softmax over a char model's logits (600 x 65: rows in parts over the
     * threads), forward and backward through cross-entropy */
    cg_tensor *logits = cg_randn(CG_SHAPE(600, 65)), *classes = cg_tensor_from(ids, CG_SHAPE(600));
    cg_tensor *soft_outs[2][4];
    for (int run = 0; run < 2; run++) {
        ck_assert_int_eq(cg_set_num_threads(run ? 2 : 1), 0);
        cg_set_requires_grad(logits, true);
        cg_zero_grad(logits);
        cg_tensor *sm = cg_softmax(logits, 1), *lsm = cg_log_softmax(logits, 1);
        cg_tensor *ce = cg_cross_entropy(logits, classes);
        ck_assert_int_eq(cg_backward(cg_add(ce, cg_sum(cg_mul(sm, sm)))), 0);
        cg_tensor *got[4] = {sm, lsm, ce, cg_grad(logits)};
        for (int k = 0; k < 4; k++)
            soft_outs[run][k] = cg_tensor_copy(got[k]);
    }
    for (int k = 0; k < 4; k++)
        ck_assert_tensor_close(soft_outs[1][k], soft_outs[0][k], 0, 0);
    /* and every row's values are the formulas' (in double): y = x - log sum exp x,
     * dx = r - exp(y) sum r, for the parts' first, middle and last rows alike */
    cg_tensor *rr = cg_randn(CG_SHAPE(600, 65));
    cg_zero_grad(logits);
    cg_tensor *lsm = cg_log_softmax(logits, 1);
    ck_assert_int_eq(cg_backward(cg_sum(cg_mul(lsm, rr))), 0);
    const float *xs = cg_data(logits), *ys = cg_data(lsm), *rs = cg_data(rr), *gs = cg_data(cg_grad(logits));
    for (int i = 0; i < 600; i++) {
        double se = 0, sr = 0;
        for (int c = 0; c < 65; c++)
            se += exp((double)xs[i * 65 + c]), sr += rs[i * 65 + c];
        for (int c = 0; c < 65; c++) {
            double y = xs[i * 65 + c] - log(se), gx = rs[i * 65 + c] - exp(y) * sr;
            ck_assert_msg(fabs(ys[i * 65 + c] - y) <= 1e-5 * (1 + fabs(y)), "log_softmax row %d: %g, want %g", i,
                          (double)ys[i * 65 + c], y);
            ck_assert_msg(fabs(gs[i * 65 + c] - gx) <= 1e-5 * (1 + fabs(sr)), "its gradient row %d: %g, want %g", i,
                          (double)gs[i * 65 + c], gx);
        }
    }
    /* clipping and AdamW, a parameter per task: the same values on one thread and two */
    cg_tensor *stepped[2][5];
    for (int run = 0; run < 2; run++) {
        ck_assert_int_eq(cg_set_num_threads(run ? 2 : 1), 0);
        cg_manual_seed(17);
        cg_tensor *ps[5];
        for (int k = 0; k < 5; k++) {
            ps[k] = cg_randn(CG_SHAPE(40 + k, 30));
            cg_set_requires_grad(ps[k], true);
        }
        cg_optim *opt = cg_adamw_new(ps, 5, .lr = 0.01f);
        for (int it = 0; it < 2; it++) {
            cg_optim_zero_grad(opt);
            cg_tensor *loss = cg_scalar(0);
            for (int k = 0; k < 5; k++)
                loss = cg_add(loss, cg_sum(cg_mul(ps[k], cg_tanh(ps[k]))));
            ck_assert_int_eq(cg_backward(loss), 0);
            ck_assert(cg_clip_grad_norm(ps, 5, 1.0f) > 1.0f); /* it scales */
            ck_assert_int_eq(cg_optim_step(opt), 0);
        }
        for (int k = 0; k < 5; k++)
            stepped[run][k] = cg_tensor_copy(ps[k]);
        cg_optim_free(opt);
    }
    for (int k = 0; k < 5; k++)
        ck_assert_tensor_close(stepped[1][k], stepped[0][k], 0, 0);
    /* x = w again, with 1 thread and then 20 times with 2: a race there would show now and then */
    cg_tensor *ref = NULL;
    for (int rep = -1; rep < 20; rep++) {
        ck_assert_int_eq(cg_set_num_threads(rep < 0 ? 1 : 2), 0);
        cg_zero_grad(sq);
        cg_backward(cg_sum(cg_tanh(cg_linear(sq, sq, NULL))));
        cg_backward(cg_sum(cg_tanh(cg_linear(x2, w2, NULL))));
        cg_backward(cg_sum(cg_tanh(cg_linear(sq, sq, NULL))));
        if (rep < 0)
            ref = cg_tensor_copy(cg_grad(sq));
        else
            ck_assert_tensor_close(cg_grad(sq), ref, 0, 0);
    }
    ck_assert_int_eq(cg_set_num_threads(1), 0);
    ck_assert_int_eq(cg_set_num_threads(0), -1);
    ck_assert_int_eq(cg_set_num_threads(1000), -1);
    ck_assert_int_eq(cg_get_num_threads(), 1);
    cg_frame_end();
}
END_TEST

/* A view's gradient lives in its base's: leaf gradients still accumulate across
 * backwards, and a retained graph's intermediate gradients start from zero. */
START_TEST(view_gradients_accumulate_like_pytorch)
{
    cg_frame_begin();
    cg_tensor *x = cg_tensor_from((float[]){1, 2, 3, 4, 5, 6}, CG_SHAPE(6));
    cg_set_requires_grad(x, true);
    for (int k = 0; k < 2; k++) {
        cg_tensor *v = cg_reshape(x, CG_SHAPE(2, 3));
        cg_tensor *row = cg_select(v, 0, 1); /* 4 5 6 */
        cg_backward(cg_add(cg_sum(cg_mul(v, v)), cg_sum(row)));
    }
    for (int i = 0; i < 6; i++) /* twice (2x + [i >= 3]) */
        ck_assert_float_eq_tol(cg_data(cg_grad(x))[i], 2 * (2 * (float)(i + 1) + (i >= 3)), 1e-5);
    cg_tensor *h = cg_mul_scalar(x, 3); /* a non-leaf base */
    cg_tensor *part = cg_narrow(h, 0, 2, 3);
    cg_tensor *loss = cg_sum(cg_mul(part, part));
    cg_zero_grad(x);
    cg_backward_ex(loss, .retain_graph = true);
    cg_backward(loss);
    for (int i = 0; i < 6; i++) /* d/dx sum((3x)^2) over x[2..4] = 18x, twice */
        ck_assert_float_eq_tol(cg_data(cg_grad(x))[i], (i >= 2 && i < 5) ? 2 * 18 * (float)(i + 1) : 0, 1e-4);
    cg_frame_end();
}
END_TEST

/* A view of all of its base (a reshape, an unsqueeze, dropout's identity) stores into the
 * base's gradient when that is fresh, with nothing zeroed first, and adds once it is
 * written: the same gradients as through copies, whichever use comes first, through
 * chains of such views, beside a view of a part, with .grad set to None, and on a
 * retained graph's second pass. */
static cg_tensor *all_of(cg_tensor *t, int way) /* way 0: copies (cg_clone), 1: views of all of t */
{
    cg_tensor *u = way ? cg_unsqueeze(t, 0) : cg_clone(t);
    return way ? cg_dropout(cg_reshape(u, CG_SHAPE(-1)), 0.0f, true) : u;
}

START_TEST(views_of_all_of_a_base_store_into_its_gradient)
{
    cg_frame_begin();
    cg_manual_seed(4);
    cg_tensor *x = cg_randn(CG_SHAPE(6)), *r = cg_randn(CG_SHAPE(6));
    cg_set_requires_grad(x, true);
    float want[5][6];
    for (int way = 0; way < 2; way++)
        for (int c = 0; c < 5; c++) {
            ck_assert_int_eq(c == 0 ? cg_set_grad_none(x) : cg_zero_grad(x), 0);
            cg_tensor *h = cg_mul_scalar(x, 3.0f); /* an intermediate base */
            cg_tensor *loss = NULL;
            switch (c) {
            case 0: /* a leaf's .grad set to None, reached through the view only */
                loss = cg_sum(cg_mul(cg_reshape(all_of(x, way), CG_SHAPE(6)), r));
                break;
            case 1: /* the view's use runs first, then the base's own (backward: the second operand first) */
                loss = cg_add(cg_sum(cg_mul(h, h)), cg_sum(cg_mul(all_of(h, way), r)));
                break;
            case 2: /* the base's own use first */
                loss = cg_add(cg_sum(cg_mul(all_of(h, way), r)), cg_sum(cg_mul(h, h)));
                break;
            case 3: /* beside a view of a part */
                loss = cg_add(cg_sum(cg_narrow(h, 0, 1, 3)), cg_sum(cg_mul(all_of(h, way), r)));
                break;
            case 4: /* a retained graph, twice (the base's gradient zeroed at the second pass's start) */
                loss = cg_sum(cg_mul(all_of(cg_tanh(h), way), r));
                ck_assert_int_eq(cg_backward_ex(loss, .retain_graph = true), 0);
                break;
            }
            ck_assert_int_eq(cg_backward(loss), 0);
            for (int i = 0; i < 6; i++)
                if (way == 0)
                    want[c][i] = cg_data(cg_grad(x))[i];
                else
                    ck_assert_msg(fabsf(cg_data(cg_grad(x))[i] - want[c][i]) <= 1e-6f * (1 + fabsf(want[c][i])),
                                  "case %d: x.grad[%d] = %g through views, %g through copies", c, i,
                                  (double)cg_data(cg_grad(x))[i], (double)want[c][i]);
        }
    cg_frame_end();
}
END_TEST

/* ---- strided views --------------------------------------------------------------- */

/* The chains tools/make_fixtures.py's VIEW_CASES apply, in the same order. */
static cg_tensor *view_chain(int c, cg_tensor *t)
{
    switch (c) {
    case 0: return cg_transpose(t, 0, 1);
    case 1: return cg_transpose(t, 1, 2);
    case 2: return cg_permute(t, CG_DIMS(2, 0, 1));
    case 3: return cg_narrow(t, 2, 1, 2);
    case 4: return cg_select(t, 1, 2);
    case 5: return cg_slice(t, 2, -3, -1);
    case 6: return cg_expand(cg_narrow(t, 1, 0, 1), CG_SHAPE(2, 3, 4));
    case 7: return cg_expand(cg_select(cg_select(t, 0, 1), 0, 0), CG_SHAPE(3, 2, 4));
    case 8: return cg_view(cg_narrow(t, 2, 0, 2), CG_SHAPE(6, 2));
    case 9: return cg_reshape(cg_transpose(t, 1, 2), CG_SHAPE(2, 12));
    case 10: return cg_select(cg_narrow(cg_transpose(t, 0, 2), 0, 1, 2), 2, 1);
    case 11: return cg_squeeze(cg_unsqueeze(cg_transpose(t, 0, 1), 1), 1);
    case 12: return cg_transpose(cg_transpose(t, 0, 2), 0, 2);
    case 15: return cg_t(cg_select(t, 0, 1));
    default: {
        cg_tensor *piece[3];
        int n = c == 13 ? cg_split(t, 3, 2, piece, 3) : cg_chunk(t, 2, 1, piece, 3);
        return n == 2 ? piece[1] : NULL;
    }
    }
}
static const char *const view_case_names[] = {"t01", "t12", "perm", "narrow2", "select1", "slice_neg", "expand",
                                             "expand_new", "narrow_view", "t_reshape", "chain", "t_unsqueeze", "tt",
                                             "split", "chunk", "t"};
#define NVIEWCASES ((int)(sizeof view_case_names / sizeof *view_case_names))

static cg_tensor *arange_base(void) { return cg_reshape(cg_arange(0, 24, 1), CG_SHAPE(2, 3, 4)); }

START_TEST(views_match_pytorch)
{
    fixture *fx = views;
    const char *name = view_case_names[_i];
    cg_frame_begin();
    cg_tensor *base = cg_contiguous(arange_base());
    cg_set_requires_grad(base, true);
    cg_tensor *v = view_chain(_i, base);
    ck_assert_msg(v, "%s: %s", name, cg_last_error());
    /* the layout torch gives: contiguous or not, where it starts, its strides */
    const float *layout = cg_data(fx_get(fx, "%s.layout", name));
    ck_assert_int_eq(cg_is_contiguous(v), layout[0] != 0);
    ck_assert_int_eq(cg_storage_offset(v), (int64_t)layout[1]);
    for (int d = 0; d < cg_ndim(v); d++)
        ck_assert_int_eq(cg_stride(v, d), (int64_t)layout[2 + d]);
    ck_assert_tensor_close(v, fx_get(fx, "%s.out", name), 0, 0);
    char text[2048]; /* printed as torch prints it, its grad_fn's name included */
    ck_assert_int_lt(cg_tensor_str(v, text, sizeof text), (int)sizeof text);
    ck_assert_msg(!strcmp(text, fx_text(views_print, name)), "%s:\n%s\nexpected\n%s", name, text,
                  fx_text(views_print, name));
    cg_tensor *w = cg_empty(cg_ndim(v), cg_shape(v));
    for (int64_t i = 0; i < cg_numel(w); i++)
        cg_data(w)[i] = (float)(i % 7) - 3.0f;
    ck_assert_int_eq(cg_backward(cg_sum(cg_mul(v, w))), 0);
    ck_assert_tensor_close(cg_grad(base), fx_get(fx, "%s.grad", name), 0, 0);
    /* a write through the view lands in the base, as torch's copy_ puts it */
    cg_tensor *b = cg_contiguous(arange_base());
    cg_tensor *bv = view_chain(_i, b);
    cg_tensor *src = cg_rsub_scalar(cg_reshape(cg_arange(0, (double)cg_numel(bv), 1), cg_ndim(bv), cg_shape(bv)), -1);
    uint32_t before = cg_version(b);
    if (fx_has(fx, "%s.written", name)) {
        ck_assert_msg(cg_copy_(bv, src) == 0, "%s: %s", name, cg_last_error());
        ck_assert_tensor_close(b, fx_get(fx, "%s.written", name), 0, 0);
        ck_assert_uint_eq(cg_version(b), before + 1);
        ck_assert_uint_eq(cg_version(bv), cg_version(b)); /* one counter */
    } else if (cg_stride(bv, 0) == 0) { /* torch: one memory location for several elements */
        ck_assert_int_eq(cg_copy_(bv, src), -1);
        ck_assert_ptr_nonnull(strstr(cg_last_error(), "more than one element"));
        ck_assert_int_eq(cg_fill_(bv, 1), -1);
        ck_assert_uint_eq(cg_version(b), before);
    }
    cg_frame_end();
}
END_TEST

START_TEST(views_share_storage_and_versions)
{
    cg_frame_begin();
    cg_tensor *x = cg_contiguous(arange_base());
    cg_tensor *t = cg_transpose(x, 0, 2); /* (4, 3, 2) */
    ck_assert_float_eq(cg_data(t)[1], 12.0f); /* t[0][0][1] = x[1][0][0] */
    cg_data(x)[12] = 100; /* a write torch does not count: the view still sees it, and so do ops */
    ck_assert_float_eq(cg_data(t)[1], 100.0f);
    ck_assert_float_eq(cg_data(cg_mul_scalar(t, 2))[1], 200.0f);
    ck_assert_int_eq(cg_fill_(cg_select(t, 2, 1), -5), 0); /* t[:, :, 1] is x[1] */
    for (int i = 12; i < 24; i++)
        ck_assert_float_eq(cg_data(x)[i], -5.0f);
    ck_assert_uint_eq(cg_version(t), cg_version(x));
    /* a graph that saved a view refuses backward after a write to its base, as torch's */
    cg_tensor *leaf = cg_randn(CG_SHAPE(3, 4));
    cg_set_requires_grad(leaf, true);
    cg_tensor *h = cg_mul_scalar(leaf, 1);
    cg_tensor *ht = cg_transpose(h, 0, 1);
    cg_tensor *loss = cg_sum(cg_mul(ht, ht));
    cg_no_grad_begin();
    ck_assert_int_eq(cg_fill_(h, 0.5f), 0);
    cg_no_grad_end();
    ck_assert_int_eq(cg_backward(loss), -1);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "modified by an inplace operation"));
    /* refusals, each naming the call */
    ck_assert_ptr_null(cg_view(t, CG_SHAPE(24)));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_view: view size (24,) is not compatible"));
    ck_assert_int_eq(cg_numel(cg_reshape(t, CG_SHAPE(24))), 24);
    ck_assert_float_eq(cg_data(cg_reshape(t, CG_SHAPE(24)))[1], -5.0f);
    ck_assert_int_eq(cg_stride(t, 3), -1);
    ck_assert_int_eq(cg_stride(cg_scalar(1), 0), -1);
    ck_assert_int_eq(cg_uniform_(t, 0, 1), -1);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_uniform_: a strided view"));
    cg_tensor *tl = cg_transpose(leaf, 0, 1);
    ck_assert_int_eq(cg_gradcheck(NULL, &tl, 1, NULL), -1);
    cg_tensor *ex = cg_expand(cg_randn(CG_SHAPE(1, 3)), CG_SHAPE(2, 3));
    cg_set_requires_grad(ex, true);
    ck_assert_ptr_null(cg_sgd_new(&ex, 1, .lr = 0.1f)); /* its elements share memory: torch's step refuses */
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "share memory"));
    /* backward's given gradient may be a view; anomaly mode reads a view's values where they lie */
    cg_tensor *G = cg_randn(CG_SHAPE(4, 3));
    cg_zero_grad(leaf);
    ck_assert_int_eq(cg_backward_ex(cg_mul_scalar(leaf, 2), .grad = cg_transpose(G, 0, 1)), 0);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            ck_assert_float_eq(cg_data(cg_grad(leaf))[i * 4 + j], 2 * cg_data(G)[j * 3 + i]);
    cg_set_detect_anomaly(true);
    cg_tensor *wide = cg_expand(cg_randn(CG_SHAPE(1, 2)), CG_SHAPE(1000, 2)); /* 2 values in storage */
    cg_set_detect_anomaly(false);
    ck_assert_ptr_nonnull(wide);
    /* split and chunk: how many without out, and their refusals, each naming the call */
    cg_tensor *piece[2];
    ck_assert_int_eq(cg_split(x, 1, 1, NULL, 0), 3);
    ck_assert_int_eq(cg_chunk(x, 5, -1, NULL, 0), 4);        /* 4 columns: pieces of 1 */
    ck_assert_int_eq(cg_split(x, 1, 1, piece, 2), -1);       /* 3 pieces, room for 2 */
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_split: 3 pieces, room for 2"));
    ck_assert_int_eq(cg_split(x, -1, 0, piece, 2), -1);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_split: split_size"));
    ck_assert_int_eq(cg_chunk(x, 0, 0, piece, 2), -1);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_chunk: chunk expects"));
    ck_assert_int_eq(cg_chunk(x, 2, 3, piece, 2), -1);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_chunk"));
    ck_assert_int_eq(cg_chunk(cg_zeros(CG_SHAPE(0, 2)), 2, 0, piece, 2), 2); /* size 0: chunks empty pieces */
    ck_assert_int_eq(cg_numel(piece[1]), 0);
    ck_assert_ptr_null(cg_t(x));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_t: expects a tensor with <= 2 dimensions"));
    /* a size-0 view and a 0-d one */
    cg_tensor *e = cg_transpose(cg_zeros(CG_SHAPE(0, 3)), 0, 1);
    ck_assert_int_eq(cg_numel(e), 0);
    ck_assert(cg_is_contiguous(e)); /* no element: any strides are row-major, as torch says */
    ck_assert_int_eq(cg_numel(cg_tanh(e)), 0);
    ck_assert_float_eq(cg_item(cg_transpose(cg_scalar(3), 0, 0)), 3.0f);
    /* contiguous of a row-major tensor is a view of it; of a strided one, a copy */
    cg_tensor *c = cg_contiguous(x);
    ck_assert_int_eq(cg_storage_offset(c), 0);
    cg_data(c)[0] = 42;
    ck_assert_float_eq(cg_data(x)[0], 42.0f);
    cg_tensor *into = cg_empty(CG_SHAPE(4, 3, 2)); /* out of a view into a row-major tensor, and broadcast */
    ck_assert_int_eq(cg_copy_(into, t), 0);
    ck_assert_int_eq(cg_copy_(cg_select(into, 0, 0), cg_select(t, 0, 3)), 0);
    for (int i = 0; i < 24; i++)
        ck_assert_float_eq(cg_data(into)[i], cg_data(t)[i < 6 ? 18 + i : i]);
    cg_tensor *row = cg_empty(CG_SHAPE(2, 3));
    ck_assert_int_eq(cg_copy_(row, cg_select(cg_t(cg_select(x, 0, 0)), 0, 2)), 0); /* (3,) broadcast to (2, 3) */
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(cg_data(row)[i], cg_data(x)[(i % 3) * 4 + 2]);
    cg_tensor *ct = cg_contiguous(t);
    ck_assert(cg_is_contiguous(ct));
    ck_assert_float_eq(cg_data(ct)[1], -5.0f);
    cg_data(ct)[0] = 7;
    ck_assert_float_eq(cg_data(x)[0], 42.0f);
    cg_frame_end();
}
END_TEST

/* Outside frames a view keeps its base, and the copy an op read keeps the view
 * while a graph needs it: freed in any order, nothing is read after it goes (ASan)
 * and nothing stays (the leak check). */
START_TEST(strided_views_outside_frames_free_in_any_order)
{
    cg_tensor *x = cg_randn(CG_SHAPE(3, 4));
    cg_set_requires_grad(x, true);
    cg_tensor *t = cg_transpose(x, 0, 1);
    cg_tensor *y = cg_tanh(t); /* reads t through its recorded copy */
    cg_tensor *t2 = cg_transpose(x, 0, 1);
    cg_tensor *z = cg_sigmoid(t2);
    cg_tensor_free(t);  /* y's graph still goes back through it */
    cg_tensor_free(t2);
    cg_tensor *ly = cg_sum(y), *lz = cg_sum(z);
    ck_assert_int_eq(cg_backward(ly), 0);
    ck_assert_int_eq(cg_backward(lz), 0);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) {
            float v = cg_data(x)[i * 4 + j], th = tanhf(v), sg = 1 / (1 + expf(-v));
            ck_assert_float_eq_tol(cg_data(cg_grad(x))[i * 4 + j], (1 - th * th) + sg * (1 - sg), 1e-5);
        }
    cg_tensor_free(ly);
    cg_tensor_free(lz);
    cg_tensor_free(y);
    cg_tensor_free(z);
    /* the base freed first; the view's copy made again after a counted write */
    cg_tensor *b = cg_randn(CG_SHAPE(2, 5));
    cg_tensor *bt = cg_transpose(b, 0, 1);
    cg_tensor *s1 = cg_sum(bt);
    ck_assert_int_eq(cg_fill_(b, 1), 0);
    cg_tensor *s2 = cg_sum(bt);
    ck_assert_float_eq(cg_item(s2), 10.0f);
    cg_tensor_free(b);
    ck_assert_float_eq(cg_data(bt)[3], 1.0f);
    cg_tensor *bc = cg_contiguous(bt);
    cg_tensor_free(bt);
    cg_tensor *s3 = cg_sum(bc);
    ck_assert_float_eq(cg_item(s3), 10.0f);
    cg_tensor_free(s3);
    cg_tensor_free(bc);
    cg_tensor_free(s1);
    cg_tensor_free(s2);
    cg_tensor_free(x);
}
END_TEST

/* A parameter that is a transpose (torch optimizes one as any leaf): Adam steps it as
 * it steps a row-major copy, bit for bit, and the tensor it views moves with it. */
START_TEST(an_optimizer_steps_a_strided_parameter)
{
    cg_frame_begin();
    cg_manual_seed(3);
    cg_tensor *W = cg_randn(CG_SHAPE(3, 4)), *X = cg_randn(CG_SHAPE(2, 4));
    cg_tensor *Wt = cg_t(W), *D = cg_tensor_copy(Wt); /* (4, 3) each */
    ck_assert(!cg_is_contiguous(Wt) && cg_is_leaf(Wt));
    ck_assert_int_eq(cg_set_requires_grad(Wt, true), 0);
    ck_assert_int_eq(cg_set_requires_grad(D, true), 0);
    cg_optim *opt[2] = {cg_adamw_new(&Wt, 1, .lr = 0.1f), cg_adamw_new(&D, 1, .lr = 0.1f)};
    cg_tensor *p[2] = {Wt, D};
    uint32_t v0 = cg_version(W);
    for (int step = 0; step < 3; step++)
        for (int k = 0; k < 2; k++) {
            cg_optim_zero_grad(opt[k]);
            ck_assert_int_eq(cg_backward(cg_sum(cg_tanh(cg_matmul(X, p[k])))), 0);
            ck_assert_int_eq(cg_optim_step(opt[k]), 0);
        }
    for (int i = 0; i < 12; i++) {
        ck_assert(cg_data(Wt)[i] == cg_data(D)[i]);
        ck_assert(cg_data(W)[(i % 3) * 4 + i / 3] == cg_data(D)[i]); /* the base moved */
    }
    ck_assert_uint_eq(cg_version(W), v0 + 3); /* one write a step, as torch counts */
    cg_optim_free(opt[0]);
    cg_optim_free(opt[1]);
    cg_frame_end();
}
END_TEST

typedef struct {
    cg_tensor *view;
    float sums[50];
} view_reader;

static void *read_view(void *arg)
{
    view_reader *r = arg;
    for (int i = 0; i < 50; i++) {
        cg_frame_begin();
        r->sums[i] = cg_item(cg_sum(cg_tanh(r->view)));
        cg_frame_end();
    }
    cg_frame_release_memory(); /* this thread's arena */
    return NULL;
}

/* Two threads reading one strided view outside frames (its row-major copy is made
 * once, then only looked at): the same sums, and no race for TSan to see. */
/* Binary ops on operands of one shape with many elements run flat, in chunks over the
 * threads: forward and both gradients are exactly the formulas' single roundings, on one
 * thread and two, and with one tensor as both operands. */
enum { BIG = 200 * 201 };
typedef cg_tensor *(*binary_fn)(cg_tensor *, cg_tensor *);

static void check_big_binary(binary_fn op, int kind, bool same, cg_tensor *a, cg_tensor *b, cg_tensor *w)
{
    cg_tensor *y = same ? a : b;
    cg_zero_grad(a), cg_zero_grad(b);
    cg_tensor *out = op(a, y);
    ck_assert_int_eq(cg_backward(cg_sum(cg_mul(out, w))), 0); /* the output's gradient is w */
    const float *A = cg_data(a), *Y = cg_data(y), *W = cg_data(w), *O = cg_data(out);
    const float *ga = cg_data(cg_grad(a)), *gb = same ? NULL : cg_data(cg_grad(b));
    for (int i = 0; i < BIG; i++) {
        float x = A[i], v = Y[i], g = W[i], f, da, db;
        switch (kind) {
        case 0: f = x + v, da = g, db = g; break;
        case 1: f = x - v, da = g, db = -g; break;
        case 2: f = x * v, da = g * v, db = g * x; break;
        default: f = x / v, da = g / v, db = -g * ((x / v) / v); break;
        }
        ck_assert_msg(O[i] == f, "op %d, element %d: %g, want %g", kind, i, O[i], f);
        if (same) {
            float both = da;
            both += db; /* a's part stored, then b's added */
            ck_assert_msg(ga[i] == both, "op %d on one tensor, gradient %d: %g, want %g", kind, i, ga[i], both);
        } else {
            ck_assert_msg(ga[i] == da && gb[i] == db, "op %d, gradients %d: %g %g, want %g %g", kind, i, ga[i], gb[i],
                          da, db);
        }
    }
}

START_TEST(large_binary_ops_run_flat_on_threads)
{
    cg_manual_seed(5);
    cg_frame_begin();
    cg_tensor *a = cg_randn(CG_SHAPE(200, 201)), *b = cg_add_scalar(cg_rand(CG_SHAPE(200, 201)), 0.5f);
    cg_tensor *w = cg_randn(CG_SHAPE(200, 201));
    cg_set_requires_grad(a, true), cg_set_requires_grad(b, true);
    binary_fn ops[4] = {cg_add, cg_sub, cg_mul, cg_div};
    for (int threads = 1; threads <= (fx_threads_run() ? 2 : 1); threads++) {
        ck_assert_int_eq(cg_set_num_threads(threads), 0);
        for (int k = 0; k < 4; k++) {
            check_big_binary(ops[k], k, false, a, b, w);
            check_big_binary(ops[k], k, true, b, a, w);
        }
    }
    cg_set_num_threads(1);
    cg_frame_end();
}
END_TEST

START_TEST(threads_read_one_strided_view)
{
    if (!fx_threads_run())
        return;
    cg_manual_seed(5);
    cg_tensor *x = cg_randn(CG_SHAPE(64, 48));
    cg_tensor *t = cg_transpose(x, 0, 1);
    view_reader r[2] = {{.view = t}, {.view = t}};
    pthread_t th[2];
    for (int k = 0; k < 2; k++)
        ck_assert_int_eq(pthread_create(&th[k], NULL, read_view, &r[k]), 0);
    for (int k = 0; k < 2; k++)
        pthread_join(th[k], NULL);
    cg_frame_begin();
    float want = cg_item(cg_sum(cg_tanh(cg_contiguous(x))));
    cg_frame_end();
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 50; i++)
            ck_assert_float_eq(r[k].sums[i], want);
    cg_tensor_free(t);
    cg_tensor_free(x);
}
END_TEST

static Suite *autograd_suite(void)
{
    Suite *s = suite_create("autograd");
    TCase *t = tcase_create("ops");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, op_matches_pytorch, 0, NCASES);
    tcase_add_loop_test(t, op_passes_gradcheck, 0, NCASES);
    tcase_add_loop_test(t, table_op_passes_gradcheck, 0, op_table_count);
    tcase_add_loop_test(t, table_op_reads_strided_operands, 0, op_table_count);
    suite_add_tcase(s, t);
    TCase *e = tcase_create("engine");
    tcase_set_timeout(e, 120);
    tcase_add_test(e, gradients_accumulate_across_backwards);
    tcase_add_test(e, packed_attention_is_the_head_split_without_copies);
    tcase_add_test(e, causal_attention_gives_the_masks_numbers_without_its_half);
    tcase_add_test(e, a_reused_value_sums_its_gradients);
    tcase_add_test(e, fresh_gradient_buffers_sum_every_contribution);
    tcase_add_test(e, second_backward_through_a_freed_graph_fails_clearly);
    tcase_add_test(e, backward_with_an_output_gradient);
    tcase_add_test(e, a_ten_thousand_step_chain_does_not_overflow);
    tcase_add_test(e, no_grad_and_detach_cut_the_graph);
    tcase_add_test(e, broadcast_gradients_sum_back_to_shape);
    tcase_add_test(e, mlp_matches_pytorch);
    tcase_add_test(e, recurrence_matches_pytorch);
    tcase_add_test(e, gradcheck_catches_a_wrong_gradient);
    tcase_add_test(e, dropout_matches_pytorch_and_scales);
    tcase_add_test(e, one_hot_and_argmax);
    tcase_add_test(e, large_products_match_a_double_reference);
    tcase_add_test(e, tiny_products_sum_in_order_bit_for_bit);
    tcase_add_test(e, elementwise_functions_are_accurate);
    tcase_add_test(e, linear_on_one_hot_rows_matches_matmul);
    tcase_add_test(e, threads_give_identical_results);
    tcase_add_test(e, recurrent_steps_share_the_worker_after_a_background_product);
    tcase_add_test(e, large_binary_ops_run_flat_on_threads);
    tcase_add_test(e, view_gradients_accumulate_like_pytorch);
    tcase_add_test(e, views_of_all_of_a_base_store_into_its_gradient);
    tcase_add_loop_test(e, views_match_pytorch, 0, NVIEWCASES);
    tcase_add_test(e, views_share_storage_and_versions);
    tcase_add_test(e, strided_views_outside_frames_free_in_any_order);
    tcase_add_test(e, recurrent_weight_gradients_add_up_across_steps);
    tcase_add_test(e, threads_read_one_strided_view);
    tcase_add_test(e, an_optimizer_steps_a_strided_parameter);
    suite_add_tcase(s, e);
    TCase *x = tcase_create("errors");
    tcase_add_test(x, bad_inputs_fail_cleanly);
    tcase_add_test(x, null_inputs_keep_the_first_message);
    suite_add_tcase(s, x);
    return s;
}

int main(void)
{
    ops = fx_load("ops.txt");
    nets = fx_load("nets.txt");
    rnd = fx_load("random.txt");
    views = fx_load("views.txt");
    views_print = fx_load("views_print.txt");
    return fx_run(autograd_suite());
}
