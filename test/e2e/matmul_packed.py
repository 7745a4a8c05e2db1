#!/usr/bin/python3
"""Products by compile-time packed weights (kiln.matmul_packed), checked
against numpy.

  matmul_packed.py --kiln build/default/bin/kiln --target T [--run-with CMD]
                   --work-dir DIR

Each case is an ONNX MatMul of a run-time input [..., M, K] by constant
weights [K, N]. The test compiles it for --target, checks in the lowered code
that it calls the packed-panel kernel (or, for one or two rows, the plain
one), runs the bundle (`kiln run`, or --run-with, e.g. qemu and the aarch64
kiln-run) and compares with a float64 product: max |kiln - ref| / max |ref|
at most 1e-5. With --precision fp16 the kernels read f16 weights and the
reference uses the same weights rounded to f16; on a target with fp16
arithmetic the products compute in f16 (the `_f16_fp16` kernels) and the
check allows kernel_cases.fp16_tolerance(K).

The cases cover the panel edges: N not a multiple of 16 or 32 (the AVX-512
tile reads two 16-column panels, the last of them zero), rows that are not a
whole number of register tiles, K beyond one cache block (256), a batch
folded into the rows, and the matrix-vector case that stays unpacked; and
Gemm with B transposed (a Linear layer as torch exports it), whose weights
are read strided: packed at run time, or in place for two rows.
"""
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from kernel_cases import check_float_case, parse_arguments, reference_weights

PACKED, PLAIN = "kiln_ukernel_matmul_packed_f32", "kiln_ukernel_matmul_f32"

# (name, input shape, N, kernel[, op]): op "gemm" is Gemm(x, w^T), w [N, K].
CASES = [
    ("tiles_exact", (24, 64), 64, PACKED),
    ("odd_columns", (13, 40), 50, PACKED),
    ("one_panel", (7, 9), 16, PACKED),
    ("deep_k", (30, 600), 33, PACKED),
    ("batch_folded", (2, 37, 48), 96, PACKED),
    ("two_rows_unpacked", (2, 64), 48, PLAIN),
    ("gemm_trans_b", (9, 40), 24, PLAIN, "gemm"),
    ("gemm_trans_b_two_rows", (2, 72), 20, PLAIN, "gemm"),
]


def build(name, shape, n, rng, precision, op="matmul"):
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((shape[-1], n)).astype(np.float32)
    out_shape = list(shape[:-1]) + [n]
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name=name)
    expected = (x.astype(np.float64) @
                reference_weights(w, precision).astype(np.float64)).astype(np.float32)
    if op == "gemm":
        w = np.ascontiguousarray(w.T)
        node = helper.make_node("Gemm", ["x", "w"], ["y"], name=name, transB=1)
    graph = helper.make_graph(
        [node], name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    return model, {"x": x}, expected


def main():
    args, runner = parse_arguments(__doc__)
    rng = np.random.default_rng(2026)
    failures = 0
    for name, shape, n, kernel, *op in CASES:
        model, feeds, expected = build(name, shape, n, rng, args.precision, *op)
        failures += not check_float_case(args, runner, name, model, feeds, expected, "y",
                                         kernel, shape[-1])
    print(f"packed matrix products on {args.target} ({args.precision}): "
          f"{len(CASES) - failures} / {len(CASES)} cases match")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
