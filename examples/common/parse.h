/* The example programs' flag values: whole numbers and reals read strictly
 * (the whole text, within bounds), so a bad flag is refused, never guessed. */
#ifndef CGRAD_EXAMPLES_PARSE_H
#define CGRAD_EXAMPLES_PARSE_H

#include <stdbool.h>

bool parse_long(const char *s, long lo, long hi, long *out);
bool parse_double(const char *s, double lo, double hi, double *out);

#endif
