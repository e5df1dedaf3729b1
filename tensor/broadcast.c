/* cgrad — broadcasting shapes and the merged-dims iteration over them. */
#include "kernels.h"
#include <string.h>

bool cg__broadcast_shape(int nops, const cg_tensor *const *ops, int *ndim, int64_t *shape, const char *op)
{
    if (nops > 0 && cg__same_shapes(nops - 1, ops + 1, ops[0]->ndim, ops[0]->shape)) { /* usual: nothing to broadcast */
        *ndim = ops[0]->ndim;
        for (int d = 0; d < *ndim; d++)
            shape[d] = ops[0]->shape[d];
        return true;
    }
    int nd = 0;
    for (int k = 0; k < nops; k++)
        if (ops[k]->ndim > nd)
            nd = ops[k]->ndim;
    for (int d = 0; d < nd; d++) {
        int64_t size = 1;
        for (int k = 0; k < nops; k++) {
            int kd = d - (nd - ops[k]->ndim);
            if (kd < 0)
                continue;
            int64_t s = ops[k]->shape[kd];
            if (s == size || s == 1)
                continue;
            if (size != 1) {
                char a[CG_SHAPE_BUF], b[CG_SHAPE_BUF];
                cg__error("%s: shapes %s and %s do not broadcast (dim %d: %lld vs %lld)", op,
                          cg__shape_fmt(a, ops[0]->ndim, ops[0]->shape),
                          cg__shape_fmt(b, ops[k]->ndim, ops[k]->shape), d, (long long)size, (long long)s);
                return false;
            }
            size = s;
        }
        shape[d] = size;
    }
    *ndim = nd;
    return true;
}

void cg__bcast_walk_init(cg__bcast *it, int ndim, const int64_t *shape, int nops, const cg_tensor *const *ops)
{
    it->nops = nops;
    it->numel = 1;
    for (int d = 0; d < ndim; d++)
        if (shape[d] == 0) { /* nothing to walk; and an operand's strides past a 0 could overflow */
            it->numel = 0;
            it->ndim = 0;
            memset(it->stride, 0, sizeof it->stride);
            return;
        }
    int64_t stride[CG__BCAST_MAX_OPS][CG_MAX_DIMS] = {{0}};
    memset(it->stride, 0, sizeof it->stride);
    for (int k = 0; k < nops; k++) {
        int64_t s = 1;
        for (int d = ndim - 1; d >= 0; d--) {
            int kd = d - (ndim - ops[k]->ndim);
            int64_t size = kd >= 0 ? ops[k]->shape[kd] : 1;
            stride[k][d] = size == 1 ? 0 : s;
            s *= size;
        }
    }
    /* Merge dim d into the one before it when every operand walks them as one. */
    int nd = 0;
    for (int d = 0; d < ndim; d++) {
        it->numel *= shape[d];
        if (shape[d] == 1)
            continue; /* size-1 dims contribute nothing to the walk */
        bool merge = nd > 0;
        for (int k = 0; k < nops && merge; k++)
            merge = stride[k][d] * shape[d] == it->stride[k][nd - 1] ||
                    (stride[k][d] == 0 && it->stride[k][nd - 1] == 0);
        if (merge) {
            it->shape[nd - 1] *= shape[d];
            for (int k = 0; k < nops; k++)
                it->stride[k][nd - 1] = stride[k][d];
        } else {
            it->shape[nd] = shape[d];
            for (int k = 0; k < nops; k++)
                it->stride[k][nd] = stride[k][d];
            nd++;
        }
    }
    if (nd == 0 && it->numel > 0) { /* all ones: one element */
        it->shape[0] = 1;
        nd = 1;
    }
    it->ndim = nd;
}

cg__dim_split cg__split_at(const cg_tensor *t, int dim)
{
    cg__dim_split s = {1, t->ndim ? t->shape[dim] : 1, 1};
    for (int d = 0; d < dim; d++)
        s.outer *= t->shape[d];
    for (int d = dim + 1; d < t->ndim; d++)
        s.inner *= t->shape[d];
    /* With nothing inside a block there is nothing to visit in any of them: no
     * loop over 2^31 empty blocks (a (2^31, 3, 0) tensor along dim 1). */
    if (s.inner == 0)
        s.outer = 0;
    return s;
}
