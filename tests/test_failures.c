/* cgrad tests — failures anywhere in a training step, SQLite's way: for every N
 * that a step of each model reaches, the Nth allocation is refused, and the step
 * must either give exactly the undisturbed result or fail cleanly — a NULL or -1
 * with a message, every parameter, .grad and optimizer state as before the call
 * that failed — and the next, undisturbed step must give exactly what it gives
 * when nothing failed. */
#include "fixture.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* the library's test hooks (tensor/tensor_internal.h) */
void cg__fail_allocation(int64_t nth);
int64_t cg__allocations_counted(void);

enum { RNN, LSTM, GRU, BLOCK, WIDE_RNN, NMODELS };
static const char *const model_names[] = {"RNN", "LSTM", "GRU", "Transformer block", "wide RNN"};
/* The wide RNN: its W_hh meets gradient products the engine puts off and adds in
 * products of 256 rows, one of them on a worker when two threads run (its own steps and
 * batch: 264 rows), and it packs W_hh once for the steps' g · W_hh. */
#define WIDE 128
#define WIDE_T 33
#define WIDE_B 8

#define T 5
#define B 2
#define V 6
#define E 8

typedef struct {
    int kind;
    cg_module *body, *head, *ln1, *ln2, *attn, *fc, *proj;
    cg_optim *opt;
    cg_tensor **params;
    int nparams;
    cg_tensor *x, *y, *mask;
    int64_t steps, batch;
    bool to_none; /* zero_grad(set_to_none=True) before each step, not zeros */
} model;

static void collect(model *m, cg_module *const *mods, int n)
{
    m->nparams = 0;
    for (int k = 0; k < n; k++) {
        int c;
        cg_parameters(mods[k], &c);
        m->nparams += c;
    }
    m->params = malloc(sizeof *m->params * (size_t)m->nparams);
    int at = 0;
    for (int k = 0; k < n; k++) {
        int c;
        cg_tensor **p = cg_parameters(mods[k], &c);
        for (int i = 0; i < c; i++)
            m->params[at++] = p[i];
    }
}

static model build(int kind)
{
    model m = {.kind = kind};
    cg_manual_seed(0);
    if (kind == BLOCK) {
        m.ln1 = cg_layer_norm_new(.normalized_shape = E);
        m.attn = cg_multihead_attention_new(.embed_dim = E, .num_heads = 2, .dropout = 0.25f);
        m.ln2 = cg_layer_norm_new(.normalized_shape = E);
        m.fc = cg_linear_new(.in_features = E, .out_features = 4 * E);
        m.proj = cg_linear_new(.in_features = 4 * E, .out_features = E);
        m.head = cg_linear_new(.in_features = E, .out_features = V);
        cg_module *mods[] = {m.ln1, m.attn, m.ln2, m.fc, m.proj, m.head};
        collect(&m, mods, 6);
        m.opt = cg_adamw_new(m.params, m.nparams, .lr = 0.01);
        float causal[T * T];
        for (int i = 0; i < T; i++)
            for (int j = 0; j < T; j++)
                causal[i * T + j] = j > i ? -INFINITY : 0.0f;
        m.mask = cg_tensor_from(causal, CG_SHAPE(T, T));
    } else {
        int64_t H = kind == WIDE_RNN ? WIDE : E;
        m.body = kind == RNN || kind == WIDE_RNN ? cg_rnn_new(.input_size = E, .hidden_size = H)
                 : kind == LSTM                  ? cg_lstm_new(.input_size = E, .hidden_size = E)
                                                 : cg_gru_new(.input_size = E, .hidden_size = E);
        m.head = cg_linear_new(.in_features = H, .out_features = V);
        cg_module *mods[] = {m.body, m.head};
        collect(&m, mods, 2);
        m.opt = kind == RNN || kind == WIDE_RNN ? cg_adam_new(m.params, m.nparams, .lr = 0.05)
                            : cg_sgd_new(m.params, m.nparams, .lr = 0.1, .momentum = 0.9);
    }
    m.steps = kind == WIDE_RNN ? WIDE_T : T, m.batch = kind == WIDE_RNN ? WIDE_B : B;
    m.x = cg_randn(CG_SHAPE(m.steps, m.batch, E));
    m.y = cg_randint(0, V, CG_SHAPE(m.steps * m.batch));
    return m;
}

static void destroy(model *m)
{
    cg_optim_free(m->opt);
    cg_module *mods[] = {m->body, m->head, m->ln1, m->ln2, m->attn, m->fc, m->proj};
    for (int k = 0; k < 7; k++)
        cg_module_free(mods[k]);
    cg_tensor_free(m->x), cg_tensor_free(m->y), cg_tensor_free(m->mask);
    free(m->params);
}

/* The loss of one forward (NULL when an op failed). */
static cg_tensor *forward(model *m)
{
    cg_tensor *h;
    if (m->kind == BLOCK) {
        cg_tensor *a = cg_module_forward(m->ln1, m->x);
        cg_tensor *r = cg_add(m->x, cg_multihead_attention_forward(m->attn, a, a, a, m->mask));
        cg_tensor *f = cg_linear_forward(m->proj, cg_gelu(cg_linear_forward(m->fc, cg_module_forward(m->ln2, r))));
        h = cg_add(r, f);
    } else {
        h = m->kind == RNN || m->kind == WIDE_RNN ? cg_rnn_forward(m->body, m->x, NULL, NULL)
            : m->kind == LSTM ? cg_lstm_forward(m->body, m->x, NULL, NULL, NULL, NULL)
                              : cg_gru_forward(m->body, m->x, NULL, NULL);
    }
    cg_tensor *logits = cg_reshape(cg_linear_forward(m->head, h), CG_SHAPE(m->steps * m->batch, V));
    return cg_cross_entropy(logits, m->y);
}

typedef enum { DONE, FORWARD_FAILED, BACKWARD_FAILED, STEP_FAILED } outcome;

/* One training step (generator seeded, so dropout draws the same masks each time);
 * the injector armed with nth (0: not) for the step's own calls only. */
static outcome step(model *m, int64_t nth, float *loss_out, int64_t *requests)
{
    outcome r = DONE;
    cg_manual_seed(1);
    cg_frame_begin();
    if (m->to_none)
        cg_optim_zero_grad_set_to_none(m->opt);
    else
        cg_optim_zero_grad(m->opt);
    cg__fail_allocation(nth);
    cg_clear_error();
    cg_tensor *loss = forward(m);
    if (!loss)
        r = FORWARD_FAILED;
    else if (cg_backward(loss) < 0)
        r = BACKWARD_FAILED;
    else if (cg_optim_step(m->opt) < 0)
        r = STEP_FAILED;
    if (requests)
        *requests = cg__allocations_counted();
    cg__fail_allocation(0);
    if (r != DONE)
        ck_assert_msg(cg_last_error()[0], "%s: a failed step without a message", model_names[m->kind]);
    if (loss_out)
        *loss_out = loss ? cg_item(loss) : NAN;
    cg_frame_end();
    return r;
}

/* Every float the model's state holds: parameters, their .grad (or a marker for
 * none), and every optimizer state tensor, in one array. */
typedef struct {
    float *v;
    size_t n;
} snapshot;

static void add_tensor(snapshot *s, const cg_tensor *t, float missing)
{
    int64_t k = t ? cg_numel(t) : 1;
    s->v = realloc(s->v, sizeof(float) * (s->n + (size_t)k));
    if (t)
        memcpy(s->v + s->n, cg_data((cg_tensor *)t), sizeof(float) * (size_t)k);
    else
        s->v[s->n] = missing;
    s->n += (size_t)k;
}

static snapshot take(const model *m)
{
    snapshot s = {0};
    for (int i = 0; i < m->nparams; i++) {
        add_tensor(&s, m->params[i], 0);
        add_tensor(&s, cg_grad(m->params[i]), 12345.0f);
    }
    for (int i = 0; i < cg_optim_state_count(m->opt); i++)
        add_tensor(&s, cg_optim_state_at(m->opt, i), 0);
    return s;
}

static bool same(snapshot a, snapshot b) { return a.n == b.n && !memcmp(a.v, b.v, sizeof(float) * a.n); }

static void check_model(int kind, bool cold, bool to_none)
{
    /* the undisturbed run: the states after a warm-up step (unless cold), one step, and one more */
    model m = build(kind);
    m.to_none = to_none;
    if (!cold)
        ck_assert_int_eq(step(&m, 0, NULL, NULL), DONE);
    snapshot before = take(&m);
    float want_loss, want_next;
    int64_t requests;
    ck_assert_int_eq(step(&m, INT64_MAX, &want_loss, &requests), DONE);
    snapshot after = take(&m);
    ck_assert_int_eq(step(&m, 0, &want_next, NULL), DONE);
    snapshot after_next = take(&m);
    destroy(&m);
    ck_assert_int_gt(requests, 10);
    /* what a step that fails finds: the start, with zero_grad done */
    model z = build(kind);
    z.to_none = to_none;
    if (!cold)
        step(&z, 0, NULL, NULL);
    if (to_none) /* (every .grad None: the failed pass's buffers gone again) */
        cg_optim_zero_grad_set_to_none(z.opt);
    else
        cg_optim_zero_grad(z.opt);
    snapshot zeroed = take(&z);
    destroy(&z);
    int failed_at[4] = {0};
    for (int64_t nth = 1; nth <= requests + 1; nth++) {
        model t = build(kind);
        t.to_none = to_none;
        if (!cold)
            step(&t, 0, NULL, NULL);
        snapshot start = take(&t);
        ck_assert(same(start, before));
        float loss;
        outcome r = step(&t, nth, &loss, NULL);
        failed_at[r]++;
        snapshot now = take(&t);
        if (r == DONE) {
            ck_assert_msg(same(now, after) && loss == want_loss, "%s: refusing allocation %lld changed the result",
                          model_names[kind], (long long)nth);
        } else {
            /* the failed call left everything as it found it: parameters and optimizer
             * state as before the step, every .grad as zero_grad left it (or none) */
            ck_assert_msg(same(now, zeroed), "%s: allocation %lld refused in the %s: the state changed",
                          model_names[kind], (long long)nth,
                          r == FORWARD_FAILED ? "forward" : r == BACKWARD_FAILED ? "backward" : "step");
            /* and the next step is exactly the undisturbed one */
            float again;
            ck_assert_int_eq(step(&t, 0, &again, NULL), DONE);
            snapshot redo = take(&t);
            ck_assert_msg(same(redo, after) && again == want_loss, "%s: the step after refusing allocation %lld differs",
                          model_names[kind], (long long)nth);
            free(redo.v);
        }
        free(start.v), free(now.v);
        destroy(&t);
    }
    ck_assert_msg(failed_at[FORWARD_FAILED] > 0 && failed_at[BACKWARD_FAILED] > 0 && failed_at[DONE] > 0,
                  "%s: %d forward, %d backward failures, %d undisturbed of %lld", model_names[kind],
                  failed_at[FORWARD_FAILED], failed_at[BACKWARD_FAILED], failed_at[DONE], (long long)requests + 1);
    free(before.v), free(after.v), free(after_next.v), free(zeroed.v);
    (void)want_next;
}

START_TEST(every_refused_allocation_fails_cleanly)
{
    int kind = _i % NMODELS;
    if (kind == WIDE_RNN) /* (a second thread: its put-off products run on a worker) */
        cg_set_num_threads(2); /* (one thread in WebAssembly: refused, and the test runs on one) */
    check_model(kind, _i >= NMODELS && _i < 2 * NMODELS, _i >= 2 * NMODELS); /* cold; warm with .grad set to None */
    cg_set_num_threads(1);
    cg_frame_release_memory();
}
END_TEST

/* The GEMM entry point reports a product it could not run, rather than leaving C unwritten. */
/* A thread that first nests frames deeper than the thread-local marks reach needs a block
 * for the rest; refused, the deeper frames share the 4th's memory, and everything still works. */
static void *nest_without_memory(void *unused)
{
    (void)unused;
    cg_tensor *made[7];
    for (int round = 0; round < 2; round++) {
        for (int level = 1; level <= 6; level++) {
            cg_clear_error();
            cg__fail_allocation(round == 0 && level == 5 ? 1 : 0);
            cg_frame_begin();
            if (round == 0 && level == 5)
                ck_assert_error_has("out of memory for frames nested deeper than 4; the deeper ones share the 4th");
            else
                ck_assert_str_eq(cg_last_error(), "");
            cg__fail_allocation(0);
            made[level] = cg_full(CG_SHAPE(2), (float)level);
            ck_assert_ptr_nonnull(made[level]);
        }
        for (int level = 6; level >= 1; level--) {
            ck_assert_float_eq(cg_item(cg_sum(made[level])), 2.0f * level);
            cg_frame_end();
            ck_assert(isnan(cg_item(made[level]))); /* its frame ended, shared or not */
        }
        ck_assert_int_eq(cg_frame_depth(), 0);
    }
    return NULL;
}

START_TEST(frames_deeper_than_the_thread_locals_without_memory)
{
    if (!fx_threads_run()) /* (it needs a thread that never nested so deep: a new one) */
        return;
    pthread_t t;
    pthread_create(&t, NULL, nest_without_memory, NULL);
    pthread_join(t, NULL);
}
END_TEST

START_TEST(a_product_that_cannot_run_says_so)
{
    cg_frame_begin();
    cg_manual_seed(2);
    cg_tensor *a = cg_randn(CG_SHAPE(64, 96)), *b = cg_randn(CG_SHAPE(96, 80));
    cg_tensor *want = cg_matmul(a, b);
    ck_assert_ptr_nonnull(want);
    int failures = 0, successes = 0;
    for (int64_t nth = 1; nth <= 8; nth++) {
        cg__fail_allocation(nth);
        cg_tensor *c = cg_matmul(a, b);
        cg__fail_allocation(0);
        if (c) {
            successes++;
            ck_assert_mem_eq(cg_data(c), cg_data(want), sizeof(float) * 64 * 80);
        } else {
            failures++;
            ck_assert_msg(strstr(cg_last_error(), "cg_matmul") != NULL, "%s", cg_last_error());
        }
    }
    ck_assert_int_gt(failures, 0);
    ck_assert_int_gt(successes, 0);
    cg_frame_end();
}
END_TEST

/* A parameter group whose state cannot be made is not added: the optimizer stays as it
 * was and still steps. */
START_TEST(a_group_that_cannot_be_added_changes_nothing)
{
    cg_tensor *p = cg_ones(CG_SHAPE(3)), *q = cg_ones(CG_SHAPE(4));
    cg_optim *o = cg_adam_new(&p, 1, .lr = 0.1, .amsgrad = true);
    int failures = 0;
    for (int64_t nth = 1; nth <= 32; nth++) {
        cg__fail_allocation(nth);
        int rc = cg_adam_add_param_group(o, &q, 1, .lr = 0.5);
        cg__fail_allocation(0);
        if (rc == 0)
            break;
        failures++;
        ck_assert_msg(strstr(cg_last_error(), "cg_adam_add_param_group") != NULL, "%s", cg_last_error());
        ck_assert_int_eq(cg_optim_group_count(o), 1);
        ck_assert_int_eq(cg_optim_state_count(o), 4);
    }
    ck_assert_int_gt(failures, 0);
    ck_assert_int_eq(cg_optim_group_count(o), 2);
    ck_assert_int_eq(cg_optim_state_count(o), 8);
    ck_assert_str_eq(cg_optim_state_name(o, 4), "1.step");
    cg_optim_free(o);
    cg_tensor_free(p), cg_tensor_free(q);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("failures");
    TCase *t = tcase_create("failures");
    tcase_set_timeout(t, 600);
    tcase_add_loop_test(t, every_refused_allocation_fails_cleanly, 0, 3 * NMODELS);
    tcase_add_test(t, a_product_that_cannot_run_says_so);
    tcase_add_test(t, frames_deeper_than_the_thread_locals_without_memory);
    tcase_add_test(t, a_group_that_cannot_be_added_changes_nothing);
    suite_add_tcase(s, t);
    return fx_run(s);
}
