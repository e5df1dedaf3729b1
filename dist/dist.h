/* cgrad — dist: data-parallel training over MPI, the shape of PyTorch's
 * DistributedDataParallel without its machinery. Every rank runs the same
 * program on its own part of the data; after backward, cg_dist_allreduce_grads
 * makes every rank's gradients the mean over all ranks (one MPI_Allreduce per
 * step over one buffer), so every rank takes the same optimizer step.
 *
 * cgrad is built with MPI when Open MPI is found (-Dmpi=auto|enabled|disabled);
 * without it every function here works as the only process of one: rank 0 of
 * 1, the mean of one is itself. So the same program runs either way. */
#ifndef CGRAD_DIST_H
#define CGRAD_DIST_H

#include "autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether this cgrad was built with MPI. */
bool cg_dist_available(void);
/* Whether an MPI launcher (mpirun, mpiexec, srun) started this process: a
 * program can call cg_dist_init only then, and start as fast as ever alone. */
bool cg_dist_launched(void);
/* MPI_Init (unless the program has initialised MPI already); argc/argv may be NULL. 0 or -1. */
int cg_dist_init(int *argc, char ***argv);
/* MPI_Finalize, if cg_dist_init initialised MPI. 0 or -1. */
int cg_dist_finalize(void);
int cg_dist_rank(void);   /* this process's rank: 0 .. size-1 (0 when not distributed) */
int cg_dist_size(void);   /* how many ranks (1 when not distributed) */

/* Every parameter's .grad becomes the mean of its values over the ranks, in
 * place: one MPI_Allreduce of one buffer holding all of them. Each parameter
 * needs a .grad (run backward first), of the same shape on every rank. 0 or -1. */
int cg_dist_allreduce_grads(cg_tensor **params, int n);
/* Rank 0's values of the n tensors to every rank (initial weights), in place,
 * in one MPI_Bcast. 0 or -1. */
int cg_dist_broadcast_params(cg_tensor **params, int n);
/* The sum of a number over the ranks, on every rank (losses, counts); NAN on error. */
double cg_dist_allreduce_sum(double value);
/* Rank 0 gets every rank's `local` stacked: all has shape (size, *local's shape)
 * on rank 0 (ignored elsewhere, may be NULL). 0 or -1. */
int cg_dist_gather(cg_tensor *local, cg_tensor *all);
/* Waits until every rank is here. */
int cg_dist_barrier(void);

#ifdef __cplusplus
}
#endif
#endif
