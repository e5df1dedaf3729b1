/* cgrad tests — trust: edge shapes that once crashed, in-place writes that
 * once gave silently wrong gradients, frames, threads and error messages.
 * Each test is a case a user hit; each asserts the value PyTorch gives, or
 * a refusal with a message that says what went wrong. */
#include "fixture.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cg_tensor *leaf(cg_tensor *t)
{
    cg_set_requires_grad(t, true);
    return t;
}

/* ---- edge shapes ------------------------------------------------------------------- */

START_TEST(matmul_with_an_empty_inner_dim_is_zeros)
{
    cg_frame_begin();
    cg_tensor *a = leaf(cg_ones(CG_SHAPE(3, 0))), *b = leaf(cg_ones(CG_SHAPE(0, 4)));
    cg_tensor *c = cg_matmul(a, b);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(cg_shape(c)[0], 3);
    ck_assert_int_eq(cg_shape(c)[1], 4);
    for (int i = 0; i < 12; i++)
        ck_assert_float_eq(cg_data(c)[i], 0.0f);
    ck_assert_int_eq(cg_backward(cg_sum(c)), 0);
    ck_assert_int_eq(cg_numel(cg_grad(a)), 0);
    ck_assert_int_eq(cg_numel(cg_grad(b)), 0);
    /* batched, with the empty dim folded into the rows */
    cg_tensor *a3 = leaf(cg_ones(CG_SHAPE(2, 3, 0)));
    cg_tensor *c3 = cg_matmul(a3, b);
    ck_assert_int_eq(cg_numel(c3), 24);
    ck_assert_int_eq(cg_backward(cg_sum(c3)), 0);
    cg_frame_end();
}
END_TEST

START_TEST(linear_with_no_inputs_goes_backward)
{
    /* torch: Linear(0, 3) has a zero bias (bound 0); x (2, 0) gives zeros (2, 3) */
    cg_module *lin = cg_linear_new(.in_features = 0, .out_features = 3);
    ck_assert_ptr_nonnull(lin);
    cg_frame_begin();
    cg_tensor *y = cg_linear_forward(lin, cg_ones(CG_SHAPE(2, 0)));
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(cg_numel(y), 6);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(cg_data(y)[i], 0.0f);
    ck_assert_int_eq(cg_backward(cg_sum(y)), 0);
    cg_tensor *gb = cg_grad(cg_param(lin, "bias"));
    for (int i = 0; i < 3; i++)
        ck_assert_float_eq(cg_data(gb)[i], 2.0f);
    cg_frame_end();
    cg_module_free(lin);
}
END_TEST

START_TEST(index_select_of_a_scalar_takes_one_index)
{
    cg_frame_begin();
    cg_tensor *s = cg_scalar(5);
    ck_assert_ptr_null(cg_index_select(s, 0, cg_zeros(CG_SHAPE(4))));
    ck_assert_error_has("cg_index_select");
    cg_tensor *one = cg_index_select(s, 0, cg_zeros(CG_SHAPE(1)));
    ck_assert_ptr_nonnull(one);
    ck_assert_int_eq(cg_ndim(one), 0);
    ck_assert_float_eq(cg_item(one), 5.0f);
    cg_frame_end();
}
END_TEST

START_TEST(reshape_to_an_overflowing_shape_is_refused)
{
    cg_frame_begin();
    cg_tensor *t = cg_ones(CG_SHAPE(4));
    ck_assert_ptr_null(cg_reshape(t, CG_SHAPE(INT64_C(1) << 62, 1 << 4, 0)));
    ck_assert_error_has("cg_reshape");
    ck_assert_ptr_null(cg_reshape(t, CG_SHAPE(INT64_C(1) << 40, INT64_C(1) << 40, -1)));
    cg_frame_end();
}
END_TEST

START_TEST(empty_tensors_with_huge_dims_cost_nothing)
{
    /* found by fuzz_ops: loops that counted 2^31 empty blocks */
    cg_frame_begin();
    /* as huge as this machine's size limit allows beside a 0 (2^26 elements on 32 bits) */
    int64_t huge = sizeof(size_t) == 4 ? INT64_C(1) << 22 : INT64_C(1) << 31;
    cg_tensor *e = leaf(cg_zeros(CG_SHAPE(huge, 3, 0)));
    ck_assert_ptr_nonnull(e);
    cg_tensor *two[2] = {e, e};
    cg_tensor *c = cg_cat(two, 2, 1);
    ck_assert_int_eq(cg_shape(c)[1], 6);
    ck_assert_int_eq(cg_numel(cg_stack(two, 2, 0)), 0);
    ck_assert_int_eq(cg_numel(cg_narrow(e, 1, 1, 2)), 0);
    ck_assert_int_eq(cg_numel(cg_index_select(e, 1, cg_zeros(CG_SHAPE(5)))), 0);
    ck_assert_int_eq(cg_numel(cg_argmax(e, 1, false)), 0);
    ck_assert_int_eq(cg_numel(cg_softmax(e, 1)), 0);
    cg_tensor *s = cg_sum_dim(e, 1, false);
    ck_assert_int_eq(cg_numel(s), 0);
    ck_assert_int_eq(cg_backward_ex(c, .grad = cg_zeros_like(c)), 0);
    ck_assert_int_eq(cg_numel(cg_grad(e)), 0);
    /* attention over empty q, k, v whose other sizes multiply past any limit: the
     * weights' count comes from three tensors (found by fuzz_ops through the op table) */
    int64_t nb = sizeof(size_t) == 4 ? 2 : INT64_C(1) << 9;
    cg_tensor *eq = cg_zeros(CG_SHAPE(nb, huge, 0));
    ck_assert_ptr_nonnull(eq);
    ck_assert_ptr_null(cg_scaled_dot_product_attention(eq, eq, eq));
    ck_assert_error_has("too large");
    /* the sizes beside a 0 still multiply to at most the limit (2^40; less on 32 bits): no
     * product of them overflows */
    ck_assert_ptr_null(cg_zeros(CG_SHAPE(0, 5, INT64_C(1) << 31, INT64_C(1) << 31)));
    ck_assert_error_has("too large");
    /* broadcasting over (0, 3, big, big): no elements, nothing walked */
    int64_t big = sizeof(size_t) == 4 ? INT64_C(1) << 11 : INT64_C(1) << 19;
    cg_tensor *a = leaf(cg_ones(CG_SHAPE(1))), *b = leaf(cg_zeros(CG_SHAPE(0, 3, big, big)));
    ck_assert_ptr_nonnull(b);
    cg_tensor *sum = cg_add(a, b);
    ck_assert_ptr_nonnull(sum);
    ck_assert_int_eq(cg_numel(sum), 0);
    ck_assert_int_eq(cg_shape(sum)[3], big);
    ck_assert_int_eq(cg_backward(cg_sum(cg_mul(sum, sum))), 0);
    ck_assert_float_eq(cg_data(cg_grad(a))[0], 0.0f);
    cg_frame_end();
}
END_TEST

START_TEST(nan_prints_as_torch_prints_it)
{
    /* torch 1.13's printouts of the same tensors */
    cg_frame_begin();
    char buf[128];
    float v1[] = {-NAN, 1e-9f, 1e10f}, v2[] = {-NAN, 1.5f}, v3[] = {-INFINITY, NAN, 1e-9f};
    cg_tensor_str(cg_tensor_from(v1, CG_SHAPE(3)), buf, sizeof buf);
    ck_assert_str_eq(buf, "tensor([       nan, 1.0000e-09, 1.0000e+10])");
    cg_tensor_str(cg_tensor_from(v2, CG_SHAPE(2)), buf, sizeof buf);
    ck_assert_str_eq(buf, "tensor([   nan, 1.5000])");
    cg_tensor_str(cg_tensor_from(v3, CG_SHAPE(3)), buf, sizeof buf);
    ck_assert_str_eq(buf, "tensor([      -inf,        nan, 1.0000e-09])");
    cg_frame_end();
}
END_TEST

START_TEST(dropout_of_an_empty_tensor_outside_frames)
{
    /* once: NULL with no message, and the result leaked (LeakSanitizer checks the rest) */
    cg_tensor *x = cg_zeros(CG_SHAPE(0, 3));
    cg_tensor *y = cg_dropout(x, 0.5f, true);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(cg_numel(y), 0);
    cg_tensor_free(y);
    cg_tensor_free(x);
}
END_TEST

/* ---- in-place writes: version counters ---------------------------------------------- */

START_TEST(writing_a_saved_input_makes_backward_refuse)
{
    cg_frame_begin();
    cg_tensor *x = leaf(cg_tensor_from((float[]){1, 2, 3}, CG_SHAPE(3)));
    cg_tensor *y = cg_sum(cg_mul(x, x));
    ck_assert_int_eq(cg_version(x), 0);
    /* torch refuses the write itself while grad mode is on */
    ck_assert_int_lt(cg_copy_(x, cg_zeros(CG_SHAPE(3))), 0);
    ck_assert_error_has("leaf tensor that requires grad");
    ck_assert_int_eq(cg_version(x), 0);
    ck_assert_float_eq(cg_data(x)[0], 1.0f);
    cg_no_grad_begin();
    ck_assert_int_eq(cg_copy_(x, cg_zeros(CG_SHAPE(3))), 0);
    cg_no_grad_end();
    ck_assert_int_eq(cg_version(x), 1);
    ck_assert_int_lt(cg_backward(y), 0);
    ck_assert_error_has("MulBackward0");
    ck_assert_error_has("version 1; expected version 0");
    ck_assert_ptr_null(cg_grad(x)); /* nothing was accumulated */
    cg_frame_end();
}
END_TEST

START_TEST(writing_a_tanh_output_through_a_detached_view_is_caught)
{
    cg_frame_begin();
    cg_tensor *x = leaf(cg_tensor_from((float[]){0.5f, -1}, CG_SHAPE(2)));
    cg_tensor *t = cg_tanh(x);
    cg_tensor *d = cg_detach(t);
    ck_assert_int_eq(cg_fill_(d, 0), 0); /* allowed: d needs no grad, but it shares t's counter */
    ck_assert_int_eq(cg_version(t), 1);
    ck_assert_int_lt(cg_backward(cg_sum(t)), 0);
    ck_assert_error_has("output 0 of TanhBackward0");
    /* a tensor the graph computed cannot be written directly while grad mode is on */
    ck_assert_int_lt(cg_fill_(t, 0), 0);
    ck_assert_error_has("TanhBackward0");
    cg_frame_end();
}
END_TEST

START_TEST(writing_what_no_backward_reads_is_allowed)
{
    /* torch: add saves nothing, so x + 1 goes backward after x changes */
    cg_frame_begin();
    cg_tensor *x = leaf(cg_ones(CG_SHAPE(2)));
    cg_tensor *y = cg_sum(cg_add_scalar(x, 1));
    cg_no_grad_begin();
    cg_fill_(x, 7);
    cg_no_grad_end();
    ck_assert_int_eq(cg_backward(y), 0);
    ck_assert_float_eq(cg_data(cg_grad(x))[1], 1.0f);
    cg_frame_end();
}
END_TEST

START_TEST(an_optimizer_step_counts_as_a_write)
{
    cg_tensor *w = leaf(cg_ones(CG_SHAPE(2)));
    cg_optim *opt = cg_sgd_new(&w, 1, .lr = 0.1);
    cg_frame_begin();
    cg_tensor *y = cg_sum(cg_mul(w, w));
    ck_assert_int_eq(cg_backward_ex(y, .retain_graph = true), 0);
    ck_assert_int_eq(cg_optim_step(opt), 0);
    ck_assert_int_eq(cg_version(w), 1);
    ck_assert_int_lt(cg_backward(y), 0);
    ck_assert_error_has("MulBackward0");
    cg_frame_end();
    cg_optim_free(opt);
    cg_tensor_free(w);
}
END_TEST

START_TEST(an_optimizer_keeps_its_parameters_alive)
{
    cg_module *lin = cg_linear_new(.in_features = 2, .out_features = 1);
    int n;
    cg_tensor **ps = cg_parameters(lin, &n);
    cg_tensor *w = ps[0];
    cg_optim *opt = cg_sgd_new(ps, n, .lr = 1);
    cg_frame_begin();
    cg_backward(cg_sum(cg_linear_forward(lin, cg_ones(CG_SHAPE(1, 2)))));
    cg_frame_end();
    float before = cg_data(w)[0];
    cg_module_free(lin); /* the module goes first: the optimizer still holds w */
    ck_assert_int_eq(cg_optim_step(opt), 0);
    ck_assert_float_eq(cg_data(w)[0], before - 1.0f);
    cg_optim_free(opt);
}
END_TEST

/* ---- frames ---------------------------------------------------------------------------- */

START_TEST(a_gradient_lives_in_its_tensors_frame)
{
    cg_frame_begin();
    cg_tensor *x = leaf(cg_tensor_from((float[]){1, 2}, CG_SHAPE(2)));
    cg_frame_begin(); /* backward in an inner frame */
    ck_assert_int_eq(cg_backward(cg_sum(cg_mul(x, x))), 0);
    cg_frame_end();
    cg_frame_begin(); /* the inner frame's memory is reused here */
    cg_tensor *junk = cg_full(CG_SHAPE(64), 99);
    ck_assert_ptr_nonnull(junk);
    cg_tensor *g = cg_grad(x);
    ck_assert_ptr_nonnull(g);
    ck_assert_float_eq(cg_data(g)[0], 2.0f);
    ck_assert_float_eq(cg_data(g)[1], 4.0f);
    ck_assert_int_eq(cg_backward(cg_sum(x)), 0); /* accumulates into the same, live buffer */
    ck_assert_float_eq(cg_data(cg_grad(x))[1], 5.0f);
    cg_frame_end();
    cg_frame_end();
}
END_TEST

START_TEST(a_tensor_read_after_its_frame_ended_is_refused)
{
    cg_frame_begin();
    cg_tensor *loss = cg_scalar(1.5f);
    ck_assert_float_eq(cg_item(loss), 1.5f);
    cg_frame_end();
    ck_assert(isnan(cg_item(loss)));
    ck_assert_error_has("frame has ended");
    ck_assert_ptr_null(cg_data(loss));
    /* the same place reused by the next frame's tensor: that one is live */
    cg_frame_begin();
    cg_tensor *again = cg_scalar(2.5f);
    ck_assert_float_eq(cg_item(again), 2.5f);
    cg_frame_end();
    /* heap tensors are not affected by frames */
    cg_tensor *kept = cg_scalar(3);
    cg_frame_begin();
    cg_frame_end();
    ck_assert_float_eq(cg_item(kept), 3.0f);
    cg_tensor_free(kept);
}
END_TEST

/* ---- threads ----------------------------------------------------------------------------- */

typedef struct {
    const float *want; /* the single-thread product */
    int wrong;         /* products that differed */
} product_job;

static cg_tensor *seeded(int64_t r, int64_t c, float k)
{
    cg_tensor *t = cg_empty(CG_SHAPE(r, c));
    for (int64_t i = 0; i < r * c; i++)
        cg_data(t)[i] = (float)((i * 7919) % 113) / 113.0f - 0.5f + k;
    return t;
}

static void *products(void *arg)
{
    product_job *job = arg;
    for (int round = 0; round < 40; round++) {
        cg_frame_begin();
        cg_tensor *c = cg_matmul(seeded(32, 256, 0), seeded(256, 512, 0.25f));
        if (!c || memcmp(cg_data(c), job->want, sizeof(float) * 32 * 512) != 0)
            job->wrong++;
        cg_frame_end();
    }
    cg_frame_release_memory();
    return NULL;
}

START_TEST(two_calling_threads_share_the_pool_safely)
{
    if (!fx_threads_run())
        return;
    ck_assert_int_eq(cg_set_num_threads(1), 0);
    cg_tensor *a = seeded(32, 256, 0), *b = seeded(256, 512, 0.25f);
    cg_tensor *want = cg_matmul(a, b);
    cg_tensor_free(a);
    cg_tensor_free(b);
    ck_assert_int_eq(cg_set_num_threads(2), 0);
    product_job jobs[3] = {{cg_data(want), 0}, {cg_data(want), 0}, {cg_data(want), 0}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, products, &jobs[i]), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(jobs[i].wrong, 0);
    ck_assert_int_eq(cg_set_num_threads(1), 0);
    cg_tensor_free(want);
}
END_TEST

START_TEST(the_programs_thread_count_wins_over_the_environment)
{
    setenv("CGRAD_THREADS", "2", 1);
    ck_assert_int_eq(cg_set_num_threads(1), 0);
    ck_assert_int_eq(cg_get_num_threads(), 1);
    ck_assert_int_lt(cg_set_num_threads(0), 0);
    ck_assert_error_has("cg_set_num_threads");
    ck_assert_int_eq(cg_get_num_threads(), 1);
    unsetenv("CGRAD_THREADS");
}
END_TEST

/* ---- errors and options ------------------------------------------------------------------- */

START_TEST(an_error_message_belongs_to_the_latest_failure)
{
    cg_frame_begin();
    cg_tensor *a = cg_ones(CG_SHAPE(3, 4)), *b = cg_ones(CG_SHAPE(5, 2));
    /* a chain keeps the first failure */
    ck_assert_ptr_null(cg_relu(cg_matmul(a, b)));
    ck_assert_error_has("cg_matmul: shapes (3, 4) and (5, 2) do not match");
    /* once handled (read), or after a call that worked, a NULL is news */
    ck_assert_ptr_null(cg_relu(NULL));
    ck_assert_error_has("cg_relu: input is NULL");
    ck_assert_ptr_null(cg_matmul(a, b));
    ck_assert_ptr_nonnull(cg_add(a, a));
    ck_assert_ptr_null(cg_tanh(NULL));
    ck_assert_error_has("cg_tanh: input is NULL");
    cg_frame_end();
}
END_TEST

START_TEST(an_error_names_the_function_the_user_called)
{
    cg_frame_begin();
    cg_tensor *logits = cg_zeros(CG_SHAPE(2, 3));
    ck_assert_ptr_null(cg_cross_entropy(logits, cg_tensor_from((float[]){0, -1}, CG_SHAPE(2))));
    ck_assert_error_has("cg_cross_entropy: target class -1");
    ck_assert_error_has(".ignore_index = -1");
    ck_assert_ptr_nonnull(cg_cross_entropy_ex(logits, cg_tensor_from((float[]){0, -1}, CG_SHAPE(2)),
                                              .ignore_index = -1));
    ck_assert_ptr_null(cg_embedding(cg_zeros(CG_SHAPE(4, 2)), cg_tensor_from((float[]){7}, CG_SHAPE(1))));
    ck_assert_error_has("cg_embedding: index 7");
    ck_assert_ptr_null(cg_view(logits, CG_SHAPE(4)));
    ck_assert_error_has("cg_view: shape (4,) is invalid");
    ck_assert_ptr_null(cg_mse_loss(logits, cg_zeros(CG_SHAPE(4))));
    ck_assert_error_has("cg_mse_loss: shapes (2, 3) and (4,) do not broadcast");
    cg_module *lin = cg_linear_new(.in_features = 4, .out_features = 2);
    ck_assert_ptr_null(cg_linear_forward(lin, logits));
    ck_assert_error_has("cg_linear_forward: input of shape (2, 3)");
    cg_module_free(lin);
    ck_assert_ptr_null(cg_module_forward(NULL, NULL));
    cg_module *seq = cg_sequential_new(NULL, 0);
    ck_assert_ptr_null(cg_module_forward(seq, NULL));
    ck_assert_error_has("cg_module_forward: input is NULL");
    cg_tensor *same = cg_module_forward(seq, logits); /* torch: an empty Sequential returns its input */
    ck_assert(cg_same_shape(same, logits));
    cg_module_free(seq);
    cg_frame_end();
}
END_TEST

START_TEST(options_built_by_hand_are_honoured_or_refused)
{
    cg_tensor *w = leaf(cg_ones(CG_SHAPE(2)));
    /* fields set without .given: refused, never silently ignored */
    ck_assert_ptr_null(cg_adam_new_with(&w, 1, (cg_adam_opts){.lr = 0.5}));
    ck_assert_error_has(".lr");
    ck_assert_ptr_null(cg_linear_new_with((cg_linear_opts){.in_features = 4, .out_features = 3}));
    ck_assert_error_has("CG_OPTS");
    /* the macro outside a call */
    cg_adam_opts o = CG_OPTS(cg_adam_opts, .lr = 0.5);
    cg_optim *opt = cg_adam_new_with(&w, 1, o);
    ck_assert_ptr_nonnull(opt);
    ck_assert_double_eq(cg_optim_lr(opt), 0.5);
    cg_optim_free(opt);
    /* every field as written */
    cg_linear_opts lo = {.given = CG_ALL_OPTIONS, .in_features = 4, .out_features = 3, .bias = false};
    cg_module *lin = cg_linear_new_with(lo);
    ck_assert_ptr_nonnull(lin);
    ck_assert_ptr_null(cg_param(lin, "bias"));
    ck_assert_int_eq(cg_numel(cg_param(lin, "weight")), 12);
    cg_module_free(lin);
    /* {0}: all defaults */
    opt = cg_adam_new_with(&w, 1, (cg_adam_opts){0});
    ck_assert_double_eq(cg_optim_lr(opt), 1e-3);
    cg_optim_free(opt);
    cg_tensor_free(w);
}
END_TEST

/* ---- files --------------------------------------------------------------------------------- */

/* Writes a safetensors file by hand: the 8-byte length, header text, then data bytes. */
static const char *write_raw(const char *header, size_t data_bytes)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/cgrad_trust_%d.safetensors", (int)getpid());
    FILE *f = fopen(path, "wb");
    uint64_t n = strlen(header);
    for (int i = 0; i < 8; i++)
        fputc((int)((n >> (8 * i)) & 0xff), f);
    fputs(header, f);
    for (size_t i = 0; i < data_bytes; i++)
        fputc(0, f);
    fclose(f);
    return path;
}

static bool opens(const char *header, size_t data_bytes)
{
    cg_safetensors *f = cg_safetensors_open(write_raw(header, data_bytes));
    cg_safetensors_close(f);
    return f != NULL;
}

START_TEST(safetensors_headers_are_read_strictly)
{
    const char *good = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    ck_assert(opens(good, 8));
    ck_assert(opens("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}    ", 8)); /* padding */
    ck_assert(!opens("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}xy", 8));
    ck_assert_error_has("strict JSON object");
    ck_assert(!opens("{'a':{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8));
    ck_assert(!opens("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],}}", 8));
    ck_assert(!opens("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12));
    ck_assert_error_has("gap");
    ck_assert(!opens(good, 12));
    ck_assert_error_has("after the last entry");
    ck_assert(!opens("{\"__metadata__\":{\"k\":3}}", 0));
    ck_assert_error_has("not a string");
    ck_assert(opens("{\"__metadata__\":{\"k\":\"v\"}}", 0));
}
END_TEST

START_TEST(saving_under_a_reserved_name_is_refused)
{
    cg_tensor *t = cg_ones(CG_SHAPE(2));
    const char *names[] = {"__metadata__"};
    char path[64];
    snprintf(path, sizeof path, "/tmp/cgrad_trust_r%d.safetensors", (int)getpid());
    ck_assert_int_lt(cg_safetensors_save(path, 1, names, &t, 0, NULL, NULL), 0);
    ck_assert_error_has("reserved");
    cg_tensor_free(t);
}
END_TEST

/* CRC-32C bit by bit: an implementation independent of the library's. */
static uint32_t crc32c_bitwise(const unsigned char *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (crc & 1 ? 0x82f63b78u : 0);
    }
    return ~crc;
}

START_TEST(a_damaged_file_is_refused)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/cgrad_trust_d%d.safetensors", (int)getpid());
    cg_tensor *t = cg_arange(0, 64, 1);
    const char *names[] = {"t"};
    ck_assert_int_eq(cg_safetensors_save(path, 1, names, &t, 0, NULL, NULL), 0);
    cg_safetensors *f = cg_safetensors_open(path);
    ck_assert_ptr_nonnull(f);
    /* CRC-32C of every byte of the file with its own eight digits read as zeros, as an
     * independent implementation computes it */
    const char *says = cg_safetensors_metadata(f, "cgrad.crc32c");
    ck_assert_int_eq(strncmp(says, "file:", 5), 0);
    char said[16];
    snprintf(said, sizeof said, "%s", says + 5);
    cg_safetensors_close(f);
    FILE *in = fopen(path, "rb");
    unsigned char bytes[1024];
    size_t size = fread(bytes, 1, sizeof bytes, in);
    fclose(in);
    char *digits = NULL;
    for (size_t i = 0; i + 5 < size && !digits; i++)
        if (!memcmp(bytes + i, "file:", 5))
            digits = (char *)bytes + i + 5;
    ck_assert_ptr_nonnull(digits);
    memcpy(digits, "00000000", 8);
    char want[16];
    snprintf(want, sizeof want, "%08x", crc32c_bitwise(bytes, size));
    ck_assert_str_eq(said, want);
    /* one flipped bit in the data */
    FILE *fp = fopen(path, "r+b");
    fseek(fp, -5, SEEK_END);
    int c = fgetc(fp);
    fseek(fp, -5, SEEK_END);
    fputc(c ^ 0x10, fp);
    fclose(fp);
    ck_assert_ptr_null(cg_safetensors_open(path));
    ck_assert_error_has("damaged");
    const char *keys[] = {"cgrad.crc32c"}, *vals[] = {"0"};
    ck_assert_int_lt(cg_safetensors_save(path, 1, names, &t, 1, keys, vals), 0);
    cg_tensor_free(t);
}
END_TEST

/* ---- anomaly mode ---------------------------------------------------------------------------- */

START_TEST(anomaly_mode_names_the_op_that_made_a_nan)
{
    cg_frame_begin();
    cg_tensor *x = leaf(cg_tensor_from((float[]){1, -1}, CG_SHAPE(2)));
    ck_assert_ptr_nonnull(cg_log(x)); /* off: nan flows on, as in torch */
    cg_set_detect_anomaly(true);
    ck_assert(cg_is_anomaly_enabled());
    cg_set_step(3);
    ck_assert_ptr_null(cg_log(x));
    ck_assert_error_has("cg_log: anomaly detected");
    ck_assert_error_has("LogBackward0");
    ck_assert_error_has("time step 3");
    /* backward: sqrt(0) is fine, its gradient is not */
    cg_tensor *z = leaf(cg_zeros(CG_SHAPE(2)));
    cg_set_step(7);
    cg_tensor *r = cg_sum(cg_sqrt(z));
    ck_assert_ptr_nonnull(r);
    ck_assert_int_lt(cg_backward(r), 0);
    ck_assert_error_has("SqrtBackward0 returned inf");
    ck_assert_error_has("cg_sqrt, at time step 7");
    /* a backward stopped by an anomaly leaves no intermediate gradient stale: u
     * lies behind sqrt, so the stopped pass gave it nothing, and it reads zero */
    cg_set_detect_anomaly(false);
    cg_tensor *u = cg_mul_scalar(leaf(cg_ones(CG_SHAPE(2))), 3);
    cg_tensor *r2 = cg_sum(cg_sqrt(cg_mul(z, u))); /* u's gradient: 0 · inf = nan, at first */
    ck_assert_int_eq(cg_backward_ex(r2, .retain_graph = true), 0);
    cg_set_detect_anomaly(true);
    ck_assert_int_lt(cg_backward(r2), 0);
    ck_assert_float_eq(cg_data(cg_grad(u))[0], 0);
    ck_assert_float_eq(cg_data(cg_grad(u))[1], 0);
    /* fused ops check what they write too: inf - inf is NaN */
    cg_tensor *w = cg_tensor_from((float[]){1e30f, -1e30f, 1e30f, -1e30f}, CG_SHAPE(2, 2));
    cg_tensor *in = cg_full(CG_SHAPE(1, 2), 1e30f);
    ck_assert_ptr_null(cg_linear(in, w, NULL));
    ck_assert_error_has("cg_linear: anomaly detected");
    /* an infinite value is no anomaly, as in torch: a -inf mask through softmax */
    cg_tensor *scores = leaf(cg_randn(CG_SHAPE(3, 3)));
    cg_tensor *masked = cg_masked_fill(scores, cg_triu(cg_ones(CG_SHAPE(3, 3)), 1), -INFINITY);
    ck_assert_ptr_nonnull(masked);
    cg_tensor *attn = cg_softmax(masked, -1);
    ck_assert_ptr_nonnull(attn);
    ck_assert_int_eq(cg_backward(cg_sum(cg_mul(attn, cg_randn(CG_SHAPE(3, 3))))), 0);
    /* and inf in a forward result still passes where a NaN does not */
    ck_assert_ptr_nonnull(cg_exp(cg_full(CG_SHAPE(2), 1000)));
    cg_set_detect_anomaly(false);
    cg_set_step(-1);
    ck_assert_ptr_nonnull(cg_linear(in, w, NULL));
    cg_frame_end();
}
END_TEST

/* ---- dist without a launcher: one process of one ------------------------------------------ */

START_TEST(dist_calls_act_for_one_process)
{
    ck_assert(!cg_dist_launched() || cg_dist_size() >= 1);
    ck_assert_int_eq(cg_dist_rank(), 0);
    ck_assert_int_eq(cg_dist_size(), 1);
    cg_tensor *w = leaf(cg_tensor_from((float[]){1, 2}, CG_SHAPE(2)));
    ck_assert_int_lt(cg_dist_allreduce_grads(&w, 1), 0); /* no .grad yet */
    ck_assert_error_has("has no .grad");
    cg_frame_begin();
    cg_backward(cg_sum(cg_mul(w, w)));
    cg_frame_end();
    ck_assert_int_eq(cg_dist_allreduce_grads(&w, 1), 0); /* the mean of one */
    ck_assert_float_eq(cg_data(cg_grad(w))[1], 4.0f);
    ck_assert_int_eq(cg_dist_broadcast_params(&w, 1), 0);
    ck_assert_float_eq(cg_data(w)[1], 2.0f);
    ck_assert_double_eq(cg_dist_allreduce_sum(2.5), 2.5);
    cg_tensor *all = cg_zeros(CG_SHAPE(1, 2));
    ck_assert_int_eq(cg_dist_gather(w, all), 0);
    ck_assert_float_eq(cg_data(all)[1], 2.0f);
    ck_assert_int_lt(cg_dist_gather(w, NULL), 0);
    ck_assert_int_eq(cg_dist_barrier(), 0);
    cg_tensor_free(all);
    cg_tensor_free(w);
}
END_TEST

/* ---- the modules a small Transformer needs ------------------------------------------------- */

START_TEST(layer_norm_gelu_and_identity_modules)
{
    char buf[128];
    cg_module *ln = cg_layer_norm_new(.normalized_shape = 4), *g = cg_gelu_new(), *gt = cg_gelu_new(.tanh = true);
    cg_module *id = cg_identity_new();
    cg_module_str(ln, buf, sizeof buf); /* as print(nn.LayerNorm(4)) */
    ck_assert_str_eq(buf, "LayerNorm((4,), eps=1e-05, elementwise_affine=True)");
    cg_module_str(g, buf, sizeof buf);
    ck_assert_str_eq(buf, "GELU(approximate='none')");
    cg_module_str(gt, buf, sizeof buf);
    ck_assert_str_eq(buf, "GELU(approximate='tanh')");
    cg_module_str(id, buf, sizeof buf);
    ck_assert_str_eq(buf, "Identity()");
    ck_assert_str_eq(cg_param_name(ln, 0), "weight");
    ck_assert_float_eq(cg_data(cg_param(ln, "weight"))[3], 1.0f);
    ck_assert_float_eq(cg_data(cg_param(ln, "bias"))[3], 0.0f);
    ck_assert_ptr_null(cg_layer_norm_new());
    cg_frame_begin();
    cg_tensor *x = cg_tensor_from((float[]){1, 2, 3, 4, -2, 0, 2, 4}, CG_SHAPE(2, 4));
    cg_tensor *y = cg_module_forward(ln, x);
    for (int r = 0; r < 2; r++) { /* each row: mean 0, variance 1 (eps aside) */
        double m = 0, v = 0;
        for (int k = 0; k < 4; k++)
            m += cg_data(y)[r * 4 + k] / 4.0;
        for (int k = 0; k < 4; k++)
            v += (cg_data(y)[r * 4 + k] - m) * (cg_data(y)[r * 4 + k] - m) / 4.0;
        ck_assert(fabs(m) < 1e-6 && fabs(v - 1) < 1e-4);
    }
    ck_assert_float_eq(cg_data(cg_module_forward(g, x))[2], cg_data(cg_gelu(x))[2]);
    ck_assert_float_eq(cg_data(cg_module_forward(gt, x))[2], cg_data(cg_gelu_tanh(x))[2]);
    ck_assert_float_eq(cg_data(cg_module_forward(id, x))[5], 0.0f);
    ck_assert_int_eq(cg_backward(cg_sum(cg_mul(cg_module_forward(ln, x), x))), 0);
    ck_assert_ptr_nonnull(cg_grad(cg_param(ln, "weight")));
    cg_frame_end();
    cg_module_free(ln), cg_module_free(g), cg_module_free(gt), cg_module_free(id);
}
END_TEST

START_TEST(attention_refuses_what_does_not_fit)
{
    cg_frame_begin();
    cg_tensor *q = cg_randn(CG_SHAPE(2, 4, 8)), *k = cg_randn(CG_SHAPE(2, 5, 8)), *v = cg_randn(CG_SHAPE(2, 5, 3));
    ck_assert_ptr_null(cg_scaled_dot_product_attention(NULL, k, v));
    ck_assert_ptr_null(cg_scaled_dot_product_attention(q, cg_randn(CG_SHAPE(2, 5, 7)), v));
    ck_assert_error_has("do not fit");
    ck_assert_ptr_null(cg_scaled_dot_product_attention_ex(q, k, v, .attn_mask = cg_zeros(CG_SHAPE(5, 4))));
    ck_assert_ptr_null(cg_scaled_dot_product_attention_ex(q, k, v, .dropout_p = 1.5f));
    cg_tensor *o = cg_scaled_dot_product_attention(q, k, v);
    ck_assert_int_eq(cg_shape(o)[2], 3);
    /* causal over a square: the first query sees only the first key, so its output is v's first row */
    cg_tensor *sq = cg_scaled_dot_product_attention_ex(q, q, q, .is_causal = true);
    ck_assert_float_eq_tol(cg_data(sq)[0], cg_data(q)[0], 1e-6f);
    cg_manual_seed(1); /* dropout draws: some weights zeroed, the rest scaled */
    cg_tensor *d = cg_scaled_dot_product_attention_ex(q, k, v, .dropout_p = 0.5f);
    ck_assert_ptr_nonnull(d);
    cg_frame_end();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("trust");
    TCase *t = tcase_create("trust");
    tcase_add_test(t, matmul_with_an_empty_inner_dim_is_zeros);
    tcase_add_test(t, linear_with_no_inputs_goes_backward);
    tcase_add_test(t, index_select_of_a_scalar_takes_one_index);
    tcase_add_test(t, reshape_to_an_overflowing_shape_is_refused);
    tcase_add_test(t, writing_a_saved_input_makes_backward_refuse);
    tcase_add_test(t, writing_a_tanh_output_through_a_detached_view_is_caught);
    tcase_add_test(t, writing_what_no_backward_reads_is_allowed);
    tcase_add_test(t, an_optimizer_step_counts_as_a_write);
    tcase_add_test(t, a_gradient_lives_in_its_tensors_frame);
    tcase_add_test(t, a_tensor_read_after_its_frame_ended_is_refused);
    tcase_add_test(t, two_calling_threads_share_the_pool_safely);
    tcase_add_test(t, the_programs_thread_count_wins_over_the_environment);
    tcase_add_test(t, an_error_message_belongs_to_the_latest_failure);
    tcase_add_test(t, an_error_names_the_function_the_user_called);
    tcase_add_test(t, options_built_by_hand_are_honoured_or_refused);
    tcase_add_test(t, safetensors_headers_are_read_strictly);
    tcase_add_test(t, saving_under_a_reserved_name_is_refused);
    tcase_add_test(t, anomaly_mode_names_the_op_that_made_a_nan);
    tcase_add_test(t, a_damaged_file_is_refused);
    tcase_add_test(t, empty_tensors_with_huge_dims_cost_nothing);
    tcase_add_test(t, an_optimizer_keeps_its_parameters_alive);
    tcase_add_test(t, nan_prints_as_torch_prints_it);
    tcase_add_test(t, dropout_of_an_empty_tensor_outside_frames);
    tcase_add_test(t, dist_calls_act_for_one_process);
    tcase_add_test(t, layer_norm_gelu_and_identity_modules);
    tcase_add_test(t, attention_refuses_what_does_not_fit);
    suite_add_tcase(s, t);
    return fx_run(s);
}
