/* cgrad — a module's parameters to and from safetensors files. */
#include "nn_internal.h"
#include <string.h>

int cg_module_save(cg_module *m, const char *path)
{
    if (!cg__module_check(m, -1, "cg_module_save"))
        return -1;
    const char *key = "format", *value = "pt"; /* what torch's safetensors writer records */
    return cg_safetensors_save(path, m->nparams, (const char *const *)m->names, m->params, 1, &key, &value);
}

int cg_module_load(cg_module *m, const char *path)
{
    if (!cg__module_check(m, -1, "cg_module_load"))
        return -1;
    cg_safetensors *f = cg_safetensors_open(path);
    if (!f)
        return -1;
    int rc = -1;
    char a[CG_SHAPE_BUF], b[CG_SHAPE_BUF];
    /* Check everything before changing anything. */
    for (int i = 0; i < m->nparams; i++) {
        int64_t shape[CG_MAX_DIMS];
        int nd = cg_safetensors_shape(f, m->names[i], shape);
        if (nd < 0) {
            cg__error("cg_module_load: %s: missing key '%s' for %s", path, m->names[i], m->type);
            goto out;
        }
        const cg_tensor *p = m->params[i];
        bool same = nd == p->ndim;
        for (int d = 0; same && d < nd; d++)
            same = shape[d] == p->shape[d];
        if (!same) {
            cg__error("cg_module_load: %s: '%s' has shape %s in the file, %s in the module", path, m->names[i],
                      cg__shape_fmt(a, nd, shape), cg__shape_fmt(b, p->ndim, p->shape));
            goto out;
        }
    }
    for (int i = 0; i < cg_safetensors_count(f); i++) {
        const char *name = cg_safetensors_name(f, i);
        bool known = false;
        for (int k = 0; k < m->nparams && !known; k++)
            known = !strcmp(name, m->names[k]);
        if (!known) {
            cg__error("cg_module_load: %s: unexpected key '%s' for %s", path, name, m->type);
            goto out;
        }
    }
    for (int i = 0; i < m->nparams; i++)
        cg_safetensors_read_into(f, m->names[i], m->params[i]);
    rc = 0;
out:
    cg_safetensors_close(f);
    return rc;
}
