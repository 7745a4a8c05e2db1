#!/usr/bin/python3
"""Convolutions through kiln's NCHWc microkernels, checked against torch.

  conv_nchwc.py --kiln build/default/bin/kiln --target T [--run-with CMD]
                --work-dir DIR

Each case is a Conv (with what follows it: Add of a residual, Relu, Clip)
with random weights. The test compiles it for --target, checks in the lowered
code that it calls the kernel it should (dense blocked, depthwise, plain image
input, or none), runs the bundle (`kiln run`, or --run-with, e.g. qemu and the
aarch64 kiln-run) and compares with torch: max |kiln - torch| / max |torch|
at most 1e-5. With --precision fp16 the kernels read f16 weights and torch
gets the same weights rounded to f16. With --data-type f16 the model is one
of f16 tensors, and torch computes in f32 from the same f16 values.

The cases cover the tile edges: output planes that are not a whole number of
pixel tiles and tiles that straddle output rows, padding on every side and
asymmetric pads, strides 2 and dilation 2, an odd number of 16-channel
output blocks (the AVX-512 tile takes two at a time), channel counts padded
to whole blocks (24 in, 40 out), plain 3-channel image inputs (a 7x7 stride-2
window, strides 1 and 3, rows wider than a tile), depthwise with stride 2,
dilation 2, rows wider than a tile and more than one group of blocks, a batch
of 2, and the fused epilogues; and max pools of the blocked output (padded,
ceil mode, dilated).
"""
import sys

import numpy as np
import torch
from onnx import TensorProto, helper, numpy_helper

from kernel_cases import check_float_case, parse_arguments, reference_weights


class Case:
    """Conv of x [1 or batch, c, h, w] by a [f, c / group, k, k] filter,
    then `epilogue` ("", "relu", "clip", "add_relu"); `kernel` is the
    microkernel the lowered code must call."""

    def __init__(self, name, c, f, hw, k, kernel, stride=1, pads=None, dilation=1,
                 group=1, epilogue="", batch=1, pool=None):
        self.name, self.c, self.f, self.hw, self.k = name, c, f, hw, k
        self.kernel, self.stride, self.dilation, self.group = kernel, stride, dilation, group
        self.pads = pads if pads is not None else [k // 2] * 4
        self.epilogue, self.batch, self.pool = epilogue, batch, pool

    def build(self, rng, precision, data_type):
        """Returns the model, the feeds and torch's result."""
        # f16 data: the model's tensors are f16, torch's the same values.
        dtype = np.float16 if data_type == "f16" else np.float32
        elem = TensorProto.FLOAT16 if data_type == "f16" else TensorProto.FLOAT
        exact = lambda a: a.astype(dtype).astype(np.float32)
        x = exact(rng.standard_normal((self.batch, self.c, self.hw, self.hw)))
        w = exact(rng.standard_normal((self.f, self.c // self.group, self.k, self.k)) /
                  np.sqrt(self.c // self.group * self.k * self.k))
        b = exact(rng.standard_normal(self.f))
        top, left, bottom, right = self.pads[0], self.pads[1], self.pads[2], self.pads[3]
        padded = torch.nn.functional.pad(torch.tensor(x), (left, right, top, bottom))
        y = torch.nn.functional.conv2d(padded, torch.tensor(reference_weights(w, precision)),
                                       torch.tensor(b),
                                       stride=self.stride, dilation=self.dilation,
                                       groups=self.group)
        nodes = [helper.make_node("Conv", ["x", "w", "b"], ["conv"], name="conv",
                                  pads=self.pads, strides=[self.stride] * 2,
                                  dilations=[self.dilation] * 2, group=self.group)]
        feeds, last = {"x": x}, "conv"
        if self.epilogue == "add_relu":
            r = exact(rng.standard_normal(tuple(y.shape)))
            feeds["r"] = r
            nodes.append(helper.make_node("Add", ["conv", "r"], ["sum"], name="add"))
            nodes.append(helper.make_node("Relu", ["sum"], ["y"], name="relu"))
            y = torch.relu(y + torch.tensor(r))
            last = "y"
        elif self.epilogue == "relu":
            nodes.append(helper.make_node("Relu", ["conv"], ["y"], name="relu"))
            y, last = torch.relu(y), "y"
        elif self.epilogue == "clip":
            lo = numpy_helper.from_array(np.array(0.0, dtype), "lo")
            hi = numpy_helper.from_array(np.array(6.0, dtype), "hi")
            nodes.insert(0, helper.make_node("Constant", [], ["lo"], value=lo))
            nodes.insert(1, helper.make_node("Constant", [], ["hi"], value=hi))
            nodes.append(helper.make_node("Clip", ["conv", "lo", "hi"], ["y"], name="clip"))
            y, last = torch.clamp(y, 0.0, 6.0), "y"
        if self.pool:
            # A MaxPool of the blocked output: {kernel_shape, strides, pads,
            # dilations, ceil_mode} as ONNX has them; torch pools the -inf
            # padded input, pads as ONNX gives them (any, asymmetric too).
            nodes.append(helper.make_node("MaxPool", [last], ["pooled"], name="pool",
                                          **self.pool))
            top, left, bottom, right = self.pool["pads"]
            y = torch.nn.functional.pad(y, (left, right, top, bottom), value=-np.inf)
            y = torch.nn.functional.max_pool2d(
                y, self.pool["kernel_shape"], self.pool["strides"],
                dilation=self.pool.get("dilations", [1, 1]),
                ceil_mode=bool(self.pool.get("ceil_mode", 0)))
            last = "pooled"
        expected = y.numpy()
        graph = helper.make_graph(
            nodes, self.name,
            [helper.make_tensor_value_info(n, elem, list(v.shape)) for n, v in feeds.items()],
            [helper.make_tensor_value_info(last, elem, list(expected.shape))],
            [numpy_helper.from_array(w.astype(dtype), "w"),
             numpy_helper.from_array(b.astype(dtype), "b")])
        feeds = {n: v.astype(dtype) for n, v in feeds.items()}
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        return model, feeds, expected, last


DENSE, DEPTHWISE, PLAIN = ("kiln_ukernel_conv2d_nchwc_f32",
                           "kiln_ukernel_depthwise_conv2d_nchwc_f32",
                           "kiln_ukernel_conv2d_plain_input_f32")
MAX_POOL = "kiln_ukernel_max_pool_nchwc_f32"
CASES = [
    Case("dense_3x3_tails", 16, 48, 13, 3, DENSE),  # 3 blocks, 169 pixels
    Case("dense_1x1_relu", 32, 32, 9, 1, DENSE, epilogue="relu"),
    Case("dense_residual_relu", 32, 64, 10, 3, DENSE, epilogue="add_relu"),
    Case("dense_stride2_asymmetric", 16, 16, 15, 3, DENSE, stride=2, pads=[0, 1, 2, 0]),
    Case("dense_dilation2", 16, 32, 12, 3, DENSE, dilation=2, pads=[2, 2, 2, 2]),
    Case("dense_padded_inputs_clip", 24, 48, 11, 3, DENSE, epilogue="clip"),
    Case("dense_padded_outputs_residual", 48, 40, 6, 1, DENSE, epilogue="add_relu"),
    Case("dense_batch2", 16, 16, 7, 3, DENSE, batch=2),
    # A full group of blocks, then 1 or 2 left (AVX-512 groups 4 blocks).
    Case("dense_5_blocks_residual", 32, 80, 9, 3, DENSE, epilogue="add_relu"),
    Case("dense_1x1_6_blocks_clip", 16, 96, 14, 1, DENSE, epilogue="clip"),
    Case("dense_1x1_batch2_residual", 32, 48, 8, 1, DENSE, batch=2, epilogue="add_relu"),
    # 81 window positions: more than the kernel precomputes per tile.
    Case("dense_9x9_window", 16, 32, 12, 9, DENSE),
    Case("depthwise_stride2_clip", 32, 32, 17, 3, DEPTHWISE, stride=2, group=32,
         epilogue="clip"),
    Case("depthwise_5x5_padded", 40, 40, 9, 5, DEPTHWISE, group=40),
    # Rows of 12 pixels or more (row tiles, side positions pixel by pixel),
    # 6 blocks (one group of 4 blocks and one of 2), dilation on wide rows.
    Case("depthwise_wide_rows_6_blocks", 96, 96, 30, 3, DEPTHWISE, group=96, epilogue="relu"),
    Case("depthwise_dilation2_batch2", 32, 32, 26, 3, DEPTHWISE, group=32, dilation=2,
         pads=[2, 2, 2, 2], batch=2),
    Case("image_7x7_stride2_relu", 3, 64, 38, 7, PLAIN, stride=2, epilogue="relu"),
    Case("image_3x3_stride2_clip", 3, 32, 21, 3, PLAIN, stride=2, epilogue="clip"),
    # Rows of 12 pixels or more: tiles within one output row, window rows in
    # the padding skipped; strides 1 and 2 are specialised, 3 is not.
    Case("image_3x3_stride1_batch2", 3, 16, 26, 3, PLAIN, batch=2),
    Case("image_4x4_stride3_asymmetric", 3, 32, 40, 4, PLAIN, stride=3, pads=[2, 0, 0, 1]),
    # 81 window positions on an image input: the per-position fallback too.
    Case("image_9x9_window", 3, 16, 14, 9, PLAIN),
    Case("image_3x3_7_blocks", 3, 112, 23, 3, PLAIN, stride=2, epilogue="relu"),
    # Max pools of a blocked output (the resnet stem's pool, 3 blocks; ceil
    # mode past the end; dilation with asymmetric pads; a batch of 2), with
    # no padded copy: window positions outside the input are skipped.
    Case("max_pool_stem", 3, 48, 31, 7, [PLAIN, MAX_POOL], stride=2, epilogue="relu",
         pool=dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    Case("max_pool_ceil_mode", 16, 16, 14, 3, [DENSE, MAX_POOL], batch=2,
         pool=dict(kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 0, 0], ceil_mode=1)),
    Case("max_pool_dilation2_asymmetric", 16, 32, 13, 1, [DENSE, MAX_POOL],
         pool=dict(kernel_shape=[2, 3], strides=[1, 2], pads=[1, 0, 0, 2], dilations=[2, 2])),
]


def main():
    args, runner = parse_arguments(__doc__)
    rng = np.random.default_rng(2026)
    failures = 0
    for case in CASES:
        model, feeds, expected, output = case.build(rng, args.precision, args.data_type)
        failures += not check_float_case(args, runner, case.name, model, feeds, expected,
                                         output, case.kernel,
                                         case.c // case.group * case.k * case.k)
    print(f"NCHWc convolutions on {args.target} ({args.precision}, {args.data_type} data): "
          f"{len(CASES) - failures} / {len(CASES)} cases match torch")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
