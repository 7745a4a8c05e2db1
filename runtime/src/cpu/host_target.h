//===- host_target.h - Which executables this CPU can run -------*- C++ -*-===//
#ifndef KILN_RUNTIME_CPU_HOST_TARGET_H
#define KILN_RUNTIME_CPU_HOST_TARGET_H

#include "kiln/kiln.h"

namespace kiln::runtime {

/// How well the running CPU suits `target`: 0 when it cannot run it, else
/// larger for more capable targets, so that the best runnable one wins.
int hostTargetRank(uint32_t target);

/// The ELF e_machine executables for `target` must have (0 for unknown).
uint16_t elfMachineForTarget(uint32_t target);

/// The ELF e_machine of the running process.
uint16_t hostElfMachine();

/// The host for error messages, e.g. "x86_64 (avx2: yes, fma: no)".
const char *hostDescription();

} // namespace kiln::runtime

#endif // KILN_RUNTIME_CPU_HOST_TARGET_H
