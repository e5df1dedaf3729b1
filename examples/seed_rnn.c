/* The lecture's PyTorch example, in cgrad:
 *
 *   torch.manual_seed(0)
 *   h, e, l, o = [1,0,0,0], [0,1,0,0], [0,0,1,0], [0,0,0,1]
 *   x = torch.Tensor([[h,e,l,l,o], [e,o,l,l,l], [l,l,e,e,l]])   # (3, 5, 4)
 *   rnn = torch.nn.RNN(4, 2)
 *   outputs, _status = rnn(x); print(outputs); print(outputs.size())
 *
 * prints the same numbers: cg_manual_seed(0) makes PyTorch's initial weights.
 * With --batch-first the same input is read as (batch 3, time 5, 4). */
#include <cgrad.h>
#include "common/parse.h"
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (asked_version(argc, argv, "seed_rnn"))
        return 0;
    bool batch_first = argc > 1 && !strcmp(argv[1], "--batch-first");
    if (argc > 1 && !batch_first) {
        bool help = !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h");
        fprintf(help ? stdout : stderr,
                "usage: %s [--batch-first]\n"
                "Prints torch.nn.RNN(4, 2)'s output on the one-hot \"hello\" batch (3, 5, 4), seed 0.\n"
                "  --batch-first   the batch as (B, T, I) with batch_first=True (default off: (T, B, I))\n",
                argv[0]);
        return help ? 0 : 2;
    }
    enum { H, E, L, O };
    const int word[3][5] = {{H, E, L, L, O}, {E, O, L, L, L}, {L, L, E, E, L}};
    float x[3][5][4] = {{{0}}};
    for (int i = 0; i < 3; i++)
        for (int t = 0; t < 5; t++)
            x[i][t][word[i][t]] = 1;

    cg_manual_seed(0);
    cg_module *rnn = cg_rnn_new(.input_size = 4, .hidden_size = 2, .batch_first = batch_first);
    cg_frame_begin();
    cg_tensor *input = cg_tensor_from(&x[0][0][0], CG_SHAPE(3, 5, 4));
    cg_tensor *status;
    cg_tensor *outputs = cg_rnn_forward(rnn, input, NULL, &status);
    if (!outputs) {
        fprintf(stderr, "error: %s\n", cg_last_error());
        return 1;
    }
    cg_print(outputs);
    char size[64];
    cg_shape_str(outputs, size, sizeof size);
    printf("%s\n", size);
    cg_frame_end();
    cg_module_free(rnn);
    cg_frame_release_memory();
    return 0;
}
