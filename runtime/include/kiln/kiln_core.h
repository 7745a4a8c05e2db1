/* kiln_core.h - the Kiln runtime core for firmware.
 *
 * Runs a model whose code is linked into the program (`kiln compile --emit
 * static-lib` writes NAME.o with the code and its entry table, NAME.h, and
 * NAME.kiln, the bundle with the schedule and weights). No heap, no OS, no
 * threads, no C library beyond memcpy/memset/memcmp: the caller owns every
 * byte. It gives
 *   - a kiln_core_model to fill (static storage is fine),
 *   - the bundle as bytes in memory or flash (8-byte aligned at least; the
 *     weights are read in place and must stay there),
 *   - the entry table from NAME.o,
 *   - an arena of kiln_core_arena_size() bytes, KILN_CORE_ARENA_ALIGNMENT
 *     aligned, where inputs, intermediates and outputs live.
 * Inputs are written to and outputs read from the arena, in place.
 *
 * Every call that can fail returns a kiln_status; kiln_core_error() is the
 * message of the last failure on that model.
 */
#ifndef KILN_KILN_CORE_H
#define KILN_KILN_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/kiln.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The alignment the arena must have (that of every buffer in it). */
#define KILN_CORE_ARENA_ALIGNMENT KILN_TENSOR_ALIGNMENT

/* Opaque; its size is part of the ABI of this version. */
typedef struct kiln_core_model {
  uint64_t opaque[96];
} kiln_core_model;

/* Verifies `bundle` (every offset, size and checksum but the weights') and
 * binds it to `code`, the entry table of the model's object file. */
kiln_status kiln_core_open(kiln_core_model *model, const void *bundle,
                           size_t size, const kiln_entry_table_header *code);

/* The message of the last failed call on `model` ("" if none). */
const char *kiln_core_error(const kiln_core_model *model);

size_t kiln_core_arena_size(const kiln_core_model *model);

uint32_t kiln_core_input_count(const kiln_core_model *model);
uint32_t kiln_core_output_count(const kiln_core_model *model);
/* Name and byte size of input/output `index`; NULL and 0 when out of range. */
const char *kiln_core_input_name(const kiln_core_model *model, uint32_t index);
const char *kiln_core_output_name(const kiln_core_model *model, uint32_t index);
size_t kiln_core_input_size(const kiln_core_model *model, uint32_t index);
size_t kiln_core_output_size(const kiln_core_model *model, uint32_t index);
/* Where input/output `index` lives in `arena`; NULL when out of range. */
void *kiln_core_input(const kiln_core_model *model, void *arena,
                      uint32_t index);
const void *kiln_core_output(const kiln_core_model *model, const void *arena,
                             uint32_t index);

/* Runs the model once on `arena` (inputs already written), every dispatch
 * on the calling thread. */
kiln_status kiln_core_run(kiln_core_model *model, void *arena,
                          size_t arena_size);

#ifdef __cplusplus
}
#endif

#endif /* KILN_KILN_CORE_H */
