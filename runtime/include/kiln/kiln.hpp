//===- kiln.hpp - C++ wrapper over the Kiln runtime C API -------*- C++ -*-===//
//
// Header-only RAII owners for kiln_model and kiln_session. Like the C API,
// calls return a kiln_status; kiln::lastError() has the message. No
// exceptions, so the wrapper is usable in -fno-exceptions code too.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_KILN_HPP
#define KILN_KILN_HPP

#include "kiln/kiln.h"

#include <utility>

namespace kiln {

inline const char *lastError() { return kiln_last_error(); }

class Model {
public:
  Model() = default;
  ~Model() { kiln_model_close(model); }
  Model(Model &&other) noexcept : model(std::exchange(other.model, nullptr)) {}
  Model &operator=(Model &&other) noexcept {
    std::swap(model, other.model);
    return *this;
  }
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;

  /// Replaces the model this object owns (if any) on success.
  kiln_status openFile(const char *path, uint32_t flags = 0) {
    kiln_model *opened = nullptr;
    kiln_status status = kiln_model_open_file(path, flags, &opened);
    if (status == KILN_OK)
      reset(opened);
    return status;
  }
  /// `data` must outlive the model (see kiln_model_open_memory).
  kiln_status openMemory(const void *data, size_t size, uint32_t flags = 0) {
    kiln_model *opened = nullptr;
    kiln_status status = kiln_model_open_memory(data, size, flags, &opened);
    if (status == KILN_OK)
      reset(opened);
    return status;
  }
  void reset(kiln_model *owned = nullptr) {
    kiln_model_close(model);
    model = owned;
  }

  explicit operator bool() const { return model != nullptr; }
  kiln_model *get() const { return model; }

  uint32_t inputCount() const { return kiln_model_input_count(model); }
  uint32_t outputCount() const { return kiln_model_output_count(model); }
  kiln_status inputInfo(uint32_t index, kiln_tensor_info &info) const {
    return kiln_model_input_info(model, index, &info);
  }
  kiln_status outputInfo(uint32_t index, kiln_tensor_info &info) const {
    return kiln_model_output_info(model, index, &info);
  }
  uint64_t arenaSize() const { return kiln_model_arena_size(model); }
  const char *targetName() const { return kiln_model_target_name(model); }

private:
  kiln_model *model = nullptr;
};

/// Must be destroyed before the Model it was created from.
class Session {
public:
  Session() = default;
  ~Session() { kiln_session_destroy(session); }
  Session(Session &&other) noexcept
      : session(std::exchange(other.session, nullptr)) {}
  Session &operator=(Session &&other) noexcept {
    std::swap(session, other.session);
    return *this;
  }
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  /// `threadCount` 0 means every available hardware thread.
  kiln_status create(Model &model, uint32_t threadCount = 0,
                     kiln_device_request device = KILN_RUN_ON_AUTO) {
    kiln_session_options options = {sizeof(kiln_session_options), threadCount,
                                    uint32_t(device)};
    kiln_session *created = nullptr;
    kiln_status status = kiln_session_create(model.get(), &options, &created);
    if (status == KILN_OK) {
      kiln_session_destroy(session);
      session = created;
    }
    return status;
  }

  explicit operator bool() const { return session != nullptr; }
  kiln_session *get() const { return session; }

  uint32_t threadCount() const { return kiln_session_thread_count(session); }
  kiln_device device() const { return kiln_session_device(session); }
  const char *deviceDescription() const {
    return kiln_session_device_description(session);
  }
  const char *fallbackReason() const {
    return kiln_session_fallback_reason(session);
  }
  kiln_status setInput(uint32_t index, const void *data, uint64_t size) {
    return kiln_session_set_input(session, index, data, size);
  }
  void *inputData(uint32_t index) {
    return kiln_session_input_data(session, index);
  }
  kiln_status run() { return kiln_session_run(session); }
  kiln_status runProfiled(uint64_t *dispatchNanoseconds) {
    return kiln_session_run_profiled(session, dispatchNanoseconds);
  }
  kiln_status output(uint32_t index, const void *&data, uint64_t &size) {
    return kiln_session_output(session, index, &data, &size);
  }

private:
  kiln_session *session = nullptr;
};

} // namespace kiln

#endif // KILN_KILN_HPP
