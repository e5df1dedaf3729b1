/* The largest difference between two checkpoints' model weights (every tensor but
 * the optimizer's state and a carried hidden state), for tests/mpi.sh:
 *   ckpt_diff A B TOL   prints it; exit 0 when it is at most TOL, 1 otherwise */
#include <cgrad.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: ckpt_diff A B TOL\n");
        return 2;
    }
    cg_safetensors *a = cg_safetensors_open(argv[1]), *b = cg_safetensors_open(argv[2]);
    if (!a || !b) {
        fprintf(stderr, "ckpt_diff: %s\n", cg_last_error());
        return 2;
    }
    double worst = 0;
    int compared = 0;
    for (int i = 0; i < cg_safetensors_count(a); i++) {
        const char *name = cg_safetensors_name(a, i);
        if (!strncmp(name, "optim.", 6) || !strncmp(name, "carry.", 6))
            continue;
        cg_tensor *x = cg_safetensors_get(a, name), *y = cg_safetensors_get(b, name);
        if (!y || cg_numel(x) != cg_numel(y)) {
            fprintf(stderr, "ckpt_diff: %s differs in shape or is missing\n", name);
            return 1;
        }
        for (int64_t k = 0; k < cg_numel(x); k++)
            worst = fmax(worst, fabs((double)cg_data(x)[k] - (double)cg_data(y)[k]));
        cg_tensor_free(x);
        cg_tensor_free(y);
        compared++;
    }
    cg_safetensors_close(a);
    cg_safetensors_close(b);
    printf("ckpt_diff: %d weights compared, largest difference %.3g\n", compared, worst);
    return compared > 0 && worst <= atof(argv[3]) ? 0 : 1;
}
