/* The example programs' loss logs drawn as an SVG picture: the training loss and a
 * second one (validation, test) by step, from the CSV log the programs write. */
#include "plot.h"
#include <stdbool.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>

typedef struct {
    double *step, *train, *val; /* val is NAN on steps without validation */
    long n;
} loss_log;

static void log_free(loss_log *g)
{
    free(g->step);
    free(g->train);
    free(g->val);
}

/* Reads step,train_loss,val_loss,... lines (after the header). A run resumed from a
 * checkpoint older than the log's last line logs those steps again: the later lines
 * replace the earlier ones from that step on, so the curve is the run as it went. */
static int read_log(const char *csv_path, loss_log *g)
{
    FILE *f = fopen(csv_path, "r");
    if (!f)
        return -1;
    long cap = 0;
    *g = (loss_log){0};
    char line[256];
    bool ok = fgets(line, sizeof line, f) != NULL; /* the header */
    while (ok && fgets(line, sizeof line, f)) {
        if (g->n == cap) {
            cap = cap ? 2 * cap : 1024;
            double *s = realloc(g->step, sizeof(double) * (size_t)cap), *t = s ? realloc(g->train, sizeof(double) * (size_t)cap) : NULL;
            double *v = t ? realloc(g->val, sizeof(double) * (size_t)cap) : NULL;
            g->step = s ? s : g->step, g->train = t ? t : g->train, g->val = v ? v : g->val;
            ok = s && t && v;
        }
        char v[64] = "";
        double step, train;
        if (ok && sscanf(line, "%lf,%lf,%63[^,\n]", &step, &train, v) >= 2) {
            while (g->n > 0 && g->step[g->n - 1] >= step)
                g->n--;
            g->step[g->n] = step, g->train[g->n] = train;
            g->val[g->n] = v[0] ? strtod(v, NULL) : NAN;
            g->n++;
        }
    }
    fclose(f);
    if (!ok || g->n == 0) {
        log_free(g);
        return -1;
    }
    return 0;
}

static void draw_axes(FILE *o, double lo, double hi, double smax)
{
    fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"400\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<rect x=\"60\" y=\"20\" width=\"560\" height=\"330\" fill=\"none\" stroke=\"#888\"/>\n");
    for (int k = 0; k <= 4; k++) {
        fprintf(o, "<text x=\"54\" y=\"%g\" text-anchor=\"end\">%.2f</text>\n", 20 + 330 - 330.0 * k / 4 + 4,
                lo + (hi - lo) * k / 4);
        fprintf(o, "<text x=\"%g\" y=\"368\" text-anchor=\"middle\">%.0f</text>\n", 60 + 560.0 * k / 4, smax * k / 4);
    }
}

static void draw_curve(FILE *o, const loss_log *g, const double *v, double lo, double hi, double smax, const char *color,
                       const char *label, int row)
{
    fprintf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", color);
    for (long i = 0; i < g->n; i++)
        if (!isnan(v[i]))
            fprintf(o, "%.1f,%.1f ", 60 + 560 * g->step[i] / smax, 20 + 330 - 330 * (v[i] - lo) / (hi - lo));
    fprintf(o, "\"/>\n<text x=\"470\" y=\"%d\" fill=\"%s\">%s</text>\n", 40 + 16 * row, color, label);
}

int write_loss_plot(const char *csv_path, const char *svg_path, const char *second_label)
{
    loss_log g;
    if (read_log(csv_path, &g) != 0)
        return -1;
    double lo = INFINITY, hi = -INFINITY, smax = g.step[g.n - 1] > 0 ? g.step[g.n - 1] : 1;
    for (long i = 0; i < g.n; i++) {
        lo = fmin(lo, fmin(g.train[i], isnan(g.val[i]) ? g.train[i] : g.val[i]));
        hi = fmax(hi, fmax(g.train[i], isnan(g.val[i]) ? g.train[i] : g.val[i]));
    }
    if (hi - lo < 1e-9)
        hi = lo + 1;
    FILE *o = fopen(svg_path, "w");
    if (o) {
        draw_axes(o, lo, hi, smax);
        draw_curve(o, &g, g.train, lo, hi, smax, "#1f77b4", "training loss", 0);
        draw_curve(o, &g, g.val, lo, hi, smax, "#d62728", second_label, 1);
        fprintf(o, "<text x=\"340\" y=\"392\" text-anchor=\"middle\">step</text>\n</svg>\n");
    }
    bool written = o && !ferror(o);
    written = o && fclose(o) == 0 && written;
    log_free(&g);
    return written ? 0 : -1;
}
