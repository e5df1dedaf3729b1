/* cgrad — the error model: a thread's last message, and the checks every public
 * function makes before it touches anything. */
#include "tensor_internal.h"
#include <stdlib.h>
#include <string.h>

/* The thread's last message lives in a block of its own (thread_block.c: the
 * thread-local block stays small), made by its first failure. */
#define MESSAGE_SIZE 512
static void forget_message(void *block);
static cg__thread_slot message_slot = {.size = MESSAGE_SIZE, .destroy = forget_message};
static CG__FAST_TLS char *last_error; /* the block, once made */
static CG__FAST_TLS bool message_lost; /* no memory for the block when a failure came */
/* A failure whose NULL may still be travelling along a chain of calls: set by
 * each failure, ended by the next tensor made (a call that worked) or by the
 * program reading the message (it has handled the failure). */
CG__FAST_TLS bool cg__failure_pending;
static CG__FAST_TLS bool unread; /* the message was not read yet */

/* The thread ends: its message goes (a later failure on it would make another). */
static void forget_message(void *block)
{
    free(block);
    last_error = NULL;
}

const char *cg_last_error(void)
{
    cg__failure_pending = false;
    unread = false;
    if (message_lost)
        return "out of memory (cgrad had no room for this thread's error message)";
    return last_error ? last_error : "";
}

void cg_clear_error(void)
{
    if (last_error)
        last_error[0] = '\0';
    message_lost = false;
    cg__failure_pending = false;
    unread = false;
}

void cg__error(const char *fmt, ...)
{
    cg__failure_pending = true;
    unread = true;
    if (!last_error)
        last_error = cg__thread_block(&message_slot);
    message_lost = !last_error;
    if (message_lost)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, MESSAGE_SIZE, fmt, ap);
    va_end(ap);
}

void cg__error_null(const char *op)
{
    /* A NULL input straight after a failure is that failure's result: keep its
     * message, so a chain of calls reports the first thing that went wrong.
     * Otherwise the NULL is news, and the message says so. */
    if (!last_error || last_error[0] == '\0' || !unread) {
        cg__error("%s: input is NULL", op);
    } else if (!cg__failure_pending) {
        /* other calls worked since (an argument made between the failure and
         * this call, say): name this call, and the failure it likely follows */
        char earlier[MESSAGE_SIZE];
        memcpy(earlier, last_error, sizeof earlier);
        cg__error("%s: input is NULL (after this earlier failure: %s)", op, earlier);
    }
}

bool cg__check_failed(const cg_tensor *t, const char *op)
{
    if (!t)
        cg__error_null(op);
    else
        cg__error("%s: tensor was freed or its frame has ended", op);
    return false;
}

const char *cg__shape_fmt(char *buf, int ndim, const int64_t *shape)
{
    int n = snprintf(buf, CG_SHAPE_BUF, "(");
    for (int i = 0; i < ndim && n < CG_SHAPE_BUF; i++)
        n += snprintf(buf + n, (size_t)(CG_SHAPE_BUF - n), i ? ", %lld" : "%lld", (long long)shape[i]);
    if (ndim == 1 && n < CG_SHAPE_BUF)
        n += snprintf(buf + n, (size_t)(CG_SHAPE_BUF - n), ",");
    if (n < CG_SHAPE_BUF)
        snprintf(buf + n, (size_t)(CG_SHAPE_BUF - n), ")");
    return buf;
}

/* cg__check_shape's errors, in its order: the dims, a NULL shape, a negative size
 * anywhere, then a product past the limit. */
static bool check_shape_failed(int ndim, const int64_t *shape, const char *op)
{
    if (ndim < 0 || ndim > CG_MAX_DIMS) {
        cg__error("%s: %d dims (at most %d)", op, ndim, CG_MAX_DIMS);
        return false;
    }
    if (ndim > 0 && !shape) {
        cg__error("%s: shape is NULL", op);
        return false;
    }
    char b[CG_SHAPE_BUF];
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0) {
            cg__error("%s: negative size in shape %s", op, cg__shape_fmt(b, ndim, shape));
            return false;
        }
    cg__error("%s: shape %s is too large", op, cg__shape_fmt(b, ndim, shape));
    return false;
}

/* One pass (every op makes a tensor: hello's step checks 27 shapes); any failure is
 * reported by check_shape_failed, so a negative size is named before a product too large. */
bool cg__check_shape(int ndim, const int64_t *shape, const char *op, int64_t *numel)
{
    if (ndim < 0 || ndim > CG_MAX_DIMS || (ndim > 0 && !shape))
        return check_shape_failed(ndim, shape, op);
    /* The sizes other than 0 multiply to at most the limit even in an empty
     * tensor, so no product of some of a shape's sizes (strides, rows, blocks)
     * can overflow anywhere else. */
    const int64_t limit = cg__max_numel();
    int64_t n = 1;
    bool empty = false; /* a 0 anywhere: no elements */
    for (int i = 0; i < ndim; i++) {
        int64_t size = shape[i];
        if (size <= 0) {
            if (size < 0)
                return check_shape_failed(ndim, shape, op);
            empty = true;
        } else if (__builtin_mul_overflow(n, size, &n) || n > limit) {
            return check_shape_failed(ndim, shape, op);
        }
    }
    if (numel)
        *numel = empty ? 0 : n;
    return true;
}

int cg__dim(int dim, int ndim, const char *op)
{
    int lo = ndim > 0 ? -ndim : -1, hi = ndim > 0 ? ndim - 1 : 0;
    if (dim < lo || dim > hi) {
        cg__error("%s: dim %d out of range [%d, %d]", op, dim, lo, hi);
        return -1;
    }
    return dim < 0 ? dim + (ndim > 0 ? ndim : 1) : dim;
}
