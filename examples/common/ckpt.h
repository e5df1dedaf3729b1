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
/* Whether the file holds name as a (d0, d1) matrix (read from its header only). */
bool ckpt_has_shape(cg_safetensors *f, const char *name, int64_t d0, int64_t d1);
/* 0, or -1 with a message "prog: path: ..." on stderr. */
int ckpt_read_tensors(cg_safetensors *f, cg_tensor *const *ts, const char *const *names, int n, const char *path,
                      const char *prog);

#endif
