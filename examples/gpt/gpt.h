/* gpt — nanoGPT's shakespeare_char in C: a character-level GPT, its training loop and
 * its sampler, decision for decision (bench/gpt_torch.py is the same program in PyTorch).
 * The parts shared between its files: the settings, the data, the model, checkpoints. */
#ifndef GPT_H
#define GPT_H

#include <cgrad.h>
#include "../common/chars.h"
#include <stdbool.h>
#include <stdio.h>
#include "../common/parse.h"

/* ---- settings (args.c): nanoGPT's names and config/train_shakespeare_char.py's values ---- */

enum { S_BLOCK_SIZE, S_N_LAYER, S_N_HEAD, S_N_EMBD, S_DROPOUT, S_BIAS, /* the model's (kept in a checkpoint) */
       S_BATCH_SIZE, S_GRAD_ACCUM, S_LEARNING_RATE, S_MAX_ITERS, S_WEIGHT_DECAY, S_BETA1, S_BETA2, S_GRAD_CLIP,
       S_DECAY_LR, S_WARMUP_ITERS, S_LR_DECAY_ITERS, S_MIN_LR, S_EVAL_INTERVAL, S_EVAL_ITERS, S_LOG_INTERVAL,
       S_ALWAYS_SAVE, S_EVAL_ONLY, S_SEED, S_COUNT };
#define S_MODEL_COUNT (S_BIAS + 1)

typedef struct {
    long block_size, n_layer, n_head, n_embd;
    double dropout;
    char bias[8];            /* "True" / "False", as nanoGPT's flags write them */
    long batch_size, gradient_accumulation_steps, max_iters, warmup_iters, lr_decay_iters, eval_interval, eval_iters,
        log_interval, seed;
    double learning_rate, weight_decay, beta1, beta2, grad_clip, min_lr;
    char decay_lr[8], always_save_checkpoint[8], eval_only[8];
    char init_from[16];      /* scratch or resume */
    const char *out_dir, *data;
    bool plot;
    unsigned given;          /* bit S_x: given on the command line */
} train_cfg;

typedef struct {
    const char *out_dir, *start;
    long num_samples, max_new_tokens, top_k, seed;
    double temperature;
} sample_cfg;

bool is_true(const char *flag_value); /* "True" */
/* gpt train's flags: 0 to go on, 1 after --help, 2 on a bad flag (message printed). */
int parse_train(int argc, char **argv, train_cfg *c);
int parse_sample(int argc, char **argv, sample_cfg *c);
const char *setting_name(int k);
bool setting_from_text(train_cfg *c, int k, const char *value);
void setting_to_text(const train_cfg *c, int k, char *buf, size_t n);

/* ---- the data (data.c): prepare.py's vocabulary and split ------------------------------- */

typedef struct {
    unsigned char *ids;     /* the whole text as vocabulary indices, one a character */
    long n, n_train;        /* characters: the first 90% trains, the rest validates */
    char_vocab chars;       /* the sorted distinct characters: token t is chars[t] */
    int V;
    char path[4096], digest[17]; /* (an imported checkpoint's: no text, IMPORTED_DIGEST) */
} dataset;

int data_read(const char *path, dataset *d);
/* the text digest of a checkpoint gpt import made: weights and a vocabulary, no text (a
 * resumed run names one with --data, of the same vocabulary) */
#define IMPORTED_DIGEST "0000000000000000"
void data_free(dataset *d);
/* get_batch: batch_size offsets from torch.randint(len(split) - block_size, (B,)), x and y (B, T). */
void data_batch(const dataset *d, bool train, long B, long T, float *x, float *y);

/* ---- the model (model.c): nanoGPT's GPT ------------------------------------------------------ */

typedef struct {
    cg_module *ln_1, *c_attn, *c_proj, *ln_2, *c_fc, *mlp_proj;
} gpt_block;

typedef struct {
    long V, block_size, n_layer, n_head, n_embd;
    double dropout;
    bool bias;
    cg_module *root;        /* GPT: its parameters under nanoGPT's state-dict names (lm_head is wte, tied) */
    cg_module *wte, *wpe, *ln_f, *lm_head;
    gpt_block *blocks;
} gpt_model;

/* Built and initialised as nanoGPT's GPT(config) is after torch.manual_seed: the same
 * draws in the same order, so the same weights for a seed. 0, or -1 with a message. */
int model_init(gpt_model *m, const train_cfg *c, long vocab_size);
void model_free(gpt_model *m);
/* Logits (B, T, V) for token ids (B, T); the dropout layers act when training. */
cg_tensor *model_forward(gpt_model *m, cg_tensor *idx, bool training);
/* F.cross_entropy over (B*T, V) logits against targets (B, T). */
cg_tensor *model_loss(gpt_model *m, cg_tensor *idx, cg_tensor *targets, bool training);

/* ---- checkpoints (checkpoint.c): OUT_DIR/ckpt.safetensors ---------------------------------- */

typedef struct {
    cg_optim *opt; /* AdamW in nanoGPT's two groups: 0 decays (the >= 2-D weights), 1 does not */
    long iter_num;
    double best_val_loss;
} train_state;

/* AdamW as nanoGPT's configure_optimizers makes it: two groups, weight decay on the
 * >= 2-D weights only (report: print their sizes as nanoGPT does). 0, or -1 with a message. */
int make_optimizers(gpt_model *m, const train_cfg *c, train_state *s, bool report);
/* Whether a parameter is in AdamW's decaying group (nanoGPT: the tensors of 2 or more dims). */
bool decays(cg_tensor *p);
int checkpoint_save(const char *path, const train_cfg *c, const dataset *d, const gpt_model *m, const train_state *s,
                    const char *run);
/* Reads the model's settings and vocabulary (c's model settings are replaced; a contradicting
 * flag is refused); the tensors are read by checkpoint_load. NULL with a message on a fault. */
cg_safetensors *checkpoint_open(const char *path, train_cfg *c, char_vocab chars, int *V, char run[17],
                                char *data_path, size_t data_path_size, char data_digest[17]);
int checkpoint_load(cg_safetensors *f, const char *path, gpt_model *m, train_state *s);
/* gpt export / import: the model's weights as a PyTorch (nanoGPT) state dict in safetensors. */
int export_main(int argc, char **argv);
int import_main(int argc, char **argv);

/* ---- the commands ------------------------------------------------------------------------------ */

int train_main(int argc, char **argv);
int sample_main(int argc, char **argv);

#endif
