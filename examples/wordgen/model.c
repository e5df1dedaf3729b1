/* wordgen — the six models, each a module tree whose parameters carry the
 * PyTorch script's state-dict names ("transformer.h.0.attn.c_attn.weight"), built
 * in the script's order so that a seed gives both programs the same weights. */
#include "wordgen.h"
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"bigram", "mlp", "rnn", "gru", "lstm", "transformer"};

int model_kind(const char *name)
{
    for (int k = 0; k < (int)(sizeof kind_names / sizeof kind_names[0]); k++)
        if (!strcmp(name, kind_names[k]))
            return k;
    return -1;
}

/* Adds child under name; false (and child freed) on failure, or when child is NULL. */
static bool add(cg_module *parent, const char *name, cg_module *child)
{
    if (!child)
        return false;
    if (cg_module_add_child(parent, name, child) != 0) {
        cg_module_free(child);
        return false;
    }
    return true;
}

static cg_module *linear(long in, long out, bool bias)
{
    return cg_linear_new(.in_features = in, .out_features = out, .bias = bias);
}

static bool build_bigram(model *m)
{
    m->table = cg_module_add_param(m->root, "logits", CG_SHAPE(m->V, m->V));
    return m->table != NULL;
}

/* Bengio et al. 2003: the embeddings of the T previous tokens (token V before the
 * start), concatenated, through a tanh layer. */
static bool build_mlp(model *m, const wg_cfg *c)
{
    m->wte = cg_embedding_new(.num_embeddings = m->V + 1, .embedding_dim = c->n_embd);
    if (!add(m->root, "wte", m->wte))
        return false;
    cg_module *layers[3] = {linear(m->T * c->n_embd, c->n_embd2, true), cg_tanh_new(), linear(c->n_embd2, m->V, true)};
    m->mlp = layers[0] && layers[1] && layers[2] ? cg_sequential_new(layers, 3) : NULL;
    if (!m->mlp)
        for (int i = 0; i < 3; i++)
            cg_module_free(layers[i]);
    return add(m->root, "mlp", m->mlp);
}

/* A learned start state, then cgrad's RNN, GRU or LSTM over the embeddings. */
static bool build_recurrent(model *m, const wg_cfg *c)
{
    m->start = cg_module_add_param(m->root, "start", CG_SHAPE(1, c->n_embd2));
    m->wte = cg_embedding_new(.num_embeddings = m->V, .embedding_dim = c->n_embd);
    if (!m->start || !add(m->root, "wte", m->wte))
        return false;
    cg_rnn_opts o = CG_OPTS(cg_rnn_opts, .input_size = c->n_embd, .hidden_size = c->n_embd2, .batch_first = true);
    m->rnn = m->kind == M_RNN ? cg_rnn_new_with(o) : m->kind == M_GRU ? cg_gru_new_with(o) : cg_lstm_new_with(o);
    if (!add(m->root, "rnn", m->rnn))
        return false;
    m->lm_head = linear(c->n_embd2, m->V, true);
    return add(m->root, "lm_head", m->lm_head);
}

/* Adds a child that may already be on its way out: child is the caller's until here. */
static bool hand_over(bool ok, cg_module *parent, const char *name, cg_module **child)
{
    if (ok)
        ok = add(parent, name, *child);
    else
        cg_module_free(*child);
    *child = NULL;
    return ok;
}

/* A pre-LN block: x + attn(ln_1(x)), then x + mlp(ln_2(x)). Its linears draw
 * their initial weights in torch's order: c_attn, c_proj, c_fc, c_proj. */
static cg_module *build_block(gpt_block *b, long E)
{
    cg_module *blk = cg_module_new("Block"), *attn = cg_module_new("CausalSelfAttention"), *mlp = cg_module_new("ModuleDict");
    bool ok = blk && attn && mlp && add(blk, "ln_1", b->ln_1 = cg_layer_norm_new(.normalized_shape = E));
    ok = ok && add(attn, "c_attn", b->c_attn = linear(E, 3 * E, true)) && add(attn, "c_proj", b->c_proj = linear(E, E, true));
    ok = hand_over(ok, blk, "attn", &attn);
    ok = ok && add(blk, "ln_2", b->ln_2 = cg_layer_norm_new(.normalized_shape = E));
    ok = ok && add(mlp, "c_fc", b->c_fc = linear(E, 4 * E, true)) && add(mlp, "c_proj", b->mlp_proj = linear(4 * E, E, true));
    ok = hand_over(ok, blk, "mlp", &mlp);
    if (!ok)
        cg_module_free(blk);
    return ok ? blk : NULL;
}

/* A small GPT: token and position embeddings, pre-LN blocks, a final LayerNorm. */
static bool build_transformer(model *m, const wg_cfg *c)
{
    long E = c->n_embd;
    if (E % c->n_head != 0) {
        fprintf(stderr, "wordgen: --n-embd (%ld) must be a multiple of --n-head (%ld)\n", E, c->n_head);
        return false;
    }
    m->blocks = calloc((size_t)c->n_layer, sizeof *m->blocks);
    cg_module *tr = cg_module_new("ModuleDict"), *h = cg_module_list_new();
    bool ok = m->blocks && tr && h;
    ok = ok && add(tr, "wte", m->wte = cg_embedding_new(.num_embeddings = m->V, .embedding_dim = E));
    ok = ok && add(tr, "wpe", m->wpe = cg_embedding_new(.num_embeddings = m->T, .embedding_dim = E));
    for (long i = 0; ok && i < c->n_layer; i++, m->n_blocks++) {
        cg_module *blk = build_block(&m->blocks[i], E);
        ok = blk && cg_module_append(h, blk) == 0;
        if (!ok)
            cg_module_free(blk);
    }
    ok = hand_over(ok, tr, "h", &h);
    ok = ok && add(tr, "ln_f", m->ln_f = cg_layer_norm_new(.normalized_shape = E));
    ok = hand_over(ok, m->root, "transformer", &tr);
    return ok && add(m->root, "lm_head", m->lm_head = linear(E, m->V, false));
}

int model_init(model *m, const wg_cfg *c, int V, int T)
{
    *m = (model){.kind = model_kind(c->model), .V = V, .T = T, .n_head = (int)c->n_head};
    static const char *const types[] = {"Bigram", "MLP", "RNN", "RNN", "RNN", "Transformer"};
    m->root = m->kind >= 0 ? cg_module_new(types[m->kind]) : NULL;
    bool ok = m->root != NULL;
    if (ok)
        ok = m->kind == M_BIGRAM ? build_bigram(m) : m->kind == M_MLP ? build_mlp(m, c)
             : m->kind == M_TRANSFORMER ? build_transformer(m, c) : build_recurrent(m, c);
    if (!ok) {
        fprintf(stderr, "wordgen: cannot build the %s model: %s\n", c->model, cg_last_error());
        model_free(m);
        return -1;
    }
    return 0;
}

void model_free(model *m)
{
    cg_module_free(m->root);
    free(m->blocks);
    *m = (model){0};
}

/* ---- forward ---------------------------------------------------------------------------- */

/* MLP: the ids of the T previous positions of every position, V before the start:
 * torch's roll-and-fill loop as one (B, T', T) index tensor. */
static cg_tensor *context_ids(const model *m, cg_tensor *x)
{
    int64_t B = cg_size(x, 0), L = cg_size(x, 1), K = m->T;
    cg_tensor *ctx = cg_empty(CG_SHAPE(B, L, K));
    if (!ctx)
        return NULL;
    const float *ids = cg_data(x);
    float *out = cg_data(ctx);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < L; t++)
            for (int64_t k = 0; k < K; k++)
                out[(b * L + t) * K + k] = t - k >= 0 ? ids[b * L + t - k] : (float)m->V;
    return ctx;
}

static cg_tensor *mlp_forward(model *m, cg_tensor *x)
{
    cg_tensor *emb = cg_module_forward(m->wte, context_ids(m, x));
    return cg_module_forward(m->mlp, cg_reshape(emb, CG_SHAPE(cg_size(x, 0), cg_size(x, 1), -1)));
}

static cg_tensor *recurrent_forward(model *m, cg_tensor *x)
{
    cg_tensor *h0 = cg_unsqueeze(cg_expand(m->start, CG_SHAPE(cg_size(x, 0), -1)), 0);
    cg_tensor *emb = cg_module_forward(m->wte, x), *out;
    if (m->kind == M_LSTM)
        out = cg_lstm_forward(m->rnn, emb, h0, NULL, NULL, NULL);
    else
        out = (m->kind == M_RNN ? cg_rnn_forward : cg_gru_forward)(m->rnn, emb, h0, NULL);
    return cg_module_forward(m->lm_head, out);
}

/* Causal self-attention: q, k, v of every head from one product (c_attn), attended head by
 * head where they lie in its output and joined as they are written (cg_packed_attention:
 * makemore's split, view and transpose of the heads and the transpose back, without their
 * copies; the same numbers). */
static cg_tensor *attention(const gpt_block *b, cg_tensor *x, int n_head)
{
    cg_tensor *y = cg_packed_attention_ex(cg_module_forward(b->c_attn, x), n_head, .is_causal = true);
    return cg_module_forward(b->c_proj, y);
}

static cg_tensor *transformer_forward(model *m, cg_tensor *x)
{
    cg_tensor *pos = cg_arange(0, (double)cg_size(x, 1), 1);
    cg_tensor *h = cg_add(cg_module_forward(m->wte, x), cg_module_forward(m->wpe, pos));
    for (int i = 0; i < m->n_blocks; i++) {
        const gpt_block *b = &m->blocks[i];
        h = cg_add(h, attention(b, cg_module_forward(b->ln_1, h), m->n_head));
        cg_tensor *f = cg_gelu_tanh(cg_module_forward(b->c_fc, cg_module_forward(b->ln_2, h)));
        h = cg_add(h, cg_module_forward(b->mlp_proj, f));
    }
    return cg_module_forward(m->lm_head, cg_module_forward(m->ln_f, h));
}

cg_tensor *model_forward(model *m, cg_tensor *x)
{
    switch (m->kind) {
    case M_BIGRAM: return cg_embedding(m->table, x);
    case M_MLP: return mlp_forward(m, x);
    case M_TRANSFORMER: return transformer_forward(m, x);
    default: return recurrent_forward(m, x);
    }
}

cg_tensor *model_loss(model *m, cg_tensor *x, cg_tensor *y, cg_reduction reduction)
{
    cg_tensor *logits = cg_reshape(model_forward(m, x), CG_SHAPE(-1, m->V));
    return cg_cross_entropy_ex(logits, cg_reshape(y, CG_SHAPE(-1)), .ignore_index = -1, .reduction = reduction);
}
