/* The example programs' flag values, read strictly. */
#include "parse.h"
#include <cgrad.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <stdlib.h>

bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = s ? strtod(s, &end) : 0;
    if (!s || end == s || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

bool asked_version(int argc, char **argv, const char *prog)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--version")) {
            printf("%s (cgrad %s)\n", prog, cg_version_string());
            return true;
        }
    return false;
}

#ifndef CGRAD_DATA_DIR
#define CGRAD_DATA_DIR "data"
#endif
#ifndef CGRAD_SOURCE_DATA_DIR
#define CGRAD_SOURCE_DATA_DIR CGRAD_DATA_DIR
#endif

const char *example_data_dir(void)
{
    return access(CGRAD_DATA_DIR "/sonnets.txt", R_OK) == 0 ? CGRAD_DATA_DIR : CGRAD_SOURCE_DATA_DIR;
}
