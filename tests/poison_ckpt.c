/* A damaged-on-purpose charrnn or wordgen checkpoint for tests/programs.sh: copies IN to
 * OUT with element 0 of tensor NAME set to VALUE, re-saved through cgrad, so
 * the file's checksum is right and only the value itself is wrong.
 *   poison_ckpt IN OUT NAME VALUE */
#include <cgrad.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: poison_ckpt IN OUT NAME VALUE\n");
        return 2;
    }
    cg_safetensors *f = cg_safetensors_open(argv[1]);
    if (!f) {
        fprintf(stderr, "poison_ckpt: %s\n", cg_last_error());
        return 1;
    }
    int n = cg_safetensors_count(f);
    const char **names = malloc(sizeof *names * (size_t)n);
    cg_tensor **ts = malloc(sizeof *ts * (size_t)n);
    bool found = false;
    for (int i = 0; i < n; i++) {
        names[i] = cg_safetensors_name(f, i);
        ts[i] = cg_safetensors_get(f, names[i]);
        if (!strcmp(names[i], argv[3]) && cg_numel(ts[i]) > 0) {
            cg_data(ts[i])[0] = strtof(argv[4], NULL);
            found = true;
        }
    }
    /* the metadata keys of both programs' checkpoints, those present kept */
    static const char *const known[] = {"format", "config", "vocab_hex", "step", "pos", "rng", "positions",
                                        "cfg.model", "cfg.n_embd", "cfg.n_embd2", "cfg.n_layer", "cfg.n_head",
                                        "cfg.batch", "cfg.seed", "cfg.lr", "cfg.weight_decay"};
    const char *keys[sizeof known / sizeof known[0]], *vals[sizeof known / sizeof known[0]];
    int nmeta = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if ((vals[nmeta] = cg_safetensors_metadata(f, known[i])) != NULL)
            keys[nmeta++] = known[i];
    int rc = found ? cg_safetensors_save(argv[2], n, names, ts, nmeta, keys, vals) : -1;
    if (rc != 0)
        fprintf(stderr, "poison_ckpt: %s\n", found ? cg_last_error() : "no such tensor");
    for (int i = 0; i < n; i++)
        cg_tensor_free(ts[i]);
    cg_safetensors_close(f);
    free(names);
    free(ts);
    return rc == 0 ? 0 : 1;
}
