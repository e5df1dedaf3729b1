/* bptt_lab — a text as character ids, read in B parallel streams (truncate, clip). */
#ifndef BPTT_LAB_TEXT_H
#define BPTT_LAB_TEXT_H

#include "flow.h"

typedef struct {
    unsigned char *ids;
    long n;
    int V;
} lab_text;

/* path NULL: the sonnets shipped in data/. */
int lab_text_read(const char *path, lab_text *t);
/* t->ids holding n bytes of text: turned into vocabulary ids in place, t->V and t->n set. */
void lab_text_ids(lab_text *t, long n);
/* One ReLU RNN run of clip (clip_run.c): loss[s] and the gradient norm before clipping
 * gnorm[s] per step, NAN once the loss is no longer finite; 0, or -1 (out of memory). */
int clip_run(const lab_text *text, long steps, long seed, double rho, float max_norm, double *loss, double *gnorm);
/* One run of truncate (truncate_run.c): chunks of T characters, chars characters read
 * in all; its loss and the characters read so far per step (malloc'd), steps and
 * seconds. 0, or -1 (out of memory). */
#define TRUNCATE_HID 64
#define TRUNCATE_STREAMS 16
typedef struct {
    double *chars, *loss; /* one point per step */
    long steps;
    double seconds;
} truncate_curve;
int truncate_run(const lab_text *text, long T, long chars, long seed, truncate_curve *cv);
/* One-hot x (T, B, V) and targets y (T*B) of the chunk at pos of each of B streams. */
void lab_text_batch(const lab_text *t, long pos, long T, long B, float *x, float *y);

#endif
