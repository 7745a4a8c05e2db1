#!/usr/bin/python3
"""MatMulInteger through kiln's int8 microkernel, checked exactly against NumPy.

  int8_matmul.py --kiln build/default/bin/kiln --target T [--run-with CMD]
                 --work-dir DIR

Each case is one MatMulInteger model with random bytes and zero points. The
test compiles it for --target, checks in the lowered code that the 2-D
products call the microkernel the target should use (the sdot tile on
aarch64-neon-dotprod-fp16, the AVX2 one on x86_64-avx2, the portable one on
aarch64-neon) and that batched ones
keep their loops, runs the bundle (`kiln run`, or --run-with, e.g. qemu and the
aarch64 kiln-run), and compares the int32 result with NumPy's bit for bit.

The shapes cover the tile edges (M, N not multiples of 8, K not a multiple of
4), K and N beyond one packed block (512), a product large enough to be split
over workgroups, uint8 and int8 on either side, zero points that are
constants, per-row, per-column or graph inputs, a batch folded into rows, and
products of at most 4 rows (B read in place instead of packed).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from kernel_cases import compile_and_run, lowered_kernels, parse_arguments

ELEMENT = {np.uint8: TensorProto.UINT8, np.int8: TensorProto.INT8}


def random_bytes(rng, dtype, shape):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape, dtype=dtype)


class Case:
    """A[a_shape] (a_dtype) x B[b_shape] (b_dtype) with zero points.

    a_zero / b_zero: None (absent), "scalar", "vector" (per row of A / per
    column of B); zero points are weights unless zero_inputs, when they are
    graph inputs. B is a weight unless b_input. `kernel` is the microkernel
    family the lowered code must call ("i8"), or None for loops.
    """

    def __init__(self, name, a_shape, b_shape, a_dtype, b_dtype, a_zero, b_zero,
                 zero_inputs=False, b_input=False, kernel="i8"):
        self.name, self.a_shape, self.b_shape = name, a_shape, b_shape
        self.a_dtype, self.b_dtype = a_dtype, b_dtype
        self.a_zero, self.b_zero = a_zero, b_zero
        self.zero_inputs, self.b_input, self.kernel = zero_inputs, b_input, kernel

    def build(self, rng):
        """Returns the model, the feeds, and the expected int32 result."""
        a = random_bytes(rng, self.a_dtype, self.a_shape)
        b = random_bytes(rng, self.b_dtype, self.b_shape)
        rows = self.a_shape[-2] if len(self.a_shape) > 1 else 1
        columns = self.b_shape[-1]
        values = {"a": a, "b": b}
        inputs = ["a", "b", "", ""]
        za = zb = 0
        if self.a_zero:
            za = random_bytes(rng, self.a_dtype, () if self.a_zero == "scalar" else (rows,))
            values["a_zero"], inputs[2] = za, "a_zero"
        if self.b_zero:
            zb = random_bytes(rng, self.b_dtype, () if self.b_zero == "scalar" else (columns,))
            values["b_zero"], inputs[3] = zb, "b_zero"
        while inputs and not inputs[-1]:
            inputs.pop()
        graph_inputs = ["a"] + (["b"] if self.b_input else [])
        if self.zero_inputs:
            graph_inputs += [n for n in ("a_zero", "b_zero") if n in values]
        weights = [numpy_helper.from_array(np.asarray(v), n)
                   for n, v in values.items() if n not in graph_inputs]
        za_column = np.asarray(za, np.int64).reshape(-1, 1) if np.ndim(za) else np.int64(za)
        expected = np.matmul(a.astype(np.int64) - za_column,
                             b.astype(np.int64) - np.asarray(zb, np.int64))
        expected = expected.astype(np.int32)  # int32 accumulation wraps
        node = helper.make_node("MatMulInteger", inputs, ["y"], name="mmi")
        graph = helper.make_graph(
            [node], self.name,
            [helper.make_tensor_value_info(n, ELEMENT[values[n].dtype.type],
                                           list(values[n].shape))
             for n in graph_inputs],
            [helper.make_tensor_value_info("y", TensorProto.INT32, list(expected.shape))],
            weights)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        return model, {n: values[n] for n in graph_inputs}, expected


CASES = [
    Case("u8_s8_edges", (33, 70), (70, 45), np.uint8, np.int8, "scalar", "vector"),
    Case("s8_s8_blocks_split", (70, 600), (600, 520), np.int8, np.int8, None, None),
    Case("u8_u8_row_zero_inputs", (19, 37), (37, 23), np.uint8, np.uint8, "vector",
         "scalar", zero_inputs=True, b_input=True),
    Case("s8_u8_folded_batch", (2, 3, 10, 40), (40, 17), np.int8, np.uint8, "vector",
         "vector"),
    Case("s8_s8_vector", (24,), (24, 9), np.int8, np.int8, "scalar", None),
    # At most 4 rows: B is read in place (no packing), 64 and 16 columns at
    # a time, then the columns left one by one; unsigned B, or unsigned A
    # without a zero point, multiply with vpmaddwd on x86.
    Case("u8_u8_few_rows", (3, 300), (300, 37), np.uint8, np.uint8, "vector", "vector"),
    Case("u8_s8_one_row_wide", (1, 64), (64, 1000), np.uint8, np.int8, "scalar", None),
    Case("u8_s8_two_rows_zero_point_0", (2, 130), (130, 70), np.uint8, np.int8, None, "vector"),
    Case("batched_loops", (2, 5, 12), (2, 12, 7), np.uint8, np.int8, "scalar", "scalar",
         kernel=None),
]


def expected_call(kernel, target):
    if kernel is None:
        return None
    suffix = {"aarch64-neon-dotprod-fp16": "_sdot", "x86_64-avx2": "_avx2"}.get(target, "")
    return f"kiln_ukernel_matmul_{kernel}{suffix}"


def main():
    args, runner = parse_arguments(__doc__)
    rng = np.random.default_rng(2026)
    failures = 0
    for case in CASES:
        model, feeds, expected = case.build(rng)
        base = os.path.join(args.work_dir, case.name)
        onnx.save(model, base + ".onnx")
        call = expected_call(case.kernel, args.target)
        calls = lowered_kernels(args.kiln, base + ".onnx", args.target, "kiln_ukernel_matmul_i8")
        if (call is None and calls) or (call is not None and calls != [call]):
            print(f"{case.name}: FAIL: lowered code calls {calls or 'no microkernel'}, "
                  f"expected {call or 'loops'}")
            failures += 1
            continue
        actual = compile_and_run(args.kiln, runner, base + ".onnx", args.target, base, feeds, "y")
        wrong = int(np.count_nonzero(actual != expected)) if actual.shape == expected.shape else -1
        status = "ok" if wrong == 0 else "FAIL"
        print(f"{case.name}: {status}: {expected.shape} via {call or 'loops'}, "
              f"{'shape ' + str(actual.shape) if wrong < 0 else str(wrong) + ' wrong elements'}")
        failures += wrong != 0
    print(f"int8 matmul on {args.target}: {len(CASES) - failures} / {len(CASES)} cases exact")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
