/*
 * Kiln runtime C API.
 *
 * Open a bundle written by `kiln compile` (from a file, or from bytes already
 * in memory such as flash), create a session, copy inputs in, run, read
 * outputs in place. Every call that can fail returns a kiln_status; the
 * message of the last failed call on the calling thread is kiln_last_error().
 *
 * Thread safety: a kiln_model is immutable once opened and may be shared by
 * sessions on different threads. A kiln_session is used by one thread at a
 * time.
 */
#ifndef KILN_KILN_H
#define KILN_KILN_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/bundle_format.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kiln_status {
  KILN_OK = 0,
  KILN_ERROR_INVALID_ARGUMENT,
  KILN_ERROR_IO,
  KILN_ERROR_INVALID_BUNDLE,
  KILN_ERROR_UNSUPPORTED, /* bundle version, no executable for this host */
  KILN_ERROR_OUT_OF_MEMORY,
  KILN_ERROR_INTERNAL,
} kiln_status;

/* "ok", "invalid argument", ... Never NULL. */
const char *kiln_status_string(kiln_status status);

/* Message of the last failed call on this thread, e.g.
 * "model.kiln: section 3 (SCHEDULE): checksum mismatch". Successful calls
 * leave it unchanged. "" when no call has failed yet. */
const char *kiln_last_error(void);

typedef struct kiln_model kiln_model;
typedef struct kiln_session kiln_session;

/* kiln_model_open_* flags. */
enum {
  /* Check the WEIGHTS section's checksum at open (touches every weight
   * page). Without this flag or KILN_OPEN_TRUST_WEIGHTS, it is checked once
   * per model when the first session is created, and a mismatch fails that
   * and every later kiln_session_create, naming the section; opening stays
   * cheap for tools that only describe a bundle. */
  KILN_OPEN_VERIFY_WEIGHTS = 1u,
  /* Verify the bundle but load no executable: for tools that only describe a
   * bundle (possibly one built for another machine). Sessions cannot be
   * created from such a model. */
  KILN_OPEN_SKIP_EXECUTABLE = 2u,
  /* Append the loaded code's functions to /tmp/perf-<pid>.map (perf's map
   * for generated code), so that perf names dispatches and microkernels.
   * Hosted runtime only; failing to write the map fails the open. */
  KILN_OPEN_PERF_MAP = 4u,
  /* Never check the WEIGHTS checksum: for callers that verified the file
   * themselves (or keep it in memory they trust) and cannot afford reading
   * every weight page at the first session. */
  KILN_OPEN_TRUST_WEIGHTS = 8u,
};

/* Maps `path` read-only and verifies it. */
kiln_status kiln_model_open_file(const char *path, uint32_t flags,
                                 kiln_model **out);
/* Uses `data` in place: it must stay valid and unchanged until the model is
 * closed, and be aligned to KILN_TENSOR_ALIGNMENT (64) bytes so that the
 * weights are. */
kiln_status kiln_model_open_memory(const void *data, size_t size,
                                   uint32_t flags, kiln_model **out);
/* Accepts NULL. Every session of the model must be destroyed first. */
void kiln_model_close(kiln_model *model);

typedef struct kiln_tensor_info {
  const char *name; /* valid while the model is open */
  kiln_dtype dtype;
  uint32_t rank;
  const int64_t *dims; /* `rank` entries, valid while the model is open */
  uint64_t size_bytes;
} kiln_tensor_info;

uint32_t kiln_model_input_count(const kiln_model *model);
uint32_t kiln_model_output_count(const kiln_model *model);
kiln_status kiln_model_input_info(const kiln_model *model, uint32_t index,
                                  kiln_tensor_info *out);
kiln_status kiln_model_output_info(const kiln_model *model, uint32_t index,
                                   kiln_tensor_info *out);
uint64_t kiln_model_arena_size(const kiln_model *model);
/* Where input/output `index` lives in the arena (UINT64_MAX when out of
 * range): for tools that relate tensors to dispatch bindings. */
uint64_t kiln_model_input_arena_offset(const kiln_model *model, uint32_t index);
uint64_t kiln_model_output_arena_offset(const kiln_model *model,
                                        uint32_t index);
/* The selected executable's target, e.g. "x86_64-avx2"; "none" when the model
 * was opened with KILN_OPEN_SKIP_EXECUTABLE. */
const char *kiln_model_target_name(const kiln_model *model);

/* Descriptive accessors, for tools such as `kiln inspect`. */
const char *kiln_model_name(const kiln_model *model);
const char *kiln_model_producer(const kiln_model *model);
void kiln_model_version(const kiln_model *model, uint32_t *major,
                        uint32_t *minor);
uint64_t kiln_model_file_size(const kiln_model *model);
uint32_t kiln_model_dispatch_count(const kiln_model *model);
uint32_t kiln_model_entry_count(const kiln_model *model);
/* Dispatch `index`'s name: the ONNX node that starts it and the ops it
 * covers ("conv1:conv+relu"), with " #<phase>" when the compiler split it
 * into phases. NULL when out of range. */
const char *kiln_model_dispatch_name(const kiln_model *model, uint32_t index);
/* What dispatch `index` computes, from the bundle's DISPATCH_INFO section:
 * the ONNX nodes it covers ("conv1, bn1, relu1"; "" when the bundle does not
 * say, NULL when out of range) and the operations of its contractions (2 per
 * multiply-add; 0 for none, or when the bundle does not say). */
const char *kiln_model_dispatch_nodes(const kiln_model *model, uint32_t index);
uint64_t kiln_model_dispatch_flops(const kiln_model *model, uint32_t index);
/* Where dispatch `index` runs when the bundle runs on a GPU (a kiln_device;
 * a transfer's destination); KILN_DEVICE_CPU in a bundle without GPU code. */
uint32_t kiln_model_dispatch_device(const kiln_model *model, uint32_t index);
/* Whether dispatch `index` is a transfer: a copy of its one binding from the
 * other device's arena (nothing to do where everything runs on the CPU). */
int kiln_model_dispatch_is_transfer(const kiln_model *model, uint32_t index);

/* A buffer a dispatch binds. */
typedef struct kiln_binding_info {
  uint32_t kind;   /* kiln_buffer_kind */
  uint32_t access; /* KILN_ACCESS_*; 0 when the bundle (before 1.6) does not
                      say */
  uint64_t offset; /* into the arena or the WEIGHTS section */
  uint64_t size;
} kiln_binding_info;

/* The bindings of dispatch `index`; 0 when out of range. */
uint32_t kiln_model_dispatch_binding_count(const kiln_model *model,
                                           uint32_t index);
kiln_status kiln_model_dispatch_binding(const kiln_model *model,
                                        uint32_t dispatch, uint32_t binding,
                                        kiln_binding_info *out);

/* kind and target are plain integers: a bundle of a newer minor version may
 * hold values this header does not name. */
typedef struct kiln_section_info {
  uint32_t kind;   /* kiln_section_kind */
  uint32_t target; /* kiln_target of EXECUTABLE sections, else 0 */
  uint64_t offset;
  uint64_t size;
  uint32_t alignment;
  uint32_t checksum;
  uint32_t flags; /* KILN_SECTION_FLAG_* */
} kiln_section_info;

uint32_t kiln_model_section_count(const kiln_model *model);
kiln_status kiln_model_section_info(const kiln_model *model, uint32_t index,
                                    kiln_section_info *out);
/* The bytes of section `index` (kiln_section_info.size of them), in place;
 * NULL when out of range. Checksummed (lazily for WEIGHTS), but an
 * executable's contents are the reader's to check. */
const void *kiln_model_section_data(const kiln_model *model, uint32_t index);

/* Where a session runs (kiln_session_options.device). */
typedef enum kiln_device_request {
  /* The GPU when the bundle has code for one and a usable GPU and driver are
   * present, else the CPU (kiln_session_fallback_reason says why). */
  KILN_RUN_ON_AUTO = 0,
  KILN_RUN_ON_CPU = 1,
  /* The GPU, or kiln_session_create fails saying why it cannot. */
  KILN_RUN_ON_CUDA = 2,
} kiln_device_request;

typedef struct kiln_session_options {
  uint32_t struct_size;  /* sizeof(kiln_session_options) */
  uint32_t thread_count; /* 0 = hardware concurrency */
  uint32_t device; /* kiln_device_request; AUTO when struct_size ends before */
} kiln_session_options;

/* Allocates the session's arena (zeroed) and prepares every dispatch;
 * kiln_session_run then allocates nothing. `options` may be NULL.
 *
 * A bundle compiled for a GPU (--target cuda,...) runs every dispatch on the
 * CPU, or each on the device the compiler placed it on. On the GPU the
 * session also has a device arena of the same layout, the model's CUDA code
 * is loaded on its first GPU session (device 0, once per model) and the
 * weights copied then; inputs and outputs stay in host memory (pinned),
 * where kiln_session_input_data and kiln_session_output point. */
kiln_status kiln_session_create(kiln_model *model,
                                const kiln_session_options *options,
                                kiln_session **out);
/* Accepts NULL. */
void kiln_session_destroy(kiln_session *session);
/* Threads the session runs workgroups on (after resolving 0). */
uint32_t kiln_session_thread_count(const kiln_session *session);
/* Where the session runs its GPU-placed dispatches: KILN_DEVICE_CUDA, or
 * KILN_DEVICE_CPU when it runs everything on the CPU. */
kiln_device kiln_session_device(const kiln_session *session);
/* "NVIDIA H200, sm_90, cubin sm_90" on a GPU, the CPU target's name
 * otherwise. Never NULL. */
const char *kiln_session_device_description(const kiln_session *session);
/* Why a KILN_RUN_ON_AUTO session of a bundle with GPU code runs on the CPU
 * ("no CUDA driver: ...", "no CUDA device ..."); "" when it does not. */
const char *kiln_session_fallback_reason(const kiln_session *session);

/* Copies an input into the arena; `size_bytes` must equal the input's size. */
kiln_status kiln_session_set_input(kiln_session *session, uint32_t index,
                                   const void *data, uint64_t size_bytes);
/* The input's storage in the arena, to write in place; NULL for a bad index.
 * Writes stay until overwritten: run() does not clear inputs. */
void *kiln_session_input_data(kiln_session *session, uint32_t index);
kiln_status kiln_session_run(kiln_session *session);
/* kiln_session_run that also adds each dispatch's wall time, in
 * nanoseconds, to dispatch_nanoseconds[i] (kiln_model_dispatch_count
 * entries). Times one dispatch at a time, so it costs a little more than a
 * plain run. Hosted runtime only. */
kiln_status kiln_session_run_profiled(kiln_session *session,
                                      uint64_t *dispatch_nanoseconds);
/* The output's storage in the arena, valid until the next run or destroy. */
kiln_status kiln_session_output(kiln_session *session, uint32_t index,
                                const void **data, uint64_t *size_bytes);

/* "x86_64-avx2", "x86_64-avx512", "aarch64-neon",
 * "aarch64-neon-dotprod-fp16", "cuda", "none";
 * "unknown" for other values (kiln_section_info.target may hold one). */
const char *kiln_target_name(kiln_target target);
/* The CPU target this host runs best (the one a bundle with every target
 * would load); KILN_TARGET_NONE when it runs none. */
kiln_target kiln_host_target(void);
/* "MANIFEST", "STRINGS", "SCHEDULE", "WEIGHTS", "EXECUTABLE"; "unknown"
 * for other values (kiln_section_info.kind may hold one). */
const char *kiln_section_kind_name(uint32_t kind);
/* "f32", "i64", "bool", ...; "invalid" for unknown values. */
const char *kiln_dtype_name(kiln_dtype dtype);
/* Bytes per element; 0 for unknown values. */
uint32_t kiln_dtype_size(kiln_dtype dtype);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KILN_KILN_H */
