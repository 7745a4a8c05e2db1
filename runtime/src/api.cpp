//===- api.cpp - The kiln.h C API on a hosted system ----------------------===//
//
// Glues the freestanding core (verification, dispatch plans) to the platform
// pieces (file mapping, heap, ELF loading, oneTBB) and keeps the last error
// per thread. A firmware port replaces this file, not the core.
//
//===----------------------------------------------------------------------===//

#include "bundle_verify.h"
#include "cpu/elf_loader.h"
#include "cpu/host_target.h"
#include "cpu/perf_map.h"
#include "cuda/cuda_executor.h"
#include "dispatch_plan.h"
#include "file_mapping.h"
#include "names.h"
#include "parallel_executor.h"

#include <chrono>
#include <mutex>
#include <new>
#include <stdlib.h>
#include <string.h>

using namespace kiln::runtime;

struct kiln_model {
  FileMapping mapping; // empty when opened from memory
  char *path = nullptr;
  BundleView view;
  LoadedExecutable executable;
  kiln_target target = KILN_TARGET_NONE;
  // The CUDA executable section, or view.sectionCount when there is none.
  // Its module is loaded by the first session that wants the GPU; a failure
  // is kept and not retried.
  uint32_t cudaSection = 0;
  std::mutex cudaMutex;
  bool cudaTried = false;
  cuda::Module *cudaModule = nullptr;
  ErrorMessage cudaUnavailable;
  // The WEIGHTS checksum, checked once, when the first session is created
  // (unless the open checked it or was told to trust it); a mismatch is
  // kept and fails every session.
  std::mutex weightsMutex;
  bool weightsChecked = false;
  kiln_status weightsStatus = KILN_OK;
  ErrorMessage weightsError;
};

struct kiln_session {
  kiln_model *model = nullptr;
  uint8_t *arena = nullptr;
  void *tables = nullptr; // binding pointers, then dispatch plans
  DispatchPlan *plans = nullptr;
  uint32_t dispatchCount = 0;
  uint32_t threadCount = 1;
  ParallelExecutor *executor = nullptr;
  cuda::Session *cudaSession = nullptr; // null on the CPU
  ErrorMessage fallbackReason;
};

namespace {

// Sessions are sized for this many threads at most: more is surely a bug.
constexpr uint32_t kMaxThreadCount = 4096;

thread_local ErrorMessage lastError;

kiln_status fail(kiln_status status, const ErrorMessage &message) {
  lastError = message;
  return status;
}

/// Reports misuse of the API: "<function>: <problem>".
kiln_status invalidArgument(const char *function, const char *problem) {
  lastError.clear();
  lastError << function << ": " << problem;
  return KILN_ERROR_INVALID_ARGUMENT;
}

kiln_status outOfMemory(const char *function) {
  lastError.clear();
  lastError << function << ": out of memory";
  return KILN_ERROR_OUT_OF_MEMORY;
}

kiln_status indexError(const char *function, const char *what, uint32_t index,
                       uint32_t count) {
  lastError.clear();
  lastError << function << ": " << what << " index " << index
            << " is out of range (the model has " << count << ")";
  return KILN_ERROR_INVALID_ARGUMENT;
}

void destroyModel(kiln_model *model) {
  if (!model)
    return;
  cuda::unloadModule(model->cudaModule);
  unloadElfExecutable(model->executable);
  unmapFile(model->mapping);
  free(model->path);
  delete model;
}

/// Picks the most capable executable the host can run and loads it.
kiln_status loadBestExecutable(kiln_model &model, uint32_t flags,
                               ErrorMessage &error) {
  const BundleView &view = model.view;
  if (view.header->flags & KILN_BUNDLE_FLAG_CODE_LINKED) {
    startError(error, model.path)
        << "the bundle's code is linked into a program (kiln compile --emit "
           "static-lib), not carried in the bundle; run it with that "
           "program's kiln_core_run";
    return KILN_ERROR_UNSUPPORTED;
  }
  uint32_t best = view.sectionCount;
  int bestRank = 0;
  model.cudaSection = view.sectionCount;
  for (uint32_t i = 0; i < view.sectionCount; ++i) {
    const kiln_section_entry &section = view.sections[i];
    if (section.kind != KILN_SECTION_EXECUTABLE)
      continue;
    if (section.target == KILN_TARGET_CUDA)
      model.cudaSection = i;
    int rank = hostTargetRank(section.target);
    if (rank > bestRank) {
      bestRank = rank;
      best = i;
    }
  }
  if (best == view.sectionCount) {
    startError(error, model.path) << "no executable for this host, "
                                  << hostDescription() << "; the bundle has";
    const char *separator = " ";
    for (uint32_t i = 0; i < view.sectionCount; ++i)
      if (view.sections[i].kind == KILN_SECTION_EXECUTABLE) {
        error << separator << targetName(view.sections[i].target);
        separator = ", ";
      }
    return KILN_ERROR_UNSUPPORTED;
  }
  const kiln_section_entry &section = view.sections[best];
  startSectionError(error, model.path, view, best);
  kiln_status status = loadElfExecutable(
      view.sectionData(best), section.size, elfMachineForTarget(section.target),
      view.schedule->entry_count, model.executable, error);
  if (status != KILN_OK)
    return status;
  model.target = static_cast<kiln_target>(section.target);
  if ((flags & KILN_OPEN_PERF_MAP) &&
      !writePerfMap(view.sectionData(best), section.size, model.executable,
                    view, error))
    return KILN_ERROR_IO;
  return KILN_OK;
}

kiln_status openModel(const uint8_t *data, uint64_t size, uint32_t flags,
                      kiln_model *model, kiln_model **out) {
  ErrorMessage error;
  kiln_status status =
      verifyBundle(data, size, flags, model->path, model->view, error);
  model->weightsChecked =
      flags & (KILN_OPEN_VERIFY_WEIGHTS | KILN_OPEN_TRUST_WEIGHTS);
  if (status == KILN_OK && !(flags & KILN_OPEN_SKIP_EXECUTABLE))
    status = loadBestExecutable(*model, flags, error);
  if (status != KILN_OK) {
    destroyModel(model);
    return fail(status, error);
  }
  *out = model;
  return KILN_OK;
}

constexpr uint32_t kKnownOpenFlags =
    KILN_OPEN_VERIFY_WEIGHTS | KILN_OPEN_SKIP_EXECUTABLE | KILN_OPEN_PERF_MAP |
    KILN_OPEN_TRUST_WEIGHTS;

/// The model's weights against their checksum, once per model: a flipped
/// weight would otherwise give wrong answers without an error.
kiln_status checkWeightsOnce(kiln_model &model) {
  std::lock_guard<std::mutex> lock(model.weightsMutex);
  if (!model.weightsChecked) {
    model.weightsChecked = true;
    model.weightsStatus =
        verifyLazyChecksums(model.view, model.path, model.weightsError);
  }
  return model.weightsStatus;
}

const kiln_tensor_desc *tensorAt(const kiln_model *model, bool output,
                                 uint32_t index) {
  const kiln_manifest_header &manifest = *model->view.manifest;
  uint32_t count = output ? manifest.output_count : manifest.input_count;
  if (index >= count)
    return nullptr;
  return output ? &model->view.output(index) : &model->view.input(index);
}

kiln_status tensorInfo(const kiln_model *model, bool output, uint32_t index,
                       kiln_tensor_info *out, const char *function) {
  if (!model || !out)
    return invalidArgument(function, "model and out must not be null");
  const kiln_tensor_desc *tensor = tensorAt(model, output, index);
  if (!tensor)
    return indexError(function, output ? "output" : "input", index,
                      output ? model->view.manifest->output_count
                             : model->view.manifest->input_count);
  out->name = model->view.string(tensor->name);
  out->dtype = static_cast<kiln_dtype>(tensor->dtype);
  out->rank = tensor->rank;
  out->dims = tensor->dims;
  out->size_bytes = tensor->size_bytes;
  return KILN_OK;
}

/// The model's CUDA module, loaded on first use; null with the reason in
/// `why` when the bundle has no GPU code or no GPU can run it.
cuda::Module *cudaModuleOf(kiln_model &model, ErrorMessage &why) {
  if (model.cudaSection == model.view.sectionCount) {
    why << "the bundle has no GPU code (compile it with --target cuda,...)";
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(model.cudaMutex);
  if (!model.cudaTried) {
    model.cudaTried = true;
    model.cudaModule = cuda::loadModule(model.view, model.cudaSection,
                                        model.path, model.cudaUnavailable);
  }
  if (!model.cudaModule)
    why << model.cudaUnavailable.c_str();
  return model.cudaModule;
}

void runCpuDispatch(void *context, uint32_t dispatch) {
  kiln_session &session = *static_cast<kiln_session *>(context);
  if (session.executor)
    runDispatchesInParallel(session.executor, session.plans + dispatch, 1);
  else
    runDispatchesSequentially(session.plans + dispatch, 1);
}

kiln_status runOnGpu(kiln_session &session, uint64_t *dispatchNanoseconds) {
  ErrorMessage error;
  kiln_status status =
      cuda::run(*session.cudaSession, session.model->view, runCpuDispatch,
                &session, dispatchNanoseconds, error);
  if (status != KILN_OK) {
    lastError.clear();
    lastError << "kiln_session_run: " << error.c_str();
  }
  return status;
}

} // namespace

extern "C" {

const char *kiln_last_error(void) { return lastError.c_str(); }

kiln_status kiln_model_open_file(const char *path, uint32_t flags,
                                 kiln_model **out) {
  if (out)
    *out = nullptr;
  if (!path || !out)
    return invalidArgument("kiln_model_open_file",
                           "path and out must not be null");
  if (flags & ~kKnownOpenFlags)
    return invalidArgument("kiln_model_open_file", "unknown flags");
  kiln_model *model = new (std::nothrow) kiln_model;
  char *pathCopy = model ? strdup(path) : nullptr;
  if (!pathCopy) {
    delete model;
    return outOfMemory("kiln_model_open_file");
  }
  model->path = pathCopy;
  ErrorMessage error;
  if (kiln_status status = mapFile(path, model->mapping, error)) {
    destroyModel(model);
    return fail(status, error);
  }
  return openModel(model->mapping.data, model->mapping.size, flags, model, out);
}

kiln_status kiln_model_open_memory(const void *data, size_t size,
                                   uint32_t flags, kiln_model **out) {
  if (out)
    *out = nullptr;
  if (!data || !out)
    return invalidArgument("kiln_model_open_memory",
                           "data and out must not be null");
  if (reinterpret_cast<uintptr_t>(data) % KILN_TENSOR_ALIGNMENT != 0)
    return invalidArgument("kiln_model_open_memory",
                           "data must be aligned to 64 bytes");
  if (flags & ~kKnownOpenFlags)
    return invalidArgument("kiln_model_open_memory", "unknown flags");
  kiln_model *model = new (std::nothrow) kiln_model;
  if (!model)
    return outOfMemory("kiln_model_open_memory");
  return openModel(static_cast<const uint8_t *>(data), size, flags, model, out);
}

void kiln_model_close(kiln_model *model) { destroyModel(model); }

uint32_t kiln_model_input_count(const kiln_model *model) {
  return model ? model->view.manifest->input_count : 0;
}

uint32_t kiln_model_output_count(const kiln_model *model) {
  return model ? model->view.manifest->output_count : 0;
}

kiln_status kiln_model_input_info(const kiln_model *model, uint32_t index,
                                  kiln_tensor_info *out) {
  return tensorInfo(model, false, index, out, "kiln_model_input_info");
}

kiln_status kiln_model_output_info(const kiln_model *model, uint32_t index,
                                   kiln_tensor_info *out) {
  return tensorInfo(model, true, index, out, "kiln_model_output_info");
}

uint64_t kiln_model_arena_size(const kiln_model *model) {
  return model ? model->view.manifest->arena_size : 0;
}

uint64_t kiln_model_input_arena_offset(const kiln_model *model,
                                       uint32_t index) {
  const kiln_tensor_desc *tensor =
      model ? tensorAt(model, false, index) : nullptr;
  return tensor ? tensor->arena_offset : UINT64_MAX;
}

uint64_t kiln_model_output_arena_offset(const kiln_model *model,
                                        uint32_t index) {
  const kiln_tensor_desc *tensor =
      model ? tensorAt(model, true, index) : nullptr;
  return tensor ? tensor->arena_offset : UINT64_MAX;
}

kiln_target kiln_host_target(void) {
  uint32_t best = KILN_TARGET_NONE;
  int bestRank = 0;
  // Target values are small; 16 leaves room for those to come.
  for (uint32_t target = 1; target < 16; ++target)
    if (int rank = hostTargetRank(target); rank > bestRank) {
      bestRank = rank;
      best = target;
    }
  return static_cast<kiln_target>(best);
}

const char *kiln_model_target_name(const kiln_model *model) {
  return kiln_target_name(model ? model->target : KILN_TARGET_NONE);
}

const char *kiln_model_name(const kiln_model *model) {
  return model ? model->view.string(model->view.manifest->model_name) : "";
}

const char *kiln_model_producer(const kiln_model *model) {
  return model ? model->view.string(model->view.manifest->producer) : "";
}

void kiln_model_version(const kiln_model *model, uint32_t *major,
                        uint32_t *minor) {
  if (major)
    *major = model ? model->view.header->version_major : 0;
  if (minor)
    *minor = model ? model->view.header->version_minor : 0;
}

uint64_t kiln_model_file_size(const kiln_model *model) {
  return model ? model->view.size : 0;
}

uint32_t kiln_model_dispatch_count(const kiln_model *model) {
  return model ? model->view.schedule->dispatch_count : 0;
}

const char *kiln_model_dispatch_name(const kiln_model *model, uint32_t index) {
  if (!model || index >= model->view.schedule->dispatch_count)
    return nullptr;
  return model->view.string(model->view.dispatches[index].name);
}

const char *kiln_model_dispatch_nodes(const kiln_model *model, uint32_t index) {
  if (!model || index >= model->view.schedule->dispatch_count)
    return nullptr;
  const kiln_dispatch_info *info = model->view.dispatchInfo;
  return info ? model->view.string(info[index].nodes) : "";
}

uint64_t kiln_model_dispatch_flops(const kiln_model *model, uint32_t index) {
  if (!model || index >= model->view.schedule->dispatch_count ||
      !model->view.dispatchInfo)
    return 0;
  return model->view.dispatchInfo[index].flops;
}

uint32_t kiln_model_dispatch_device(const kiln_model *model, uint32_t index) {
  if (!model || index >= model->view.schedule->dispatch_count)
    return KILN_DEVICE_CPU;
  return model->view.dispatches[index].device;
}

int kiln_model_dispatch_is_transfer(const kiln_model *model, uint32_t index) {
  return model && index < model->view.schedule->dispatch_count &&
         (model->view.dispatches[index].flags & KILN_DISPATCH_FLAG_TRANSFER);
}

uint32_t kiln_model_dispatch_binding_count(const kiln_model *model,
                                           uint32_t index) {
  if (!model || index >= model->view.schedule->dispatch_count)
    return 0;
  return model->view.dispatches[index].binding_count;
}

kiln_status kiln_model_dispatch_binding(const kiln_model *model,
                                        uint32_t dispatch, uint32_t binding,
                                        kiln_binding_info *out) {
  const char *function = "kiln_model_dispatch_binding";
  if (!model || !out)
    return invalidArgument(function, "model and out must not be null");
  if (dispatch >= model->view.schedule->dispatch_count)
    return indexError(function, "dispatch", dispatch,
                      model->view.schedule->dispatch_count);
  const kiln_dispatch_desc &desc = model->view.dispatches[dispatch];
  if (binding >= desc.binding_count)
    return indexError(function, "binding", binding, desc.binding_count);
  const kiln_binding_desc &b =
      model->view.bindings[desc.binding_first + binding];
  out->kind = b.kind;
  out->access = b.access;
  out->offset = b.offset;
  out->size = b.size;
  return KILN_OK;
}

uint32_t kiln_model_entry_count(const kiln_model *model) {
  return model ? model->view.schedule->entry_count : 0;
}

uint32_t kiln_model_section_count(const kiln_model *model) {
  return model ? model->view.sectionCount : 0;
}

const void *kiln_model_section_data(const kiln_model *model, uint32_t index) {
  if (!model || index >= model->view.sectionCount)
    return nullptr;
  return model->view.sectionData(index);
}

kiln_status kiln_model_section_info(const kiln_model *model, uint32_t index,
                                    kiln_section_info *out) {
  if (!model || !out)
    return invalidArgument("kiln_model_section_info",
                           "model and out must not be null");
  if (index >= model->view.sectionCount)
    return indexError("kiln_model_section_info", "section", index,
                      model->view.sectionCount);
  const kiln_section_entry &section = model->view.sections[index];
  out->kind = section.kind;
  out->target = section.target;
  out->offset = section.offset;
  out->size = section.size;
  out->alignment = section.alignment;
  out->checksum = section.checksum;
  out->flags = section.flags;
  return KILN_OK;
}

kiln_status kiln_session_create(kiln_model *model,
                                const kiln_session_options *options,
                                kiln_session **out) {
  const char *function = "kiln_session_create";
  if (out)
    *out = nullptr;
  if (!model || !out)
    return invalidArgument(function, "model and out must not be null");
  if (!model->executable.entries)
    return invalidArgument(function,
                           "the model was opened without an executable "
                           "(KILN_OPEN_SKIP_EXECUTABLE)");
  uint32_t threadCount = 0;
  uint32_t device = KILN_RUN_ON_AUTO;
  if (options) {
    constexpr uint32_t kThreadCountEnd =
        offsetof(kiln_session_options, thread_count) + sizeof(uint32_t);
    constexpr uint32_t kDeviceEnd =
        offsetof(kiln_session_options, device) + sizeof(uint32_t);
    if (options->struct_size < offsetof(kiln_session_options, thread_count))
      return invalidArgument(function, "options->struct_size is too small");
    if (options->struct_size >= kThreadCountEnd)
      threadCount = options->thread_count;
    if (options->struct_size >= kDeviceEnd)
      device = options->device;
  }
  if (device > KILN_RUN_ON_CUDA)
    return invalidArgument(function, "options->device is not a "
                                     "kiln_device_request");
  if (threadCount > kMaxThreadCount)
    return invalidArgument(function, "thread_count is unreasonably large");
  if (threadCount == 0)
    threadCount = defaultThreadCount();
  if (kiln_status status = checkWeightsOnce(*model))
    return fail(status, model->weightsError);

  const BundleView &view = model->view;
  const kiln_manifest_header &manifest = *view.manifest;
  const kiln_schedule_header &schedule = *view.schedule;
  ErrorMessage error;
  kiln_session *session = new (std::nothrow) kiln_session;
  if (!session) {
    error << function << ": out of memory";
    return fail(KILN_ERROR_OUT_OF_MEMORY, error);
  }
  session->model = model;
  session->dispatchCount = schedule.dispatch_count;
  session->threadCount = threadCount;

  if (device != KILN_RUN_ON_CPU) {
    ErrorMessage why;
    cuda::Module *gpu = cudaModuleOf(*model, why);
    if (gpu)
      session->cudaSession = cuda::createSession(*gpu, view, why);
    if (!session->cudaSession && device == KILN_RUN_ON_CUDA) {
      kiln_session_destroy(session);
      error << function << ": cannot run on the GPU: " << why.c_str();
      return fail(KILN_ERROR_UNSUPPORTED, error);
    }
    // A CPU-only bundle runs where it was meant to: no fallback to report.
    if (model->cudaSection != view.sectionCount)
      session->fallbackReason << why.c_str();
  }

  // aligned_alloc wants a size that is a multiple of the alignment; an empty
  // arena still gets one block so that pointers into it are valid.
  uint64_t alignment = manifest.arena_alignment > KILN_TENSOR_ALIGNMENT
                           ? manifest.arena_alignment
                           : KILN_TENSOR_ALIGNMENT;
  uint64_t arenaBytes = manifest.arena_size ? manifest.arena_size : 1;
  bool arenaFits = arenaBytes <= SIZE_MAX - alignment;
  if (session->cudaSession) {
    // Pinned, so that transfers are DMA; zeroed by the executor.
    session->arena = cuda::hostArena(session->cudaSession);
    arenaBytes = manifest.arena_size;
  } else if (arenaFits) {
    arenaBytes = (arenaBytes + alignment - 1) & ~(alignment - 1);
    session->arena =
        static_cast<uint8_t *>(aligned_alloc(alignment, arenaBytes));
  }
  size_t pointerBytes = size_t(schedule.binding_count) * sizeof(void *);
  size_t tableBytes =
      pointerBytes + size_t(schedule.dispatch_count) * sizeof(DispatchPlan);
  session->tables = malloc(tableBytes ? tableBytes : 1);
  if (threadCount > 1)
    session->executor = createParallelExecutor(threadCount);
  if (!session->arena || !session->tables ||
      (threadCount > 1 && !session->executor)) {
    kiln_session_destroy(session);
    error << function << ": cannot allocate the session (arena of "
          << manifest.arena_size << " bytes)";
    return fail(KILN_ERROR_OUT_OF_MEMORY, error);
  }
  memset(session->arena, 0, arenaBytes);
  void **bindingPointers = static_cast<void **>(session->tables);
  session->plans = reinterpret_cast<DispatchPlan *>(
      static_cast<uint8_t *>(session->tables) + pointerBytes);
  planDispatches(view, model->executable.entries, session->arena,
                 session->threadCount, bindingPointers, session->plans);
  *out = session;
  return KILN_OK;
}

void kiln_session_destroy(kiln_session *session) {
  if (!session)
    return;
  destroyParallelExecutor(session->executor);
  free(session->tables);
  if (session->cudaSession)
    cuda::destroySession(session->cudaSession);
  else
    free(session->arena);
  delete session;
}

uint32_t kiln_session_thread_count(const kiln_session *session) {
  return session ? session->threadCount : 0;
}

kiln_device kiln_session_device(const kiln_session *session) {
  return session && session->cudaSession ? KILN_DEVICE_CUDA : KILN_DEVICE_CPU;
}

const char *kiln_session_device_description(const kiln_session *session) {
  if (!session)
    return "";
  if (session->cudaSession)
    return cuda::moduleDescription(session->model->cudaModule);
  return kiln_target_name(session->model->target);
}

const char *kiln_session_fallback_reason(const kiln_session *session) {
  return session && !session->cudaSession ? session->fallbackReason.c_str()
                                          : "";
}

kiln_status kiln_session_set_input(kiln_session *session, uint32_t index,
                                   const void *data, uint64_t size_bytes) {
  const char *function = "kiln_session_set_input";
  if (!session)
    return invalidArgument(function, "session must not be null");
  const kiln_tensor_desc *input = tensorAt(session->model, false, index);
  if (!input)
    return indexError(function, "input", index,
                      session->model->view.manifest->input_count);
  if (size_bytes != input->size_bytes) {
    lastError.clear();
    lastError << function << ": input " << index << " '"
              << session->model->view.string(input->name) << "' is "
              << input->size_bytes << " bytes, got " << size_bytes;
    return KILN_ERROR_INVALID_ARGUMENT;
  }
  if (!data && size_bytes)
    return invalidArgument(function, "data must not be null");
  if (size_bytes)
    memcpy(session->arena + input->arena_offset, data, size_bytes);
  return KILN_OK;
}

void *kiln_session_input_data(kiln_session *session, uint32_t index) {
  if (!session)
    return nullptr;
  const kiln_tensor_desc *input = tensorAt(session->model, false, index);
  return input ? session->arena + input->arena_offset : nullptr;
}

kiln_status kiln_session_run(kiln_session *session) {
  if (!session)
    return invalidArgument("kiln_session_run", "session must not be null");
  if (session->cudaSession)
    return runOnGpu(*session, nullptr);
  if (session->executor)
    runDispatchesInParallel(session->executor, session->plans,
                            session->dispatchCount);
  else
    runDispatchesSequentially(session->plans, session->dispatchCount);
  return KILN_OK;
}

kiln_status kiln_session_run_profiled(kiln_session *session,
                                      uint64_t *dispatch_nanoseconds) {
  if (!session || !dispatch_nanoseconds)
    return invalidArgument("kiln_session_run_profiled",
                           "session and dispatch_nanoseconds must not be null");
  if (session->cudaSession)
    return runOnGpu(*session, dispatch_nanoseconds);
  for (uint32_t d = 0; d < session->dispatchCount; ++d) {
    auto start = std::chrono::steady_clock::now();
    if (session->executor)
      runDispatchesInParallel(session->executor, session->plans + d, 1);
    else
      runDispatchesSequentially(session->plans + d, 1);
    dispatch_nanoseconds[d] +=
        std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::steady_clock::now() - start)
            .count();
  }
  return KILN_OK;
}

kiln_status kiln_session_output(kiln_session *session, uint32_t index,
                                const void **data, uint64_t *size_bytes) {
  const char *function = "kiln_session_output";
  if (!session || !data || !size_bytes)
    return invalidArgument(function,
                           "session, data and size_bytes must not be null");
  const kiln_tensor_desc *output = tensorAt(session->model, true, index);
  if (!output)
    return indexError(function, "output", index,
                      session->model->view.manifest->output_count);
  *data = session->arena + output->arena_offset;
  *size_bytes = output->size_bytes;
  return KILN_OK;
}

} // extern "C"
