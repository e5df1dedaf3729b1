/* bptt_lab — the text: bytes as vocabulary ids, cut into parallel streams. */
#include "lab.h"
#include "text.h"
#include <stdlib.h>
#include <string.h>

int lab_text_read(const char *path, lab_text *t)
{
    char sonnets[512];
    snprintf(sonnets, sizeof sonnets, "%s/sonnets.txt", example_data_dir());
    path = path ? path : sonnets;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bptt_lab: cannot open %s\n", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    t->ids = n > 0 ? malloc((size_t)n) : NULL;
    bool ok = t->ids && fread(t->ids, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    if (!ok) {
        fprintf(stderr, "bptt_lab: cannot read %s\n", path);
        free(t->ids);
        return -1;
    }
    lab_text_ids(t, n);
    return 0;
}
