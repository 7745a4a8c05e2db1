//===- TestSupport.h - Helpers shared by the unit tests ---------*- C++ -*-===//
#ifndef KILN_TEST_UNIT_TESTSUPPORT_H
#define KILN_TEST_UNIT_TESTSUPPORT_H

#include "compiler/bundle/BundleWriter.h"
#include "kiln/kiln.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace kiln::test {

/// Path of a test executable built by test/unit/CMakeLists.txt.
std::string testdataPath(const std::string &name);
std::vector<uint8_t> readFileBytes(const std::string &path);
void writeFileBytes(const std::string &path, const std::vector<uint8_t> &bytes);

/// The target a bundle for this host must name.
kiln_target hostTarget();

/// The test model: y = (a + b) * scale over `count` f32 elements, in two
/// dispatches (add_kernel.c's entries) of `workgroups` workgroups each. The
/// element count and the scale factors are weights.
struct AddModel {
  uint64_t count = 1000;
  uint32_t workgroups = 7;
  std::vector<float> scale; // filled by build()
  bundle::BundleWriter writer;
  /// An empty `executable` makes a code-linked bundle (--emit static-lib).
  void build(const std::vector<uint8_t> &executable,
             kiln_target target = hostTarget());
  /// The expected output for the deterministic inputs below.
  std::vector<float> expected() const;
  std::vector<float> inputA() const;
  std::vector<float> inputB() const;
};

/// AddModel with add_kernel.so, serialized.
std::vector<uint8_t> buildAddBundle(uint64_t count = 1000,
                                    uint32_t workgroups = 7);

/// Bytes aligned as kiln_model_open_memory requires.
class AlignedBytes {
public:
  explicit AlignedBytes(const std::vector<uint8_t> &bytes);
  const void *data() const { return storage.get(); }
  size_t size() const { return length; }

private:
  struct Free {
    void operator()(void *p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> storage;
  size_t length;
};

/// Recomputes every section checksum and the header checksum, so that a test
/// can corrupt a field and reach the checks behind the checksums.
void resealBundle(std::vector<uint8_t> &bytes);

/// Opens `bytes` from memory; returns the status, closes the model.
kiln_status openBytes(const std::vector<uint8_t> &bytes, uint32_t flags = 0);

/// A fresh directory under the build tree's temp dir, removed at the end.
class TempDir {
public:
  TempDir();
  ~TempDir();
  const std::string &path() const { return dir; }
  std::string file(const std::string &name) const { return dir + "/" + name; }
  std::vector<std::string> entries() const;

private:
  std::string dir;
};

/// Offsets of the structs inside a serialized bundle, for targeted edits.
struct BundleLayout {
  explicit BundleLayout(const std::vector<uint8_t> &bytes);
  const kiln_section_entry &section(uint32_t kind) const;
  uint64_t sectionOffset(uint32_t kind) const { return section(kind).offset; }
  std::vector<kiln_section_entry> sections;
};

template <typename T> T readAt(const std::vector<uint8_t> &bytes, size_t at) {
  T value;
  std::memcpy(&value, bytes.data() + at, sizeof(T));
  return value;
}
template <typename T>
void writeAt(std::vector<uint8_t> &bytes, size_t at, const T &value) {
  std::memcpy(bytes.data() + at, &value, sizeof(T));
}

} // namespace kiln::test

#endif // KILN_TEST_UNIT_TESTSUPPORT_H
