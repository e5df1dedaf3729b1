/* charrnn train — B parallel streams of the text in chunks of T characters; each
 * stream's hidden state is carried from one chunk to the next with detach
 * (truncated BPTT); Adam with gradient-norm clipping. Every write is checked,
 * and a loss that turns NaN or Inf stops training with the last good
 * checkpoint kept. */
#include "charrnn.h"
#include "../common/ckpt.h"
#include "../common/ranks.h"
#include <math.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    train_cfg cfg;
    corpus text;
    long train_n, val_n;  /* the first 90% trains, the rest validates */
    model m;
    train_state s;
    double last_val;
    float *x, *y;         /* one batch: one-hot inputs, target ids */
    FILE *csv;
    char csv_path[1024];
    char text_path[4096];  /* the checkpoint's text, when --resume gives no FILE */
} trainer;

/* Whether every rank has the same settings, text and files, before anything is allocated. */
static bool ranks_agree(const trainer *t)
{
    if (t->s.ranks <= 1)
        return true;
    char all[8192];
    size_t n = 0;
    for (int k = 0; k < CFG_COUNT; k++) {
        char v[64];
        cfg_text(&t->cfg, k, v, sizeof v);
        n += (size_t)snprintf(all + n, sizeof all - n, "%s=%s;", cfg_name(k), v);
    }
    snprintf(all + n, sizeof all - n, "steps=%ld;text=%s;out=%s;resume=%s", t->cfg.steps, t->text.digest, t->cfg.out,
             t->cfg.resume ? t->cfg.resume : "");
    return all_ranks_same(all, "charrnn");
}

static bool same_file(const char *a, const char *b)
{
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* The files this run writes: its own (new files, or the checkpoint it resumes and the log
 * and curves beside it), never another run's; a graph page only where no file is. Rank 0
 * looks; every rank agrees. */
static bool files_are_ours(trainer *t)
{
    bool ok = true;
    char svg[1040];
    snprintf(t->csv_path, sizeof t->csv_path, "%s.csv", t->cfg.out);
    snprintf(svg, sizeof svg, "%s.svg", t->cfg.out);
    ckpt_companion others[] = {{t->csv_path, "loss log", NULL}, {t->cfg.plot ? svg : NULL, "loss curves", NULL}};
    ckpt_companion page = {t->cfg.html, "graph page", "--html"};
    bool resumed_in_place = t->cfg.resume && same_file(t->cfg.out, t->cfg.resume);
    if (t->s.rank == 0 && !resumed_in_place)
        ok = ckpt_claim(t->cfg.out, others, 2, t->cfg.run, "charrnn", NULL) == 0;
    if (t->s.rank == 0 && ok) /* (a page carries no run's id: any file there is kept, resumed or not) */
        ok = ckpt_not_there(&page, "charrnn", "--html") == 0;
    return all_ranks_ok(ok);
}

/* All ranks' streams: one process with batch (ranks x batch) reads the same. */
static long all_streams(const trainer *t) { return t->cfg.batch * t->s.ranks; }
static long stream_len(const trainer *t) { return t->train_n / all_streams(t); }

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- starting: the text, the settings (a checkpoint's, with --resume), the model ---------- */

/* --resume: the checkpoint's settings, with the flags given checked against them. */
static int take_settings(train_cfg *c, const ckpt_info *info, const char *path)
{
    for (int k = 0; k < CFG_COUNT; k++) {
        char mine[64], theirs[64];
        cfg_text(c, k, mine, sizeof mine);
        cfg_text(&info->cfg, k, theirs, sizeof theirs);
        if ((c->given & (1u << k)) && strcmp(mine, theirs)) {
            fprintf(stderr, "charrnn: %s %s contradicts %s's %s %s (leave the flag out to continue with it)\n",
                    cfg_flag(k), mine, path, cfg_name(k), theirs);
            return -1;
        }
        cfg_set_text(c, k, theirs);
    }
    return 0;
}

static bool same_vocab(const corpus *a, const corpus *b)
{
    return a->V == b->V && !memcmp(a->vocab, b->vocab, (size_t)a->V);
}

static int read_corpus(trainer *t)
{
    char default_file[512];
    snprintf(default_file, sizeof default_file, "%s/tinyshakespeare.txt", example_data_dir());
    if (read_text(t->cfg.file ? t->cfg.file : default_file, &t->text) != 0)
        return -1;
    t->train_n = t->text.n * 9 / 10;
    t->val_n = t->text.n - t->train_n;
    return 0;
}

static int check_sizes(trainer *t)
{
    const train_cfg *c = &t->cfg;
    if (stream_len(t) < c->seq_len + 2 || t->val_n / all_streams(t) < 2) {
        fprintf(stderr, "charrnn: the text (%ld characters) is too short for %ld streams of %ld-character chunks\n",
                t->text.n, all_streams(t), c->seq_len);
        return -1;
    }
    size_t n = (size_t)c->seq_len * (size_t)c->batch;
    t->x = malloc(sizeof(float) * n * (size_t)t->text.V);
    t->y = malloc(sizeof(float) * n);
    if (!t->x || !t->y) {
        fprintf(stderr, "charrnn: out of memory for a batch of %ld x %ld x %d\n", c->seq_len, c->batch, t->text.V);
        return -1;
    }
    return 0;
}

static int make_model(trainer *t)
{
    const train_cfg *c = &t->cfg;
    cg_manual_seed((uint64_t)c->seed);
    if (model_init(&t->m, c->cell, t->text.V, c->hidden, c->layers) != 0)
        return -1;
    t->s.opt = cg_adam_new(t->m.params, t->m.nparams, .lr = c->lr);
    t->s.carry_h = cg_zeros(CG_SHAPE(c->layers, c->batch, c->hidden));
    t->s.carry_c = cg_zeros(CG_SHAPE(c->layers, c->batch, c->hidden));
    t->last_val = NAN;
    /* every rank starts from rank 0's weights, as DistributedDataParallel does */
    if (!t->s.opt || !t->s.carry_h || !t->s.carry_c || cg_dist_broadcast_params(t->m.params, t->m.nparams) != 0) {
        fprintf(stderr, "charrnn: %s\n", cg_last_error());
        return -1;
    }
    return 0;
}

/* A fresh run: its text, its own new files, its model. */
static int setup_fresh(trainer *t)
{
    ckpt_new_run_id(t->cfg.run);
    bool ok = read_corpus(t) == 0;
    if (!all_ranks_ok(ok) || !ranks_agree(t) || !files_are_ours(t))
        return -1;
    return check_sizes(t) == 0 && make_model(t) == 0 ? 0 : -1;
}

/* The text a resumed run learns from: the checkpoint's own, found again by its path (or
 * FILE), and the same bytes it had. */
static bool read_resumed_text(trainer *t, const ckpt_info *info)
{
    if (!t->cfg.file && info->text[0])
        t->cfg.file = strcpy(t->text_path, info->text);
    if (read_corpus(t) != 0)
        return false;
    if (info->text_digest[0] && strcmp(info->text_digest, t->text.digest)) {
        fprintf(stderr, "charrnn: %s is not the text %s was trained on (%s)%s\n", t->text.path, t->cfg.resume,
                info->text, t->cfg.file == t->text_path ? ": it has changed since" : "");
        return false;
    }
    return true;
}

static int setup(trainer *t)
{
    if (!t->cfg.resume)
        return setup_fresh(t);
    if (!t->cfg.out_given) /* a resumed run goes on in its own file */
        t->cfg.out = t->cfg.resume;
    ckpt_info info;
    cg_safetensors *f = checkpoint_open(t->cfg.resume, &info);
    bool ok = f && read_resumed_text(t, &info);
    if (ok && info.has_progress && info.step >= t->cfg.steps && t->s.rank == 0)
        printf("charrnn: %s is at step %ld already; --steps %ld asks for no more, so nothing is trained and "
               "nothing is written\n", t->cfg.resume, info.step, t->cfg.steps);
    if (!all_ranks_ok(ok) || (info.has_progress && info.step >= t->cfg.steps)) {
        cg_safetensors_close(f);
        return ok && info.has_progress ? 1 : -1;
    }
    snprintf(t->cfg.run, sizeof t->cfg.run, "%s", info.run);
    if (!t->cfg.run[0]) /* a checkpoint of an older charrnn: the run gets its id now */
        ckpt_new_run_id(t->cfg.run);
    int rc = -1;
    if (!info.has_progress)
        fprintf(stderr, "charrnn: %s holds no training progress to resume\n", t->cfg.resume);
    else if (info.cfg.batch % t->s.ranks != 0)
        fprintf(stderr, "charrnn: %s has %ld streams, which %d ranks cannot share evenly\n", t->cfg.resume,
                info.cfg.batch, t->s.ranks);
    else if (!same_vocab(&info.vocab, &t->text))
        fprintf(stderr, "charrnn: %s was trained on another vocabulary\n", t->cfg.resume);
    else if ((info.cfg.batch /= t->s.ranks, all_ranks_ok(take_settings(&t->cfg, &info, t->cfg.resume) == 0)) &&
             ranks_agree(t) && files_are_ours(t) && check_sizes(t) == 0 && make_model(t) == 0 &&
             checkpoint_load(f, t->cfg.resume, &t->m, &t->s) == 0) {
        cg_rng_set_state(info.rng, sizeof info.rng);
        t->s.step = info.step;
        t->s.pos = info.pos;
        rc = 0;
    }
    cg_safetensors_close(f);
    return rc;
}

/* ---- evaluation and the loss log ------------------------------------------------------------ */

/* Mean cross-entropy over (up to 64 chunks of) the validation text, in all
 * ranks' streams: once, on rank 0, the same as one process computes it. */
static double validate(trainer *t)
{
    long T = t->cfg.seq_len, B = all_streams(t), H = t->cfg.hidden, L = t->cfg.layers, V = t->text.V;
    long len = t->val_n / B;
    long chunk = T < len - 1 ? T : len - 1, chunks = (len - 1) / chunk;
    chunks = chunks > 64 ? 64 : chunks;
    if (t->s.rank != 0)
        return NAN;
    float *x = malloc(sizeof(float) * (size_t)(chunk * B * V)), *y = malloc(sizeof(float) * (size_t)(chunk * B));
    cg_tensor *h = cg_zeros(CG_SHAPE(L, B, H)), *c = cg_zeros(CG_SHAPE(L, B, H));
    double total = x && y ? 0 : NAN;
    cg_no_grad_begin();
    for (long k = 0; x && y && k < chunks; k++) {
        cg_frame_begin();
        make_batch(&t->text, t->train_n, len, k * chunk, chunk, B, x, y);
        cg_tensor *hh = h, *cc = c;
        cg_tensor *logits = model_forward(&t->m, cg_tensor_from(x, CG_SHAPE(chunk, B, V)), &hh, &cc);
        total += cg_item(cg_cross_entropy(logits, cg_tensor_from(y, CG_SHAPE(chunk * B))));
        cg_copy_(h, hh);
        if (t->m.lstm)
            cg_copy_(c, cc);
        cg_frame_end();
    }
    cg_no_grad_end();
    cg_tensor_free(h);
    cg_tensor_free(c);
    free(x);
    free(y);
    return total / (double)chunks;
}

static int open_log(trainer *t)
{
    if (t->s.rank != 0) /* rank 0 alone writes the log */
        return 0;
    struct stat st;
    bool fresh = stat(t->csv_path, &st) != 0 || st.st_size == 0; /* a new log gets its header */
    t->csv = fopen(t->csv_path, "a");
    if (!t->csv || (fresh && fprintf(t->csv, "step,train_loss,val_loss,chars_per_sec\n") < 0)) {
        fprintf(stderr, "charrnn: cannot write %s\n", t->csv_path);
        return -1;
    }
    printf("charrnn: writes the checkpoint %s and the loss log %s\n", t->cfg.out, t->csv_path);
    return 0;
}

static int log_line(trainer *t, double loss, bool eval, double cps)
{
    if (t->s.rank != 0)
        return 0;
    int w = eval ? fprintf(t->csv, "%ld,%.6f,%.6f,%.0f\n", t->s.step, loss, t->last_val, cps)
                 : fprintf(t->csv, "%ld,%.6f,,%.0f\n", t->s.step, loss, cps);
    if (w < 0 || (eval && fflush(t->csv) != 0) || ferror(t->csv)) {
        fprintf(stderr, "charrnn: cannot write the loss log %s (disk full, or a file-size limit?)\n", t->csv_path);
        return -1;
    }
    return 0;
}

static void progress(const trainer *t, double loss, double cps, double eta, bool tty)
{
    const train_cfg *c = &t->cfg;
    if (!tty) {
        printf("step %ld/%ld loss %.4f val_loss %.4f %.0f char/s %.0fs left\n", t->s.step, c->steps, loss, t->last_val,
               cps, eta);
        return;
    }
    int width = 30, done = c->steps ? (int)(width * t->s.step / c->steps) : width;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < done ? '#' : '.';
    bar[width] = '\0';
    printf("\r[%s] step %ld/%ld  loss %.4f  val %.4f  %.0f char/s  %.0fs left \033[K", bar, t->s.step, c->steps,
           loss, t->last_val, cps, eta);
    fflush(stdout);
}

/* ---- one step ---------------------------------------------------------------------------------- */

/* The last step's graph, with its gradients, as the page (collapsed by time step when long). */
static int write_page(trainer *t, cg_tensor *loss)
{
    char title[160];
    snprintf(title, sizeof title, "charrnn: the step %ld graph, unrolled over %ld characters", t->s.step + 1,
             t->cfg.seq_len);
    if (cg_graph_html(loss, t->cfg.html, .title = title) != 0) {
        fprintf(stderr, "charrnn: %s\n", cg_last_error());
        return -1;
    }
    printf("graph page %s\n", t->cfg.html);
    return 0;
}

/* Forward, backward, clip and update on the next chunk; the loss, or NAN with a message. */
static double train_step(trainer *t)
{
    long T = t->cfg.seq_len, B = t->cfg.batch, V = t->text.V, L = stream_len(t);
    if (t->s.pos + T + 1 > L) { /* every stream wraps to its start: the carried state starts over */
        t->s.pos = 0;
        cg_fill_(t->s.carry_h, 0);
        cg_fill_(t->s.carry_c, 0);
    }
    cg_frame_begin();
    make_batch(&t->text, t->s.rank * B * L, L, t->s.pos, T, B, t->x, t->y); /* this rank's streams */
    cg_tensor *h = cg_detach(t->s.carry_h), *cc = cg_detach(t->s.carry_c);
    cg_tensor *logits = model_forward(&t->m, cg_tensor_from(t->x, CG_SHAPE(T, B, V)), &h, &cc);
    cg_tensor *loss = cg_cross_entropy(logits, cg_tensor_from(t->y, CG_SHAPE(T * B)));
    double l = NAN;
    cg_optim_zero_grad(t->s.opt);
    if (!loss || cg_backward(loss) != 0 || cg_dist_allreduce_grads(t->m.params, t->m.nparams) != 0) {
        fprintf(stderr, "charrnn: step %ld: %s\n", t->s.step + 1, cg_last_error());
    } else if (!isfinite(l = cg_dist_allreduce_sum(cg_item(loss)) / t->s.ranks)) { /* every rank's mean: the whole batch's */
        fprintf(stderr, "charrnn: the loss became %g at step %ld; stopping with the last good checkpoint kept. %s\n", l,
                t->s.step + 1,
                t->cfg.detect_anomaly ? "Anomaly mode found no op making a NaN: the values grew past float32's range "
                                        "(try a smaller --lr or --clip)"
                                      : "Try a smaller --lr or --clip, or --detect-anomaly to find the op that made it");
        l = NAN;
    } else {
        if (t->cfg.html && t->s.rank == 0 && t->s.step + 1 == t->cfg.steps && write_page(t, loss) != 0)
            l = NAN;
        if (t->cfg.clip > 0)
            cg_clip_grad_norm(t->m.params, t->m.nparams, (float)t->cfg.clip);
        cg_optim_step(t->s.opt);
        cg_copy_(t->s.carry_h, h);
        if (t->m.lstm)
            cg_copy_(t->s.carry_c, cc);
        t->s.pos += T;
        t->s.step++;
    }
    cg_frame_end();
    return l;
}

/* After a step: validation, the log line, a checkpoint, progress. 0, or -1 on a failed write. */
static int after_step(trainer *t, double loss, double loss_avg, double started, long start_step, bool tty)
{
    const train_cfg *c = &t->cfg;
    double elapsed = now() - started, done = (double)(t->s.step - start_step);
    double cps = done * (double)(c->seq_len * all_streams(t)) / elapsed, eta = elapsed / done * (double)(c->steps - t->s.step);
    bool eval = t->s.step % c->eval_every == 0 || t->s.step == c->steps;
    if (eval)
        t->last_val = validate(t);
    if (log_line(t, loss, eval, cps) != 0 || (eval && checkpoint_save(c->out, c, &t->text, &t->m, &t->s) != 0))
        return -1;
    if (t->s.rank == 0 && (tty || eval || t->s.step % 10 == 0))
        progress(t, loss_avg, cps, eta, tty);
    if (t->s.rank == 0 && tty && eval)
        printf("\n");
    return 0;
}

static int run(trainer *t)
{
    const train_cfg *c = &t->cfg;
    char model_str[256];
    cg_module_str(t->m.rnn, model_str, sizeof model_str);
    if (t->s.rank == 0)
        printf("charrnn: %ld characters, vocabulary %d, %s + Linear(%ld, %d), %lld parameters\n", t->text.n, t->text.V,
           model_str, c->hidden, t->text.V, (long long)(cg_num_params(t->m.rnn) + cg_num_params(t->m.fc)));
    bool tty = isatty(STDOUT_FILENO) && t->s.ranks == 1; /* mpirun hands ranks a terminal of its own: plain lines */
    double started = now(), loss_avg = NAN;
    long start_step = t->s.step;
    while (t->s.step < c->steps) {
        double l = train_step(t);
        if (isnan(l))
            return -1;
        loss_avg = isnan(loss_avg) ? l : 0.95 * loss_avg + 0.05 * l;
        if (after_step(t, l, loss_avg, started, start_step, tty) != 0)
            return -1;
    }
    if (start_step == c->steps) { /* nothing to train: evaluate what is there */
        t->last_val = validate(t);
        if (checkpoint_save(c->out, c, &t->text, &t->m, &t->s) != 0)
            return -1;
    }
    return 0;
}

static void finish(trainer *t)
{
    if (t->csv)
        fclose(t->csv);
    free(t->x);
    free(t->y);
    free(t->text.ids);
    cg_tensor_free(t->s.carry_h);
    cg_tensor_free(t->s.carry_c);
    cg_optim_free(t->s.opt);
    if (t->m.rnn || t->m.fc)
        model_free(&t->m);
    cg_frame_release_memory();
}

int train_main(int argc, char **argv)
{
    static trainer t; /* zeroed; one training run per process */
    int parsed = parse_train(argc, argv, &t.cfg);
    t.s.rank = cg_dist_rank();
    t.s.ranks = cg_dist_size();
    if (!all_ranks_ok(parsed == 0)) /* a flag one rank refused stops them all (it said why) */
        return parsed == 1 ? 0 : 2;
    cg_set_detect_anomaly(t.cfg.detect_anomaly);
    int set = setup(&t);
    if (set == 1) { /* resumed at or past --steps: nothing to do */
        finish(&t);
        return 0;
    }
    int rc = set == 0 && open_log(&t) == 0 && run(&t) == 0 ? 0 : 1;
    if (rc == 0 && t.csv && fclose(t.csv) != 0) {
        fprintf(stderr, "charrnn: cannot write %s\n", t.csv_path);
        rc = 1;
    }
    t.csv = NULL;
    if (rc == 0 && t.s.rank == 0) {
        char svg_path[1024];
        snprintf(svg_path, sizeof svg_path, "%s.svg", t.cfg.out);
        printf("val_loss %.4f\ncheckpoint %s (loss log %s)\n", t.last_val, t.cfg.out, t.csv_path);
        if (t.cfg.plot && write_loss_plot(t.csv_path, svg_path, "validation loss") != 0) {
            fprintf(stderr, "charrnn: could not write %s\n", svg_path);
            rc = 1;
        } else if (t.cfg.plot) {
            printf("loss curves %s\n", svg_path);
        }
    }
    finish(&t);
    return rc;
}
