/* cgrad — tensors: storage, shapes, memory frames, the generator, printing.
 *
 * Tensors hold float32 with 0 to CG_MAX_DIMS dims, row-major; a strided view
 * (a transpose, an expand, ...) walks another tensor's values with its own strides.
 * A tensor made while a frame is open lives in that frame's arena and goes
 * when the frame ends; one made outside any frame lives until cg_tensor_free.
 * Every function takes bad input without crashing: it returns NULL (or a
 * negative code) and records a message readable with cg_last_error(). */
#ifndef CGRAD_TENSOR_H
#define CGRAD_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CG_MAX_DIMS 8

typedef struct cg_tensor cg_tensor;
typedef struct cg_generator cg_generator; /* torch.Generator: see "the generator" below */

/* CG_SHAPE(3, 5, 4) expands to `3, (const int64_t[]){3, 5, 4}`: the (ndim, shape)
 * pair every shape-taking function wants. CG_SCALAR is the 0-d shape. */
#define CG__NARGS_(a1, a2, a3, a4, a5, a6, a7, a8, n, ...) n
#define CG__NARGS(...) CG__NARGS_(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define CG_SHAPE(...) CG__NARGS(__VA_ARGS__), (const int64_t[]){__VA_ARGS__}
#define CG_SCALAR 0, (const int64_t *)NULL

/* Options are structs passed as designated initialisers through a macro, so C
 * reads like Python keywords: cg_rnn_new(.input_size = 4, .hidden_size = 2).
 * The macro also records, as text in .given, which fields the caller wrote;
 * exactly those replace PyTorch's defaults, so `.beta1 = 0` really means 0
 * (and no override-initialiser warning is ever triggered). */
#define CG__OPTS(type, ...) CG__OPTS_(type, __VA_ARGS__)
/* An option struct built outside a call, with the same rule:
 *   cg_adam_opts o = CG_OPTS(cg_adam_opts, .lr = 0.5);  ...  cg_adam_new_with(ps, n, o);
 * A struct built by hand is taken as written only when its .given is
 * CG_ALL_OPTIONS (every field then counts, zeros too); with fields set and no
 * .given it is refused, never silently ignored. {0} means all defaults. */
#define CG_OPTS(type, ...) CG__OPTS(type, __VA_ARGS__)
#define CG_ALL_OPTIONS "*"
#define CG__OPTS_(type, ...) ((type){.given = #__VA_ARGS__, __VA_ARGS__})
#define CG__HEAD1(a, ...) a
#define CG__TAIL1(a, ...) __VA_ARGS__
#define CG__HEAD2(a, b, ...) a, b
#define CG__TAIL2(a, b, ...) __VA_ARGS__
#define CG__HEAD3(a, b, c, ...) a, b, c
#define CG__TAIL3(a, b, c, ...) __VA_ARGS__

/* ---- creation ---------------------------------------------------------- */
cg_tensor *cg_tensor_from(const float *data, int ndim, const int64_t *shape); /* copies */
cg_tensor *cg_empty(int ndim, const int64_t *shape);  /* uninitialised values */
cg_tensor *cg_zeros(int ndim, const int64_t *shape);
cg_tensor *cg_ones(int ndim, const int64_t *shape);
cg_tensor *cg_full(int ndim, const int64_t *shape, float value);
cg_tensor *cg_scalar(float value);                    /* 0-d tensor */
cg_tensor *cg_arange(double start, double end, double step); /* torch.arange */
cg_tensor *cg_eye(int64_t n, int64_t m);              /* m <= 0 means m = n */
cg_tensor *cg_rand(int ndim, const int64_t *shape);   /* uniform [0, 1) */
cg_tensor *cg_randn(int ndim, const int64_t *shape);  /* standard normal */
cg_tensor *cg_uniform(int ndim, const int64_t *shape, float low, float high);
cg_tensor *cg_normal(int ndim, const int64_t *shape, float mean, float std);
cg_tensor *cg_zeros_like(const cg_tensor *t);
cg_tensor *cg_ones_like(const cg_tensor *t);
cg_tensor *cg_tensor_copy(const cg_tensor *t); /* a fresh tensor with t's values, no graph */
void cg_tensor_free(cg_tensor *t); /* tensors made outside frames; NULL and frame tensors are ignored */

/* ---- in-place fills (values only; no graph is recorded) ----------------- */
int cg_fill_(cg_tensor *t, float value);
int cg_uniform_(cg_tensor *t, float low, float high); /* torch.Tensor.uniform_ */
int cg_normal_(cg_tensor *t, float mean, float std);  /* torch.Tensor.normal_ */
int cg_copy_(cg_tensor *dst, const cg_tensor *src);   /* torch's copy_: src broadcast to dst's shape */
/* Each in-place write above adds one to the tensor's version (a view and its
 * base share one counter), as torch's t._version: backward refuses a graph
 * whose saved tensors were written since it was recorded. While grad mode is
 * on they refuse a leaf that requires grad and a tensor the graph computed
 * (torch would record the write; cgrad cannot): write those inside
 * cg_no_grad_begin()/cg_no_grad_end(). Writes through cg_data() are not counted. */
uint32_t cg_version(const cg_tensor *t);

/* ---- the generator: PyTorch's CPU generator (mt19937), bit for bit -------
 * Every random function draws from the default generator (torch's global one)
 * or, in its _gen form, from a generator of the caller's (torch's generator=
 * keyword; NULL there means the default one). A generator is safe to draw from
 * in several threads at once: each call takes its draws as one run of the
 * generator's sequence, so two threads together draw exactly what one thread
 * would, in some interleaving of whole calls. */
void cg_manual_seed(uint64_t seed);
uint32_t cg_random_u32(void);      /* one raw 32-bit draw */
cg_generator *cg_generator_new(uint64_t seed);  /* torch.Generator().manual_seed(seed); owned: cg_generator_free */
void cg_generator_free(cg_generator *g);        /* NULL and the default generator are ignored */
cg_generator *cg_default_generator(void);       /* borrowed: lives as long as the process */
int cg_generator_manual_seed(cg_generator *g, uint64_t seed); /* 0 */
uint32_t cg_generator_random_u32(cg_generator *g);
cg_tensor *cg_rand_gen(int ndim, const int64_t *shape, cg_generator *g);
cg_tensor *cg_randn_gen(int ndim, const int64_t *shape, cg_generator *g);
cg_tensor *cg_uniform_gen(int ndim, const int64_t *shape, float low, float high, cg_generator *g);
cg_tensor *cg_normal_gen(int ndim, const int64_t *shape, float mean, float std, cg_generator *g);
int cg_uniform_gen_(cg_tensor *t, float low, float high, cg_generator *g);
int cg_normal_gen_(cg_tensor *t, float mean, float std, cg_generator *g);
/* Sampling, as PyTorch 1.13's CPU kernels draw (the same seed, the same
 * samples); whole numbers come as floats, like cgrad's other index tensors. */
/* torch.randint: [low, high); float32 holds whole numbers exactly only up to 2^24,
 * so low and high - 1 must lie in [-2^24, 2^24] (refused otherwise). */
cg_tensor *cg_randint(int64_t low, int64_t high, int ndim, const int64_t *shape);
cg_tensor *cg_randint_gen(int64_t low, int64_t high, int ndim, const int64_t *shape, cg_generator *g);
cg_tensor *cg_randperm(int64_t n);                  /* torch.randperm: 0..n-1 shuffled (n <= 2^24) */
cg_tensor *cg_randperm_gen(int64_t n, cg_generator *g);
cg_tensor *cg_bernoulli(cg_tensor *p);              /* torch.bernoulli: 1 with probability p, element-wise */
cg_tensor *cg_bernoulli_gen(cg_tensor *p, cg_generator *g);
/* torch.multinomial: n category indices from each row of probs (C) or (R, C)
 * (weights, not necessarily summing to 1); without replacement each at most once. */
cg_tensor *cg_multinomial(cg_tensor *probs, int64_t n, bool replacement);
cg_tensor *cg_multinomial_gen(cg_tensor *probs, int64_t n, bool replacement, cg_generator *g);

/* A generator's whole state, for checkpoints: opaque bytes, CG_RNG_STATE_SIZE of
 * them. Setting refuses bytes no generator could hold (a position out of range,
 * a flag byte that is not 0 or 1, a NaN cached normal, all zeros). The cg_rng_
 * forms are the default generator's. */
#define CG_RNG_STATE_SIZE 2520
int cg_rng_get_state(uint8_t *out, size_t size);
int cg_rng_set_state(const uint8_t *in, size_t size);
int cg_generator_get_state(cg_generator *g, uint8_t *out, size_t size);
int cg_generator_set_state(cg_generator *g, const uint8_t *in, size_t size);

/* ---- inspection ---------------------------------------------------------
 * Borrowed results: cg_shape's array and cg_data's values belong to t and go
 * with it (at cg_tensor_free, or when t's frame ends). */
int cg_ndim(const cg_tensor *t);
const int64_t *cg_shape(const cg_tensor *t);
int64_t cg_size(const cg_tensor *t, int dim);   /* dim may be negative; -1 on error */
int64_t cg_numel(const cg_tensor *t);
/* t's values, row-major. For a strided view (cg_transpose, cg_permute, cg_expand,
 * cg_narrow past the first dim, ...) they are a copy made at this call and good
 * until the view's next use after an in-place write to its base; writes to it do
 * not reach the base: write the base, or cg_copy_/cg_fill_ into the view. */
float *cg_data(cg_tensor *t);
/* torch.Tensor.is_contiguous(): whether t's elements lie row-major in its storage
 * (false for a strided view). */
bool cg_is_contiguous(const cg_tensor *t);
/* torch.Tensor.stride(dim): elements between neighbours along dim (0 along a dim
 * cg_expand repeats); -1 and an error for a bad dim or tensor. */
int64_t cg_stride(const cg_tensor *t, int dim);
/* torch.Tensor.storage_offset(): where t's first element lies in the values of the
 * tensor it views (0 for one that views nothing); -1 and an error for a bad tensor. */
int64_t cg_storage_offset(const cg_tensor *t);
float cg_item(const cg_tensor *t);             /* the one value of a 1-element tensor; NAN on error */
bool cg_same_shape(const cg_tensor *a, const cg_tensor *b);

/* ---- printing, in PyTorch's style --------------------------------------- */
/* "tensor([[1., 2.]], grad_fn=<AddBackward0>)" into buf (always NUL-terminated);
 * returns the full length, like snprintf, or -1 on error. */
int cg_tensor_str(const cg_tensor *t, char *buf, size_t size);
int cg_print(const cg_tensor *t);                 /* to stdout, with a newline */
int cg_fprint(FILE *f, const cg_tensor *t);
/* "(3, 5, 2)" */
int cg_shape_str(const cg_tensor *t, char *buf, size_t size);

/* ---- memory frames ------------------------------------------------------ */
void cg_frame_begin(void);
void cg_frame_end(void);
int cg_frame_depth(void);
/* How many times cgrad has asked the system for memory so far (this thread's
 * frame arena and every tensor made outside frames): a steady training step
 * inside a frame adds nothing. */
int64_t cg_system_alloc_count(void);
/* Give this thread's arena memory back to the system (no frame may be open). */
void cg_frame_release_memory(void);

/* ---- safetensors files -------------------------------------------------------
 * The format PyTorch's safetensors writes: an 8-byte little-endian header
 * length, a JSON header {name: {"dtype": "F32", "shape": [...], "data_offsets":
 * [begin, end]}, "__metadata__": {key: value}}, then the raw little-endian data.
 * Saving writes a temporary file and renames it, so an interrupted save never
 * destroys the file that was there. */
int cg_safetensors_save(const char *path, int n, const char *const *names, cg_tensor *const *tensors,
                        int nmeta, const char *const *meta_keys, const char *const *meta_values);
typedef struct cg_safetensors cg_safetensors;
/* Reads and checks a whole file: header length within the file, one strict JSON
 * object, F32 entries that tile the data exactly, string metadata, and the
 * file's CRC-32C where it carries one (every file cgrad writes does, as the
 * metadata key "cgrad.crc32c", which callers may not set: over every byte, so a
 * flipped bit in the header's metadata is found as in the data). NULL on any
 * fault. Owned: close with cg_safetensors_close. */
cg_safetensors *cg_safetensors_open(const char *path);
/* What the checksum covered: 2 the whole file, 1 the data only (a file an older cgrad
 * wrote), 0 none (a file from elsewhere); -1 for NULL. A program that reads files of
 * its own can refuse one whose checksum went missing. */
int cg_safetensors_checksum(const cg_safetensors *f);
void cg_safetensors_close(cg_safetensors *f);
int cg_safetensors_count(const cg_safetensors *f);
const char *cg_safetensors_name(const cg_safetensors *f, int i); /* borrowed: valid until close */
/* A new tensor with the named entry's values (made where tensors are made now), or NULL. */
cg_tensor *cg_safetensors_get(const cg_safetensors *f, const char *name);
/* The entry's shape without reading it: ndim, or -1 if absent; shape gets the sizes. */
int cg_safetensors_shape(const cg_safetensors *f, const char *name, int64_t shape[CG_MAX_DIMS]);
/* Copies the named entry into t (same shape); 0 or -1. */
int cg_safetensors_read_into(const cg_safetensors *f, const char *name, cg_tensor *t);
const char *cg_safetensors_metadata(const cg_safetensors *f, const char *key); /* borrowed until close; NULL if absent */

/* ---- threads ------------------------------------------------------------------
 * Large matrix products are split over this many threads (default 1, or the
 * CGRAD_THREADS environment variable when the program has set no count: the
 * program's count wins). Results do not depend on the count. Any number of the
 * program's threads may call cgrad at once, each with its own frames, graphs,
 * grad mode and error message; the pool runs one product at a time, and a
 * thread that finds it busy computes its product alone (the same numbers).
 * Tensors made in one thread's frame belong to that thread. */
int cg_set_num_threads(int n);   /* 0; -1 for n outside 1..64, or if fewer workers could be started */
int cg_get_num_threads(void);

/* ---- version -------------------------------------------------------------- */
/* "0.1.0": the version of the library running (meson.build's one number; the soname's
 * major, libcgrad.so.0, changes when the ABI breaks: docs/design.md says when). */
const char *cg_version_string(void);

/* ---- errors ------------------------------------------------------------- */
/* This thread's message for its most recent failure ("" when none); borrowed,
 * overwritten by the next failure. A NULL passed on from a failed call keeps
 * that failure's message, so a chain of calls reports where it first failed. */
const char *cg_last_error(void);
void cg_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
