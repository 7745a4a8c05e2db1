/*
 * What the compiler must know of the builtins' microkernels
 * (microkernels.c): their cache blocking and the packing workspace each
 * workgroup of a call needs. kiln-cpu-microkernels gives every call a
 * workspace of (workgroups x these bytes).
 */
#ifndef KILN_TARGETS_CPU_BUILTINS_MICROKERNELS_H
#define KILN_TARGETS_CPU_BUILTINS_MICROKERNELS_H

enum {
  /* float: 6x16 register tiles, A blocks MC x KC, B blocks KC x NC. */
  KILN_UKERNEL_F32_MC = 72,
  KILN_UKERNEL_F32_KC = 256,
  KILN_UKERNEL_F32_NC = 512,
  KILN_UKERNEL_F32_WORKSPACE_BYTES =
      4 * (KILN_UKERNEL_F32_MC * KILN_UKERNEL_F32_KC +
           KILN_UKERNEL_F32_KC * KILN_UKERNEL_F32_NC),
  /* B packed at compile time (kiln.matmul_packed): the A block only. */
  KILN_UKERNEL_F32_PACKED_WORKSPACE_BYTES =
      4 * KILN_UKERNEL_F32_MC * KILN_UKERNEL_F32_KC,
  /* int8: 8x8 tiles; packed A and B blocks, then an int32 sum per row of A
   * and per column of B. */
  KILN_UKERNEL_I8_MC = 64,
  KILN_UKERNEL_I8_KC = 512,
  KILN_UKERNEL_I8_NC = 512,
  KILN_UKERNEL_I8_WORKSPACE_BYTES =
      KILN_UKERNEL_I8_MC * KILN_UKERNEL_I8_KC +
      KILN_UKERNEL_I8_KC * KILN_UKERNEL_I8_NC +
      4 * (KILN_UKERNEL_I8_MC + KILN_UKERNEL_I8_NC),
  /* The NCHWc convolutions' activation argument. */
  KILN_UKERNEL_ACTIVATION_NONE = 0,
  KILN_UKERNEL_ACTIVATION_RELU = 1,
  KILN_UKERNEL_ACTIVATION_CLIP = 2,
};

#endif /* KILN_TARGETS_CPU_BUILTINS_MICROKERNELS_H */
