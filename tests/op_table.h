/* cgrad tests — the op table: every public op described once, and everything
 * that must know every op iterates over it: the NULL test (test_null), the
 * degenerate-shape sweep (test_edges), gradcheck (test_autograd), the fuzzer
 * (fuzz_ops) and the op list in docs/api.md (tools/api_list.py, which also
 * fails the api_doc test when a public op has no entry here).
 *
 * Add an op to a header, add its entry here, and its checks come with it. An
 * entry that skips a check says why in the field of that check; an empty
 * reason fails the table's own test. */
#ifndef CGRAD_TEST_OP_TABLE_H
#define CGRAD_TEST_OP_TABLE_H

#include <cgrad.h>

#define OP_MAX_IN 4

/* The non-tensor arguments an op takes, all in one place so a caller (a test,
 * the fuzzer) can fill them without knowing the op. */
typedef struct {
    int dim, dim2;             /* dims, may be negative */
    int64_t index, length;     /* an index, a length or a count */
    float value, value2;       /* scalar operands */
    bool flag;                 /* keepdim, training, replacement, is_causal, ... */
    int ndims;                 /* dims / sizes used (permute, reshape, expand) */
    int dims[CG_MAX_DIMS];
    int64_t sizes[CG_MAX_DIMS];
} op_args;

typedef cg_tensor *(*op_apply_fn)(cg_tensor *const *in, const op_args *a);

enum {
    OP_DIFFERENTIABLE = 1u << 0, /* backward reaches the inputs */
    OP_RANDOM = 1u << 1,         /* draws from the generator */
};

typedef struct {
    const char *function;  /* the public function, as in the header: "cg_add" */
    const char *variant;   /* NULL, or what this entry exercises beyond the defaults */
    const char *torch;     /* PyTorch's name for the same op */
    int arity;             /* tensor operands */
    op_apply_fn apply;     /* runs the op on in[0..arity) with the table's (or a fuzzer's) args */
    op_args args;          /* what the tests pass */
    /* The operands gradcheck and the edge sweep start from, space separated, one
     * per tensor: KIND[BOUND]:DIMS with DIMS like 2x3 ("" for 0-d), "-" for NULL.
     * Kinds: r normal, p positive (0.5 to 1.5), i whole numbers in [0, BOUND),
     * m a 0/1 mask, u probabilities in (0.05, 0.95), c normal but a constant
     * (an operand torch gives no gradient: a loss's class weights, an additive
     * attention mask). Operands that gradcheck differentiates are the r, p and
     * u ones of a differentiable op. */
    const char *inputs;
    unsigned flags;
    /* Why a check does not apply (NULL: it runs). */
    const char *no_gradcheck;
    const char *no_edges;   /* the degenerate-shape sweep */
    const char *no_null;    /* the NULL-operand test */
    const char *no_fuzz;
    /* The name of the op's cases in tests/fixtures/edges.txt (PyTorch's answers
     * for 0-d and size-0 operands), or NULL with the reason in no_edge_fixture. */
    const char *edge_fixture;
    const char *no_edge_fixture;
} op_entry;

extern const op_entry op_table[];
extern const int op_table_count;

/* The generator the table's _gen entries draw from (made on first use, seeded 42;
 * gradcheck restores it as it restores the default one). */
cg_generator *op_table_generator(void);

/* Makes an entry's operands (as its .inputs says) where tensors are made now,
 * drawing from the generator; returns the count, or -1 (a bad spec). With
 * degenerate 1, every operand is 0-d; with 2, each operand's first dim is 0. */
int op_make_inputs(const op_entry *e, cg_tensor **in, int degenerate);

/* The function name an entry's errors must name: cg_x for cg_x_with and cg_x_gen. */
void op_user_name(const op_entry *e, char *buf, size_t size);

#endif
