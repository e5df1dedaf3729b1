/* gpt — the data as nanoGPT's data/shakespeare_char/prepare.py makes it: the text as its
 * open(path, 'r').read() reads it (UTF-8, line ends \r\n and \r as \n), the sorted distinct
 * characters as the vocabulary (ASCII text gives its bytes), the first 90% of the characters
 * to train on and the rest to validate; and train.py's get_batch. */
#include "gpt.h"
#include "../common/ckpt.h"
#include <stdlib.h>
#include <string.h>

int data_read(const char *path, dataset *d)
{
    *d = (dataset){0};
    long n;
    char *buf = file_bytes(path, &n, "gpt"); /* (NUL-terminated: a last character's bytes stop there) */
    if (!buf)
        return -1;
    unsigned char *ids = n > 0 ? malloc((size_t)n) : NULL;
    if (!ids) {
        fprintf(stderr, "gpt: cannot read %s (%s)\n", path, n == 0 ? "it is empty" : "out of memory");
        free(buf);
        return -1;
    }
    text_digest((const unsigned char *)buf, (size_t)n, d->digest); /* (the file's bytes) */
    char *full = realpath(path, NULL);
    snprintf(d->path, sizeof d->path, "%s", full ? full : path);
    free(full);
    if ((n = text_decode_or_say(buf, n, "gpt", d->path, "nanoGPT's prepare.py reads")) < 0) { /* its open(path, 'r') */
        free(buf), free(ids);
        return -1;
    }
    /* the distinct characters, sorted as they are found */
    bool seen[128] = {false};
    if (vocab_add_all(d->chars, &d->V, buf, n, seen) < 0) {
        fprintf(stderr, "gpt: %s has more than %d distinct characters: gpt's vocabulary holds at most %d\n", d->path,
                CHAR_VOCAB_MAX, CHAR_VOCAB_MAX);
        free(buf), free(ids);
        return -1;
    }
    short ascii[128];
    vocab_ascii_tokens(d->chars[0], d->V, ascii);
    long count = 0;
    for (long i = 0; i < n; i += char_len(buf + i))
        ids[count++] = (unsigned char)vocab_token(d->chars[0], d->V, ascii, buf + i);
    free(buf);
    d->ids = ids;
    d->n = count;
    d->n_train = (long)((double)count * 0.9); /* int(n * 0.9), over the characters */
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
