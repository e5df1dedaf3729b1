/* cgrad — a module's parameters to and from safetensors files. */
#include "nn_internal.h"
#include <stdlib.h>
#include <string.h>

/* Whether state-dict entry i is written: a tensor registered under several names (a
 * tied weight) is written once, under the first of its names in sorted order, as
 * safetensors' save_model does, so that torch's load_model reads the file back. */
static bool written(const cg_module *m, int i)
{
    for (int k = 0; k < m->nparams; k++)
        if (k != i && m->params[k] == m->params[i] && strcmp(m->names[k], m->names[i]) < 0)
            return false;
    return true;
}

int cg_module_save(cg_module *m, const char *path)
{
    if (!cg__module_check(m, -1, "cg_module_save"))
        return -1;
    const char **names = malloc(sizeof *names * (size_t)(m->nparams + 1));
    cg_tensor **ts = names ? malloc(sizeof *ts * (size_t)(m->nparams + 1)) : NULL;
    if (!ts) {
        free(names);
        cg__error("cg_module_save: out of memory");
        return -1;
    }
    int n = 0;
    for (int i = 0; i < m->nparams; i++)
        if (written(m, i))
            names[n] = m->names[i], ts[n++] = m->params[i];
    const char *key = "format", *value = "pt"; /* what torch's safetensors writer records */
    int rc = cg_safetensors_save(path, n, names, ts, 1, &key, &value);
    free(names);
    free(ts);
    return rc;
}

/* Whether the file holds a tensor of that name (asked without leaving an error behind:
 * a tied weight is expected under only one of its names). */
static bool in_file(cg_safetensors *f, const char *name)
{
    for (int i = 0; i < cg_safetensors_count(f); i++)
        if (!strcmp(cg_safetensors_name(f, i), name))
            return true;
    return false;
}

/* Whether the file holds state-dict entry i under another of its tensor's names. */
static bool tied_in_file(const cg_module *m, cg_safetensors *f, int i)
{
    for (int k = 0; k < m->nparams; k++)
        if (k != i && m->params[k] == m->params[i] && in_file(f, m->names[k]))
            return true;
    return false;
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
        if (!in_file(f, m->names[i])) {
            if (tied_in_file(m, f, i)) /* a tied weight, there under another of its names */
                continue;
            cg__error("cg_module_load: %s: missing key '%s' for %s", path, m->names[i], m->type);
            goto out;
        }
        int64_t shape[CG_MAX_DIMS];
        int nd = cg_safetensors_shape(f, m->names[i], shape);
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
        if (in_file(f, m->names[i]))
            cg_safetensors_read_into(f, m->names[i], m->params[i]);
    rc = 0;
out:
    cg_safetensors_close(f);
    return rc;
}
