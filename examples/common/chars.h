/* A text as characters: UTF-8 sequences (a stray byte is a character of its own), as
 * PyTorch's tutorials read Python strings ("héllo" is five). char_text: a text with its
 * vocabulary in order of first appearance ("hihello": h i e l o), for the hello example and
 * the web hello page; char_vocab: a sorted vocabulary, for gpt and wordgen. */
#ifndef CGRAD_EXAMPLES_CHARS_H
#define CGRAD_EXAMPLES_CHARS_H

#include <stdbool.h>

typedef struct {
    int n, V;          /* characters in the text; distinct ones */
    int *ids;          /* each character's place in the vocabulary */
    char (*vocab)[5];  /* the distinct characters, each NUL-terminated (1 to 4 bytes) */
    int first_len;     /* the first character's bytes (the text after it: the targets) */
} char_text;

/* A sorted vocabulary of up to CHAR_VOCAB_MAX characters, each NUL-terminated, in code point
 * order (the order of their UTF-8 bytes), as Python's sorted(set(text)) makes it: gpt's and
 * wordgen's (nanoGPT's prepare.py, makemore). */
#define CHAR_VOCAB_MAX 256
typedef char char_vocab[CHAR_VOCAB_MAX][5];
/* the token for the character at p, or -1, in a vocabulary of V (chars: a char_vocab's first
 * entry, its entries 5 bytes apart) */
int vocab_index(const char *chars, int V, const char *p);
/* the character at p added in its place (when new): its token after, or -1 when the
 * vocabulary is full. (Tokens after it move up: add every character before using any.) */
int vocab_add(char_vocab chars, int *V, const char *p);
/* Every character of text (n bytes) added: an ASCII one looked up in seen first (128 flags
 * the caller keeps, zeroed, across the texts of one vocabulary), the rest searched; 0, or -1
 * when the vocabulary is full. (A text's million characters took 80 ms one search each.) */
int vocab_add_all(char_vocab chars, int *V, const char *text, long n, bool seen[128]);
/* each ASCII character's token in a vocabulary of V (-1: not in it), for vocab_token */
void vocab_ascii_tokens(const char *chars, int V, short table[128]);
/* vocab_index, without the search for an ASCII character */
static inline int vocab_token(const char *chars, int V, const short table[128], const char *p)
{
    unsigned char b = (unsigned char)*p;
    return b < 128 ? table[b] : vocab_index(chars, V, p);
}
/* whether chars[v] comes after chars[v - 1] (always for v = 0) */
bool vocab_sorted_after(char_vocab chars, int v);

/* A file's n bytes in buf (n + 1 long) as Python's open(path, 'r').read() gives them,
 * decoded in place: UTF-8, strictly (-1, *bad the offset of the first byte that does not
 * decode), with universal newlines (\r\n and a lone \r become \n); the new length, the
 * text NUL-terminated. (nanoGPT's prepare.py and makemore read their text so.) */
long text_decode(char *buf, long n, long *bad);
/* text_decode, and on a byte that does not decode one line on stderr: "prog: path is not
 * UTF-8 text (byte 0xNN at offset N)" and ", which READER reads" when reader is not NULL */
long text_decode_or_say(char *buf, long n, const char *prog, const char *path, const char *reader);
/* Python's str.isspace() for the character at p (what str.strip() takes off) */
bool char_is_space(const char *p);
/* the bytes of the line boundary str.splitlines() sees at p (\n, \r, \r\n, \v, \f,
 * \x1c-\x1e, U+0085, U+2028, U+2029), or 0 */
int char_line_break(const char *p);
/* The bytes of the character at p (1 to 4). */
int char_len(const char *p);
/* How many characters text holds. */
int char_count(const char *text);
/* text read into ct; 0, or -1 when out of memory (ct then holds nothing). */
int char_text_read(const char *text, char_text *ct);
void char_text_free(char_text *ct);

#endif
