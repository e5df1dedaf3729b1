/* The example programs' settings tables (see settings.h). */
#include "settings.h"
#include "parse.h"
#include <stdio.h>
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

void setting_text(const setting *s, const void *cfg, char *buf, size_t n)
{
    const void *field = (const char *)cfg + s->offset;
    if (s->kind == SET_LONG)
        snprintf(buf, n, "%ld", *(const long *)field);
    else if (s->kind == SET_DOUBLE)
        snprintf(buf, n, "%.17g", *(const double *)field);
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
