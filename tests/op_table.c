/* cgrad tests — the op table (see op_table.h): one entry per public op and
 * variant, with how to call it, what valid operands look like, and why a check
 * does not apply where one does not. */
#include "op_table.h"
#include <stdlib.h>
#include <string.h>

#define APPLY(name, expr)                                                 \
    static cg_tensor *apply_##name(cg_tensor *const *in, const op_args *a) \
    {                                                                      \
        (void)in;                                                          \
        (void)a;                                                           \
        return expr;                                                       \
    }

APPLY(add, cg_add(in[0], in[1]))
APPLY(sub, cg_sub(in[0], in[1]))
APPLY(mul, cg_mul(in[0], in[1]))
APPLY(div, cg_div(in[0], in[1]))
APPLY(pow, cg_pow(in[0], in[1]))
APPLY(maximum, cg_maximum(in[0], in[1]))
APPLY(minimum, cg_minimum(in[0], in[1]))
APPLY(add_scalar, cg_add_scalar(in[0], a->value))
APPLY(sub_scalar, cg_sub_scalar(in[0], a->value))
APPLY(rsub_scalar, cg_rsub_scalar(in[0], a->value))
APPLY(mul_scalar, cg_mul_scalar(in[0], a->value))
APPLY(div_scalar, cg_div_scalar(in[0], a->value))
APPLY(rdiv_scalar, cg_rdiv_scalar(in[0], a->value))
APPLY(pow_scalar, cg_pow_scalar(in[0], a->value))
APPLY(neg, cg_neg(in[0]))
APPLY(exp, cg_exp(in[0]))
APPLY(log, cg_log(in[0]))
APPLY(sqrt, cg_sqrt(in[0]))
APPLY(abs, cg_abs(in[0]))
APPLY(tanh, cg_tanh(in[0]))
APPLY(sigmoid, cg_sigmoid(in[0]))
APPLY(relu, cg_relu(in[0]))
APPLY(clamp, cg_clamp(in[0], a->value, a->value2))
APPLY(where, cg_where(in[0], in[1], in[2]))
APPLY(gelu, cg_gelu(in[0]))
APPLY(gelu_tanh, cg_gelu_tanh(in[0]))
APPLY(masked_fill, cg_masked_fill(in[0], in[1], a->value))
APPLY(tril, cg_tril(in[0], a->index))
APPLY(triu, cg_triu(in[0], a->index))
APPLY(layer_norm, cg_layer_norm(in[0], a->dim, in[1], in[2], a->value))
APPLY(matmul, cg_matmul(in[0], in[1]))
APPLY(linear, cg_linear(in[0], in[1], in[2]))
APPLY(linear_add, cg_linear_add(in[0], in[1], in[2], in[3]))
APPLY(linear_act, cg_linear_act(in[0], in[1], in[2], in[3], (cg_nonlinearity)a->index))
APPLY(reshape, cg_reshape(in[0], a->ndims, a->sizes))
APPLY(view, cg_view(in[0], a->ndims, a->sizes))
APPLY(flatten, cg_flatten(in[0]))
APPLY(squeeze, cg_squeeze(in[0], a->dim))
APPLY(unsqueeze, cg_unsqueeze(in[0], a->dim))
APPLY(transpose, cg_transpose(in[0], a->dim, a->dim2))
APPLY(permute, cg_permute(in[0], a->ndims, a->dims))
APPLY(t, cg_t(in[0]))
/* the count of operands, never past the two the entry has (a fuzzer's count may be anything) */
static int operand_count(const op_args *a) { return a->length > 2 ? 2 : a->length < -2 ? -2 : (int)a->length; }
APPLY(cat, cg_cat(in, operand_count(a), a->dim))
APPLY(stack, cg_stack(in, operand_count(a), a->dim))
APPLY(select, cg_select(in[0], a->dim, a->index))
APPLY(narrow, cg_narrow(in[0], a->dim, a->index, a->length))
/* one piece of a split or chunk (index, taken modulo the count, so a fuzzer's any
 * index picks one), the others let go */
static cg_tensor *piece_of(int n, cg_tensor **pieces, int64_t index)
{
    cg_tensor *keep = n > 0 ? pieces[(index % n + n) % n] : NULL;
    for (int k = 0; k < n; k++)
        if (pieces[k] != keep)
            cg_tensor_free(pieces[k]);
    return keep;
}
static cg_tensor *apply_split(cg_tensor *const *in, const op_args *a)
{
    cg_tensor *pieces[64];
    return piece_of(cg_split(in[0], a->length, a->dim, pieces, 64), pieces, a->index);
}
static cg_tensor *apply_chunk(cg_tensor *const *in, const op_args *a)
{
    cg_tensor *pieces[64];
    return piece_of(cg_chunk(in[0], (int)a->length, a->dim, pieces, 64), pieces, a->index);
}
APPLY(slice, cg_slice(in[0], a->dim, a->index, a->length))
APPLY(index_select, cg_index_select(in[0], a->dim, in[1]))
APPLY(gather, cg_gather(in[0], a->dim, in[1]))
APPLY(detach, cg_detach(in[0]))
APPLY(clone, cg_clone(in[0]))
APPLY(contiguous, cg_contiguous(in[0]))
APPLY(expand, cg_expand(in[0], a->ndims, a->sizes))
APPLY(sum, cg_sum(in[0]))
APPLY(sum_dim, cg_sum_dim(in[0], a->dim, a->flag))
APPLY(mean, cg_mean(in[0]))
APPLY(mean_dim, cg_mean_dim(in[0], a->dim, a->flag))
APPLY(max, cg_max(in[0]))
APPLY(max_dim, cg_max_dim(in[0], a->dim, a->flag))
APPLY(argmax, cg_argmax(in[0], a->dim, a->flag))
APPLY(softmax, cg_softmax(in[0], a->dim))
APPLY(log_softmax, cg_log_softmax(in[0], a->dim))
APPLY(logsumexp, cg_logsumexp(in[0], a->dim, a->flag))
APPLY(sdpa, cg_scaled_dot_product_attention(in[0], in[1], in[2]))
APPLY(sdpa_with, cg_scaled_dot_product_attention_ex(in[0], in[1], in[2], .attn_mask = in[3], .is_causal = a->flag,
                                                    .dropout_p = a->value, .scale = a->value2))
APPLY(packed_attention, cg_packed_attention(in[0], (int)a->index))
APPLY(packed_attention_with, cg_packed_attention_ex(in[0], (int)a->index, .attn_mask = in[1], .is_causal = a->flag,
                                                    .dropout_p = a->value))
APPLY(cross_entropy, cg_cross_entropy(in[0], in[1]))
APPLY(cross_entropy_with, cg_cross_entropy_ex(in[0], in[1], .reduction = (cg_reduction)a->index,
                                              .ignore_index = a->length, .label_smoothing = a->value, .weight = in[2]))
APPLY(nll_loss, cg_nll_loss(in[0], in[1]))
APPLY(nll_loss_with, cg_nll_loss_ex(in[0], in[1], .reduction = (cg_reduction)a->index, .ignore_index = a->length,
                                    .weight = in[2]))
APPLY(mse_loss, cg_mse_loss(in[0], in[1]))
APPLY(mse_loss_with, cg_mse_loss_ex(in[0], in[1], .reduction = (cg_reduction)a->index))
APPLY(one_hot, cg_one_hot(in[0], a->length))
APPLY(embedding, cg_embedding(in[0], in[1]))
APPLY(dropout, cg_dropout(in[0], a->value, a->flag))
APPLY(randint, cg_randint(a->index, a->length, a->ndims, a->sizes))
APPLY(randperm, cg_randperm(a->length))
APPLY(bernoulli, cg_bernoulli(in[0]))
APPLY(multinomial, cg_multinomial(in[0], a->length, a->flag))
/* the _gen forms, from the table's own generator */
#define GEN op_table_generator()
APPLY(dropout_gen, cg_dropout_gen(in[0], a->value, a->flag, GEN))
APPLY(randint_gen, cg_randint_gen(a->index, a->length, a->ndims, a->sizes, GEN))
APPLY(randperm_gen, cg_randperm_gen(a->length, GEN))
APPLY(bernoulli_gen, cg_bernoulli_gen(in[0], GEN))
APPLY(multinomial_gen, cg_multinomial_gen(in[0], a->length, a->flag, GEN))
APPLY(rand_gen, cg_rand_gen(a->ndims, a->sizes, GEN))
APPLY(randn_gen, cg_randn_gen(a->ndims, a->sizes, GEN))
APPLY(uniform_gen, cg_uniform_gen(a->ndims, a->sizes, a->value, a->value2, GEN))
APPLY(normal_gen, cg_normal_gen(a->ndims, a->sizes, a->value, a->value2, GEN))
APPLY(sdpa_gen, cg_scaled_dot_product_attention_ex(in[0], in[1], in[2], .dropout_p = a->value, .generator = GEN))

cg_generator *op_table_generator(void)
{
    static cg_generator *g;
    if (!g)
        g = cg_generator_new(42); /* lives as long as the test process */
    return g;
}

#define D OP_DIFFERENTIABLE
#define R OP_RANDOM
/* the reductions' ignore_index default, as torch's */
#define LOSS_DEFAULTS .index = CG_MEAN, .length = -100
static const char not_differentiable[] = "not differentiable (torch gives no grad_fn)";
static const char takes_no_tensor[] = "takes no tensor operand";

const op_entry op_table[] = {
    /* elementwise, with broadcasting */
    {"cg_add", NULL, "torch.add", 2, apply_add, {0}, "r:2x3 r:3", D, .edge_fixture = "add"},
    {"cg_sub", NULL, "torch.sub", 2, apply_sub, {0}, "r:2x3 r:3", D, .edge_fixture = "sub"},
    {"cg_mul", NULL, "torch.mul", 2, apply_mul, {0}, "r:2x3 r:2x1", D, .edge_fixture = "mul"},
    {"cg_div", NULL, "torch.div", 2, apply_div, {0}, "r:2x3 p:3", D, .edge_fixture = "div"},
    {"cg_pow", NULL, "torch.pow", 2, apply_pow, {0}, "p:2x3 r:3", D, .edge_fixture = "pow"},
    {"cg_maximum", NULL, "torch.maximum", 2, apply_maximum, {0}, "r:2x3 r:2x3", D, .edge_fixture = "maximum"},
    {"cg_minimum", NULL, "torch.minimum", 2, apply_minimum, {0}, "r:2x3 r:2x3", D, .edge_fixture = "minimum"},
    {"cg_add_scalar", NULL, "torch.add", 1, apply_add_scalar, {.value = 2.5f}, "r:2x3", D,
     .no_edge_fixture = "the same kernel as cg_add's, whose fixtures cover 0-d and size-0 operands"},
    {"cg_sub_scalar", NULL, "torch.sub", 1, apply_sub_scalar, {.value = 1.5f}, "r:2x3", D,
     .no_edge_fixture = "the same kernel as cg_sub's, whose fixtures cover 0-d and size-0 operands"},
    {"cg_rsub_scalar", NULL, "torch.rsub", 1, apply_rsub_scalar, {.value = 1.5f}, "r:2x3", D,
     .no_edge_fixture = "the same kernel as cg_sub's, whose fixtures cover 0-d and size-0 operands"},
    {"cg_mul_scalar", NULL, "torch.mul", 1, apply_mul_scalar, {.value = -3}, "r:2x3", D, .edge_fixture = "mul_scalar"},
    {"cg_div_scalar", NULL, "torch.div", 1, apply_div_scalar, {.value = 4}, "r:2x3", D,
     .no_edge_fixture = "the same kernel as cg_div's, whose fixtures cover 0-d and size-0 operands"},
    {"cg_rdiv_scalar", NULL, "torch.div", 1, apply_rdiv_scalar, {.value = 2}, "p:2x3", D,
     .no_edge_fixture = "the same kernel as cg_div's, whose fixtures cover 0-d and size-0 operands"},
    {"cg_pow_scalar", NULL, "torch.pow", 1, apply_pow_scalar, {.value = 2.5f}, "p:2x3", D, .edge_fixture = "pow_scalar"},
    {"cg_pow_scalar", "exponent 3", "torch.pow", 1, apply_pow_scalar, {.value = 3}, "r:2x3", D, .edge_fixture = "pow_scalar"},
    {"cg_neg", NULL, "torch.neg", 1, apply_neg, {0}, "r:2x3", D, .edge_fixture = "neg"},
    {"cg_exp", NULL, "torch.exp", 1, apply_exp, {0}, "r:2x3", D, .edge_fixture = "exp"},
    {"cg_log", NULL, "torch.log", 1, apply_log, {0}, "p:2x3", D, .edge_fixture = "log"},
    {"cg_sqrt", NULL, "torch.sqrt", 1, apply_sqrt, {0}, "p:2x3", D, .edge_fixture = "sqrt"},
    {"cg_abs", NULL, "torch.abs", 1, apply_abs, {0}, "r:2x3", D, .edge_fixture = "abs"},
    {"cg_tanh", NULL, "torch.tanh", 1, apply_tanh, {0}, "r:2x3", D, .edge_fixture = "tanh"},
    {"cg_sigmoid", NULL, "torch.sigmoid", 1, apply_sigmoid, {0}, "r:2x3", D, .edge_fixture = "sigmoid"},
    {"cg_relu", NULL, "torch.relu", 1, apply_relu, {0}, "r:2x3", D, .edge_fixture = "relu"},
    {"cg_clamp", NULL, "torch.clamp", 1, apply_clamp, {.value = -0.5f, .value2 = 0.5f}, "r:2x3", D,
     .edge_fixture = "clamp"},
    {"cg_where", NULL, "torch.where", 3, apply_where, {0}, "m:2x3 r:2x3 r:3", D, .edge_fixture = "where"},
    {"cg_gelu", NULL, "torch.nn.functional.gelu", 1, apply_gelu, {0}, "r:2x3", D, .edge_fixture = "gelu"},
    {"cg_gelu_tanh", NULL, "torch.nn.functional.gelu", 1, apply_gelu_tanh, {0}, "r:2x3", D,
     .no_edge_fixture = "shares cg_gelu's shape handling, whose fixtures cover 0-d and size-0 operands"},
    {"cg_masked_fill", NULL, "torch.Tensor.masked_fill", 2, apply_masked_fill, {.value = -1.5f}, "r:2x3 m:3", D,
     .edge_fixture = "masked_fill"},
    {"cg_tril", NULL, "torch.tril", 1, apply_tril, {0}, "r:3x4", D, .edge_fixture = "tril"},
    {"cg_triu", NULL, "torch.triu", 1, apply_triu, {.index = 1}, "r:3x4", D,
     .no_edge_fixture = "the same code as cg_tril's (the other triangle), whose fixtures cover the shapes"},
    {"cg_layer_norm", NULL, "torch.nn.functional.layer_norm", 3, apply_layer_norm, {.dim = 1, .value = 1e-5f},
     "r:2x4 r:4 r:4", D, .edge_fixture = "layer_norm"},
    {"cg_layer_norm", "two dims, no affine", "torch.nn.functional.layer_norm", 3, apply_layer_norm,
     {.dim = 2, .value = 1e-5f}, "r:2x2x3 - -", D, .edge_fixture = "layer_norm"},
    /* linear algebra */
    {"cg_matmul", NULL, "torch.matmul", 2, apply_matmul, {0}, "r:2x3x4 r:4x5", D, .edge_fixture = "matmul"},
    {"cg_matmul", "vector by batch", "torch.matmul", 2, apply_matmul, {0}, "r:4 r:2x4x3", D, .edge_fixture = "matmul"},
    {"cg_linear", NULL, "torch.nn.functional.linear", 3, apply_linear, {0}, "r:2x3 r:4x3 r:4", D,
     .edge_fixture = "linear"},
    {"cg_linear_add", NULL, "torch.addmm", 4, apply_linear_add, {0}, "r:2x3 r:4x3 r:4 r:2x4", D,
     .no_edge_fixture = "cg_linear's kernel and checks with an accumulator added; cg_linear's fixtures cover the shapes"},
    {"cg_linear_act", NULL, "torch.tanh(addmm)", 4, apply_linear_act, {.index = CG_TANH}, "r:2x3 r:4x3 r:4 r:2x4", D,
     .no_edge_fixture = "cg_linear's kernel and checks with an activation; cg_linear's fixtures cover the shapes"},
    {"cg_linear_act", "relu, no accumulator", "torch.relu(linear)", 4, apply_linear_act, {.index = CG_RELU},
     "r:2x3 r:4x3 r:4 -", D, .no_edge_fixture = "cg_linear's kernel and checks with an activation"},
    /* shapes */
    {"cg_reshape", NULL, "torch.reshape", 1, apply_reshape, {.ndims = 2, .sizes = {3, -1}}, "r:2x3", D,
     .edge_fixture = "reshape"},
    {"cg_view", NULL, "torch.Tensor.view", 1, apply_view, {.ndims = 1, .sizes = {-1}}, "r:2x3", D,
     .no_edge_fixture = "cg_reshape under another name; its fixtures cover the shapes"},
    {"cg_flatten", NULL, "torch.flatten", 1, apply_flatten, {0}, "r:2x3", D,
     .no_edge_fixture = "cg_reshape to (-1); its fixtures cover 0-d and size-0 shapes"},
    {"cg_squeeze", NULL, "torch.squeeze", 1, apply_squeeze, {.dim = 1}, "r:2x1x3", D, .edge_fixture = "squeeze"},
    {"cg_unsqueeze", NULL, "torch.unsqueeze", 1, apply_unsqueeze, {.dim = 1}, "r:2x3", D, .edge_fixture = "unsqueeze"},
    {"cg_transpose", NULL, "torch.transpose", 1, apply_transpose, {.dim = 0, .dim2 = -1}, "r:2x3x4", D,
     .edge_fixture = "transpose"},
    {"cg_permute", NULL, "torch.permute", 1, apply_permute, {.ndims = 3, .dims = {2, 0, 1}}, "r:2x3x4", D,
     .edge_fixture = "permute"},
    {"cg_t", NULL, "torch.t", 1, apply_t, {0}, "r:2x3", D, .edge_fixture = "t"},
    {"cg_cat", NULL, "torch.cat", 2, apply_cat, {.dim = 1, .length = 2}, "r:2x3 r:2x2", D, .edge_fixture = "cat"},
    {"cg_stack", NULL, "torch.stack", 2, apply_stack, {.dim = -1, .length = 2}, "r:2x3 r:2x3", D,
     .edge_fixture = "stack"},
    {"cg_select", NULL, "torch.select", 1, apply_select, {.dim = 1, .index = -1}, "r:3x4", D, .edge_fixture = "select"},
    {"cg_narrow", NULL, "torch.narrow", 1, apply_narrow, {.dim = 0, .index = 1, .length = 2}, "r:4x3", D,
     .edge_fixture = "narrow"},
    {"cg_split", NULL, "torch.split", 1, apply_split, {.dim = 1, .index = 1, .length = 2}, "r:3x5", D,
     .edge_fixture = "split"},
    {"cg_chunk", NULL, "torch.chunk", 1, apply_chunk, {.dim = -1, .index = 2, .length = 3}, "r:2x7", D,
     .edge_fixture = "chunk"},
    {"cg_slice", NULL, "tensor[:, start:end]", 1, apply_slice, {.dim = 1, .index = 1, .length = -1}, "r:3x5", D,
     .no_edge_fixture = "cg_narrow with python bounds; narrow's fixtures cover 0-d and size-0 shapes"},
    {"cg_index_select", NULL, "torch.index_select", 2, apply_index_select, {.dim = 0}, "r:4x3 i4:5", D,
     .edge_fixture = "index_select"},
    {"cg_gather", NULL, "torch.gather", 2, apply_gather, {.dim = 1}, "r:3x4 i4:3x2", D, .edge_fixture = "gather"},
    {"cg_detach", NULL, "torch.Tensor.detach", 1, apply_detach, {0}, "r:2x3", 0,
     .no_gradcheck = "a view outside the graph: no gradient flows by design",
     .no_edge_fixture = "a view of its operand's values, whatever their shape"},
    {"cg_clone", NULL, "torch.clone", 1, apply_clone, {0}, "r:2x3", D, .edge_fixture = "clone"},
    /* torch's answers for degenerate shapes are clone's (the same values, a new tensor) */
    {"cg_contiguous", NULL, "torch.Tensor.contiguous", 1, apply_contiguous, {0}, "r:2x3", D, .edge_fixture = "clone"},
    {"cg_expand", NULL, "torch.Tensor.expand", 1, apply_expand, {.ndims = 3, .sizes = {2, 3, 4}}, "r:3x1", D,
     .edge_fixture = "expand"},
    /* reductions */
    {"cg_sum", NULL, "torch.sum", 1, apply_sum, {0}, "r:2x3", D, .edge_fixture = "sum"},
    {"cg_sum_dim", NULL, "torch.sum", 1, apply_sum_dim, {.dim = 1, .flag = true}, "r:2x3x4", D,
     .edge_fixture = "sum_dim"},
    {"cg_mean", NULL, "torch.mean", 1, apply_mean, {0}, "r:2x3", D, .edge_fixture = "mean"},
    {"cg_mean_dim", NULL, "torch.mean", 1, apply_mean_dim, {.dim = -1}, "r:2x3x4", D, .edge_fixture = "mean_dim"},
    {"cg_max", NULL, "torch.max", 1, apply_max, {0}, "r:2x3", D, .edge_fixture = "max"},
    {"cg_max_dim", NULL, "torch.max", 1, apply_max_dim, {.dim = 1}, "r:2x3x4", D, .edge_fixture = "max_dim"},
    {"cg_argmax", NULL, "torch.argmax", 1, apply_argmax, {.dim = 1}, "r:2x3x4", 0, .no_gradcheck = not_differentiable,
     .no_edge_fixture = "max_dim's fixtures cover its shapes; the indices are checked in test_autograd"},
    {"cg_softmax", NULL, "torch.softmax", 1, apply_softmax, {.dim = -1}, "r:2x3", D, .edge_fixture = "softmax"},
    {"cg_log_softmax", NULL, "torch.log_softmax", 1, apply_log_softmax, {.dim = 0}, "r:2x3", D,
     .edge_fixture = "log_softmax"},
    {"cg_logsumexp", NULL, "torch.logsumexp", 1, apply_logsumexp, {.dim = 1, .flag = true}, "r:2x3", D,
     .edge_fixture = "logsumexp"},
    /* attention */
    {"cg_scaled_dot_product_attention", NULL, "torch.nn.functional.scaled_dot_product_attention", 3, apply_sdpa, {0},
     "r:2x3x4 r:2x5x4 r:2x5x6", D, .no_edge_fixture = "its 0-d and size-0 answers are asserted in test_trust"},
    {"cg_scaled_dot_product_attention_with", "is_causal", "torch.nn.functional.scaled_dot_product_attention", 4,
     apply_sdpa_with, {.flag = true}, "r:2x3x4 r:2x5x4 r:2x5x6 -", D,
     .no_edge_fixture = "its 0-d and size-0 answers are asserted in test_trust"},
    {"cg_scaled_dot_product_attention_with", "attn_mask, scale", "torch.nn.functional.scaled_dot_product_attention", 4,
     apply_sdpa_with, {.value2 = 0.3f}, "r:2x3x4 r:2x5x4 r:2x5x6 c:3x5", D,
     .no_edge_fixture = "its 0-d and size-0 answers are asserted in test_trust"},
    {"cg_scaled_dot_product_attention_with", "dropout_p", "torch.nn.functional.scaled_dot_product_attention", 4,
     apply_sdpa_with, {.value = 0.3f, .flag = true}, "r:2x3x4 r:2x5x4 r:2x5x6 -", D | R,
     .no_edge_fixture = "its 0-d and size-0 answers are asserted in test_trust"},
    {"cg_packed_attention", NULL, "torch.nn.functional.scaled_dot_product_attention", 1, apply_packed_attention,
     {.index = 2}, "r:2x3x12", D, .no_edge_fixture = "0-d refused, size-0 batches and T asserted in test_autograd"},
    {"cg_packed_attention_with", "is_causal", "torch.nn.functional.scaled_dot_product_attention", 2,
     apply_packed_attention_with, {.index = 2, .flag = true}, "r:2x4x12 -", D,
     .no_edge_fixture = "0-d refused, size-0 batches and T asserted in test_autograd"},
    {"cg_packed_attention_with", "attn_mask", "torch.nn.functional.scaled_dot_product_attention", 2,
     apply_packed_attention_with, {.index = 2}, "r:2x4x12 c:4x4", D,
     .no_edge_fixture = "0-d refused, size-0 batches and T asserted in test_autograd"},
    {"cg_packed_attention_with", "dropout_p", "torch.nn.functional.scaled_dot_product_attention", 2,
     apply_packed_attention_with, {.index = 2, .value = 0.3f}, "r:2x3x12 -", D | R,
     .no_edge_fixture = "0-d refused, size-0 batches and T asserted in test_autograd"},
    /* losses and lookups */
    {"cg_cross_entropy", NULL, "torch.nn.functional.cross_entropy", 2, apply_cross_entropy, {0}, "r:3x5 i5:3", D,
     .edge_fixture = "cross_entropy"},
    {"cg_cross_entropy_with", "weight, ignore_index, sum", "torch.nn.functional.cross_entropy", 3,
     apply_cross_entropy_with, {.index = CG_SUM, .length = 1}, "r:4x5 i5:4 c:5", D, .edge_fixture = "cross_entropy_sum"},
    {"cg_cross_entropy_with", "label_smoothing, none", "torch.nn.functional.cross_entropy", 3,
     apply_cross_entropy_with, {.index = CG_NONE, .length = -100, .value = 0.2f}, "r:3x5 i5:3 -", D,
     .edge_fixture = "cross_entropy_sum"},
    {"cg_cross_entropy_with", "probabilities as targets, (N, C, d)", "torch.nn.functional.cross_entropy", 3,
     apply_cross_entropy_with, {LOSS_DEFAULTS, .value = 0.1f}, "r:2x4x3 u:2x4x3 c:4", D,
     .edge_fixture = "cross_entropy_sum"},
    {"cg_nll_loss", NULL, "torch.nn.functional.nll_loss", 2, apply_nll_loss, {0}, "r:3x5 i5:3", D,
     .edge_fixture = "nll_loss"},
    {"cg_nll_loss_with", "weight, none", "torch.nn.functional.nll_loss", 3, apply_nll_loss_with,
     {.index = CG_NONE, .length = -100}, "r:3x5 i5:3 c:5", D, .edge_fixture = "nll_loss"},
    {"cg_mse_loss", NULL, "torch.nn.functional.mse_loss", 2, apply_mse_loss, {0}, "r:2x3 r:2x3", D,
     .edge_fixture = "mse_loss"},
    {"cg_mse_loss_with", "sum", "torch.nn.functional.mse_loss", 2, apply_mse_loss_with, {.index = CG_SUM},
     "r:2x3 r:2x3", D, .edge_fixture = "mse_loss"},
    {"cg_one_hot", NULL, "torch.nn.functional.one_hot", 1, apply_one_hot, {.length = 4}, "i4:3", 0,
     .no_gradcheck = not_differentiable, .edge_fixture = "one_hot"},
    {"cg_embedding", NULL, "torch.nn.functional.embedding", 2, apply_embedding, {0}, "r:5x3 i5:2x2", D,
     .edge_fixture = "embedding"},
    {"cg_dropout", NULL, "torch.nn.functional.dropout", 1, apply_dropout, {.value = 0.3f, .flag = true}, "r:4x5", D | R,
     .edge_fixture = "dropout"},
    /* sampling (tensor.h) */
    {"cg_randint", NULL, "torch.randint", 0, apply_randint, {.index = -3, .length = 7, .ndims = 2, .sizes = {2, 3}},
     "", R, .no_gradcheck = not_differentiable, .no_edges = takes_no_tensor, .no_null = takes_no_tensor,
     .no_edge_fixture = takes_no_tensor},
    {"cg_randperm", NULL, "torch.randperm", 0, apply_randperm, {.length = 6}, "", R, .no_gradcheck = not_differentiable,
     .no_edges = takes_no_tensor, .no_null = takes_no_tensor, .no_edge_fixture = takes_no_tensor},
    {"cg_bernoulli", NULL, "torch.bernoulli", 1, apply_bernoulli, {0}, "u:3x4", R, .no_gradcheck = not_differentiable,
     .no_edge_fixture = "an elementwise draw: any shape gives its own shape (asserted in test_tensor)"},
    {"cg_multinomial", NULL, "torch.multinomial", 1, apply_multinomial, {.length = 3}, "p:2x5", R,
     .no_gradcheck = not_differentiable,
     .no_edge_fixture = "refuses 0-d and empty rows with torch's reasons (asserted in test_tensor)"},
    {"cg_multinomial", "with replacement", "torch.multinomial", 1, apply_multinomial, {.length = 7, .flag = true},
     "p:5", R, .no_gradcheck = not_differentiable,
     .no_edge_fixture = "refuses 0-d and empty rows with torch's reasons (asserted in test_tensor)"},
    /* the same ops drawing from a generator of the caller's (torch's generator=) */
    {"cg_dropout_gen", NULL, "torch.nn.functional.dropout", 1, apply_dropout_gen, {.value = 0.3f, .flag = true},
     "r:4x5", D | R, .edge_fixture = "dropout"},
    {"cg_scaled_dot_product_attention_with", "dropout_p, generator", "torch.nn.functional.scaled_dot_product_attention",
     3, apply_sdpa_gen, {.value = 0.5f}, "r:2x3x4 r:2x5x4 r:2x5x6", D | R,
     .no_edge_fixture = "its 0-d and size-0 answers are asserted in test_trust"},
    {"cg_randint_gen", NULL, "torch.randint", 0, apply_randint_gen, {.index = 0, .length = 5, .ndims = 1, .sizes = {9}},
     "", R, .no_gradcheck = not_differentiable, .no_edges = takes_no_tensor, .no_null = takes_no_tensor,
     .no_edge_fixture = takes_no_tensor},
    {"cg_randperm_gen", NULL, "torch.randperm", 0, apply_randperm_gen, {.length = 9}, "", R,
     .no_gradcheck = not_differentiable, .no_edges = takes_no_tensor, .no_null = takes_no_tensor,
     .no_edge_fixture = takes_no_tensor},
    {"cg_bernoulli_gen", NULL, "torch.bernoulli", 1, apply_bernoulli_gen, {0}, "u:3x4", R,
     .no_gradcheck = not_differentiable,
     .no_edge_fixture = "an elementwise draw: any shape gives its own shape (asserted in test_tensor)"},
    {"cg_multinomial_gen", NULL, "torch.multinomial", 1, apply_multinomial_gen, {.length = 4}, "p:3x6", R,
     .no_gradcheck = not_differentiable,
     .no_edge_fixture = "refuses 0-d and empty rows with torch's reasons (asserted in test_tensor)"},
    {"cg_rand_gen", NULL, "torch.rand", 0, apply_rand_gen, {.ndims = 2, .sizes = {3, 4}}, "", R,
     .no_gradcheck = not_differentiable, .no_edges = takes_no_tensor, .no_null = takes_no_tensor,
     .no_edge_fixture = takes_no_tensor},
    {"cg_randn_gen", NULL, "torch.randn", 0, apply_randn_gen, {.ndims = 1, .sizes = {20}}, "", R,
     .no_gradcheck = not_differentiable, .no_edges = takes_no_tensor, .no_null = takes_no_tensor,
     .no_edge_fixture = takes_no_tensor},
    {"cg_uniform_gen", NULL, "torch.empty().uniform_", 0, apply_uniform_gen,
     {.value = -2, .value2 = 3, .ndims = 2, .sizes = {2, 2}}, "", R, .no_gradcheck = not_differentiable,
     .no_edges = takes_no_tensor, .no_null = takes_no_tensor, .no_edge_fixture = takes_no_tensor},
    {"cg_normal_gen", NULL, "torch.empty().normal_", 0, apply_normal_gen,
     {.value = 1, .value2 = 2, .ndims = 1, .sizes = {5}}, "", R, .no_gradcheck = not_differentiable,
     .no_edges = takes_no_tensor, .no_null = takes_no_tensor, .no_edge_fixture = takes_no_tensor},
};
const int op_table_count = (int)(sizeof op_table / sizeof op_table[0]);

/* Functions of the op headers that return a tensor but are not ops, and why
 * (tools/api_list.py requires every other one to have an entry above). */
const char *const op_table_not_ops[][2] = {
    {"cg_grad", "returns a tensor's .grad, a field, not a computation (test_null covers NULL)"},
};

/* ---- operands ---------------------------------------------------------------------- */

/* One operand spec "KIND[BOUND]:DIMS" at *s, moved past it. */
static int parse_spec(const char **s, char *kind, int64_t *bound, int *ndim, int64_t *shape)
{
    while (**s == ' ')
        (*s)++;
    if (!**s)
        return 0;
    *kind = *(*s)++;
    *ndim = -1;
    if (*kind == '-')
        return 1;
    char *end;
    *bound = strtoll(*s, &end, 10);
    *s = end;
    if (**s != ':')
        return -1;
    (*s)++;
    *ndim = 0;
    while (**s >= '0' && **s <= '9' && *ndim < CG_MAX_DIMS) {
        shape[(*ndim)++] = strtoll(*s, &end, 10);
        *s = end;
        if (**s == 'x')
            (*s)++;
    }
    return 1;
}

static void fill(cg_tensor *t, char kind, int64_t bound)
{
    float *d = cg_data(t);
    for (int64_t i = 0; i < cg_numel(t); i++) {
        float u = (float)(cg_random_u32() & 0xFFFFFF) / (float)(1 << 24);
        switch (kind) {
        case 'p': d[i] = 0.5f + u; break;
        case 'i': d[i] = (float)(cg_random_u32() % (uint32_t)(bound > 0 ? bound : 1)); break;
        case 'm': d[i] = u < 0.5f ? 1.0f : 0.0f; break;
        case 'u': d[i] = 0.05f + 0.9f * u; break;
        default: break; /* r, c: normal values already */
        }
    }
}

int op_make_inputs(const op_entry *e, cg_tensor **in, int degenerate)
{
    const char *s = e->inputs;
    int n = 0, rc = 0;
    char kind;
    int64_t bound = 0, shape[CG_MAX_DIMS];
    int ndim;
    while (n < OP_MAX_IN && (rc = parse_spec(&s, &kind, &bound, &ndim, shape)) > 0) {
        if (ndim < 0) {
            in[n++] = NULL;
            continue;
        }
        if (degenerate == 1)
            ndim = 0;
        if (degenerate == 2 && ndim > 0)
            shape[0] = 0;
        cg_tensor *t = cg_randn(ndim, shape);
        if (!t)
            return -1;
        fill(t, kind, bound);
        if (e->flags & OP_DIFFERENTIABLE && (kind == 'r' || kind == 'p' || kind == 'u'))
            cg_set_requires_grad(t, true);
        in[n++] = t;
    }
    if (rc < 0 || n != e->arity)
        return -1;
    return n;
}

/* The _with (options) and _gen (a generator) forms report as the op they extend. */
void op_user_name(const op_entry *e, char *buf, size_t size)
{
    size_t len = strlen(e->function);
    if (len > 5 && (strcmp(e->function + len - 5, "_with") == 0 || strcmp(e->function + len - 4, "_gen") == 0))
        len -= strcmp(e->function + len - 4, "_gen") == 0 ? 4 : 5;
    snprintf(buf, size, "%.*s", (int)len, e->function);
}
