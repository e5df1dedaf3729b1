/* charrnn — the parts of the character-level language model program, shared
 * between its files: the settings, the text, the model and its checkpoints. */
#ifndef CHARRNN_H
#define CHARRNN_H

#include <cgrad.h>
#include <stdbool.h>
#include <stdio.h>
#include "../common/parse.h"
#include "../common/plot.h"


/* ---- settings: flags, their defaults and bounds (args.c) ----------------------------- */

/* The settings a checkpoint keeps (and --resume takes back), in one table. */
enum { CFG_HIDDEN, CFG_LAYERS, CFG_SEQ_LEN, CFG_BATCH, CFG_SEED, CFG_EVAL_EVERY, CFG_LR, CFG_CLIP, CFG_CELL, CFG_COUNT };

typedef struct {
    const char *file, *out, *resume;
    bool out_given;          /* --out on the command line (else, with --resume, the resumed file) */
    char run[17];            /* this run's id: new, or the resumed checkpoint's */
    char cell[8];
    long hidden, layers, seq_len, batch, steps, seed, eval_every;
    double lr, clip;
    const char *html;        /* the last step's graph as the interactive page, or NULL */
    bool plot, detect_anomaly;
    unsigned given; /* bit CFG_x: the flag was on the command line */
} train_cfg;

/* Parses train's arguments over the defaults: 0 to go on, 1 after --help, 2 on a bad flag. */
int parse_train(int argc, char **argv, train_cfg *c);
/* Each kept setting's name in the checkpoint's config, its bounds, and access to it. */
const char *cfg_name(int k);
const char *cfg_flag(int k); /* "--seq-len" */
bool cfg_set_text(train_cfg *c, int k, const char *value); /* false: out of bounds or malformed */
void cfg_text(const train_cfg *c, int k, char *buf, size_t n);

/* ---- the text (text.c) -------------------------------------------------------------- */

typedef struct {
    unsigned char *ids;    /* the text as vocabulary indices */
    long n;
    unsigned char vocab[256]; /* the distinct bytes, sorted (NUL bytes included) */
    int V;
    char path[4096];          /* where it was read from (absolute when it could be made so) */
    char digest[17];          /* of its bytes (text_digest) */
} corpus;

int read_text(const char *path, corpus *c);
/* One-hot inputs x (T, B, V) and targets y (T*B) of the chunk at offset pos of B streams. */
void make_batch(const corpus *c, long start, long stream_len, long pos, long T, long B, float *x, float *y);

/* ---- the model: one-hot -> RNN/LSTM/GRU -> Linear (model.c) ------------------------- */

typedef struct {
    cg_module *rnn, *fc;
    bool lstm, gru;
    long hidden, layers;
    cg_tensor **params;   /* rnn's, then fc's */
    char (*names)[64];    /* "rnn.weight_ih_l0", ..., "fc.bias" */
    const char **name_ptrs;
    int nparams;
} model;

int model_init(model *m, const char *cell, int V, long hidden, long layers);
void model_free(model *m);
/* Logits (T*B, V) for one-hot x (T, B, V); the states are replaced by the final ones. */
cg_tensor *model_forward(model *m, cg_tensor *x, cg_tensor **h, cg_tensor **c);

/* ---- checkpoints (checkpoint.c) ------------------------------------------------------ */

typedef struct {
    train_cfg cfg;         /* the kept settings, each checked against its bounds */
    corpus vocab;          /* vocab and V only */
    long step, pos;
    uint8_t rng[CG_RNG_STATE_SIZE];
    bool has_progress;     /* step, pos and rng are there (a training checkpoint) */
    char run[17];          /* the run's id ("" in a checkpoint of an older charrnn) */
    char text[4096], text_digest[17]; /* the text it learned from ("" in an older one's) */
} ckpt_info;

/* The state written beside the model: optimizer slots and the carried hidden state. */
typedef struct {
    cg_optim *opt;
    cg_tensor *carry_h, *carry_c; /* this rank's streams' states (layers, batch, hidden) */
    long step, pos;
    int rank, ranks;              /* data-parallel over MPI: this rank's streams are rank*batch .. */
} train_state;

/* Every rank calls it (the carried states are gathered); rank 0 writes, with the
 * settings of the whole run (batch = all ranks' streams). */
int checkpoint_save(const char *path, const train_cfg *c, const corpus *text, const model *m, const train_state *s);
/* Opens a checkpoint and reads what it says about itself; the model's shapes in the
 * file are checked against that before anything is allocated for them. */
cg_safetensors *checkpoint_open(const char *path, ckpt_info *info);
/* Reads the model (and, with s, the training state) from an open checkpoint:
 * every shape checked first, every value finite. 0, or -1 with a message. */
int checkpoint_load(cg_safetensors *f, const char *path, model *m, train_state *s);

/* ---- the programs (train.c, sample.c) --------------------------------------------- */

int train_main(int argc, char **argv);
int sample_main(int argc, char **argv);

#endif
