/* The C functions the web pages call (web/cgrad.js wraps them): numbers and strings in
 * and out, errors as -1 or NaN with web_last_error() saying why. */
#ifndef CGRAD_WEB_API_H
#define CGRAD_WEB_API_H

#include <cgrad.h>

/* model.c: a recurrent cell ("rnn", "lstm", "gru") and a Linear head over V symbols,
 * with Adam; the generator seeded with seed first. 0, or -1 with web_last_error(). */
typedef struct {
    cg_module *cell, *head;
    int kind; /* 0 rnn, 1 lstm, 2 gru */
    cg_optim *opt;
    cg_tensor *params[16];
    int nparams;
} web_model;
int web_model_new(web_model *m, const char *cell, int V, int hidden, double lr, int seed);
/* The logits (T, B, V) of x (T, B, V) from h0 (and c0 for an LSTM; NULL: zeros). */
cg_tensor *web_model_forward(web_model *m, cg_tensor *x, cg_tensor *h0, cg_tensor *c0, cg_tensor **h_n, cg_tensor **c_n);
void web_model_free(web_model *m);

/* api.c: one model learning each next character of a text */
int web_trainer_new(const char *text, const char *cell, int hidden, double lr, int seed);
double web_trainer_step(void);
double web_trainer_loss(void);
const char *web_trainer_prediction(void);
long web_trainer_steps(void);
const char *web_trainer_graph(void);
void web_trainer_free(void);
const char *web_last_error(void);
int web_fail(const char *why); /* keeps why for web_last_error(); returns -1 */

/* charrnn_api.c: a character-level model on a text, trained on random windows, sampled */
int web_charrnn_new(const char *text, const char *cell, int hidden, int seq_len, int batch, double lr, int seed);
double web_charrnn_step(void);
const char *web_charrnn_sample(int length, double temperature);
long web_charrnn_steps(void);

/* lab_api.c: bptt_lab flow's measurement, clip's runs, memory's training, truncate's runs */
int web_flow(const char *cell, double rho, int length, int seed);
double web_flow_norm(int back);
int web_clip(const char *text, double rho, double max_norm, int steps, int seed);
double web_clip_loss(int run, int s);
double web_clip_gnorm(int run, int s);
double web_memory(int kind, int gap, int steps, int seed);
int web_truncate(const char *text, int T, int chars, int seed);
long web_truncate_steps(void);
double web_truncate_seconds(void);
double web_truncate_loss(int s);
double web_truncate_chars(int s);

#endif
