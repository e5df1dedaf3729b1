/* What the example programs' checkpoints share: bytes as hex text in the metadata
 * (so every byte, NUL included, survives), and reading named tensors back with
 * every shape checked before any is read and every value checked finite. */
#ifndef CGRAD_EXAMPLES_CKPT_H
#define CGRAD_EXAMPLES_CKPT_H

#include <cgrad.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void hex_of(const uint8_t *b, size_t n, char *out); /* out holds 2n + 1 chars */
bool bytes_of(const char *hex, uint8_t *b, size_t n); /* exactly 2n lowercase hex digits */
/* 0, or -1 with a message "prog: path: ..." on stderr. */
int ckpt_read_tensors(cg_safetensors *f, cg_tensor *const *ts, const char *const *names, int n, const char *path,
                      const char *prog);

#endif
