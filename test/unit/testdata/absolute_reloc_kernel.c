/* A pointer to a preemptible (default-visibility) global: the linker emits a
 * symbolic absolute relocation (R_X86_64_64 / R_AARCH64_ABS64), not a
 * RELATIVE one, which the loader must refuse. */
#include "kiln/bundle_format.h"

__attribute__((visibility("default"))) int kiln_test_counter;
__attribute__((visibility("default"))) int *kiln_test_counter_pointer =
    &kiln_test_counter;

static void touch(void *const *bindings, int64_t workgroup,
                  int64_t workgroups) {
  (void)bindings;
  (void)workgroup;
  (void)workgroups;
  ++*kiln_test_counter_pointer;
}

struct table {
  kiln_entry_table_header header;
  kiln_dispatch_fn entries[2];
};

__attribute__((visibility("default"))) const struct table kiln_entry_table = {
    {KILN_ENTRY_TABLE_MAGIC, KILN_ENTRY_TABLE_VERSION, 2, 0}, {touch, touch}};
