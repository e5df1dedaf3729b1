/* gpt — the data as nanoGPT's data/shakespeare_char/prepare.py makes it: the sorted
 * distinct characters as the vocabulary (bytes here: the same for ASCII text), the
 * first 90% of the text to train on and the rest to validate; and train.py's get_batch. */
#include "gpt.h"
#include "../common/ckpt.h"
#include <stdlib.h>
#include <string.h>

int data_read(const char *path, dataset *d)
{
    *d = (dataset){0};
    FILE *f = fopen(path, "rb");
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    unsigned char *buf = f && n > 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)n) : NULL;
    bool ok = buf && fread(buf, 1, (size_t)n, f) == (size_t)n;
    if (f)
        fclose(f);
    if (!ok) {
        fprintf(stderr, "gpt: cannot read %s%s\n", path, f && n == 0 ? " (it is empty)" : "");
        free(buf);
        return -1;
    }
    text_digest(buf, (size_t)n, d->digest);
    char *full = realpath(path, NULL);
    snprintf(d->path, sizeof d->path, "%s", full ? full : path);
    free(full);
    bool seen[256] = {false};
    for (long i = 0; i < n; i++)
        seen[buf[i]] = true;
    for (int ch = 0; ch < 256; ch++) {
        d->stoi[ch] = seen[ch] ? d->V : -1;
        if (seen[ch])
            d->chars[d->V++] = (unsigned char)ch;
    }
    for (long i = 0; i < n; i++)
        buf[i] = (unsigned char)d->stoi[buf[i]];
    d->ids = buf;
    d->n = n;
    d->n_train = (long)((double)n * 0.9); /* int(n * 0.9) */
    return 0;
}

void data_free(dataset *d)
{
    free(d->ids);
    *d = (dataset){0};
}

void data_batch(const dataset *d, bool train, long B, long T, float *x, float *y)
{
    const unsigned char *data = train ? d->ids : d->ids + d->n_train;
    long len = train ? d->n_train : d->n - d->n_train;
    cg_frame_begin();
    cg_tensor *ix = cg_randint(0, len - T, CG_SHAPE(B)); /* torch.randint(len(data) - block_size, (B,)) */
    for (long b = 0; b < B; b++) {
        long at = (long)cg_data(ix)[b];
        for (long t = 0; t < T; t++) {
            x[b * T + t] = data[at + t];
            y[b * T + t] = data[at + t + 1];
        }
    }
    cg_frame_end();
}
