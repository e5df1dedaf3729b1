/* cgrad — MultiheadAttention, as torch.nn.MultiheadAttention: the same
 * parameters (in_proj_weight (3E, E), in_proj_bias, out_proj.weight and .bias),
 * the same initial values for a seed, and the same forward: project q, k, v
 * with the three blocks of in_proj_weight, attend in num_heads heads of E/heads
 * dims (cg_scaled_dot_product_attention), join the heads, project out. */
#include "nn_internal.h"
#include <string.h>

static const cg__opt_field fields[] = {
    CG__OPT(cg_multihead_attention_opts, embed_dim), CG__OPT(cg_multihead_attention_opts, num_heads),
    CG__OPT(cg_multihead_attention_opts, dropout), CG__OPT(cg_multihead_attention_opts, bias),
    CG__OPT(cg_multihead_attention_opts, batch_first), CG__OPT(cg_multihead_attention_opts, generator)};

/* torch's _reset_parameters: xavier_uniform_ on in_proj_weight, zero biases (after
 * out_proj, a Linear, has drawn its own initial values). */
static void reset_parameters(cg_module *m, int64_t E)
{
    double std = 1.0 * sqrt(2.0 / (double)(E + 3 * E)), a = sqrt(3.0) * std;
    cg_no_grad_begin();
    cg_uniform_gen_(cg_param(m, "in_proj_weight"), (float)-a, (float)a, m->gen);
    if (m->o.mha.bias) {
        cg_fill_(cg_param(m, "in_proj_bias"), 0);
        cg_fill_(cg_param(m, "out_proj.bias"), 0);
    }
    cg_no_grad_end();
}

cg_module *cg_multihead_attention_new_with(cg_multihead_attention_opts user)
{
    const char *op = "cg_multihead_attention_new";
    cg_multihead_attention_opts o = {.dropout = 0, .bias = true, .batch_first = false};
    if (cg__opts_merge(&o, &user, user.given, fields, 6, op) < 0)
        return NULL;
    if (o.embed_dim <= 0 || o.num_heads <= 0 || o.embed_dim % o.num_heads != 0 || !(o.dropout >= 0 && o.dropout < 1)) {
        cg__error("%s: embed_dim (%lld) must be positive and divisible by num_heads (%d), 0 <= dropout < 1", op,
                  (long long)o.embed_dim, o.num_heads);
        return NULL;
    }
    int64_t E = o.embed_dim;
    cg_module *m = cg__module_new(KIND_MHA, "MultiheadAttention");
    if (!m)
        return NULL;
    m->o.mha = o;
    m->gen = o.generator;
    cg_module *out_proj = cg_linear_new(.in_features = E, .out_features = E, .bias = o.bias, .generator = o.generator);
    bool ok = cg__module_add_param(m, "in_proj_weight", CG_SHAPE(3 * E, E)) &&
              (!o.bias || cg__module_add_param(m, "in_proj_bias", CG_SHAPE(3 * E)));
    if (ok && out_proj) {
        out_proj->type = "NonDynamicallyQuantizableLinear"; /* what torch's printout calls it */
        ok = cg__module_adopt(m, "out_proj", out_proj, op) == 0;
    }
    if (!ok || !out_proj) {
        if (out_proj && !out_proj->parent)
            cg_module_free(out_proj);
        cg_module_free(m);
        return NULL;
    }
    reset_parameters(m, E);
    return m;
}

cg_tensor *cg_multihead_attention_forward(cg_module *m, cg_tensor *query, cg_tensor *key, cg_tensor *value,
                                          cg_tensor *attn_mask)
{
    const char *op = "cg_multihead_attention_forward";
    if (!cg__module_check(m, KIND_MHA, op) || !cg__check(query, op) || !cg__check(key, op) || !cg__check(value, op))
        return NULL;
    const cg_multihead_attention_opts *o = &m->o.mha;
    int64_t E = o->embed_dim, H = o->num_heads, hd = E / H;
    bool batched = query->ndim == 3;
    bool fits = (query->ndim == 2 || query->ndim == 3) && key->ndim == query->ndim && value->ndim == query->ndim &&
                query->shape[query->ndim - 1] == E && key->shape[key->ndim - 1] == E && value->shape[value->ndim - 1] == E;
    if (!fits) {
        char a[CG_SHAPE_BUF];
        cg__error("%s: query %s: expected (L, N, %lld)%s or unbatched (L, %lld), with key and value alike", op,
                  cg__shape_fmt(a, query->ndim, query->shape), (long long)E, o->batch_first ? " as (N, L, E)" : "",
                  (long long)E);
        return NULL;
    }
    if (memcmp(key->shape, value->shape, sizeof(int64_t) * (size_t)key->ndim) != 0) { /* torch's assert */
        char a[CG_SHAPE_BUF], b[CG_SHAPE_BUF];
        cg__error("%s: key shape %s does not match value shape %s", op, cg__shape_fmt(a, key->ndim, key->shape),
                  cg__shape_fmt(b, value->ndim, value->shape));
        return NULL;
    }
    /* Every intermediate goes in tmp and is released at the end: outside frames the
     * graph holds what it needs; inside frames releasing does nothing. */
    cg_tensor *tmp[32] = {NULL};
    int nt = 0;
#define KEEP(x) (tmp[nt++] = (x))
    /* work in (T, N, E) */
    cg_tensor *q = !batched ? KEEP(cg_unsqueeze(query, 1)) : o->batch_first ? KEEP(cg_transpose(query, 0, 1)) : query;
    cg_tensor *k = !batched ? KEEP(cg_unsqueeze(key, 1)) : o->batch_first ? KEEP(cg_transpose(key, 0, 1)) : key;
    cg_tensor *v = !batched ? KEEP(cg_unsqueeze(value, 1)) : o->batch_first ? KEEP(cg_transpose(value, 0, 1)) : value;
    cg_tensor *out = NULL;
    if (q && k && v) {
        int64_t L = q->shape[0], N = q->shape[1], S = k->shape[0];
        cg_tensor *w = cg_param(m, "in_proj_weight"), *b = o->bias ? cg_param(m, "in_proj_bias") : NULL, *heads[3];
        cg_tensor *src[3] = {q, k, v};
        for (int i = 0; i < 3; i++) { /* block i of in_proj_weight projects q, k or v */
            cg_tensor *wi = KEEP(cg_narrow(w, 0, i * E, E)), *bi = b ? KEEP(cg_narrow(b, 0, i * E, E)) : NULL;
            /* (cg_linear takes a NULL bias as none: a failed narrow must stop here) */
            cg_tensor *p = wi && (bi || !b) ? KEEP(cg_linear(src[i], wi, bi)) : NULL;
            cg_tensor *r = p ? KEEP(cg_reshape(p, CG_SHAPE(i ? S : L, N * H, hd))) : NULL;
            heads[i] = r ? KEEP(cg_transpose(r, 0, 1)) : NULL; /* (N*heads, T, E/heads) */
        }
        cg_tensor *att = heads[0] && heads[1] && heads[2]
                             ? KEEP(cg_scaled_dot_product_attention_ex(heads[0], heads[1], heads[2], .attn_mask = attn_mask,
                                                                       .dropout_p = m->training ? o->dropout : 0.0f,
                                                                       .generator = m->gen))
                             : NULL;
        cg_tensor *back = att ? KEEP(cg_transpose(att, 0, 1)) : NULL;
        cg_tensor *joined = back ? KEEP(cg_reshape(back, CG_SHAPE(L, N, E))) : NULL;
        cg_tensor *proj = joined ? cg_linear_forward(cg_module_child(m, "out_proj"), joined) : NULL;
        out = !proj || (batched && !o->batch_first) ? proj : !batched ? cg_squeeze(proj, 1) : cg_transpose(proj, 0, 1);
        if (proj != out)
            KEEP(proj);
    }
#undef KEEP
    for (int i = 0; i < nt; i++)
        cg_tensor_free(tmp[i]);
    return out;
}
