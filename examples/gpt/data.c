/* gpt — the data as nanoGPT's data/shakespeare_char/prepare.py makes it: the sorted
 * distinct characters as the vocabulary (UTF-8 sequences, as Python reads the text; ASCII
 * text gives its bytes), the first 90% of the characters to train on and the rest to
 * validate; and train.py's get_batch. */
#include "gpt.h"
#include "../common/chars.h"
#include "../common/ckpt.h"
#include <stdlib.h>
#include <string.h>

/* Two characters in code point order: their bytes' order (UTF-8 keeps it). */
static int char_cmp(const char *a, const char *b)
{
    int la = char_len(a), lb = char_len(b), c = memcmp(a, b, (size_t)(la < lb ? la : lb));
    return c ? c : la - lb;
}

/* Where the character at p is in chars, or where it would go: 0 <= *at <= V. */
static bool find(gpt_vocab chars, int V, const char *p, int *at)
{
    int lo = 0, hi = V;
    while (lo < hi) {
        int mid = (lo + hi) / 2, c = char_cmp(chars[mid], p);
        if (c == 0)
            return *at = mid, true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return *at = lo, false;
}

int vocab_index(gpt_vocab chars, int V, const char *p)
{
    int at;
    return find(chars, V, p, &at) ? at : -1;
}

void vocab_to_hex(const char *chars, int V, char *out)
{
    uint8_t bytes[4 * GPT_MAX_VOCAB];
    size_t n = 0;
    for (int v = 0; v < V; v++)
        for (int k = 0; k < char_len(chars + 5 * v); k++)
            bytes[n++] = (uint8_t)chars[5 * v + k];
    hex_of(bytes, n, out);
}

int vocab_from_hex(const char *hex, gpt_vocab chars)
{
    size_t len = strlen(hex);
    char bytes[4 * GPT_MAX_VOCAB + 1];
    if (len < 2 || len % 2 || len / 2 > 4 * GPT_MAX_VOCAB || !bytes_of(hex, (uint8_t *)bytes, len / 2))
        return -1;
    bytes[len / 2] = '\0'; /* (a last character's bytes stop there) */
    int V = 0;
    for (size_t i = 0; i < len / 2; i += (size_t)char_len(bytes + i)) {
        if (V == GPT_MAX_VOCAB)
            return -1;
        memset(chars[V], 0, sizeof chars[V]);
        memcpy(chars[V], bytes + i, (size_t)char_len(bytes + i));
        if (V > 0 && char_cmp(chars[V - 1], chars[V]) >= 0) /* sorted, each once */
            return -1;
        V++;
    }
    return V;
}

int data_read(const char *path, dataset *d)
{
    *d = (dataset){0};
    FILE *f = fopen(path, "rb");
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    char *buf = f && n > 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)n + 1) : NULL;
    bool ok = buf && fread(buf, 1, (size_t)n, f) == (size_t)n;
    if (f)
        fclose(f);
    unsigned char *ids = ok ? malloc((size_t)n) : NULL;
    if (!ok || !ids) {
        fprintf(stderr, "gpt: cannot read %s%s\n", path, f && n == 0 ? " (it is empty)" : "");
        free(buf), free(ids);
        return -1;
    }
    buf[n] = '\0'; /* (a last character's bytes stop there) */
    text_digest((const unsigned char *)buf, (size_t)n, d->digest);
    char *full = realpath(path, NULL);
    snprintf(d->path, sizeof d->path, "%s", full ? full : path);
    free(full);
    /* the distinct characters, sorted as they are found */
    for (long i = 0; i < n; i += char_len(buf + i)) {
        int at;
        if (find(d->chars, d->V, buf + i, &at))
            continue;
        if (d->V == GPT_MAX_VOCAB) {
            fprintf(stderr, "gpt: %s has more than %d distinct characters: gpt's vocabulary holds at most %d\n",
                    d->path, GPT_MAX_VOCAB, GPT_MAX_VOCAB);
            free(buf), free(ids);
            return -1;
        }
        memmove(d->chars[at + 1], d->chars[at], sizeof d->chars[0] * (size_t)(d->V - at));
        memset(d->chars[at], 0, sizeof d->chars[at]);
        memcpy(d->chars[at], buf + i, (size_t)char_len(buf + i));
        d->V++;
    }
    long count = 0;
    for (long i = 0; i < n; i += char_len(buf + i))
        ids[count++] = (unsigned char)vocab_index(d->chars, d->V, buf + i);
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
