/* cgrad — what a tensor is in an unrolled graph, for the pictures' labels: a
 * parameter's (or a named tensor's) name, the loss at the root, the initial state,
 * and per time step x_t (the step's slice of the input, or of x W_ihᵀ computed for
 * all steps at once), h_t (the state a step hands to the next step and to the
 * output) and c_t (an LSTM's cell state, handed only to the next step). Read from
 * the graph's shape alone — the steps cg_set_step marks and who uses what — so that
 * any recurrent net built from cgrad's ops is labelled, not only the built-in ones. */
#include "autograd_internal.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    const cg_tensor *t;
    size_t k;
} indexed;

static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const indexed *)a)->t, y = (uintptr_t)((const indexed *)b)->t;
    return x < y ? -1 : x > y;
}

/* The index of t among the graph's tensors; n when it is not one of them. */
static size_t index_of(const indexed *sorted, size_t n, const cg_tensor *t)
{
    indexed key = {t, 0}, *hit = bsearch(&key, sorted, n, sizeof key, by_address);
    return hit ? hit->k : n;
}

enum { TO_NEXT_STEP = 1, TO_OUTSIDE = 2 };

/* For each tensor of a step: is it used by the next step, by an op outside the steps?
 * For each tensor outside the steps: the one step that uses it (-1 none, -2 several
 * or an op outside the steps too). */
static void mark_uses(cg_tensor **ts, size_t n, const indexed *sorted, unsigned char *use, int *user_step)
{
    for (size_t k = 0; k < n; k++)
        user_step[k] = -1;
    for (size_t k = 0; k < n; k++) {
        const cg_node *node = cg__node_of(ts[k]);
        int step = cg__step_of(ts[k]);
        for (int i = 0; node && i < node->nin; i++) {
            size_t j = index_of(sorted, n, node->in[i]);
            int from = j < n ? cg__step_of(ts[j]) : -1;
            if (from >= 0 && step == from + 1)
                use[j] |= TO_NEXT_STEP;
            else if (from >= 0 && step < 0)
                use[j] |= TO_OUTSIDE;
            else if (j < n && from < 0)
                user_step[j] = user_step[j] == -1 || user_step[j] == step ? (step >= 0 ? step : -2) : -2;
        }
    }
}

/* x_t: made in step t by slicing (Select, Narrow) a tensor that belongs to no step. */
static bool input_slice(const cg_tensor *t, char *role, size_t size)
{
    const cg_node *node = cg__node_of(t);
    if (!node || node->nin < 1 || !node->in[0] || cg__step_of(node->in[0]) >= 0 ||
        (strncmp(node->op->name, "Select", 6) != 0 && strncmp(node->op->name, "Narrow", 6) != 0))
        return false;
    snprintf(role, size, cg__node_of(node->in[0]) ? "x_%d W_ih" : "x_%d", cg__step_of(t));
    return true;
}

cg__role *cg__graph_roles(cg_tensor **ts, size_t n)
{
    cg__role *roles = calloc(n ? n : 1, sizeof *roles);
    indexed *sorted = malloc(sizeof *sorted * (n ? n : 1));
    unsigned char *use = calloc(n ? n : 1, 1);
    int *user_step = malloc(sizeof *user_step * (n ? n : 1));
    if (!roles || !sorted || !use || !user_step) {
        free(roles), free(sorted), free(use), free(user_step);
        cg__error("out of memory labelling the graph");
        return NULL;
    }
    for (size_t k = 0; k < n; k++)
        sorted[k] = (indexed){ts[k], k};
    qsort(sorted, n, sizeof *sorted, by_address);
    mark_uses(ts, n, sorted, use, user_step);
    for (size_t k = 0; k < n; k++) {
        const cg_tensor *t = ts[k];
        int step = cg__step_of(t);
        if (t->name)
            snprintf(roles[k], sizeof roles[k], "%s", t->name);
        else if (k == 0)
            snprintf(roles[k], sizeof roles[k], t->numel == 1 ? "loss" : "output");
        else if (step >= 0 && (use[k] & TO_OUTSIDE))
            snprintf(roles[k], sizeof roles[k], "h_%d", step);
        else if (step >= 0 && !input_slice(t, roles[k], sizeof roles[k]) && (use[k] & TO_NEXT_STEP))
            snprintf(roles[k], sizeof roles[k], "state_%d", step); /* h_t or c_t: settled below */
    }
    /* a state handed only to the next step is c_t beside an h_t, else it is h_t */
    const cg_tensor *h0 = NULL;
    for (size_t k = 0; k < n; k++) {
        if (strncmp(roles[k], "state_", 6) == 0) {
            bool has_h = false;
            for (size_t j = 0; j < n && !has_h; j++)
                has_h = cg__step_of(ts[j]) == cg__step_of(ts[k]) && roles[j][0] == 'h' && roles[j][1] == '_';
            snprintf(roles[k], sizeof roles[k], "%c_%d", has_h ? 'c' : 'h', cg__step_of(ts[k]));
        }
        if (strcmp(roles[k], "h_0") == 0)
            h0 = ts[k];
    }
    /* constants read by one step only: that step's input x_t, or (shaped like h_0) the initial state */
    for (size_t k = 1; k < n; k++) {
        const cg_tensor *t = ts[k];
        if (roles[k][0] || user_step[k] < 0 || cg__requires_grad(t))
            continue;
        bool like_h0 = h0 && t->ndim == h0->ndim && memcmp(t->shape, h0->shape, sizeof(int64_t) * (size_t)t->ndim) == 0;
        if (user_step[k] == 0 && like_h0)
            snprintf(roles[k], sizeof roles[k], "initial state");
        else
            snprintf(roles[k], sizeof roles[k], "x_%d", user_step[k]);
    }
    free(sorted), free(use), free(user_step);
    return roles;
}
