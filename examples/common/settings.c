/* The example programs' settings tables (see settings.h). */
#include "settings.h"
#include "parse.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool setting_set(const setting *s, void *cfg, const char *value)
{
    void *field = (char *)cfg + s->offset;
    switch (s->kind) {
    case SET_LONG:
        return parse_long(value, (long)s->lo, (long)s->hi, field);
    case SET_DOUBLE:
        return parse_double(value, s->lo, s->hi, field);
    case SET_CHOICE:
        for (int i = 0; value && s->choices[i]; i++)
            if (!strcmp(value, s->choices[i])) {
                snprintf(field, s->size, "%s", value);
                return true;
            }
        return false;
    }
    return false;
}

/* The fewest digits that read back as the same double, as Python's repr (0.2, not
 * 0.20000000000000001; 1.0), so help and checkpoints show nanoGPT's values as it writes them. */
static void shortest_double(double v, char *buf, size_t n)
{
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, n, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".einf") && strlen(buf) + 2 < n) /* 1.0, as Python writes a float */
        strcat(buf, ".0");
}

void setting_text(const setting *s, const void *cfg, char *buf, size_t n)
{
    const void *field = (const char *)cfg + s->offset;
    if (s->kind == SET_LONG)
        snprintf(buf, n, "%ld", *(const long *)field);
    else if (s->kind == SET_DOUBLE)
        shortest_double(*(const double *)field, buf, n);
    else
        snprintf(buf, n, "%s", (const char *)field);
}

int settings_take(const setting *table, int n, void *cfg, unsigned *given, const char *flag, const char *value)
{
    for (int k = 0; k < n; k++)
        if (!strcmp(flag, table[k].flag)) {
            if (!setting_set(&table[k], cfg, value))
                return -1;
            *given |= 1u << k;
            return 2;
        }
    return 0;
}
