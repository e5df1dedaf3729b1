/* A damaged-on-purpose charrnn or wordgen checkpoint for tests/programs.sh: copies IN to
 * OUT with element 0 of tensor NAME set to VALUE, or with FROM replaced by TO in the
 * metadata value KEY, re-saved through cgrad, so the file's checksum is right and only
 * the value itself is wrong.
 *   poison_ckpt IN OUT NAME VALUE
 *   poison_ckpt IN OUT --meta KEY FROM TO
 *   poison_ckpt IN OUT --add NAME        (one more tensor, of one element) */
#include <cgrad.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    bool meta = argc == 7 && !strcmp(argv[3], "--meta"), add = argc == 5 && !strcmp(argv[3], "--add");
    if (argc != 5 && !meta) {
        fprintf(stderr, "usage: poison_ckpt IN OUT NAME VALUE | poison_ckpt IN OUT --meta KEY FROM TO\n");
        return 2;
    }
    cg_safetensors *f = cg_safetensors_open(argv[1]);
    if (!f) {
        fprintf(stderr, "poison_ckpt: %s\n", cg_last_error());
        return 1;
    }
    int n = cg_safetensors_count(f);
    const char **names = malloc(sizeof *names * (size_t)(n + 1));
    cg_tensor **ts = malloc(sizeof *ts * (size_t)(n + 1));
    bool found = add;
    for (int i = 0; i < n; i++) {
        names[i] = cg_safetensors_name(f, i);
        ts[i] = cg_safetensors_get(f, names[i]);
        if (!meta && !add && !strcmp(names[i], argv[3]) && cg_numel(ts[i]) > 0) {
            cg_data(ts[i])[0] = strtof(argv[4], NULL);
            found = true;
        }
    }
    /* the metadata keys of both programs' checkpoints, those present kept */
    static const char *const known[] = {"format", "config", "vocab_hex", "step", "pos", "rng", "positions",
                                        "cfg.model", "cfg.n_embd", "cfg.n_embd2", "cfg.n_layer", "cfg.n_head",
                                        "cfg.batch", "cfg.seed", "cfg.lr", "cfg.weight_decay", "run", "text",
                                        "text_digest", "input", "input_digest"};
    const char *keys[sizeof known / sizeof known[0]], *vals[sizeof known / sizeof known[0]];
    char edited[8192];
    int nmeta = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if ((vals[nmeta] = cg_safetensors_metadata(f, known[i])) != NULL) {
            const char *at = meta && !strcmp(known[i], argv[4]) ? strstr(vals[nmeta], argv[5]) : NULL;
            if (at && snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - vals[nmeta]), vals[nmeta], argv[6],
                               at + strlen(argv[5])) < (int)sizeof edited) {
                vals[nmeta] = edited;
                found = true;
            }
            keys[nmeta++] = known[i];
        }
    if (add)
        names[n] = argv[4], ts[n++] = cg_zeros(CG_SHAPE(1));
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
