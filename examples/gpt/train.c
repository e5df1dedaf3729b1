/* gpt train — nanoGPT's train.py on one CPU process: AdamW in two groups (weight decay
 * on the >= 2-D weights only), linear warmup then cosine decay to min_lr, gradient
 * accumulation, clipping at grad_clip, estimate_loss over eval_iters batches of each
 * split, the checkpoint kept at the best val loss, and nanoGPT's log lines. The same
 * seed, the same draws in the same order: the same losses as nanoGPT for a config. */
#include "gpt.h"
#include "../common/ckpt.h"
#include "../common/plot.h"
#include "../common/ranks.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    train_cfg c;
    dataset d;
    gpt_model m;
    train_state s;
    char run[17], ckpt[4200], log[4200], data_buf[4096];
    float *x, *y;        /* the next micro-batch: ids (B, T) and targets (fetched ahead, as nanoGPT does) */
    float *ex, *ey;      /* estimate_loss's batches, beside it */
    FILE *csv;
    int rank, ranks;     /* under mpirun: this rank takes micro-steps and eval batches rank, rank + ranks, ... */
} trainer;

/* Under mpirun every rank draws every batch (the one generator stays the same on all),
 * and computes only its share: the same batches as one process, the work split. */
static bool mine(const trainer *t, long k) { return k % t->ranks == t->rank; }

/* A number one rank computed, on every rank (exact: the others add 0). */
static double from_owner(const trainer *t, long k, double v)
{
    return t->ranks <= 1 ? v : cg_dist_allreduce_sum(mine(t, k) ? v : 0.0);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

/* get_lr: linear warmup, cosine decay to min_lr at lr_decay_iters, min_lr after. */
static double lr_at(const train_cfg *c, long it)
{
    if (!is_true(c->decay_lr))
        return c->learning_rate;
    if (it < c->warmup_iters)
        return c->learning_rate * (double)(it + 1) / (double)(c->warmup_iters + 1);
    if (it > c->lr_decay_iters)
        return c->min_lr;
    double ratio = (double)(it - c->warmup_iters) / (double)(c->lr_decay_iters - c->warmup_iters);
    return c->min_lr + 0.5 * (1.0 + cos(M_PI * ratio)) * (c->learning_rate - c->min_lr);
}

static void set_lr(trainer *t, double lr) { cg_optim_set_lr(t->s.opt, lr); /* every group's */ }

/* estimate_loss: the mean loss over eval_iters batches of each split, in eval mode. */
static void estimate_loss(trainer *t, double *train_loss, double *val_loss)
{
    long B = t->c.batch_size, T = t->c.block_size;
    cg_no_grad_begin();
    for (int split = 0; split < 2; split++) {
        float sum = 0; /* torch.zeros(eval_iters).mean(): float32 */
        for (long k = 0; k < t->c.eval_iters; k++) {
            cg_frame_begin();
            data_batch(&t->d, split == 0, B, T, t->ex, t->ey);
            cg_tensor *loss = mine(t, k) ? model_loss(&t->m, cg_tensor_from(t->ex, CG_SHAPE(B, T)),
                                                      cg_tensor_from(t->ey, CG_SHAPE(B, T)), false)
                                         : NULL;
            sum += (float)from_owner(t, k, loss ? (double)cg_item(loss) : NAN);
            cg_frame_end();
        }
        *(split == 0 ? train_loss : val_loss) = (double)(sum / (float)t->c.eval_iters);
    }
    cg_no_grad_end();
}

/* One iteration's micro-steps (each on the batch fetched before it, the next fetched
 * after its forward, as nanoGPT prefetches), clipping and the update; the last
 * micro-step's loss times their count (nanoGPT's lossf), NaN on a failure. */
static double train_iter(trainer *t)
{
    long B = t->c.batch_size, T = t->c.block_size, accum = t->c.gradient_accumulation_steps;
    double lossf = NAN;
    int rc = 0;
    for (long micro = 0; micro < accum; micro++) {
        cg_frame_begin();
        cg_tensor *loss = NULL;
        if (mine(t, micro)) { /* loss / accum; over ranks, whose mean the gradients become: ranks / accum */
            loss = model_loss(&t->m, cg_tensor_from(t->x, CG_SHAPE(B, T)), cg_tensor_from(t->y, CG_SHAPE(B, T)), true);
            loss = t->ranks > 1 ? cg_mul_scalar(loss, (float)t->ranks / (float)accum) : cg_div_scalar(loss, (float)accum);
        }
        data_batch(&t->d, true, B, T, t->x, t->y);
        if (mine(t, micro) && (rc = loss ? cg_backward(loss) : -1) == 0)
            lossf = (double)cg_item(loss) * (double)accum / (double)t->ranks;
        cg_frame_end();
        if (!all_ranks_ok(rc == 0)) {
            fprintf(stderr, "gpt: iter %ld: %s\n", t->s.iter_num, rc ? cg_last_error() : "another rank failed");
            return NAN;
        }
    }
    lossf = from_owner(t, accum - 1, lossf); /* the last micro-step's, as nanoGPT prints */
    int n;
    cg_tensor **ps = cg_parameters(t->m.root, &n);
    if (t->ranks > 1 && cg_dist_allreduce_grads(ps, n) != 0) {
        fprintf(stderr, "gpt: %s\n", cg_last_error());
        return NAN;
    }
    if (t->c.grad_clip != 0.0)
        cg_clip_grad_norm(ps, n, (float)t->c.grad_clip);
    if (cg_optim_step(t->s.opt) != 0) {
        fprintf(stderr, "gpt: %s\n", cg_last_error());
        return NAN;
    }
    cg_optim_zero_grad_set_to_none(t->s.opt); /* nanoGPT: optimizer.zero_grad(set_to_none=True) */
    return lossf;
}

static int evaluate(trainer *t, double lr)
{
    double tr = NAN, va = NAN;
    estimate_loss(t, &tr, &va);
    printf("step %ld: train loss %.4f, val loss %.4f\n", t->s.iter_num, tr, va);
    bool logged = !t->csv || (fprintf(t->csv, "%ld,%.6f,%.6f,%.6g\n", t->s.iter_num, tr, va, lr) >= 0 &&
                              fflush(t->csv) == 0);
    if (!all_ranks_ok(logged)) {
        fprintf(stderr, "gpt: cannot write %s\n", t->log);
        return -1;
    }
    if (!isfinite(va)) {
        fprintf(stderr, "gpt: the val loss is %g at step %ld; stopping (the checkpoint kept is the best one)\n", va,
                t->s.iter_num);
        return -1;
    }
    if (va < t->s.best_val_loss || is_true(t->c.always_save_checkpoint)) {
        t->s.best_val_loss = va;
        if (t->s.iter_num > 0) {
            printf("saving checkpoint to %s\n", t->c.out_dir);
            int rc = t->rank == 0 ? checkpoint_save(t->ckpt, &t->c, &t->d, &t->m, &t->s, t->run) : 0;
            return all_ranks_ok(rc == 0) ? 0 : -1;
        }
    }
    return 0;
}

/* A progress bar on stderr when it is a terminal (stdout keeps nanoGPT's lines alone). */
static void progress(const trainer *t, double ms_per_iter)
{
    if (t->rank != 0 || !isatty(STDERR_FILENO))
        return;
    long done = t->c.max_iters ? 30 * t->s.iter_num / t->c.max_iters : 30;
    char bar[31];
    for (int i = 0; i < 30; i++)
        bar[i] = i < done ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r[%s] iter %ld/%ld  %.0fs left \033[K", bar, t->s.iter_num, t->c.max_iters,
            ms_per_iter * (double)(t->c.max_iters - t->s.iter_num) / 1000);
}

static int run(trainer *t)
{
    long B = t->c.batch_size, T = t->c.block_size;
    data_batch(&t->d, true, B, T, t->x, t->y); /* the very first batch */
    double t0 = now_ms();
    for (;;) {
        double lr = lr_at(&t->c, t->s.iter_num);
        set_lr(t, lr);
        if (t->s.iter_num % t->c.eval_interval == 0 && evaluate(t, lr) != 0)
            return -1;
        if (t->s.iter_num == 0 && is_true(t->c.eval_only))
            return 0;
        double lossf = train_iter(t);
        if (isnan(lossf))
            return -1;
        double t1 = now_ms();
        if (t->s.iter_num % t->c.log_interval == 0)
            printf("iter %ld: loss %.4f, time %.2fms\n", t->s.iter_num, lossf, t1 - t0);
        fflush(stdout);
        progress(t, t1 - t0);
        t0 = t1;
        t->s.iter_num++;
        if (t->s.iter_num > t->c.max_iters) {
            if (t->rank == 0 && isatty(STDERR_FILENO))
                fprintf(stderr, "\n");
            return 0;
        }
    }
}

/* The text: --data, the resumed checkpoint's, or the tinyshakespeare text. */
static int read_data(trainer *t, const char *from_checkpoint, const char *digest)
{
    char fallback[4096];
    snprintf(fallback, sizeof fallback, "%s/tinyshakespeare.txt", example_data_dir());
    bool imported = digest && !strcmp(digest, IMPORTED_DIGEST); /* weights and a vocabulary, no text */
    if (imported && !t->c.data) {
        fprintf(stderr, "gpt: %s holds imported weights and no text: name the text to train on with --data=FILE\n",
                t->ckpt);
        return -1;
    }
    const char *path = t->c.data ? t->c.data : from_checkpoint && *from_checkpoint ? from_checkpoint : fallback;
    if (data_read(path, &t->d) != 0)
        return -1;
    if (digest && *digest && !imported && strcmp(digest, t->d.digest)) { /* (an imported one's: its vocabulary) */
        fprintf(stderr, "gpt: %s is not the text %s was trained on%s\n", t->d.path, t->ckpt,
                t->c.data ? "" : ": it has changed since");
        return -1;
    }
    if (t->d.n_train <= t->c.block_size + 1 || t->d.n - t->d.n_train <= t->c.block_size + 1) {
        fprintf(stderr, "gpt: %s (%ld characters) is too short for blocks of %ld\n", t->d.path, t->d.n,
                t->c.block_size);
        return -1;
    }
    return 0;
}

/* --init_from=resume: the checkpoint's model settings, text and run; its weights and
 * AdamW's state once the model and optimizers are made (nanoGPT's order). */
static cg_safetensors *open_resume(trainer *t)
{
    char_vocab chars;
    int V = 0;
    char digest[17] = "";
    cg_safetensors *f = checkpoint_open(t->ckpt, &t->c, chars, &V, t->run, t->data_buf, sizeof t->data_buf, digest);
    if (!f)
        return NULL;
    if (read_data(t, t->data_buf, digest) != 0 || t->d.V != V || memcmp(t->d.chars, chars, sizeof chars[0] * (size_t)V) != 0) {
        if (t->d.V && t->d.V != V)
            fprintf(stderr, "gpt: %s was trained on another vocabulary\n", t->ckpt);
        cg_safetensors_close(f);
        return NULL;
    }
    return f;
}

static int setup(trainer *t)
{
    train_cfg *c = &t->c;
    if (ckpt_make_dir(c->out_dir, "gpt") != 0)
        return -1;
    snprintf(t->ckpt, sizeof t->ckpt, "%s/ckpt.safetensors", c->out_dir);
    snprintf(t->log, sizeof t->log, "%s/log.csv", c->out_dir);
    bool resume = !strcmp(c->init_from, "resume");
    cg_safetensors *f = NULL;
    if (!all_ranks_ok(c->gradient_accumulation_steps % t->ranks == 0)) { /* as nanoGPT asserts */
        if (t->rank == 0)
            fprintf(stderr, "gpt: gradient_accumulation_steps must be a multiple of the %d ranks (rank 0 has %ld)\n",
                    t->ranks, c->gradient_accumulation_steps);
        return -1;
    }
    bool ok;
    if (resume) {
        ok = (f = open_resume(t)) != NULL;
    } else {
        ckpt_new_run_id(t->run);
        char svg[4200];
        snprintf(svg, sizeof svg, "%s/loss.svg", c->out_dir);
        ckpt_companion others[] = {{t->log, "loss log", NULL}, {c->plot ? svg : NULL, "loss curves", NULL}};
        ok = read_data(t, NULL, NULL) == 0 && (t->rank != 0 || ckpt_claim(t->ckpt, others, 2, t->run, "gpt", c->out_dir) == 0);
    }
    char all[1024] = "";
    for (int k = 0; k < S_COUNT; k++) { /* what every rank must agree on before anything is made */
        char v[64];
        setting_to_text(c, k, v, sizeof v);
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s=%s;", setting_name(k), v);
    }
    snprintf(all + strlen(all), sizeof all - strlen(all), "data=%s;out=%s;init=%s", t->d.digest, c->out_dir,
             c->init_from);
    if (!all_ranks_ok(ok) || !all_ranks_same(all, "gpt")) {
        cg_safetensors_close(f);
        return -1;
    }
    printf(resume ? "Resuming training from %s\n" : "Initializing a new model from scratch\n", c->out_dir);
    if (t->ranks > 1)
        printf("data-parallel over %d ranks: each takes %ld of the %ld micro-steps\n", t->ranks,
               c->gradient_accumulation_steps / t->ranks, c->gradient_accumulation_steps);
    printf("tokens per iteration will be: %ld\n", c->gradient_accumulation_steps * c->batch_size * c->block_size);
    printf("found vocab_size = %d (in %s)\n", t->d.V, t->d.path);
    cg_manual_seed((uint64_t)c->seed); /* torch.manual_seed(1337): before the model is made */
    t->s.best_val_loss = 1e9;
    int rc = model_init(&t->m, c, t->d.V) == 0 && make_optimizers(&t->m, c, &t->s, true) == 0 ? 0 : -1;
    if (t->ranks > 1 && all_ranks_ok(rc == 0)) { /* every rank from rank 0's weights, as DDP does */
        int np;
        cg_tensor **ps = cg_parameters(t->m.root, &np);
        rc = cg_dist_broadcast_params(ps, np) == 0 ? 0 : -1;
    }
    if (rc == 0)
        printf("number of parameters: %.2fM\n",
               (double)(cg_num_params(t->m.root) - cg_numel(cg_param(t->m.wpe, "weight"))) / 1e6);
    if (rc == 0 && f)
        rc = checkpoint_load(f, t->ckpt, &t->m, &t->s);
    cg_safetensors_close(f);
    t->x = malloc(sizeof(float) * (size_t)(c->batch_size * c->block_size));
    t->y = malloc(sizeof(float) * (size_t)(c->batch_size * c->block_size));
    t->ex = malloc(sizeof(float) * (size_t)(c->batch_size * c->block_size));
    t->ey = malloc(sizeof(float) * (size_t)(c->batch_size * c->block_size));
    struct stat st;
    bool fresh_log = stat(t->log, &st) != 0 || st.st_size == 0;
    t->csv = rc == 0 && t->rank == 0 ? fopen(t->log, "a") : NULL; /* rank 0 alone writes */
    if (rc == 0 && (!t->x || !t->y || !t->ex || !t->ey || (t->rank == 0 && !t->csv) ||
                    (t->csv && fresh_log && fprintf(t->csv, "step,train_loss,val_loss,lr\n") < 0))) {
        fprintf(stderr, "gpt: cannot write %s (or out of memory)\n", t->log);
        rc = -1;
    }
    rc = all_ranks_ok(rc == 0) ? 0 : -1;
    if (rc == 0)
        printf("gpt: writes the checkpoint %s (at the best val loss) and the loss log %s\n", t->ckpt, t->log);
    return rc;
}

int train_main(int argc, char **argv)
{
    static trainer t;
    int rc = parse_train(argc, argv, &t.c);
    t.rank = cg_dist_rank(), t.ranks = cg_dist_size();
    if (!all_ranks_ok(rc == 0)) /* a flag one rank refused stops them all (it said why) */
        return rc == 1 ? 0 : 2;
    if (t.rank != 0 && !freopen("/dev/null", "w", stdout)) /* rank 0 alone prints nanoGPT's lines */
        return 1;
    rc = setup(&t) == 0 && run(&t) == 0 ? 0 : 1;
    if (t.csv && fclose(t.csv) != 0) {
        fprintf(stderr, "gpt: cannot write %s\n", t.log);
        rc = 1;
    }
    if (rc == 0 && t.c.plot && t.rank == 0) {
        char svg[4200];
        snprintf(svg, sizeof svg, "%s/loss.svg", t.c.out_dir);
        if (write_loss_plot(t.log, svg, "val loss") == 0)
            printf("loss curves %s\n", svg);
        else
            rc = 1;
    }
    free(t.x), free(t.y), free(t.ex), free(t.ey);
    cg_optim_free(t.s.opt);
    model_free(&t.m);
    data_free(&t.d);
    cg_frame_release_memory();
    return rc;
}
