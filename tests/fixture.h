/* cgrad tests — reading PyTorch's reference values, comparing tensors. */
#ifndef CGRAD_TEST_FIXTURE_H
#define CGRAD_TEST_FIXTURE_H

#include <cgrad.h>
#include <check.h>
#include <string.h>

/* A fixture file from tests/fixtures, loaded once into memory. */
typedef struct fixture fixture;
fixture *fx_load(const char *file);
/* A new tensor (made where tensors are made now) holding the named values; aborts the test if absent. */
cg_tensor *fx_get(fixture *fx, const char *fmt, ...);
/* Whether the fixture has an entry with that name. */
bool fx_has(fixture *fx, const char *fmt, ...);
/* The entries in file order. */
int fx_count(const fixture *fx);
const char *fx_name(const fixture *fx, int i);
/* The extra text that follows a named entry (printing fixtures), or NULL. */
const char *fx_text(fixture *fx, const char *name);

/* Asserts same shape and |a - b| <= atol + rtol * |b| everywhere. */
/* The thread's last error message holds text. */
#define ck_assert_error_has(text) \
    ck_assert_msg(strstr(cg_last_error(), (text)) != NULL, "error '%s' lacks '%s'", cg_last_error(), (text))
#define ck_assert_tensor_close(a, b, rtol, atol) fx_assert_close((a), (b), (rtol), (atol), #a, __FILE__, __LINE__)
void fx_assert_close(const cg_tensor *a, const cg_tensor *b, double rtol, double atol, const char *what,
                     const char *file, int line);

/* Asserts same shape and |a - b| <= rtol * max|b| everywhere: relative to the
 * tensor's scale, for values computed through long sums where single small
 * elements carry the cancellation of large terms. */
#define ck_assert_tensor_close_scaled(a, b, rtol) fx_assert_close((a), (b), 0, (rtol) * fx_max_abs(b), #a, __FILE__, __LINE__)
double fx_max_abs(const cg_tensor *t);

/* Runs a suite and returns the process exit status. */
int fx_run(Suite *s);
/* Whether this build runs threads. In the WebAssembly build (one thread) it checks
 * that cgrad refuses a second thread with a message instead, and a threads test
 * returns after that check. */
bool fx_threads_run(void);

#endif
