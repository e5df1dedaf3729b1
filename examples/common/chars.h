/* A text as characters: UTF-8 sequences (a stray byte is a character of its own), as
 * PyTorch's tutorials read Python strings ("héllo" is five), with their vocabulary in order
 * of first appearance ("hihello": h i e l o). The hello example and the web hello page. */
#ifndef CGRAD_EXAMPLES_CHARS_H
#define CGRAD_EXAMPLES_CHARS_H

typedef struct {
    int n, V;          /* characters in the text; distinct ones */
    int *ids;          /* each character's place in the vocabulary */
    char (*vocab)[5];  /* the distinct characters, each NUL-terminated (1 to 4 bytes) */
    int first_len;     /* the first character's bytes (the text after it: the targets) */
} char_text;

/* The bytes of the character at p (1 to 4). */
int char_len(const char *p);
/* How many characters text holds. */
int char_count(const char *text);
/* text read into ct; 0, or -1 when out of memory (ct then holds nothing). */
int char_text_read(const char *text, char_text *ct);
void char_text_free(char_text *ct);

#endif
