/* cgrad — gradient clipping, as torch.nn.utils does it. */
#include "optim_internal.h"

float cg_clip_grad_norm(cg_tensor **params, int n, float max_norm)
{
    if (!params || n < 0) {
        cg__error("cg_clip_grad_norm: params is NULL");
        return NAN;
    }
    for (int i = 0; i < n; i++)
        if (!cg__check(params[i], "cg_clip_grad_norm"))
            return NAN;
    /* total = || (||g_1||, ||g_2||, ...) ||, each norm rounded to float as torch's are */
    double total_sq = 0;
    for (int i = 0; i < n; i++) {
        cg_tensor *g = cg_grad(params[i]);
        if (!g)
            continue;
        const float *v = cg_data(g);
        double sq = 0;
        for (int64_t k = 0, len = cg_numel(g); k < len; k++)
            sq += (double)v[k] * v[k];
        float norm = (float)sqrt(sq);
        total_sq += (double)norm * norm;
    }
    float total = (float)sqrt(total_sq);
    float coef = max_norm / (total + 1e-6f);
    if (coef < 1.0f)
        for (int i = 0; i < n; i++) {
            cg_tensor *g = cg_grad(params[i]);
            float *v = g ? cg_data(g) : NULL;
            for (int64_t k = 0, len = g ? cg_numel(g) : 0; k < len; k++)
                v[k] *= coef;
        }
    return total;
}

int cg_clip_grad_value(cg_tensor **params, int n, float clip_value)
{
    if (!params || n < 0) {
        cg__error("cg_clip_grad_value: params is NULL");
        return -1;
    }
    if (!(clip_value >= 0)) {
        cg__error("cg_clip_grad_value: clip_value must be >= 0, got %g", (double)clip_value);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (!cg__check(params[i], "cg_clip_grad_value"))
            return -1;
    for (int i = 0; i < n; i++) {
        cg_tensor *g = cg_grad(params[i]);
        float *v = g ? cg_data(g) : NULL;
        for (int64_t k = 0, len = g ? cg_numel(g) : 0; k < len; k++)
            v[k] = v[k] > clip_value ? clip_value : v[k] < -clip_value ? -clip_value : v[k];
    }
    return 0;
}
