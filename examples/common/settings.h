/* The example programs' settings tables: each setting's name (in a checkpoint),
 * flag, kind, bounds and place in the program's config struct, so parsing,
 * --help, saving and resuming all check the same bounds. */
#ifndef CGRAD_EXAMPLES_SETTINGS_H
#define CGRAD_EXAMPLES_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { SET_LONG, SET_DOUBLE, SET_CHOICE } setting_kind;

typedef struct {
    const char *name, *flag;
    setting_kind kind;
    double lo, hi;                /* SET_LONG, SET_DOUBLE */
    size_t offset;                /* of the long, double or char[size] field */
    size_t size;                  /* SET_CHOICE: the field's buffer size */
    const char *const *choices;   /* SET_CHOICE: the allowed words, NULL-terminated */
} setting;

/* Sets the field from text; false (field untouched) when malformed or out of bounds. */
bool setting_set(const setting *s, void *cfg, const char *value);
/* The field as text that setting_set reads back to the same value. */
void setting_text(const setting *s, const void *cfg, char *buf, size_t n);

/* flag with its value among n settings: 2 (the arguments it took; bit k of *given set),
 * -1 for a bad value, 0 when flag is none of them. */
int settings_take(const setting *table, int n, void *cfg, unsigned *given, const char *flag, const char *value);

#endif
