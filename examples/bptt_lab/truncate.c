/* bptt_lab truncate — truncated BPTT: the text in chunks of T characters, the
 * hidden state carried from chunk to chunk as a detached value, so backward
 * stops at the chunk's start. Short chunks give many cheap updates that see
 * little of the past; long ones fewer, dearer updates that see more. Loss
 * against characters read, and steps/s, for T = 8, 16, 32, 64. */
#include "lab.h"
#include "text.h"
#include <stdlib.h>

/* The mean of the last tenth of a curve's losses: where it ended, without its noise. */
static double final_loss(const truncate_curve *cv)
{
    long from = cv->steps - (cv->steps + 9) / 10;
    double sum = 0;
    for (long s = from; s < cv->steps; s++)
        sum += cv->loss[s];
    return sum / (double)(cv->steps - from);
}

int lab_truncate(const lab_cfg *c)
{
    lab_text text;
    if (lab_text_read(c->text, &text) != 0)
        return -1;
    long chars = c->length > 0 ? c->length : 40000, Ts[4] = {8, 16, 32, 64};
    if (chars < 2 * Ts[3] * TRUNCATE_STREAMS) { /* every chunk length must get two steps, or it has no curve */
        free(text.ids);
        fprintf(stderr, "bptt_lab truncate: --length %ld is too short: it needs at least %ld characters "
                        "(two chunks of %ld for each of the %d streams)\n", chars, 2 * Ts[3] * TRUNCATE_STREAMS, Ts[3], TRUNCATE_STREAMS);
        return -1;
    }
    truncate_curve cv[4] = {{0}};
    static char labels[4][16];
    plot p = {.title = "Truncated BPTT: training loss against characters read", .xlabel = "characters read",
              .ylabel = "training loss", .nseries = 4};
    printf("truncated BPTT on %ld characters of text, RNN(%d, %d), %d streams, Adam 3e-3\n%10s %8s %10s %12s %14s\n",
           chars, text.V, TRUNCATE_HID, TRUNCATE_STREAMS, "chunk T", "steps", "steps/s", "chars/s", "final loss");
    int rc = 0;
    for (int k = 0; k < 4 && rc == 0; k++) {
        if (chars / (Ts[k] * TRUNCATE_STREAMS) < 2)
            break;
        if ((rc = truncate_run(&text, Ts[k], chars, c->seed, &cv[k])) != 0) {
            lab_fail("truncate", "out of memory");
            break;
        }
        printf("%10ld %8ld %10.1f %12.0f %14.4f\n", Ts[k], cv[k].steps, (double)cv[k].steps / cv[k].seconds,
               (double)(cv[k].steps * Ts[k] * TRUNCATE_STREAMS) / cv[k].seconds, final_loss(&cv[k]));
        snprintf(labels[k], sizeof labels[k], "T = %ld", Ts[k]);
        p.label[k] = labels[k], p.x[k] = cv[k].chars, p.y[k] = cv[k].loss, p.n[k] = (int)cv[k].steps;
        fflush(stdout);
    }
    if (rc == 0)
        rc = plot_write(&p, c->out, "truncate");
    for (int k = 0; k < 4; k++)
        free(cv[k].chars), free(cv[k].loss);
    free(text.ids);
    return rc;
}
