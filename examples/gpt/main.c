/* gpt — nanoGPT's shakespeare_char in C: a character-level GPT trained, sampled, and
 * moved to and from PyTorch.
 *
 *   gpt train [config/train_shakespeare_char.py] [--config baby] [--name=value ...]
 *   gpt sample [--out_dir=DIR] [--start=TEXT] [--num_samples=N] ...
 *   gpt export CKPT OUT.safetensors      the weights as nanoGPT's state dict
 *   gpt import IN.safetensors OUT_DIR    a nanoGPT state dict as a gpt checkpoint
 *
 * args.c the flags, data.c the text, model.c the GPT, train.c train.py, sample.c
 * sample.py, checkpoint.c checkpoints, export and import. */
#include "gpt.h"
#include <string.h>

int main(int argc, char **argv)
{
    if (asked_version(argc, argv, "gpt"))
        return 0;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: gpt train [options]     train nanoGPT's character-level GPT (see gpt train --help)\n"
                   "       gpt sample [options]    sample from a checkpoint (see gpt sample --help)\n"
                   "       gpt export CKPT OUT.safetensors | gpt import IN.safetensors OUT_DIR\n");
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "train")) { /* data-parallel when mpirun started it */
        if (cg_dist_launched() && cg_dist_init(&argc, &argv) != 0) {
            fprintf(stderr, "gpt: %s\n", cg_last_error());
            return 1;
        }
        int rc = train_main(argc - 2, argv + 2);
        cg_dist_finalize();
        return rc;
    }
    if (!strcmp(cmd, "sample"))
        return sample_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "export"))
        return export_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "import"))
        return import_main(argc - 2, argv + 2);
    fprintf(stderr, "gpt: unknown command '%s' (train, sample, export or import)\n", cmd);
    return 2;
}
