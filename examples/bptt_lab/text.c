/* bptt_lab — the text: bytes as vocabulary ids, cut into parallel streams. */
#include "text.h"
#include <stdlib.h>
#include <string.h>

int lab_text_read(const char *path, lab_text *t)
{
    char sonnets[512];
    snprintf(sonnets, sizeof sonnets, "%s/sonnets.txt", example_data_dir());
    path = path ? path : sonnets;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bptt_lab: cannot open %s\n", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    t->ids = n > 0 ? malloc((size_t)n) : NULL;
    bool ok = t->ids && fread(t->ids, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    if (!ok) {
        fprintf(stderr, "bptt_lab: cannot read %s\n", path);
        free(t->ids);
        return -1;
    }
    int map[256];
    t->V = 0;
    for (int c = 0; c < 256; c++)
        map[c] = memchr(t->ids, c, (size_t)n) ? t->V++ : -1;
    for (long i = 0; i < n; i++)
        t->ids[i] = (unsigned char)map[t->ids[i]];
    t->n = n;
    return 0;
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
