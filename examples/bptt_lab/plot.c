/* bptt_lab — line plots as SVG (with a log scale for norms) and their numbers as CSV. */
#include "lab.h"
#include <math.h>
#include <string.h>

static const char *const colours[PLOT_MAX_SERIES] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
                                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#000000", "#aec7e8"};

static bool usable(const plot *p, double y) { return !isnan(y) && isfinite(y) && (!p->log_y || y > 0); }

/* The ranges of x and of (log10) y over every usable point. */
static bool ranges(const plot *p, double *x0, double *x1, double *y0, double *y1)
{
    *x0 = *y0 = INFINITY, *x1 = *y1 = -INFINITY;
    for (int s = 0; s < p->nseries; s++)
        for (int i = 0; i < p->n[s]; i++) {
            double y = p->y[s][i];
            if (!usable(p, y))
                continue;
            y = p->log_y ? log10(y) : y;
            *x0 = fmin(*x0, p->x[s][i]), *x1 = fmax(*x1, p->x[s][i]);
            *y0 = fmin(*y0, y), *y1 = fmax(*y1, y);
        }
    if (!(*x1 >= *x0))
        return false;
    if (*x1 - *x0 < 1e-12)
        *x1 = *x0 + 1;
    if (p->log_y)
        *y0 = floor(*y0), *y1 = ceil(*y1);
    if (*y1 - *y0 < 1e-12)
        *y1 = *y0 + 1;
    return true;
}

int plot_svg(const plot *p, const char *path)
{
    double x0, x1, y0, y1;
    FILE *f = fopen(path, "w");
    if (!f || !ranges(p, &x0, &x1, &y0, &y1)) {
        fprintf(stderr, "bptt_lab: cannot write %s\n", path);
        if (f)
            fclose(f);
        return -1;
    }
    const double L = 70, T = 30, W = 560, H = 330;
#define PX(v) (L + W * ((v) - x0) / (x1 - x0))
#define PY(v) (T + H - H * ((v) - y0) / (y1 - y0))
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"820\" height=\"420\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"%g\" y=\"18\" font-size=\"14\">%s</text>\n"
               "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#888\"/>\n",
            L, p->title, L, T, W, H);
    /* at most about ten labels: every decade, or every few of them */
    int decades = (int)(y1 - y0), every = p->log_y ? (decades + 9) / 10 : 1;
    int ticks = p->log_y ? decades / every : 4;
    for (int k = 0; k <= ticks; k++) {
        double v = p->log_y ? y0 + (double)(k * every) : y0 + (y1 - y0) * k / ticks;
        fprintf(f, p->log_y ? "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">1e%.0f</text>\n"
                            : "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%.3g</text>\n", L - 6, PY(v) + 4, v);
        fprintf(f, "<line x1=\"%g\" x2=\"%g\" y1=\"%g\" y2=\"%g\" stroke=\"#eee\"/>\n", L, L + W, PY(v), PY(v));
    }
    for (int k = 0; k <= 4; k++)
        fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%.4g</text>\n", PX(x0 + (x1 - x0) * k / 4),
                T + H + 16, x0 + (x1 - x0) * k / 4);
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%s</text>\n", L + W / 2, T + H + 34, p->xlabel);
    fprintf(f, "<text x=\"16\" y=\"%g\" transform=\"rotate(-90 16 %g)\" text-anchor=\"middle\">%s</text>\n",
            T + H / 2, T + H / 2, p->ylabel);
    for (int s = 0; s < p->nseries; s++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" points=\"", colours[s]);
        for (int i = 0; i < p->n[s]; i++)
            if (usable(p, p->y[s][i]))
                fprintf(f, "%.1f,%.1f ", PX(p->x[s][i]), PY(p->log_y ? log10(p->y[s][i]) : p->y[s][i]));
        fprintf(f, "\"/>\n<line x1=\"%g\" x2=\"%g\" y1=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"3\"/>"
                   "<text x=\"%g\" y=\"%g\">%s</text>\n",
                L + W + 14, L + W + 34, T + 10 + 18.0 * s, T + 10 + 18.0 * s, colours[s], L + W + 40, T + 14 + 18.0 * s,
                p->label[s]);
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
    if (plot_svg(p, svg) != 0 || plot_csv(p, csv) != 0) {
        fprintf(stderr, "bptt_lab: cannot write %s or %s\n", svg, csv);
        return -1;
    }
    printf("wrote %s and %s\n", svg, csv);
    return 0;
}
