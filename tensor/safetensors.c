/* cgrad — safetensors files: tensors by name in the format PyTorch writes.
 * The JSON header is read and written with json-c. */
#include "tensor_internal.h"
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name;
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    uint64_t begin, end;
} entry;

struct cg_safetensors {
    int checksum;        /* 2: the whole file checked, 1: the data only (an older cgrad's), 0: none */
    unsigned char *data; /* the bytes after the header */
    uint64_t data_size;
    entry *e;
    int n;
    json_object *meta;   /* __metadata__, or NULL */
    json_object *root;
};

#define MAX_FILE ((uint64_t)1 << 38) /* 256 GiB: anything larger is not a file we wrote */
#define MAX_HEADER ((uint64_t)100 << 20)

static void put_u64_le(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64_le(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

static bool host_little_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

static bool write_floats(FILE *f, const float *d, int64_t n)
{
    if (host_little_endian())
        return fwrite(d, sizeof(float), (size_t)n, f) == (size_t)n;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &d[i], 4);
        unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16), (unsigned char)(u >> 24)};
        if (fwrite(b, 1, 4, f) != 4)
            return false;
    }
    return true;
}

/* The file's checksum, CRC-32C, in the metadata under CRC_KEY as "file:XXXXXXXX": over
 * every byte of the file (the length, the header with these eight digits read as
 * zeros, its padding, the data), so a flipped bit anywhere, settings and generator
 * state in the metadata included, is found. Files of older cgrads carry "XXXXXXXX",
 * over the data alone: still read, and checked as far as they go. */
#define CRC_KEY "cgrad.crc32c"
#define CRC_FILE_MARK "\"" CRC_KEY "\":\"file:"
#define CRC_PLACEHOLDER "00000000"

static uint32_t crc_of_floats(uint32_t crc, const float *d, int64_t n)
{
    if (host_little_endian())
        return cg__crc32c(crc, d, (size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &d[i], 4);
        unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16), (unsigned char)(u >> 24)};
        crc = cg__crc32c(crc, b, 4);
    }
    return crc;
}

/* Names present, unique and not reserved; tensors live; metadata keys present, not reserved. */
static bool save_args_ok(const char *path, int n, const char *const *names, cg_tensor *const *tensors, int nmeta,
                         const char *const *meta_keys, const char *const *meta_values)
{
    if (!path || n < 0 || (n > 0 && (!names || !tensors)) || nmeta < 0 || (nmeta > 0 && (!meta_keys || !meta_values))) {
        cg__error("cg_safetensors_save: bad arguments");
        return false;
    }
    for (int i = 0; i < nmeta; i++)
        if (!meta_keys[i] || !strcmp(meta_keys[i], CRC_KEY)) {
            cg__error("cg_safetensors_save: metadata key %d is %s", i, meta_keys[i] ? "reserved (" CRC_KEY ")" : "NULL");
            return false;
        }
    for (int i = 0; i < n; i++) {
        if (!names[i]) {
            cg__error("cg_safetensors_save: name %d is NULL", i);
            return false;
        }
        if (!cg__check(tensors[i], "cg_safetensors_save"))
            return false;
        if (!strcmp(names[i], "__metadata__")) { /* the header's own key: the tensor would vanish */
            cg__error("cg_safetensors_save: '__metadata__' is reserved for the file's metadata; "
                      "give the tensor another name");
            return false;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j])) {
                cg__error("cg_safetensors_save: name '%s' given twice", names[i]);
                return false;
            }
    }
    return true;
}

/* The JSON header: each tensor's entry in order (their data one after another),
 * then the metadata with the data's checksum. */
static json_object *header_of(int n, const char *const *names, cg_tensor *const *tensors, int nmeta,
                              const char *const *meta_keys, const char *const *meta_values)
{
    json_object *root = json_object_new_object();
    uint64_t offset = 0;
    uint32_t crc = 0;
    for (int i = 0; i < n; i++) {
        json_object *e = json_object_new_object(), *shape = json_object_new_array(), *offs = json_object_new_array();
        json_object_object_add(e, "dtype", json_object_new_string("F32"));
        for (int d = 0; d < tensors[i]->ndim; d++)
            json_object_array_add(shape, json_object_new_int64(tensors[i]->shape[d]));
        json_object_object_add(e, "shape", shape);
        uint64_t bytes = (uint64_t)tensors[i]->numel * 4;
        json_object_array_add(offs, json_object_new_int64((int64_t)offset));
        json_object_array_add(offs, json_object_new_int64((int64_t)(offset + bytes)));
        json_object_object_add(e, "data_offsets", offs);
        json_object_object_add(root, names[i], e);
        offset += bytes;
        crc = crc_of_floats(crc, tensors[i]->data, tensors[i]->numel);
    }
    (void)crc;
    json_object *meta = json_object_new_object();
    for (int i = 0; i < nmeta; i++)
        json_object_object_add(meta, meta_keys[i], json_object_new_string(meta_values[i] ? meta_values[i] : ""));
    /* filled in once the whole file's bytes are known (save) */
    json_object_object_add(meta, CRC_KEY, json_object_new_string("file:" CRC_PLACEHOLDER));
    json_object_object_add(root, "__metadata__", meta);
    return root;
}

/* The file's first bytes: the length, then the header padded with spaces to 8 bytes
 * (the data starts aligned), its checksum digits filled in; NULL when out of memory. */
static unsigned char *file_head(const char *header, int n, cg_tensor *const *tensors, size_t *size)
{
    size_t hlen = strlen(header), padded = (hlen + 7) & ~(size_t)7;
    unsigned char *head = malloc(8 + padded);
    if (!head)
        return NULL;
    put_u64_le(head, padded);
    memcpy(head + 8, header, hlen);
    memset(head + 8 + hlen, ' ', padded - hlen);
    uint32_t crc = cg__crc32c(0, head, 8 + padded);
    for (int i = 0; i < n; i++)
        crc = crc_of_floats(crc, tensors[i]->data, tensors[i]->numel);
    char *digits = strstr((char *)head + 8, CRC_FILE_MARK) + strlen(CRC_FILE_MARK);
    char hex[16];
    snprintf(hex, sizeof hex, "%08x", crc);
    memcpy(digits, hex, 8);
    *size = 8 + padded;
    return head;
}

/* The head, then the data; every write checked. */
static bool write_file(FILE *f, const unsigned char *head, size_t head_size, int n, cg_tensor *const *tensors)
{
    bool ok = fwrite(head, 1, head_size, f) == head_size;
    for (int i = 0; ok && i < n; i++)
        ok = write_floats(f, tensors[i]->data, tensors[i]->numel);
    ok = fflush(f) == 0 && ok;
    return fclose(f) == 0 && ok;
}

static int save_dense(const char *path, int n, const char *const *names, cg_tensor *const *tensors, int nmeta,
                      const char *const *meta_keys, const char *const *meta_values);

int cg_safetensors_save(const char *path, int n, const char *const *names, cg_tensor *const *tensors,
                        int nmeta, const char *const *meta_keys, const char *const *meta_values)
{
    if (!save_args_ok(path, n, names, tensors, nmeta, meta_keys, meta_values))
        return -1;
    cg_tensor **dense = NULL; /* strided views written as their values row-major */
    for (int i = 0; i < n; i++)
        if (tensors[i]->strided && !dense) {
            if (!(dense = malloc(sizeof *dense * (size_t)n))) {
                cg__error("cg_safetensors_save: out of memory");
                return -1;
            }
            memcpy(dense, tensors, sizeof *dense * (size_t)n);
        }
    for (int i = 0; dense && i < n; i++)
        if (!(dense[i] = cg__dense_plain(tensors[i], "cg_safetensors_save"))) {
            free(dense);
            return -1;
        }
    int rc = save_dense(path, n, names, dense ? dense : tensors, nmeta, meta_keys, meta_values);
    free(dense);
    return rc;
}

static int save_dense(const char *path, int n, const char *const *names, cg_tensor *const *tensors, int nmeta,
                      const char *const *meta_keys, const char *const *meta_values)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) {
        cg__error("cg_safetensors_save: out of memory");
        return -1;
    }
    /* written whole beside the old file, then renamed over it: a crash leaves one or the other */
    snprintf(tmp, plen + 16, "%s.tmp", path);
    json_object *root = header_of(n, names, tensors, nmeta, meta_keys, meta_values);
    size_t head_size = 0;
    unsigned char *head = root ? file_head(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN), n, tensors,
                                           &head_size)
                               : NULL;
    FILE *f = head ? fopen(tmp, "wb") : NULL;
    int rc = -1;
    if (!head)
        cg__error("cg_safetensors_save: out of memory");
    else if (!f)
        cg__error("cg_safetensors_save: cannot write %s: %s", tmp, strerror(errno));
    else if (!write_file(f, head, head_size, n, tensors) || rename(tmp, path) != 0) {
        cg__error("cg_safetensors_save: cannot write %s: %s", path, strerror(errno));
        remove(tmp);
    } else {
        rc = 0;
    }
    free(head);
    free(tmp);
    json_object_put(root);
    return rc;
}

void cg_safetensors_close(cg_safetensors *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n; i++)
        free(f->e[i].name);
    free(f->e);
    free(f->data);
    json_object_put(f->root);
    free(f);
}

static int cmp_begin(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Reads one entry of the header into e; false with an error naming the fault. */
static bool parse_entry(const char *name, json_object *v, entry *e, const char *path)
{
    json_object *dtype, *shape, *offs;
    if (!json_object_is_type(v, json_type_object) || !json_object_object_get_ex(v, "dtype", &dtype) ||
        !json_object_object_get_ex(v, "shape", &shape) || !json_object_object_get_ex(v, "data_offsets", &offs) ||
        !json_object_is_type(shape, json_type_array) || !json_object_is_type(offs, json_type_array) ||
        json_object_array_length(offs) != 2) {
        cg__error("cg_safetensors_open: %s: entry '%s' lacks dtype, shape or data_offsets", path, name);
        return false;
    }
    if (!json_object_is_type(dtype, json_type_string) || strcmp(json_object_get_string(dtype), "F32")) {
        cg__error("cg_safetensors_open: %s: entry '%s' has dtype %s; cgrad reads F32", path, name,
                  json_object_get_string(dtype));
        return false;
    }
    size_t nd = json_object_array_length(shape);
    if (nd > CG_MAX_DIMS) {
        cg__error("cg_safetensors_open: %s: entry '%s' has %zu dims (at most %d)", path, name, nd, CG_MAX_DIMS);
        return false;
    }
    e->ndim = (int)nd;
    uint64_t numel = 1;
    for (size_t d = 0; d < nd; d++) {
        json_object *s = json_object_array_get_idx(shape, d);
        int64_t v64 = json_object_get_int64(s);
        if (!json_object_is_type(s, json_type_int) || v64 < 0 || v64 > cg__max_numel() ||
            (v64 && numel > (uint64_t)cg__max_numel() / (uint64_t)v64)) {
            cg__error("cg_safetensors_open: %s: entry '%s' has a bad shape", path, name);
            return false;
        }
        e->shape[d] = v64;
        numel *= (uint64_t)v64;
    }
    json_object *b = json_object_array_get_idx(offs, 0), *en = json_object_array_get_idx(offs, 1);
    if (!json_object_is_type(b, json_type_int) || !json_object_is_type(en, json_type_int) ||
        json_object_get_int64(b) < 0 || json_object_get_int64(en) < json_object_get_int64(b)) {
        cg__error("cg_safetensors_open: %s: entry '%s' has bad data_offsets", path, name);
        return false;
    }
    e->begin = (uint64_t)json_object_get_int64(b);
    e->end = (uint64_t)json_object_get_int64(en);
    if (e->end - e->begin != numel * 4) {
        cg__error("cg_safetensors_open: %s: entry '%s' spans %llu bytes, its shape needs %llu", path, name,
                  (unsigned long long)(e->end - e->begin), (unsigned long long)(numel * 4));
        return false;
    }
    e->name = strdup(name);
    return e->name != NULL;
}

/* Whether the text outside its strings holds only what standard JSON allows
 * there: json-c, even in strict mode, takes single-quoted strings, and
 * NaN/Infinity words, which no other reader of the format would. */
static bool standard_json_tokens(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '"') { /* skip the string, escapes included */
            for (i++; i < len && text[i] != '"'; i++)
                if (text[i] == '\\')
                    i++;
            continue;
        }
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            size_t w = i;
            while (w < len && ((text[w] >= 'a' && text[w] <= 'z') || (text[w] >= 'A' && text[w] <= 'Z')))
                w++;
            size_t n = w - i;
            bool word = (n == 4 && (!strncmp(text + i, "true", 4) || !strncmp(text + i, "null", 4))) ||
                        (n == 5 && !strncmp(text + i, "false", 5)) || (n == 1 && (c == 'e' || c == 'E'));
            if (!word)
                return false;
            i = w - 1;
            continue;
        }
        if (c == 0 || !strchr("{}[]:,-+.0123456789 \t\r\n", c))
            return false;
    }
    return true;
}

/* The header as the format defines it: one strict JSON object (no single
 * quotes, trailing commas or comments), then only the spaces that pad it. */
static bool parse_header(cg_safetensors *f, const char *text, size_t len, const char *path)
{
    json_tokener *tok = json_tokener_new();
    if (!tok) {
        cg__error("cg_safetensors_open: out of memory");
        return false;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    f->root = len && text[0] == '{' && standard_json_tokens(text, len) ? json_tokener_parse_ex(tok, text, (int)len)
                                                                          : NULL;
    bool complete = f->root && json_tokener_get_error(tok) == json_tokener_success;
    size_t end = complete ? json_tokener_get_parse_end(tok) : 0;
    json_tokener_free(tok);
    while (complete && end < len && text[end] == ' ')
        end++;
    if (!complete || !json_object_is_type(f->root, json_type_object) || end != len) {
        cg__error("cg_safetensors_open: %s: the header is not one strict JSON object%s", path,
                  complete && end != len ? " (bytes follow it)" : "");
        return false;
    }
    return true;
}

/* __metadata__ maps strings to strings. */
static bool metadata_ok(json_object *meta, const char *path)
{
    if (!json_object_is_type(meta, json_type_object)) {
        cg__error("cg_safetensors_open: %s: __metadata__ is not an object", path);
        return false;
    }
    json_object_object_foreach(meta, key, val)
    {
        if (!json_object_is_type(val, json_type_string)) {
            cg__error("cg_safetensors_open: %s: metadata '%s' is not a string", path, key);
            return false;
        }
    }
    return true;
}

/* Where needle first lies in the n bytes at hay, or NULL (memmem, which C11 lacks). */
static const char *find_bytes(const unsigned char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; k <= n && i <= n - k; i++)
        if (!memcmp(hay + i, needle, k))
            return (const char *)hay + i;
    return NULL;
}

/* A file that carries cgrad's checksum must match it (files from elsewhere carry
 * none): over the whole file (head: the length and header as read), or over the data
 * alone for an older cgrad's "XXXXXXXX". */
static bool checksum_ok(cg_safetensors *f, const unsigned char *head, size_t head_size, const char *path)
{
    json_object *v;
    if (!f->meta || !json_object_object_get_ex(f->meta, CRC_KEY, &v))
        return true;
    const char *says = json_object_get_string(v);
    bool whole = !strncmp(says, "file:", 5);
    char want[16];
    uint32_t crc = 0;
    if (whole) { /* the header as written: its digits read as zeros */
        const char *at = find_bytes(head + 8, head_size - 8, CRC_FILE_MARK);
        unsigned char *copy = at ? malloc(head_size) : NULL;
        if (!copy) {
            cg__error("cg_safetensors_open: %s: %s", path,
                      at ? "out of memory" : "its checksum is not where cgrad writes it: the file is damaged");
            return false;
        }
        memcpy(copy, head, head_size);
        memcpy(copy + (at - (const char *)head) + strlen(CRC_FILE_MARK), CRC_PLACEHOLDER, 8);
        crc = cg__crc32c(0, copy, head_size);
        free(copy);
    }
    snprintf(want, sizeof want, "%s%08x", whole ? "file:" : "", cg__crc32c(crc, f->data, (size_t)f->data_size));
    if (!strcmp(says, want)) {
        f->checksum = whole ? 2 : 1;
        return true;
    }
    cg__error("cg_safetensors_open: %s: the file does not match its checksum (%s, the file says %s): the file is "
              "damaged", path, want, says);
    return false;
}

int cg_safetensors_checksum(const cg_safetensors *f)
{
    if (!f) {
        cg__error("cg_safetensors_checksum: the file is NULL");
        return -1;
    }
    return f->checksum;
}

static unsigned char *read_file(const char *path, uint64_t *size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        cg__error("cg_safetensors_open: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char *buf = NULL;
    long end = -1;
    if (fseek(fp, 0, SEEK_END) == 0)
        end = ftell(fp);
    if (end < 0 || (uint64_t)end > MAX_FILE || (uint64_t)end >= SIZE_MAX / 2 || fseek(fp, 0, SEEK_SET) != 0) {
        cg__error("cg_safetensors_open: %s: cannot read its size, or it is too large", path);
    } else if (!(buf = malloc((size_t)end + 1))) {
        cg__error("cg_safetensors_open: %s: out of memory (%ld bytes)", path, end);
    } else if (fread(buf, 1, (size_t)end, fp) != (size_t)end) {
        cg__error("cg_safetensors_open: %s: read failed", path);
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    *size = (uint64_t)end;
    return buf;
}

/* Every entry of the header: the tensors, and __metadata__. */
static bool read_entries(cg_safetensors *f, const char *path)
{
    f->e = calloc((size_t)json_object_object_length(f->root) + 1, sizeof *f->e);
    if (!f->e) {
        cg__error("cg_safetensors_open: %s: out of memory", path);
        return false;
    }
    json_object_object_foreach(f->root, key, val)
    {
        if (!strcmp(key, "__metadata__")) {
            if (!metadata_ok(val, path))
                return false;
            f->meta = val;
            continue;
        }
        if (!parse_entry(key, val, &f->e[f->n], path))
            return false;
        f->n++;
    }
    return true;
}

/* As the format's reference reader: the entries tile the data from its first
 * byte to its last, with no hole, overlap or trailing bytes. */
static bool entries_tile_the_data(const cg_safetensors *f, const char *path)
{
    entry *sorted = malloc(sizeof *sorted * (size_t)(f->n ? f->n : 1));
    if (!sorted) {
        cg__error("cg_safetensors_open: %s: out of memory", path);
        return false;
    }
    memcpy(sorted, f->e, sizeof *sorted * (size_t)f->n);
    qsort(sorted, (size_t)f->n, sizeof *sorted, cmp_begin);
    uint64_t expect = 0;
    bool ok = true;
    for (int i = 0; ok && i < f->n; i++) {
        const char *bad = sorted[i].end > f->data_size ? "lies outside the data"
                          : sorted[i].begin < expect   ? "overlaps another entry"
                          : sorted[i].begin > expect   ? "leaves a gap before it" : NULL;
        if (bad)
            cg__error("cg_safetensors_open: %s: entry '%s' %s", path, sorted[i].name, bad);
        ok = !bad;
        expect = sorted[i].end;
    }
    if (ok && expect != f->data_size) {
        cg__error("cg_safetensors_open: %s: %llu bytes after the last entry's data", path,
                  (unsigned long long)(f->data_size - expect));
        ok = false;
    }
    free(sorted);
    return ok;
}

/* The file's layout checked, its data kept (the header is parsed into f->root). */
static bool parse_file(cg_safetensors *f, const unsigned char *file, uint64_t size, const char *path)
{
    uint64_t hlen = size >= 8 ? get_u64_le(file) : 0;
    if (size < 8 || hlen < 2 || hlen > MAX_HEADER || hlen > size - 8) {
        cg__error("cg_safetensors_open: %s is not a safetensors file (header length %llu, file %llu bytes)", path,
                  (unsigned long long)hlen, (unsigned long long)size);
        return false;
    }
    if (!parse_header(f, (const char *)file + 8, (size_t)hlen, path))
        return false;
    f->data_size = size - 8 - hlen;
    if (!read_entries(f, path) || !entries_tile_the_data(f, path))
        return false;
    f->data = malloc(f->data_size ? f->data_size : 1);
    if (!f->data) {
        cg__error("cg_safetensors_open: %s: out of memory", path);
        return false;
    }
    memcpy(f->data, file + 8 + hlen, f->data_size);
    return checksum_ok(f, file, (size_t)(8 + hlen), path);
}

cg_safetensors *cg_safetensors_open(const char *path)
{
    if (!path) {
        cg__error("cg_safetensors_open: path is NULL");
        return NULL;
    }
    uint64_t size;
    unsigned char *file = read_file(path, &size);
    if (!file)
        return NULL;
    cg_safetensors *f = calloc(1, sizeof *f);
    if (!f)
        cg__error("cg_safetensors_open: out of memory");
    else if (!parse_file(f, file, size, path)) {
        cg_safetensors_close(f);
        f = NULL;
    }
    free(file);
    return f;
}

int cg_safetensors_count(const cg_safetensors *f)
{
    if (!f) {
        cg__error_null("cg_safetensors_count");
        return -1;
    }
    return f->n;
}

const char *cg_safetensors_name(const cg_safetensors *f, int i)
{
    if (!f || i < 0 || i >= f->n) {
        cg__error("cg_safetensors_name: no entry %d", i);
        return NULL;
    }
    return f->e[i].name;
}

static const entry *find(const cg_safetensors *f, const char *name, const char *op)
{
    if (!f || !name) {
        cg__error("%s: NULL argument", op);
        return NULL;
    }
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->e[i].name, name))
            return &f->e[i];
    cg__error("%s: no entry '%s' in the file", op, name);
    return NULL;
}

int cg_safetensors_shape(const cg_safetensors *f, const char *name, int64_t shape[CG_MAX_DIMS])
{
    const entry *e = find(f, name, "cg_safetensors_shape");
    if (!e)
        return -1;
    for (int d = 0; shape && d < e->ndim; d++)
        shape[d] = e->shape[d];
    return e->ndim;
}

static void copy_out(const entry *e, const unsigned char *data, float *dst)
{
    const unsigned char *src = data + e->begin;
    int64_t n = (int64_t)((e->end - e->begin) / 4);
    if (host_little_endian()) {
        memcpy(dst, src, (size_t)n * 4);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 | (uint32_t)src[4 * i + 2] << 16 |
                     (uint32_t)src[4 * i + 3] << 24;
        memcpy(&dst[i], &u, 4);
    }
}

cg_tensor *cg_safetensors_get(const cg_safetensors *f, const char *name)
{
    const entry *e = find(f, name, "cg_safetensors_get");
    if (!e)
        return NULL;
    cg_tensor *t = cg__new(e->ndim, e->shape, "cg_safetensors_get");
    if (t)
        copy_out(e, f->data, t->data);
    return t;
}

int cg_safetensors_read_into(const cg_safetensors *f, const char *name, cg_tensor *t)
{
    const entry *e = find(f, name, "cg_safetensors_read_into");
    if (!e || !cg__check(t, "cg_safetensors_read_into"))
        return -1;
    if (t->strided) {
        cg__error("cg_safetensors_read_into: '%s': a strided view (read into its base, or a cg_contiguous copy)",
                  name);
        return -1;
    }
    bool same = e->ndim == t->ndim;
    for (int d = 0; same && d < e->ndim; d++)
        same = e->shape[d] == t->shape[d];
    if (!same) {
        char a[CG_SHAPE_BUF], b[CG_SHAPE_BUF];
        cg__error("cg_safetensors_read_into: '%s' has shape %s in the file, %s here", name,
                  cg__shape_fmt(a, e->ndim, e->shape), cg__shape_fmt(b, t->ndim, t->shape));
        return -1;
    }
    cg__bump_version(t);
    copy_out(e, f->data, t->data);
    return 0;
}

const char *cg_safetensors_metadata(const cg_safetensors *f, const char *key)
{
    json_object *v;
    if (!f || !key || !f->meta || !json_object_object_get_ex(f->meta, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}
