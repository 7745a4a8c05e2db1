/* Calls a function it does not define: linked without --no-undefined, the
 * shared object imports it (a JUMP_SLOT relocation), which the loader must
 * refuse. */
#include "kiln/bundle_format.h"

extern float external_scale(float value);

static void scale(void *const *bindings, int64_t workgroup,
                  int64_t workgroups) {
  (void)workgroups;
  float *data = (float *)bindings[0];
  data[workgroup] = external_scale(data[workgroup]);
}

struct table {
  kiln_entry_table_header header;
  kiln_dispatch_fn entries[2];
};

__attribute__((visibility("default"))) const struct table kiln_entry_table = {
    {KILN_ENTRY_TABLE_MAGIC, KILN_ENTRY_TABLE_VERSION, 2, 0}, {scale, scale}};
