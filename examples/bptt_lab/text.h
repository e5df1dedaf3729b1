/* bptt_lab — a text as character ids, read in B parallel streams (truncate, clip). */
#ifndef BPTT_LAB_TEXT_H
#define BPTT_LAB_TEXT_H

#include "lab.h"

typedef struct {
    unsigned char *ids;
    long n;
    int V;
} lab_text;

/* path NULL: the sonnets shipped in data/. */
int lab_text_read(const char *path, lab_text *t);
/* One-hot x (T, B, V) and targets y (T*B) of the chunk at pos of each of B streams. */
void lab_text_batch(const lab_text *t, long pos, long T, long B, float *x, float *y);

#endif
