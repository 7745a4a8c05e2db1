//===- names.h - Names of targets and dtypes from raw values ----*- C++ -*-===//
//
// Part of the freestanding core. Bundle fields are plain integers that may
// hold values no enumerator names; these take them as such.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_NAMES_H
#define KILN_RUNTIME_NAMES_H

#include "kiln/kiln.h"

namespace kiln::runtime {

/// "MANIFEST", "WEIGHTS", ...; "unknown" for other values.
const char *sectionKindName(uint32_t kind);
/// kiln_target_name for a raw field value.
const char *targetName(uint32_t target);
/// kiln_dtype_name for a raw field value.
const char *dtypeName(uint32_t dtype);

} // namespace kiln::runtime

#endif // KILN_RUNTIME_NAMES_H
