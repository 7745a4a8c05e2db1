#!/usr/bin/python3
"""Writes a MatMulInteger benchmark: uint8 activations [M, K] (zero point
128) times int8 weights [K, N] (zero point 0), as ONNX Runtime's dynamic
quantization produces for a Linear layer.

  /usr/bin/python3 utils/bench/make_int8_matmul.py --out-dir DIR [--m 256 --k 1024 --n 1024]

DIR gets model.onnx and x.npy, for
`compare.py --model DIR/model.onnx --input x=DIR/x.npy`.
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--m", type=int, default=256)
    parser.add_argument("--k", type=int, default=1024)
    parser.add_argument("--n", type=int, default=1024)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    m, k, n = args.m, args.k, args.n
    initializers = [
        numpy_helper.from_array(rng.integers(-128, 128, (k, n), dtype=np.int8), "w"),
        numpy_helper.from_array(np.array(128, np.uint8), "x_zero"),
        numpy_helper.from_array(np.array(0, np.int8), "w_zero"),
    ]
    node = helper.make_node("MatMulInteger", ["x", "w", "x_zero", "w_zero"], ["y"])
    graph = helper.make_graph(
        [node], "int8_matmul", [helper.make_tensor_value_info("x", TensorProto.UINT8, [m, k])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [m, n])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    os.makedirs(args.out_dir, exist_ok=True)
    onnx.save(model, os.path.join(args.out_dir, "model.onnx"))
    np.save(os.path.join(args.out_dir, "x.npy"), rng.integers(0, 256, (m, k), dtype=np.uint8))


if __name__ == "__main__":
    main()
