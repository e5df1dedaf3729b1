/* cgrad — the pointwise part of an LSTM step and of a GRU step, each as one op
 * with its own backward (what PyTorch's fused cell kernels do on the GPU): the
 * gate products stay ordinary linear ops, so backprop-through-time is still the
 * engine walking the unrolled graph, but a step records one node for its gates
 * instead of a dozen, and their values pass through memory once.
 *
 * The forwards compute exactly what the composed ops compute (torch's CPU cell
 * formulas, in torch's order, with the same vectorised sigmoid and tanh), so the
 * values are the same to the bit; the backwards are the composed ops' chain rule. */
#include "autograd_internal.h"
#include <string.h>

/* ---- LSTM: i, f, g, o = σ, σ, tanh, σ of the gates' four chunks; c = f c_prev + i g;
 * h = o tanh(c). The result holds h and c stacked: (2, ..., H). ---------------------- */

typedef struct {
    int64_t rows, H;
    float act[]; /* rows x 4H activated gates, then rows x H of tanh(c) */
} lstm_saved;

/* One row of the backward: the four gates' gradients into d (stored), dc f into dcp
 * (stored); plain loops over restrict pointers, which the compiler vectorises. */
static void lstm_row_backward(const float *restrict a, const float *restrict tc, const float *restrict cp,
                              const float *restrict gh, const float *restrict gc, int64_t H, float *restrict d,
                              float *restrict dcp)
{
    for (int64_t k = 0; k < H; k++) {
        float i = a[k], f = a[H + k], gg = a[2 * H + k], o = a[3 * H + k];
        float dc = gc[k] + gh[k] * o * (1 - tc[k] * tc[k]);
        dcp[k] = dc * f;
        d[k] = dc * gg * (1 - i) * i;
        d[H + k] = dc * cp[k] * (1 - f) * f;
        d[2 * H + k] = dc * i * (1 - gg * gg);
        d[3 * H + k] = gh[k] * tc[k] * (1 - o) * o;
    }
}

static void add_into(float *restrict dst, const float *restrict src, int64_t n)
{
    for (int64_t k = 0; k < n; k++)
        dst[k] += src[k];
}

static int lstm_backward(cg_node *n, const float *g)
{
    const lstm_saved *sv = n->saved;
    int64_t R = sv->rows, H = sv->H;
    const float *act = sv->act, *tc = sv->act + 4 * R * H, *cp = n->in[1]->data;
    bool fresh;
    float *dgates = cg__grad_buf_to_write(n->in[0], &fresh), *dcp = cg__grad_buf(n->in[1]);
    cg__scratch_begin();
    float *row = cg__scratch(sizeof(float) * (size_t)(5 * H)); /* a row's 4H gate gradients, then its dc f */
    for (int64_t r = 0; row && r < R; r++) {
        float *d = dgates && fresh ? dgates + r * 4 * H : row;
        lstm_row_backward(act + r * 4 * H, tc + r * H, cp + r * H, g + r * H, g + (R + r) * H, H, d, row + 4 * H);
        if (dgates && !fresh)
            add_into(dgates + r * 4 * H, row, 4 * H);
        if (dcp)
            add_into(dcp + r * H, row + 4 * H, H);
    }
    cg__scratch_end();
    return row ? 0 : -1;
}
static const cg_op lstm_op = {.name = "ThnnFusedLstmCellBackward0", .backward = lstm_backward,
                              .saves = CG_SAVES_IN(1), .fills_after_record = true};

static void lstm_forward(const cg_tensor *gates, const cg_tensor *c_prev, int64_t R, int64_t H, float *act, float *tc,
                         float *out)
{
    float *h = out, *c = out + R * H;
    for (int64_t r = 0; r < R; r++) {
        float *a = act + r * 4 * H;
        memcpy(a, gates->data + r * 4 * H, sizeof(float) * (size_t)(4 * H));
        cg__sigmoid_f32(2 * H, a, a);
        cg__tanh_f32(H, a + 2 * H, a + 2 * H);
        cg__sigmoid_f32(H, a + 3 * H, a + 3 * H);
        for (int64_t k = 0; k < H; k++) {
            float fc = a[H + k] * c_prev->data[r * H + k], ig = a[k] * a[2 * H + k];
            c[r * H + k] = fc + ig;
        }
    }
    cg__tanh_f32(R * H, c, tc);
    for (int64_t r = 0; r < R; r++)
        for (int64_t k = 0; k < H; k++)
            h[r * H + k] = act[r * 4 * H + 3 * H + k] * tc[r * H + k];
}

/* gates (..., 4H) and c (..., H) with the same leading dims. */
static bool cell_shapes_ok(const cg_tensor *a, int64_t chunks, const cg_tensor *c, const char *op)
{
    bool ok = a->ndim == c->ndim && a->ndim >= 1 && a->shape[a->ndim - 1] == chunks * c->shape[c->ndim - 1] &&
              !memcmp(a->shape, c->shape, sizeof(int64_t) * (size_t)(a->ndim - 1));
    if (!ok) {
        char x[CG_SHAPE_BUF], y[CG_SHAPE_BUF];
        cg__error("%s: gates %s do not fit the state %s", op, cg__shape_fmt(x, a->ndim, a->shape),
                  cg__shape_fmt(y, c->ndim, c->shape));
    }
    return ok;
}

cg_tensor *cg__lstm_cell(cg_tensor *gates, cg_tensor *c_prev, const char *op)
{
    if (!(gates = cg__operand(gates, op)) || !(c_prev = cg__operand(c_prev, op)) || !cell_shapes_ok(gates, 4, c_prev, op))
        return NULL;
    if (c_prev->ndim >= CG_MAX_DIMS) {
        cg__error("%s: the state has too many dims", op);
        return NULL;
    }
    int64_t H = c_prev->shape[c_prev->ndim - 1], R = H ? c_prev->numel / H : 0, shape[CG_MAX_DIMS] = {2};
    memcpy(shape + 1, c_prev->shape, sizeof(int64_t) * (size_t)c_prev->ndim);
    cg_tensor *out = cg__new(c_prev->ndim + 1, shape, op);
    if (!out)
        return NULL;
    lstm_saved args = {.rows = R, .H = H};
    size_t act_bytes = sizeof(float) * (size_t)(5 * R * H);
    cg_node *node;
    out = cg__record(out, &lstm_op, 2, (cg_tensor *[]){gates, c_prev}, &args, sizeof args, sizeof args + act_bytes,
                     &node);
    if (!out)
        return NULL;
    cg__scratch_begin();
    float *act = node ? ((lstm_saved *)node->saved)->act : cg__scratch(act_bytes);
    if (act)
        lstm_forward(gates, c_prev, R, H, act, act + 4 * R * H, out->data);
    cg__scratch_end();
    return act ? cg__forward_done(out, &lstm_op) : cg__forward_failed(out);
}

/* ---- GRU: r = σ(hr + xr), z = σ(hz + xz), n = tanh(xn + r hn), h' = (h - n) z + n,
 * from the input's gates xw = x W_ihᵀ + b_ih and the state's hw = h W_hhᵀ + b_hh. ---- */

typedef struct {
    int64_t rows, H;
    float rzn[]; /* rows x H each of r, z and n */
} gru_saved;

static int gru_backward(cg_node *nd, const float *g)
{
    const gru_saved *sv = nd->saved;
    int64_t R = sv->rows, H = sv->H, RH = R * H;
    const float *rr = sv->rzn, *zz = rr + RH, *nn = zz + RH, *hw = nd->in[1]->data, *h = nd->in[2]->data;
    bool fresh_x, fresh_h;
    float *dxw = cg__grad_buf_to_write(nd->in[0], &fresh_x), *dhw = cg__grad_buf_to_write(nd->in[1], &fresh_h);
    float *dh = cg__grad_buf(nd->in[2]);
    for (int64_t r = 0; r < R; r++)
        for (int64_t k = 0; k < H; k++) {
            int64_t e = r * H + k, gate = r * 3 * H + k;
            float z = zz[e], n = nn[e], rg = rr[e], gz = g[e] * z;
            float dsn = (g[e] - gz) * (1 - n * n), dsz = g[e] * (h[e] - n) * (1 - z) * z;
            float dsr = dsn * hw[gate + 2 * H] * (1 - rg) * rg;
            if (dh)
                dh[e] += gz;
            if (dxw) {
                CG__STORE_OR_ADD(dxw[gate], fresh_x, dsr);
                CG__STORE_OR_ADD(dxw[gate + H], fresh_x, dsz);
                CG__STORE_OR_ADD(dxw[gate + 2 * H], fresh_x, dsn);
            }
            if (dhw) {
                CG__STORE_OR_ADD(dhw[gate], fresh_h, dsr);
                CG__STORE_OR_ADD(dhw[gate + H], fresh_h, dsz);
                CG__STORE_OR_ADD(dhw[gate + 2 * H], fresh_h, dsn * rg);
            }
        }
    return 0;
}
static const cg_op gru_op = {.name = "ThnnFusedGruCellBackward0", .backward = gru_backward,
                             .saves = CG_SAVES_IN(1) | CG_SAVES_IN(2), .fills_after_record = true};

static void gru_forward(const float *xw, const float *hw, const float *h, int64_t R, int64_t H, float *rzn, float *out)
{
    float *rr = rzn, *zz = rzn + R * H, *nn = zz + R * H;
    for (int64_t r = 0; r < R; r++) {
        const float *x = xw + r * 3 * H, *hh = hw + r * 3 * H;
        float *rg = rr + r * H, *z = zz + r * H, *n = nn + r * H;
        for (int64_t k = 0; k < H; k++)
            rg[k] = hh[k] + x[k], z[k] = hh[H + k] + x[H + k];
        cg__sigmoid_f32(H, rg, rg);
        cg__sigmoid_f32(H, z, z);
        for (int64_t k = 0; k < H; k++) {
            float rh = hh[2 * H + k] * rg[k];
            n[k] = x[2 * H + k] + rh;
        }
        cg__tanh_f32(H, n, n);
        for (int64_t k = 0; k < H; k++) {
            float d = h[r * H + k] - n[k], dz = d * z[k];
            out[r * H + k] = dz + n[k];
        }
    }
}

cg_tensor *cg__gru_cell(cg_tensor *xw, cg_tensor *hw, cg_tensor *h, const char *op)
{
    cg_tensor *ins[3] = {xw, hw, h};
    if (!cg__dense_all(3, ins, op))
        return NULL;
    xw = ins[0], hw = ins[1], h = ins[2];
    if (!cell_shapes_ok(xw, 3, h, op) || !cell_shapes_ok(hw, 3, h, op))
        return NULL;
    int64_t H = h->shape[h->ndim - 1], R = H ? h->numel / H : 0;
    cg_tensor *out = cg__new_as(h, op);
    if (!out)
        return NULL;
    gru_saved args = {.rows = R, .H = H};
    size_t rzn_bytes = sizeof(float) * (size_t)(3 * R * H);
    cg_node *node;
    out = cg__record(out, &gru_op, 3, ins, &args, sizeof args, sizeof args + rzn_bytes, &node);
    if (!out)
        return NULL;
    cg__scratch_begin();
    float *rzn = node ? ((gru_saved *)node->saved)->rzn : cg__scratch(rzn_bytes);
    if (rzn)
        gru_forward(xw->data, hw->data, h->data, R, H, rzn, out->data);
    cg__scratch_end();
    return rzn ? cg__forward_done(out, &gru_op) : cg__forward_failed(out);
}
