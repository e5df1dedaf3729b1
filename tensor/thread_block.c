/* cgrad — a thread's large, rarely used state, kept out of thread-local storage.
 *
 * The thread-locals every op reads use the initial-exec model (CG__FAST_TLS in
 * tensor_internal.h), which puts the library's whole thread-local block in the static TLS
 * that glibc sizes when a program starts. A library loaded later (dlopen: Python's ctypes)
 * gets room there only when its block is small (about 1.5 KB is kept for all such
 * libraries together). So the large per-thread arrays — the last error message, the marks
 * of frames nested deeper than a few — live in blocks made on a thread's first need and
 * freed when the thread ends. */
#include "tensor_internal.h"
#include <pthread.h>
#include <stdlib.h>

/* pthread_once takes no argument: one once-function per slot would do, but the slots are
 * few and made once, so a lock around the first call is as simple. */
static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;

bool cg__thread_key(cg__thread_slot *slot)
{
    if (!__atomic_load_n(&slot->made, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&key_lock);
        if (!slot->made) {
            slot->ok = pthread_key_create(&slot->key, slot->destroy) == 0;
            __atomic_store_n(&slot->made, true, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&key_lock);
    }
    return slot->ok;
}

void *cg__thread_block(cg__thread_slot *slot)
{
    if (!cg__thread_key(slot))
        return NULL;
    void *block = pthread_getspecific(slot->key);
    if (block)
        return block;
    /* (the system's allocator, not cg__sys_malloc: an error message must not be
     * refused by the allocation-failure injector while it reports that failure) */
    block = calloc(1, slot->size);
    if (block && pthread_setspecific(slot->key, block) != 0) {
        free(block);
        block = NULL;
    }
    return block;
}
