/* The example programs' checkpoint helpers (see ckpt.h). */
#include "ckpt.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

void hex_of(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

bool bytes_of(const char *hex, uint8_t *b, size_t n)
{
    if (!hex || strlen(hex) != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (!strchr("0123456789abcdef", hex[2 * i]) || !strchr("0123456789abcdef", hex[2 * i + 1]) ||
            sscanf(hex + 2 * i, "%2x", &v) != 1)
            return false;
        b[i] = (uint8_t)v;
    }
    return true;
}

bool ckpt_has_shape(cg_safetensors *f, const char *name, int64_t d0, int64_t d1)
{
    int64_t shape[CG_MAX_DIMS];
    return cg_safetensors_shape(f, name, shape) == 2 && shape[0] == d0 && shape[1] == d1;
}

static bool same_shape(cg_safetensors *f, const char *name, cg_tensor *t)
{
    int64_t shape[CG_MAX_DIMS];
    int nd = cg_safetensors_shape(f, name, shape);
    bool same = nd == cg_ndim(t);
    for (int d = 0; same && d < nd; d++)
        same = shape[d] == cg_shape(t)[d];
    return same;
}

int ckpt_read_tensors(cg_safetensors *f, cg_tensor *const *ts, const char *const *names, int n, const char *path,
                      const char *prog)
{
    for (int i = 0; i < n; i++)
        if (!same_shape(f, names[i], ts[i])) {
            fprintf(stderr, "%s: %s: '%s' is missing or has another shape\n", prog, path, names[i]);
            return -1;
        }
    for (int i = 0; i < n; i++)
        if (cg_safetensors_read_into(f, names[i], ts[i]) != 0) {
            fprintf(stderr, "%s: %s\n", prog, cg_last_error());
            return -1;
        }
    for (int i = 0; i < n; i++) /* a NaN weight would train on as "loss nan", or sample garbage */
        for (int64_t k = 0; k < cg_numel(ts[i]); k++)
            if (!isfinite(cg_data(ts[i])[k])) {
                fprintf(stderr, "%s: %s: '%s' holds %g at element %lld; refusing a damaged model\n", prog, path,
                        names[i], (double)cg_data(ts[i])[k], (long long)k);
                return -1;
            }
    return 0;
}
