/* The example programs' loss curves: a CSV log "step,train_loss,second_loss,..." (the
 * second column may be empty on steps without it) drawn as an SVG picture. */
#ifndef CGRAD_EXAMPLES_PLOT_H
#define CGRAD_EXAMPLES_PLOT_H

/* 0, or -1 when the log cannot be read or the picture written. */
int write_loss_plot(const char *csv_path, const char *svg_path, const char *second_label);

#endif
