/* cgrad — masks: tril and triu (the lower or upper triangle of the last two
 * dims, the rest zero) and masked_fill. The gradient goes back where the value
 * came from the input, and nowhere else. */
#include "autograd_internal.h"
#include <string.h>

/* What a tril/triu node keeps: which triangle, and its diagonal. */
typedef struct {
    bool upper;
    int64_t diagonal;
} triangle_saved;

/* Whether element (i, j) of a matrix is kept. */
static bool kept(const triangle_saved *sv, int64_t i, int64_t j)
{
    return sv->upper ? j - i >= sv->diagonal : j - i <= sv->diagonal;
}

/* dst = src where kept, 0 elsewhere (dst += when accumulating), over every matrix of t's shape. */
static void triangle_copy(const cg_tensor *t, const triangle_saved *sv, const float *src, float *dst, bool add)
{
    int64_t R = t->shape[t->ndim - 2], C = t->shape[t->ndim - 1], mats = R * C != 0 ? t->numel / (R * C) : 0;
    for (int64_t m = 0; m < mats; m++)
        for (int64_t i = 0; i < R; i++)
            for (int64_t j = 0; j < C; j++) {
                int64_t k = (m * R + i) * C + j;
                float v = kept(sv, i, j) ? src[k] : 0.0f;
                dst[k] = add ? dst[k] + v : v;
            }
}

static int triangle_backward(cg_node *n, const float *g)
{
    float *gx = cg__grad_buf(n->in[0]);
    if (gx)
        triangle_copy(n->out, n->saved, g, gx, true);
    return 0;
}
static const cg_op tril_op = {.name = "TrilBackward0", .backward = triangle_backward, .saves = 0};
static const cg_op triu_op = {.name = "TriuBackward0", .backward = triangle_backward, .saves = 0};

static cg_tensor *triangle(cg_tensor *t, int64_t diagonal, bool upper, const char *name)
{
    if (!(t = cg__operand(t, name)))
        return NULL;
    if (t->ndim < 2) {
        char s[CG_SHAPE_BUF];
        cg__error("%s: needs at least 2 dims, got %s", name, cg__shape_fmt(s, t->ndim, t->shape));
        return NULL;
    }
    cg_tensor *out = cg__new_as(t, name);
    if (!out)
        return NULL;
    triangle_saved sv = {upper, diagonal};
    triangle_copy(t, &sv, t->data, out->data, false);
    return CG__RECORD_WITH(out, upper ? &triu_op : &tril_op, 1, &t, &sv);
}

cg_tensor *cg_tril(cg_tensor *t, int64_t diagonal) { return triangle(t, diagonal, false, "cg_tril"); }
cg_tensor *cg_triu(cg_tensor *t, int64_t diagonal) { return triangle(t, diagonal, true, "cg_triu"); }

/* ---- masked_fill: value where mask is non-zero, t elsewhere (broadcasting) ------------- */

/* What a masked_fill node keeps: the filled value (the mask is its input 1). */
typedef struct {
    float value;
} fill_saved;

static int masked_fill_backward(cg_node *n, const float *g)
{
    cg_tensor *t = n->in[0], *mask = n->in[1];
    float *gt = cg__grad_buf(t);
    if (!gt)
        return 0;
    cg__bcast it;
    cg__bcast_init(&it, n->out->ndim, n->out->shape, 2, (const cg_tensor *const *)n->in);
    const float *M = mask->data;
    CG__BCAST_FOR(&it, {
        if (M[o1_] == 0.0f)
            gt[o0_] += g[i_];
    });
    return 0;
}
static const cg_op masked_fill_op = {.name = "MaskedFillBackward0", .backward = masked_fill_backward,
                                     .saves = CG_SAVES_IN(1)};

cg_tensor *cg_masked_fill(cg_tensor *t, cg_tensor *mask, float value)
{
    cg_tensor *ins[2] = {t, mask};
    cg__bcast it;
    cg_tensor *out = cg__broadcast_out(2, ins, "cg_masked_fill", &it);
    if (!out)
        return NULL;
    const float *T = ins[0]->data, *M = ins[1]->data;
    CG__BCAST_FOR(&it, { out->data[i_] = M[o1_] != 0.0f ? value : T[o0_]; });
    fill_saved sv = {value};
    return CG__RECORD_WITH(out, &masked_fill_op, 2, ins, &sv);
}
