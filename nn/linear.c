/* cgrad — Linear and Embedding, initialised as PyTorch initialises them. */
#include "nn_internal.h"

static const cg__opt_field linear_fields[] = {CG__OPT(cg_linear_opts, in_features),
                                              CG__OPT(cg_linear_opts, out_features), CG__OPT(cg_linear_opts, bias),
                                              CG__OPT(cg_linear_opts, generator)};

cg_module *cg_linear_new_with(cg_linear_opts user)
{
    cg_linear_opts o = {.bias = true};
    if (cg__opts_merge(&o, &user, user.given, linear_fields, 4, "cg_linear_new") < 0)
        return NULL;
    if (o.in_features < 0 || o.out_features < 0) {
        cg__error("cg_linear_new: in_features (%lld) and out_features (%lld) must be >= 0",
                  (long long)o.in_features, (long long)o.out_features);
        return NULL;
    }
    cg_module *m = cg__module_new(KIND_LINEAR, "Linear");
    if (!m)
        return NULL;
    m->o.linear = o;
    m->gen = o.generator;
    cg_tensor *w = cg__module_add_param(m, "weight", CG_SHAPE(o.out_features, o.in_features));
    cg_tensor *b = !w || !o.bias ? NULL : cg__module_add_param(m, "bias", CG_SHAPE(o.out_features));
    if (!w || (o.bias && !b)) {
        cg_module_free(m);
        return NULL;
    }
    /* kaiming_uniform_(a = sqrt(5)) computed as torch.nn.init does, in double:
     * bound = sqrt(3) * gain / sqrt(fan_in) with gain = sqrt(2 / (1 + a^2)). */
    cg_no_grad_begin(); /* torch.nn.init writes under no_grad too */
    double a = sqrt(5.0), gain = sqrt(2.0 / (1 + a * a));
    double fan_in = (double)o.in_features;
    if (o.in_features > 0) {
        double bound = sqrt(3.0) * (gain / sqrt(fan_in));
        cg_uniform_gen_(w, (float)-bound, (float)bound, o.generator);
    }
    if (b) {
        double bound = o.in_features > 0 ? 1.0 / sqrt(fan_in) : 0.0;
        cg_uniform_gen_(b, (float)-bound, (float)bound, o.generator);
    }
    cg_no_grad_end();
    return m;
}

cg_tensor *cg_linear_forward(cg_module *m, cg_tensor *x)
{
    if (!cg__module_check(m, KIND_LINEAR, "cg_linear_forward") || !cg__check(x, "cg_linear_forward"))
        return NULL;
    if (x->ndim < 1 || x->shape[x->ndim - 1] != m->o.linear.in_features) {
        char s[CG_SHAPE_BUF];
        cg__error("cg_linear_forward: input of shape %s for Linear(in_features=%lld, ...), which takes (*, %lld)",
                  cg__shape_fmt(s, x->ndim, x->shape), (long long)m->o.linear.in_features,
                  (long long)m->o.linear.in_features);
        return NULL;
    }
    return cg_linear(x, m->params[0], m->o.linear.bias ? m->params[1] : NULL);
}

static const cg__opt_field embedding_fields[] = {CG__OPT(cg_embedding_opts, num_embeddings),
                                                 CG__OPT(cg_embedding_opts, embedding_dim),
                                                 CG__OPT(cg_embedding_opts, generator)};

cg_module *cg_embedding_new_with(cg_embedding_opts user)
{
    cg_embedding_opts o = {0};
    if (cg__opts_merge(&o, &user, user.given, embedding_fields, 3, "cg_embedding_new") < 0)
        return NULL;
    if (o.num_embeddings <= 0 || o.embedding_dim <= 0) {
        cg__error("cg_embedding_new: num_embeddings (%lld) and embedding_dim (%lld) must be > 0",
                  (long long)o.num_embeddings, (long long)o.embedding_dim);
        return NULL;
    }
    cg_module *m = cg__module_new(KIND_EMBEDDING, "Embedding");
    if (!m)
        return NULL;
    m->o.embedding = o;
    m->gen = o.generator;
    cg_tensor *w = cg__module_add_param(m, "weight", CG_SHAPE(o.num_embeddings, o.embedding_dim));
    if (!w) {
        cg_module_free(m);
        return NULL;
    }
    cg_no_grad_begin();
    cg_normal_gen_(w, 0, 1, o.generator);
    cg_no_grad_end();
    return m;
}

cg_tensor *cg_embedding_forward(cg_module *m, cg_tensor *ids)
{
    if (!cg__module_check(m, KIND_EMBEDDING, "cg_embedding_forward"))
        return NULL;
    return cg_embedding(m->params[0], ids);
}
