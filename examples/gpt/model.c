/* gpt — nanoGPT's GPT: token and position embeddings, n_layer pre-LN blocks of causal
 * self-attention (c_attn, c_proj) and a GELU MLP (c_fc, c_proj), a final LayerNorm, and
 * the head tied to the token embedding. The parameters carry nanoGPT's state-dict names
 * ("transformer.h.0.attn.c_attn.weight"); lm_head.weight is transformer.wte.weight. */
#include "gpt.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool add(cg_module *parent, const char *name, cg_module *child)
{
    if (child && cg_module_add_child(parent, name, child) == 0)
        return true;
    cg_module_free(child);
    return false;
}

/* nanoGPT's LayerNorm: weight ones, bias zeros or none (torch 1.13's has no bias=False). */
static cg_module *layer_norm(long E, bool bias)
{
    cg_module *ln = cg_module_new("LayerNorm");
    bool ok = ln && cg_module_add_param(ln, "weight", CG_SHAPE(E)) && (!bias || cg_module_add_param(ln, "bias", CG_SHAPE(E)));
    if (ok) {
        cg_no_grad_begin();
        cg_fill_(cg_param(ln, "weight"), 1);
        cg_no_grad_end();
        return ln;
    }
    cg_module_free(ln);
    return NULL;
}

static cg_module *linear(long in, long out, bool bias)
{
    return cg_linear_new(.in_features = in, .out_features = out, .bias = bias);
}

/* A Block, its modules made in nanoGPT's order (Linear's construction draws its weights). */
static cg_module *build_block(gpt_block *b, long E, bool bias)
{
    cg_module *blk = cg_module_new("Block"), *attn = cg_module_new("CausalSelfAttention"), *mlp = cg_module_new("MLP");
    bool ok = blk && attn && mlp && add(blk, "ln_1", b->ln_1 = layer_norm(E, bias));
    ok = ok && add(attn, "c_attn", b->c_attn = linear(E, 3 * E, bias)) && add(attn, "c_proj", b->c_proj = linear(E, E, bias));
    ok = ok && add(blk, "attn", attn) && (attn = NULL, true);
    ok = ok && add(blk, "ln_2", b->ln_2 = layer_norm(E, bias));
    ok = ok && add(mlp, "c_fc", b->c_fc = linear(E, 4 * E, bias)) && add(mlp, "c_proj", b->mlp_proj = linear(4 * E, E, bias));
    ok = ok && add(blk, "mlp", mlp) && (mlp = NULL, true);
    if (!ok) {
        cg_module_free(attn), cg_module_free(mlp), cg_module_free(blk);
        return NULL;
    }
    return blk;
}

/* GPT._init_weights as nn.Module.apply visits the modules (children before their
 * parent): N(0, 0.02) for every Linear's weight (biases zero) and Embedding's, the
 * tied head's weight drawn again last; then the residual projections N(0, 0.02/sqrt(2L)). */
static void init_weights(gpt_model *m)
{
    cg_no_grad_begin();
    cg_tensor *wte = cg_param(m->wte, "weight");
    cg_normal_(wte, 0, 0.02f);
    cg_normal_(cg_param(m->wpe, "weight"), 0, 0.02f);
    for (long i = 0; i < m->n_layer; i++) {
        cg_module *lins[] = {m->blocks[i].c_attn, m->blocks[i].c_proj, m->blocks[i].c_fc, m->blocks[i].mlp_proj};
        for (int k = 0; k < 4; k++) {
            cg_normal_(cg_param(lins[k], "weight"), 0, 0.02f);
            if (m->bias)
                cg_fill_(cg_param(lins[k], "bias"), 0);
        }
    }
    cg_normal_(wte, 0, 0.02f); /* lm_head's turn: the same tensor */
    float std = (float)(0.02 / sqrt(2.0 * (double)m->n_layer));
    for (long i = 0; i < m->n_layer; i++) { /* named_parameters order: attn.c_proj, then mlp.c_proj */
        cg_normal_(cg_param(m->blocks[i].c_proj, "weight"), 0, std);
        cg_normal_(cg_param(m->blocks[i].mlp_proj, "weight"), 0, std);
    }
    cg_no_grad_end();
}

int model_init(gpt_model *m, const train_cfg *c, long vocab_size)
{
    *m = (gpt_model){.V = vocab_size, .block_size = c->block_size, .n_layer = c->n_layer, .n_head = c->n_head,
                     .n_embd = c->n_embd, .dropout = c->dropout, .bias = is_true(c->bias)};
    long E = m->n_embd;
    m->root = cg_module_new("GPT");
    m->blocks = calloc((size_t)m->n_layer, sizeof *m->blocks);
    cg_module *tr = cg_module_new("ModuleDict"), *h = cg_module_list_new();
    bool ok = m->root && m->blocks && tr && h;
    ok = ok && add(tr, "wte", m->wte = cg_embedding_new(.num_embeddings = m->V, .embedding_dim = E));
    ok = ok && add(tr, "wpe", m->wpe = cg_embedding_new(.num_embeddings = m->block_size, .embedding_dim = E));
    for (long i = 0; ok && i < m->n_layer; i++) {
        cg_module *blk = build_block(&m->blocks[i], E, m->bias);
        ok = blk && cg_module_append(h, blk) == 0;
        if (!ok)
            cg_module_free(blk);
    }
    ok = ok && add(tr, "h", h) && (h = NULL, true);
    ok = ok && add(tr, "ln_f", m->ln_f = layer_norm(E, m->bias));
    ok = ok && add(m->root, "transformer", tr) && (tr = NULL, true);
    /* lm_head: made (its construction draws, as nanoGPT's does) and tied to wte, as
     * nanoGPT's `self.transformer.wte.weight = self.lm_head.weight` leaves them: one tensor */
    ok = ok && add(m->root, "lm_head", m->lm_head = linear(E, m->V, false)) &&
         cg_module_set_param(m->root, "lm_head.weight", cg_param(m->wte, "weight")) == 0;
    if (!ok) {
        fprintf(stderr, "gpt: cannot build the model: %s\n", cg_last_error());
        cg_module_free(h), cg_module_free(tr);
        model_free(m);
        return -1;
    }
    init_weights(m);
    return 0;
}

void model_free(gpt_model *m)
{
    cg_module_free(m->root);
    free(m->blocks);
    *m = (gpt_model){0};
}

static cg_tensor *norm(cg_module *ln, cg_tensor *x, bool bias)
{
    return cg_layer_norm(x, 1, cg_param(ln, "weight"), bias ? cg_param(ln, "bias") : NULL, 1e-5f);
}

/* Causal self-attention: q, k, v of every head from one product (c_attn), attended head
 * by head where they lie in its output and joined as they are written (cg_packed_attention:
 * nanoGPT's split, view, transpose, attention, transpose back, without the copies), then
 * projected. */
static cg_tensor *attention(const gpt_model *m, const gpt_block *b, cg_tensor *x, bool training)
{
    cg_tensor *y = cg_packed_attention_ex(cg_linear_forward(b->c_attn, x), (int)m->n_head, .is_causal = true,
                                          .dropout_p = training ? (float)m->dropout : 0.0f);
    return cg_dropout(cg_linear_forward(b->c_proj, y), (float)m->dropout, training);
}

cg_tensor *model_forward(gpt_model *m, cg_tensor *idx, bool training)
{
    if (!idx || cg_ndim(idx) != 2 || cg_size(idx, 1) > m->block_size) {
        fprintf(stderr, "gpt: cannot forward a sequence longer than the block size %ld\n", m->block_size);
        return NULL;
    }
    float p = (float)m->dropout;
    cg_tensor *pos = cg_arange(0, (double)cg_size(idx, 1), 1);
    cg_tensor *x = cg_dropout(cg_add(cg_embedding_forward(m->wte, idx), cg_embedding_forward(m->wpe, pos)), p, training);
    for (long i = 0; i < m->n_layer; i++) {
        const gpt_block *b = &m->blocks[i];
        x = cg_add(x, attention(m, b, norm(b->ln_1, x, m->bias), training));
        cg_tensor *f = cg_gelu(cg_linear_forward(b->c_fc, norm(b->ln_2, x, m->bias)));
        x = cg_add(x, cg_dropout(cg_linear_forward(b->mlp_proj, f), p, training));
    }
    return cg_linear_forward(m->lm_head, norm(m->ln_f, x, m->bias)); /* its weight is wte's */
}

cg_tensor *model_loss(gpt_model *m, cg_tensor *idx, cg_tensor *targets, bool training)
{
    cg_tensor *logits = cg_reshape(model_forward(m, idx, training), CG_SHAPE(-1, m->V));
    return cg_cross_entropy_ex(logits, cg_reshape(targets, CG_SHAPE(-1)), .ignore_index = -1);
}

bool decays(cg_tensor *p) { return cg_ndim(p) >= 2; }

/* configure_optimizers: the >= 2-D weights decay, the rest (biases, LayerNorms) do not. */
int make_optimizers(gpt_model *m, const train_cfg *c, train_state *s, bool report)
{
    int n;
    cg_tensor **ps = cg_parameters(m->root, &n);
    cg_tensor **decay = malloc(sizeof *decay * (size_t)n), **rest = malloc(sizeof *rest * (size_t)n);
    int nd = 0, nr = 0;
    long long cd = 0, cr = 0;
    for (int i = 0; decay && rest && i < n; i++) {
        if (decays(ps[i]))
            decay[nd++] = ps[i], cd += cg_numel(ps[i]);
        else
            rest[nr++] = ps[i], cr += cg_numel(ps[i]);
    }
    if (decay && rest) { /* the other options are the first group's, as torch takes them from AdamW(...)'s */
        s->opt = cg_adamw_new(decay, nd, .lr = c->learning_rate, .beta1 = c->beta1, .beta2 = c->beta2,
                              .weight_decay = c->weight_decay);
        if (s->opt && nr && cg_adam_add_param_group(s->opt, rest, nr, .weight_decay = 0) != 0) {
            cg_optim_free(s->opt);
            s->opt = NULL;
        }
    }
    free(decay);
    free(rest);
    if (!s->opt) {
        fprintf(stderr, "gpt: %s\n", cg_last_error());
        return -1;
    }
    if (report) {
        printf("num decayed parameter tensors: %d, with %lld parameters\n", nd, cd);
        printf("num non-decayed parameter tensors: %d, with %lld parameters\n", nr, cr);
    }
    return 0;
}

