/* cgrad tests — every public function given NULL (or nonsense) returns NULL, a
 * negative number or NAN, and crashes nothing. One test per layer's header. */
#include "fixture.h"
#include "op_table.h"
#include <math.h>
#include <string.h>

START_TEST(tensor_functions_take_null)
{
    cg_frame_begin();
    ck_assert_ptr_null(cg_tensor_from(NULL, CG_SHAPE(2)));
    ck_assert_ptr_null(cg_empty(-1, NULL));
    ck_assert_ptr_null(cg_zeros(1, NULL));
    ck_assert_ptr_null(cg_ones(1, NULL));
    ck_assert_ptr_null(cg_full(1, NULL, 1));
    ck_assert_ptr_null(cg_rand(1, NULL));
    ck_assert_ptr_null(cg_randn(1, NULL));
    ck_assert_ptr_null(cg_uniform(1, NULL, 0, 1));
    ck_assert_ptr_null(cg_normal(1, NULL, 0, 1));
    ck_assert_ptr_null(cg_zeros_like(NULL));
    ck_assert_ptr_null(cg_ones_like(NULL));
    ck_assert_ptr_null(cg_tensor_copy(NULL));
    ck_assert_ptr_null(cg_eye(-1, -1));
    ck_assert_ptr_null(cg_arange(0, INFINITY, 1));
    ck_assert_int_lt(cg_fill_(NULL, 0), 0);
    ck_assert_int_lt(cg_uniform_(NULL, 0, 1), 0);
    ck_assert_int_lt(cg_normal_(NULL, 0, 1), 0);
    ck_assert_int_lt(cg_copy_(NULL, NULL), 0);
    ck_assert_int_lt(cg_rng_get_state(NULL, 0), 0);
    ck_assert_int_lt(cg_ndim(NULL), 0);
    ck_assert_ptr_null(cg_shape(NULL));
    ck_assert_int_lt(cg_size(NULL, 0), 0);
    ck_assert_int_lt(cg_numel(NULL), 0);
    ck_assert(!cg_is_contiguous(NULL));
    ck_assert_int_lt(cg_stride(NULL, 0), 0);
    ck_assert_int_lt(cg_storage_offset(NULL), 0);
    ck_assert_ptr_null(cg_data(NULL));
    ck_assert(isnan(cg_item(NULL)));
    ck_assert(!cg_same_shape(NULL, NULL));
    ck_assert_int_lt(cg_tensor_str(NULL, NULL, 0), 0);
    ck_assert_int_lt(cg_print(NULL), 0);
    ck_assert_int_lt(cg_fprint(NULL, NULL), 0);
    ck_assert_int_lt(cg_shape_str(NULL, NULL, 0), 0);
    ck_assert_int_lt(cg_safetensors_save(NULL, 0, NULL, NULL, 0, NULL, NULL), 0);
    ck_assert_ptr_null(cg_safetensors_open(NULL));
    ck_assert_int_lt(cg_safetensors_count(NULL), 0);
    ck_assert_ptr_null(cg_safetensors_name(NULL, 0));
    ck_assert_ptr_null(cg_safetensors_get(NULL, "x"));
    ck_assert_int_lt(cg_safetensors_shape(NULL, "x", NULL), 0);
    ck_assert_int_lt(cg_safetensors_read_into(NULL, "x", NULL), 0);
    ck_assert_ptr_null(cg_safetensors_metadata(NULL, NULL));
    cg_safetensors_close(NULL);
    cg_tensor_free(NULL);
    ck_assert_int_lt(cg_set_num_threads(-3), 0);
    ck_assert_ptr_null(cg_bernoulli(NULL));
    ck_assert_ptr_null(cg_multinomial(NULL, 1, true));
    ck_assert_ptr_null(cg_randint(0, 1, 1, NULL));
    /* generators: NULL is the default one where a generator is asked for; buffers are checked */
    ck_assert_int_lt(cg_generator_get_state(NULL, NULL, 0), 0);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_generator_get_state"));
    ck_assert_int_lt(cg_generator_set_state(NULL, NULL, 0), 0);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_generator_set_state"));
    ck_assert_int_lt(cg_rng_set_state(NULL, 0), 0);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_rng_set_state"));
    cg_generator_free(NULL);
    ck_assert_int_eq(cg_generator_manual_seed(NULL, 3), 0);
    ck_assert_ptr_eq(cg_default_generator(), cg_default_generator());
    ck_assert_int_lt(cg_safetensors_checksum(NULL), 0);
    ck_assert_ptr_nonnull(cg_version_string());
    cg_frame_end();
}
END_TEST

START_TEST(autograd_functions_take_null)
{
    cg_frame_begin();
    ck_assert_int_lt(cg_set_requires_grad(NULL, true), 0);
    ck_assert(!cg_requires_grad(NULL));
    ck_assert(!cg_is_leaf(NULL));
    ck_assert_ptr_null(cg_grad(NULL));
    ck_assert_int_lt(cg_zero_grad(NULL), 0);
    ck_assert_int_lt(cg_set_grad_none(NULL), 0);
    ck_assert_int_lt(cg_set_name(NULL, "x"), 0);
    ck_assert_ptr_null(cg_name(NULL));
    ck_assert_int_lt(cg_backward(NULL), 0);
    ck_assert_int_lt(cg_backward_ex(NULL, .retain_graph = true), 0);
    ck_assert_int_lt(cg_gradcheck(NULL, NULL, 0, NULL), 0);
    ck_assert_int_lt(cg_graph_dot(NULL, NULL), 0);
    ck_assert_int_lt(cg_graph_json(NULL, NULL), 0);
    ck_assert_int_lt(cg_graph_json(NULL, stdout), 0);
    ck_assert_int_lt(cg_graph_render(NULL, NULL), 0);
    cg_no_grad_end(); /* unbalanced: an error, nothing else */
    ck_assert(cg_grad_enabled());
    cg_frame_end();
}
END_TEST

START_TEST(nn_and_optim_functions_take_null)
{
    cg_module_free(NULL);
    ck_assert_ptr_null(cg_param(NULL, "x"));
    ck_assert_ptr_null(cg_parameters(NULL, NULL));
    ck_assert_ptr_null(cg_param_name(NULL, 0));
    ck_assert_int_lt(cg_num_params(NULL), 0);
    ck_assert_int_lt(cg_module_train(NULL, true), 0);
    ck_assert(!cg_module_is_training(NULL));
    ck_assert_int_lt(cg_module_zero_grad(NULL), 0);
    ck_assert_int_lt(cg_module_zero_grad_set_to_none(NULL), 0);
    ck_assert_int_lt(cg_module_str(NULL, NULL, 0), 0);
    ck_assert_ptr_null(cg_module_type(NULL));
    ck_assert_ptr_null(cg_linear_forward(NULL, NULL));
    ck_assert_ptr_null(cg_embedding_forward(NULL, NULL));
    ck_assert_ptr_null(cg_rnn_forward(NULL, NULL, NULL, NULL));
    ck_assert_ptr_null(cg_gru_forward(NULL, NULL, NULL, NULL));
    ck_assert_ptr_null(cg_lstm_forward(NULL, NULL, NULL, NULL, NULL, NULL));
    ck_assert_ptr_null(cg_rnn_cell_forward(NULL, NULL, NULL));
    ck_assert_ptr_null(cg_gru_cell_forward(NULL, NULL, NULL));
    ck_assert_ptr_null(cg_lstm_cell_forward(NULL, NULL, NULL, NULL, NULL));
    ck_assert_int_lt(cg_module_save(NULL, NULL), 0);
    ck_assert_int_lt(cg_module_load(NULL, NULL), 0);
    ck_assert_ptr_null(cg_sequential_new(NULL, 1));
    ck_assert_int_lt(cg_module_child_count(NULL), 0);
    ck_assert_ptr_null(cg_module_child_at(NULL, 0));
    ck_assert_int_lt(cg_param_count(NULL), 0);
    ck_assert_int_lt(cg_module_set_param(NULL, NULL, NULL), 0);
    ck_assert_ptr_null(cg_param_at(NULL, 0));
    ck_assert_ptr_null(cg_module_forward(NULL, NULL));
    cg_clear_error(); /* (a NULL right after an unread failure keeps that failure's message) */
    ck_assert_int_lt(cg_module_set_forward(NULL, NULL, NULL), 0);
    ck_assert_ptr_nonnull(strstr(cg_last_error(), "cg_module_set_forward"));
    ck_assert_ptr_null(cg_lstm_new(.input_size = -4, .hidden_size = 2));
    ck_assert_ptr_null(cg_gru_cell_new(.input_size = 4, .hidden_size = 0));
    /* a real module given NULL inputs */
    cg_module *m = cg_linear_new(.in_features = 2, .out_features = 2);
    ck_assert_ptr_null(cg_module_forward(m, NULL));
    ck_assert_int_lt(cg_module_load(m, NULL), 0);
    cg_module_free(m);
    ck_assert_ptr_null(cg_sgd_new(NULL, 3, .lr = 0.1));
    ck_assert_ptr_null(cg_adamw_new(NULL, 1));
    ck_assert_ptr_null(cg_rmsprop_new(NULL, 1));
    ck_assert_ptr_null(cg_adagrad_new(NULL, 1));
    cg_optim_free(NULL);
    cg_optim_zero_grad(NULL);
    cg_optim_zero_grad_set_to_none(NULL);
    ck_assert_int_lt(cg_optim_step(NULL), 0);
    ck_assert(isnan(cg_optim_lr(NULL)));
    ck_assert_int_lt(cg_optim_set_lr(NULL, 0.1), 0);
    ck_assert_int_lt(cg_optim_state_count(NULL), 0);
    ck_assert_int_lt(cg_sgd_add_param_group(NULL, NULL, 1), 0);
    ck_assert_int_lt(cg_adam_add_param_group(NULL, NULL, 1), 0);
    ck_assert_int_lt(cg_rmsprop_add_param_group(NULL, NULL, 1), 0);
    ck_assert_int_lt(cg_adagrad_add_param_group(NULL, NULL, 1), 0);
    ck_assert_int_lt(cg_optim_group_count(NULL), 0);
    ck_assert(isnan(cg_optim_group_lr(NULL, 0)));
    ck_assert_int_lt(cg_optim_set_group_lr(NULL, 0, 0.1), 0);
    ck_assert_ptr_null(cg_optim_state_at(NULL, 0));
    ck_assert_ptr_null(cg_optim_state_name(NULL, 0));
    ck_assert(isnan(cg_clip_grad_norm(NULL, 1, 1.0f)));
    ck_assert_int_lt(cg_clip_grad_value(NULL, 1, 1.0f), 0);
    ck_assert_ptr_null(cg_step_lr_new(NULL, .step_size = 1, .gamma = 0.5));
    ck_assert_ptr_null(cg_exponential_lr_new(NULL, .gamma = 0.5));
    ck_assert_ptr_null(cg_cosine_annealing_lr_new(NULL, .t_max = 5));
    ck_assert_ptr_null(cg_linear_lr_new(NULL));
    ck_assert_int_lt(cg_scheduler_step(NULL), 0);
    ck_assert(isnan(cg_scheduler_lr(NULL)));
    cg_scheduler_free(NULL);
    ck_assert_ptr_nonnull(cg_last_error());
}
END_TEST

/* Every op in the table, given NULL for every tensor operand: NULL, and a message
 * naming the function the user called. */
START_TEST(every_op_takes_null)
{
    const op_entry *e = &op_table[_i];
    if (e->no_null)
        return;
    cg_frame_begin();
    cg_tensor *none[OP_MAX_IN] = {NULL};
    cg_clear_error();
    ck_assert_msg(e->apply(none, &e->args) == NULL, "%s: NULL operands gave a tensor", e->function);
    char name[96];
    op_user_name(e, name, sizeof name);
    ck_assert_msg(strstr(cg_last_error(), name) != NULL, "%s: the message does not name it: \"%s\"", e->function,
                  cg_last_error());
    cg_frame_end();
}
END_TEST

/* The table itself: each skipped check says why, each entry can make its operands. */
START_TEST(op_table_entries_are_whole)
{
    for (int i = 0; i < op_table_count; i++) {
        const op_entry *e = &op_table[i];
        const char *reasons[] = {e->no_gradcheck, e->no_edges, e->no_null, e->no_fuzz, e->no_edge_fixture};
        for (size_t k = 0; k < sizeof reasons / sizeof reasons[0]; k++)
            ck_assert_msg(!reasons[k] || strlen(reasons[k]) >= 10, "%s: a skipped check without a reason", e->function);
        ck_assert_msg(!e->edge_fixture != !e->no_edge_fixture, "%s: names an edge fixture or why it has none",
                      e->function);
        ck_assert_msg(!(e->flags & OP_DIFFERENTIABLE) == !!e->no_gradcheck,
                      "%s: differentiable ops run gradcheck, the others say why not", e->function);
        ck_assert_msg(e->apply && e->torch && e->inputs, "%s: incomplete", e->function);
        cg_frame_begin();
        cg_tensor *in[OP_MAX_IN];
        ck_assert_msg(op_make_inputs(e, in, 0) == e->arity, "%s: its .inputs do not give %d operands", e->function,
                      e->arity);
        cg_frame_end();
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("null");
    TCase *t = tcase_create("null");
    tcase_add_test(t, tensor_functions_take_null);
    tcase_add_test(t, autograd_functions_take_null);
    tcase_add_test(t, nn_and_optim_functions_take_null);
    tcase_add_loop_test(t, every_op_takes_null, 0, op_table_count);
    tcase_add_test(t, op_table_entries_are_whole);
    suite_add_tcase(s, t);
    return fx_run(s);
}
