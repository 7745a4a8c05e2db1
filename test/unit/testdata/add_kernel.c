/* A tiny Kiln CPU executable for the runtime tests, linked like the compiler
 * links generated code (-shared -nostdlib, no imports).
 *
 * Every dispatch gets its element count from a WEIGHTS binding (an int64),
 * so the tests exercise both arena and weight bindings, and splits the
 * elements evenly over its workgroups.
 *   entry 0  add:    bindings {a, b, out, count}   out = a + b
 *   entry 1  scale:  bindings {in, scale, out, count}  out = in * scale
 */
#include "kiln/bundle_format.h"

static void chunk(int64_t count, int64_t workgroup, int64_t workgroups,
                  int64_t *begin, int64_t *end) {
  *begin = count * workgroup / workgroups;
  *end = count * (workgroup + 1) / workgroups;
}

static void add(void *const *bindings, int64_t workgroup, int64_t workgroups) {
  const float *a = (const float *)bindings[0];
  const float *b = (const float *)bindings[1];
  float *out = (float *)bindings[2];
  int64_t begin, end;
  chunk(*(const int64_t *)bindings[3], workgroup, workgroups, &begin, &end);
  for (int64_t i = begin; i < end; ++i)
    out[i] = a[i] + b[i];
}

static void scale(void *const *bindings, int64_t workgroup,
                  int64_t workgroups) {
  const float *in = (const float *)bindings[0];
  const float *factor = (const float *)bindings[1];
  float *out = (float *)bindings[2];
  int64_t begin, end;
  chunk(*(const int64_t *)bindings[3], workgroup, workgroups, &begin, &end);
  for (int64_t i = begin; i < end; ++i)
    out[i] = in[i] * factor[i];
}

struct add_kernel_entry_table {
  kiln_entry_table_header header;
  kiln_dispatch_fn entries[2];
};

__attribute__((visibility("default")))
const struct add_kernel_entry_table kiln_entry_table = {
    {KILN_ENTRY_TABLE_MAGIC, KILN_ENTRY_TABLE_VERSION, 2, 0},
    {add, scale},
};
