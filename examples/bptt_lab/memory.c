/* bptt_lab memory — remember a symbol across a gap: the input is one of four
 * symbols, then k distractors (random symbols of the same four), then a recall
 * marker; the net must name the first symbol at the last step. Accuracy after N training steps against the gap k, for an
 * RNN, an LSTM and a GRU: where plain RNNs fail, because the gradient that
 * would teach them has vanished k steps back. */
#include "lab.h"
#include <math.h>
#include <stdlib.h>

#define KINDS MEMORY_KINDS

int lab_memory(const lab_cfg *c)
{
    long steps = c->steps > 0 ? c->steps : 600, longest = c->length > 0 ? c->length : 40;
    long gaps[8];
    int ng = 0;
    for (long g = 5; g <= longest && ng < 8; g *= 2)
        gaps[ng++] = g;
    double acc[KINDS][8], gx[8];
    printf("accuracy on remembering one of %d symbols across a gap (chance %.2f), after %ld Adam steps\n%8s", MEMORY_SYMBOLS,
           1.0 / MEMORY_SYMBOLS, steps, "gap");
    for (int k = 0; k < KINDS; k++)
        printf(" %9s", memory_cells[k]);
    printf("\n");
    for (int g = 0; g < ng; g++) {
        gx[g] = (double)gaps[g];
        printf("%8ld", gaps[g]);
        for (int k = 0; k < KINDS; k++) {
            acc[k][g] = memory_accuracy(k, gaps[g], steps, c->seed);
            if (isnan(acc[k][g]))
                return lab_fail("memory", "out of memory");
            printf(" %9.3f", acc[k][g]);
        }
        printf("\n");
        fflush(stdout);
    }
    plot p = {.title = "Remembering a symbol across a gap: accuracy after training", .xlabel = "gap k (steps)",
              .ylabel = "accuracy", .log_x = true, .markers = true, .y_from = 0, .y_to = 1, .nrefs = 1,
              .ref = {{1.0 / MEMORY_SYMBOLS, "chance"}}, .nseries = KINDS};
    for (int k = 0; k < KINDS; k++)
        p.label[k] = memory_cells[k], p.x[k] = gx, p.y[k] = acc[k], p.n[k] = ng;
    return plot_write(&p, c->out, "memory");
}
