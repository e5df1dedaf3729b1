/* cgrad tests — fixture files and tensor comparisons. */
#include "fixture.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FIXTURE_DIR
#error FIXTURE_DIR must be defined by the build
#endif

typedef struct {
    char name[96];
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    int64_t numel;
    float *data;
    char *text;
} entry;

struct fixture {
    entry *e;
    int n;
};

static char *read_line(FILE *f)
{
    size_t cap = 256, len = 0;
    char *s = malloc(cap);
    int c;
    while ((c = fgetc(f)) != EOF && c != '\n') {
        if (len + 2 > cap)
            s = realloc(s, cap *= 2);
        s[len++] = (char)c;
    }
    if (c == EOF && len == 0) {
        free(s);
        return NULL;
    }
    s[len] = '\0';
    return s;
}

fixture *fx_load(const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", FIXTURE_DIR, file);
    FILE *f = fopen(path, "r");
    if (!f) { /* loaded before any test runs: no ck_assert here */
        fprintf(stderr, "cannot open fixture %s\n", path);
        exit(2);
    }
    fixture *fx = calloc(1, sizeof *fx);
    int cap = 0;
    char *head;
    bool with_text = strstr(file, "print") != NULL;
    while ((head = read_line(f))) {
        if (fx->n == cap)
            fx->e = realloc(fx->e, sizeof(entry) * (size_t)(cap = cap ? cap * 2 : 64));
        entry *e = &fx->e[fx->n++];
        memset(e, 0, sizeof *e);
        char *p = head;
        int used;
        sscanf(p, "%95s %d%n", e->name, &e->ndim, &used);
        p += used;
        e->numel = 1;
        for (int d = 0; d < e->ndim; d++) {
            e->shape[d] = strtoll(p, &p, 10);
            e->numel *= e->shape[d];
        }
        free(head);
        char *vals = read_line(f);
        e->data = malloc(sizeof(float) * (size_t)(e->numel ? e->numel : 1));
        p = vals;
        for (int64_t i = 0; i < e->numel; i++)
            e->data[i] = strtof(p, &p);
        free(vals);
        if (with_text) {
            char *count = read_line(f);
            int lines = atoi(count);
            free(count);
            size_t tlen = 0;
            e->text = calloc(1, 1);
            for (int i = 0; i < lines; i++) {
                char *l = read_line(f);
                size_t ll = strlen(l);
                e->text = realloc(e->text, tlen + ll + 2);
                memcpy(e->text + tlen, l, ll);
                tlen += ll;
                e->text[tlen++] = i + 1 < lines ? '\n' : '\0';
                e->text[tlen] = '\0';
                free(l);
            }
        }
    }
    fclose(f);
    return fx;
}

static entry *find(fixture *fx, const char *name)
{
    for (int i = 0; i < fx->n; i++)
        if (!strcmp(fx->e[i].name, name))
            return &fx->e[i];
    return NULL;
}

cg_tensor *fx_get(fixture *fx, const char *fmt, ...)
{
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    entry *e = find(fx, name);
    ck_assert_msg(e != NULL, "fixture has no entry %s", name);
    cg_tensor *t = cg_tensor_from(e->data, e->ndim, e->shape);
    ck_assert_msg(t != NULL, "cannot make tensor %s: %s", name, cg_last_error());
    return t;
}

bool fx_has(fixture *fx, const char *fmt, ...)
{
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return find(fx, name) != NULL;
}

int fx_count(const fixture *fx) { return fx->n; }

const char *fx_name(const fixture *fx, int i) { return i >= 0 && i < fx->n ? fx->e[i].name : NULL; }

const char *fx_text(fixture *fx, const char *name)
{
    entry *e = find(fx, name);
    return e ? e->text : NULL;
}

void fx_assert_close(const cg_tensor *a, const cg_tensor *b, double rtol, double atol, const char *what,
                     const char *file, int line)
{
    ck_assert_msg(a != NULL, "%s:%d: %s is NULL (%s)", file, line, what, cg_last_error());
    ck_assert_msg(b != NULL, "%s:%d: expected tensor is NULL", file, line);
    char sa[64], sb[64];
    cg_shape_str(a, sa, sizeof sa);
    cg_shape_str(b, sb, sizeof sb);
    ck_assert_msg(cg_same_shape(a, b), "%s:%d: %s has shape %s, expected %s", file, line, what, sa, sb);
    const float *x = cg_data((cg_tensor *)a), *y = cg_data((cg_tensor *)b);
    for (int64_t i = 0; i < cg_numel(a); i++) {
        double d = fabs((double)x[i] - (double)y[i]);
        bool both_nan = isnan(x[i]) && isnan(y[i]);
        ck_assert_msg(both_nan || x[i] == y[i] || d <= atol + rtol * fabs((double)y[i]),
                      "%s:%d: %s[%lld] = %.9g, expected %.9g (shape %s)", file, line, what, (long long)i,
                      (double)x[i], (double)y[i], sa);
    }
}

double fx_max_abs(const cg_tensor *t)
{
    double m = 0;
    for (int64_t i = 0; t && i < cg_numel(t); i++)
        m = fmax(m, fabs((double)cg_data((cg_tensor *)t)[i]));
    return m;
}

bool fx_threads_run(void)
{
#ifdef __EMSCRIPTEN__
    ck_assert_int_eq(cg_set_num_threads(2), -1);
    ck_assert_msg(strstr(cg_last_error(), "one thread") != NULL, "%s", cg_last_error());
    ck_assert_int_eq(cg_get_num_threads(), 1);
    return false;
#else
    return true;
#endif
}

int fx_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
#ifdef __EMSCRIPTEN__
    srunner_set_fork_status(sr, CK_NOFORK); /* WebAssembly has no fork: every test in this process */
#endif
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
