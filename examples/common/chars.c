/* A text as characters and their vocabulary (see chars.h). */
#include "chars.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int char_len(const char *p)
{
    unsigned char b = (unsigned char)p[0];
    int n = b >= 0xF8 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
    for (int k = 1; k < n; k++) /* (a sequence cut short, or the text's end: the lead byte alone) */
        if (((unsigned char)p[k] & 0xC0) != 0x80)
            return 1;
    return n;
}

int char_count(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p += char_len(p))
        n++;
    return n;
}

/* The bytes of the valid UTF-8 sequence at p (of the n left), or 0: Python's strict decoder
 * (no overlong forms, no surrogates, nothing past U+10FFFF). */
static int utf8_valid_len(const unsigned char *p, long n)
{
    unsigned b = p[0];
    int len = b < 0x80 ? 1 : b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    /* the second byte's range narrows for E0 (no overlong), ED (no surrogate), F0 and F4 */
    unsigned lo = b == 0xE0 ? 0xA0 : b == 0xF0 ? 0x90 : 0x80, hi = b == 0xED ? 0x9F : b == 0xF4 ? 0x8F : 0xBF;
    for (int k = 1; k < len; k++)
        if (p[k] < (k == 1 ? lo : 0x80) || p[k] > (k == 1 ? hi : 0xBF))
            return 0;
    return len;
}

long text_decode(char *buf, long n, long *bad)
{
    long out = 0;
    for (long i = 0; i < n;) {
        int len = utf8_valid_len((const unsigned char *)buf + i, n - i);
        if (len == 0) {
            *bad = i;
            return -1;
        }
        if (buf[i] == '\r') { /* universal newlines: \r\n and \r read as \n */
            buf[out++] = '\n';
            i += i + 1 < n && buf[i + 1] == '\n' ? 2 : 1;
            continue;
        }
        for (int k = 0; k < len; k++) /* (in place: out <= i) */
            buf[out++] = buf[i++];
    }
    buf[out] = '\0';
    return out;
}

long text_decode_or_say(char *buf, long n, const char *prog, const char *path, const char *reader)
{
    long bad;
    if ((n = text_decode(buf, n, &bad)) < 0)
        fprintf(stderr, "%s: %s is not UTF-8 text (byte 0x%02x at offset %ld)%s%s\n", prog, path,
                (unsigned char)buf[bad], bad, reader ? ", which " : "", reader ? reader : "");
    return n;
}

/* the code point of the valid UTF-8 character at p */
static unsigned code_point(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    int len = char_len(p);
    unsigned c = len == 1 ? u[0] : u[0] & (0x7F >> len);
    for (int k = 1; k < len; k++)
        c = c << 6 | (u[k] & 0x3F);
    return c;
}

bool char_is_space(const char *p)
{
    unsigned c = code_point(p);
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

int char_line_break(const char *p)
{
    unsigned c = code_point(p);
    bool brk = c == 0x0A || c == 0x0B || c == 0x0C || c == 0x0D || (c >= 0x1C && c <= 0x1E) || c == 0x85 ||
               c == 0x2028 || c == 0x2029;
    if (!brk)
        return 0;
    return c == 0x0D && p[1] == '\n' ? 2 : char_len(p);
}

/* Two characters in code point order: their bytes' order (UTF-8 keeps it). */
static int char_cmp(const char *a, const char *b)
{
    int la = char_len(a), lb = char_len(b), c = memcmp(a, b, (size_t)(la < lb ? la : lb));
    return c ? c : la - lb;
}

/* Where the character at p is among V entries 5 bytes apart from first, or where it would
 * go: 0 <= *at <= V. */
static bool find(const char *first, int V, const char *p, int *at)
{
    int lo = 0, hi = V;
    while (lo < hi) {
        int mid = (lo + hi) / 2, c = char_cmp(first + 5 * mid, p);
        if (c == 0)
            return *at = mid, true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return *at = lo, false;
}

int vocab_index(const char *chars, int V, const char *p)
{
    int at;
    return find(chars, V, p, &at) ? at : -1;
}

int vocab_add(char_vocab chars, int *V, const char *p)
{
    int at;
    if (find(chars[0], *V, p, &at))
        return at;
    if (*V == CHAR_VOCAB_MAX)
        return -1;
    memmove(chars[at + 1], chars[at], sizeof chars[0] * (size_t)(*V - at));
    memset(chars[at], 0, sizeof chars[at]);
    memcpy(chars[at], p, (size_t)char_len(p));
    (*V)++;
    return at;
}

int vocab_add_all(char_vocab chars, int *V, const char *text, long n, bool seen[128])
{
    for (long i = 0; i < n; i += char_len(text + i)) {
        unsigned char b = (unsigned char)text[i];
        if (b < 128 && seen[b])
            continue;
        if (vocab_add(chars, V, text + i) < 0)
            return -1;
        if (b < 128)
            seen[b] = true;
    }
    return 0;
}

void vocab_ascii_tokens(const char *chars, int V, short table[128])
{
    for (int b = 0; b < 128; b++) {
        char ch[2] = {(char)b, 0};
        table[b] = (short)vocab_index(chars, V, ch);
    }
}

bool vocab_sorted_after(char_vocab chars, int v)
{
    return v == 0 || char_cmp(chars[v - 1], chars[v]) < 0;
}

static int index_of(char (*vocab)[5], int V, const char *ch)
{
    for (int v = 0; v < V; v++)
        if (!strcmp(vocab[v], ch))
            return v;
    return -1;
}

int char_text_read(const char *text, char_text *ct)
{
    *ct = (char_text){.n = char_count(text)};
    ct->ids = malloc(sizeof(int) * (size_t)(ct->n ? ct->n : 1));
    ct->vocab = calloc((size_t)(ct->n ? ct->n : 1), sizeof *ct->vocab);
    if (!ct->ids || !ct->vocab) {
        char_text_free(ct);
        return -1;
    }
    const char *p = text;
    for (int t = 0; t < ct->n; p += char_len(p), t++) {
        char ch[5] = {0};
        memcpy(ch, p, (size_t)char_len(p));
        if (t == 0)
            ct->first_len = char_len(p);
        if ((ct->ids[t] = index_of(ct->vocab, ct->V, ch)) < 0)
            memcpy(ct->vocab[ct->ids[t] = ct->V++], ch, sizeof ch);
    }
    return 0;
}

void char_text_free(char_text *ct)
{
    free(ct->ids);
    free(ct->vocab);
    *ct = (char_text){0};
}
