/* bptt_lab — a text as vocabulary ids, cut into parallel streams (no files: the web lab
 * page hands its text over as bytes). */
#include "text.h"
#include <string.h>

void lab_text_ids(lab_text *t, long n)
{
    int map[256];
    t->V = 0;
    for (int c = 0; c < 256; c++)
        map[c] = memchr(t->ids, c, (size_t)n) ? t->V++ : -1;
    for (long i = 0; i < n; i++)
        t->ids[i] = (unsigned char)map[t->ids[i]];
    t->n = n;
}

void lab_text_batch(const lab_text *t, long pos, long T, long B, float *x, float *y)
{
    long len = t->n / B;
    memset(x, 0, sizeof(float) * (size_t)(T * B * t->V));
    for (long s = 0; s < T; s++)
        for (long b = 0; b < B; b++) {
            long at = b * len + (pos + s) % (len - 1);
            x[(s * B + b) * t->V + t->ids[at]] = 1;
            y[s * B + b] = t->ids[at + 1];
        }
}
