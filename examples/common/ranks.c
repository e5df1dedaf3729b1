/* The example programs' agreement between MPI ranks (see ranks.h). */
#include "ranks.h"
#include "ckpt.h"
#include <cgrad.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool all_ranks_ok(bool ok)
{
    return cg_dist_size() <= 1 ? ok : cg_dist_allreduce_sum(ok ? 0.0 : 1.0) == 0.0;
}

bool all_ranks_same(const char *text, const char *prog)
{
    int ranks = cg_dist_size();
    if (ranks <= 1)
        return true;
    char digest[17];
    text_digest((const unsigned char *)text, strlen(text), digest);
    bool same = true;
    for (int part = 0; part < 4; part++) { /* 16 bits at a time: their sums are exact in a double */
        char hex[5] = {digest[4 * part], digest[4 * part + 1], digest[4 * part + 2], digest[4 * part + 3], 0};
        double mine = (double)strtoul(hex, NULL, 16);
        same &= cg_dist_allreduce_sum(mine) == mine * ranks; /* every rank's equal to its own: all equal */
    }
    if (!all_ranks_ok(same)) {
        if (cg_dist_rank() == 0)
            fprintf(stderr, "%s: the ranks were started with different settings, texts or files; every rank needs "
                            "the same command line\n", prog);
        return false;
    }
    return true;
}
