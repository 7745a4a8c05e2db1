#!/usr/bin/python3
"""QDQ convolutions through kiln's int8 NCHWc kernels, checked against NumPy.

  quantized_conv.py --kiln build/default/bin/kiln --target T [--run-with CMD]
                    --work-dir DIR

Each case is a QDQ graph: a uint8 (or int8) input dequantized, a Conv of int8 weights
(per output channel, or per tensor) and an int32 bias, both dequantized,
then Relu or Clip, then QuantizeLinear to uint8 (or a float output); or a
residual block's end, the convolution quantized, dequantized, added to a
dequantized uint8 shortcut, activated and quantized again. The test
compiles it for --target, checks in the lowered code that it calls the int8
kernel it should (the VNNI tile on x86_64-avx512-vnni, the exact AVX2 one on
the other x86 targets, sdot on aarch64-neon-dotprod-fp16, the portable one
on aarch64-neon; the depthwise kernel, its VNNI form on x86_64-avx512-vnni,
which takes windows up to 4 columns wide itself), runs the bundle
(`kiln run`, or --run-with, e.g. qemu and the aarch64 kiln-run) and compares
with the QDQ graph evaluated in float64 by NumPy: quantized outputs may
differ by one step where the exact value lies within float rounding of a
tie (at most 1% of them), float outputs by 1e-5 of their largest value.

The cases cover the tile edges (planes that are not whole tiles, 3 and 5
blocks of output channels, channel counts padded to whole blocks), input
zero points that are not 0 (so the padding must read them), stride 2 with
asymmetric pads, dilation, a batch of 2, 1x1 convolutions on one-to-one
planes, per-tensor weights with a bias of zeros, image inputs of 1 and 3
channels read plain (windows of 3, 5 and 7 columns, strides 1 to 3,
asymmetric pads), depthwise windows of 2x2, 3x3
and 5x5 with strides 1 and 2, rows wider than a tile and planes narrower
than one, and residual
blocks with and without Relu, and int8 activations (input, output and
shortcut).

A host without AVX512-VNNI compiles and checks the x86_64-avx512-vnni cases
but cannot run them: the test then exits 77 (ctest's skip).
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from kernel_cases import compile_and_run, lowered_kernels, parse_arguments

SKIPPED = 77


def round_half_even(x):
    return np.round(x)  # NumPy rounds halves to even, as QuantizeLinear does


def quantize(x, scale, zero, signed=False):
    low, high = (-128, 127) if signed else (0, 255)
    return np.clip(round_half_even(x / scale) + zero, low, high)


def conv2d(x, w, stride, pads, dilation, group):
    """float64 convolution of x [N, C, H, W] by w [F, C/group, KH, KW]."""
    n, c, h, wd = x.shape
    f, cpg, kh, kw = w.shape
    top, left, bottom, right = pads
    padded = np.zeros((n, c, h + top + bottom, wd + left + right))
    padded[:, :, top:top + h, left:left + wd] = x
    oh = (h + top + bottom - dilation * (kh - 1) - 1) // stride + 1
    ow = (wd + left + right - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((n, f, oh, ow))
    fpg = f // group
    for g in range(group):
        xs = padded[:, g * cpg:(g + 1) * cpg]
        for y in range(kh):
            for x_ in range(kw):
                window = xs[:, :, y * dilation:y * dilation + stride * (oh - 1) + 1:stride,
                            x_ * dilation:x_ * dilation + stride * (ow - 1) + 1:stride]
                out[:, g * fpg:(g + 1) * fpg] += np.einsum(
                    "nchw,fc->nfhw", window, w[g * fpg:(g + 1) * fpg, :, y, x_])
    return out


class Case:
    """A QDQ Conv of a uint8 x [batch, c, hw, hw + 1] by int8 weights
    [f, c / group, k, k]; `epilogue` "", "relu", "clip" or "residual" /
    "residual_relu"; `output` "uint8" or "float"; `kernel` "dense",
    "plain" (an image input) or "depthwise"."""

    def __init__(self, name, c, f, hw, k, kernel, stride=1, pads=None, dilation=1,
                 group=1, epilogue="", output="uint8", batch=1, x_zero=131,
                 per_channel=True, zero_bias=False, signed=False):
        self.name, self.c, self.f, self.hw, self.k = name, c, f, hw, k
        self.kernel, self.stride, self.dilation, self.group = kernel, stride, dilation, group
        self.pads = pads if pads is not None else [dilation * (k // 2)] * 4
        self.epilogue, self.output, self.batch = epilogue, output, batch
        self.x_zero, self.per_channel, self.zero_bias = x_zero, per_channel, zero_bias
        # int8 activations (ONNX Runtime's quantize_static default): input,
        # output and shortcut int8, zero points moved down by 128.
        self.signed = signed

    def build(self, rng):
        """Returns the model, the feeds and the expected output."""
        shape = (self.batch, self.c, self.hw, self.hw + 1)
        act = np.int8 if self.signed else np.uint8
        shift = 128 if self.signed else 0
        x = (rng.integers(0, 256, shape) - shift).astype(act)
        sx, zx = 0.02, self.x_zero - shift
        cpg = self.c // self.group
        w = rng.integers(-127, 128, (self.f, cpg, self.k, self.k), dtype=np.int8)
        fan_in = cpg * self.k * self.k
        sw = (rng.uniform(0.5, 1.5, self.f) / (127 * np.sqrt(fan_in))).astype(np.float32)
        if not self.per_channel:
            sw = np.full(1, sw[0], np.float32)
        bias_scale = (np.float32(sx) * sw).astype(np.float32)
        b = (np.zeros(self.f, np.int32) if self.zero_bias else
             rng.integers(-3000, 3000, self.f, dtype=np.int32))
        nodes = [
            helper.make_node("DequantizeLinear", ["x", "sx", "zx"], ["xf"]),
            helper.make_node("DequantizeLinear", ["w", "sw", "zw"], ["wf"],
                             **({"axis": 0} if self.per_channel else {})),
            helper.make_node("DequantizeLinear", ["b", "sb", "zb"], ["bf"],
                             **({"axis": 0} if self.per_channel else {})),
            helper.make_node("Conv", ["xf", "wf", "bf"], ["conv"], name="conv", pads=self.pads,
                             strides=[self.stride] * 2, dilations=[self.dilation] * 2,
                             group=self.group),
        ]
        per = (self.f,) if self.per_channel else ()
        weights = {"sx": np.array(sx, np.float32), "zx": np.array(zx, act), "w": w,
                   "sw": sw.reshape(per), "zw": np.zeros(per, np.int8), "b": b,
                   "sb": bias_scale.reshape(per), "zb": np.zeros(per, np.int32)}
        xf = (x.astype(np.float64) - zx) * sx
        wf = w.astype(np.float64) * sw.astype(np.float64).reshape(-1, 1, 1, 1)
        bf = b.astype(np.float64) * np.broadcast_to(bias_scale.astype(np.float64), (self.f,))
        y = conv2d(xf, wf, self.stride, self.pads, self.dilation, self.group)
        y += bf.reshape(1, -1, 1, 1)
        feeds = {"x": x}
        last = "conv"
        if self.epilogue.startswith("residual"):
            # conv -> Q -> DQ -> Add(DQ(r)) -> [Relu]
            # Scales whose ratios are not round numbers: with 0.05, 0.03 and
            # 0.04 the sums fell on exact halves, where float rounding decides.
            s1, z1 = 0.0513, 120 - shift
            sr, zr = 0.0297, 77 - shift
            r = (rng.integers(0, 256, y.shape) - shift).astype(act)
            feeds["r"] = r
            weights.update({"s1": np.array(s1, np.float32), "z1": np.array(z1, act),
                            "sr": np.array(sr, np.float32), "zr": np.array(zr, act)})
            nodes += [
                helper.make_node("QuantizeLinear", ["conv", "s1", "z1"], ["cq"]),
                helper.make_node("DequantizeLinear", ["cq", "s1", "z1"], ["cf"]),
                helper.make_node("DequantizeLinear", ["r", "sr", "zr"], ["rf"]),
                helper.make_node("Add", ["cf", "rf"], ["sum"], name="add"),
            ]
            y = ((quantize(y, s1, z1, self.signed) - z1) * np.float64(np.float32(s1)) +
                 (r.astype(np.float64) - zr) * np.float64(np.float32(sr)))
            last = "sum"
        if self.epilogue.endswith("relu"):
            nodes.append(helper.make_node("Relu", [last], ["act"], name="relu"))
            y, last = np.maximum(y, 0), "act"
        elif self.epilogue == "clip":
            weights.update({"lo": np.array(0.0, np.float32), "hi": np.array(6.0, np.float32)})
            nodes.append(helper.make_node("Clip", [last, "lo", "hi"], ["act"], name="clip"))
            y, last = np.clip(y, 0.0, 6.0), "act"
        if self.output == "uint8":
            sy, zy = 0.0411, 9 - shift
            weights.update({"sy": np.array(sy, np.float32), "zy": np.array(zy, act)})
            nodes.append(helper.make_node("QuantizeLinear", [last, "sy", "zy"], ["y"]))
            expected = quantize(y, np.float64(np.float32(sy)), zy, self.signed).astype(act)
            out_type = TensorProto.INT8 if self.signed else TensorProto.UINT8
        else:
            nodes.append(helper.make_node("Identity", [last], ["y"]))
            expected = y.astype(np.float32)
            out_type = TensorProto.FLOAT
        graph = helper.make_graph(
            nodes, self.name,
            [helper.make_tensor_value_info(n, TensorProto.INT8 if self.signed else
                                           TensorProto.UINT8, list(v.shape))
             for n, v in feeds.items()],
            [helper.make_tensor_value_info("y", out_type, list(expected.shape))],
            [numpy_helper.from_array(np.asarray(v), n) for n, v in weights.items()])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        return model, feeds, expected


DENSE_TILE = {"x86_64-avx2": "_avx2", "x86_64-avx512": "_avx2",
              "x86_64-avx512-vnni": "_vnni", "aarch64-neon": "",
              "aarch64-neon-dotprod-fp16": "_sdot"}

CASES = [
    Case("dense_3x3_relu_3_blocks", 16, 48, 13, 3, "dense", epilogue="relu"),
    Case("dense_1x1_one_to_one_clip", 32, 96, 14, 1, "dense", epilogue="clip", x_zero=0),
    Case("dense_stride2_asymmetric_float", 24, 48, 15, 3, "dense", stride=2,
         pads=[0, 1, 2, 0], output="float"),
    Case("dense_dilation2_batch2", 16, 32, 12, 3, "dense", dilation=2, batch=2, epilogue="relu"),
    Case("dense_per_tensor_zero_bias", 32, 64, 9, 3, "dense", per_channel=False,
         zero_bias=True),
    Case("dense_5x5_padded_inputs", 28, 32, 10, 5, "dense", epilogue="relu"),
    Case("dense_padded_outputs_clip", 48, 40, 7, 3, "dense", epilogue="clip"),
    Case("residual_relu_5_blocks", 32, 80, 9, 1, "dense", epilogue="residual_relu"),
    Case("residual_3x3_no_activation", 48, 32, 8, 3, "dense", epilogue="residual", batch=2),
    # Image inputs read plain, 4 window columns per lane: the resnet stem's
    # 7x7 stride-2 window (2 groups of columns, the last with 3), 3x3 (one
    # group, 3 columns), 5x5 stride 3 with asymmetric pads, one channel.
    Case("image_7x7_stride2_relu", 3, 64, 38, 7, "plain", stride=2, epilogue="relu"),
    Case("image_3x3_stride2_clip", 3, 32, 21, 3, "plain", stride=2, epilogue="clip"),
    Case("image_5x5_stride3_asymmetric_float", 3, 40, 20, 5, "plain", stride=3,
         pads=[2, 0, 1, 2], output="float"),
    Case("image_one_channel_batch2", 1, 16, 13, 3, "plain", batch=2, x_zero=0),
    # int8 activations (ONNX Runtime's default): read as uint8 plus 128.
    Case("signed_dense_relu", 32, 48, 9, 3, "dense", epilogue="relu", signed=True),
    Case("signed_residual_relu", 32, 32, 8, 1, "dense", epilogue="residual_relu",
         signed=True),
    Case("signed_depthwise_float", 32, 32, 11, 3, "depthwise", group=32, signed=True,
         output="float"),
    Case("depthwise_stride2_clip", 32, 32, 17, 3, "depthwise", stride=2, group=32,
         epilogue="clip"),
    Case("depthwise_5x5_padded_channels", 40, 40, 9, 5, "depthwise", group=40, epilogue="relu"),
    Case("depthwise_wide_rows_6_blocks", 96, 96, 30, 3, "depthwise", group=96, x_zero=0,
         epilogue="relu"),
    Case("depthwise_dilation2_float", 32, 32, 14, 3, "depthwise", group=32, dilation=2,
         output="float"),
    # Planes narrower than a tile (tiles span rows; windows cut on both
    # sides), even windows, asymmetric pads with stride 2.
    Case("depthwise_small_planes_batch2", 48, 48, 3, 3, "depthwise", group=48, batch=2,
         epilogue="relu"),
    Case("depthwise_2x2_stride2_unpadded", 32, 32, 12, 2, "depthwise", group=32, stride=2,
         pads=[0, 0, 0, 0], epilogue="clip"),
    Case("depthwise_stride2_asymmetric_float", 16, 16, 13, 3, "depthwise", group=16,
         stride=2, pads=[1, 0, 1, 2], output="float"),
]


def host_runs(target):
    """Whether this host can run `target`'s code (only VNNI is in doubt)."""
    if target != "x86_64-avx512-vnni":
        return True
    with open("/proc/cpuinfo") as cpuinfo:
        return "avx512_vnni" in cpuinfo.read().split()


def main():
    args, runner = parse_arguments(__doc__)
    rng = np.random.default_rng(2027)
    runs = host_runs(args.target)
    failures = 0
    for case in CASES:
        model, feeds, expected = case.build(rng)
        base = f"{args.work_dir}/{case.name}"
        onnx.save(model, base + ".onnx")
        kernel = {"depthwise": "kiln_ukernel_depthwise_conv2d_nchwc_u8s8" +
                  ("_vnni" if args.target == "x86_64-avx512-vnni" else ""),
                  "plain": "kiln_ukernel_conv2d_plain_input_u8s8" + DENSE_TILE[args.target],
                  "dense": "kiln_ukernel_conv2d_nchwc_u8s8" + DENSE_TILE[args.target]}[case.kernel]
        calls = lowered_kernels(args.kiln, base + ".onnx", args.target)
        if calls != [kernel]:
            print(f"{case.name}: FAIL: lowered code calls {calls or 'no microkernel'}, "
                  f"expected {kernel}")
            failures += 1
            continue
        if not runs:
            print(f"{case.name}: calls {kernel}; not run (the host lacks AVX512-VNNI)")
            continue
        actual = compile_and_run(args.kiln, runner, base + ".onnx", args.target, base, feeds,
                                 "y")
        if actual.shape != expected.shape or actual.dtype != expected.dtype:
            print(f"{case.name}: FAIL: {actual.dtype}{list(actual.shape)}, expected "
                  f"{expected.dtype}{list(expected.shape)}")
            failures += 1
            continue
        if expected.dtype in (np.uint8, np.int8):
            difference = np.abs(actual.astype(np.int32) - expected.astype(np.int32))
            off = int((difference > 0).sum())
            ok = difference.max() <= 1 and off <= 0.01 * expected.size
            detail = f"{off} of {expected.size} one step off, max {difference.max()}"
        else:
            error = float(np.abs(actual - expected).max() / np.abs(expected).max())
            ok = error <= 1e-5
            detail = f"max rel. error {error:.2e}"
        print(f"{case.name}: {'ok' if ok else 'FAIL'}: {expected.shape} via {kernel}, {detail}")
        failures += not ok
    print(f"QDQ convolutions on {args.target}: {len(CASES) - failures} / {len(CASES)} "
          f"cases {'match NumPy' if runs else 'call the right kernel (not run)'}")
    if failures:
        return 1
    return 0 if runs else SKIPPED


if __name__ == "__main__":
    sys.exit(main())
