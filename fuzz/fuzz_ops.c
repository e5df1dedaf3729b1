/* cgrad fuzzing — the op API driven by an interpreter: the input is a program
 * of one-byte instructions (with byte operands) over 8 tensor slots: make a
 * tensor of any shape (0-d, size-0 dims, huge dims beside a 0), apply any op
 * with any dims, go backward, write in place, open and end frames, toggle
 * no-grad and anomaly mode. Every call must give a tensor, or NULL (or a
 * negative code) with a message; ASan and UBSan watch the rest. The first
 * byte picks frames (results in the arena) or the heap (results freed one by
 * one, so LeakSanitizer sees any leak). */
#include "fuzz_common.h"
#include <math.h>
#include <string.h>

#define SLOTS 8

typedef struct {
    const uint8_t *p;
    size_t n;
    cg_tensor *slot[SLOTS];
    bool heap;      /* results outside frames: each slot owns its tensor */
    int frames;     /* frames this program opened beyond the outermost */
    int no_grad;
} vm;

static uint8_t next(vm *v)
{
    if (!v->n)
        return 0;
    v->n--;
    return *v->p++;
}

static cg_tensor *arg(vm *v) { return v->slot[next(v) % SLOTS]; }
static int dim_arg(vm *v) { return (int)(next(v) % 11) - 5; } /* -5 .. 5 */

static void put(vm *v, cg_tensor *t, const char *what)
{
    (void)what;
    if (!t)
        fuzz_require_message();
    int k = next(v) % SLOTS;
    if (v->heap && v->slot[k] != t) {
        for (int j = 0; j < SLOTS; j++) /* the same tensor twice: free it once */
            if (j != k && v->slot[j] == v->slot[k])
                v->slot[k] = NULL;
        cg_tensor_free(v->slot[k]);
    }
    v->slot[k] = t;
}

static void check_rc(int rc)
{
    if (rc < 0)
        fuzz_require_message();
}

/* A shape: 0 to 4 dims of small sizes, sometimes 0, sometimes huge beside a 0. */
static int shape_arg(vm *v, int64_t *shape)
{
    static const int64_t sizes[] = {0, 1, 2, 3, 4, 5, 1, 2, INT64_C(1) << 31, -1, 7, 1};
    int nd = next(v) % 5;
    bool zero = false;
    for (int i = 0; i < nd; i++) {
        shape[i] = sizes[next(v) % 12];
        zero |= shape[i] == 0;
    }
    for (int i = 0; i < nd && !zero; i++) /* a huge dim only where another is 0 */
        if (shape[i] > 64)
            shape[i] = 3;
    return nd;
}

static void make_tensor(vm *v)
{
    int64_t shape[4];
    int nd = shape_arg(v, shape);
    cg_tensor *t;
    switch (next(v) % 4) {
    case 0: t = cg_randn(nd, shape); break;
    case 1: t = cg_zeros(nd, shape); break;
    case 2: t = cg_full(nd, shape, (float)(int8_t)next(v) / 8); break;
    default: t = cg_rand(nd, shape); break;
    }
    if (t && next(v) % 2)
        cg_set_requires_grad(t, true);
    put(v, t, "make");
}

static void unary(vm *v)
{
    static cg_tensor *(*const fns[])(cg_tensor *) = {cg_neg, cg_exp, cg_log, cg_sqrt, cg_abs, cg_tanh,
                                                      cg_sigmoid, cg_relu, cg_flatten, cg_detach, cg_clone,
                                                      cg_sum, cg_mean, cg_max};
    put(v, fns[next(v) % (sizeof fns / sizeof fns[0])](arg(v)), "unary");
}

static void binary(vm *v)
{
    static cg_tensor *(*const fns[])(cg_tensor *, cg_tensor *) = {
        cg_add, cg_sub, cg_mul, cg_div, cg_pow, cg_maximum, cg_minimum, cg_matmul,
        cg_mse_loss, cg_cross_entropy, cg_nll_loss, cg_embedding};
    cg_tensor *a = arg(v), *b = arg(v);
    put(v, fns[next(v) % (sizeof fns / sizeof fns[0])](a, b), "binary");
}

static void scalar_op(vm *v)
{
    static cg_tensor *(*const fns[])(cg_tensor *, float) = {cg_add_scalar, cg_sub_scalar, cg_rsub_scalar,
                                                             cg_mul_scalar, cg_div_scalar, cg_rdiv_scalar,
                                                             cg_pow_scalar};
    cg_tensor *a = arg(v);
    float s = (float)(int8_t)next(v) / 4;
    put(v, fns[next(v) % 7](a, s), "scalar");
}

static void dim_op(vm *v)
{
    cg_tensor *a = arg(v);
    int d = dim_arg(v), e = dim_arg(v);
    bool keep = next(v) % 2;
    int64_t i = (int64_t)(int8_t)next(v);
    cg_tensor *r;
    switch (next(v) % 16) {
    case 0: r = cg_sum_dim(a, d, keep); break;
    case 1: r = cg_mean_dim(a, d, keep); break;
    case 2: r = cg_max_dim(a, d, keep); break;
    case 3: r = cg_argmax(a, d, keep); break;
    case 4: r = cg_softmax(a, d); break;
    case 5: r = cg_log_softmax(a, d); break;
    case 6: r = cg_logsumexp(a, d, keep); break;
    case 7: r = cg_squeeze(a, d); break;
    case 8: r = cg_unsqueeze(a, d); break;
    case 9: r = cg_select(a, d, i); break;
    case 10: r = cg_narrow(a, d, i, (int64_t)(next(v) % 4)); break;
    case 11: r = cg_slice(a, d, i, (int64_t)(int8_t)next(v)); break;
    case 12: r = cg_transpose(a, d, e); break;
    case 13: r = cg_one_hot(a, (int64_t)(int8_t)next(v)); break;
    case 14: r = cg_clamp(a, (float)(int8_t)next(v) / 16, keep ? NAN : 1.0f); break;
    default: r = cg_dropout(a, (float)(next(v) % 5) / 4, keep); break;
    }
    put(v, r, "dim");
}

static void index_op(vm *v)
{
    cg_tensor *a = arg(v), *idx = arg(v);
    int d = dim_arg(v);
    switch (next(v) % 3) {
    case 0: put(v, cg_index_select(a, d, idx), "index_select"); break;
    case 1: put(v, cg_gather(a, d, idx), "gather"); break;
    default: put(v, cg_where(a, idx, arg(v)), "where"); break;
    }
}

static void shape_op(vm *v)
{
    cg_tensor *a = arg(v);
    int64_t shape[4];
    int nd = shape_arg(v, shape);
    int dims[4] = {dim_arg(v), dim_arg(v), dim_arg(v), dim_arg(v)};
    cg_tensor *two[2] = {a, arg(v)};
    switch (next(v) % 5) {
    case 0: put(v, cg_reshape(a, nd, shape), "reshape"); break;
    case 4: put(v, cg_expand(a, nd, shape), "expand"); break;
    case 1: put(v, cg_permute(a, nd, dims), "permute"); break;
    case 2: put(v, cg_cat(two, 1 + next(v) % 2, dim_arg(v)), "cat"); break;
    default: put(v, cg_stack(two, 1 + next(v) % 2, dim_arg(v)), "stack"); break;
    }
}

static void linear_op(vm *v)
{
    cg_tensor *x = arg(v), *w = arg(v), *b = next(v) % 2 ? arg(v) : NULL, *acc = arg(v);
    switch (next(v) % 3) {
    case 0: put(v, cg_linear(x, w, b), "linear"); break;
    case 1: put(v, cg_linear_add(x, w, b, acc), "linear_add"); break;
    default: put(v, cg_linear_act(x, w, b, next(v) % 2 ? acc : NULL, (cg_nonlinearity)(next(v) % 3)), "act"); break;
    }
}

static void loss_op(vm *v)
{
    cg_tensor *a = arg(v), *t = arg(v), *w = next(v) % 2 ? arg(v) : NULL;
    cg_reduction red = (cg_reduction)(next(v) % 3);
    int64_t ignore = (int64_t)(int8_t)next(v);
    float smooth = (float)(next(v) % 5) / 4;
    if (next(v) % 2)
        put(v, cg_cross_entropy_ex(a, t, .reduction = red, .ignore_index = ignore, .label_smoothing = smooth,
                                   .weight = w), "ce");
    else
        put(v, cg_nll_loss_ex(a, t, .reduction = red, .ignore_index = ignore, .weight = w), "nll");
}

static void backward_op(vm *v)
{
    cg_tensor *root = arg(v), *g = arg(v);
    switch (next(v) % 3) {
    case 0: check_rc(cg_backward(root)); break;
    case 1: check_rc(cg_backward_ex(root, .grad = g, .retain_graph = true)); break;
    default: cg_grad(root); break;
    }
}

static void inplace_op(vm *v)
{
    cg_tensor *a = arg(v), *b = arg(v);
    switch (next(v) % 4) {
    case 0: check_rc(cg_fill_(a, (float)(int8_t)next(v))); break;
    case 1: check_rc(cg_copy_(a, b)); break;
    case 2: check_rc(cg_uniform_(a, -1, 1)); break;
    default: check_rc(cg_set_requires_grad(a, next(v) % 2)); break;
    }
}

static void mode_op(vm *v)
{
    switch (next(v) % 5) {
    case 0:
        if (!v->heap && v->frames < 4) {
            cg_frame_begin();
            v->frames++;
        }
        break;
    case 1:
        if (!v->heap && v->frames > 0) { /* tensors of that frame stay in slots: using them must fail cleanly */
            cg_frame_end();
            v->frames--;
        }
        break;
    case 2:
        if (v->no_grad < 3) {
            cg_no_grad_begin();
            v->no_grad++;
        }
        break;
    case 3:
        if (v->no_grad > 0) {
            cg_no_grad_end();
            v->no_grad--;
        }
        break;
    default: cg_set_detect_anomaly(next(v) % 2); break;
    }
}

static void inspect_op(vm *v)
{
    cg_tensor *a = arg(v);
    char buf[512];
    cg_tensor_str(a, buf, sizeof buf);
    cg_item(a);
    cg_numel(a);
    cg_size(a, dim_arg(v));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vm v = {.p = data, .n = size};
    v.heap = next(&v) % 4 == 0;
    cg_clear_error();
    if (!v.heap)
        cg_frame_begin();
    static void (*const ops[])(vm *) = {make_tensor, make_tensor, unary, binary, scalar_op, dim_op, index_op,
                                        shape_op, linear_op, loss_op, backward_op, inplace_op, mode_op, inspect_op};
    while (v.n > 0)
        ops[next(&v) % (sizeof ops / sizeof ops[0])](&v);
    while (v.frames-- > 0)
        cg_frame_end();
    while (v.no_grad-- > 0)
        cg_no_grad_end();
    cg_set_detect_anomaly(false);
    if (v.heap) {
        for (int k = 0; k < SLOTS; k++) {
            for (int j = k + 1; j < SLOTS; j++)
                if (v.slot[j] == v.slot[k])
                    v.slot[j] = NULL;
            cg_tensor_free(v.slot[k]);
        }
    } else {
        cg_frame_end();
    }
    cg_frame_release_memory(); /* each input starts from an empty arena: memory stays bounded */
    return 0;
}
