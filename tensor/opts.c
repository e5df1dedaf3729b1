/* cgrad — option structs: apply the fields a caller wrote over the defaults.
 * The option macros stringify the caller's designated initialisers into
 * `.given`; here we read the field names back out of that text. */
#include "tensor_internal.h"
#include <ctype.h>
#include <string.h>

/* Finds the end of one top-level initialiser item (a comma outside brackets/quotes). */
static const char *item_end(const char *s)
{
    int depth = 0;
    char quote = 0;
    for (; *s; s++) {
        if (quote) {
            if (*s == '\\' && s[1])
                s++;
            else if (*s == quote)
                quote = 0;
        } else if (*s == '"' || *s == '\'') {
            quote = *s;
        } else if (*s == '(' || *s == '[' || *s == '{') {
            depth++;
        } else if (*s == ')' || *s == ']' || *s == '}') {
            depth--;
        } else if (*s == ',' && depth == 0) {
            break;
        }
    }
    return s;
}

int cg__opts_merge(void *dst, const void *user, const char *given,
                   const cg__opt_field *fields, int nfields, const char *op)
{
    if (!given)
        return 0;
    /* Validate every name first so a bad option changes nothing. */
    for (int pass = 0; pass < 2; pass++) {
        for (const char *s = given; *s;) {
            const char *end = item_end(s);
            while (s < end && isspace((unsigned char)*s))
                s++;
            if (s < end) {
                if (*s != '.') {
                    cg__error("%s: options must be written as .name = value (got '%.*s')", op,
                              (int)(end - s), s);
                    return -1;
                }
                const char *name = ++s;
                while (s < end && (isalnum((unsigned char)*s) || *s == '_'))
                    s++;
                size_t len = (size_t)(s - name);
                int found = -1;
                for (int f = 0; f < nfields; f++)
                    if (strlen(fields[f].name) == len && !strncmp(fields[f].name, name, len))
                        found = f;
                if (found < 0) {
                    cg__error("%s: unknown option .%.*s", op, (int)len, name);
                    return -1;
                }
                if (pass == 1)
                    memcpy((char *)dst + fields[found].offset,
                           (const char *)user + fields[found].offset, fields[found].size);
            }
            s = *end ? end + 1 : end;
        }
    }
    return 0;
}
