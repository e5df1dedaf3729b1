/* What the example programs' checkpoints share: bytes as hex text in the metadata
 * (so every byte, NUL included, survives), and reading named tensors back with
 * every shape checked before any is read and every value checked finite. */
#ifndef CGRAD_EXAMPLES_CKPT_H
#define CGRAD_EXAMPLES_CKPT_H

#include <cgrad.h>
#include <stdbool.h>
#include <stddef.h>
#include "chars.h"
#include <stdint.h>

void hex_of(const uint8_t *b, size_t n, char *out); /* out holds 2n + 1 chars */
bool bytes_of(const char *hex, uint8_t *b, size_t n); /* exactly 2n lowercase hex digits */
/* A vocabulary of characters (chars.h) as checkpoints keep it: its characters' bytes in
 * order, in hex (ASCII ones: the bytes' hex, as before); chars: a char_vocab's first entry
 * (its entries 5 bytes apart). And back: V, or -1 when hex is not a sorted vocabulary of
 * distinct characters. */
#define VOCAB_HEX_SIZE (8 * CHAR_VOCAB_MAX + 1)
void vocab_to_hex(const char *chars, int V, char *out);
int vocab_from_hex(const char *hex, char_vocab chars);
/* Whether the file holds name as a (d0, d1) matrix (read from its header only). */
bool ckpt_has_shape(cg_safetensors *f, const char *name, int64_t d0, int64_t d1);
/* 0, or -1 with a message "prog: path: ..." on stderr. */
int ckpt_read_tensors(cg_safetensors *f, cg_tensor *const *ts, const char *const *names, int n, const char *path,
                      const char *prog);

/* ---- a run's files: never another run's lost --------------------------------------------
 * A checkpoint names its run (a random id made when the run starts, kept on --resume),
 * the format of its program, and the text it learned from (path and digest). */

/* One of the program's own files: opened and checked, its checksum present (cgrad always
 * writes one, so a file without one was damaged where the checksum's name was); NULL with
 * "prog: ..." on stderr otherwise. */
cg_safetensors *ckpt_open(const char *path, const char *prog);
/* A new run's id: 16 hex digits from the system's entropy (not cgrad's generator, which
 * the run's seed owns). */
void ckpt_new_run_id(char id[17]);
/* A file a run writes beside its checkpoint (its loss log, its loss curves, a graph page):
 * its path (NULL: not written this run), what it is, and the flag that names it when that is
 * not the checkpoint's (NULL: --out, or gpt's --out_dir). */
typedef struct {
    const char *path, *what, *flag;
} ckpt_companion;
/* Whether this run may write its checkpoint out and the nothers files beside it: 0 when none
 * of them exists yet, or out is a checkpoint of this run (the same id: a resumed run
 * continuing in its file, or a copy of it; the others are then its own); otherwise -1 with
 * one line saying why and what to do — in the program's own flags: out_dir for one that names
 * its run's directory (gpt: --init_from=resume --out_dir), NULL for one that names the file
 * (--resume FILE, --out). */
int ckpt_claim(const char *out, const ckpt_companion *others, int nothers, const char *run_id, const char *prog,
               const char *out_dir);
/* 0 when path is not there or is a file the program wrote before (its first KB holds marker:
 * cgrad's DOT, SVG, page or table, written again), else -1 with one line (choose another flag) */
int ckpt_replaceable(const char *path, const char *marker, const char *prog, const char *flag);
/* 0 when file is not there (or not written: no path), else -1 with one line (choose another
 * file->flag, or place when it names none) */
int ckpt_not_there(const ckpt_companion *file, const char *prog, const char *place);
/* A file's bytes in memory (*n of them, at most 1 GiB), NUL-terminated after them, read as a
 * stream (a pipe too); the caller's to free. NULL with one line "prog: cannot open PATH: why"
 * (or cannot read it, or it is too large, or out of memory). */
char *file_bytes(const char *path, long *n, const char *prog);
/* A run's directory made, with any missing parents (as nanoGPT's os.makedirs(out_dir,
 * exist_ok=True)); 0 when it is there (made now or before), or -1 with "prog: cannot
 * make DIR: why" on stderr (a file in the way included). */
int ckpt_make_dir(const char *dir, const char *prog);
/* The digest of a text, as kept in checkpoints: FNV-1a 64 as 16 hex digits. */
void text_digest(const unsigned char *bytes, size_t n, char out[17]);
/* torch's strict load: every tensor in f is one the program would write (in names, or
 * one that is_extra_known accepts); 0, or -1 with a message naming the first other. */
int ckpt_only_known(cg_safetensors *f, const char *const *names, int n, bool (*is_extra_known)(const char *name),
                    const char *path, const char *prog);
/* Whether name is an optimizer state tensor "optim.I.SLOT" of one of nparams parameters
 * (SLOT: step, exp_avg, exp_avg_sq, max_exp_avg_sq). */
bool ckpt_is_optim_state(const char *name, int nparams);

#endif
