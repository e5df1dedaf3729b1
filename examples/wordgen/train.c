/* wordgen — training: batches of words drawn as torch.randint draws them,
 * AdamW (makemore's betas 0.9, 0.99), the train and test loss every
 * --eval-every steps (log line, CSV, checkpoint), a progress bar between. */
#include "wordgen.h"
#include "../common/ckpt.h"
#include <sys/stat.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const wg_cfg *c;
    words *w;
    model m;
    cg_optim *opt;
    long step, steps_timed;
    double seconds;        /* in training steps, evaluations left out */
    double train_loss, test_loss;
    FILE *csv;
    char csv_path[1024];
} trainer;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* x and y of the given words, as (B, T) tensors (made in the open frame). */
static int batch_of(const words *w, const long *rows, long B, cg_tensor **x, cg_tensor **y)
{
    *x = cg_empty(CG_SHAPE(B, w->T));
    *y = cg_empty(CG_SHAPE(B, w->T));
    if (!*x || !*y)
        return -1;
    words_encode(w, rows, B, cg_data(*x), cg_data(*y));
    return 0;
}

/* One step; the loss, or NAN with a message. */
static double train_step(trainer *t, long *rows)
{
    const wg_cfg *c = t->c;
    cg_frame_begin();
    cg_tensor *pick = cg_randint(0, t->w->n_train, CG_SHAPE(c->batch)), *x, *y;
    for (long b = 0; pick && b < c->batch; b++)
        rows[b] = t->w->train[(long)cg_data(pick)[b]];
    cg_tensor *loss = pick && batch_of(t->w, rows, c->batch, &x, &y) == 0 ? model_loss(&t->m, x, y, CG_MEAN) : NULL;
    double value = NAN;
    if (loss)
        cg_optim_zero_grad_set_to_none(t->opt); /* makemore: model.zero_grad(set_to_none=True) */
    if (loss && cg_backward(loss) == 0 && cg_optim_step(t->opt) == 0)
        value = cg_item(loss);
    else
        fprintf(stderr, "wordgen: step %ld: %s\n", t->step + 1, cg_last_error());
    cg_frame_end();
    return value;
}

/* The mean loss per predicted token over the first count words of set, a training
 * batch at a time (a frame holds a whole forward's tensors: a bigger batch here
 * would set the program's peak memory). */
static double evaluate(trainer *t, const long *set, long count)
{
    cg_no_grad_begin();
    cg_module_train(t->m.root, false);
    double total = 0;
    long tokens = 0;
    for (long lo = 0; lo < count && isfinite(total); lo += t->c->batch) {
        long n = count - lo < t->c->batch ? count - lo : t->c->batch;
        cg_frame_begin();
        cg_tensor *x, *y, *loss = NULL;
        if (batch_of(t->w, set + lo, n, &x, &y) == 0)
            loss = model_loss(&t->m, x, y, CG_SUM);
        total += loss ? cg_item(loss) : NAN;
        for (int64_t i = 0; loss && i < cg_numel(y); i++)
            tokens += cg_data(y)[i] != -1.0f;
        cg_frame_end();
    }
    cg_module_train(t->m.root, true);
    cg_no_grad_end();
    return tokens ? total / (double)tokens : NAN;
}

static void progress(const trainer *t, double loss)
{
    char bar[31];
    long done = 30 * t->step / (t->c->steps ? t->c->steps : 1);
    for (int i = 0; i < 30; i++)
        bar[i] = i < done ? '#' : '.';
    bar[30] = '\0';
    double ms = t->steps_timed ? 1000 * t->seconds / (double)t->steps_timed : 0;
    printf("\r[%s] step %ld/%ld  loss %.4f  %.2f ms/step  %.0fs left \033[K", bar, t->step, t->c->steps, loss, ms,
           ms * (double)(t->c->steps - t->step) / 1000);
    fflush(stdout);
}

/* The train and test loss: a log line, a CSV row and a checkpoint. */
static int report(trainer *t, bool tty)
{
    long n_eval = t->w->n_train < 1000 ? t->w->n_train : 1000;
    t->train_loss = evaluate(t, t->w->train, n_eval);
    t->test_loss = evaluate(t, t->w->test, t->w->n_test);
    double ms = t->steps_timed ? 1000 * t->seconds / (double)t->steps_timed : 0;
    printf("%sstep %ld train %.4f test %.4f (%.2f ms/step)\n", tty ? "\r\033[K" : "", t->step, t->train_loss,
           t->test_loss, ms);
    fflush(stdout);
    if (fprintf(t->csv, "%ld,%.6f,%.6f,%.3f\n", t->step, t->train_loss, t->test_loss, ms) < 0 || fflush(t->csv) != 0) {
        fprintf(stderr, "wordgen: cannot write the loss log %s\n", t->csv_path);
        return -1;
    }
    return checkpoint_save(t->c->out, t->c, t->w, &t->m, t->opt, t->step);
}

static int run(trainer *t)
{
    bool tty = isatty(STDOUT_FILENO);
    long *rows = malloc(sizeof(long) * (size_t)t->c->batch);
    int rc = rows ? 0 : -1;
    if (rc == 0 && t->step == t->c->steps) /* --steps 0: the untrained model, evaluated and kept */
        rc = report(t, tty);
    while (rc == 0 && t->step < t->c->steps) {
        double t0 = now(), loss = train_step(t, rows);
        t->seconds += now() - t0;
        t->steps_timed++;
        t->step++;
        if (!isfinite(loss)) {
            fprintf(stderr, "wordgen: the loss is %g at step %ld; stopping (the last checkpoint is kept)\n", loss,
                    t->step);
            rc = -1;
        } else if (t->step % t->c->eval_every == 0 || t->step == t->c->steps) {
            rc = report(t, tty);
        } else if (tty && t->step % 10 == 0) {
            progress(t, loss);
        }
    }
    free(rows);
    return rc;
}

static void print_result(const trainer *t)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("result model=%s steps=%ld seed=%ld params=%lld train_loss=%.4f test_loss=%.4f ms_per_step=%.3f "
           "peak_rss_mb=%.1f\n", t->c->model, t->step, t->c->seed, (long long)cg_num_params(t->m.root), t->train_loss,
           t->test_loss, t->steps_timed ? 1000 * t->seconds / (double)t->steps_timed : 0.0, (double)ru.ru_maxrss / 1024);
}

/* The optimizer and the log; on --resume the checkpoint's weights, state, step and generator. */
static int setup(trainer *t, cg_safetensors *resume)
{
    int n = 0;
    cg_tensor **ps = cg_parameters(t->m.root, &n);
    t->opt = cg_adamw_new(ps, n, .lr = t->c->lr, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8,
                          .weight_decay = t->c->weight_decay);
    if (!t->opt) {
        fprintf(stderr, "wordgen: %s\n", cg_last_error());
        return -1;
    }
    if (resume && checkpoint_load(resume, t->c->resume, &t->m, t->opt, &t->step) != 0)
        return -1;
    if (resume && t->step >= t->c->steps) { /* resumed at or past --steps: no file is touched */
        printf("wordgen: %s is at step %ld already; --steps %ld asks for no more, so nothing is trained and nothing "
               "is written\n", t->c->resume, t->step, t->c->steps);
        return 0;
    }
    snprintf(t->csv_path, sizeof t->csv_path, "%s.csv", t->c->out);
    struct stat st;
    bool fresh = stat(t->csv_path, &st) != 0 || st.st_size == 0; /* a new log gets its header */
    t->csv = fopen(t->csv_path, "a");
    if (!t->csv || (fresh && fprintf(t->csv, "step,train_loss,test_loss,ms_per_step\n") < 0)) {
        fprintf(stderr, "wordgen: cannot write %s\n", t->csv_path);
        return -1;
    }
    printf("wordgen: writes the checkpoint %s and the loss log %s\n", t->c->out, t->csv_path);
    return 0;
}

static bool same_file(const char *a, const char *b)
{
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* The files this run will write are its own: new, or the checkpoint it resumes (and its log). */
static bool files_are_ours(wg_cfg *c)
{
    if (c->resume && !c->out_given) /* a resumed run goes on in its own file */
        c->out = c->resume;
    char log[1040], svg[1040];
    snprintf(log, sizeof log, "%s.csv", c->out);
    snprintf(svg, sizeof svg, "%s.svg", c->out);
    ckpt_companion others[] = {{log, "loss log", NULL}, {c->plot ? svg : NULL, "loss curves", NULL}};
    return c->sample_only || (c->resume && same_file(c->out, c->resume)) ||
           ckpt_claim(c->out, others, 2, c->run, "wordgen", NULL) == 0;
}

int train(wg_cfg *c, words *w)
{
    trainer t = {.c = c, .w = w, .train_loss = NAN, .test_loss = NAN};
    cg_safetensors *resume = c->resume ? checkpoint_open(c->resume, c, w) : NULL;
    if (c->resume && !resume)
        return 1;
    if (!c->run[0]) /* a new run, or one an older wordgen began: its id now */
        ckpt_new_run_id(c->run);
    if (!files_are_ours(c)) {
        cg_safetensors_close(resume);
        return 1;
    }
    cg_manual_seed((uint64_t)c->seed);
    int rc = words_split(w) == 0 && model_init(&t.m, c, w->V, w->T) == 0 ? 0 : -1;
    if (rc == 0 && c->sample_only) {
        rc = checkpoint_load(resume, c->resume, &t.m, NULL, NULL);
        rc = rc == 0 ? print_samples(&t.m, w, c->samples) : rc;
    } else if (rc == 0) {
        char desc[16384];
        cg_module_str(t.m.root, desc, sizeof desc);
        printf("%s\n%lld parameters; %ld training words, %ld test words, %d tokens, %d positions\n", desc,
               (long long)cg_num_params(t.m.root), w->n_train, w->n_test, w->V, w->T);
        rc = setup(&t, resume);
        rc = rc == 0 && t.csv ? run(&t) : rc;
        rc = rc == 0 ? print_samples(&t.m, w, c->samples) : rc;
        if (rc == 0)
            print_result(&t);
        char svg[1040];
        snprintf(svg, sizeof svg, "%s.svg", c->out);
        if (t.csv && fclose(t.csv) != 0)
            rc = -1;
        if (rc == 0 && c->plot && t.csv_path[0] && write_loss_plot(t.csv_path, svg, "test loss") == 0)
            printf("loss curves: %s\n", svg);
    }
    cg_safetensors_close(resume);
    cg_optim_free(t.opt);
    model_free(&t.m);
    return rc == 0 ? 0 : 1;
}
