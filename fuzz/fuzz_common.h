/* cgrad fuzzing — what the harnesses share: the input written to a file of
 * this process's own (the readers under test take a path, as users call them). */
#ifndef CGRAD_FUZZ_COMMON_H
#define CGRAD_FUZZ_COMMON_H

#include <cgrad.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline const char *fuzz_write_file(const uint8_t *data, size_t size)
{
    static char path[128];
    if (!path[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/cgrad_fuzz_%d.safetensors", dir ? dir : "/tmp", (int)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort(); /* the harness's own failure, not cgrad's */
    return path;
}

/* A failed call must say why: a NULL or negative result with no message is a bug. */
static inline void fuzz_require_message(void)
{
    if (cg_last_error()[0] == '\0')
        abort();
}

#endif
