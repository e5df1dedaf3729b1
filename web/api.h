/* The C functions the web pages call (web/cgrad.js wraps them): numbers and strings in
 * and out, errors as -1 or NaN with web_last_error() saying why. */
#ifndef CGRAD_WEB_API_H
#define CGRAD_WEB_API_H

/* api.c: one model learning each next character of a text */
int web_trainer_new(const char *text, const char *cell, int hidden, double lr, int seed);
double web_trainer_step(void);
double web_trainer_loss(void);
const char *web_trainer_prediction(void);
long web_trainer_steps(void);
void web_trainer_free(void);
const char *web_last_error(void);
int web_fail(const char *why); /* keeps why for web_last_error(); returns -1 */

/* lab_api.c: bptt_lab flow's measurement */
int web_flow(const char *cell, double rho, int length, int seed);
double web_flow_norm(int back);

#endif
