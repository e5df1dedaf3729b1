/* charrnn — train and sample a character-level language model.
 *
 *   charrnn train [FILE] [options]   train on FILE (default: data/tinyshakespeare.txt)
 *   charrnn sample CKPT [options]    generate text from a checkpoint
 *
 * train.c trains with truncated BPTT (data-parallel under mpirun), sample.c
 * samples, checkpoint.c writes and reads checkpoints (checked on every read),
 * args.c holds the settings. */
#include "charrnn.h"
#include <string.h>

static int command(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: charrnn train [FILE] [options]   train a character-level model (see train --help)\n"
                   "       charrnn sample CKPT [options]    generate text from a checkpoint (see sample --help)\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "train"))
        return train_main(argc - 2, argv + 2);
    if (!strcmp(argv[1], "sample"))
        return sample_main(argc - 2, argv + 2);
    fprintf(stderr, "charrnn: unknown command '%s' (train or sample)\n", argv[1]);
    return 2;
}

/* Under mpirun every rank runs the command: training is then data-parallel
 * (train.c); without MPI this is one process, as always. */
int main(int argc, char **argv)
{
    if (asked_version(argc, argv, "charrnn"))
        return 0;
    if (cg_dist_launched() && cg_dist_init(&argc, &argv) != 0) {
        fprintf(stderr, "charrnn: %s\n", cg_last_error());
        return 1;
    }
    int rc = command(argc, argv);
    cg_dist_finalize();
    return rc;
}
