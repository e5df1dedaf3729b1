/* wordgen — sampling, as makemore's generate(): every word starts as token 0;
 * each step runs the model on what is there, takes softmax of the last
 * position's logits and draws the next token with cg_multinomial, until T-1
 * tokens; a word ends at its first 0. */
#include "wordgen.h"
#include <stdlib.h>
#include <string.h>

static int compare_words(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The words of a set, sorted, to look samples up in. */
static char **sorted_set(const words *w, const long *set, long n)
{
    char **s = malloc(sizeof(char *) * (size_t)(n ? n : 1));
    for (long i = 0; s && i < n; i++)
        s[i] = w->word[set[i]];
    if (s)
        qsort(s, (size_t)n, sizeof(char *), compare_words);
    return s;
}

static bool in_set(char **set, long n, const char *word)
{
    return bsearch(&word, set, (size_t)n, sizeof(char *), compare_words) != NULL;
}

/* One more token for every row of ids (n rows of T, len written): the model on the
 * (n, len) prefix, softmax of the last position, one draw each. */
static int grow(model *m, float *ids, long n, int len)
{
    cg_frame_begin();
    cg_tensor *x = cg_empty(CG_SHAPE(n, len)), *next = NULL;
    if (x) {
        for (long b = 0; b < n; b++)
            memcpy(cg_data(x) + b * len, ids + b * m->T, sizeof(float) * (size_t)len);
        cg_tensor *logits = model_forward(m, x); /* (n, len, V) */
        next = cg_multinomial(cg_softmax(cg_select(logits, 1, len - 1), -1), 1, true);
    }
    for (long b = 0; next && b < n; b++)
        ids[b * m->T + len] = cg_data(next)[b];
    if (!next)
        fprintf(stderr, "wordgen: sampling: %s\n", cg_last_error());
    cg_frame_end();
    return next ? 0 : -1;
}

/* Row b of ids as text (tokens after the first, up to the next 0; out: 4 T + 1 bytes). */
static void decode(const model *m, const words *w, const float *row, char *out)
{
    *out = '\0';
    for (int t = 1; t < m->T && row[t] != 0.0f; t++)
        out = stpcpy(out, w->chars[(int)row[t] - 1]);
}

int print_samples(model *m, const words *w, long n)
{
    if (n <= 0)
        return 0;
    float *ids = calloc((size_t)(n * m->T), sizeof(float));
    char *word = malloc((size_t)m->T * 4 + 1);
    char **train = sorted_set(w, w->train, w->n_train), **test = sorted_set(w, w->test, w->n_test);
    int rc = ids && word && train && test ? 0 : -1;
    cg_no_grad_begin();
    cg_module_train(m->root, false);
    for (int len = 1; rc == 0 && len < m->T; len++)
        rc = grow(m, ids, n, len);
    cg_module_train(m->root, true);
    cg_no_grad_end();
    for (long b = 0; rc == 0 && b < n; b++) {
        decode(m, w, ids + b * m->T, word);
        printf("%-8s %s\n", in_set(train, w->n_train, word) ? "(train)" : in_set(test, w->n_test, word) ? "(test)" : "(new)",
               word);
    }
    free(ids);
    free(word);
    free(train);
    free(test);
    return rc;
}
