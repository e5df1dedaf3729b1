/* cgrad tests — optim/: 5-step trajectories of every optimizer against PyTorch,
 * on a quadratic and on fixed gradients; parameter groups; clipping; schedulers; errors. */
#include "fixture.h"
#include <math.h>
#include <string.h>

static fixture *fx;

static cg_optim *make(int which, cg_tensor **p)
{
    switch (which) {
    case 0: return cg_sgd_new(p, 2, .lr = 0.1);
    case 1: return cg_sgd_new(p, 2, .lr = 0.1, .momentum = 0.9);
    case 2: return cg_sgd_new(p, 2, .lr = 0.1, .momentum = 0.9, .nesterov = true, .weight_decay = 0.01);
    case 3: return cg_sgd_new(p, 2, .lr = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.1);
    case 4: return cg_sgd_new(p, 2, .lr = 0.1, .maximize = true);
    case 5: return cg_adam_new(p, 2, .lr = 0.01);
    case 6: return cg_adam_new(p, 2, .lr = 0.01, .weight_decay = 0.1, .amsgrad = true);
    case 7: return cg_adam_new(p, 2, .lr = 0.05, .beta1 = 0.5, .beta2 = 0.9, .eps = 1e-6);
    case 8: return cg_adamw_new(p, 2, .lr = 0.01);
    case 9: return cg_adamw_new(p, 2, .lr = 0.01, .weight_decay = 0.1, .amsgrad = true);
    case 10: return cg_rmsprop_new(p, 2, .lr = 0.01);
    case 11: return cg_rmsprop_new(p, 2, .lr = 0.01, .momentum = 0.9, .centered = true, .weight_decay = 0.1);
    case 12: return cg_adagrad_new(p, 2, .lr = 0.1);
    default: return cg_adagrad_new(p, 2, .lr = 0.1, .lr_decay = 0.01, .weight_decay = 0.1, .initial_accumulator_value = 0.1);
    }
}
static const char *names[] = {"sgd", "sgd_momentum", "sgd_nesterov_wd", "sgd_dampening_wd", "sgd_maximize",
                              "adam", "adam_wd_amsgrad", "adam_betas", "adamw", "adamw_amsgrad", "rmsprop",
                              "rmsprop_full", "adagrad", "adagrad_full"};
#define NOPT ((int)(sizeof names / sizeof names[0]))

static void run_trajectory(int which, bool quadratic)
{
    const char *problem = quadratic ? "quadratic" : "fixed";
    cg_tensor *p[2] = {fx_get(fx, "init.p0"), fx_get(fx, "init.p1")};
    cg_set_requires_grad(p[0], true);
    cg_set_requires_grad(p[1], true);
    cg_tensor *a0 = fx_get(fx, "init.a0"), *a1 = fx_get(fx, "init.a1"), *b0 = fx_get(fx, "init.b0"), *b1 = fx_get(fx, "init.b1");
    cg_optim *opt = make(which, p);
    ck_assert_msg(opt != NULL, "%s", cg_last_error());
    for (int k = 0; k < 5; k++) {
        cg_frame_begin();
        cg_optim_zero_grad(opt);
        cg_tensor *loss;
        if (quadratic)
            loss = cg_add(cg_add(cg_sum(cg_mul(cg_mul(p[0], p[0]), a0)), cg_sum(cg_mul(cg_mul(p[1], p[1]), a1))),
                          cg_add(cg_sum(cg_mul(p[0], b0)), cg_sum(cg_mul(p[1], b1))));
        else
            loss = cg_add(cg_sum(cg_mul(p[0], fx_get(fx, "fixed.g0.%d", k))), cg_sum(cg_mul(p[1], fx_get(fx, "fixed.g1.%d", k))));
        ck_assert_int_eq(cg_backward(loss), 0);
        ck_assert_int_eq(cg_optim_step(opt), 0);
        ck_assert_tensor_close(p[0], fx_get(fx, "%s.%s.p0.%d", names[which], problem, k), 1e-5, 1e-6);
        ck_assert_tensor_close(p[1], fx_get(fx, "%s.%s.p1.%d", names[which], problem, k), 1e-5, 1e-6);
        cg_frame_end();
    }
    cg_optim_free(opt);
    cg_tensor *all[6] = {p[0], p[1], a0, a1, b0, b1};
    for (int i = 0; i < 6; i++)
        cg_tensor_free(all[i]);
}

START_TEST(optimizer_follows_pytorch_on_a_quadratic) { run_trajectory(_i, true); }
END_TEST
START_TEST(optimizer_follows_pytorch_on_fixed_gradients) { run_trajectory(_i, false); }
END_TEST

START_TEST(state_can_be_saved_and_restored)
{
    cg_tensor *p = cg_ones(CG_SHAPE(3));
    cg_set_requires_grad(p, true);
    cg_optim *a = cg_adam_new(&p, 1, .lr = 0.1), *b = cg_adam_new(&p, 1, .lr = 0.1);
    for (int k = 0; k < 3; k++) {
        cg_frame_begin();
        cg_optim_zero_grad(a);
        cg_backward(cg_sum(cg_mul(p, p)));
        cg_optim_step(a);
        cg_frame_end();
    }
    ck_assert_int_eq(cg_optim_state_count(a), 3);
    for (int i = 0; i < cg_optim_state_count(a); i++)
        cg_copy_(cg_optim_state_at(b, i), cg_optim_state_at(a, i));
    ck_assert_str_eq(cg_optim_state_name(a, 1), "0.exp_avg");
    ck_assert_float_eq(cg_item(cg_optim_state_at(b, 0)), 3.0f); /* step */
    /* the restored optimizer takes the same next step */
    float before[3];
    memcpy(before, cg_data(p), sizeof before);
    cg_frame_begin();
    cg_optim_zero_grad(a);
    cg_backward(cg_sum(cg_mul(p, p)));
    cg_optim_step(a);
    float after_a[3];
    memcpy(after_a, cg_data(p), sizeof after_a);
    memcpy(cg_data(p), before, sizeof before);
    cg_optim_step(b);
    for (int i = 0; i < 3; i++)
        ck_assert_float_eq(cg_data(p)[i], after_a[i]);
    cg_frame_end();
    ck_assert_ptr_null(cg_optim_state_at(a, 3));
    ck_assert_ptr_null(cg_optim_state_name(a, -1));
    cg_optim_free(a);
    cg_optim_free(b);
    cg_tensor_free(p);
}
END_TEST

START_TEST(clipping_matches_pytorch)
{
    cg_frame_begin();
    for (int big = 0; big < 2; big++) {
        cg_tensor *p[2] = {cg_zeros(CG_SHAPE(3, 4)), cg_zeros(CG_SHAPE(5))};
        for (int i = 0; i < 2; i++) {
            cg_set_requires_grad(p[i], true);
            cg_backward(cg_sum(cg_mul(p[i], fx_get(fx, "clip.g%d", i))));
        }
        float total = cg_clip_grad_norm(p, 2, big ? 100.0f : 1.0f);
        const char *tag = big ? "norm100" : "norm1";
        ck_assert_float_eq_tol(total, cg_item(fx_get(fx, "clip.%s.total", tag)), 1e-5);
        ck_assert_tensor_close(cg_grad(p[0]), fx_get(fx, "clip.%s.g0", tag), 1e-6, 1e-7);
        ck_assert_tensor_close(cg_grad(p[1]), fx_get(fx, "clip.%s.g1", tag), 1e-6, 1e-7);
    }
    cg_tensor *q = cg_zeros(CG_SHAPE(3, 4));
    cg_set_requires_grad(q, true);
    cg_backward(cg_sum(cg_mul(q, fx_get(fx, "clip.g0"))));
    ck_assert_int_eq(cg_clip_grad_value(&q, 1, 0.5f), 0);
    ck_assert_tensor_close(cg_grad(q), fx_get(fx, "clip.value.g0"), 0, 0);
    ck_assert(isnan(cg_clip_grad_norm(NULL, 1, 1)));
    ck_assert_int_eq(cg_clip_grad_value(&q, 1, -1), -1);
    cg_frame_end();
}
END_TEST

/* zero_grad(set_to_none=True), as torch: .grad reads None; a step and clipping pass such a
 * parameter by (its value and state unchanged); zero_grad leaves it None; the next
 * backward stores the gradient (the old buffer's stale values not added to), equal to
 * what zero_grad's zeros plus the gradient give, for a product-sized weight and a bias. */
START_TEST(set_to_none_is_torchs_none)
{
    cg_manual_seed(2);
    cg_tensor *x = cg_randn(CG_SHAPE(300, 64)), *w = cg_randn(CG_SHAPE(96, 64)), *b = cg_randn(CG_SHAPE(96));
    cg_tensor *ps[2] = {w, b};
    cg_set_requires_grad(w, true), cg_set_requires_grad(b, true);
    cg_optim *opt = cg_adamw_new(ps, 2, .lr = 0.1, .weight_decay = 0.1);
    float want_w[96 * 64], want_b[96], w_before[96 * 64];
    for (int round = 0; round < 3; round++) {
        cg_frame_begin();
        ck_assert_int_eq(cg_backward(cg_sum(cg_tanh(cg_linear(x, w, b)))), 0);
        cg_frame_end();
        if (round == 0) { /* after zero_grad's zeros: 0 + the gradient */
            memcpy(want_w, cg_data(cg_grad(w)), sizeof want_w), memcpy(want_b, cg_data(cg_grad(b)), sizeof want_b);
            cg_data(cg_grad(w))[5] = 123.0f; /* stale values in the buffer the next pass reuses */
            cg_optim_zero_grad_set_to_none(opt);
            continue;
        }
        for (int i = 0; i < 96 * 64; i++)
            ck_assert_msg(cg_data(cg_grad(w))[i] == want_w[i], "round %d: w.grad[%d] = %g, want %g", round, i,
                          (double)cg_data(cg_grad(w))[i], (double)want_w[i]);
        for (int i = 0; i < 96; i++)
            ck_assert_float_eq(cg_data(cg_grad(b))[i], want_b[i]);
        ck_assert_int_eq(cg_set_grad_none(w), 0);
        ck_assert_int_eq(cg_set_grad_none(b), 0);
    }
    ck_assert_ptr_null(cg_grad(w));
    ck_assert_ptr_null(cg_grad(b));
    cg_optim_zero_grad(opt); /* None stays None */
    ck_assert_ptr_null(cg_grad(w));
    memcpy(w_before, cg_data(w), sizeof w_before);
    ck_assert_int_eq(cg_optim_step(opt), 0); /* passed by: no decay, no state */
    ck_assert_mem_eq(cg_data(w), w_before, sizeof w_before);
    ck_assert_float_eq(cg_clip_grad_norm(ps, 2, 1.0f), 0.0f);
    /* a pass that fails after writing w's gradient (anomaly mode: sqrt's gradient at 0 is
     * infinite) leaves it None, as it was; b's, written before, likewise */
    cg_frame_begin();
    cg_set_detect_anomaly(true);
    /* (backward runs the second operand's nodes first: the linear writes w's and b's .grad) */
    cg_tensor *loss = cg_add(cg_sum(cg_sqrt(cg_mul_scalar(w, 0.0f))), cg_sum(cg_linear(x, w, b)));
    ck_assert_int_eq(cg_backward(loss), -1);
    cg_set_detect_anomaly(false);
    cg_frame_end();
    ck_assert_ptr_null(cg_grad(w));
    ck_assert_ptr_null(cg_grad(b));
    /* a tensor that is not a leaf: refused, with the call named */
    cg_frame_begin();
    cg_tensor *y = cg_mul_scalar(w, 2.0f);
    ck_assert_int_eq(cg_set_grad_none(y), -1);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_set_grad_none"));
    cg_frame_end();
    ck_assert_int_eq(cg_set_grad_none(NULL), -1);
    cg_tensor *fresh = cg_zeros(CG_SHAPE(2)); /* no .grad yet: nothing to do */
    ck_assert_int_eq(cg_set_grad_none(fresh), 0);
    /* a 0-d leaf and a size-0 one: None, then the next backward's gradient alone */
    cg_tensor *s0 = cg_scalar(3.0f), *e0 = cg_zeros(CG_SHAPE(0, 4));
    cg_set_requires_grad(s0, true), cg_set_requires_grad(e0, true);
    for (int round = 0; round < 2; round++) {
        cg_frame_begin();
        ck_assert_int_eq(cg_backward(cg_add(cg_mul(s0, s0), cg_sum(e0))), 0);
        cg_frame_end();
        ck_assert_float_eq(cg_item(cg_grad(s0)), 6.0f);
        ck_assert_int_eq(cg_numel(cg_grad(e0)), 0);
        ck_assert_int_eq(cg_set_grad_none(s0), 0);
        ck_assert_int_eq(cg_set_grad_none(e0), 0);
        ck_assert_ptr_null(cg_grad(s0));
        ck_assert_ptr_null(cg_grad(e0));
    }
    cg_tensor_free(s0), cg_tensor_free(e0);
    cg_optim_zero_grad_set_to_none(NULL);
    cg_optim_free(opt);
    cg_tensor_free(fresh), cg_tensor_free(x), cg_tensor_free(w), cg_tensor_free(b);
}
END_TEST

/* A large parameter's update runs in chunks over the threads: each element as it would be
 * in a small parameter (here its values cut into four of 10000), for every optimizer, on
 * one thread and two. */
START_TEST(large_parameters_update_in_chunks_as_small_ones)
{
    enum { N = 40000, PIECES = 4 };
    cg_manual_seed(8);
    cg_tensor *v0 = cg_randn(CG_SHAPE(N)), *g0 = cg_randn(CG_SHAPE(N));
    for (int kind = 0; kind < 5; kind++)
        for (int threads = 1; threads <= 2; threads++) {
            if (cg_set_num_threads(threads) != 0) /* (one thread in WebAssembly) */
                continue;
            cg_tensor *big = cg_tensor_copy(v0), *small[PIECES];
            cg_set_requires_grad(big, true);
            for (int k = 0; k < PIECES; k++) {
                small[k] = cg_tensor_from(cg_data(v0) + k * (N / PIECES), CG_SHAPE(N / PIECES));
                cg_set_requires_grad(small[k], true);
            }
            cg_optim *a = NULL, *b = NULL;
            switch (kind) {
            case 0: a = cg_sgd_new(&big, 1, .lr = 0.1, .momentum = 0.9), b = cg_sgd_new(small, PIECES, .lr = 0.1, .momentum = 0.9); break;
            case 1: a = cg_adam_new(&big, 1, .lr = 0.01), b = cg_adam_new(small, PIECES, .lr = 0.01); break;
            case 2: a = cg_adamw_new(&big, 1, .lr = 0.01, .amsgrad = true), b = cg_adamw_new(small, PIECES, .lr = 0.01, .amsgrad = true); break;
            case 3: a = cg_rmsprop_new(&big, 1, .lr = 0.01, .centered = true), b = cg_rmsprop_new(small, PIECES, .lr = 0.01, .centered = true); break;
            default: a = cg_adagrad_new(&big, 1, .lr = 0.01), b = cg_adagrad_new(small, PIECES, .lr = 0.01); break;
            }
            ck_assert(a && b);
            for (int step = 0; step < 3; step++) { /* gradients g0 * (step + 1) */
                cg_frame_begin();
                cg_tensor *scaled = cg_mul_scalar(g0, (float)(step + 1));
                cg_optim_zero_grad(a), cg_optim_zero_grad(b);
                ck_assert_int_eq(cg_backward(cg_sum(cg_mul(big, scaled))), 0);
                for (int k = 0; k < PIECES; k++)
                    ck_assert_int_eq(cg_backward(cg_sum(cg_mul(small[k], cg_narrow(scaled, 0, k * (N / PIECES), N / PIECES)))), 0);
                cg_frame_end();
                ck_assert_int_eq(cg_optim_step(a), 0);
                ck_assert_int_eq(cg_optim_step(b), 0);
            }
            for (int k = 0; k < PIECES; k++)
                ck_assert_msg(!memcmp(cg_data(big) + k * (N / PIECES), cg_data(small[k]), sizeof(float) * (N / PIECES)),
                              "optimizer %d on %d threads: piece %d differs", kind, threads, k);
            cg_optim_free(a), cg_optim_free(b);
            cg_tensor_free(big);
            for (int k = 0; k < PIECES; k++)
                cg_tensor_free(small[k]);
        }
    cg_set_num_threads(1);
    cg_tensor_free(v0), cg_tensor_free(g0);
}
END_TEST

START_TEST(schedulers_match_pytorch)
{
    static const char *kinds[] = {"step", "exponential", "cosine", "linear"};
    cg_tensor *p = cg_zeros(CG_SHAPE(1));
    cg_optim *o = cg_sgd_new(&p, 1, .lr = 0.1);
    cg_scheduler *s = _i == 0 ? cg_step_lr_new(o, .step_size = 3, .gamma = 0.5)
                      : _i == 1 ? cg_exponential_lr_new(o, .gamma = 0.9)
                      : _i == 2 ? cg_cosine_annealing_lr_new(o, .t_max = 5, .eta_min = 0.01)
                                : cg_linear_lr_new(o, .start_factor = 0.25, .total_iters = 4);
    cg_tensor *want = fx_get(fx, "sched.%s", kinds[_i]);
    for (int e = 0; e <= 12; e++) {
        double lr = cg_scheduler_lr(s);
        ck_assert_msg(fabs(lr - cg_data(want)[e]) <= 1e-7 * fabs(cg_data(want)[e]) + 1e-12, "%s epoch %d: %.10g vs %.10g",
                      kinds[_i], e, lr, (double)cg_data(want)[e]);
        cg_scheduler_step(s);
    }
    cg_scheduler_free(s);
    cg_optim_free(o);
    cg_tensor_free(p);
    cg_tensor_free(want);
}
END_TEST

/* Two parameter groups, the second with options of its own (the rest the constructor's),
 * and a scheduler moving both from their own rates: five steps against PyTorch. */
static const char *group_names[] = {"sgd", "sgd_nesterov", "adam", "adamw", "rmsprop", "adagrad"};
#define NGROUPED ((int)(sizeof group_names / sizeof group_names[0]))

static cg_optim *make_grouped(int which, cg_tensor **p0, cg_tensor **p1)
{
    cg_optim *o = NULL;
    int rc = -1;
    switch (which) {
    case 0:
        o = cg_sgd_new(p0, 1, .lr = 0.1, .momentum = 0.9);
        rc = cg_sgd_add_param_group(o, p1, 1, .lr = 0.05, .momentum = 0.0);
        break;
    case 1:
        o = cg_sgd_new(p0, 1, .lr = 0.1);
        rc = cg_sgd_add_param_group(o, p1, 1, .momentum = 0.5, .nesterov = true, .weight_decay = 0.1);
        break;
    case 2:
        o = cg_adam_new(p0, 1, .lr = 0.01, .weight_decay = 0.1);
        rc = cg_adam_add_param_group(o, p1, 1, .beta1 = 0.5, .beta2 = 0.9, .amsgrad = true);
        break;
    case 3:
        o = cg_adamw_new(p0, 1, .lr = 0.02, .beta2 = 0.99, .weight_decay = 0.1);
        rc = cg_adam_add_param_group(o, p1, 1, .weight_decay = 0.0);
        break;
    case 4:
        o = cg_rmsprop_new(p0, 1, .lr = 0.01);
        rc = cg_rmsprop_add_param_group(o, p1, 1, .lr = 0.02, .momentum = 0.9, .centered = true);
        break;
    default:
        o = cg_adagrad_new(p0, 1, .lr = 0.1, .initial_accumulator_value = 0.1);
        rc = cg_adagrad_add_param_group(o, p1, 1, .lr_decay = 0.01, .weight_decay = 0.1);
        break;
    }
    ck_assert_msg(o && rc == 0, "%s", cg_last_error());
    return o;
}

START_TEST(parameter_groups_follow_pytorch)
{
    cg_tensor *p[2] = {fx_get(fx, "init.p0"), fx_get(fx, "init.p1")};
    cg_set_requires_grad(p[0], true);
    cg_set_requires_grad(p[1], true);
    cg_tensor *a0 = fx_get(fx, "init.a0"), *a1 = fx_get(fx, "init.a1"), *b0 = fx_get(fx, "init.b0"), *b1 = fx_get(fx, "init.b1");
    cg_optim *opt = make_grouped(_i, &p[0], &p[1]);
    ck_assert_int_eq(cg_optim_group_count(opt), 2);
    cg_scheduler *sched = cg_cosine_annealing_lr_new(opt, .t_max = 4, .eta_min = 0.001);
    for (int k = 0; k < 5; k++) {
        cg_frame_begin();
        cg_optim_zero_grad(opt);
        cg_tensor *loss = cg_add(cg_add(cg_sum(cg_mul(cg_mul(p[0], p[0]), a0)), cg_sum(cg_mul(cg_mul(p[1], p[1]), a1))),
                                 cg_add(cg_sum(cg_mul(p[0], b0)), cg_sum(cg_mul(p[1], b1))));
        ck_assert_int_eq(cg_backward(loss), 0);
        ck_assert_int_eq(cg_optim_step(opt), 0);
        ck_assert_int_eq(cg_scheduler_step(sched), 0);
        ck_assert_tensor_close(p[0], fx_get(fx, "groups.%s.p0.%d", group_names[_i], k), 1e-5, 1e-6);
        ck_assert_tensor_close(p[1], fx_get(fx, "groups.%s.p1.%d", group_names[_i], k), 1e-5, 1e-6);
        cg_tensor *lrs = fx_get(fx, "groups.%s.lr.%d", group_names[_i], k);
        for (int g = 0; g < 2; g++)
            ck_assert_msg(fabs(cg_optim_group_lr(opt, g) - cg_data(lrs)[g]) <= 1e-7 * cg_data(lrs)[g], "%s step %d group %d",
                          group_names[_i], k, g);
        cg_frame_end();
    }
    cg_scheduler_free(sched);
    cg_optim_free(opt);
    cg_tensor *all[6] = {p[0], p[1], a0, a1, b0, b1};
    for (int i = 0; i < 6; i++)
        cg_tensor_free(all[i]);
}
END_TEST

/* A group's state is what its own options need, numbered over all groups; refusals leave
 * the optimizer as it was. */
START_TEST(parameter_groups_refuse_bad_use)
{
    cg_tensor *p = cg_zeros(CG_SHAPE(2)), *q = cg_zeros(CG_SHAPE(3)), *r = cg_zeros(CG_SHAPE(1));
    cg_optim *o = cg_sgd_new(&p, 1, .lr = 0.1, .momentum = 0.9);
    ck_assert_int_eq(cg_sgd_add_param_group(o, &q, 1, .momentum = 0), 0);
    ck_assert_int_eq(cg_optim_state_count(o), 3); /* 0.step 0.momentum_buffer 1.step */
    ck_assert_str_eq(cg_optim_state_name(o, 1), "0.momentum_buffer");
    ck_assert_str_eq(cg_optim_state_name(o, 2), "1.step");
    cg_clear_error();
    ck_assert_int_eq(cg_sgd_add_param_group(o, &p, 1), -1); /* already in group 0 */
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_sgd_add_param_group: parameter 0 appears twice"));
    cg_tensor *twice[2] = {r, r};
    ck_assert_int_eq(cg_sgd_add_param_group(o, twice, 2), -1);
    ck_assert_int_eq(cg_sgd_add_param_group(o, &r, 1, .lr = -1), -1);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "invalid learning rate"));
    ck_assert_int_eq(cg_sgd_add_param_group(o, &r, 1, .nesterov = true, .momentum = 0), -1);
    ck_assert_int_eq(cg_adam_add_param_group(o, &r, 1), -1);
    ck_assert_str_eq(cg_last_error(), "cg_adam_add_param_group: given a cg_sgd_new optimizer");
    ck_assert_int_eq(cg_sgd_add_param_group(o, NULL, 1), -1);
    ck_assert_int_eq(cg_sgd_add_param_group(NULL, &r, 1), -1);
    ck_assert_int_eq(cg_optim_group_count(o), 2); /* nothing was added */
    ck_assert_int_eq(cg_optim_state_count(o), 3);
    /* set_lr sets every group; a group's own */
    ck_assert_int_eq(cg_optim_set_lr(o, 0.5), 0);
    ck_assert(cg_optim_group_lr(o, 1) == 0.5);
    ck_assert_int_eq(cg_optim_set_group_lr(o, 1, 0.25), 0);
    ck_assert(cg_optim_lr(o) == 0.5 && cg_optim_group_lr(o, 1) == 0.25);
    ck_assert(isnan(cg_optim_group_lr(o, 2)));
    ck_assert_int_eq(cg_optim_set_group_lr(o, -1, 0.1), -1);
    ck_assert_int_eq(cg_optim_set_group_lr(o, 0, NAN), -1);
    ck_assert_int_eq(cg_optim_group_count(NULL), -1);
    cg_optim_free(o);
    /* a size-0 parameter and a 0-d one in a group of their own: state of their shapes, a step that moves the 0-d */
    cg_tensor *empty = cg_zeros(CG_SHAPE(0)), *scalar = cg_scalar(1.0f), *odd[2] = {empty, scalar};
    o = cg_adam_new(&p, 1, .lr = 0.5);
    ck_assert_int_eq(cg_adam_add_param_group(o, odd, 2, .lr = 0.25), 0);
    ck_assert_int_eq(cg_numel(cg_optim_state_at(o, 4)), 0); /* 1.exp_avg */
    ck_assert_int_eq(cg_ndim(cg_optim_state_at(o, 7)), 0);  /* 2.exp_avg */
    cg_frame_begin();
    cg_set_requires_grad(scalar, true), cg_set_requires_grad(empty, true);
    ck_assert_int_eq(cg_backward(cg_add(cg_mul(scalar, scalar), cg_sum(empty))), 0);
    ck_assert_int_eq(cg_optim_step(o), 0);
    ck_assert(fabsf(cg_item(scalar) - 0.75f) < 1e-6f); /* Adam's first step: lr against the gradient's sign */
    cg_frame_end();
    cg_optim_free(o);
    cg_tensor_free(empty), cg_tensor_free(scalar);
    o = cg_adagrad_new(&p, 1); /* a group's sums start at its own initial_accumulator_value */
    ck_assert_int_eq(cg_adagrad_add_param_group(o, &q, 1, .initial_accumulator_value = 0.3), 0);
    ck_assert_str_eq(cg_optim_state_name(o, 3), "1.sum");
    ck_assert_float_eq(cg_data(cg_optim_state_at(o, 1))[0], 0.0f);
    ck_assert_float_eq(cg_data(cg_optim_state_at(o, 3))[2], 0.3f);
    cg_optim_free(o);
    cg_tensor_free(p), cg_tensor_free(q), cg_tensor_free(r);
}
END_TEST

START_TEST(bad_optimizer_use_fails_cleanly)
{
    cg_tensor *p = cg_zeros(CG_SHAPE(2));
    cg_clear_error();
    ck_assert_ptr_null(cg_sgd_new(&p, 1));
    ck_assert_str_eq(cg_last_error(), "cg_sgd_new: .lr is required");
    ck_assert_ptr_null(cg_sgd_new(&p, 1, .lr = 0.1, .nesterov = true));
    ck_assert_ptr_null(cg_sgd_new(&p, 1, .lr = -1));
    ck_assert_ptr_null(cg_adam_new(&p, 1, .beta1 = 1.0));
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "invalid beta"));
    ck_assert_ptr_null(cg_adam_new(NULL, 0));
    ck_assert_ptr_null(cg_rmsprop_new(&p, 1, .alpha = -1));
    ck_assert_ptr_null(cg_adagrad_new(&p, 1, .lr_decay = -1));
    cg_tensor *bad[1] = {NULL};
    ck_assert_ptr_null(cg_adam_new(bad, 1));
    ck_assert_int_eq(cg_optim_step(NULL), -1);
    ck_assert(isnan(cg_optim_lr(NULL)));
    ck_assert_ptr_null(cg_step_lr_new(NULL, .step_size = 1));
    cg_optim *o = cg_adam_new(&p, 1);
    ck_assert(fabs(cg_optim_lr(o) - 1e-3) < 1e-15); /* PyTorch's default */
    ck_assert_int_eq(cg_optim_step(o), 0);          /* no grad yet: nothing moves */
    ck_assert_float_eq(cg_data(p)[0], 0);
    ck_assert_ptr_null(cg_step_lr_new(o, .gamma = 0.1)); /* step_size is required, as in torch */
    ck_assert_ptr_null(cg_exponential_lr_new(o));
    cg_scheduler *warm = cg_linear_lr_new(o); /* torch's defaults: start_factor 1/3 over 5 steps */
    ck_assert(fabs(cg_optim_lr(o) - 1e-3 / 3) < 1e-15);
    cg_scheduler_free(warm);
    ck_assert_int_eq(cg_optim_set_lr(o, -1), -1);
    cg_optim_free(o);
    cg_optim_free(NULL);
    cg_tensor_free(p);
}
END_TEST

static Suite *optim_suite(void)
{
    Suite *s = suite_create("optim");
    TCase *t = tcase_create("optim");
    tcase_add_loop_test(t, optimizer_follows_pytorch_on_a_quadratic, 0, NOPT);
    tcase_add_loop_test(t, optimizer_follows_pytorch_on_fixed_gradients, 0, NOPT);
    tcase_add_test(t, state_can_be_saved_and_restored);
    tcase_add_test(t, clipping_matches_pytorch);
    tcase_add_test(t, set_to_none_is_torchs_none);
    tcase_add_test(t, large_parameters_update_in_chunks_as_small_ones);
    tcase_add_loop_test(t, schedulers_match_pytorch, 0, 4);
    tcase_add_test(t, bad_optimizer_use_fails_cleanly);
    tcase_add_loop_test(t, parameter_groups_follow_pytorch, 0, NGROUPED);
    tcase_add_test(t, parameter_groups_refuse_bad_use);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    fx = fx_load("optim.txt");
    return fx_run(optim_suite());
}
