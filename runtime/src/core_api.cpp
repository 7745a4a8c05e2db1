//===- core_api.cpp - kiln_core.h: the runtime for firmware ---------------===//
//
// Freestanding: the model's state lives in the caller's kiln_core_model, the
// bindings of a dispatch in a fixed array on the stack. The code comes from
// the program's own entry table, so there is no loading: verification, then
// for each dispatch its binding pointers and its workgroups, in order.
//
//===----------------------------------------------------------------------===//

#include "kiln/kiln_core.h"

#include "dispatch_plan.h"

namespace kiln::runtime {
namespace {

/// A dispatch's bindings are gathered on the stack; the compiler's largest
/// dispatches (fused epilogues) have a handful.
constexpr uint32_t kMaxBindingsPerDispatch = 64;

struct CoreModel {
  BundleView view;
  const kiln_entry_table_header *code = nullptr;
  ErrorMessage error;
};

static_assert(sizeof(CoreModel) <= sizeof(kiln_core_model),
              "kiln_core_model is too small for CoreModel");
static_assert(alignof(CoreModel) <= alignof(kiln_core_model),
              "kiln_core_model is not aligned enough for CoreModel");

CoreModel &state(kiln_core_model *model) {
  return *reinterpret_cast<CoreModel *>(model);
}
const CoreModel &state(const kiln_core_model *model) {
  return *reinterpret_cast<const CoreModel *>(model);
}

const kiln_dispatch_fn *entries(const kiln_entry_table_header *code) {
  return reinterpret_cast<const kiln_dispatch_fn *>(code + 1);
}

} // namespace
} // namespace kiln::runtime

using namespace kiln::runtime;

extern "C" {

kiln_status kiln_core_open(kiln_core_model *model, const void *bundle,
                           size_t size, const kiln_entry_table_header *code) {
  if (!model)
    return KILN_ERROR_INVALID_ARGUMENT;
  // Placement without <new>: the storage is the caller's, zeroed here.
  __builtin_memset(model, 0, sizeof(*model));
  CoreModel &m = state(model);
  m.error.clear();
  if (!bundle || !code) {
    m.error << "kiln_core_open: null bundle or entry table";
    return KILN_ERROR_INVALID_ARGUMENT;
  }
  if (reinterpret_cast<uintptr_t>(bundle) % 8 != 0) {
    m.error << "kiln_core_open: the bundle must be 8-byte aligned";
    return KILN_ERROR_INVALID_ARGUMENT;
  }
  kiln_status status = verifyBundle(static_cast<const uint8_t *>(bundle), size,
                                    0, nullptr, m.view, m.error);
  if (status != KILN_OK)
    return status;
  if (!(m.view.header->flags & KILN_BUNDLE_FLAG_CODE_LINKED)) {
    m.error << "the bundle carries its code as executables; firmware needs "
               "one compiled with kiln compile --emit static-lib";
    return KILN_ERROR_UNSUPPORTED;
  }
  if (code->magic != KILN_ENTRY_TABLE_MAGIC ||
      code->version != KILN_ENTRY_TABLE_VERSION) {
    m.error << "the entry table is not a Kiln entry table of version "
            << KILN_ENTRY_TABLE_VERSION;
    return KILN_ERROR_INVALID_ARGUMENT;
  }
  const kiln_schedule_header &schedule = *m.view.schedule;
  for (uint32_t d = 0; d < schedule.dispatch_count; ++d) {
    const kiln_dispatch_desc &dispatch = m.view.dispatches[d];
    if (dispatch.entry >= code->entry_count) {
      m.error << "dispatch " << d << " calls entry " << dispatch.entry
              << " but the entry table has " << code->entry_count
              << " (an object file from another model?)";
      return KILN_ERROR_INVALID_ARGUMENT;
    }
    if (dispatch.binding_count > kMaxBindingsPerDispatch) {
      m.error << "dispatch " << d << " has " << dispatch.binding_count
              << " bindings; the core takes at most "
              << kMaxBindingsPerDispatch;
      return KILN_ERROR_UNSUPPORTED;
    }
  }
  m.code = code;
  return KILN_OK;
}

const char *kiln_core_error(const kiln_core_model *model) {
  return model ? state(model).error.c_str() : "null model";
}

size_t kiln_core_arena_size(const kiln_core_model *model) {
  return state(model).view.manifest->arena_size;
}

uint32_t kiln_core_input_count(const kiln_core_model *model) {
  return state(model).view.manifest->input_count;
}

uint32_t kiln_core_output_count(const kiln_core_model *model) {
  return state(model).view.manifest->output_count;
}

const char *kiln_core_input_name(const kiln_core_model *model, uint32_t index) {
  const BundleView &view = state(model).view;
  return index < view.manifest->input_count
             ? view.string(view.input(index).name)
             : nullptr;
}

const char *kiln_core_output_name(const kiln_core_model *model,
                                  uint32_t index) {
  const BundleView &view = state(model).view;
  return index < view.manifest->output_count
             ? view.string(view.output(index).name)
             : nullptr;
}

size_t kiln_core_input_size(const kiln_core_model *model, uint32_t index) {
  const BundleView &view = state(model).view;
  return index < view.manifest->input_count ? view.input(index).size_bytes : 0;
}

size_t kiln_core_output_size(const kiln_core_model *model, uint32_t index) {
  const BundleView &view = state(model).view;
  return index < view.manifest->output_count ? view.output(index).size_bytes
                                             : 0;
}

void *kiln_core_input(const kiln_core_model *model, void *arena,
                      uint32_t index) {
  const BundleView &view = state(model).view;
  if (!arena || index >= view.manifest->input_count)
    return nullptr;
  return static_cast<uint8_t *>(arena) + view.input(index).arena_offset;
}

const void *kiln_core_output(const kiln_core_model *model, const void *arena,
                             uint32_t index) {
  const BundleView &view = state(model).view;
  if (!arena || index >= view.manifest->output_count)
    return nullptr;
  return static_cast<const uint8_t *>(arena) + view.output(index).arena_offset;
}

kiln_status kiln_core_run(kiln_core_model *model, void *arena,
                          size_t arena_size) {
  CoreModel &m = state(model);
  m.error.clear();
  if (!m.code) {
    m.error << "kiln_core_run: the model is not open";
    return KILN_ERROR_INVALID_ARGUMENT;
  }
  if (arena_size < m.view.manifest->arena_size ||
      (m.view.manifest->arena_size != 0 &&
       (!arena ||
        reinterpret_cast<uintptr_t>(arena) % KILN_CORE_ARENA_ALIGNMENT))) {
    m.error << "kiln_core_run: the arena must be "
            << m.view.manifest->arena_size << " bytes, "
            << KILN_CORE_ARENA_ALIGNMENT << "-byte aligned (got "
            << static_cast<unsigned long long>(arena_size) << " bytes)";
    return KILN_ERROR_INVALID_ARGUMENT;
  }
  uint8_t *arenaBytes = static_cast<uint8_t *>(arena);
  const kiln_schedule_header &schedule = *m.view.schedule;
  void *bindings[kMaxBindingsPerDispatch];
  for (uint32_t d = 0; d < schedule.dispatch_count; ++d) {
    const kiln_dispatch_desc &dispatch = m.view.dispatches[d];
    for (uint32_t b = 0; b < dispatch.binding_count; ++b)
      bindings[b] = bindingAddress(
          m.view, m.view.bindings[dispatch.binding_first + b], arenaBytes);
    // One thread: an elastic dispatch does all its work in one workgroup.
    int64_t workgroups = workgroupsFor(dispatch, 1);
    kiln_dispatch_fn entry = entries(m.code)[dispatch.entry];
    for (int64_t w = 0; w < workgroups; ++w)
      entry(bindings, w, workgroups);
  }
  return KILN_OK;
}

} // extern "C"
