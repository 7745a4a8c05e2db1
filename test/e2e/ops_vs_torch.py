#!/usr/bin/python3
"""Ops whose ONNX node tests are few and small, checked on random inputs
against torch: every GridSample mode x padding x align_corners, TopK along
each axis (largest and smallest, with ties), DFT/inverse/onesided against
torch.fft. And exporter patterns Kiln rewrites: tf2onnx's NHWC convolutions
(the Transpose pairs must fold away) and LayerNorm written out (it must
become kiln.layer_norm). Each case is a small model compiled and run by
kiln; for the patterns, the IR after `--compile-to fuse` is checked too.

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


def run_node(kiln, work_dir, name, nodes, inputs, outputs, opset):
    """Compiles and runs a model of `nodes` (one node or a list); returns
    its outputs by name, and the fuse-phase IR as "graph".
    Integer inputs (K, axes: compile-time values) and inputs named in lower
    case (weights) become initializers; the others are run-time inputs."""
    nodes = nodes if isinstance(nodes, list) else [nodes]
    constants = {k: v for k, v in inputs.items() if v.dtype == np.int64 or k[0].islower()}
    inputs = {k: v for k, v in inputs.items() if k not in constants}
    case_dir = os.path.join(work_dir, name)
    os.makedirs(case_dir, exist_ok=True)
    graph = helper.make_graph(
        nodes, name,
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
    results = {key: np.load(os.path.join(case_dir, key + ".npy")) for key in outputs}
    results["graph"] = subprocess.run(
        [kiln, "compile", model_path, "-o", bundle, "--compile-to", "fuse"],
        check=True, stdout=subprocess.PIPE, text=True).stdout
    return results


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


def exporter_pattern_cases(rng):
    # tf2onnx: NHWC input, each conv wrapped in transposes, bias and Relu
    # in NHWC between them. Only the first and last transpose may remain.
    x = rng.standard_normal((1, 6, 6, 3)).astype(np.float32)
    w1 = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    w2 = rng.standard_normal((5, 4, 1, 1)).astype(np.float32)
    bias = rng.standard_normal((4,)).astype(np.float32)
    to_nchw, to_nhwc = [0, 3, 1, 2], [0, 2, 3, 1]
    nodes = [
        helper.make_node("Transpose", ["X"], ["x_nchw"], perm=to_nchw),
        helper.make_node("Conv", ["x_nchw", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Transpose", ["c1"], ["c1_nhwc"], perm=to_nhwc),
        helper.make_node("Add", ["c1_nhwc", "bias"], ["biased"]),
        helper.make_node("Relu", ["biased"], ["r"]),
        helper.make_node("Transpose", ["r"], ["r_nchw"], perm=to_nchw),
        helper.make_node("Conv", ["r_nchw", "w2"], ["c2"]),
        helper.make_node("Transpose", ["c2"], ["Y"], perm=to_nhwc),
    ]
    torch_x = torch.tensor(x).permute(0, 3, 1, 2)
    c1 = torch.nn.functional.conv2d(torch_x, torch.tensor(w1), padding=1)
    r = torch.relu(c1 + torch.tensor(bias)[None, :, None, None])
    expected = torch.nn.functional.conv2d(r, torch.tensor(w2)).permute(0, 2, 3, 1).numpy()
    yield "nhwc_convs", nodes, {"X": x, "w1": w1, "w2": w2, "bias": bias}, \
        {"Y": onnx.TensorProto.FLOAT}, 13, {"Y": expected}, \
        lambda graph: graph.count("kiln.transpose") == 2 or "expected 2 transposes"

    # Pools between blocked convolutions pool the 16-channel blocks (24
    # channels: the second block is half padding); the layout goes back to
    # NCHW once, after the global average pool.
    x = rng.standard_normal((1, 3, 15, 15)).astype(np.float32)
    w1 = rng.standard_normal((24, 3, 3, 3)).astype(np.float32)
    w2 = (rng.standard_normal((48, 24, 3, 3)) / 8).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["X", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("MaxPool", ["c1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("AveragePool", ["c2"], ["p2"], kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], count_include_pad=0),
        helper.make_node("GlobalAveragePool", ["p2"], ["Y"]),
    ]
    c1 = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w1), padding=1)
    p1 = torch.nn.functional.max_pool2d(c1, 3, 2, 1)
    c2 = torch.nn.functional.conv2d(p1, torch.tensor(w2), padding=1)
    p2 = torch.nn.functional.avg_pool2d(c2, 3, 1, 1, count_include_pad=False)
    expected = p2.mean(dim=(2, 3), keepdim=True).numpy()
    yield "blocked_pools", nodes, {"X": x, "w1": w1, "w2": w2}, \
        {"Y": onnx.TensorProto.FLOAT}, 13, {"Y": expected}, \
        lambda graph: graph.count("kiln.from_nchwc") == 1 \
        or f"expected one kiln.from_nchwc, found {graph.count('kiln.from_nchwc')}"

    # PyTorch's LayerNorm before opset 17.
    x = rng.standard_normal((2, 5, 16)).astype(np.float32)
    gamma = rng.standard_normal((16,)).astype(np.float32)
    beta = rng.standard_normal((16,)).astype(np.float32)
    two, eps = np.array(2.0, np.float32), np.array(1e-5, np.float32)
    nodes = [
        helper.make_node("ReduceMean", ["X"], ["mean"], axes=[-1]),
        helper.make_node("Sub", ["X", "mean"], ["centered"]),
        helper.make_node("Pow", ["centered", "two"], ["squared"]),
        helper.make_node("ReduceMean", ["squared"], ["variance"], axes=[-1]),
        helper.make_node("Add", ["variance", "eps"], ["shifted"]),
        helper.make_node("Sqrt", ["shifted"], ["stddev"]),
        helper.make_node("Div", ["centered", "stddev"], ["normalized"]),
        helper.make_node("Mul", ["normalized", "gamma"], ["scaled"]),
        helper.make_node("Add", ["scaled", "beta"], ["Y"]),
    ]
    expected = torch.nn.functional.layer_norm(
        torch.tensor(x), (16,), torch.tensor(gamma), torch.tensor(beta), 1e-5).numpy()
    yield "layer_norm_written_out", nodes, \
        {"X": x, "gamma": gamma, "beta": beta, "two": two, "eps": eps}, \
        {"Y": onnx.TensorProto.FLOAT}, 13, {"Y": expected}, \
        lambda graph: ("kiln.layer_norm" in graph and "kiln.reduce_mean" not in graph) \
        or "expected one kiln.layer_norm and no reduce_mean"


    # PyTorch's exact GELU export after a Linear layer: it must become
    # kiln.gelu in the matmul's dispatch.
    x = rng.standard_normal((6, 16)).astype(np.float32)
    w = rng.standard_normal((16, 32)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["X", "w"], ["h"]),
        helper.make_node("Div", ["h", "sqrt2"], ["scaled"]),
        helper.make_node("Erf", ["scaled"], ["erf"]),
        helper.make_node("Add", ["erf", "one"], ["shifted"]),
        helper.make_node("Mul", ["h", "shifted"], ["product"]),
        helper.make_node("Mul", ["product", "half"], ["Y"]),
    ]
    expected = torch.nn.functional.gelu(torch.tensor(x) @ torch.tensor(w)).numpy()
    yield "gelu_written_out", nodes, \
        {"X": x, "w": w, "sqrt2": np.array(np.sqrt(2), np.float32),
         "one": np.array(1, np.float32), "half": np.array(0.5, np.float32)}, \
        {"Y": onnx.TensorProto.FLOAT}, 13, {"Y": expected}, \
        lambda graph: ("kiln.gelu" in graph and "kiln.erf" not in graph) \
        or "expected kiln.gelu and no kiln.erf"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiln", required=True)
    parser.add_argument("--work-dir", required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    failures = 0
    for cases in (grid_sample_cases, top_k_cases, dft_cases, exporter_pattern_cases):
        for name, node, inputs, outputs, opset, expected, *graph_check in cases(rng):
            got = run_node(args.kiln, args.work_dir, name, node, inputs, outputs, opset)
            for check in graph_check:
                verdict = check(got["graph"])
                print(f"{name} graph: {'ok' if verdict is True else 'FAIL ' + verdict}")
                failures += verdict is not True
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
