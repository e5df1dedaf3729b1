/* The example programs' flag values: whole numbers and reals read strictly
 * (the whole text, within bounds), so a bad flag is refused, never guessed. */
#ifndef CGRAD_EXAMPLES_PARSE_H
#define CGRAD_EXAMPLES_PARSE_H

#include <stdbool.h>

bool parse_long(const char *s, long lo, long hi, long *out);
/* The folder of the example texts (tinyshakespeare.txt, sonnets.txt): the installed one
 * when there is one, else the source tree's. */
const char *example_data_dir(void);
/* --version anywhere in the arguments: prints "PROG (cgrad VERSION)" and returns true. */
bool asked_version(int argc, char **argv, const char *prog);
bool parse_double(const char *s, double lo, double hi, double *out);

#endif
