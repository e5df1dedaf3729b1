/* cgrad — printing in PyTorch's style (torch/_tensor_str.py with its default
 * options: precision 4, line width 80, summarised past 1000 elements with 3
 * edge items). */
#include "tensor_internal.h"
#include <string.h>

enum { PRECISION = 4, LINEWIDTH = 80, THRESHOLD = 1000, EDGE = 3 };

typedef struct {
    char *buf;
    size_t size, len; /* len counts what would be written, like snprintf */
    int64_t last_nl;  /* position of the last newline written, -1 if none */
} out;

static void put(out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n')
            o->last_nl = (int64_t)(o->len + i);
    if (o->len < o->size) {
        size_t room = o->size - o->len - 1;
        memcpy(o->buf + o->len, s, n < room ? n : room);
        o->buf[o->len + (n < room ? n : room)] = '\0';
    }
    o->len += n;
}
static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }
static void spaces(out *o, int n)
{
    while (n-- > 0)
        put(o, " ", 1);
}

typedef struct {
    bool int_mode, sci_mode;
    int width;
} formatter;

/* Visits the elements PyTorch would show (all, or the edges when summarising). */
typedef void (*visit_fn)(float v, void *ctx);
static void visit_shown(const cg_tensor *t, int dim, int64_t offset, bool summarize, visit_fn f, void *ctx)
{
    if (t->ndim == 0) {
        f(t->data[0], ctx);
        return;
    }
    int64_t n = t->shape[dim], stride = 1;
    for (int d = dim + 1; d < t->ndim; d++)
        stride *= t->shape[d];
    for (int64_t i = 0; i < n; i++) {
        if (summarize && n > 2 * EDGE && i == EDGE)
            i = n - EDGE;
        if (dim == t->ndim - 1)
            f(t->data[offset + i], ctx);
        else
            visit_shown(t, dim + 1, offset + i * stride, summarize, f, ctx);
    }
}

typedef struct {
    bool any, int_mode;
    double min, max;
} stats;

static void gather_stats(float v, void *ctx)
{
    stats *s = ctx;
    if (!isfinite(v) || v == 0)
        return;
    double a = fabs((double)v);
    if (!s->any || a < s->min)
        s->min = a;
    if (!s->any || a > s->max)
        s->max = a;
    s->any = true;
    if (v != ceilf(v))
        s->int_mode = false;
}

typedef struct {
    const formatter *fmt;
    int width;
} width_ctx;

static int format_raw(const formatter *f, float v, char *b, size_t n)
{
    /* before the modes: printf spells a negative NaN "-nan", torch always "nan" */
    if (isnan(v))
        return snprintf(b, n, "nan");
    if (isinf(v))
        return snprintf(b, n, v > 0 ? "inf" : "-inf");
    if (f->sci_mode)
        return snprintf(b, n, "%.*e", PRECISION, (double)v);
    if (f->int_mode)
        return snprintf(b, n, "%.0f.", (double)v);
    return snprintf(b, n, "%.*f", PRECISION, (double)v);
}

static void gather_width(float v, void *ctx)
{
    width_ctx *w = ctx;
    if (!isfinite(v) || v == 0)
        return;
    char b[64];
    int len = format_raw(w->fmt, v, b, sizeof b);
    if (len > w->width)
        w->width = len;
}

static formatter make_formatter(const cg_tensor *t, bool summarize)
{
    formatter f = {.int_mode = true, .sci_mode = false, .width = 1};
    stats s = {.int_mode = true};
    visit_shown(t, 0, 0, summarize, gather_stats, &s);
    if (!s.any)
        return f;
    f.int_mode = s.int_mode;
    if (s.max / s.min > 1000.0 || s.max > 1e8 || (!f.int_mode && s.min < 1e-4))
        f.sci_mode = true;
    width_ctx w = {&f, 1};
    visit_shown(t, 0, 0, summarize, gather_width, &w);
    f.width = w.width;
    return f;
}

static void put_value(out *o, const formatter *f, float v)
{
    char b[64];
    int len = format_raw(f, v, b, sizeof b);
    spaces(o, f->width - len);
    put(o, b, (size_t)len);
}

static void put_vector(out *o, const cg_tensor *t, int64_t offset, int indent, bool summarize,
                       const formatter *f)
{
    int64_t n = t->shape[t->ndim - 1];
    int per_line = (LINEWIDTH - indent) / (f->width + 2);
    if (per_line < 1)
        per_line = 1;
    puts_(o, "[");
    int64_t shown = 0;
    for (int64_t i = 0; i < n; i++, shown++) {
        if (shown > 0) {
            puts_(o, shown % per_line == 0 ? ",\n" : ", ");
            if (shown % per_line == 0)
                spaces(o, indent + 1);
        }
        if (summarize && n > 2 * EDGE && i == EDGE) {
            puts_(o, " ...");
            i = n - EDGE - 1;
            continue;
        }
        put_value(o, f, t->data[offset + i]);
    }
    puts_(o, "]");
}

static void put_tensor(out *o, const cg_tensor *t, int dim, int64_t offset, int indent, bool summarize,
                       const formatter *f)
{
    if (dim == t->ndim - 1) {
        put_vector(o, t, offset, indent, summarize, f);
        return;
    }
    int64_t n = t->shape[dim], stride = 1;
    for (int d = dim + 1; d < t->ndim; d++)
        stride *= t->shape[d];
    puts_(o, "[");
    for (int64_t i = 0; i < n; i++) {
        if (i > 0) {
            puts_(o, ",");
            for (int k = 0; k < t->ndim - dim - 1; k++)
                puts_(o, "\n");
            spaces(o, indent + 1);
        }
        if (summarize && n > 2 * EDGE && i == EDGE) {
            puts_(o, "...");
            i = n - EDGE - 1;
            continue;
        }
        put_tensor(o, t, dim + 1, offset + i * stride, indent + 1, summarize, f);
    }
    puts_(o, "]");
}

/* The autograd layer names a tensor's grad_fn through this hook (tensor/ knows
 * nothing of graphs): it returns e.g. "AddBackward0", or NULL. */

int cg_tensor_str(const cg_tensor *t, char *buf, size_t size)
{
    if (!cg__check(t, "cg_tensor_str"))
        return -1;
    if (!buf && size) {
        cg__error("cg_tensor_str: buf is NULL");
        return -1;
    }
    out o = {buf, size, 0, -1};
    if (buf && size)
        buf[0] = '\0';
    if (t->meta && t->meta->param)
        puts_(&o, "Parameter containing:\n");
    const int indent = 7; /* strlen("tensor(") */
    /* a strided view's values row-major */
    const cg_tensor *v = t->strided ? cg__dense_plain((cg_tensor *)t, "cg_tensor_str") : t;
    if (!v)
        return -1;
    puts_(&o, "tensor(");
    if (v->numel == 0) {
        puts_(&o, "[]");
    } else if (v->ndim == 0) {
        formatter f = make_formatter(v, false);
        f.width = 1;
        put_value(&o, &f, v->data[0]);
    } else {
        bool summarize = v->numel > THRESHOLD;
        formatter f = make_formatter(v, summarize);
        put_tensor(&o, v, 0, 0, indent, summarize, &f);
    }
    char suffix[2][CG_SHAPE_BUF + 32];
    int ns = 0;
    if (t->numel == 0 && !(t->ndim == 1 && t->shape[0] == 0)) {
        char s[CG_SHAPE_BUF];
        snprintf(suffix[ns++], sizeof suffix[0], "size=%s", cg__shape_fmt(s, t->ndim, t->shape));
    }
    const char *fn = t->meta ? t->meta->grad_fn : NULL;
    if (fn)
        snprintf(suffix[ns++], sizeof suffix[0], "grad_fn=<%s>", fn);
    else if (cg__requires_grad(t))
        snprintf(suffix[ns++], sizeof suffix[0], "requires_grad=True");
    /* Where the last line would pass the line width, the suffix goes on its own line. */
    size_t last_line = (size_t)((int64_t)o.len - o.last_nl + 1);
    for (int i = 0; i < ns; i++) {
        size_t n = strlen(suffix[i]);
        if (last_line + n + 2 > LINEWIDTH) {
            puts_(&o, ",\n");
            spaces(&o, indent);
            last_line = (size_t)indent + n;
        } else {
            puts_(&o, ", ");
            last_line += n + 2;
        }
        puts_(&o, suffix[i]);
    }
    puts_(&o, ")");
    return (int)o.len;
}

int cg_fprint(FILE *f, const cg_tensor *t)
{
    if (!f) {
        cg__error("cg_fprint: FILE is NULL");
        return -1;
    }
    int n = cg_tensor_str(t, NULL, 0);
    if (n < 0)
        return -1;
    char stackbuf[4096];
    char *b = (size_t)n < sizeof stackbuf ? stackbuf : cg__sys_malloc((size_t)n + 1);
    if (!b) {
        cg__error("cg_fprint: out of memory");
        return -1;
    }
    cg_tensor_str(t, b, (size_t)n + 1);
    fprintf(f, "%s\n", b);
    if (b != stackbuf)
        cg__sys_free(b);
    return 0;
}

int cg_print(const cg_tensor *t) { return cg_fprint(stdout, t); }
