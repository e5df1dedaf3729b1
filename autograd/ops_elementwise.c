/* cgrad — elementwise ops, each forward next to its backward.
 *
 * Binary ops broadcast like torch. Their backward walks the same broadcast
 * iteration as the forward and adds into the operands' gradients at the
 * operands' offsets, so gradients of broadcast operands are summed back to
 * their shapes with no extra pass. Formulas follow PyTorch's derivatives.yaml. */
#include "autograd_internal.h"

/* ---- binary ------------------------------------------------------------------ */

cg_tensor *cg__broadcast_out(int n, cg_tensor **ops, const char *name, cg__bcast *it)
{
    if (!cg__check_all(n, ops, name))
        return NULL;
    /* operands of one shape, row-major (a residual add, a gate's product): the result has
     * their shape, and the walk is one flat run */
    bool plain = true;
    for (int k = 0; k < n && plain; k++)
        plain = !ops[k]->strided;
    if (plain && cg__same_shapes(n, (const cg_tensor *const *)ops, ops[0]->ndim, ops[0]->shape)) {
        cg_tensor *out = cg__new_as(ops[0], name);
        if (out)
            cg__bcast_init(it, out->ndim, out->shape, n, (const cg_tensor *const *)ops);
        return out;
    }
    if (!cg__dense_all(n, ops, name))
        return NULL;
    int nd;
    int64_t shape[CG_MAX_DIMS];
    if (!cg__broadcast_shape(n, (const cg_tensor *const *)ops, &nd, shape, name))
        return NULL;
    cg_tensor *out = cg__new(nd, shape, name);
    if (out)
        cg__bcast_init(it, nd, shape, n, (const cg_tensor *const *)ops);
    return out;
}

/* The result of a binary op; *a and *b become what the kernel reads (cg__dense). */
static cg_tensor *binary_out(cg_tensor **a, cg_tensor **b, const char *name, cg__bcast *it)
{
    cg_tensor *ops[2] = {*a, *b};
    cg_tensor *out = cg__broadcast_out(2, ops, name, it);
    *a = ops[0], *b = ops[1];
    return out;
}

/* An operand's gradient buffer for a backward that visits each output element
 * once: stored to (*fresh) when it holds nothing yet and the operand has the
 * output's size (not broadcast, so each of its elements is visited once). */
static float *one_to_one_grad(cg_tensor *operand, const cg_tensor *out, bool *fresh)
{
    if (operand->numel == out->numel)
        return cg__grad_buf_to_write(operand, fresh);
    *fresh = false;
    return cg__grad_buf(operand);
}

/* Operands of one shape run as one flat loop (not the broadcast walk, whose set-up is
 * most of a small op's work), with many elements (a residual stream's adds: 768 x 128 in
 * a GPT) in chunks over the threads; each element alone, so the same bits on any count.
 * Below FLAT_THREADED the hand-off costs more than it saves. */
#define FLAT_THREADED 32768
#define FLAT_CHUNK 16384
typedef struct {
    const float *A, *B, *Z, *g;
    float *out, *ga, *gb; /* forward: out; backward: the operands' gradients (or NULL) */
    bool fresh_a, fresh_b;
    bool apart; /* backward: ga and gb share no element (or one is NULL): a loop each */
} flat_job;

/* One operand's gradient over [lo, hi) in a loop of its own, stored or added (each
 * element as the walk computes it; restrict: the compiler vectorises it, which the
 * loop writing both operands' gradients, maybe one buffer, it could not). In D: x, y,
 * z and g[i_] as in BINARY_OP's. */
#define FLAT_GRAD(OUT, FRESH, D)                                                          \
    do {                                                                                  \
        float *restrict o_ = (OUT);                                                       \
        if (FRESH)                                                                        \
            for (int64_t i_ = lo; i_ < hi; i_++) {                                        \
                float x = A[i_], y = B[i_], z = Z[i_];                                    \
                (void)x, (void)y, (void)z;                                                \
                o_[i_] = (D);                                                             \
            }                                                                             \
        else                                                                              \
            for (int64_t i_ = lo; i_ < hi; i_++) {                                        \
                float x = A[i_], y = B[i_], z = Z[i_];                                    \
                (void)x, (void)y, (void)z;                                                \
                o_[i_] += (D);                                                            \
            }                                                                             \
    } while (0)

static bool runs_flat(const cg__bcast *it) { return it->ndim == 1 && it->stride[0][0] == 1 && it->stride[1][0] == 1; }

static void run_flat(int64_t n, void (*fn)(void *ctx, int64_t lo, int64_t hi), flat_job *j)
{
    if (n >= FLAT_THREADED)
        cg__parallel_range(n, FLAT_CHUNK, fn, j);
    else
        fn(j, 0, n);
}

/* Defines NAME_forward(a, b, name), the op's backward and its table entry; the
 * public cg_NAME below calls the forward. In FWD, DA and DB: x = a's element,
 * y = b's element, z = the output's element. */
#define BINARY_OP(NAME, TORCH, SAVES, FWD, DA, DB)                                            \
    static void NAME##_forward_flat(void *ctx, int64_t lo, int64_t hi)                   \
    {                                                                                    \
        const flat_job *j = ctx;                                                         \
        for (int64_t i_ = lo; i_ < hi; i_++) {                                           \
            float x = j->A[i_], y = j->B[i_];                                            \
            j->out[i_] = (FWD);                                                          \
        }                                                                                \
    }                                                                                    \
    static void NAME##_backward_flat(void *ctx, int64_t lo, int64_t hi)                  \
    {                                                                                    \
        const flat_job *j = ctx;                                                         \
        if (j->apart && hi - lo >= 64) { /* (a few elements: the one loop costs less) */ \
            const float *restrict A = j->A, *restrict B = j->B, *restrict Z = j->Z, *restrict g = j->g; \
            if (j->ga)                                                                   \
                FLAT_GRAD(j->ga, j->fresh_a, (DA));                                      \
            if (j->gb)                                                                   \
                FLAT_GRAD(j->gb, j->fresh_b, (DB));                                      \
            return;                                                                      \
        }                                                                                \
        const float *g = j->g;                                                           \
        for (int64_t i_ = lo; i_ < hi; i_++) {                                           \
            float x = j->A[i_], y = j->B[i_], z = j->Z[i_];                              \
            (void)x, (void)y, (void)z;                                                   \
            if (j->ga) /* (a before b, as the walk below: a and b may be one tensor) */   \
                CG__STORE_OR_ADD(j->ga[i_], j->fresh_a, (DA));                            \
            if (j->gb)                                                                   \
                CG__STORE_OR_ADD(j->gb[i_], j->fresh_b, (DB));                            \
        }                                                                                \
    }                                                                                    \
    static int NAME##_backward(cg_node *n, const float *g)                               \
    {                                                                                    \
        cg_tensor *a = n->in[0], *b = n->in[1];                                          \
        const float *A = a->data, *B = b->data, *Z = n->out->data;                       \
        bool fresh_a, fresh_b; /* each element of an unbroadcast operand is written once */ \
        float *ga = one_to_one_grad(a, n->out, &fresh_a), *gb = one_to_one_grad(b, n->out, &fresh_b); \
        cg__bcast it;                                                                    \
        cg__bcast_init(&it, n->out->ndim, n->out->shape, 2, (const cg_tensor *const *)n->in); \
        (void)Z;                                                                         \
        if (runs_flat(&it)) {                                                            \
            flat_job j = {.A = A, .B = B, .Z = Z, .g = g, .ga = ga, .gb = gb, .fresh_a = fresh_a, .fresh_b = fresh_b, \
                          .apart = !ga || !gb || ga + it.numel <= gb || gb + it.numel <= ga}; \
            run_flat(it.numel, NAME##_backward_flat, &j);                                 \
            return 0;                                                                    \
        }                                                                                \
        if (ga)                                                                          \
            CG__BCAST_FOR(&it, {                                                         \
                float x = A[o0_], y = B[o1_], z = Z[i_];                                 \
                (void)x, (void)y, (void)z;                                               \
                CG__STORE_OR_ADD(ga[o0_], fresh_a, (DA));                                 \
            });                                                                          \
        if (gb)                                                                          \
            CG__BCAST_FOR(&it, {                                                         \
                float x = A[o0_], y = B[o1_], z = Z[i_];                                 \
                (void)x, (void)y, (void)z;                                               \
                CG__STORE_OR_ADD(gb[o1_], fresh_b, (DB));                                 \
            });                                                                          \
        return 0;                                                                        \
    }                                                                                    \
    static const cg_op NAME##_op = {.name = TORCH, .backward = NAME##_backward, .saves = SAVES}; \
    static cg_tensor *NAME##_forward(cg_tensor *a, cg_tensor *b, const char *name)      \
    {                                                                                    \
        cg__bcast it;                                                                    \
        cg_tensor *out = binary_out(&a, &b, name, &it);                                  \
        if (!out)                                                                        \
            return NULL;                                                                 \
        const float *A = a->data, *B = b->data;                                          \
        float *Z = out->data;                                                            \
        if (runs_flat(&it))                                                              \
            run_flat(it.numel, NAME##_forward_flat, &(flat_job){.A = A, .B = B, .out = Z}); \
        else                                                                             \
            CG__BCAST_FOR(&it, {                                                         \
                float x = A[o0_], y = B[o1_];                                            \
                Z[i_] = (FWD);                                                           \
            });                                                                          \
        return CG__RECORD(out, &NAME##_op, 2, ((cg_tensor *[]){a, b}));                  \
    }

BINARY_OP(add, "AddBackward0", 0, x + y, g[i_], g[i_])
BINARY_OP(sub, "SubBackward0", 0, x - y, g[i_], -g[i_])
BINARY_OP(mul, "MulBackward0", CG_SAVES_IN(0) | CG_SAVES_IN(1), x * y, g[i_] * y, g[i_] * x)
BINARY_OP(div, "DivBackward0", CG_SAVES_IN(0) | CG_SAVES_IN(1), x / y, g[i_] / y, -g[i_] * ((x / y) / y))
BINARY_OP(pow, "PowBackward1", CG_SAVES_IN(0) | CG_SAVES_IN(1) | CG_SAVES_OUT, powf(x, y),
          y == 0.0f ? 0.0f : g[i_] * (y * powf(x, y - 1.0f)),
          (x == 0.0f && y >= 0.0f) ? 0.0f : g[i_] * (z * logf(x)))
BINARY_OP(maximum, "MaximumBackward0", CG_SAVES_IN(0) | CG_SAVES_IN(1), (isnan(x) || isnan(y)) ? NAN : (x > y ? x : y),
          x == y ? g[i_] / 2 : (x < y ? 0.0f : g[i_]),
          x == y ? g[i_] / 2 : (x > y ? 0.0f : g[i_]))
BINARY_OP(minimum, "MinimumBackward0", CG_SAVES_IN(0) | CG_SAVES_IN(1), (isnan(x) || isnan(y)) ? NAN : (x < y ? x : y),
          x == y ? g[i_] / 2 : (x > y ? 0.0f : g[i_]),
          x == y ? g[i_] / 2 : (x < y ? 0.0f : g[i_]))

cg_tensor *cg_add(cg_tensor *a, cg_tensor *b) { return add_forward(a, b, "cg_add"); }
cg_tensor *cg_sub(cg_tensor *a, cg_tensor *b) { return sub_forward(a, b, "cg_sub"); }
cg_tensor *cg_mul(cg_tensor *a, cg_tensor *b) { return mul_forward(a, b, "cg_mul"); }
cg_tensor *cg_div(cg_tensor *a, cg_tensor *b) { return div_forward(a, b, "cg_div"); }
cg_tensor *cg_pow(cg_tensor *a, cg_tensor *b) { return pow_forward(a, b, "cg_pow"); }
cg_tensor *cg_maximum(cg_tensor *a, cg_tensor *b) { return maximum_forward(a, b, "cg_maximum"); }
cg_tensor *cg_minimum(cg_tensor *a, cg_tensor *b) { return minimum_forward(a, b, "cg_minimum"); }

/* ---- unary, and the scalar forms of the binary ops ------------------------------ */

/* The result of a unary op; *x becomes what the kernel reads (cg__dense). */
static cg_tensor *unary_out(cg_tensor **x, const char *name)
{
    return cg__check(*x, name) && (*x = cg__dense(*x, name)) ? cg__new_as(*x, name) : NULL;
}

/* What a unary op's node keeps: its scalar arguments (bounds, exponent, operand). */
typedef struct {
    float s, t;
} unary_saved;

/* Defines NAME_forward(x, s, t, name), the op's backward and its table entry; the
 * public cg_NAME below calls the forward. In FWD and DX: x = the input's element,
 * z = the output's element, s and t = the op's scalars. */
#define UNARY_OP(NAME, TORCH, SAVES, FWD, DX) UNARY_OP_VEC(NAME, TORCH, SAVES, FWD, DX, NULL)
/* The same with a vectorised kernel for the forward (FWD is then its scalar meaning). */
#define UNARY_OP_VEC(NAME, TORCH, SAVES, FWD, DX, VEC)                                     \
    static int NAME##_backward(cg_node *n, const float *g)                                \
    {                                                                                     \
        bool fresh;                                                                       \
        float *gx = cg__grad_buf_to_write(n->in[0], &fresh);                              \
        const float *X = n->in[0]->data, *Z = n->out->data;                               \
        const unary_saved *sv = n->saved;                                                 \
        const float s = sv->s, t = sv->t;                                                 \
        (void)s, (void)t, (void)X, (void)Z;                                               \
        if (!gx)                                                                          \
            return 0;                                                                     \
        for (int64_t i = 0; i < n->out->numel; i++) {                                     \
            float x = X[i], z = Z[i];                                                     \
            (void)x, (void)z;                                                             \
            CG__STORE_OR_ADD(gx[i], fresh, (DX));                                         \
        }                                                                                 \
        return 0;                                                                         \
    }                                                                                     \
    static const cg_op NAME##_op = {.name = TORCH, .backward = NAME##_backward, .saves = SAVES}; \
    static cg_tensor *NAME##_forward(cg_tensor *in, float s, float t, const char *name)  \
    {                                                                                     \
        cg_tensor *out = unary_out(&in, name);                                            \
        if (!out)                                                                         \
            return NULL;                                                                  \
        (void)s, (void)t;                                                                 \
        const float *X = in->data;                                                        \
        float *Z = out->data;                                                             \
        void (*vec)(int64_t, const float *, float *) = VEC;                               \
        if (vec)                                                                          \
            vec(out->numel, X, Z);                                                        \
        else                                                                              \
            for (int64_t i = 0; i < out->numel; i++) {                                    \
                float x = X[i];                                                           \
                Z[i] = (FWD);                                                             \
            }                                                                             \
        unary_saved sv = {s, t};                                                          \
        return CG__RECORD_WITH(out, &NAME##_op, 1, &in, &sv);                             \
    }

/* GELU, exact and with torch's tanh approximation, the formulas of torch's kernels */

static inline float sgnf(float x) { return (float)((x > 0) - (x < 0)); }

/* x ** e as torch's pow kernel takes the common exponents: x*x, x*x*x, sqrt,
 * 1/sqrt, 1/x, 1/(x*x) — exactly, and without a pow call per element. */
static inline float pow_fast(float x, float e)
{
    return e == 2.0f ? x * x : e == 3.0f ? x * x * x : e == 0.5f ? sqrtf(x) : e == -0.5f ? 1.0f / sqrtf(x)
         : e == -1.0f ? 1.0f / x : e == -2.0f ? 1.0f / (x * x) : e == 1.0f ? x : powf(x, e);
}

UNARY_OP(neg, "NegBackward0", 0, -x, -g[i])
UNARY_OP_VEC(exp, "ExpBackward0", CG_SAVES_OUT, expf(x), g[i] * z, cg__exp_f32)
UNARY_OP(log, "LogBackward0", CG_SAVES_IN(0), logf(x), g[i] / x)
UNARY_OP(sqrt, "SqrtBackward0", CG_SAVES_OUT, sqrtf(x), g[i] / (2 * z))
UNARY_OP(abs, "AbsBackward0", CG_SAVES_IN(0), fabsf(x), g[i] * sgnf(x))
UNARY_OP_VEC(tanh, "TanhBackward0", CG_SAVES_OUT, tanhf(x), g[i] * (1 - z * z), cg__tanh_f32)
UNARY_OP_VEC(sigmoid, "SigmoidBackward0", CG_SAVES_OUT, 1 / (1 + expf(-x)), g[i] * (1 - z) * z, cg__sigmoid_f32)
UNARY_OP(relu, "ReluBackward0", CG_SAVES_OUT, x > 0 ? x : (isnan(x) ? x : 0.0f), z > 0 ? g[i] : 0.0f)
UNARY_OP(add_scalar, "AddBackward1", 0, x + s, g[i])
UNARY_OP(sub_scalar, "SubBackward1", 0, x - s, g[i])
UNARY_OP(rsub_scalar, "RsubBackward1", 0, s - x, -g[i])
UNARY_OP(mul_scalar, "MulBackward1", 0, x * s, g[i] * s)
UNARY_OP(div_scalar, "DivBackward1", 0, x / s, g[i] / s)
UNARY_OP(rdiv_scalar, "MulBackward0", CG_SAVES_IN(0), s / x, -g[i] * s / (x * x))
UNARY_OP(pow_scalar, "PowBackward0", CG_SAVES_IN(0), pow_fast(x, s),
         s == 0.0f ? 0.0f : g[i] * (s * pow_fast(x, s - 1.0f)))
/* NAN bounds stand for torch's None; a bound that is NAN never clamps. */
UNARY_OP(clamp, "ClampBackward1", CG_SAVES_IN(0),
         isnan(x) ? x : (!isnan(t) && x > t ? t : (!isnan(s) && x < s ? s : x)),
         ((isnan(s) || x >= s) && (isnan(t) || x <= t)) ? g[i] : 0.0f)
/* GELU exact, vectorised both ways (erf's polynomials; libm's erff without AVX2) */
static int gelu_backward(cg_node *n, const float *g)
{
    bool fresh;
    float *gx = cg__grad_buf_to_write(n->in[0], &fresh);
    if (gx)
        cg__gelu_grad_f32(n->out->numel, n->in[0]->data, g, gx, !fresh);
    return 0;
}
static const cg_op gelu_op = {.name = "GeluBackward0", .backward = gelu_backward, .saves = CG_SAVES_IN(0)};

/* GELU's tanh form, vectorised both ways (it was most of a small Transformer's step) */
static int gelu_tanh_backward(cg_node *n, const float *g)
{
    bool fresh;
    float *gx = cg__grad_buf_to_write(n->in[0], &fresh);
    if (gx)
        cg__gelu_tanh_grad_f32(n->out->numel, n->in[0]->data, g, gx, !fresh);
    return 0;
}

static const cg_op gelu_tanh_op = {.name = "GeluBackward0", .backward = gelu_tanh_backward, .saves = CG_SAVES_IN(0)};

cg_tensor *cg_neg(cg_tensor *x) { return neg_forward(x, 0, 0, "cg_neg"); }
cg_tensor *cg_exp(cg_tensor *x) { return exp_forward(x, 0, 0, "cg_exp"); }
cg_tensor *cg_log(cg_tensor *x) { return log_forward(x, 0, 0, "cg_log"); }
cg_tensor *cg_sqrt(cg_tensor *x) { return sqrt_forward(x, 0, 0, "cg_sqrt"); }
cg_tensor *cg_abs(cg_tensor *x) { return abs_forward(x, 0, 0, "cg_abs"); }
cg_tensor *cg_tanh(cg_tensor *x) { return tanh_forward(x, 0, 0, "cg_tanh"); }
cg_tensor *cg_sigmoid(cg_tensor *x) { return sigmoid_forward(x, 0, 0, "cg_sigmoid"); }
cg_tensor *cg_relu(cg_tensor *x) { return relu_forward(x, 0, 0, "cg_relu"); }
cg_tensor *cg_add_scalar(cg_tensor *x, float s) { return add_scalar_forward(x, s, 0, "cg_add_scalar"); }
cg_tensor *cg_sub_scalar(cg_tensor *x, float s) { return sub_scalar_forward(x, s, 0, "cg_sub_scalar"); }
cg_tensor *cg_rsub_scalar(cg_tensor *x, float s) { return rsub_scalar_forward(x, s, 0, "cg_rsub_scalar"); }
cg_tensor *cg_mul_scalar(cg_tensor *x, float s) { return mul_scalar_forward(x, s, 0, "cg_mul_scalar"); }
cg_tensor *cg_div_scalar(cg_tensor *x, float s) { return div_scalar_forward(x, s, 0, "cg_div_scalar"); }
cg_tensor *cg_rdiv_scalar(cg_tensor *x, float s) { return rdiv_scalar_forward(x, s, 0, "cg_rdiv_scalar"); }
cg_tensor *cg_pow_scalar(cg_tensor *x, float e) { return pow_scalar_forward(x, e, 0, "cg_pow_scalar"); }
cg_tensor *cg_clamp(cg_tensor *x, float min, float max) { return clamp_forward(x, min, max, "cg_clamp"); }
cg_tensor *cg_gelu(cg_tensor *x)
{
    cg_tensor *out = unary_out(&x, "cg_gelu");
    if (!out)
        return NULL;
    cg__gelu_f32(out->numel, x->data, out->data);
    return CG__RECORD(out, &gelu_op, 1, &x);
}
cg_tensor *cg_gelu_tanh(cg_tensor *x)
{
    cg_tensor *out = unary_out(&x, "cg_gelu_tanh");
    if (!out)
        return NULL;
    cg__gelu_tanh_f32(out->numel, x->data, out->data);
    return CG__RECORD(out, &gelu_tanh_op, 1, &x);
}

/* ---- where ------------------------------------------------------------------------ */

static int where_backward(cg_node *n, const float *g)
{
    cg_tensor *c = n->in[0], *a = n->in[1], *b = n->in[2];
    float *ga = cg__grad_buf(a), *gb = cg__grad_buf(b);
    const float *C = c->data;
    cg__bcast it;
    cg__bcast_init(&it, n->out->ndim, n->out->shape, 3, (const cg_tensor *const *)n->in);
    CG__BCAST_FOR(&it, {
        if (C[o0_] != 0.0f) {
            if (ga)
                ga[o1_] += g[i_];
        } else if (gb) {
            gb[o2_] += g[i_];
        }
    });
    return 0;
}
static const cg_op where_op = {.name = "WhereBackward0", .backward = where_backward, .saves = CG_SAVES_IN(0)};

cg_tensor *cg_where(cg_tensor *cond, cg_tensor *a, cg_tensor *b)
{
    cg_tensor *ops[3] = {cond, a, b};
    cg__bcast it;
    cg_tensor *out = cg__broadcast_out(3, ops, "cg_where", &it);
    if (!out)
        return NULL;
    const float *C = ops[0]->data, *A = ops[1]->data, *B = ops[2]->data;
    CG__BCAST_FOR(&it, { out->data[i_] = C[o0_] != 0.0f ? A[o1_] : B[o2_]; });
    /* all three are the node's inputs (backward reads cond to route the gradient);
     * only a and b receive gradients, as in torch */
    return CG__RECORD(out, &where_op, 3, ops);
}
