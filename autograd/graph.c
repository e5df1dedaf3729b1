/* cgrad — the graph behind a tensor as a picture: DOT text, rendered through
 * Graphviz's own library when cgrad is built with it.
 *
 * Tensors are ellipses (shape, parameter name, optional norms), ops are boxes,
 * edges follow the data. Nodes made at time step t (cg_set_step, which the
 * recurrent modules call) sit in cluster t, so an unrolled net reads through
 * time; colouring by gradient norm shows gradients vanish or explode. */
#include "autograd_internal.h"
#include "cgrad_config.h"
#include <stdlib.h>
#include <string.h>
#if CG_HAVE_GRAPHVIZ
#include <graphviz/gvc.h>
#include <pthread.h>

/* One Graphviz context for the process: Graphviz 2.43's text-layout plugin
 * keeps a font cache that a second gvContext/gvFreeContext pair reads after
 * freeing, so the context is made once and kept. Renders are serialised. */
static GVC_t *gvc;
static pthread_once_t gvc_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t gvc_lock = PTHREAD_MUTEX_INITIALIZER;
static void gvc_init(void) { gvc = gvContext(); }
#endif

static const cg__opt_field fields[] = {
    CG__OPT(cg_graph_opts, values), CG__OPT(cg_graph_opts, grads), CG__OPT(cg_graph_opts, color_by_grad),
    CG__OPT(cg_graph_opts, cluster_steps), CG__OPT(cg_graph_opts, left_to_right), CG__OPT(cg_graph_opts, title)};

bool cg_graph_has_graphviz(void) { return CG_HAVE_GRAPHVIZ; }

/* ---- the tensors of the graph, each with a number ------------------------------------ */

typedef struct {
    cg_tensor **t;   /* in order of discovery: id = index */
    size_t n, cap;
    long *slots;     /* open-addressing hash of ids (-1 empty), keyed by the tensor's address */
    size_t nslots;
} tensor_set;

static size_t slot_of(const tensor_set *s, const cg_tensor *t)
{
    size_t i = (size_t)(((uintptr_t)t >> 4) * 11400714819323198485ull) & (s->nslots - 1);
    while (s->slots[i] >= 0 && s->t[s->slots[i]] != t)
        i = (i + 1) & (s->nslots - 1);
    return i;
}

static bool set_grow(tensor_set *s)
{
    size_t ns = s->nslots ? s->nslots * 2 : 256;
    long *slots = malloc(ns * sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < ns; i++)
        slots[i] = -1;
    free(s->slots);
    s->slots = slots;
    s->nslots = ns;
    for (size_t k = 0; k < s->n; k++)
        s->slots[slot_of(s, s->t[k])] = (long)k;
    return true;
}

/* Adds t if new; false when out of memory. */
static bool set_add(tensor_set *s, cg_tensor *t)
{
    if ((s->n + 1) * 2 > s->nslots && !set_grow(s))
        return false;
    size_t i = slot_of(s, t);
    if (s->slots[i] >= 0)
        return true;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        cg_tensor **bigger = realloc(s->t, cap * sizeof *bigger);
        if (!bigger)
            return false;
        s->t = bigger;
        s->cap = cap;
    }
    s->t[s->n] = t;
    s->slots[i] = (long)s->n++;
    return true;
}

static long id_of(const tensor_set *s, const cg_tensor *t) { return s->slots[slot_of(s, t)]; }

/* Every tensor reachable from root through the nodes' inputs (no recursion). */
static bool collect(cg_tensor *root, tensor_set *s)
{
    if (!set_add(s, root))
        return false;
    for (size_t k = 0; k < s->n; k++) {
        const cg_node *n = cg__node_of(s->t[k]);
        for (int i = 0; n && i < n->nin; i++)
            if (n->in[i] && !set_add(s, n->in[i]))
                return false;
    }
    return true;
}

cg_tensor **cg__graph_tensors(cg_tensor *root, size_t *n)
{
    tensor_set s = {0};
    bool ok = collect(root, &s);
    free(s.slots);
    if (!ok) {
        free(s.t);
        cg__error("out of memory collecting the graph");
        return NULL;
    }
    *n = s.n;
    return s.t;
}

double cg__norm_of(const cg_tensor *t)
{
    double sq = 0;
    if (t && t->strided) /* a strided view's values row-major */
        t = cg__dense_plain((cg_tensor *)t, "cg_graph_dot");
    for (int64_t i = 0; t && i < t->numel; i++)
        sq += (double)t->data[i] * t->data[i];
    return sqrt(sq);
}

/* The range of log10 |grad| over the graph's tensors, so that the colours spread over
 * the norms this graph has (0.06 to 0.4 in a fresh hello net), not over a fixed 1e-8..1e2. */
typedef struct {
    double lo, hi;
} log_range;

static log_range grad_range(const tensor_set *s)
{
    log_range r = {INFINITY, -INFINITY};
    for (size_t k = 0; k < s->n; k++) {
        double norm = cg__grad_of(s->t[k]) ? cg__norm_of(cg__grad_of(s->t[k])) : 0;
        if (norm > 0 && isfinite(norm))
            r.lo = fmin(r.lo, log10(norm)), r.hi = fmax(r.hi, log10(norm));
    }
    if (!(r.hi >= r.lo))
        r.lo = 0, r.hi = 1;
    if (r.hi - r.lo < 0.5) /* nearly one value: still a scale */
        r.lo -= 0.25, r.hi += 0.25;
    return r;
}

/* Blue (the least norm) through green to red (the greatest), on log10 of the norm. */
static void grad_color(double norm, log_range r, char *buf, size_t n)
{
    double x = norm > 0 ? (log10(norm) - r.lo) / (r.hi - r.lo) : 0;
    x = x < 0 ? 0 : x > 1 ? 1 : x;
    snprintf(buf, n, "%.3f 0.55 1.0", 0.667 * (1 - x));
}

/* The op's short name: "TanhBackward0" -> "Tanh". */
static void op_label(const cg_node *n, char *buf, size_t size)
{
    const char *name = n->op->name, *cut = strstr(name, "Backward");
    int len = cut ? (int)(cut - name) : (int)strlen(name);
    snprintf(buf, size, "%.*s", len, name);
}

static void dot_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
}

static void write_tensor(FILE *f, long id, const cg_tensor *t, const char *role, const cg_graph_opts *o,
                         log_range colours, bool is_root)
{
    char shape[CG_SHAPE_BUF], color[64] = "white";
    cg__shape_fmt(shape, t->ndim, t->shape);
    fprintf(f, "  t%ld [shape=ellipse, label=\"", id);
    if (role[0]) {
        dot_escape(f, role);
        fputs("\\n", f);
    }
    fputs(shape, f);
    if (o->values)
        fprintf(f, "\\n|x| %.3g", cg__norm_of(t));
    if (o->grads)
        cg__grad_of(t) ? fprintf(f, "\\n|grad| %.3g", cg__norm_of(cg__grad_of(t))) : fputs("\\nno grad", f);
    fputs("\"", f);
    if (o->color_by_grad && cg__grad_of(t))
        grad_color(cg__norm_of(cg__grad_of(t)), colours, color, sizeof color);
    const char *fill = o->color_by_grad ? color : t->name ? "lightyellow" : is_root ? "lightgreen" : "white";
    fprintf(f, ", style=filled, fillcolor=\"%s\"%s];\n", fill, t->name ? ", penwidth=2" : "");
}

/* Time steps left to right: invisible edges from what step t-1 hands on (h_{t-1}) to
 * the ops that start step t (those with no input inside step t), so that every node
 * of step t ranks after step t-1 and the recurrence reads as a chain, not a stack. */
static void write_step_order(FILE *f, const tensor_set *s)
{
    for (size_t k = 0; k < s->n; k++) {
        const cg_node *n = cg__node_of(s->t[k]);
        int step = cg__step_of(s->t[k]);
        bool entry = n && step > 0;
        for (int i = 0; entry && i < n->nin; i++)
            entry = !n->in[i] || cg__step_of(n->in[i]) != step;
        if (!entry)
            continue;
        for (size_t j = 0; j < s->n; j++) { /* the tensors of step t-1 that step t reads */
            const cg_node *m = cg__node_of(s->t[j]);
            for (int i = 0; m && cg__step_of(s->t[j]) == step && i < m->nin; i++)
                if (m->in[i] && cg__step_of(m->in[i]) == step - 1)
                    fprintf(f, "  t%ld -> op%zu [style=invis];\n", id_of(s, m->in[i]), k);
        }
    }
}

int cg_graph_dot_with(cg_tensor *root, FILE *f, cg_graph_opts user)
{
    cg_graph_opts o = {.cluster_steps = true, .left_to_right = true};
    if (!cg__check(root, "cg_graph_dot") || cg__opts_merge(&o, &user, user.given, fields, 6, "cg_graph_dot") < 0)
        return -1;
    if (!f) {
        cg__error("cg_graph_dot: FILE is NULL");
        return -1;
    }
    tensor_set s = {0};
    cg__role *roles = collect(root, &s) ? cg__graph_roles(s.t, s.n) : NULL;
    if (!roles) {
        free(s.t);
        free(s.slots);
        cg__error("cg_graph_dot: out of memory");
        return -1;
    }
    fprintf(f, "digraph cgrad {\n  rankdir=%s;\n  newrank=true;\n  fontname=\"Helvetica\";\n  node [fontname=\"Helvetica\", fontsize=10];\n"
               "  edge [arrowsize=0.6];\n", o.left_to_right ? "LR" : "TB");
    if (s.n > 100) /* a long unrolled net: straight edges and a bounded search keep Graphviz to seconds (not minutes) */
        fputs("  splines=line;\n  mclimit=0.2;\n  nslimit=2;\n  nslimit1=2;\n", f);
    log_range colours = grad_range(&s);
    if (o.title || o.color_by_grad) {
        fputs("  labelloc=t;\n  label=\"", f);
        dot_escape(f, o.title ? o.title : "");
        if (o.color_by_grad) /* the legend: what the colours mean, in numbers */
            fprintf(f, "%scolour: gradient norm on a log scale, blue %.2g to red %.2g; white: no gradient", o.title ? "\\n" : "",
                    pow(10, colours.lo), pow(10, colours.hi));
        fputs("\";\n", f);
    }
    /* Steps present, in increasing order, each a cluster. */
    int max_step = -1;
    for (size_t k = 0; k < s.n; k++)
        if (cg__step_of(s.t[k]) > max_step)
            max_step = cg__step_of(s.t[k]);
    for (int step = o.cluster_steps ? -1 : -2; step <= max_step; step++) {
        bool any = false;
        for (size_t k = 0; k < s.n; k++) {
            cg_tensor *t = s.t[k];
            if (o.cluster_steps ? cg__step_of(t) != step : step != -2)
                continue;
            if (!any && step >= 0)
                fprintf(f, " subgraph cluster_t%d {\n  label=\"t = %d\";\n  style=rounded;\n  color=gray60;\n", step, step);
            any = true;
            write_tensor(f, (long)k, t, roles[k], &o, colours, t == root);
            const cg_node *n = cg__node_of(t);
            if (n) {
                char label[64];
                op_label(n, label, sizeof label);
                fprintf(f, "  op%zu [shape=box, style=\"rounded,filled\", fillcolor=\"gray92\", label=\"%s\"];\n", k, label);
            }
        }
        if (any && step >= 0)
            fputs(" }\n", f);
        if (step == -2)
            break;
    }
    /* Edges: each input into the op, the op into its result. */
    for (size_t k = 0; k < s.n; k++) {
        const cg_node *n = cg__node_of(s.t[k]);
        if (!n)
            continue;
        for (int i = 0; i < n->nin; i++)
            if (n->in[i])
                fprintf(f, "  t%ld -> op%zu;\n", id_of(&s, n->in[i]), k);
        fprintf(f, "  op%zu -> t%zu;\n", k, k);
    }
    if (o.cluster_steps)
        write_step_order(f, &s);
    fputs("}\n", f);
    free(roles);
    free(s.t);
    free(s.slots);
    return ferror(f) ? (cg__error("cg_graph_dot: write failed"), -1) : 0;
}

#if CG_HAVE_GRAPHVIZ
/* Graphviz's rendering copied into memory of ours (its own is freed its own way). */
static int render_to_memory(Agraph_t *g, const char *format, char **data, unsigned int *n)
{
    char *theirs = NULL;
    if (gvRenderData(gvc, g, format, &theirs, n) != 0)
        return -1;
    *data = malloc((size_t)*n + 1);
    if (*data) {
        memcpy(*data, theirs, *n);
        (*data)[*n] = '\0';
    }
    gvFreeRenderData(theirs);
    return *data ? 0 : -1;
}
#endif

/* Lays the graph out with Graphviz and renders it in format (svg, png, pdf): to
 * path, or (path NULL) into *data (malloc'd, *len bytes). 0, or -1 with an error naming op. */
int cg__graph_layout(cg_tensor *root, cg_graph_opts opts, const char *format, const char *path, char **data,
                     size_t *len, const char *op)
{
#if CG_HAVE_GRAPHVIZ
    char *text = NULL;
    size_t tlen = 0;
    FILE *mem = open_memstream(&text, &tlen);
    if (!mem) {
        cg__error("%s: out of memory", op);
        return -1;
    }
    int rc = cg_graph_dot_with(root, mem, opts);
    fclose(mem);
    if (rc != 0) {
        free(text);
        return -1;
    }
    pthread_once(&gvc_once, gvc_init);
    pthread_mutex_lock(&gvc_lock);
    Agraph_t *g = gvc ? agmemread(text) : NULL;
    rc = -1;
    unsigned int n = 0;
    if (!g)
        cg__error("%s: Graphviz could not read the graph", op);
    else if (gvLayout(gvc, g, "dot") != 0)
        cg__error("%s: Graphviz layout failed", op);
    else if (path ? gvRenderFilename(gvc, g, format, path) != 0 : render_to_memory(g, format, data, &n) != 0)
        cg__error("%s: Graphviz could not write %s", op, path ? path : "the picture");
    else
        rc = 0;
    if (len)
        *len = n;
    if (g) {
        gvFreeLayout(gvc, g);
        agclose(g);
    }
    pthread_mutex_unlock(&gvc_lock);
    free(text);
    return rc;
#else
    (void)root, (void)opts, (void)format, (void)path, (void)data, (void)len;
    cg__error("%s: cgrad was built without Graphviz; write DOT with cg_graph_dot "
              "and render it with `dot -Tsvg graph.dot -o graph.svg`", op);
    return -1;
#endif
}

int cg_graph_render_with(cg_tensor *root, const char *path, cg_graph_opts opts)
{
    if (!cg__check(root, "cg_graph_render"))
        return -1;
    const char *ext = path ? strrchr(path, '.') : NULL;
    if (!ext || (strcmp(ext, ".svg") && strcmp(ext, ".png") && strcmp(ext, ".pdf"))) {
        cg__error("cg_graph_render: the path must end in .svg, .png or .pdf (got %s)", path ? path : "NULL");
        return -1;
    }
    return cg__graph_layout(root, opts, ext + 1, path, NULL, NULL, "cg_graph_render");
}
