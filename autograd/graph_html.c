/* cgrad — the graph behind a tensor as one self-contained HTML page: Graphviz's
 * layout as inline SVG, the tensors' values and gradients as inline JSON, and a
 * small inline script (no network, no libraries) that steps the backward pass
 * op by op in the order backward runs them, shows a node's op, shape, values and
 * gradient on hover or click, colours tensors by gradient norm or by value
 * magnitude, and collapses the time steps of an unrolled net into one box each. */
#include "autograd_internal.h"
#include <stdlib.h>
#include <string.h>

#define SHOWN 8 /* values and gradient elements the page shows per tensor */

static const cg__opt_field fields[] = {CG__OPT(cg_graph_opts, values), CG__OPT(cg_graph_opts, grads),
                                       CG__OPT(cg_graph_opts, color_by_grad), CG__OPT(cg_graph_opts, cluster_steps),
                                       CG__OPT(cg_graph_opts, left_to_right), CG__OPT(cg_graph_opts, title)};

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == '<') /* '<' too: no "</script>" inside the script */
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_floats(FILE *f, const cg_tensor *t)
{
    fputc('[', f);
    if (t && t->strided) /* a strided view's values row-major */
        t = cg__dense_plain((cg_tensor *)t, "cg_graph_json");
    for (int64_t i = 0; t && i < t->numel && i < SHOWN; i++) {
        float v = t->data[i];
        if (isfinite(v))
            fprintf(f, i ? ",%.6g" : "%.6g", (double)v);
        else
            fprintf(f, i ? ",\"%g\"" : "\"%g\"", (double)v); /* JSON has no NaN */
    }
    fputc(']', f);
}

static double finite_or_zero(double v) { return isfinite(v) ? v : 0; }

/* One entry per tensor: its node names in the SVG and what the page shows. */
static void write_tensor_json(FILE *f, cg_tensor **ts, cg__role *roles, size_t k)
{
    cg_tensor *t = ts[k];
    const cg_node *n = cg__node_of(t);
    char shape[CG_SHAPE_BUF];
    cg__shape_fmt(shape, t->ndim, t->shape);
    fprintf(f, "%s{\"id\":\"t%zu\",\"op\":", k ? ",\n" : "", k);
    json_string(f, n ? n->op->name : (t->name ? "parameter" : "leaf"));
    fputs(",\"role\":", f);
    json_string(f, roles[k]);
    fputs(",\"shape\":", f);
    json_string(f, shape);
    fprintf(f, ",\"step\":%d,\"numel\":%lld,\"vnorm\":%.6g,\"values\":", cg__step_of(t), (long long)t->numel,
            finite_or_zero(cg__norm_of(t)));
    json_floats(f, t);
    cg_tensor *g = cg__grad_of(t);
    fprintf(f, ",\"gnorm\":%.6g,\"grad\":", g ? finite_or_zero(cg__norm_of(g)) : -1.0);
    if (g)
        json_floats(f, g);
    else
        fputs("null", f);
    fputc('}', f);
}

/* The ops in the order backward runs them: a post-order of the graph from the
 * root (inputs before their users), reversed; order[i] is the index of the
 * tensor op i made. (Finding an input's index is a linear search: pictures are small.) */
static size_t backward_order(cg_tensor **ts, size_t n, size_t *order)
{
    size_t *stack = malloc(sizeof *stack * (n + 1) * 2), count = 0, top = 0;
    unsigned char *seen = calloc(n, 1);
    if (!stack || !seen) {
        free(stack);
        free(seen);
        return 0;
    }
    stack[top++] = 0, stack[top++] = 0; /* (tensor, next input) pairs; tensor 0 is the root */
    seen[0] = 1;
    while (top > 0) {
        size_t k = stack[top - 2], next = stack[top - 1];
        const cg_node *node = cg__node_of(ts[k]);
        if (node && next < (size_t)node->nin) {
            stack[top - 1]++;
            for (size_t j = 0; j < n; j++)
                if (ts[j] == node->in[next] && !seen[j] && cg__node_of(ts[j])) {
                    seen[j] = 1;
                    stack[top++] = j, stack[top++] = 0;
                    break;
                }
            continue;
        }
        if (node)
            order[count++] = k;
        top -= 2;
    }
    for (size_t i = 0; i < count / 2; i++) { /* reversed: the root's op first */
        size_t tmp = order[i];
        order[i] = order[count - 1 - i];
        order[count - 1 - i] = tmp;
    }
    free(stack);
    free(seen);
    return count;
}

/* Each op: its node name, what it is, and the tensors it sends gradient to. */
static void write_ops_json(FILE *f, cg_tensor **ts, size_t n, const size_t *order, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        size_t k = order[i];
        const cg_node *node = cg__node_of(ts[k]);
        fprintf(f, "%s{\"id\":\"op%zu\",\"out\":\"t%zu\",\"name\":", i ? ",\n" : "", k, k);
        json_string(f, node->op->name);
        fputs(",\"args\":[", f); /* every input, for drawing */
        for (int in = 0, any = 0; in < node->nin; in++)
            for (size_t j = 0; node->in[in] && j < n; j++)
                if (ts[j] == node->in[in]) {
                    fprintf(f, any++ ? ",\"t%zu\"" : "\"t%zu\"", j);
                    break;
                }
        fputs("],\"inputs\":[", f);
        bool first = true;
        for (int in = 0; in < node->nin; in++)
            for (size_t j = 0; node->in[in] && j < n; j++)
                if (ts[j] == node->in[in] && cg__requires_grad(ts[j])) {
                    fprintf(f, first ? "\"t%zu\"" : ",\"t%zu\"", j);
                    first = false;
                    break;
                }
        fputs("]}", f);
    }
}

/* The page's style and script (graph_page.html and graph_page.js, embedded at build time). */
extern const char cg__graph_page_head[], cg__graph_page_script[];

/* {"tensors":[...],"ops":[...]}: what the page (and cg_graph_json's reader) needs. */
static int write_data(FILE *f, cg_tensor **ts, size_t n)
{
    size_t *order = malloc(sizeof *order * (n ? n : 1));
    cg__role *roles = order ? cg__graph_roles(ts, n) : NULL;
    if (!roles) {
        free(order);
        return -1;
    }
    size_t count = backward_order(ts, n, order);
    fputs("{\"tensors\":[\n", f);
    for (size_t k = 0; k < n; k++)
        write_tensor_json(f, ts, roles, k);
    fputs("],\n\"ops\":[\n", f);
    write_ops_json(f, ts, n, order, count);
    fputs("]}", f);
    free(roles);
    free(order);
    return 0;
}

static int write_page(FILE *f, cg_tensor **ts, size_t n, const char *svg, const char *title)
{
    fputs(cg__graph_page_head, f);
    fputs("<h1>", f);
    for (const char *c = title; *c; c++) /* the title as text */
        *c == '<' ? fputs("&lt;", f) : *c == '&' ? fputs("&amp;", f) : fputc(*c, f);
    fputs("</h1>\n<div id=\"controls\"></div>\n<div id=\"main\"><div id=\"graph\">\n", f);
    const char *svg_start = strstr(svg, "<svg");
    fputs(svg_start ? svg_start : svg, f);
    fputs("</div>\n<div id=\"info\">Hover over or click a node.</div></div>\n<script>\nconst DATA = ", f);
    if (write_data(f, ts, n) != 0)
        return -1;
    fputs(";\n", f);
    fputs(cg__graph_page_script, f);
    fputs("</script>\n</body>\n</html>\n", f);
    return 0;
}

int cg_graph_json(cg_tensor *root, FILE *out)
{
    if (!cg__check(root, "cg_graph_json"))
        return -1;
    if (!out) {
        cg__error("cg_graph_json: FILE is NULL");
        return -1;
    }
    size_t n = 0;
    cg_tensor **ts = cg__graph_tensors(root, &n);
    int rc = ts ? write_data(out, ts, n) : -1;
    free(ts);
    if (rc == 0 && ferror(out)) {
        cg__error("cg_graph_json: write failed");
        rc = -1;
    }
    return rc;
}

int cg_graph_html_with(cg_tensor *root, const char *path, cg_graph_opts user)
{
    cg_graph_opts o = {.cluster_steps = true, .left_to_right = true};
    if (!cg__check(root, "cg_graph_html") || cg__opts_merge(&o, &user, user.given, fields, 6, "cg_graph_html") < 0)
        return -1;
    if (!path) {
        cg__error("cg_graph_html: path is NULL");
        return -1;
    }
    o.grads = o.values = false; /* the page shows them itself */
    o.given = CG_ALL_OPTIONS;
    char *svg = NULL;
    size_t len = 0, n = 0;
    if (cg__graph_layout(root, o, "svg", NULL, &svg, &len, "cg_graph_html") != 0)
        return -1;
    cg_tensor **ts = cg__graph_tensors(root, &n);
    FILE *f = ts ? fopen(path, "w") : NULL;
    int rc = -1;
    if (ts && !f)
        cg__error("cg_graph_html: cannot write %s", path);
    else if (f && write_page(f, ts, n, svg, o.title ? o.title : "cgrad graph") == 0 && !ferror(f))
        rc = 0;
    if (f && fclose(f) != 0)
        rc = -1;
    if (f && rc != 0)
        cg__error("cg_graph_html: cannot write %s", path);
    free(ts);
    free(svg);
    return rc;
}
