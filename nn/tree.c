/* cgrad — modules of your own: a module holds parameters of its own and named
 * child modules, as torch.nn.Module does with register_parameter and
 * attributes that are modules. Its parameter list (cg_parameters, save/load,
 * optimizers) is its own parameters, then each child's, under dotted names
 * ("blocks.0.attn.weight") — torch's named_parameters order. The built-in
 * containers (Sequential, lists) are made the same way. */
#include "nn_internal.h"
#include <stdlib.h>
#include <string.h>

bool cg__module_reserve(cg_module *m, int n)
{
    if (n <= m->cap)
        return true;
    int cap = m->cap ? m->cap : 8;
    while (cap < n)
        cap *= 2;
    cg_tensor **p = realloc(m->params, sizeof *p * (size_t)cap);
    if (p)
        m->params = p;
    char **names = realloc(m->names, sizeof *names * (size_t)cap);
    if (names)
        m->names = names;
    cg_tensor **d = realloc(m->distinct, sizeof *d * (size_t)cap);
    if (d)
        m->distinct = d;
    int *at = realloc(m->distinct_at, sizeof *at * (size_t)cap);
    if (at)
        m->distinct_at = at;
    if (!p || !names || !d || !at) {
        cg__error("%s: out of memory", m->type);
        return false;
    }
    m->cap = cap;
    return true;
}

char *cg__name_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    char *s = malloc(la + lb + 2);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    if (b) {
        s[la] = '.';
        memcpy(s + la + 1, b, lb);
    }
    s[la + (b ? lb + 1 : 0)] = '\0';
    return s;
}

/* One module's list made again from its children's: its own parameters (the first
 * nown), then each child's under "child.". All or nothing: on failure m is as it was. */
static bool refresh_one(cg_module *m)
{
    int total = m->nown, had = m->nparams;
    for (int c = 0; c < m->nchildren; c++)
        total += m->children[c]->nparams;
    char **fresh = malloc(sizeof *fresh * (size_t)(total - m->nown + 1));
    bool ok = fresh && cg__module_reserve(m, total);
    int made = 0;
    for (int c = 0; ok && c < m->nchildren; c++)
        for (int k = 0; ok && k < m->children[c]->nparams; k++, made++)
            ok = (fresh[made] = cg__name_join(m->child_names[c], m->children[c]->names[k])) != NULL;
    if (!ok) {
        for (int i = 0; fresh && i < made; i++)
            free(fresh[i]);
        free(fresh);
        cg__error("%s: out of memory", m->type);
        return false;
    }
    for (int i = m->nown; i < had; i++)
        free(m->names[i]);
    int at = m->nown;
    for (int c = 0; c < m->nchildren; c++)
        for (int k = 0; k < m->children[c]->nparams; k++, at++) {
            m->params[at] = m->children[c]->params[k];
            m->names[at] = fresh[at - m->nown];
        }
    m->nparams = total;
    cg__module_distinct(m);
    free(fresh);
    return true;
}

/* m's list made again, and every module's above it. */
static bool refresh(cg_module *m)
{
    for (; m; m = m->parent)
        if (!refresh_one(m))
            return false;
    return true;
}

cg_module *cg_module_new(const char *type)
{
    if (!type || !*type || strlen(type) >= sizeof ((cg_module *)0)->type_buf) {
        cg__error("cg_module_new: needs a type name of 1 to %zu characters", sizeof ((cg_module *)0)->type_buf - 1);
        return NULL;
    }
    cg_module *m = cg__module_new(KIND_CUSTOM, "Module");
    if (m) {
        snprintf(m->type_buf, sizeof m->type_buf, "%s", type);
        m->type = m->type_buf;
    }
    return m;
}

/* A name for a parameter or child: a non-empty word without '.', not yet used in m. */
static bool name_ok(const cg_module *m, const char *name, const char *op)
{
    bool ok = name && *name && !strchr(name, '.');
    for (int i = 0; ok && i < m->nown; i++)
        ok = strcmp(m->names[i], name) != 0;
    for (int c = 0; ok && c < m->nchildren; c++)
        ok = strcmp(m->child_names[c], name) != 0;
    if (!ok)
        cg__error("%s: '%s' is not a new name in %s (one or more characters, no '.')", op, name ? name : "(null)",
                  m->type);
    return ok;
}

cg_tensor *cg_module_add_param(cg_module *m, const char *name, int ndim, const int64_t *shape)
{
    if (!cg__module_check(m, -1, "cg_module_add_param") || !name_ok(m, name, "cg_module_add_param"))
        return NULL;
    if (m->kind != KIND_CUSTOM) {
        cg__error("cg_module_add_param: %s is a built-in module; make your own with cg_module_new", m->type);
        return NULL;
    }
    return cg__module_add_param(m, name, ndim, shape);
}

int cg__module_adopt(cg_module *m, const char *name, cg_module *child, const char *op)
{
    if (!cg__module_check(child, -1, op) || !name_ok(m, name, op))
        return -1;
    if (child->parent) {
        cg__error("%s: the %s module already belongs to a module", op, child->type);
        return -1;
    }
    for (const cg_module *a = m; a; a = a->parent)
        if (a == child) {
            cg__error("%s: the %s module would become its own ancestor", op, child->type);
            return -1;
        }
    cg_module **kids = realloc(m->children, sizeof *kids * (size_t)(m->nchildren + 1));
    if (kids)
        m->children = kids;
    char **names = realloc(m->child_names, sizeof *names * (size_t)(m->nchildren + 1));
    if (names)
        m->child_names = names;
    char *own = kids && names ? cg__name_join(name, NULL) : NULL;
    if (!own) {
        cg__error("%s: out of memory", op);
        return -1;
    }
    m->child_names[m->nchildren] = own;
    m->children[m->nchildren++] = child;
    child->parent = m;
    if (!refresh(m)) { /* undone: every list stays as it was, the child the caller's */
        m->nchildren--;
        child->parent = NULL;
        free(own);
        refresh(m);
        return -1;
    }
    return 0;
}

int cg_module_add_child(cg_module *m, const char *name, cg_module *child)
{
    if (!cg__module_check(m, -1, "cg_module_add_child"))
        return -1;
    if (m->kind != KIND_CUSTOM && m->kind != KIND_SEQUENTIAL) {
        cg__error("cg_module_add_child: %s is a built-in module; make your own with cg_module_new", m->type);
        return -1;
    }
    return cg__module_adopt(m, name, child, "cg_module_add_child");
}

int cg_module_append(cg_module *list, cg_module *child)
{
    if (!cg__module_check(list, -1, "cg_module_append"))
        return -1;
    char name[16];
    snprintf(name, sizeof name, "%d", list->nchildren);
    if (list->kind != KIND_CUSTOM && list->kind != KIND_SEQUENTIAL) {
        cg__error("cg_module_append: %s is a built-in module; make a list with cg_module_list_new", list->type);
        return -1;
    }
    return cg__module_adopt(list, name, child, "cg_module_append");
}

cg_module *cg_module_list_new(void) { return cg_module_new("ModuleList"); }

int cg_module_set_forward(cg_module *m, cg_module_forward_fn fn, void *ctx)
{
    if (!cg__module_check(m, -1, "cg_module_set_forward"))
        return -1;
    if (m->kind != KIND_CUSTOM) {
        cg__error("cg_module_set_forward: %s is a built-in module with a forward of its own", m->type);
        return -1;
    }
    m->forward = fn;
    m->forward_ctx = ctx;
    return 0;
}

/* The submodule at the first n characters of a dotted path ("blocks.0.attn"); NULL
 * with an error naming op when there is none. */
static cg_module *child_at(cg_module *m, const char *path, size_t n, const char *op)
{
    const char *p = path, *end = path + n;
    while (m && p < end) { /* one dotted step at a time */
        size_t len = strcspn(p, ".");
        len = len < (size_t)(end - p) ? len : (size_t)(end - p);
        cg_module *next = NULL;
        for (int c = 0; c < m->nchildren && !next; c++)
            if (strlen(m->child_names[c]) == len && !strncmp(m->child_names[c], p, len))
                next = m->children[c];
        if (!next) {
            cg__error("%s: %s has no child '%.*s' (in '%s')", op, m->type, (int)len, p, path);
            return NULL;
        }
        m = next;
        p += len + (p + len < end && p[len] == '.');
    }
    return m;
}

cg_module *cg_module_child(cg_module *m, const char *path)
{
    if (!cg__module_check(m, -1, "cg_module_child"))
        return NULL;
    if (!path) {
        cg__error("cg_module_child: name is NULL");
        return NULL;
    }
    return child_at(m, path, strlen(path), "cg_module_child");
}

/* Whether p can become a module's parameter: a whole tensor outside frames that no op
 * made (torch assigns only an nn.Parameter), of the shape the old one had. */
static bool settable(const cg_tensor *p, const cg_tensor *old, const char *name, const char *op)
{
    char a[CG_SHAPE_BUF], b[CG_SHAPE_BUF];
    if (p->in_frame || p->base || p->storage || (p->meta && p->meta->grad_fn)) {
        cg__error("%s: '%s' can only be a leaf tensor made outside frames (a module's parameter, or one of its own)", op,
                  name);
        return false;
    }
    bool same = p->ndim == old->ndim;
    for (int d = 0; same && d < p->ndim; d++)
        same = p->shape[d] == old->shape[d];
    if (!same)
        cg__error("%s: '%s' has shape %s; the tensor given has %s", op, name, cg__shape_fmt(a, old->ndim, old->shape),
                  cg__shape_fmt(b, p->ndim, p->shape));
    return same;
}

int cg_module_set_param(cg_module *m, const char *name, cg_tensor *p)
{
    const char *op = "cg_module_set_param";
    if (!cg__module_check(m, -1, op) || !cg__check(p, op))
        return -1;
    if (!name) {
        cg__error("%s: name is NULL", op);
        return -1;
    }
    const char *dot = strrchr(name, '.'), *own = dot ? dot + 1 : name;
    cg_module *owner = dot ? child_at(m, name, (size_t)(dot - name), op) : m;
    if (!owner)
        return -1;
    int i = 0;
    while (i < owner->nown && strcmp(owner->names[i], own) != 0)
        i++;
    if (i == owner->nown) {
        cg__error("%s: %s has no parameter '%s'", op, owner->type, own);
        return -1;
    }
    cg_tensor *old = owner->params[i];
    if (p == old)
        return 0;
    if (!settable(p, old, name, op) || cg__mark_param(p) < 0)
        return -1;
    owner->params[i] = cg__retain(p);
    owner->set_own = true;
    cg__module_distinct(owner);
    if (!refresh(owner->parent)) { /* undone: the old parameter back in every list */
        owner->params[i] = old;
        cg__module_distinct(owner);
        refresh(owner->parent);
        cg_tensor_free(p);
        return -1;
    }
    cg_tensor_free(old); /* the module's reference; whoever else holds it keeps it */
    return 0;
}

const char *cg_module_child_name(const cg_module *m, int i)
{
    if (!cg__module_check(m, -1, "cg_module_child_name") || !cg__list_index_ok(i, m->nchildren, "cg_module_child_name"))
        return NULL;
    return m->child_names[i];
}

bool cg__module_refresh(cg_module *m) { return refresh(m); }
