/* charrnn — the text: its bytes as vocabulary indices, and batches of chunks. */
#include "charrnn.h"
#include "../common/ckpt.h"
#include <stdlib.h>
#include <string.h>

int read_text(const char *path, corpus *c)
{
    long n;
    unsigned char *buf = (unsigned char *)file_bytes(path, &n, "charrnn"); /* (at most 1 GiB) */
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
