/* charrnn — the text: its bytes as vocabulary indices, and batches of chunks. */
#include "charrnn.h"
#include "../common/ckpt.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TEXT (1L << 30)

/* The whole file in memory (at most 1 GiB); NULL with a message. */
static unsigned char *slurp(const char *path, long *n_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "charrnn: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    long cap = 1 << 16, n = 0;
    unsigned char *buf = malloc((size_t)cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, (size_t)(cap - n), f)) > 0) {
        n += (long)got;
        if (n < cap)
            continue;
        unsigned char *bigger = cap <= MAX_TEXT ? realloc(buf, (size_t)(cap *= 2)) : NULL;
        if (!bigger) {
            fprintf(stderr, "charrnn: %s: %s\n", path, cap > MAX_TEXT ? "larger than 1 GiB" : "out of memory");
            free(buf);
            fclose(f);
            return NULL;
        }
        buf = bigger;
    }
    bool failed = !buf || ferror(f);
    fclose(f);
    if (failed) {
        fprintf(stderr, "charrnn: cannot read %s\n", path);
        free(buf);
        return NULL;
    }
    *n_out = n;
    return buf;
}

int read_text(const char *path, corpus *c)
{
    long n;
    unsigned char *buf = slurp(path, &n);
    if (!buf)
        return -1;
    text_digest(buf, (size_t)n, c->digest);
    char *full = realpath(path, NULL); /* a resumed run finds it from any directory */
    snprintf(c->path, sizeof c->path, "%s", full ? full : path);
    free(full);
    /* the vocabulary: every byte value that occurs, NUL included, in order */
    bool seen[256] = {false};
    for (long i = 0; i < n; i++)
        seen[buf[i]] = true;
    int map[256];
    c->V = 0;
    for (int ch = 0; ch < 256; ch++)
        if (seen[ch]) {
            map[ch] = c->V;
            c->vocab[c->V++] = (unsigned char)ch;
        }
    for (long i = 0; i < n; i++)
        buf[i] = (unsigned char)map[buf[i]];
    c->ids = buf;
    c->n = n;
    return 0;
}

void make_batch(const corpus *c, long start, long stream_len, long pos, long T, long B, float *x, float *y)
{
    memset(x, 0, sizeof(float) * (size_t)(T * B * c->V));
    for (long t = 0; t < T; t++)
        for (long b = 0; b < B; b++) {
            long at = start + b * stream_len + pos + t;
            x[(t * B + b) * c->V + c->ids[at]] = 1;
            y[t * B + b] = c->ids[at + 1];
        }
}
