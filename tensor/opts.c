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
    if (!given || !strcmp(given, CG_ALL_OPTIONS)) {
        /* Built by hand: all fields as written (CG_ALL_OPTIONS), or none set ({0}).
         * A struct with fields set but no .given would have them silently
         * ignored, so it is refused. */
        for (int f = 0; f < nfields; f++) {
            const unsigned char *p = (const unsigned char *)user + fields[f].offset;
            bool zero = true;
            for (size_t b = 0; b < fields[f].size; b++)
                zero &= p[b] == 0;
            if (given)
                memcpy((char *)dst + fields[f].offset, p, fields[f].size);
            else if (!zero) {
                cg__error("%s: options built by hand set .%s but not .given, so cgrad cannot tell which "
                          "fields to use over the defaults; build them with CG_OPTS(type, .%s = ...), or set "
                          ".given = CG_ALL_OPTIONS to take every field as written", op, fields[f].name,
                          fields[f].name);
                return -1;
            }
        }
        return 0;
    }
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
