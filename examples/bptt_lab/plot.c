/* bptt_lab — line plots as SVG and their numbers as CSV. Axes carry 1-2-5 ticks (a
 * reader should see 0.2, 0.4, not 24.75), log scales where the values span decades,
 * markers where the points are few, and reference lines (chance, a clip threshold). */
#include "lab.h"
#include <errno.h>
#include <math.h>
#include <string.h>

static const char *const colours[PLOT_MAX_SERIES] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
                                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#000000", "#aec7e8"};

/* One axis: its range in drawn units (log10 of the value on a log axis) and its ticks. */
#define MAX_TICKS 24
typedef struct {
    bool log;
    double lo, hi;
    int nticks;
    double tick[MAX_TICKS]; /* values, not drawn units */
    int decimals;           /* linear axes: digits after the point of every label */
    bool exponents;         /* log axes over many decades: every label 1eK */
} axis;

static bool usable(bool log, double v) { return !isnan(v) && isfinite(v) && (!log || v > 0); }
static double drawn(const axis *a, double v) { return a->log ? log10(v) : v; }

/* Ticks every 1, 2 or 5 times a power of ten, about five of them, with the range
 * widened to whole ticks so that the frame starts and ends on a label. */
static void linear_ticks(axis *a)
{
    double raw = (a->hi - a->lo) / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
    a->lo = floor(a->lo / step + 1e-9) * step, a->hi = ceil(a->hi / step - 1e-9) * step;
    a->decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    a->nticks = 0;
    for (double v = a->lo; v <= a->hi + step / 2 && a->nticks < MAX_TICKS; v += step)
        a->tick[a->nticks++] = fabs(v) < step / 2 ? 0 : v;
}

/* Whole decades; within two decades 1, 2 and 5 times them (0.05 0.1 0.2 0.5), the
 * frame from the tick below the least value to the one above the greatest; beyond
 * ten decades only every few, so that the labels do not collide. */
static void log_ticks(axis *a)
{
    double least = a->lo, greatest = a->hi;
    a->lo = floor(least), a->hi = ceil(greatest);
    if (a->hi - a->lo < 1)
        a->hi = a->lo + 1;
    int decades = (int)(a->hi - a->lo), every = (decades + 9) / 10;
    a->nticks = 0;
    if (decades > 2) { /* ticks at exponents that are multiples of every: 1e-8 1e-4 1 1e4 */
        a->lo = floor(a->lo / every) * every, a->hi = ceil(a->hi / every) * every;
        a->exponents = a->lo < -3 || a->hi > 4;
        for (double e = a->lo; e <= a->hi + 0.5 && a->nticks < MAX_TICKS; e += every)
            a->tick[a->nticks++] = pow(10, e);
        return;
    }
    double first = a->lo, last = a->hi;
    for (int k = 0; k <= decades; k++)
        for (int m = 1; m <= 5; m += m == 1 ? 1 : 3) {
            double v = log10(m) + a->lo + k;
            if (v <= least + 1e-9)
                first = v;
            if (v >= greatest - 1e-9 && v < last)
                last = v;
        }
    for (int k = 0; k <= decades; k++)
        for (int m = 1; m <= 5 && a->nticks < MAX_TICKS; m += m == 1 ? 1 : 3) {
            double v = log10(m) + a->lo + k;
            if (v >= first - 1e-9 && v <= last + 1e-9)
                a->tick[a->nticks++] = m * pow(10, a->lo + k);
        }
    a->lo = first, a->hi = last;
}

static void set_ticks(axis *a)
{
    if (a->hi - a->lo < 1e-12) { /* one value: give it some room */
        double room = a->log ? 0.5 : fmax(fabs(a->lo) * 0.1, 0.5);
        a->lo -= room, a->hi += room;
    }
    if (a->log)
        log_ticks(a);
    else
        linear_ticks(a);
}

static void tick_label(const axis *a, double v, char *s, size_t n)
{
    if (a->exponents)
        snprintf(s, n, "1e%.0f", round(log10(v)));
    else if (a->log || fabs(v) >= 1e6)
        snprintf(s, n, "%g", v);
    else
        snprintf(s, n, "%.*f", a->decimals, v);
}

/* The ranges of x and y over every usable point, the reference lines and a fixed range. */
static bool ranges(const plot *p, axis *x, axis *y)
{
    *x = (axis){.log = p->log_x, .lo = INFINITY, .hi = -INFINITY};
    *y = (axis){.log = p->log_y, .lo = INFINITY, .hi = -INFINITY};
    for (int s = 0; s < p->nseries; s++)
        for (int i = 0; i < p->n[s]; i++) {
            double xv = p->x[s][i], yv = p->y[s][i];
            if (!usable(x->log, xv) || !usable(y->log, yv))
                continue;
            x->lo = fmin(x->lo, drawn(x, xv)), x->hi = fmax(x->hi, drawn(x, xv));
            y->lo = fmin(y->lo, drawn(y, yv)), y->hi = fmax(y->hi, drawn(y, yv));
        }
    if (!(x->hi >= x->lo))
        return false;
    for (int r = 0; r < p->nrefs; r++)
        if (usable(y->log, p->ref[r].y))
            y->lo = fmin(y->lo, drawn(y, p->ref[r].y)), y->hi = fmax(y->hi, drawn(y, p->ref[r].y));
    if (p->y_to > p->y_from && !y->log)
        y->lo = fmin(y->lo, p->y_from), y->hi = fmax(y->hi, p->y_to);
    set_ticks(x);
    set_ticks(y);
    return true;
}

/* A marker of its own shape per series, so that series with equal values stay apart. */
static void marker(FILE *f, int s, double cx, double cy, const char *colour)
{
    switch (s % 4) {
    case 0: fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>\n", cx, cy, colour); break;
    case 1: fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\" fill=\"none\" stroke=\"%s\" "
                       "stroke-width=\"1.6\"/>\n", cx - 4, cy - 4, colour); break;
    case 2: fprintf(f, "<path d=\"M%.1f %.1fl5 9h-10z\" fill=\"%s\"/>\n", cx, cy - 5, colour); break;
    default: fprintf(f, "<path d=\"M%.1f %.1fl5 5l-5 5l-5 -5z\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\"/>\n",
                     cx, cy - 5, colour);
    }
}

int plot_svg(const plot *p, const char *path)
{
    axis ax, ay;
    if (!ranges(p, &ax, &ay)) {
        fprintf(stderr, "bptt_lab: nothing to draw in %s: no finite point (a longer run would have some)\n", path);
        return -1;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bptt_lab: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    const double L = 70, T = 30, W = 560, H = 330;
#define PX(v) (L + W * (drawn(&ax, v) - ax.lo) / (ax.hi - ax.lo))
#define PY(v) (T + H - H * (drawn(&ay, v) - ay.lo) / (ay.hi - ay.lo))
    fputs(BPTT_LAB_SVG_MARK "\n", f); /* (what a later run looks for before drawing over it) */
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"820\" height=\"420\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"%g\" y=\"18\" font-size=\"14\">%s</text>\n"
               "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#888\"/>\n",
            L, p->title, L, T, W, H);
    char label[32];
    for (int k = 0; k < ay.nticks; k++) {
        tick_label(&ay, ay.tick[k], label, sizeof label);
        fprintf(f, "<text class=\"ytick\" x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n"
                   "<line x1=\"%g\" x2=\"%g\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n",
                L - 6, PY(ay.tick[k]) + 4, label, L, L + W, PY(ay.tick[k]), PY(ay.tick[k]));
    }
    for (int k = 0; k < ax.nticks; k++) {
        tick_label(&ax, ax.tick[k], label, sizeof label);
        fprintf(f, "<text class=\"xtick\" x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%s</text>\n", PX(ax.tick[k]),
                T + H + 16, label);
    }
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%s%s</text>\n", L + W / 2, T + H + 34, p->xlabel,
            ax.log ? " (log scale)" : "");
    fprintf(f, "<text x=\"16\" y=\"%g\" transform=\"rotate(-90 16 %g)\" text-anchor=\"middle\">%s%s</text>\n",
            T + H / 2, T + H / 2, p->ylabel, ay.log ? " (log scale)" : "");
    for (int r = 0; r < p->nrefs; r++)
        if (usable(ay.log, p->ref[r].y))
            fprintf(f, "<line class=\"ref\" x1=\"%g\" x2=\"%g\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" "
                       "stroke-dasharray=\"6 4\"/><text x=\"%g\" y=\"%.1f\" text-anchor=\"end\" fill=\"#555\" stroke=\"white\" stroke-width=\"4\" "
                       "paint-order=\"stroke\">%s</text>\n",
                    L, L + W, PY(p->ref[r].y), PY(p->ref[r].y), L + W - 4, PY(p->ref[r].y) - 5, p->ref[r].label);
    for (int s = 0; s < p->nseries; s++) {
        /* with markers, each series is nudged sideways a little: equal values stay visible */
        double nudge = p->markers ? 4.0 * (s - (p->nseries - 1) / 2.0) : 0;
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" points=\"", colours[s]);
        for (int i = 0; i < p->n[s]; i++)
            if (usable(ax.log, p->x[s][i]) && usable(ay.log, p->y[s][i]))
                fprintf(f, "%.1f,%.1f ", PX(p->x[s][i]) + nudge, PY(p->y[s][i]));
        fputs("\"/>\n", f);
        for (int i = 0; p->markers && i < p->n[s]; i++)
            if (usable(ax.log, p->x[s][i]) && usable(ay.log, p->y[s][i]))
                marker(f, s, PX(p->x[s][i]) + nudge, PY(p->y[s][i]), colours[s]);
        double ly = T + 10 + 18.0 * s;
        fprintf(f, "<line x1=\"%g\" x2=\"%g\" y1=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"3\"/>"
                   "<text x=\"%g\" y=\"%g\">%s</text>\n", L + W + 14, L + W + 34, ly, ly, colours[s], L + W + 40, ly + 4,
                p->label[s]);
        if (p->markers)
            marker(f, s, L + W + 24, ly, colours[s]);
    }
    fputs("</svg>\n", f);
#undef PX
#undef PY
    bool ok = !ferror(f);
    return fclose(f) == 0 && ok ? 0 : -1;
}

int plot_csv(const plot *p, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    /* long format: the series may have points at different x */
    fprintf(f, "series,%s,%s\n", p->xlabel, p->ylabel);
    for (int s = 0; s < p->nseries; s++)
        for (int i = 0; i < p->n[s]; i++)
            fprintf(f, "%s,%.6g,%.6g\n", p->label[s], p->x[s][i], p->y[s][i]);
    bool ok = !ferror(f);
    return fclose(f) == 0 && ok ? 0 : -1;
}

int plot_write(const plot *p, const char *dir, const char *name)
{
    char svg[1024], csv[1024];
    snprintf(svg, sizeof svg, "%s/%s.svg", dir, name);
    snprintf(csv, sizeof csv, "%s/%s.csv", dir, name);
    if (plot_svg(p, svg) != 0)
        return -1;
    if (plot_csv(p, csv) != 0) {
        fprintf(stderr, "bptt_lab: cannot write %s: %s\n", csv, strerror(errno));
        return -1;
    }
    printf("wrote %s and %s\n", svg, csv);
    return 0;
}
