/* cgrad tests — tensor/: creation, views, frames, the generator, printing, errors. */
#include "fixture.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static fixture *rnd, *prn, *smp;

/* the thread pool's internals (tensor/kernels.h), for its own test */
void cg__parallel_for(int64_t ntasks, void (*fn)(void *ctx, int64_t task), void *ctx);
bool cg__background_start(void (*fn)(void *ctx, int64_t task), void *ctx);
void cg__background_wait(void);

START_TEST(creation_fills_as_asked)
{
    cg_frame_begin();
    cg_tensor *z = cg_zeros(CG_SHAPE(2, 3)), *o = cg_ones(CG_SHAPE(4)), *f = cg_full(CG_SHAPE(2, 2), 7.5f);
    ck_assert_int_eq(cg_numel(z), 6);
    ck_assert_int_eq(cg_ndim(z), 2);
    ck_assert_int_eq(cg_shape(z)[1], 3);
    ck_assert_int_eq(cg_size(z, -1), 3);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(cg_data(z)[i], 0);
    ck_assert_float_eq(cg_data(o)[3], 1);
    ck_assert_float_eq(cg_data(f)[3], 7.5f);
    cg_tensor *s = cg_scalar(2.5f);
    ck_assert_int_eq(cg_ndim(s), 0);
    ck_assert_float_eq(cg_item(s), 2.5f);
    cg_tensor *a = cg_arange(0, 1, 0.25);
    ck_assert_int_eq(cg_numel(a), 4);
    ck_assert_float_eq(cg_data(a)[3], 0.75f);
    cg_tensor *e = cg_eye(2, 3);
    ck_assert_tensor_close(e, cg_tensor_from((float[]){1, 0, 0, 0, 1, 0}, CG_SHAPE(2, 3)), 0, 0);
    float src[3] = {1, 2, 3};
    cg_tensor *c = cg_tensor_from(src, CG_SHAPE(3));
    src[0] = 9; /* copied, not borrowed */
    ck_assert_float_eq(cg_data(c)[0], 1);
    cg_tensor *cp = cg_tensor_copy(c);
    ck_assert_tensor_close(cp, c, 0, 0);
    ck_assert_int_eq(cg_fill_(cp, 4), 0);
    ck_assert_float_eq(cg_data(cp)[2], 4);
    ck_assert_int_eq(cg_copy_(cp, c), 0);
    ck_assert_float_eq(cg_data(cp)[2], 3);
    ck_assert_int_eq(cg_numel(cg_zeros(CG_SHAPE(0, 5))), 0);
    cg_frame_end();
}
END_TEST

START_TEST(bad_creation_fails_cleanly)
{
    cg_clear_error();
    ck_assert_ptr_null(cg_tensor_from(NULL, CG_SHAPE(2)));
    ck_assert_str_eq(cg_last_error(), "cg_tensor_from: data is NULL");
    ck_assert_ptr_null(cg_zeros(CG_SHAPE(2, -1)));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "negative size in shape (2, -1)"));
    ck_assert_ptr_null(cg_zeros(CG_SHAPE(INT64_C(1) << 40, INT64_C(1) << 40)));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "too large"));
    /* a negative size is named even after sizes whose product is too large */
    ck_assert_ptr_null(cg_zeros(CG_SHAPE(INT64_C(1) << 40, INT64_C(1) << 40, -3)));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "negative size in shape"));
    ck_assert_ptr_null(cg_zeros(CG_SHAPE(0, INT64_C(1) << 40, INT64_C(1) << 40))); /* empty, still too large */
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "too large"));
    cg_tensor *empty = cg_zeros(CG_SHAPE(0, 5, 0));
    ck_assert_ptr_nonnull(empty);
    ck_assert_int_eq(cg_numel(empty), 0);
    cg_tensor_free(empty);
    ck_assert_ptr_null(cg_zeros(9, (const int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}));
    ck_assert_ptr_null(cg_zeros(2, NULL));
    ck_assert_ptr_null(cg_arange(0, 1, 0));
    ck_assert_ptr_null(cg_arange(0, 1, -1));
    ck_assert_ptr_null(cg_uniform(CG_SHAPE(2), 1, 0));
    ck_assert_ptr_null(cg_normal(CG_SHAPE(2), 0, -1));
    ck_assert(isnan(cg_item(NULL)));
    cg_tensor *t = cg_ones(CG_SHAPE(2));
    ck_assert(isnan(cg_item(t)));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "has 2 elements, not 1"));
    ck_assert_int_eq(cg_size(t, 1), -1);
    cg_frame_begin();
    ck_assert_int_eq(cg_copy_(t, cg_ones(CG_SHAPE(3))), -1);
    cg_frame_end();
    ck_assert_int_eq(cg_ndim(NULL), -1);
    ck_assert_ptr_null(cg_shape(NULL));
    ck_assert_ptr_null(cg_data(NULL));
    ck_assert_int_eq(cg_tensor_str(NULL, NULL, 0), -1);
    ck_assert_int_eq(cg_rng_set_state(NULL, 0), -1);
    cg_tensor_free(NULL);
    cg_tensor_free(t);
    /* sizes come from what this machine's size_t can count: on 32 bits 2^30 floats (4 GiB)
     * would wrap the byte count into a small allocation; refused instead */
    if (sizeof(size_t) == 4) { /* (on 64 bits this is a real 4 GiB tensor) */
        cg_clear_error();
        ck_assert_ptr_null(cg_empty(CG_SHAPE(INT64_C(1) << 15, INT64_C(1) << 15)));
        ck_assert_ptr_nonnull(strstr(cg_last_error(), "too large"));
    }
    ck_assert_ptr_null(cg_empty(CG_SHAPE(INT64_C(1) << 21, INT64_C(1) << 20))); /* 2^41: too large anywhere */
}
END_TEST

/* torch's copy_: the source broadcasts to the destination's shape, or is refused
 * (the same number of elements in another shape is not enough). */
START_TEST(copy_broadcasts_as_torch_does)
{
    cg_frame_begin();
    cg_tensor *d = cg_zeros(CG_SHAPE(2, 3));
    ck_assert_int_eq(cg_copy_(d, cg_tensor_from((float[]){1, 2, 3}, CG_SHAPE(3))), 0);
    float rows[6] = {1, 2, 3, 1, 2, 3};
    ck_assert_mem_eq(cg_data(d), rows, sizeof rows);
    ck_assert_int_eq(cg_copy_(d, cg_tensor_from((float[]){7, 8}, CG_SHAPE(2, 1))), 0);
    float cols[6] = {7, 7, 7, 8, 8, 8};
    ck_assert_mem_eq(cg_data(d), cols, sizeof cols);
    ck_assert_int_eq(cg_copy_(d, cg_scalar(5)), 0);
    ck_assert_float_eq(cg_data(d)[4], 5);
    ck_assert_int_eq(cg_version(d), 3);
    /* refused, d untouched and its version too */
    ck_assert_int_eq(cg_copy_(d, cg_ones(CG_SHAPE(6))), -1);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_copy_: the source's shape (6,) does not broadcast to the destination's (2, 3)"));
    ck_assert_int_eq(cg_copy_(d, cg_ones(CG_SHAPE(3, 2))), -1);
    ck_assert_int_eq(cg_copy_(d, cg_ones(CG_SHAPE(1, 2, 3))), -1); /* torch: more dims than dst */
    ck_assert_int_eq(cg_copy_(cg_ones(CG_SHAPE(3)), cg_ones(CG_SHAPE(1, 3))), -1);
    ck_assert_float_eq(cg_data(d)[0], 5);
    ck_assert_int_eq(cg_version(d), 3);
    /* empty destinations take any source that broadcasts; 0-d from 0-d */
    ck_assert_int_eq(cg_copy_(cg_zeros(CG_SHAPE(0, 3)), cg_ones(CG_SHAPE(3))), 0);
    ck_assert_int_eq(cg_copy_(cg_zeros(CG_SHAPE(0, 3)), cg_ones(CG_SHAPE(1))), 0);
    ck_assert_int_eq(cg_copy_(cg_zeros(CG_SHAPE(0)), cg_ones(CG_SHAPE(2))), -1);
    cg_tensor *s = cg_scalar(1);
    ck_assert_int_eq(cg_copy_(s, cg_scalar(4)), 0);
    ck_assert_float_eq(cg_item(s), 4);
    /* sources sharing memory with the destination: refused as torch refuses them,
     * unless they are the very same elements */
    cg_tensor *m = cg_tensor_from((float[]){1, 2, 3, 4, 5, 6}, CG_SHAPE(2, 3));
    ck_assert_int_eq(cg_copy_(m, cg_select(m, 0, 1)), -1);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "same memory"));
    cg_tensor *flat = cg_reshape(m, CG_SHAPE(6));
    ck_assert_int_eq(cg_copy_(cg_slice(flat, 0, 0, 4), cg_slice(flat, 0, 2, 6)), -1);
    ck_assert_int_eq(cg_copy_(cg_slice(flat, 0, 0, 2), cg_slice(flat, 0, 4, 6)), 0);
    ck_assert_int_eq(cg_copy_(m, cg_reshape(flat, CG_SHAPE(2, 3))), 0); /* the same elements */
    float moved[6] = {5, 6, 3, 4, 5, 6};
    ck_assert_mem_eq(cg_data(m), moved, sizeof moved);
    cg_frame_end();
}
END_TEST

START_TEST(views_share_values_and_keep_their_base_alive)
{
    cg_tensor *t = cg_arange(0, 12, 1); /* outside frames: freed by hand */
    cg_tensor *v = cg_reshape(t, CG_SHAPE(3, 4));
    cg_tensor *row = cg_select(v, 0, 1);
    cg_tensor *rows = cg_narrow(v, 0, 1, 2);
    ck_assert_ptr_eq(cg_data(v), cg_data(t));
    ck_assert_ptr_eq(cg_data(row), cg_data(t) + 4);
    ck_assert_ptr_eq(cg_data(rows), cg_data(t) + 4);
    ck_assert_int_eq(cg_numel(rows), 8);
    cg_tensor_free(t); /* the views still hold the values */
    ck_assert_float_eq(cg_data(row)[3], 7);
    cg_tensor *col = cg_select(v, 1, 2); /* not along the first dim: a copy */
    ck_assert_float_eq(cg_data(col)[2], 10);
    cg_tensor_free(col);
    cg_tensor_free(rows);
    cg_tensor_free(row);
    cg_tensor_free(v);
}
END_TEST

/* Leaves the stack below the caller full of non-zero bytes (what a select's shape array
 * would find there if it were copied whole). */
static __attribute__((noinline)) void dirty_stack(void)
{
    volatile unsigned char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = 0x5a;
}

/* The library copies whole shape arrays (a gradient's, a result's of an input's shape), so
 * every tensor's sizes past its dims are 0: views made from a part of a shape included. */
static void zeros_past_dims(const cg_tensor *t)
{
    const int64_t *s = cg_shape((cg_tensor *)t);
    for (int d = cg_ndim((cg_tensor *)t); d < CG_MAX_DIMS; d++)
        ck_assert_msg(s[d] == 0, "size %lld past dim %d of a %d-d tensor", (long long)s[d], d, cg_ndim((cg_tensor *)t));
}

START_TEST(shapes_are_zero_past_their_dims)
{
    cg_frame_begin();
    cg_tensor *x = cg_randn(CG_SHAPE(4, 3, 2));
    cg_set_requires_grad(x, true);
    dirty_stack();
    cg_tensor *row = cg_select(x, 0, 1); /* a view along the first dim: a part of x's shape */
    dirty_stack();
    cg_tensor *part = cg_narrow(x, 0, 1, 2);
    dirty_stack();
    cg_tensor *col = cg_select(x, 1, 2);  /* a strided view */
    cg_tensor *y = cg_tanh(row);          /* a result of its input's shape */
    cg_backward(cg_sum(cg_add(cg_sum(y), cg_add(cg_sum(part), cg_sum(col)))));
    cg_tensor *all[] = {row, part, col, y, cg_grad(row), cg_grad(x), cg_detach(row)};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        zeros_past_dims(all[i]);
    cg_frame_end();
}
END_TEST

/* A training-like step repeated in frames asks the system for nothing after the first. */
START_TEST(frames_reuse_memory)
{
    cg_tensor *w = cg_randn(CG_SHAPE(16, 16));
    cg_tensor *x = cg_randn(CG_SHAPE(8, 16));
    cg_set_requires_grad(w, true);
    int64_t after_first = 0;
    for (int step = 0; step < 5; step++) {
        cg_frame_begin();
        ck_assert_int_eq(cg_frame_depth(), 1);
        cg_tensor *h = x;
        for (int l = 0; l < 3; l++)
            h = cg_tanh(cg_matmul(h, w));
        cg_tensor *loss = cg_mean(cg_mul(h, h));
        cg_zero_grad(w);
        ck_assert_int_eq(cg_backward(loss), 0);
        cg_frame_end();
        if (step == 1)
            after_first = cg_system_alloc_count();
        if (step > 1)
            ck_assert_int_eq(cg_system_alloc_count(), after_first);
    }
    ck_assert_int_eq(cg_frame_depth(), 0);
    ck_assert_ptr_nonnull(cg_grad(w)); /* a heap tensor's gradient outlives the frames */
    cg_tensor_free(w);
    cg_tensor_free(x);
}
END_TEST

START_TEST(frames_nest_and_values_can_be_kept)
{
    cg_tensor *keep = cg_zeros(CG_SHAPE(2));
    cg_frame_begin();
    cg_tensor *a = cg_full(CG_SHAPE(2), 3);
    cg_frame_begin();
    cg_tensor *b = cg_add(a, a);
    ck_assert_int_eq(cg_frame_depth(), 2);
    cg_copy_(keep, b);
    cg_frame_end();
    ck_assert_float_eq(cg_data(a)[0], 3); /* the outer frame is untouched */
    cg_frame_end();
    ck_assert_float_eq(cg_data(keep)[1], 6);
    cg_clear_error();
    cg_frame_end(); /* unbalanced: an error, not a crash */
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "no frame is open"));
    cg_tensor_free(keep);
}
END_TEST

/* Frames nested 300 deep (the first few levels' marks are thread-locals, the rest a
 * block of the thread's own; past 256 levels share the 256th): each level's tensor lives
 * exactly as long as its level, and ending them all gives the memory back. */
static void *nest_frames_deep(void *unused)
{
    (void)unused;
    enum { DEEP = 300, MAX = 256 };
    cg_tensor *made[DEEP + 1];
    for (int round = 0; round < 2; round++) {
        int64_t allocs = cg_system_alloc_count();
        for (int level = 1; level <= DEEP; level++) {
            cg_clear_error();
            cg_frame_begin();
            ck_assert_int_eq(cg_frame_depth(), level);
            if (level == MAX + 1)
                ck_assert_error_has("more than 256 nested frames");
            else
                ck_assert_str_eq(cg_last_error(), "");
            made[level] = cg_full(CG_SHAPE(3), (float)level);
            if (level == 100) { /* a frame this deep gives its memory back when it ends */
                int64_t before = 0;
                for (int i = 0; i < 4; i++) {
                    cg_frame_begin();
                    ck_assert_ptr_nonnull(cg_empty(CG_SHAPE(1 << 19))); /* 2 MB: more than a chunk */
                    cg_frame_end();
                    if (i == 1)
                        before = cg_system_alloc_count();
                    if (i > 1)
                        ck_assert_int_eq(cg_system_alloc_count(), before);
                }
            }
        }
        for (int level = DEEP; level >= 1; level--) {
            ck_assert_float_eq(cg_item(cg_sum(made[level])), 3.0f * level); /* alive */
            cg_frame_end();
            if (level <= MAX) { /* its own frame ended: refused, and so is every deeper one */
                ck_assert(isnan(cg_item(made[level])));
                ck_assert(isnan(cg_item(made[level == MAX ? DEEP : level + 1])));
            }
            if (level > 1) /* the outer ones are untouched */
                ck_assert_float_eq(cg_data(made[level - 1])[2], (float)(level - 1));
        }
        ck_assert_int_eq(cg_frame_depth(), 0);
        if (round == 1) /* the second time round the same memory serves */
            ck_assert_int_eq(cg_system_alloc_count(), allocs);
    }
    /* a message made on this thread stays this thread's */
    cg_clear_error();
    ck_assert_ptr_null(cg_tanh(NULL));
    ck_assert_error_has("cg_tanh: input is NULL");
    return NULL;
}

START_TEST(frames_nest_hundreds_deep_on_each_thread)
{
    /* (one after another: the system allocation count is the process's) */
    nest_frames_deep(NULL);
    for (int i = 0; i < (fx_threads_run() ? 2 : 0); i++) {
        pthread_t other;
        pthread_create(&other, NULL, nest_frames_deep, NULL);
        pthread_join(other, NULL);
    }
}
END_TEST

#ifdef CG_DEBUG
START_TEST(debug_builds_catch_a_tensor_whose_frame_ended)
{
    cg_frame_begin();
    cg_tensor *t = cg_ones(CG_SHAPE(4));
    cg_frame_end();
    cg_clear_error();
    ck_assert_ptr_null(cg_tanh(t));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "frame has ended"));
}
END_TEST
#endif

/* ---- the generator: PyTorch's numbers ------------------------------------------------ */

START_TEST(generator_matches_pytorch)
{
    cg_frame_begin();
    cg_manual_seed(0);
    ck_assert_tensor_close(cg_rand(CG_SHAPE(7)), fx_get(rnd, "rand_seed0"), 0, 0);
    cg_manual_seed(42);
    cg_tensor *u = cg_empty(CG_SHAPE(3, 4));
    cg_uniform_(u, -2, 3);
    ck_assert_tensor_close(u, fx_get(rnd, "uniform_seed42"), 0, 0);
    cg_manual_seed(0);
    ck_assert_tensor_close(cg_randn(CG_SHAPE(5)), fx_get(rnd, "randn5_seed0"), 1e-6, 1e-7);
    cg_manual_seed(0);
    ck_assert_tensor_close(cg_randn(CG_SHAPE(37)), fx_get(rnd, "randn37_seed0"), 1e-6, 1e-6);
    cg_manual_seed(3);
    ck_assert_tensor_close(cg_normal(CG_SHAPE(20), 1, 2), fx_get(rnd, "normal_seed3"), 1e-6, 1e-6);
    cg_manual_seed(0);
    cg_tensor *ab[2] = {cg_randn(CG_SHAPE(3)), cg_randn(CG_SHAPE(3))};
    ck_assert_tensor_close(cg_cat(ab, 2, 0), fx_get(rnd, "randn3x2_seed0"), 1e-6, 1e-7);
    /* nn.RNN(4, 2) after manual_seed(0): uniform_(-1/sqrt(2), 1/sqrt(2)) on weight_ih_l0 first */
    cg_manual_seed(0);
    float k = 1.0f / sqrtf(2.0f);
    cg_tensor *w = cg_uniform(CG_SHAPE(2, 4), -k, k);
    ck_assert_tensor_close(w, fx_get(rnd, "rnn_weight_ih_seed0"), 0, 0);
    ck_assert_float_eq(cg_data(w)[0], -0x1.5af244p-8f);
    cg_frame_end();
}
END_TEST

START_TEST(generator_state_round_trips)
{
    uint8_t state[CG_RNG_STATE_SIZE];
    cg_manual_seed(11);
    cg_random_u32();
    ck_assert_int_eq(cg_rng_get_state(state, sizeof state), 0);
    uint32_t a = cg_random_u32(), b = cg_random_u32();
    ck_assert_int_eq(cg_rng_set_state(state, sizeof state), 0);
    ck_assert_uint_eq(cg_random_u32(), a);
    ck_assert_uint_eq(cg_random_u32(), b);
    memset(state, 0xff, sizeof state);
    ck_assert_int_eq(cg_rng_set_state(state, sizeof state), -1);
}
END_TEST

/* ---- printing: what print() shows in PyTorch ------------------------------------------ */

START_TEST(printing_matches_pytorch)
{
    static const char *names[] = {"vec", "ints", "sci", "big", "scalar", "empty", "empty2",
                                  "wrap", "mat3", "summ", "summ2", "nonfinite", "zeros"};
    cg_frame_begin();
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        cg_tensor *t = fx_get(prn, names[i]);
        char buf[8192];
        int n = cg_tensor_str(t, buf, sizeof buf);
        ck_assert_int_eq(n, (int)strlen(buf));
        ck_assert_msg(!strcmp(buf, fx_text(prn, names[i])), "%s:\n%s\nexpected\n%s", names[i], buf,
                      fx_text(prn, names[i]));
    }
    cg_tensor *g = cg_tensor_from((float[]){1, 2}, CG_SHAPE(2));
    char buf[256];
    cg_set_requires_grad(g, true);
    cg_tensor_str(g, buf, sizeof buf);
    ck_assert_str_eq(buf, "tensor([1., 2.], requires_grad=True)");
    cg_tensor_str(cg_mul_scalar(g, 2), buf, sizeof buf);
    ck_assert_str_eq(buf, "tensor([2., 4.], grad_fn=<MulBackward1>)");
    char small[8];
    ck_assert_int_eq(cg_tensor_str(g, small, sizeof small), 36); /* truncated, full length returned */
    ck_assert_str_eq(small, "tensor(");
    cg_shape_str(cg_zeros(CG_SHAPE(3, 5, 2)), buf, sizeof buf);
    ck_assert_str_eq(buf, "(3, 5, 2)");
    cg_frame_end();
}
END_TEST

START_TEST(safetensors_files_round_trip)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/cgrad_tensor_%d.safetensors", (int)getpid());
    cg_frame_begin();
    cg_tensor *t[3] = {cg_arange(0, 6, 1), cg_scalar(2.5f), cg_zeros(CG_SHAPE(2, 0))};
    cg_tensor *r = cg_reshape(t[0], CG_SHAPE(2, 3));
    cg_tensor *ts[3] = {r, t[1], t[2]};
    const char *names[3] = {"a.weight", "scale", "empty"}, *keys[2] = {"vocab", "step"}, *vals[2] = {"hi\"lo\n", "42"};
    ck_assert_int_eq(cg_safetensors_save(path, 3, names, ts, 2, keys, vals), 0);
    cg_safetensors *f = cg_safetensors_open(path);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(cg_safetensors_count(f), 3);
    ck_assert_tensor_close(cg_safetensors_get(f, "a.weight"), r, 0, 0);
    ck_assert_int_eq(cg_ndim(cg_safetensors_get(f, "scale")), 0);
    ck_assert_float_eq(cg_item(cg_safetensors_get(f, "scale")), 2.5f);
    ck_assert_int_eq(cg_numel(cg_safetensors_get(f, "empty")), 0);
    ck_assert_str_eq(cg_safetensors_metadata(f, "vocab"), "hi\"lo\n");
    ck_assert_str_eq(cg_safetensors_metadata(f, "step"), "42");
    ck_assert_ptr_null(cg_safetensors_metadata(f, "none"));
    ck_assert_ptr_null(cg_safetensors_get(f, "nope"));
    int64_t shape[CG_MAX_DIMS];
    ck_assert_int_eq(cg_safetensors_shape(f, "a.weight", shape), 2);
    ck_assert_int_eq(shape[1], 3);
    ck_assert_int_eq(cg_safetensors_read_into(f, "a.weight", cg_zeros(CG_SHAPE(3, 2))), -1);
    cg_safetensors_close(f);
    /* the header is 8-aligned JSON after an 8-byte length */
    FILE *fp = fopen(path, "rb");
    unsigned char head[16];
    ck_assert_int_eq(fread(head, 1, 16, fp), 16);
    fclose(fp);
    ck_assert_int_eq(head[0] % 8, 0);
    ck_assert_int_eq(head[8], '{');
    ck_assert_int_eq(cg_safetensors_save(path, 2, (const char *[]){"x", "x"}, ts, 0, NULL, NULL), -1);
    /* the checksum covers every byte: each bit of the file flipped in turn is refused, or
     * shows as a file without cgrad's checksum (which a reader of its own files refuses) */
    ck_assert_int_eq(cg_safetensors_save(path, 3, names, ts, 2, keys, vals), 0);
    f = cg_safetensors_open(path);
    ck_assert_int_eq(cg_safetensors_checksum(f), 2);
    cg_safetensors_close(f);
    fp = fopen(path, "rb");
    unsigned char whole[4096];
    size_t size = fread(whole, 1, sizeof whole, fp);
    fclose(fp);
    ck_assert(size > 100 && size < sizeof whole);
    char flipped[300];
    snprintf(flipped, sizeof flipped, "%s.flip", path);
    for (size_t at = 0; at < size; at++)
        for (int bit = 0; bit < 8; bit++) {
            whole[at] ^= (unsigned char)(1u << bit);
            fp = fopen(flipped, "wb");
            fwrite(whole, 1, size, fp);
            fclose(fp);
            /* refused, or (the checksum's own key renamed) read as a file without one */
            f = cg_safetensors_open(flipped);
            ck_assert_msg(f == NULL || cg_safetensors_checksum(f) == 0, "byte %zu bit %d flipped: read as sound", at,
                          bit);
            cg_safetensors_close(f);
            whole[at] ^= (unsigned char)(1u << bit);
        }
    remove(flipped);
    /* a file an older cgrad wrote (its checksum over the data alone) is still read */
    static const char legacy[] = "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                 "\"__metadata__\":{\"cgrad.crc32c\":\"dd54c4ab\"}}";
    size_t hl = strlen(legacy);
    unsigned char len8[8] = {(unsigned char)hl}, one[4] = {0, 0, 0x80, 0x3f};
    fp = fopen(path, "wb");
    fwrite(len8, 1, 8, fp), fwrite(legacy, 1, hl, fp), fwrite(one, 1, 4, fp);
    fclose(fp);
    f = cg_safetensors_open(path);
    ck_assert_msg(f != NULL, "%s", cg_last_error());
    ck_assert_int_eq(cg_safetensors_checksum(f), 1);
    ck_assert_float_eq(cg_item(cg_safetensors_get(f, "x")), 1.0f);
    cg_safetensors_close(f);
    ck_assert_int_lt(cg_safetensors_checksum(NULL), 0);
    ck_assert_ptr_null(cg_safetensors_open(NULL));
    ck_assert_ptr_null(cg_safetensors_open("/nonexistent"));
    remove(path);
    cg_frame_end();
}
END_TEST

/* torch's samples for the same seeds, element for element */
START_TEST(sampling_matches_pytorch)
{
    cg_frame_begin();
    cg_manual_seed(0);
    ck_assert_tensor_close(cg_randint(0, 10, CG_SHAPE(8)), fx_get(smp, "randint_small"), 0, 0);
    cg_manual_seed(1);
    ck_assert_tensor_close(cg_randint(3, 1000, CG_SHAPE(2, 5)), fx_get(smp, "randint_wide"), 0, 0);
    cg_manual_seed(0);
    ck_assert_tensor_close(cg_randperm(10), fx_get(smp, "randperm_10"), 0, 0);
    cg_manual_seed(3);
    ck_assert_tensor_close(cg_randperm(100), fx_get(smp, "randperm_100"), 0, 0);
    cg_tensor *p = fx_get(smp, "bernoulli_p");
    cg_manual_seed(4);
    ck_assert_tensor_close(cg_bernoulli(p), fx_get(smp, "bernoulli"), 0, 0);
    cg_tensor *w = fx_get(smp, "multinomial_p"), *w2 = fx_get(smp, "multinomial_p2");
    cg_manual_seed(5);
    ck_assert_tensor_close(cg_multinomial(w, 20, true), fx_get(smp, "multinomial_repl"), 0, 0);
    cg_manual_seed(6);
    ck_assert_tensor_close(cg_multinomial(w, 6, false), fx_get(smp, "multinomial_norepl"), 0, 0);
    cg_manual_seed(7);
    ck_assert_tensor_close(cg_multinomial(w, 1, true), fx_get(smp, "multinomial_one"), 0, 0);
    cg_manual_seed(8);
    ck_assert_tensor_close(cg_multinomial(w2, 4, false), fx_get(smp, "multinomial_rows_norepl"), 0, 0);
    cg_manual_seed(9);
    ck_assert_tensor_close(cg_multinomial(w2, 5, true), fx_get(smp, "multinomial_rows_repl"), 0, 0);
    cg_frame_end();
}
END_TEST

START_TEST(sampling_refuses_what_torch_refuses)
{
    cg_frame_begin();
    ck_assert_ptr_null(cg_randint(5, 5, CG_SHAPE(2)));
    ck_assert_ptr_null(cg_randperm(-1));
    ck_assert_ptr_null(cg_bernoulli(cg_full(CG_SHAPE(2), 1.5f)));
    ck_assert_ptr_null(cg_bernoulli(NULL));
    cg_tensor *w = cg_tensor_from((float[]){0, 1, 0}, CG_SHAPE(3));
    ck_assert_ptr_null(cg_multinomial(w, 2, false)); /* one category with weight: no second without replacement */
    ck_assert(strstr(cg_last_error(), "fewer non-zero") != NULL);
    ck_assert_ptr_nonnull(cg_multinomial(w, 5, true));
    ck_assert_ptr_null(cg_multinomial(cg_zeros(CG_SHAPE(3)), 1, true));
    ck_assert_ptr_null(cg_multinomial(cg_tensor_from((float[]){1, -1}, CG_SHAPE(2)), 1, true));
    ck_assert_ptr_null(cg_multinomial(cg_scalar(1), 1, true));
    ck_assert_int_eq(cg_numel(cg_randperm(0)), 0);
    ck_assert_int_eq(cg_numel(cg_randint(0, 3, CG_SHAPE(0, 4))), 0);
    /* by distribution too: 40,000 draws from (1, 2, 3, 4) land in proportion */
    cg_manual_seed(11);
    cg_tensor *d = cg_multinomial(cg_tensor_from((float[]){1, 2, 3, 4}, CG_SHAPE(4)), 40000, true);
    int count[4] = {0};
    for (int i = 0; i < 40000; i++)
        count[(int)cg_data(d)[i]]++;
    for (int c = 0; c < 4; c++)
        ck_assert_msg(fabs(count[c] / 40000.0 - (c + 1) / 10.0) < 0.01, "category %d: %d", c, count[c]);
    cg_frame_end();
}
END_TEST

/* ---- generators: objects, states, threads ------------------------------------------ */

static bool same_values(cg_tensor *a, cg_tensor *b)
{
    return a && b && cg_numel(a) == cg_numel(b) && !memcmp(cg_data(a), cg_data(b), sizeof(float) * (size_t)cg_numel(a));
}

/* torch.Generator().manual_seed(s) draws what torch.manual_seed(s) makes the default draw,
 * and drawing from it leaves the default generator where it was. */
START_TEST(generator_objects_draw_the_default_sequence)
{
    cg_frame_begin();
    uint8_t before[CG_RNG_STATE_SIZE], after[CG_RNG_STATE_SIZE];
    cg_manual_seed(5);
    cg_tensor *want = cg_randn(CG_SHAPE(37)), *want_u = cg_rand(CG_SHAPE(5)), *want_i = cg_randint(0, 9, CG_SHAPE(4));
    cg_rng_get_state(before, sizeof before);
    cg_generator *g = cg_generator_new(5);
    ck_assert_ptr_nonnull(g);
    ck_assert(same_values(cg_randn_gen(CG_SHAPE(37), g), want));
    ck_assert(same_values(cg_rand_gen(CG_SHAPE(5), g), want_u));
    ck_assert(same_values(cg_randint_gen(0, 9, CG_SHAPE(4), g), want_i));
    cg_rng_get_state(after, sizeof after);
    ck_assert_mem_eq(before, after, sizeof before);
    /* a module's initial weights from a generator: those torch.manual_seed gives */
    cg_generator_manual_seed(g, 11);
    cg_module *mine = cg_linear_new(.in_features = 3, .out_features = 2, .generator = g);
    cg_manual_seed(11);
    cg_module *global = cg_linear_new(.in_features = 3, .out_features = 2);
    ck_assert(same_values(cg_param(mine, "weight"), cg_param(global, "weight")));
    ck_assert(same_values(cg_param(mine, "bias"), cg_param(global, "bias")));
    /* the state round-trips through bytes, and a copy draws the same */
    uint8_t st[CG_RNG_STATE_SIZE];
    ck_assert_int_eq(cg_generator_get_state(g, st, sizeof st), 0);
    cg_tensor *a = cg_randn_gen(CG_SHAPE(3), g); /* odd count: a cached normal in the state */
    ck_assert_int_eq(cg_generator_set_state(g, st, sizeof st), 0);
    ck_assert(same_values(cg_randn_gen(CG_SHAPE(3), g), a));
    ck_assert_ptr_eq(cg_default_generator(), cg_default_generator());
    cg_generator_free(cg_default_generator()); /* ignored */
    cg_generator_free(g);
    cg_module_free(mine), cg_module_free(global);
    cg_frame_end();
}
END_TEST

/* Bytes no generator could hold are refused, and the generator is left as it was. */
START_TEST(generator_states_that_cannot_be_are_refused)
{
    uint8_t st[CG_RNG_STATE_SIZE], bad[CG_RNG_STATE_SIZE];
    cg_manual_seed(3);
    cg_frame_begin();
    cg_randn(CG_SHAPE(1)); /* caches the second normal: flag 1 */
    cg_frame_end();
    cg_rng_get_state(st, sizeof st);
    size_t flag_at = 624 * 4 + sizeof(int), normal_at = flag_at + 4;
    ck_assert_int_eq(st[flag_at], 1);
    memcpy(bad, st, sizeof bad);
    bad[flag_at] = 2;
    ck_assert_int_lt(cg_rng_set_state(bad, sizeof bad), 0);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "flag"));
    memcpy(bad, st, sizeof bad);
    double nan = NAN;
    memcpy(bad + normal_at, &nan, sizeof nan);
    ck_assert_int_lt(cg_rng_set_state(bad, sizeof bad), 0);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cached normal"));
    memcpy(bad, st, sizeof bad);
    int index = 625;
    memcpy(bad + 624 * 4, &index, sizeof index);
    ck_assert_int_lt(cg_rng_set_state(bad, sizeof bad), 0);
    memset(bad, 0, sizeof bad);
    ck_assert_int_lt(cg_generator_set_state(NULL, bad, sizeof bad), 0);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "all zeros"));
    uint8_t now[CG_RNG_STATE_SIZE];
    cg_rng_get_state(now, sizeof now);
    ck_assert_mem_eq(now, st, sizeof st);
}
END_TEST

/* randint's range: no signed overflow, never a value outside [low, high), every value a
 * whole number float32 holds exactly; past 2^24 a refusal that names the limit. */
START_TEST(randint_stays_in_range_and_exact)
{
    cg_frame_begin();
    int64_t lim = INT64_C(1) << 24;
    cg_tensor *t = cg_randint(lim - 3, lim + 1, CG_SHAPE(200));
    ck_assert_ptr_nonnull(t);
    for (int i = 0; i < 200; i++)
        ck_assert(cg_data(t)[i] >= (float)(lim - 3) && cg_data(t)[i] <= (float)lim);
    t = cg_randint(-lim, -lim + 2, CG_SHAPE(50));
    for (int i = 0; i < 50; i++)
        ck_assert(cg_data(t)[i] == (float)-lim || cg_data(t)[i] == (float)(-lim + 1));
    const int64_t refused[][2] = {{(INT64_C(1) << 30) - 4, INT64_C(1) << 30}, {-(INT64_C(1) << 62), INT64_C(1) << 62},
                                  {INT64_MIN, INT64_MAX}, {-5, INT64_C(1) << 33}, {lim, lim + 2}, {-lim - 1, 0},
                                  {3, 3}, {INT64_MAX, INT64_MIN}};
    for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
        ck_assert_ptr_null(cg_randint(refused[k][0], refused[k][1], CG_SHAPE(4)));
        ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_randint"));
    }
    ck_assert_ptr_null(cg_randint(0, INT64_C(1) << 30, CG_SHAPE(1)));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "2^24"));
    cg_frame_end();
}
END_TEST

/* Without replacement all categories of a big row: each exactly once (a sort, not n scans). */
START_TEST(multinomial_without_replacement_draws_each_once)
{
    cg_frame_begin();
    cg_manual_seed(9);
    int64_t C = 30000;
    cg_tensor *p = cg_rand(CG_SHAPE(C));
    cg_tensor *s = cg_multinomial(p, C, false);
    ck_assert_ptr_nonnull(s);
    char *seen = calloc((size_t)C, 1);
    for (int64_t i = 0; i < C; i++) {
        int64_t c = (int64_t)cg_data(s)[i];
        ck_assert(c >= 0 && c < C && !seen[c]);
        seen[c] = 1;
    }
    free(seen);
    cg_frame_end();
}
END_TEST

/* Two threads drawing from one generator together draw the one-thread sequence:
 * each call's draws are one run of it, and the runs of both threads tile it. */
#define DRAW_CALLS 300
#define DRAWS_PER_CALL 7
typedef struct {
    cg_generator *g;
    uint32_t got[DRAW_CALLS][DRAWS_PER_CALL];
} drawer;

static void *draw_calls(void *arg)
{
    drawer *d = arg;
    cg_frame_begin();
    for (int c = 0; c < DRAW_CALLS; c++) {
        /* cg_randint over 2^24 values: one 32-bit draw per element, value = draw mod 2^24 */
        cg_tensor *t = cg_randint_gen(0, INT64_C(1) << 24, CG_SHAPE(DRAWS_PER_CALL), d->g);
        for (int k = 0; k < DRAWS_PER_CALL; k++)
            d->got[c][k] = (uint32_t)cg_data(t)[k];
    }
    cg_frame_end();
    cg_frame_release_memory();
    return NULL;
}

static void check_tiles(cg_generator *g, uint64_t seed)
{
    static drawer a, b;
    a.g = b.g = g;
    pthread_t ta, tb;
    pthread_create(&ta, NULL, draw_calls, &a);
    pthread_create(&tb, NULL, draw_calls, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    cg_generator *ref = cg_generator_new(seed);
    int ia = 0, ib = 0;
    while (ia < DRAW_CALLS || ib < DRAW_CALLS) {
        uint32_t run[DRAWS_PER_CALL];
        for (int k = 0; k < DRAWS_PER_CALL; k++)
            run[k] = cg_generator_random_u32(ref) % (1u << 24);
        if (ia < DRAW_CALLS && !memcmp(run, a.got[ia], sizeof run))
            ia++;
        else if (ib < DRAW_CALLS && !memcmp(run, b.got[ib], sizeof run))
            ib++;
        else
            ck_abort_msg("a run of the sequence drawn by neither thread (after %d + %d calls)", ia, ib);
    }
    cg_generator_free(ref);
}

START_TEST(threads_drawing_together_draw_the_one_sequence)
{
    if (!fx_threads_run())
        return;
    cg_manual_seed(77);
    check_tiles(NULL, 77); /* the default generator */
    cg_generator *g = cg_generator_new(78);
    check_tiles(g, 78);
    cg_generator_free(g);
}
END_TEST

/* The library says the version meson.build gives, the one every program prints with --version. */
/* The pool's jobs back to back, of 2 to 9 tasks, with a background task started and
 * waited for now and then: every task of every job runs once, on its job's context, and
 * task 0 on the caller's thread (a recurrent step's first rows stay on its core). (A
 * worker that came late to a job once read the next job's task count with its old task
 * number; the ticket now carries the job's number.) */
typedef struct {
    int ntasks;
    int runs[16];
    pthread_t caller;
    bool first_elsewhere;
} pool_job;

static void assert_ran_once(const pool_job *j, int i)
{
    for (int t = 0; t < 16; t++)
        ck_assert_msg(j->runs[t] == (t < j->ntasks), "job %d: task %d of %d ran %d times", i, t, j->ntasks, j->runs[t]);
}

static void count_task(void *ctx, int64_t t)
{
    pool_job *j = ctx;
    __atomic_fetch_add(&j->runs[t], 1, __ATOMIC_RELAXED);
    if (t == 0 && !pthread_equal(pthread_self(), j->caller))
        j->first_elsewhere = true;
}

static void slow_task(void *ctx, int64_t t)
{
    (void)t;
    volatile double x = 1;
    for (int i = 0; i < 2000; i++)
        x = x * 1.0000001;
    __atomic_fetch_add((int *)ctx, 1, __ATOMIC_RELAXED);
}

START_TEST(pool_runs_every_task_of_every_job_once)
{
    if (!fx_threads_run())
        return;
    ck_assert_int_eq(cg_set_num_threads(2), 0);
    pool_job jobs[2] = {{0}};
    int background_runs = 0, background_started = 0;
    for (int i = 0; i < 6000; i++) {
        bool bg = i % 50 == 0 && cg__background_start(slow_task, &background_runs);
        background_started += bg;
        for (int k = 0; k < (bg ? 3 : 1); k++) {
            /* two contexts in turn: a late task of the last job would land in the other */
            pool_job *j = &jobs[(i + k) & 1], *other = &jobs[(i + k + 1) & 1];
            j->ntasks = 2 + (i + k) % 8;
            memset(j->runs, 0, sizeof j->runs);
            j->caller = pthread_self(), j->first_elsewhere = false;
            cg__parallel_for(j->ntasks, count_task, j);
            assert_ran_once(j, i);
            ck_assert_msg(!j->first_elsewhere, "job %d: task 0 ran on another thread than the caller's", i);
            if (i + k > 0)
                assert_ran_once(other, i);
        }
        if (bg) {
            cg__background_wait();
            ck_assert_int_eq(__atomic_load_n(&background_runs, __ATOMIC_RELAXED), background_started);
        }
    }
    ck_assert_int_gt(background_started, 0);
    cg_set_num_threads(1);
}
END_TEST

/* A loop begun inside a task of a job, on the thread whose background task is over (the
 * engine's: a recurrent step's product inside its rows' task, after a weight gradient's
 * background product): it runs on this thread, and the outer job still waits for its
 * other task. (The nested job once took the pool from under the running one and reset
 * its count: the outer job returned while its other task still ran, and a 512-wide RNN's
 * gradient on two threads differed from one thread's in a fifth of the passes.) */
typedef struct {
    pthread_t caller;
    int other_started, other_done, inner_runs;
} nested_job;

static void inner_task(void *ctx, int64_t t)
{
    (void)t;
    __atomic_fetch_add(&((nested_job *)ctx)->inner_runs, 1, __ATOMIC_RELAXED);
}

static void outer_task(void *ctx, int64_t t)
{
    (void)t;
    nested_job *j = ctx;
    if (!pthread_equal(pthread_self(), j->caller)) { /* the worker's task: slow */
        __atomic_store_n(&j->other_started, 1, __ATOMIC_RELEASE);
        usleep(20000);
        __atomic_store_n(&j->other_done, 1, __ATOMIC_RELEASE);
        return;
    }
    for (int i = 0; i < 2000 && !__atomic_load_n(&j->other_started, __ATOMIC_ACQUIRE); i++)
        usleep(1000); /* (the worker takes the other task) */
    cg__parallel_for(2, inner_task, j);
}

START_TEST(a_loop_inside_a_task_runs_alone_after_a_background_task)
{
    if (!fx_threads_run())
        return;
    ck_assert_int_eq(cg_set_num_threads(2), 0);
    for (int round = 0; round < 3; round++) {
        int background_runs = 0;
        ck_assert(cg__background_start(slow_task, &background_runs));
        while (!__atomic_load_n(&background_runs, __ATOMIC_ACQUIRE)) /* over, not yet waited for */
            usleep(100);
        nested_job j = {.caller = pthread_self()};
        cg__parallel_for(2, outer_task, &j);
        ck_assert_msg(__atomic_load_n(&j.other_done, __ATOMIC_ACQUIRE), "the job returned before its other task ended");
        ck_assert_int_eq(j.inner_runs, 2);
        cg__background_wait();
    }
    cg_set_num_threads(1);
}
END_TEST

START_TEST(the_version_is_meson_builds)
{
    ck_assert_str_eq(cg_version_string(), CGRAD_EXPECTED_VERSION);
}
END_TEST

static Suite *tensor_suite(void)
{
    Suite *s = suite_create("tensor");
    TCase *t = tcase_create("tensor");
    tcase_set_timeout(t, 120); /* the bit-flip sweep writes a file per bit: slow on a busy disk, not wrong */
    tcase_add_test(t, creation_fills_as_asked);
    tcase_add_test(t, shapes_are_zero_past_their_dims);
    tcase_add_test(t, frames_nest_hundreds_deep_on_each_thread);
    tcase_add_test(t, bad_creation_fails_cleanly);
    tcase_add_test(t, copy_broadcasts_as_torch_does);
    tcase_add_test(t, views_share_values_and_keep_their_base_alive);
    tcase_add_test(t, frames_reuse_memory);
    tcase_add_test(t, frames_nest_and_values_can_be_kept);
#ifdef CG_DEBUG
    tcase_add_test(t, debug_builds_catch_a_tensor_whose_frame_ended);
#endif
    tcase_add_test(t, generator_matches_pytorch);
    tcase_add_test(t, generator_state_round_trips);
    tcase_add_test(t, printing_matches_pytorch);
    tcase_add_test(t, safetensors_files_round_trip);
    tcase_add_test(t, sampling_matches_pytorch);
    tcase_add_test(t, sampling_refuses_what_torch_refuses);
    tcase_add_test(t, generator_objects_draw_the_default_sequence);
    tcase_add_test(t, generator_states_that_cannot_be_are_refused);
    tcase_add_test(t, randint_stays_in_range_and_exact);
    tcase_add_test(t, multinomial_without_replacement_draws_each_once);
    tcase_add_test(t, threads_drawing_together_draw_the_one_sequence);
    tcase_add_test(t, pool_runs_every_task_of_every_job_once);
    tcase_add_test(t, a_loop_inside_a_task_runs_alone_after_a_background_task);
    tcase_add_test(t, the_version_is_meson_builds);
    suite_add_tcase(s, t);
    return s;
}


int main(void)
{
    rnd = fx_load("random.txt");
    prn = fx_load("print.txt");
    smp = fx_load("sampling.txt");
    return fx_run(tensor_suite());
}
