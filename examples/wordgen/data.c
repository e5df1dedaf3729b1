/* wordgen — the words: read as makemore reads them (UTF-8 text, its lines stripped),
 * tokenised by character, split into train and test as the PyTorch script splits them (the
 * same torch.randperm), and encoded in batches. */
#include "wordgen.h"
#include "../common/ckpt.h"
#include <stdlib.h>
#include <string.h>

#define MAX_WORD 1000 /* a longer "word" is a file that is not a word list */

/* Where the character that ends at byte e (past start) begins. */
static long char_before(const char *text, long start, long e)
{
    long k = e - 1;
    while (k > start && ((unsigned char)text[k] & 0xC0) == 0x80)
        k--;
    return k;
}

/* Cuts the text into lines as str.splitlines() does, strips each as str.strip() does
 * (Python's whitespace) and keeps the non-empty ones, NUL-terminated: makemore's words. */
static int split_lines(words *w, long size)
{
    long cap = 1;
    for (long i = 0; i < size; i += char_len(w->text + i))
        cap += char_line_break(w->text + i) > 0;
    w->word = malloc(sizeof(char *) * (size_t)cap);
    w->len = malloc(sizeof(int) * (size_t)cap);
    if (!w->word || !w->len)
        return -1;
    for (long i = 0; i < size;) {
        long end = i;
        int brk = 0;
        while (end < size && !(brk = char_line_break(w->text + end)))
            end += char_len(w->text + end);
        long a = i, b = end;
        while (a < b && char_is_space(w->text + a))
            a += char_len(w->text + a);
        while (b > a && char_is_space(w->text + char_before(w->text, a, b)))
            b = char_before(w->text, a, b);
        if (b - a > MAX_WORD)
            return -2;
        if (b > a) {
            w->text[b] = '\0'; /* (over a space or the line's break: the next line starts past it) */
            w->word[w->n] = w->text + a;
            w->len[w->n++] = (int)(b - a);
        }
        i = end + brk;
    }
    return 0;
}

/* The sorted distinct characters (makemore's sorted(set(''.join(words)))) and each word's
 * length in them; false when there are more than the vocabulary holds. */
static bool make_vocabulary(words *w)
{
    int longest = 0, V = 0;
    bool seen[128] = {false};
    for (long i = 0; i < w->n; i++) {
        if (vocab_add_all(w->chars, &V, w->word[i], w->len[i], seen) < 0)
            return false;
        w->len[i] = char_count(w->word[i]); /* (bytes until now) */
        longest = w->len[i] > longest ? w->len[i] : longest;
    }
    vocab_ascii_tokens(w->chars[0], V, w->ascii);
    w->V = V + 1;
    w->T = longest + 1;
    return true;
}

int words_read(const char *path, words *w)
{
    *w = (words){0};
    long size = 0;
    if (!(w->text = file_bytes(path, &size, "wordgen")))
        return -1;
    text_digest((const unsigned char *)w->text, (size_t)size, w->digest); /* (the file's bytes) */
    char *full = realpath(path, NULL); /* a resumed run finds them from any directory */
    snprintf(w->path, sizeof w->path, "%s", full ? full : path);
    free(full);
    /* makemore's open(path, 'r').read(): UTF-8, line ends \r\n and \r as \n */
    const char *nul = memchr(w->text, '\0', (size_t)size);
    if (nul)
        fprintf(stderr, "wordgen: %s has a NUL byte (at offset %ld): not a list of words\n", w->path,
                (long)(nul - w->text));
    if (nul || (size = text_decode_or_say(w->text, size, "wordgen", w->path, "makemore reads")) < 0) {
        words_free(w);
        return -1;
    }
    int rc = split_lines(w, size);
    if (rc != 0 || w->n < 2) {
        fprintf(stderr, "wordgen: %s: %s\n", path,
                rc == -1 ? "out of memory" : rc == -2 ? "a line longer than 1000 bytes: not a list of words"
                                                      : "needs at least two words, one per line");
        words_free(w);
        return -1;
    }
    if (!make_vocabulary(w)) {
        fprintf(stderr, "wordgen: %s has more than %d distinct characters: wordgen's vocabulary holds at most %d\n",
                path, CHAR_VOCAB_MAX, CHAR_VOCAB_MAX);
        words_free(w);
        return -1;
    }
    return 0;
}

int words_split(words *w)
{
    w->n_test = w->n / 10 < 1000 ? w->n / 10 : 1000;
    if (w->n_test < 1)
        w->n_test = 1;
    w->n_train = w->n - w->n_test;
    cg_tensor *perm = cg_randperm(w->n);
    w->train = malloc(sizeof(long) * (size_t)w->n);
    if (!perm || !w->train) {
        fprintf(stderr, "wordgen: %s\n", perm ? "out of memory" : cg_last_error());
        cg_tensor_free(perm);
        return -1;
    }
    const float *p = cg_data(perm);
    for (long i = 0; i < w->n; i++)
        w->train[i] = (long)p[i];
    w->test = w->train + w->n_train;
    cg_tensor_free(perm);
    return 0;
}

void words_free(words *w)
{
    free(w->text);
    free(w->word);
    free(w->len);
    free(w->train);
    *w = (words){0};
}

void words_encode(const words *w, const long *rows, long B, float *x, float *y)
{
    for (long b = 0; b < B; b++) {
        const char *p = w->word[rows[b]];
        int n = w->len[rows[b]];
        float *xb = x + b * w->T, *yb = y + b * w->T;
        for (int t = 0; t < w->T; t++) { /* x: 0 then the word's tokens; y: the tokens then 0, then -1 */
            float tok = t < n ? (float)(vocab_token(w->chars[0], w->V - 1, w->ascii, p) + 1) : 0.0f;
            xb[t] = t == 0 ? 0.0f : t <= n ? yb[t - 1] : 0.0f;
            yb[t] = t < n ? tok : t == n ? 0.0f : -1.0f;
            if (t < n)
                p += char_len(p);
        }
    }
}
