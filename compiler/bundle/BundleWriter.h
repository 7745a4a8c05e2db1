//===- BundleWriter.h - Kiln bundle writer ----------------------*- C++ -*-===//
//
// Builds a Kiln bundle (runtime/include/kiln/bundle_format.h) in memory and
// writes it atomically. Has no MLIR dependency: the compiler's bundle phase
// fills it from the planned IR, and unit tests fill it by hand.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_COMPILER_BUNDLE_BUNDLEWRITER_H
#define KILN_COMPILER_BUNDLE_BUNDLEWRITER_H

#include "kiln/bundle_format.h"

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace kiln::bundle {

struct TensorSpec {
  std::string name;
  kiln_dtype dtype = KILN_DTYPE_F32;
  std::vector<int64_t> dims;
  uint64_t arenaOffset = 0;
  uint64_t sizeBytes = 0;
};

struct Binding {
  kiln_buffer_kind kind = KILN_BUFFER_ARENA;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t access = 0; // KILN_ACCESS_*
};

struct Dispatch {
  std::string name;
  uint32_t entry = 0;
  std::array<uint32_t, 3> workgroupCount = {1, 1, 1};
  std::vector<Binding> bindings;
  uint32_t flags = 0; // KILN_DISPATCH_FLAG_*
  /// For profiles (the DISPATCH_INFO section): the ONNX nodes covered,
  /// separated by ", ", and the contractions' operations.
  std::string nodes;
  uint64_t flops = 0;
  uint32_t device = KILN_DEVICE_CPU; // kiln_device
};

struct Executable {
  kiln_target target = KILN_TARGET_NONE;
  std::vector<uint8_t> image; // CPU: ELF shared object; CUDA: kiln_cuda_image
};

/// `size` bytes at `offset` of a file being written.
struct FilePiece {
  uint64_t offset;
  const void *data;
  uint64_t size;
};

class BundleWriter {
public:
  /// Appends a constant tensor to the WEIGHTS section and returns its offset
  /// there (a multiple of KILN_TENSOR_ALIGNMENT). Identical byte strings are
  /// stored once.
  uint64_t addWeight(const void *data, uint64_t size);
  /// Room for `bytes` of weights, so that adding them copies each once.
  void reserveWeights(uint64_t bytes) { weights.reserve(bytes); }

  void setModelName(std::string name) { modelName = std::move(name); }
  /// Who wrote the bundle, e.g. "kiln 0.1.0" (the default is "kiln").
  void setProducer(std::string name) { producer = std::move(name); }
  void setArenaSize(uint64_t size) { arenaSize = size; }
  void setEntryCount(uint32_t count) { entryCount = count; }
  /// The code is linked into the program (--emit static-lib): the bundle
  /// has no executables and says so in its header.
  void setCodeLinked(bool linked) { codeLinked = linked; }
  void addInput(TensorSpec spec) { inputs.push_back(std::move(spec)); }
  void addOutput(TensorSpec spec) { outputs.push_back(std::move(spec)); }
  void addDispatch(Dispatch dispatch) {
    dispatches.push_back(std::move(dispatch));
  }
  void addExecutable(Executable executable) {
    executables.push_back(std::move(executable));
  }

  /// Checks the contents against the rules the runtime's verifier enforces
  /// (ranks, sizes, arena and weight ranges, entries, targets, names), so that
  /// a compiler bug is reported at compile time. Returns false and sets
  /// `error` on the first problem. writeFile calls it.
  bool validate(std::string &error) const;

  /// The whole file. Identical contents give identical bytes. A TensorSpec
  /// with sizeBytes 0 gets product(dims) * element size.
  std::vector<uint8_t> serialize() const;

  /// Serializes and writes `path` through a temporary file in the same
  /// directory followed by a rename, so a failure leaves no file at `path`.
  /// Returns false and sets `error` (naming `path`) on failure, including
  /// when validate() fails.
  bool writeFile(const std::string &path, std::string &error) const;

private:
  /// Lays the file out and calls `use` with its size and its pieces, in
  /// order of offset (gaps between them are zeros); the pieces live until
  /// `use` returns.
  void layOut(
      const std::function<void(uint64_t, const std::vector<FilePiece> &)> &use)
      const;

  std::string modelName;
  std::string producer = "kiln";
  uint64_t arenaSize = 0;
  bool codeLinked = false;
  uint32_t entryCount = 0;
  std::vector<TensorSpec> inputs, outputs;
  std::vector<Dispatch> dispatches;
  std::vector<Executable> executables;
  std::vector<uint8_t> weights;
  // (CRC-32, offset, size) of stored weights, for deduplication.
  std::vector<std::array<uint64_t, 3>> weightIndex;
};

/// Writes `size` bytes to `path` through a temporary file renamed into
/// place: an interrupted write never leaves a partial file at `path`.
bool writeFileAtomically(const std::string &path, const void *bytes,
                         size_t size, std::string &error);

/// The same for a file of `size` bytes given as pieces at their offsets;
/// bytes no piece covers are zeros.
bool writeFileAtomically(const std::string &path, uint64_t size,
                         const std::vector<FilePiece> &pieces,
                         std::string &error);

} // namespace kiln::bundle

#endif // KILN_COMPILER_BUNDLE_BUNDLEWRITER_H
