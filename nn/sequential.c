/* cgrad — Sequential, the activation modules, and one forward for any module. */
#include "nn_internal.h"
#include <stdlib.h>
#include <string.h>

static cg_module *simple(module_kind kind, const char *type) { return cg__module_new(kind, type); }
cg_module *cg_tanh_new(void) { return simple(KIND_TANH, "Tanh"); }
cg_module *cg_relu_new(void) { return simple(KIND_RELU, "ReLU"); }
cg_module *cg_sigmoid_new(void) { return simple(KIND_SIGMOID, "Sigmoid"); }

static const cg__opt_field dropout_fields[] = {CG__OPT(cg_dropout_opts, p), CG__OPT(cg_dropout_opts, generator)};

cg_module *cg_dropout_new_with(cg_dropout_opts user)
{
    cg_dropout_opts o = {.p = 0.5f};
    if (cg__opts_merge(&o, &user, user.given, dropout_fields, 2, "cg_dropout_new") < 0)
        return NULL;
    if (!(o.p >= 0 && o.p <= 1)) {
        cg__error("cg_dropout_new: dropout probability has to be between 0 and 1, but got %g", (double)o.p);
        return NULL;
    }
    cg_module *m = simple(KIND_DROPOUT, "Dropout");
    if (m) {
        m->p = o.p;
        m->gen = o.generator;
    }
    return m;
}

static const cg__opt_field layer_norm_fields[] = {CG__OPT(cg_layer_norm_opts, normalized_shape),
                                                  CG__OPT(cg_layer_norm_opts, eps),
                                                  CG__OPT(cg_layer_norm_opts, elementwise_affine)};

cg_module *cg_layer_norm_new_with(cg_layer_norm_opts user)
{
    cg_layer_norm_opts o = {.eps = 1e-5f, .elementwise_affine = true};
    if (cg__opts_merge(&o, &user, user.given, layer_norm_fields, 3, "cg_layer_norm_new") < 0)
        return NULL;
    if (o.normalized_shape <= 0 || !(o.eps >= 0)) {
        cg__error("cg_layer_norm_new: .normalized_shape must be given and positive, eps >= 0 (got %lld, %g)",
                  (long long)o.normalized_shape, (double)o.eps);
        return NULL;
    }
    cg_module *m = cg__module_new(KIND_LAYER_NORM, "LayerNorm");
    if (!m)
        return NULL;
    m->o.layer_norm = o;
    if (o.elementwise_affine) { /* torch's reset_parameters: ones and zeros */
        cg_tensor *w = cg__module_add_param(m, "weight", CG_SHAPE(o.normalized_shape));
        cg_tensor *b = w ? cg__module_add_param(m, "bias", CG_SHAPE(o.normalized_shape)) : NULL;
        if (!b) {
            cg_module_free(m);
            return NULL;
        }
        cg_no_grad_begin();
        cg_fill_(w, 1.0f);
        cg_no_grad_end();
    }
    return m;
}

static const cg__opt_field gelu_fields[] = {CG__OPT(cg_gelu_opts, tanh)};

cg_module *cg_gelu_new_with(cg_gelu_opts user)
{
    cg_gelu_opts o = {.tanh = false};
    if (cg__opts_merge(&o, &user, user.given, gelu_fields, 1, "cg_gelu_new") < 0)
        return NULL;
    cg_module *m = simple(KIND_GELU, "GELU");
    if (m)
        m->o.gelu = o;
    return m;
}

cg_module *cg_identity_new(void) { return simple(KIND_IDENTITY, "Identity"); }

cg_module *cg_sequential_new(cg_module *const *modules, int n)
{
    if (n < 0 || (n > 0 && !modules)) { /* torch's nn.Sequential() may be empty */
        cg__error("cg_sequential_new: %d modules at %p", n, (const void *)modules);
        return NULL;
    }
    for (int i = 0; i < n; i++) { /* all checked first: on failure the caller keeps them */
        if (!cg__module_check(modules[i], -1, "cg_sequential_new"))
            return NULL;
        for (int j = 0; j <= i; j++)
            if ((j < i && modules[j] == modules[i]) || modules[i]->parent) {
                cg__error("cg_sequential_new: module %d is given twice, or already belongs to a module", i);
                return NULL;
            }
    }
    cg_module *m = cg__module_new(KIND_SEQUENTIAL, "Sequential");
    for (int i = 0; m && i < n; i++) { /* children "0", "1", ...: parameters "0.weight", ... */
        char name[16];
        snprintf(name, sizeof name, "%d", i);
        if (cg__module_adopt(m, name, modules[i], "cg_sequential_new") != 0) {
            for (int k = 0; k < m->nchildren; k++) /* hand back what was taken */
                m->children[k]->parent = NULL;
            m->nchildren = 0;
            cg_module_free(m);
            return NULL;
        }
    }
    return m;
}

int cg_module_child_count(const cg_module *m)
{
    return cg__module_check(m, -1, "cg_module_child_count") ? m->nchildren : -1;
}

cg_module *cg_module_child_at(cg_module *m, int i)
{
    if (!cg__module_check(m, -1, "cg_module_child_at") || !cg__list_index_ok(i, m->nchildren, "cg_module_child_at"))
        return NULL;
    return m->children[i];
}

cg_tensor *cg_module_forward(cg_module *m, cg_tensor *x)
{
    if (!cg__module_check(m, -1, "cg_module_forward") || !cg__check(x, "cg_module_forward"))
        return NULL;
    switch (m->kind) {
    case KIND_LINEAR:
        return cg_linear_forward(m, x);
    case KIND_EMBEDDING:
        return cg_embedding_forward(m, x);
    case KIND_RNN:
        return cg_rnn_forward(m, x, NULL, NULL);
    case KIND_GRU:
        return cg_gru_forward(m, x, NULL, NULL);
    case KIND_LSTM:
        return cg_lstm_forward(m, x, NULL, NULL, NULL, NULL);
    case KIND_TANH:
        return cg_tanh(x);
    case KIND_RELU:
        return cg_relu(x);
    case KIND_SIGMOID:
        return cg_sigmoid(x);
    case KIND_DROPOUT:
        return cg_dropout_gen(x, m->p, m->training, m->gen);
    case KIND_LAYER_NORM: {
        bool affine = m->o.layer_norm.elementwise_affine;
        return cg_layer_norm(x, 1, affine ? m->params[0] : NULL, affine ? m->params[1] : NULL, m->o.layer_norm.eps);
    }
    case KIND_GELU:
        return m->o.gelu.tanh ? cg_gelu_tanh(x) : cg_gelu(x);
    case KIND_IDENTITY:
        return cg_reshape(x, x->ndim, x->shape); /* a new tensor, as every result is: a view of x */
    case KIND_SEQUENTIAL: {
        if (m->nchildren == 0) /* the input itself, as a view (a new tensor, as every result is) */
            return cg_reshape(x, x->ndim, x->shape);
        cg_tensor *h = x;
        for (int i = 0; i < m->nchildren && h; i++) {
            cg_tensor *next = cg_module_forward(m->children[i], h);
            if (h != x)
                cg_tensor_free(h); /* outside frames the graph keeps what it needs */
            h = next;
        }
        return h;
    }
    case KIND_CUSTOM:
        if (m->forward)
            return m->forward(m, x, m->forward_ctx);
        cg__error("cg_module_forward: %s is a module of your own with no forward set: give it one with "
                  "cg_module_set_forward, or call the forward you wrote for it", m->type);
        return NULL;
    case KIND_MHA:
        cg__error("cg_module_forward: MultiheadAttention takes query, key and value: use cg_multihead_attention_forward");
        return NULL;
    default:
        cg__error("cg_module_forward: a %s takes a state too; use its own forward", m->type);
        return NULL;
    }
}
