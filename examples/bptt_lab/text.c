/* bptt_lab — the text: bytes as vocabulary ids, cut into parallel streams. */
#include "lab.h"
#include "text.h"
#include "../common/ckpt.h"
#include <stdlib.h>
#include <string.h>

int lab_text_read(const char *path, lab_text *t)
{
    char sonnets[512];
    snprintf(sonnets, sizeof sonnets, "%s/sonnets.txt", example_data_dir());
    path = path ? path : sonnets;
    long n;
    t->ids = (unsigned char *)file_bytes(path, &n, "bptt_lab");
    if (t->ids && n == 0) {
        fprintf(stderr, "bptt_lab: cannot read %s (it is empty)\n", path);
        free(t->ids);
        t->ids = NULL;
    }
    if (!t->ids)
        return -1;
    lab_text_ids(t, n);
    return 0;
}
