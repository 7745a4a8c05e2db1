//===- bundle_verify.h - Verify a bundle and view it in place ---*- C++ -*-===//
//
// Part of the freestanding core. verifyBundle checks every field of a bundle
// before anything else reads it; once it succeeds, the BundleView's pointers
// may be used without further checks (nothing is parsed twice).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_BUNDLE_VERIFY_H
#define KILN_RUNTIME_BUNDLE_VERIFY_H

#include "error_message.h"
#include "kiln/kiln.h"

namespace kiln::runtime {

/// Bounds on counts, so that a hostile bundle cannot make verification loop
/// for long; far above what a compiled model needs.
constexpr uint32_t kMaxSections = 256;

struct BundleView {
  const uint8_t *data = nullptr;
  uint64_t size = 0;
  const kiln_bundle_header *header = nullptr;
  const kiln_section_entry *sections = nullptr;
  uint32_t sectionCount = 0;

  const char *strings = nullptr;
  uint64_t stringsSize = 0;
  const kiln_manifest_header *manifest = nullptr;
  const kiln_tensor_desc *tensors = nullptr; // inputs, then outputs
  const kiln_schedule_header *schedule = nullptr;
  const kiln_dispatch_desc *dispatches = nullptr;
  const kiln_binding_desc *bindings = nullptr;
  // One per dispatch, or null when the bundle has no DISPATCH_INFO section.
  const kiln_dispatch_info *dispatchInfo = nullptr;
  const uint8_t *weights = nullptr;
  uint64_t weightsSize = 0;

  const kiln_tensor_desc &input(uint32_t index) const { return tensors[index]; }
  const kiln_tensor_desc &output(uint32_t index) const {
    return tensors[manifest->input_count + index];
  }
  /// A verified string reference; NUL-terminated in place.
  const char *string(kiln_string_ref ref) const { return strings + ref.offset; }
  const uint8_t *sectionData(uint32_t index) const {
    return data + sections[index].offset;
  }
};

/// Checks the `size` bytes at `data` (aligned to 8 bytes at least) against
/// bundle_format.h and fills `view`. `origin` (the file name, or null for
/// bytes in memory) prefixes every message written to `error`. Reads only
/// within [data, data + size); reads the WEIGHTS bytes only when `flags`
/// has KILN_OPEN_VERIFY_WEIGHTS.
kiln_status verifyBundle(const uint8_t *data, uint64_t size, uint32_t flags,
                         const char *origin, BundleView &view,
                         ErrorMessage &error);

/// Checks the checksums verifyBundle leaves for later (sections flagged
/// KILN_SECTION_FLAG_LAZY_CHECKSUM: the WEIGHTS), reading all their bytes;
/// a mismatch names the section.
kiln_status verifyLazyChecksums(const BundleView &view, const char *origin,
                                ErrorMessage &error);

/// "MANIFEST", "WEIGHTS", ...; "unknown" for other values.

/// Starts `error` with "<origin>: " (nothing for a null origin).
ErrorMessage &startError(ErrorMessage &error, const char *origin);

/// Starts `error` with "<origin>: section N (KIND[ target]): ".
ErrorMessage &startSectionError(ErrorMessage &error, const char *origin,
                                const BundleView &view, uint32_t index);

} // namespace kiln::runtime

#endif // KILN_RUNTIME_BUNDLE_VERIFY_H
