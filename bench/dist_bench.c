/* dist_bench — the time of one cg_dist_allreduce_grads of a model's gradients,
 * under mpirun: for each of the char-RNN sizes (H = 128, 256, 512 over a
 * 65-character vocabulary), the median of 200 bucketed allreduces.
 *   mpirun -np 2 build/bench/dist_bench */
#include <cgrad.h>
#include <stdlib.h>
#include <time.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    cg_dist_init(&argc, &argv);
    int rank = cg_dist_rank();
    for (int64_t H = 128; H <= 512; H *= 2) {
        cg_module *rnn = cg_rnn_new(.input_size = 65, .hidden_size = H);
        cg_module *fc = cg_linear_new(.in_features = H, .out_features = 65);
        cg_tensor *ps[6];
        int n;
        cg_tensor **p = cg_parameters(rnn, &n);
        for (int i = 0; i < 4; i++)
            ps[i] = p[i];
        ps[4] = cg_param(fc, "weight"), ps[5] = cg_param(fc, "bias");
        cg_frame_begin(); /* gradients to reduce */
        cg_tensor *x = cg_ones(CG_SHAPE(4, 2, 65));
        cg_backward(cg_sum(cg_linear_forward(fc, cg_rnn_forward(rnn, x, NULL, NULL))));
        cg_frame_end();
        double t[200];
        for (int r = 0; r < 200; r++) {
            cg_dist_barrier();
            double t0 = now_us();
            cg_dist_allreduce_grads(ps, 6);
            t[r] = now_us() - t0;
        }
        qsort(t, 200, sizeof t[0], cmp);
        if (rank == 0)
            printf("H=%lld params=%lld bytes=%lld ranks=%d allreduce_median_us=%.1f\n", (long long)H,
                   (long long)(cg_num_params(rnn) + cg_num_params(fc)),
                   (long long)(4 * (cg_num_params(rnn) + cg_num_params(fc))), cg_dist_size(), t[100]);
        cg_module_free(rnn);
        cg_module_free(fc);
    }
    cg_frame_release_memory();
    cg_dist_finalize();
    return 0;
}
