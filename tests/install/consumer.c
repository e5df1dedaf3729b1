/* A program outside the tree, built against an installed cgrad with pkg-config:
 * the spine's tensor, autograd, nn and optim functions link and run. */
#include <cgrad.h>
#include <math.h>
#include <stdio.h>

int main(void)
{
    cg_manual_seed(0);
    cg_module *rnn = cg_rnn_new(.input_size = 4, .hidden_size = 2);
    cg_tensor *w = cg_param(rnn, "weight_ih_l0");
    if (!w || cg_data(w)[0] != -0x1.5af244p-8f) {
        fprintf(stderr, "PyTorch's initial weight not reproduced\n");
        return 1;
    }
    int n;
    cg_tensor **params = cg_parameters(rnn, &n);
    cg_optim *opt = cg_adam_new(params, n, .lr = 0.1);
    cg_tensor *x = cg_randn(CG_SHAPE(5, 3, 4));
    float first = 0, last = 0;
    for (int step = 0; step < 20; step++) {
        cg_frame_begin();
        cg_tensor *out = cg_rnn_forward(rnn, x, NULL, NULL);
        cg_tensor *loss = cg_mse_loss(out, cg_zeros(CG_SHAPE(5, 3, 2)));
        cg_optim_zero_grad(opt);
        if (cg_backward(loss) != 0 || cg_optim_step(opt) != 0) {
            fprintf(stderr, "error: %s\n", cg_last_error());
            return 1;
        }
        last = cg_item(loss);
        if (step == 0)
            first = last;
        cg_frame_end();
    }
    if (cg_matmul(cg_ones(CG_SHAPE(3, 4)), cg_ones(CG_SHAPE(5, 2))) != NULL || cg_last_error()[0] == '\0')
        return 1;
    printf("consumer: loss %.4f -> %.4f; error model: %s\n", (double)first, (double)last, cg_last_error());
    cg_tensor_free(x);
    cg_optim_free(opt);
    cg_module_free(rnn);
    return last < first ? 0 : 1;
}
