/* The example programs' checkpoint helpers (see ckpt.h). */
#include "ckpt.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void hex_of(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

bool bytes_of(const char *hex, uint8_t *b, size_t n)
{
    if (!hex || strlen(hex) != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (!strchr("0123456789abcdef", hex[2 * i]) || !strchr("0123456789abcdef", hex[2 * i + 1]) ||
            sscanf(hex + 2 * i, "%2x", &v) != 1)
            return false;
        b[i] = (uint8_t)v;
    }
    return true;
}

bool ckpt_has_shape(cg_safetensors *f, const char *name, int64_t d0, int64_t d1)
{
    int64_t shape[CG_MAX_DIMS];
    return cg_safetensors_shape(f, name, shape) == 2 && shape[0] == d0 && shape[1] == d1;
}

static bool same_shape(cg_safetensors *f, const char *name, cg_tensor *t)
{
    int64_t shape[CG_MAX_DIMS];
    int nd = cg_safetensors_shape(f, name, shape);
    bool same = nd == cg_ndim(t);
    for (int d = 0; same && d < nd; d++)
        same = shape[d] == cg_shape(t)[d];
    return same;
}

int ckpt_read_tensors(cg_safetensors *f, cg_tensor *const *ts, const char *const *names, int n, const char *path,
                      const char *prog)
{
    for (int i = 0; i < n; i++)
        if (!same_shape(f, names[i], ts[i])) {
            fprintf(stderr, "%s: %s: '%s' is missing or has another shape\n", prog, path, names[i]);
            return -1;
        }
    for (int i = 0; i < n; i++)
        if (cg_safetensors_read_into(f, names[i], ts[i]) != 0) {
            fprintf(stderr, "%s: %s\n", prog, cg_last_error());
            return -1;
        }
    for (int i = 0; i < n; i++) /* a NaN weight would train on as "loss nan", or sample garbage */
        for (int64_t k = 0; k < cg_numel(ts[i]); k++)
            if (!isfinite(cg_data(ts[i])[k])) {
                fprintf(stderr, "%s: %s: '%s' holds %g at element %lld; refusing a damaged model\n", prog, path,
                        names[i], (double)cg_data(ts[i])[k], (long long)k);
                return -1;
            }
    return 0;
}

/* ---- a run's files ------------------------------------------------------------------------ */

cg_safetensors *ckpt_open(const char *path, const char *prog)
{
    cg_safetensors *f = cg_safetensors_open(path);
    if (!f) {
        fprintf(stderr, "%s: %s\n", prog, cg_last_error());
        return NULL;
    }
    if (cg_safetensors_checksum(f) < 1) {
        fprintf(stderr, "%s: %s carries no cgrad checksum: not a %s checkpoint, or a damaged one\n", prog, path, prog);
        cg_safetensors_close(f);
        return NULL;
    }
    return f;
}

void ckpt_new_run_id(char id[17])
{
    uint8_t b[8] = {0};
    FILE *r = fopen("/dev/urandom", "rb");
    if (!r || fread(b, 1, sizeof b, r) != sizeof b) { /* no entropy device: the time and the process */
        uint64_t v = (uint64_t)time(NULL) * 6364136223846793005ull ^ (uint64_t)getpid() * 1442695040888963407ull;
        memcpy(b, &v, sizeof b);
    }
    if (r)
        fclose(r);
    hex_of(b, sizeof b, id);
}

void vocab_to_hex(const char *chars, int V, char *out)
{
    uint8_t bytes[4 * CHAR_VOCAB_MAX];
    size_t n = 0;
    for (int v = 0; v < V; v++)
        for (int k = 0; k < char_len(chars + 5 * v); k++)
            bytes[n++] = (uint8_t)chars[5 * v + k];
    hex_of(bytes, n, out);
}

int vocab_from_hex(const char *hex, char_vocab chars)
{
    size_t len = strlen(hex);
    char bytes[4 * CHAR_VOCAB_MAX + 1];
    if (len < 2 || len % 2 || len / 2 > 4 * CHAR_VOCAB_MAX || !bytes_of(hex, (uint8_t *)bytes, len / 2))
        return -1;
    bytes[len / 2] = '\0'; /* (a last character's bytes stop there) */
    int V = 0;
    for (size_t i = 0; i < len / 2; i += (size_t)char_len(bytes + i)) {
        if (V == CHAR_VOCAB_MAX)
            return -1;
        memset(chars[V], 0, sizeof chars[V]);
        memcpy(chars[V], bytes + i, (size_t)char_len(bytes + i));
        if (!vocab_sorted_after(chars, V)) /* sorted, each once */
            return -1;
        V++;
    }
    return V;
}

#define MAX_FILE (1L << 30)

char *file_bytes(const char *path, long *n, const char *prog)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
        return NULL;
    }
    long cap = 1 << 16, len = 0; /* (cap - 1 bytes of room: one stays for the NUL) */
    char *buf = malloc((size_t)cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, (size_t)(cap - 1 - len), f)) > 0) {
        len += (long)got;
        if (len < cap - 1)
            continue;
        char *bigger = cap <= MAX_FILE ? realloc(buf, (size_t)(cap *= 2)) : NULL;
        if (!bigger) {
            fprintf(stderr, "%s: %s: %s\n", prog, path, cap > MAX_FILE ? "larger than 1 GiB" : "out of memory");
            free(buf);
            fclose(f);
            return NULL;
        }
        buf = bigger;
    }
    bool failed = !buf || ferror(f);
    fclose(f);
    if (failed) {
        fprintf(stderr, "%s: cannot read %s%s\n", prog, path, buf ? "" : " (out of memory)");
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    *n = len;
    return buf;
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

int ckpt_replaceable(const char *path, const char *marker, const char *prog, const char *flag)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return exists(path) ? (fprintf(stderr, "%s: cannot read %s\n", prog, path), -1) : 0;
    char head[1025];
    size_t n = fread(head, 1, sizeof head - 1, f);
    fclose(f);
    head[n] = '\0';
    if (n == strlen(head) && strstr(head, marker)) /* (a NUL in it: not a text of ours) */
        return 0;
    fprintf(stderr, "%s: %s exists and is not one of %s's own files; %s will not overwrite it (move it, or choose "
                    "another %s)\n", prog, path, prog, prog, flag);
    return -1;
}

int ckpt_not_there(const ckpt_companion *file, const char *prog, const char *place)
{
    if (!file->path || !exists(file->path))
        return 0;
    fprintf(stderr, "%s: %s exists (another run's %s, or another file); %s will not overwrite it (move it, or choose "
                    "another %s)\n", prog, file->path, file->what, prog, file->flag ? file->flag : place);
    return -1;
}

int ckpt_claim(const char *out, const ckpt_companion *others, int nothers, const char *run_id, const char *prog,
               const char *out_dir)
{
    /* the flags that continue the run or choose another place: gpt's (nanoGPT's) name a
     * directory, the others' a file */
    char resume[4300];
    if (out_dir)
        snprintf(resume, sizeof resume, "%s train --init_from=resume --out_dir=%s", prog, out_dir);
    else
        snprintf(resume, sizeof resume, "--resume %s", out);
    const char *place = out_dir ? "--out_dir" : "--out";
    if (!exists(out)) { /* a new run: nothing it writes may be there already */
        for (int i = 0; i < nothers; i++)
            if (ckpt_not_there(&others[i], prog, place) < 0)
                return -1;
        return 0;
    }
    cg_safetensors *f = cg_safetensors_open(out);
    const char *id = f ? cg_safetensors_metadata(f, "run") : NULL;
    bool ours = id && !strcmp(id, run_id);
    if (!ours && f && id)
        fprintf(stderr, "%s: %s holds another run's checkpoint (run %s); %s will not overwrite it: continue that "
                        "run with %s, or choose another %s\n", prog, out, id, prog, resume, place);
    else if (!ours)
        fprintf(stderr, "%s: %s exists and is not a %s checkpoint; %s will not overwrite it (move it, or choose "
                        "another %s)\n", prog, out, prog, prog, place);
    cg_safetensors_close(f);
    return ours ? 0 : -1;
}

void text_digest(const unsigned char *bytes, size_t n, char out[17])
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ bytes[i]) * 1099511628211ull;
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

int ckpt_only_known(cg_safetensors *f, const char *const *names, int n, bool (*is_extra_known)(const char *name),
                    const char *path, const char *prog)
{
    for (int i = 0; i < cg_safetensors_count(f); i++) {
        const char *name = cg_safetensors_name(f, i);
        bool known = is_extra_known && is_extra_known(name);
        for (int k = 0; k < n && !known; k++)
            known = !strcmp(name, names[k]);
        if (!known) {
            fprintf(stderr, "%s: %s: unexpected tensor '%s' (not one %s writes); refusing it, as torch's strict "
                            "load does\n", prog, path, name, prog);
            return -1;
        }
    }
    return 0;
}

bool ckpt_is_optim_state(const char *name, int nparams)
{
    static const char *const slots[] = {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
    if (strncmp(name, "optim.", 6) != 0)
        return false;
    char *end;
    long i = strtol(name + 6, &end, 10);
    if (end == name + 6 || *end != '.' || i < 0 || i >= nparams || (name[6] == '0' && end != name + 7))
        return false;
    for (size_t k = 0; k < sizeof slots / sizeof slots[0]; k++)
        if (!strcmp(end + 1, slots[k]))
            return true;
    return false;
}

/* dir made if missing, as one mkdir; 0, or -1 with errno set (ENOTDIR: a file there) */
static int make_one(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0777) == 0)
        return 0;
    if (errno != EEXIST)
        return -1;
    if (stat(dir, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

int ckpt_make_dir(const char *dir, const char *prog)
{
    char path[4096];
    size_t n = strlen(dir);
    int rc = n > 0 && n < sizeof path ? 0 : -1;
    if (rc < 0)
        errno = n ? ENAMETOOLONG : ENOENT;
    else
        memcpy(path, dir, n + 1);
    for (size_t i = 1; rc == 0 && i < n; i++) /* each parent in turn, then dir itself */
        if (path[i] == '/' && path[i - 1] != '/') {
            path[i] = '\0';
            rc = make_one(path);
            path[i] = '/';
        }
    if (rc == 0)
        rc = make_one(path);
    if (rc < 0)
        fprintf(stderr, "%s: cannot make %s: %s\n", prog, dir, strerror(errno));
    return rc;
}
