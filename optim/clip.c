/* cgrad — gradient clipping, as torch.nn.utils does it. */
#include "optim_internal.h"
#include <stdlib.h>

/* Each parameter's gradient norm, and the scaling, a task per parameter over the threads
 * (each norm summed by one thread, in eight running sums: the same bits on any count). */
typedef struct {
    cg_tensor *const *params;
    float *norms;
    float coef;
} clip_job;

static void norm_of_param(void *ctx, int64_t i)
{
    clip_job *j = ctx;
    const cg_tensor *g = cg__grad_of(j->params[i]);
    j->norms[i] = g ? (float)sqrt(cg__sum_squares(g->data, g->numel)) : 0.0f;
}

static void scale_param(void *ctx, int64_t i)
{
    clip_job *j = ctx;
    cg_tensor *g = cg__grad_of(j->params[i]);
    for (int64_t k = 0; g && k < g->numel; k++)
        g->data[k] *= j->coef;
}

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
    float local[256]; /* most models have fewer parameters than this */
    clip_job job = {params, n <= 256 ? local : malloc(sizeof(float) * (size_t)n), 1.0f};
    if (!job.norms) {
        cg__error("cg_clip_grad_norm: out of memory");
        return NAN;
    }
    cg__parallel_for(n, norm_of_param, &job);
    double total_sq = 0;
    for (int i = 0; i < n; i++)
        if (cg__grad_of(params[i]))
            total_sq += (double)job.norms[i] * job.norms[i];
    float total = (float)sqrt(total_sq);
    job.coef = max_norm / (total + 1e-6f);
    if (job.coef < 1.0f)
        cg__parallel_for(n, scale_param, &job);
    if (job.norms != local)
        free(job.norms);
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
