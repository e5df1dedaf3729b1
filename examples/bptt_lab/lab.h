/* bptt_lab — the classic backprop-through-time experiments, each a subcommand
 * that prints a table and writes an SVG plot and a CSV of its numbers. */
#ifndef BPTT_LAB_H
#define BPTT_LAB_H

#include <cgrad.h>
#include "../common/parse.h"
#include "flow.h"
#include <stdbool.h>
#include <stdio.h>


/* ---- plots (plot.c) ---------------------------------------------------------------- */
#define PLOT_MAX_SERIES 12
typedef struct {
    double y;
    const char *label;
} plot_ref; /* a dashed horizontal line: chance, a threshold */
typedef struct {
    const char *title, *xlabel, *ylabel;
    bool log_x, log_y; /* log scales: non-positive values are skipped */
    bool markers;      /* a marker on every point, for plots of few points */
    double y_from, y_to; /* when y_to > y_from, a linear y axis covers at least this range */
    int nrefs;
    plot_ref ref[2];
    int nseries;
    const char *label[PLOT_MAX_SERIES];
    const double *x[PLOT_MAX_SERIES], *y[PLOT_MAX_SERIES]; /* NAN and infinite points are skipped */
    int n[PLOT_MAX_SERIES];
} plot;
/* An SVG line plot with a legend, 1-2-5 ticks and any reference lines; 0, or -1 (with a message) when it cannot be written. */
int plot_svg(const plot *p, const char *path);
/* The points as CSV, one row each: series, x, y. */
int plot_csv(const plot *p, const char *path);
/* Both, named OUT_DIR/NAME.svg and .csv, saying where they went. */
int plot_write(const plot *p, const char *dir, const char *name);
/* the first line of every plot's SVG: a run finds its own pictures by it and draws over them */
#define BPTT_LAB_SVG_MARK "<!-- drawn by cgrad's bptt_lab -->"

/* ---- the experiments ---------------------------------------------------------------- */
/* Says why an experiment stops ("bptt_lab EXP: why", with cgrad's message when it has
 * one) and returns -1: no failure is silent. */
int lab_fail(const char *experiment, const char *why);
typedef struct {
    const char *out;    /* directory for the .svg and .csv files */
    long steps;         /* training steps (memory, truncate, clip) */
    long length;        /* sequence length (flow), gap (memory), characters (truncate) */
    long seed;
    const char *text;   /* truncate's text */
    const char *html;   /* write the interactive graph page of a short run here */
} lab_cfg;

int lab_flow(const lab_cfg *c);
int lab_memory(const lab_cfg *c);
int lab_truncate(const lab_cfg *c);
int lab_clip(const lab_cfg *c);

/* ---- shared helpers (main.c) -------------------------------------------------------- */

#endif
