/* wordgen — the parts of the word generator shared between its files: the
 * settings, the words, the six models and their checkpoints. It is a port of a
 * well-known PyTorch program (a small makemore); bench/wordgen_torch.py is the
 * same program in PyTorch, decision for decision. */
#ifndef WORDGEN_H
#define WORDGEN_H

#include <cgrad.h>
#include "../common/chars.h"
#include <stdbool.h>
#include <stdio.h>
#include "../common/parse.h"
#include "../common/plot.h"

/* ---- settings (args.c) ------------------------------------------------------------------ */

/* The settings a checkpoint keeps (and --resume takes back), in one table. */
enum { CFG_MODEL, CFG_N_EMBD, CFG_N_EMBD2, CFG_N_LAYER, CFG_N_HEAD, CFG_BATCH, CFG_SEED, CFG_LR, CFG_WD, CFG_COUNT };

typedef struct {
    char model[16];        /* bigram, mlp, rnn, gru, lstm, transformer */
    long n_embd, n_embd2, n_layer, n_head, batch, seed;
    double lr, weight_decay;
    const char *input, *out, *resume;
    long steps, eval_every, samples;
    bool sample_only, plot;
    unsigned given;        /* bit CFG_x: the flag was on the command line */
    bool input_given, out_given; /* else, with --resume, the checkpoint's words and the checkpoint itself */
    char run[17];          /* this run's id: new, or the resumed checkpoint's */
    char input_buf[4096];  /* the checkpoint's word list, when --resume gives no --input */
} wg_cfg;

/* 0 to go on, 1 after --help, 2 on a bad flag (message printed). */
int parse_args(int argc, char **argv, wg_cfg *c);
const char *cfg_name(int k);
const char *cfg_flag(int k);
bool cfg_set_text(wg_cfg *c, int k, const char *value); /* false: out of bounds or malformed */
void cfg_text(const wg_cfg *c, int k, char *buf, size_t n);

/* ---- the words (data.c) ----------------------------------------------------------------- */

typedef struct {
    char *text;            /* the file, words NUL-terminated in place */
    char **word;           /* every word, in file order */
    int *len;              /* each word's characters */
    long n;
    char_vocab chars;      /* token t (1..V-1) is character chars[t - 1]; token 0 starts and ends a word */
    short ascii[128];      /* each ASCII character's token - 1 (vocab_ascii_tokens), or -1 */
    int V, T;              /* vocabulary size; positions per word (longest + 1, in characters) */
    long *train, *test;    /* word numbers of the split */
    long n_train, n_test;
    char path[4096];       /* where they were read from (absolute when it could be made so) */
    char digest[17];       /* of the file's bytes (text_digest) */
} words;

/* Reads one word per line (surrounding ASCII whitespace stripped, empty lines
 * skipped); characters are the tokens (UTF-8 sequences, as makemore's Python reads them;
 * ASCII ones are bytes). 0, or -1 with a message. */
int words_read(const char *path, words *w);
/* The train/test split of torch.randperm: the last min(1000, n/10) are the test set. */
int words_split(words *w);
void words_free(words *w);
/* x (B, T): 0 then the word's tokens, 0 after; y (B, T): the tokens, 0, then -1
 * (ignored by the loss). rows index w->word. */
void words_encode(const words *w, const long *rows, long B, float *x, float *y);

/* ---- the models (model.c) ---------------------------------------------------------------- */

enum { M_BIGRAM, M_MLP, M_RNN, M_GRU, M_LSTM, M_TRANSFORMER };

typedef struct {
    cg_module *ln_1, *c_attn, *c_proj, *ln_2, *c_fc, *mlp_proj;
} gpt_block;

typedef struct {
    cg_module *root;       /* the whole model: parameters named as the PyTorch script's state dict */
    int kind, V, T, n_head;
    cg_tensor *table, *start;             /* bigram's logits; the recurrent models' start state */
    cg_module *wte, *wpe, *rnn, *mlp, *ln_f, *lm_head;
    gpt_block *blocks;
    int n_blocks;
} model;

int model_kind(const char *name); /* -1 if unknown */
int model_init(model *m, const wg_cfg *c, int V, int T);
void model_free(model *m);
/* Logits (B, T', V) for token ids x (B, T'), T' <= T. */
cg_tensor *model_forward(model *m, cg_tensor *x);
/* The mean cross-entropy of x's predictions against y (-1: ignored); reduction as given. */
cg_tensor *model_loss(model *m, cg_tensor *x, cg_tensor *y, cg_reduction reduction);

/* ---- checkpoints (checkpoint.c) ---------------------------------------------------------- */

/* The model, AdamW's state, the step and the generator, with the settings and the
 * vocabulary as metadata. */
int checkpoint_save(const char *path, const wg_cfg *c, const words *w, const model *m, cg_optim *opt, long step);
/* --resume without --input: the word list the checkpoint names, into c->input; 0, or -1
 * with a message. */
int checkpoint_input(wg_cfg *c);
/* Reads the settings kept in a checkpoint into c (a flag that contradicts one is
 * refused, naming both), its run id into c->run, and checks that w are its words
 * (the same file's bytes; the same vocabulary for a checkpoint of an older wordgen). */
cg_safetensors *checkpoint_open(const char *path, wg_cfg *c, const words *w);
/* Reads the model (and, with opt, AdamW's state, the step and the generator):
 * every shape checked, every value finite. 0, or -1 with a message. */
int checkpoint_load(cg_safetensors *f, const char *path, model *m, cg_optim *opt, long *step);

/* ---- training and sampling (train.c, sample.c) -------------------------------------------- */

int train(wg_cfg *c, words *w); /* on --resume, c takes the checkpoint's settings */
/* n new words from the model, each marked as in the training set, the test set or new. */
int print_samples(model *m, const words *w, long n);

#endif
