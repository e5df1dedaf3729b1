/* cgrad tests — degenerate shapes swept: every public op on 0-d tensors and
 * size-0 dims, forward and backward, against what PyTorch 1.13 does — the
 * same values and gradients, or a refusal where it refuses. The cases and
 * their answers come from tools/make_fixtures.py (tests/fixtures/edges.txt);
 * a case is named op.variant, and the variant picks dims where the op takes one. */
#include "fixture.h"
#include "op_table.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static fixture *edges;

/* the dim a reduction case names: its last "_k" (0 or 1), "neg" for -1, else 0 */
static int variant_dim(const char *variant)
{
    if (strstr(variant, "neg"))
        return -1;
    const char *u = strrchr(variant, '_');
    return u && (u[1] == '0' || u[1] == '1') && u[2] == '\0' ? u[1] - '0' : 0;
}

static bool is(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* The op a case names, applied to its inputs; NULL when cgrad refuses. */
static cg_tensor *run(const char *op, const char *variant, cg_tensor **in)
{
    cg_tensor *a = in[0], *b = in[1];
    int d = variant_dim(variant);
    static const struct {
        const char *name;
        cg_tensor *(*fn)(cg_tensor *);
    } unary[] = {{"neg", cg_neg},   {"exp", cg_exp},   {"tanh", cg_tanh}, {"sigmoid", cg_sigmoid},
                 {"relu", cg_relu}, {"abs", cg_abs},   {"log", cg_log},   {"sqrt", cg_sqrt},
                 {"sum", cg_sum},   {"mean", cg_mean}, {"max", cg_max},   {"clone", cg_clone}};
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++)
        if (is(op, unary[i].name))
            return unary[i].fn(a);
    static const struct {
        const char *name;
        cg_tensor *(*fn)(cg_tensor *, cg_tensor *);
    } binary[] = {{"add", cg_add},         {"sub", cg_sub},         {"mul", cg_mul},
                  {"div", cg_div},         {"maximum", cg_maximum}, {"minimum", cg_minimum},
                  {"pow", cg_pow},         {"matmul", cg_matmul},   {"mse_loss", cg_mse_loss},
                  {"nll_loss", cg_nll_loss}, {"cross_entropy", cg_cross_entropy}, {"embedding", cg_embedding}};
    for (size_t i = 0; i < sizeof binary / sizeof binary[0]; i++)
        if (is(op, binary[i].name))
            return binary[i].fn(a, b);
    if (is(op, "gelu"))
        return cg_gelu(a);
    if (is(op, "tril"))
        return cg_tril(a, 0);
    if (is(op, "masked_fill"))
        return cg_masked_fill(a, b, 2.0f);
    if (is(op, "layer_norm"))
        return cg_layer_norm(a, 1, NULL, NULL, 1e-5f);
    if (is(op, "clamp"))
        return cg_clamp(a, -0.5f, 0.5f);
    if (is(op, "pow_scalar"))
        return cg_pow_scalar(a, 2);
    if (is(op, "mul_scalar"))
        return cg_mul_scalar(a, 3);
    if (is(op, "where"))
        return cg_where(a, b, in[2]);
    if (is(op, "linear"))
        return cg_linear(a, b, in[2]);
    if (is(op, "sum_dim"))
        return cg_sum_dim(a, d, false);
    if (is(op, "mean_dim"))
        return cg_mean_dim(a, d, false);
    if (is(op, "max_dim"))
        return cg_max_dim(a, d, false);
    if (is(op, "softmax"))
        return cg_softmax(a, d);
    if (is(op, "log_softmax"))
        return cg_log_softmax(a, d);
    if (is(op, "logsumexp"))
        return cg_logsumexp(a, d, false);
    if (is(op, "cross_entropy_sum"))
        return cg_cross_entropy_ex(a, b, .reduction = CG_SUM);
    if (is(op, "reshape")) {
        if (is(variant, "e03_flat"))
            return cg_reshape(a, CG_SHAPE(-1));
        if (is(variant, "e03_3x"))
            return cg_reshape(a, CG_SHAPE(3, -1));
        if (is(variant, "e0_x0"))
            return cg_reshape(a, CG_SHAPE(-1, 0));
        if (is(variant, "d0_1"))
            return cg_reshape(a, CG_SHAPE(1, 1));
        return cg_reshape(a, CG_SCALAR);
    }
    if (is(op, "transpose"))
        return is(variant, "d0") ? cg_transpose(a, 0, -1) : cg_transpose(a, 0, 1);
    if (is(op, "permute"))
        return cg_permute(a, CG_DIMS(2, 0, 1));
    if (is(op, "squeeze"))
        return cg_squeeze(a, 0);
    if (is(op, "unsqueeze"))
        return cg_unsqueeze(a, is(variant, "d0") ? 0 : -1);
    if (is(op, "cat"))
        return cg_cat(in, 2, 0);
    if (is(op, "stack"))
        return cg_stack(in, 2, is(variant, "e0_e0") ? 1 : 0);
    if (is(op, "select"))
        return cg_select(a, 0, is(variant, "e30") ? 2 : 0);
    if (is(op, "narrow"))
        return is(variant, "e0") ? cg_narrow(a, 0, 0, 0) : cg_narrow(a, 1, 3, 0);
    if (is(op, "t"))
        return cg_t(a);
    if (is(op, "split") || is(op, "chunk")) {
        cg_tensor *piece[4];
        bool second_dim = is(variant, "e03") || is(variant, "e30");
        int n = is(op, "split") ? cg_split(a, 2 - is(variant, "d0"), second_dim, piece, 4)
                                : cg_chunk(a, is(variant, "e0") ? 3 : 2, second_dim, piece, 4);
        return n < 0 ? NULL : piece[is(variant, "e0") && is(op, "chunk") ? 2 : second_dim];
    }
    if (is(op, "index_select"))
        return cg_index_select(a, is(variant, "e30") ? 1 : 0, b);
    if (is(op, "gather"))
        return cg_gather(a, is(variant, "d0") ? 0 : 1, b);
    if (is(op, "one_hot"))
        return cg_one_hot(a, 3);
    if (is(op, "expand")) {
        static const struct {
            const char *variant;
            int ndim;
            int64_t sizes[2];
        } to[] = {{"d0", 2, {2, 3}},       {"e01", 2, {0, 3}},     {"d1_to0", 1, {0}},   {"e0_lead", 2, {2, 0}},
                  {"d0_to_e", 2, {0, 2}}, {"bad_size", 2, {3, 3}}, {"bad_lead", 2, {-1, 2}}, {"fewer", 1, {2}}};
        for (size_t i = 0; i < sizeof to / sizeof to[0]; i++)
            if (is(variant, to[i].variant))
                return cg_expand(a, to[i].ndim, to[i].sizes);
    }
    if (is(op, "dropout"))
        return cg_dropout(a, 0.5f, true);
    ck_abort_msg("no cgrad op for case %s.%s", op, variant);
    return NULL;
}

static void check_case(const char *name)
{
    char op[64];
    const char *dot = strchr(name, '.');
    snprintf(op, sizeof op, "%.*s", (int)(dot - name), name);
    const char *variant = dot + 1;
    cg_tensor *in[4] = {NULL};
    int nin = 0;
    while (nin < 4 && fx_has(edges, "%s.in%d", name, nin)) {
        in[nin] = fx_get(edges, "%s.in%d", name, nin);
        if (fx_has(edges, "%s.grad%d", name, nin))
            cg_set_requires_grad(in[nin], true);
        nin++;
    }
    cg_clear_error();
    cg_tensor *out = run(op, variant, in);
    if (fx_has(edges, "%s.error", name)) {
        ck_assert_msg(out == NULL, "%s: torch refuses it, cgrad returned a tensor", name);
        ck_assert_msg(cg_last_error()[0] != '\0', "%s: refused without a message", name);
        return;
    }
    ck_assert_msg(out != NULL, "%s: torch gives a value, cgrad refused: %s", name, cg_last_error());
    char what[128];
    snprintf(what, sizeof what, "%s.out", name);
    fx_assert_close(out, fx_get(edges, "%s.out", name), 1e-6, 1e-7, what, __FILE__, __LINE__);
    if (!cg_requires_grad(out))
        return;
    int rc = cg_backward_ex(out, .grad = cg_ones_like(out));
    if (fx_has(edges, "%s.backward_error", name))
        return; /* torch itself fails here; any clean answer will do */
    ck_assert_msg(rc == 0, "%s: backward failed: %s", name, cg_last_error());
    for (int k = 0; k < nin; k++)
        if (fx_has(edges, "%s.grad%d", name, k)) {
            snprintf(what, sizeof what, "%s.grad%d", name, k);
            fx_assert_close(cg_grad(in[k]), fx_get(edges, "%s.grad%d", name, k), 1e-6, 1e-7, what, __FILE__, __LINE__);
        }
}

START_TEST(degenerate_shapes_match_pytorch)
{
    int cases = 0;
    for (int i = 0; i < fx_count(edges); i++) {
        const char *name = fx_name(edges, i);
        size_t len = strlen(name);
        if (len < 4 || strcmp(name + len - 4, ".in0") != 0)
            continue;
        char c[96];
        snprintf(c, sizeof c, "%.*s", (int)(len - 4), name);
        cg_frame_begin();
        check_case(c);
        cg_frame_end();
        cases++;
    }
    ck_assert_int_ge(cases, 165);
}
END_TEST

/* Every op in the table on degenerate operands (all 0-d; every first dim 0):
 * a tensor, or NULL with a message naming the function called; backward
 * through a result succeeds or fails with a message. ASan watches the rest. */
START_TEST(every_op_takes_degenerate_shapes)
{
    const op_entry *e = &op_table[_i];
    if (e->no_edges)
        return;
    char name[96];
    op_user_name(e, name, sizeof name);
    for (int degenerate = 1; degenerate <= 2; degenerate++) {
        cg_frame_begin();
        cg_manual_seed(7);
        cg_tensor *in[OP_MAX_IN] = {NULL};
        ck_assert_int_eq(op_make_inputs(e, in, degenerate), e->arity);
        cg_clear_error();
        cg_tensor *out = e->apply(in, &e->args);
        if (!out)
            ck_assert_msg(strstr(cg_last_error(), name), "%s (%s) on %s operands: refused with \"%s\"", e->function,
                          e->variant ? e->variant : "", degenerate == 1 ? "0-d" : "size-0", cg_last_error());
        else if (cg_requires_grad(out)) {
            int rc = cg_backward_ex(out, .grad = cg_ones_like(out));
            ck_assert_msg(rc == 0 || cg_last_error()[0], "%s: backward failed without a message", e->function);
        }
        cg_frame_end();
    }
}
END_TEST

/* Each entry that names edge fixtures has PyTorch's answers in edges.txt. */
START_TEST(every_edge_fixture_named_exists)
{
    for (int i = 0; i < op_table_count; i++) {
        const char *f = op_table[i].edge_fixture;
        if (!f)
            continue;
        bool found = false;
        size_t len = strlen(f);
        for (int k = 0; k < fx_count(edges) && !found; k++)
            found = strncmp(fx_name(edges, k), f, len) == 0 && fx_name(edges, k)[len] == '.';
        ck_assert_msg(found, "%s: no case %s.* in edges.txt", op_table[i].function, f);
    }
}
END_TEST

int main(void)
{
    edges = fx_load("edges.txt");
    Suite *s = suite_create("edges");
    TCase *t = tcase_create("edges");
    tcase_add_test(t, degenerate_shapes_match_pytorch);
    tcase_add_loop_test(t, every_op_takes_degenerate_shapes, 0, op_table_count);
    tcase_add_test(t, every_edge_fixture_named_exists);
    suite_add_tcase(s, t);
    return fx_run(s);
}
