#!/usr/bin/python3
"""Ops whose ONNX node tests are few and small, checked on random inputs
against torch: every GridSample mode x padding x align_corners, TopK along
each axis (largest and smallest, with ties), DFT/inverse/onesided against
torch.fft. Each case is a one-node model compiled and run by kiln.

  /usr/bin/python3 ops_vs_torch.py --kiln build/default/bin/kiln --work-dir DIR
"""
import argparse
import itertools
import os
import subprocess
import sys

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper


def run_node(kiln, work_dir, name, node, inputs, outputs, opset):
    """Compiles and runs a one-node model; returns its outputs by name.
    Integer inputs become initializers (K, axes: compile-time values)."""
    constants = {k: v for k, v in inputs.items() if v.dtype == np.int64}
    inputs = {k: v for k, v in inputs.items() if k not in constants}
    case_dir = os.path.join(work_dir, name)
    os.makedirs(case_dir, exist_ok=True)
    graph = helper.make_graph(
        [node], name,
        [helper.make_tensor_value_info(k, onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[v.dtype], v.shape)
         for k, v in inputs.items()],
        [helper.make_tensor_value_info(k, t, None) for k, t in outputs.items()],
        [numpy_helper.from_array(v, k) for k, v in constants.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model_path = os.path.join(case_dir, "model.onnx")
    onnx.save(model, model_path)
    bundle = os.path.join(case_dir, "model.kiln")
    subprocess.run([kiln, "compile", model_path, "-o", bundle], check=True)
    args = [kiln, "run", bundle, "--output-dir", case_dir]
    for key, value in inputs.items():
        path = os.path.join(case_dir, key + ".pb")
        onnx.save_tensor(numpy_helper.from_array(value, key), path)
        args += ["--input", f"{key}={path}"]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return {key: np.load(os.path.join(case_dir, key + ".npy")) for key in outputs}


def grid_sample_cases(rng):
    for mode, padding, align in itertools.product(
            ["bilinear", "nearest", "bicubic"], ["zeros", "border", "reflection"], [0, 1]):
        x = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
        # Reaches well outside [-1, 1] so that every padding mode matters.
        grid = (rng.random((2, 4, 6, 2)) * 3.4 - 1.7).astype(np.float32)
        node = helper.make_node("GridSample", ["X", "Grid"], ["Y"], mode=mode,
                                padding_mode=padding, align_corners=align)
        expected = torch.nn.functional.grid_sample(
            torch.tensor(x), torch.tensor(grid), mode=mode, padding_mode=padding,
            align_corners=bool(align)).numpy()
        yield f"gridsample_{mode}_{padding}_{align}", node, {"X": x, "Grid": grid}, \
            {"Y": onnx.TensorProto.FLOAT}, 16, {"Y": expected}


def top_k_cases(rng):
    for axis, largest, k in [(0, 1, 2), (1, 1, 5), (-1, 0, 3), (2, 1, 7)]:
        # Small integers make ties; torch.topk with stable sorting keeps the
        # earlier index first, as ONNX requires.
        x = rng.integers(0, 6, (4, 9, 7)).astype(np.float32)
        node = helper.make_node("TopK", ["X", "K"], ["Values", "Indices"], axis=axis,
                                largest=largest)
        order = torch.sort(torch.tensor(x), dim=axis, descending=bool(largest), stable=True)
        values = order.values.narrow(axis, 0, k).numpy()
        indices = order.indices.narrow(axis, 0, k).numpy()
        yield f"topk_{axis}_{largest}_{k}", node, {"X": x, "K": np.array([k], np.int64)}, \
            {"Values": onnx.TensorProto.FLOAT, "Indices": onnx.TensorProto.INT64}, 11, \
            {"Values": values, "Indices": indices}


def dft_cases(rng):
    x = rng.standard_normal((2, 12, 5)).astype(np.float32)
    z = rng.standard_normal((2, 12, 5, 2)).astype(np.float32)
    complex_z = torch.complex(torch.tensor(z[..., 0]), torch.tensor(z[..., 1]))
    as_pairs = lambda c: torch.stack([c.real, c.imag], -1).numpy()
    yield "dft_real_axis1", helper.make_node("DFT", ["X"], ["Y"], axis=1), {"X": x[..., None]}, \
        {"Y": onnx.TensorProto.FLOAT}, 17, {"Y": as_pairs(torch.fft.fft(torch.tensor(x), dim=1))}
    yield "dft_onesided_axis2", helper.make_node("DFT", ["X"], ["Y"], axis=2, onesided=1), \
        {"X": x[..., None]}, {"Y": onnx.TensorProto.FLOAT}, 17, \
        {"Y": as_pairs(torch.fft.rfft(torch.tensor(x), dim=2))}
    yield "dft_inverse_complex", helper.make_node("DFT", ["X"], ["Y"], axis=1, inverse=1), \
        {"X": z}, {"Y": onnx.TensorProto.FLOAT}, 17, {"Y": as_pairs(torch.fft.ifft(complex_z, dim=1))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiln", required=True)
    parser.add_argument("--work-dir", required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    failures = 0
    for cases in (grid_sample_cases, top_k_cases, dft_cases):
        for name, node, inputs, outputs, opset, expected in cases(rng):
            got = run_node(args.kiln, args.work_dir, name, node, inputs, outputs, opset)
            for key, want in expected.items():
                have = got[key]
                if have.shape != want.shape:
                    error = f"shape {have.shape} != {want.shape}"
                else:
                    scale = max(1.0, float(np.abs(want).max()))
                    err = float(np.abs(have.astype(np.float64) - want).max()) / scale
                    error = None if err <= 1e-5 else f"relative error {err:.3g}"
                print(f"{name} {key}: {'ok' if error is None else 'FAIL ' + error}")
                failures += error is not None
    print(f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
