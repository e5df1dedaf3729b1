/* cgrad — dist: data-parallel training over MPI. Built with MPI when
 * CG_HAVE_MPI is 1; without it, the same functions act for one process. */
#include "autograd_internal.h"
#include "cgrad_config.h"
#include "dist.h"
#include <stdlib.h>
#include <string.h>
#if CG_HAVE_MPI
#include <mpi.h>
#endif

bool cg_dist_available(void) { return CG_HAVE_MPI; }

bool cg_dist_launched(void)
{
    /* Open MPI's, MPICH's and PMIx's launchers each set one of these */
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return true;
    return false;
}

#if CG_HAVE_MPI

static bool we_initialised; /* MPI_Finalize is ours to call */

static bool mpi_running(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}

/* Checks an MPI call; false with a message naming the cgrad call. */
static bool mpi_ok(int rc, const char *op, const char *what)
{
    if (rc == MPI_SUCCESS)
        return true;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    cg__error("%s: %s failed: %.*s", op, what, len, text);
    return false;
}

int cg_dist_init(int *argc, char ***argv)
{
    if (mpi_running())
        return 0;
    if (!mpi_ok(MPI_Init(argc, argv), "cg_dist_init", "MPI_Init"))
        return -1;
    we_initialised = true;
    return 0;
}

int cg_dist_finalize(void)
{
    if (!we_initialised || !mpi_running())
        return 0;
    we_initialised = false;
    return mpi_ok(MPI_Finalize(), "cg_dist_finalize", "MPI_Finalize") ? 0 : -1;
}

int cg_dist_rank(void)
{
    int r = 0;
    if (mpi_running())
        MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int cg_dist_size(void)
{
    int n = 1;
    if (mpi_running())
        MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

#else

int cg_dist_init(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}
int cg_dist_finalize(void) { return 0; }
int cg_dist_rank(void) { return 0; }
int cg_dist_size(void) { return 1; }

#endif

/* ---- collectives ------------------------------------------------------------------ */

/* The tensors live, and (for gradients) each with a .grad; their total size. */
static bool check_list(cg_tensor **ts, int n, bool grads, int64_t *total, const char *op)
{
    if (!ts || n < 0) {
        cg__error("%s: needs a list of tensors", op);
        return false;
    }
    *total = 0;
    for (int i = 0; i < n; i++) {
        if (!cg__check(ts[i], op))
            return false;
        if (ts[i]->strided) { /* exchanged as row-major buffers */
            cg__error("%s: tensor %d is a strided view; pass cg_contiguous() of it", op, i);
            return false;
        }
        cg_tensor *t = grads ? cg__grad_of(ts[i]) : ts[i];
        if (!t) {
            cg__error("%s: parameter %d has no .grad; run backward first", op, i);
            return false;
        }
        *total += t->numel;
    }
    return true;
}

#if CG_HAVE_MPI /* only the collectives move buffers */
/* The one buffer the collectives move, kept between steps (a training loop asks for the same size each time). */
static float *bucket(int64_t n, const char *op)
{
    static _Thread_local float *buf;
    static _Thread_local int64_t cap;
    if (n > INT32_MAX) { /* MPI counts are ints */
        cg__error("%s: %lld values do not fit one message", op, (long long)n);
        return NULL;
    }
    if (n > cap) {
        float *bigger = realloc(buf, (size_t)n * sizeof(float));
        if (!bigger) {
            cg__error("%s: out of memory for %lld values", op, (long long)n);
            return NULL;
        }
        buf = bigger, cap = n;
    }
    return buf;
}

/* Copies the tensors (or their gradients) into buf, or back out of it scaled. */
static void pack(cg_tensor **ts, int n, bool grads, float *buf, bool out, float scale)
{
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        cg_tensor *t = grads ? cg__grad_of(ts[i]) : ts[i];
        if (!out) {
            memcpy(buf + at, t->data, (size_t)t->numel * sizeof(float));
        } else {
            for (int64_t k = 0; k < t->numel; k++)
                t->data[k] = buf[at + k] * scale;
            cg__bump_version(t);
        }
        at += t->numel;
    }
}
#endif

int cg_dist_allreduce_grads(cg_tensor **params, int n)
{
    int64_t total;
    if (!check_list(params, n, true, &total, "cg_dist_allreduce_grads"))
        return -1;
    int size = cg_dist_size();
    if (size == 1 || total == 0)
        return 0;
#if CG_HAVE_MPI
    float *buf = bucket(total, "cg_dist_allreduce_grads");
    if (!buf)
        return -1;
    pack(params, n, true, buf, false, 1);
    if (!mpi_ok(MPI_Allreduce(MPI_IN_PLACE, buf, (int)total, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
                "cg_dist_allreduce_grads", "MPI_Allreduce"))
        return -1;
    pack(params, n, true, buf, true, 1.0f / (float)size);
#endif
    return 0;
}

int cg_dist_broadcast_params(cg_tensor **params, int n)
{
    int64_t total;
    if (!check_list(params, n, false, &total, "cg_dist_broadcast_params"))
        return -1;
    if (cg_dist_size() == 1 || total == 0)
        return 0;
#if CG_HAVE_MPI
    float *buf = bucket(total, "cg_dist_broadcast_params");
    if (!buf)
        return -1;
    pack(params, n, false, buf, false, 1);
    if (!mpi_ok(MPI_Bcast(buf, (int)total, MPI_FLOAT, 0, MPI_COMM_WORLD), "cg_dist_broadcast_params", "MPI_Bcast"))
        return -1;
    if (cg_dist_rank() != 0)
        pack(params, n, false, buf, true, 1);
#endif
    return 0;
}

double cg_dist_allreduce_sum(double value)
{
#if CG_HAVE_MPI
    if (cg_dist_size() > 1 &&
        !mpi_ok(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
                "cg_dist_allreduce_sum", "MPI_Allreduce"))
        return NAN;
#endif
    return value;
}

int cg_dist_gather(cg_tensor *local, cg_tensor *all)
{
    if (!cg__check(local, "cg_dist_gather") || !(local = cg__dense_plain(local, "cg_dist_gather")))
        return -1;
    if (all && cg__check(all, "cg_dist_gather") && all->strided) {
        cg__error("cg_dist_gather: the result is a strided view; gather into a row-major tensor");
        return -1;
    }
    int size = cg_dist_size(), rank = cg_dist_rank();
    if (rank == 0) {
        bool fits = all && cg__check(all, "cg_dist_gather") && all->ndim == local->ndim + 1 && all->shape[0] == size;
        for (int d = 0; fits && d < local->ndim; d++)
            fits = all->shape[d + 1] == local->shape[d];
        if (!fits) {
            char a[CG_SHAPE_BUF];
            cg__error("cg_dist_gather: rank 0 needs a tensor of shape (%d, *%s)", size,
                      cg__shape_fmt(a, local->ndim, local->shape));
            return -1;
        }
    }
    if (local->numel > INT32_MAX) {
        cg__error("cg_dist_gather: %lld values do not fit one message", (long long)local->numel);
        return -1;
    }
    if (size == 1) {
        memcpy(all->data, local->data, (size_t)local->numel * sizeof(float));
        cg__bump_version(all);
        return 0;
    }
#if CG_HAVE_MPI
    if (!mpi_ok(MPI_Gather(local->data, (int)local->numel, MPI_FLOAT, rank == 0 ? all->data : NULL,
                           (int)local->numel, MPI_FLOAT, 0, MPI_COMM_WORLD),
                "cg_dist_gather", "MPI_Gather"))
        return -1;
    if (rank == 0)
        cg__bump_version(all);
#endif
    return 0;
}

int cg_dist_barrier(void)
{
#if CG_HAVE_MPI
    if (cg_dist_size() > 1 && !mpi_ok(MPI_Barrier(MPI_COMM_WORLD), "cg_dist_barrier", "MPI_Barrier"))
        return -1;
#endif
    return 0;
}
