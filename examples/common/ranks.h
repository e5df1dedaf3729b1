/* The example programs under mpirun: every rank must take the same way at each fork,
 * or the ranks hang in a collective call one of them never makes. */
#ifndef CGRAD_EXAMPLES_RANKS_H
#define CGRAD_EXAMPLES_RANKS_H

#include <stdbool.h>

/* Whether ok holds on every rank (a collective call when there are several ranks:
 * every rank makes it, in the same order); ok itself for one process. */
bool all_ranks_ok(bool ok);
/* Whether every rank was given the same text (the settings, files and data it will
 * use, written out): compared by digest before anything is allocated for them, so
 * ranks started with different command lines stop together; rank 0 says so, naming
 * prog. True for one process. */
bool all_ranks_same(const char *text, const char *prog);

#endif
