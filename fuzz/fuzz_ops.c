/* cgrad fuzzing — the op API driven by an interpreter: the input is a program
 * of one-byte instructions (with byte operands) over 8 tensor slots: make a
 * tensor of any shape (0-d, size-0 dims, huge dims beside a 0), apply any op
 * of the op table with any arguments, go backward, write in place, open and end frames, toggle
 * no-grad and anomaly mode. Every call must give a tensor, or NULL (or a
 * negative code) with a message; ASan and UBSan watch the rest. The first
 * byte picks frames (results in the arena) or the heap (results freed one by
 * one, so LeakSanitizer sees any leak). */
#include "fuzz_common.h"
#include "op_table.h"
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

/* Any op of the test suite's op table (tests/op_table.c), so every public op is
 * fuzzed the day it gets its entry: operands from the slots, every non-tensor
 * argument from the input. */
static void table_op(vm *v)
{
    const op_entry *e = &op_table[next(v) % (unsigned)op_table_count];
    if (e->no_fuzz)
        return;
    cg_tensor *in[OP_MAX_IN] = {NULL};
    for (int k = 0; k < e->arity; k++)
        in[k] = next(v) % 8 ? arg(v) : NULL; /* optional operands (bias, mask, weight) left out at times */
    op_args a = {.dim = dim_arg(v), .dim2 = dim_arg(v), .index = (int64_t)(int8_t)next(v),
                 .length = (int64_t)(int8_t)next(v), .value = (float)(int8_t)next(v) / 16,
                 .value2 = next(v) % 4 ? (float)(int8_t)next(v) / 8 : NAN, .flag = next(v) % 2};
    if (next(v) % 4 == 0) /* sometimes far out of range */
        a.index *= INT64_C(1) << 40, a.length = -a.length * (INT64_C(1) << 33);
    a.ndims = shape_arg(v, a.sizes);
    for (int k = 0; k < a.ndims; k++)
        a.dims[k] = dim_arg(v);
    put(v, e->apply(in, &a), e->function);
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
    static void (*const ops[])(vm *) = {make_tensor, make_tensor, table_op, table_op, table_op, table_op,
                                        backward_op, inplace_op, mode_op, inspect_op};
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
