/*
 * Kiln bundle format, version 1.
 *
 * The one header shared by the compiler (which writes bundles) and the
 * runtime (which reads them). Plain C, fixed-layout little-endian structs with
 * explicit padding: a reader on a microcontroller can use the bytes in place.
 * docs/bundle-format.md describes the layout and the compatibility promise.
 *
 * File layout:
 *   kiln_bundle_header            at offset 0
 *   kiln_section_entry[count]     at header.section_table_offset
 *   sections                      each at entry.offset, aligned to
 *                                 entry.alignment (a power of two)
 *
 * Every offset is from the start of the file. Every string is a
 * kiln_string_ref into the STRINGS section and is NUL-terminated there.
 */
#ifndef KILN_BUNDLE_FORMAT_H
#define KILN_BUNDLE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_BUNDLE_MAGIC "KILNBNDL" /* 8 bytes, no terminator in the file */
#define KILN_BUNDLE_VERSION_MAJOR 1u
#define KILN_BUNDLE_VERSION_MINOR 6u

/* Largest tensor rank a bundle can describe. */
#define KILN_MAX_RANK 8u
/* Alignment of every weight tensor inside the WEIGHTS section and of every
 * arena buffer the compiler plans. */
#define KILN_TENSOR_ALIGNMENT 64u
/* Alignment of the WEIGHTS and EXECUTABLE sections in the file. */
#define KILN_PAGE_ALIGNMENT 4096u

/* Element types; the numbers are ONNX's TensorProto.DataType values. */
typedef enum kiln_dtype {
  KILN_DTYPE_INVALID = 0,
  KILN_DTYPE_F32 = 1,
  KILN_DTYPE_U8 = 2,
  KILN_DTYPE_I8 = 3,
  KILN_DTYPE_U16 = 4,
  KILN_DTYPE_I16 = 5,
  KILN_DTYPE_I32 = 6,
  KILN_DTYPE_I64 = 7,
  KILN_DTYPE_BOOL = 9,
  KILN_DTYPE_F16 = 10,
  KILN_DTYPE_F64 = 11,
  KILN_DTYPE_U32 = 12,
  KILN_DTYPE_U64 = 13,
  KILN_DTYPE_BF16 = 16,
} kiln_dtype;

typedef enum kiln_section_kind {
  KILN_SECTION_MANIFEST = 1,   /* kiln_manifest_header + kiln_tensor_desc[] */
  KILN_SECTION_STRINGS = 2,    /* NUL-terminated strings */
  KILN_SECTION_SCHEDULE = 3,   /* kiln_schedule_header + dispatches, bindings */
  KILN_SECTION_WEIGHTS = 4,    /* constant tensors, each 64-byte aligned */
  KILN_SECTION_EXECUTABLE = 5, /* one per target; see kiln_target */
  /* Optional (1.4): kiln_dispatch_info_header + kiln_dispatch_info[], what
   * each dispatch computes, for profiles. Readers that do not know it skip
   * it; a bundle without it runs the same. */
  KILN_SECTION_DISPATCH_INFO = 6,
} kiln_section_kind;

/* Code targets. An EXECUTABLE section's `target` field holds one. */
typedef enum kiln_target {
  KILN_TARGET_NONE = 0,
  KILN_TARGET_X86_64_AVX2 = 1,               /* x86-64 with AVX2 + FMA */
  KILN_TARGET_AARCH64_NEON = 2,              /* ARMv8-A with NEON */
  KILN_TARGET_AARCH64_NEON_DOTPROD_FP16 = 3, /* ARMv8.2-A + dotprod + fp16 */
  KILN_TARGET_X86_64_AVX512 = 4, /* x86-64 with AVX-512 F/BW/DQ/VL + AVX2 */
  KILN_TARGET_X86_64_AVX512_VNNI = 5, /* x86_64-avx512 + AVX512-VNNI */
  KILN_TARGET_CUDA = 6,               /* NVIDIA GPUs: a kiln_cuda_image (1.6) */
} kiln_target;

/* Section flags. */
enum {
  /* The section's checksum is checked only on request (kiln_model_open with
   * KILN_OPEN_VERIFY_WEIGHTS, `kiln inspect --verify`), so that opening a
   * large model does not touch every page of its weights. */
  KILN_SECTION_FLAG_LAZY_CHECKSUM = 1u,
};

typedef struct kiln_bundle_header {
  uint8_t magic[8];       /* KILN_BUNDLE_MAGIC */
  uint16_t version_major; /* readers refuse other majors */
  uint16_t version_minor; /* readers accept newer minors */
  uint32_t header_size;   /* sizeof(kiln_bundle_header) */
  uint64_t file_size;     /* exact size of the whole file */
  uint32_t section_count;
  uint32_t section_table_offset; /* kiln_section_entry[section_count] */
  uint32_t flags;                /* KILN_BUNDLE_FLAG_* */
  /* CRC-32 over the header (with this field read as 0) followed by the
   * section table. */
  uint32_t header_checksum;
  uint8_t reserved[24]; /* must be 0 */
} kiln_bundle_header;

/* Header flags. CODE_LINKED (1.2): the bundle has no EXECUTABLE section;
 * its code is an object file linked into the program that runs it
 * (`kiln compile --emit static-lib`, the firmware core kiln_core.h). */
#define KILN_BUNDLE_FLAG_CODE_LINKED 1u

typedef struct kiln_section_entry {
  uint32_t kind;      /* kiln_section_kind */
  uint32_t alignment; /* power of two; offset % alignment == 0 */
  uint64_t offset;
  uint64_t size;
  uint32_t checksum; /* CRC-32 of the section's bytes */
  uint32_t flags;    /* KILN_SECTION_FLAG_* */
  uint32_t target;   /* kiln_target for EXECUTABLE, else 0 */
  uint32_t reserved; /* must be 0 */
} kiln_section_entry;

typedef struct kiln_string_ref {
  uint32_t offset; /* into STRINGS */
  uint32_t size;   /* bytes, without the terminating NUL */
} kiln_string_ref;

/* Where a buffer lives at run time. */
typedef enum kiln_buffer_kind {
  KILN_BUFFER_ARENA = 1,   /* offset into the session's arena */
  KILN_BUFFER_WEIGHTS = 2, /* offset into the WEIGHTS section */
} kiln_buffer_kind;

/* An input or output of the model. Inputs and outputs live in the arena:
 * callers copy inputs in (or write them in place) and read outputs in place. */
typedef struct kiln_tensor_desc {
  kiln_string_ref name;
  uint32_t dtype;              /* kiln_dtype */
  uint32_t rank;               /* <= KILN_MAX_RANK */
  int64_t dims[KILN_MAX_RANK]; /* first `rank` used, rest 0 */
  uint64_t arena_offset;       /* multiple of KILN_TENSOR_ALIGNMENT */
  uint64_t size_bytes;         /* product(dims) * element size */
} kiln_tensor_desc;

typedef struct kiln_manifest_header {
  uint64_t arena_size;      /* bytes the session must provide */
  uint32_t arena_alignment; /* KILN_TENSOR_ALIGNMENT */
  uint32_t input_count;
  uint32_t output_count;
  uint32_t reserved0;
  kiln_string_ref model_name;
  kiln_string_ref producer; /* e.g. "kiln 0.1.0" */
  uint32_t reserved1[2];
  /* followed by kiln_tensor_desc[input_count + output_count], inputs first */
} kiln_manifest_header;

/* How a dispatch uses a binding (1.6; before, the field was reserved, 0).
 * For tools that follow the data (kiln inspect --graph); runtimes need not
 * read it. A transfer reads and writes its binding, on different devices. */
enum {
  KILN_ACCESS_READ = 1u,
  KILN_ACCESS_WRITE = 2u,
  KILN_ACCESS_SCRATCH = 4u, /* the dispatch's own temporary memory */
};

typedef struct kiln_binding_desc {
  uint32_t kind;   /* kiln_buffer_kind */
  uint32_t access; /* KILN_ACCESS_* (1.6); 0 before */
  uint64_t offset;   /* into the arena or the WEIGHTS section */
  uint64_t size;     /* bytes; offset + size within the arena/section */
} kiln_binding_desc;

/* One step of the schedule: run entry `entry` of the executable over a grid of
 * workgroups. The CPU executor flattens the grid: it calls the entry once per
 * workgroup id in [0, workgroup_count[0] * [1] * [2]), possibly in parallel
 * (CPU code generators emit counts of the form {N, 1, 1}). */
typedef struct kiln_dispatch_desc {
  kiln_string_ref name;   /* for profiling and error messages */
  uint32_t entry;         /* index into every executable's entry table */
  uint32_t binding_first; /* into the schedule's binding array */
  uint32_t binding_count;
  uint32_t workgroup_count[3];
  uint32_t flags;  /* KILN_DISPATCH_FLAG_* (format 1.1; 0 in 1.0) */
  uint32_t device; /* kiln_device (1.6; 0 before): where the dispatch runs
                      when the bundle runs on a GPU; a transfer's
                      destination */
} kiln_dispatch_desc;

/* Devices (1.6). A bundle compiled for a GPU places each dispatch on one;
 * where no GPU is usable every dispatch runs on the CPU. */
typedef enum kiln_device {
  KILN_DEVICE_CPU = 0,
  KILN_DEVICE_CUDA = 1,
} kiln_device;

/* Dispatch flags. */
enum {
  /* The entry computes its share of the work from the workgroup count it is
   * called with, so a runtime may launch any count from 1 to
   * workgroup_count[0] (e.g. one per thread). */
  KILN_DISPATCH_FLAG_ELASTIC_WORKGROUPS = 1u,
  /* (1.6) Not a call: makes the dispatch's one binding, an arena buffer,
   * valid on device `device` by copying it from the other device's arena
   * (each device has an arena of the same layout). `entry` and the grid are
   * 0. Where everything runs on the CPU a transfer does nothing. */
  KILN_DISPATCH_FLAG_TRANSFER = 2u,
};

typedef struct kiln_schedule_header {
  uint32_t dispatch_count;
  uint32_t binding_count;
  uint32_t entry_count; /* entries every executable must export */
  uint32_t reserved;
  /* followed by kiln_dispatch_desc[dispatch_count],
   * then kiln_binding_desc[binding_count] */
} kiln_schedule_header;

/* DISPATCH_INFO (1.4): one record per schedule dispatch, in schedule order. */
typedef struct kiln_dispatch_info_header {
  uint32_t dispatch_count; /* == the schedule's dispatch_count */
  uint32_t reserved;       /* must be 0 */
  /* followed by kiln_dispatch_info[dispatch_count] */
} kiln_dispatch_info_header;

typedef struct kiln_dispatch_info {
  /* Floating-point (or integer) operations of the model's contractions the
   * dispatch computes: 2 per multiply-add of the ONNX nodes it covers, padded
   * channels not counted; 0 for a dispatch with no contraction. A dispatch
   * split into phases ("name #0", "name #1", ...) carries its count on the
   * first phase. */
  uint64_t flops;
  /* The ONNX nodes the dispatch computes (all or part of), their names
   * separated by ", ". */
  kiln_string_ref nodes;
} kiln_dispatch_info;

/* CPU executables are position-independent ELF shared objects with no
 * dynamic imports. Each exports the symbol KILN_ENTRY_TABLE_SYMBOL, a
 * kiln_entry_table_header followed by `entry_count` function pointers. */
#define KILN_ENTRY_TABLE_SYMBOL "kiln_entry_table"
#define KILN_ENTRY_TABLE_MAGIC 0x4B455854u /* "KEXT" */
#define KILN_ENTRY_TABLE_VERSION 1u

/* A dispatch entry point. `bindings` holds one base pointer per binding of
 * the dispatch, in order. */
typedef void (*kiln_dispatch_fn)(void *const *bindings, int64_t workgroup_id,
                                 int64_t workgroup_count);

typedef struct kiln_entry_table_header {
  uint32_t magic;   /* KILN_ENTRY_TABLE_MAGIC */
  uint32_t version; /* KILN_ENTRY_TABLE_VERSION */
  uint32_t entry_count;
  uint32_t reserved;
  /* followed by kiln_dispatch_fn entries[entry_count] */
} kiln_entry_table_header;

/* A CUDA executable (1.6) is a kiln_cuda_image_header followed by
 *   kiln_cuda_binary[binary_count]   cubins for given sms, and PTX
 *   kiln_cuda_entry[entry_count]     one per schedule entry, in order
 *   kiln_cuda_launch[launch_count]   kernel launches, grouped by entry
 *   strings                          kernel names, NUL-terminated
 * and the binaries' bytes, each 16-byte aligned. Offsets are from the start
 * of the image (the section). A dispatch placed on the GPU runs its entry's
 * launches in order on one stream; every kernel takes the dispatch's
 * bindings, in order, as its parameters (one device pointer each). An entry
 * with no launches does nothing on the GPU (a later phase of a dispatch
 * whose first phase's launches did all of it). */
#define KILN_CUDA_IMAGE_MAGIC 0x4455434Bu /* "KCUD" */
#define KILN_CUDA_IMAGE_VERSION 1u

typedef enum kiln_cuda_binary_kind {
  KILN_CUDA_BINARY_CUBIN = 1, /* ELF for exactly sm `sm` */
  KILN_CUDA_BINARY_PTX = 2,   /* PTX text for compute_`sm` and newer GPUs;
                                 NUL-terminated, the NUL not in `size` */
} kiln_cuda_binary_kind;

typedef struct kiln_cuda_image_header {
  uint32_t magic;   /* KILN_CUDA_IMAGE_MAGIC */
  uint32_t version; /* KILN_CUDA_IMAGE_VERSION */
  uint32_t binary_count;
  uint32_t entry_count; /* == the schedule's entry_count */
  uint32_t launch_count;
  uint32_t strings_offset; /* kernel names */
  uint32_t strings_size;
  uint32_t reserved; /* must be 0 */
} kiln_cuda_image_header;

typedef struct kiln_cuda_binary {
  uint32_t kind; /* kiln_cuda_binary_kind */
  uint32_t sm;   /* 10 * major + minor: 75 for sm_75 / compute_75 */
  uint64_t offset;
  uint64_t size;
} kiln_cuda_binary;

typedef struct kiln_cuda_entry {
  uint32_t launch_first; /* into the launches */
  uint32_t launch_count;
} kiln_cuda_entry;

typedef struct kiln_cuda_launch {
  uint32_t kernel_name;  /* offset into the image's strings */
  uint32_t grid[3];      /* blocks */
  uint32_t block[3];     /* threads per block */
  uint32_t shared_bytes; /* dynamic shared memory */
} kiln_cuda_launch;

/* Bytes per element of `dtype`, or 0 for a value this version does not know.
 * Defines the rule kiln_tensor_desc.size_bytes follows. */
static inline uint32_t kiln_dtype_element_size(uint32_t dtype) {
  switch (dtype) {
  case KILN_DTYPE_U8:
  case KILN_DTYPE_I8:
  case KILN_DTYPE_BOOL:
    return 1;
  case KILN_DTYPE_U16:
  case KILN_DTYPE_I16:
  case KILN_DTYPE_F16:
  case KILN_DTYPE_BF16:
    return 2;
  case KILN_DTYPE_F32:
  case KILN_DTYPE_I32:
  case KILN_DTYPE_U32:
    return 4;
  case KILN_DTYPE_I64:
  case KILN_DTYPE_F64:
  case KILN_DTYPE_U64:
    return 8;
  default:
    return 0;
  }
}

/* The checksum every bundle uses: CRC-32 with the IEEE 802.3 polynomial
 * (reflected 0xEDB88320, initial value and final xor 0xFFFFFFFF), the one
 * zlib's crc32() computes. Chainable: pass 0 to start, then the previous
 * result to continue over more bytes. Implemented once, in the runtime's
 * kiln_crc32 library (runtime/src/crc32.cpp), which the bundle writer links. */
uint32_t kiln_crc32(uint32_t crc, const void *data, size_t size);

#ifdef __cplusplus
} /* extern "C" */
#endif

/* The layout is the contract: catch any accidental change at compile time. */
#ifdef __cplusplus
#define KILN_FORMAT_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define KILN_FORMAT_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif
KILN_FORMAT_STATIC_ASSERT(sizeof(kiln_bundle_header) == 64, "header layout");
KILN_FORMAT_STATIC_ASSERT(sizeof(kiln_section_entry) == 40, "section layout");
KILN_FORMAT_STATIC_ASSERT(sizeof(kiln_string_ref) == 8, "string ref layout");
KILN_FORMAT_STATIC_ASSERT(sizeof(kiln_tensor_desc) == 96, "tensor layout");
KILN_FORMAT_STATIC_ASSERT(sizeof(kiln_manifest_header) == 48,
                          "manifest layout");
KILN_FORMAT_STATIC_ASSERT(sizeof(kiln_binding_desc) == 24, "binding layout");
KILN_FORMAT_STATIC_ASSERT(sizeof(kiln_dispatch_desc) == 40, "dispatch layout");
KILN_FORMAT_STATIC_ASSERT(sizeof(kiln_schedule_header) == 16,
                          "schedule layout");
KILN_FORMAT_STATIC_ASSERT(sizeof(kiln_dispatch_info_header) == 8,
                          "dispatch info header layout");
KILN_FORMAT_STATIC_ASSERT(sizeof(kiln_dispatch_info) == 16,
                          "dispatch info layout");
KILN_FORMAT_STATIC_ASSERT(sizeof(kiln_entry_table_header) == 16,
                          "entry table layout");
KILN_FORMAT_STATIC_ASSERT(sizeof(kiln_cuda_image_header) == 32,
                          "CUDA image header layout");
KILN_FORMAT_STATIC_ASSERT(sizeof(kiln_cuda_binary) == 24, "CUDA binary layout");
KILN_FORMAT_STATIC_ASSERT(sizeof(kiln_cuda_entry) == 8, "CUDA entry layout");
KILN_FORMAT_STATIC_ASSERT(sizeof(kiln_cuda_launch) == 32, "CUDA launch layout");
#undef KILN_FORMAT_STATIC_ASSERT

#endif /* KILN_BUNDLE_FORMAT_H */
