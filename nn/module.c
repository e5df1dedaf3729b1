/* cgrad — the module base: named parameters in state-dict order, modes, printing. */
#include "nn_internal.h"
#include <stdlib.h>
#include <string.h>

cg_module *cg__module_new(module_kind kind, const char *type)
{
    cg_module *m = calloc(1, sizeof *m);
    if (!m) {
        cg__error("%s: out of memory", type);
        return NULL;
    }
    m->kind = kind;
    m->type = type;
    m->training = true;
    return m;
}

void cg__module_distinct(cg_module *m)
{
    m->may_share = m->set_own;
    for (int c = 0; c < m->nchildren; c++)
        m->may_share |= m->children[c]->may_share;
    int n = 0;
    if (!m->may_share) { /* no tensor in two places (the common case): the list itself, no search */
        for (; n < m->nparams; n++)
            m->distinct_at[n] = n, m->distinct[n] = m->params[n];
        m->ndistinct = n;
        return;
    }
    for (int i = 0; i < m->nparams; i++) {
        bool seen = false;
        for (int k = 0; k < n && !seen; k++)
            seen = m->distinct[k] == m->params[i];
        if (!seen)
            m->distinct_at[n] = i, m->distinct[n++] = m->params[i];
    }
    m->ndistinct = n;
}

/* Takes the parameter at own index i out of m's list again (its tensor and name freed). */
static void remove_own(cg_module *m, int i)
{
    cg_tensor_free(m->params[i]);
    free(m->names[i]);
    memmove(m->params + i, m->params + i + 1, sizeof *m->params * (size_t)(m->nparams - i - 1));
    memmove(m->names + i, m->names + i + 1, sizeof *m->names * (size_t)(m->nparams - i - 1));
    m->nown--, m->nparams--;
    cg__module_distinct(m);
}

cg_tensor *cg__module_add_param(cg_module *m, const char *name, int ndim, const int64_t *shape)
{
    /* Everything that can fail first, so a refusal leaves the list as it was. */
    if (!cg__module_reserve(m, m->nparams + 1))
        return NULL;
    cg_tensor *t = cg__new_heap(ndim, shape, m->type); /* outside frames whatever the caller has open */
    char *own = t ? cg__name_join(name, NULL) : NULL;
    if (!own || cg__mark_param(t) < 0) { /* requires grad, printed as a Parameter */
        if (t && !own)
            cg__error("%s: out of memory", m->type);
        free(own);
        cg_tensor_free(t);
        return NULL;
    }
    memset(cg_data(t), 0, (size_t)cg_numel(t) * sizeof(float));
    /* own parameters come first: the children's move up one place */
    memmove(m->params + m->nown + 1, m->params + m->nown, sizeof *m->params * (size_t)(m->nparams - m->nown));
    memmove(m->names + m->nown + 1, m->names + m->nown, sizeof *m->names * (size_t)(m->nparams - m->nown));
    m->names[m->nown] = own;
    m->params[m->nown++] = t;
    m->nparams++;
    cg__module_distinct(m);
    cg_set_name(t, own);
    if (m->parent && !cg__module_refresh(m->parent)) { /* undone: every list as it was */
        remove_own(m, m->nown - 1);
        cg__module_refresh(m->parent);
        return NULL;
    }
    return t;
}

bool cg__module_check(const cg_module *m, int kind, const char *op)
{
    if (!m) {
        cg__error_null(op);
        return false;
    }
    if (kind >= 0 && (int)m->kind != kind) {
        cg__error("%s: given a %s module", op, m->type);
        return false;
    }
    return true;
}

bool cg__list_index_ok(int i, int n, const char *op)
{
    if (i >= 0 && i < n)
        return true;
    cg__error("%s: index %d out of range [0, %d)", op, i, n);
    return false;
}

void cg_module_free(cg_module *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->nown; i++)
        cg_tensor_free(m->params[i]);
    for (int i = 0; i < m->nparams; i++)
        free(m->names[i]);
    for (int i = 0; i < m->nchildren; i++) {
        cg_module_free(m->children[i]);
        free(m->child_names[i]);
    }
    free(m->children);
    free(m->child_names);
    free(m->distinct);
    free(m->distinct_at);
    free(m->params);
    free(m->names);
    free(m);
}

cg_tensor *cg_param(cg_module *m, const char *name)
{
    if (!cg__module_check(m, -1, "cg_param"))
        return NULL;
    if (!name) {
        cg__error("cg_param: name is NULL");
        return NULL;
    }
    for (int i = 0; i < m->nparams; i++)
        if (!strcmp(m->names[i], name))
            return m->params[i];
    cg__error("cg_param: %s has no parameter '%s'", m->type, name);
    return NULL;
}

cg_tensor **cg_parameters(cg_module *m, int *n)
{
    if (n)
        *n = 0;
    if (!cg__module_check(m, -1, "cg_parameters"))
        return NULL;
    if (n)
        *n = m->ndistinct;
    return m->distinct;
}

int cg_param_count(cg_module *m)
{
    return cg__module_check(m, -1, "cg_param_count") ? m->ndistinct : -1;
}

cg_tensor *cg_param_at(cg_module *m, int i)
{
    if (!cg__module_check(m, -1, "cg_param_at") || !cg__list_index_ok(i, m->ndistinct, "cg_param_at"))
        return NULL;
    return m->distinct[i];
}

const char *cg_param_name(cg_module *m, int i)
{
    if (!cg__module_check(m, -1, "cg_param_name") || !cg__list_index_ok(i, m->ndistinct, "cg_param_name"))
        return NULL;
    return m->names[m->distinct_at[i]];
}

int64_t cg_num_params(cg_module *m)
{
    if (!cg__module_check(m, -1, "cg_num_params"))
        return -1;
    int64_t n = 0;
    for (int i = 0; i < m->ndistinct; i++)
        n += m->distinct[i]->numel;
    return n;
}

int cg_module_train(cg_module *m, bool on)
{
    if (!cg__module_check(m, -1, "cg_module_train"))
        return -1;
    m->training = on;
    for (int i = 0; i < m->nchildren; i++)
        cg_module_train(m->children[i], on);
    return 0;
}

bool cg_module_is_training(const cg_module *m) { return m && m->training; }

const char *cg_module_type(const cg_module *m) { return cg__module_check(m, -1, "cg_module_type") ? m->type : NULL; }

/* fn on every parameter (zeroing its .grad, or setting it to None); op names the call */
static int each_param(cg_module *m, const char *op, int (*fn)(cg_tensor *))
{
    if (!cg__module_check(m, -1, op))
        return -1;
    for (int i = 0; i < m->nparams; i++)
        fn(m->params[i]);
    return 0;
}

int cg_module_zero_grad(cg_module *m) { return each_param(m, "cg_module_zero_grad", cg_zero_grad); }
int cg_module_zero_grad_set_to_none(cg_module *m) { return each_param(m, "cg_module_zero_grad_set_to_none", cg_set_grad_none); }

static const char *py_bool(bool b) { return b ? "True" : "False"; }

/* Text written into buf as far as size allows, its whole length counted (snprintf's way). */
typedef struct {
    char *buf;
    size_t size, len;
} sink;

static void put(sink *s, const char *text)
{
    for (; *text; text++, s->len++)
        if (s->len + 1 < s->size)
            s->buf[s->len] = *text, s->buf[s->len + 1] = '\0';
}

/* m as torch prints it, every line after the first indented by indent spaces. */
static void write_module(const cg_module *m, sink *s, int indent)
{
    char extra[256] = "";
    size_t n = 0;
#define ADD(...) n += (size_t)snprintf(extra + n, n < sizeof extra ? sizeof extra - n : 0, __VA_ARGS__)
    switch (m->kind) {
    case KIND_LINEAR:
        ADD("in_features=%lld, out_features=%lld, bias=%s", (long long)m->o.linear.in_features,
            (long long)m->o.linear.out_features, py_bool(m->o.linear.bias));
        break;
    case KIND_EMBEDDING:
        ADD("%lld, %lld", (long long)m->o.embedding.num_embeddings, (long long)m->o.embedding.embedding_dim);
        break;
    case KIND_RNN:
    case KIND_LSTM:
    case KIND_GRU: {
        const cg_rnn_opts *o = &m->o.rnn;
        ADD("%lld, %lld", (long long)o->input_size, (long long)o->hidden_size);
        if (o->num_layers != 1)
            ADD(", num_layers=%d", o->num_layers);
        if (!o->bias)
            ADD(", bias=False");
        if (o->batch_first)
            ADD(", batch_first=True");
        if (o->dropout != 0)
            ADD(", dropout=%g", (double)o->dropout);
        if (o->bidirectional)
            ADD(", bidirectional=True");
        break;
    }
    case KIND_SEQUENTIAL:
    case KIND_CUSTOM:
    case KIND_MHA: {
        /* PyTorch's nested layout: one "(name): child" line each, indented by two more */
        put(s, m->type);
        put(s, m->nchildren ? "(\n" : "(");
        for (int i = 0; i < m->nchildren; i++) {
            for (int k = 0; k < indent + 2; k++)
                put(s, " ");
            put(s, "(");
            put(s, m->child_names[i]);
            put(s, "): ");
            write_module(m->children[i], s, indent + 2);
            put(s, "\n");
        }
        for (int k = 0; m->nchildren && k < indent; k++)
            put(s, " ");
        put(s, ")");
        return;
    }
    case KIND_TANH:
    case KIND_RELU:
    case KIND_SIGMOID:
        break;
    case KIND_DROPOUT:
        ADD("p=%g, inplace=False", (double)m->p);
        break;
    case KIND_LAYER_NORM:
        ADD("(%lld,), eps=%g, elementwise_affine=%s", (long long)m->o.layer_norm.normalized_shape,
            (double)m->o.layer_norm.eps, py_bool(m->o.layer_norm.elementwise_affine));
        break;
    case KIND_GELU:
        ADD("approximate='%s'", m->o.gelu.tanh ? "tanh" : "none");
        break;
    case KIND_IDENTITY:
        break;
    default: {
        const cg_cell_opts *o = &m->o.cell;
        ADD("%lld, %lld", (long long)o->input_size, (long long)o->hidden_size);
        if (!o->bias)
            ADD(", bias=False");
        if (m->kind == KIND_RNN_CELL && o->nonlinearity == CG_RELU)
            ADD(", nonlinearity=relu");
    }
    }
#undef ADD
    put(s, m->type);
    put(s, "(");
    put(s, extra);
    put(s, ")");
}

int cg_module_str(const cg_module *m, char *buf, size_t size)
{
    if (!cg__module_check(m, -1, "cg_module_str"))
        return -1;
    if (!buf && size) {
        cg__error("cg_module_str: buf is NULL");
        return -1;
    }
    sink s = {buf, size, 0};
    if (size)
        buf[0] = '\0';
    write_module(m, &s, 0);
    if (s.len > INT32_MAX) {
        cg__error("cg_module_str: the printout is longer than an int can count");
        return -1;
    }
    return (int)s.len;
}
