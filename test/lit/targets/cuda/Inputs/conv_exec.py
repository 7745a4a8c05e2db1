"""Numerical check of kiln-cuda-expose-convolutions on the CPU.

  conv_exec.py gen DIR   writes DIR/case_<i>.mlir (a kiln.conv2d_nchwc on
                         random data with a main that prints the result) and
                         DIR/case_<i>.npy (numpy's result)
  conv_exec.py check OUT.txt EXPECTED.npy
                         compares the printed result (printMemrefF32) with
                         numpy's: max |kiln - numpy| <= 1e-4 * max |numpy|
"""
import os
import re
import sys

import numpy as np

# (name, N, C, H, W, F, KH, KW, strides, pads [top, left, bottom, right],
#  dilations, depthwise, plain input, bias, residual, activation)
CASES = [
    ("pad1_bias_relu", 1, 16, 6, 5, 32, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), False, False, True, False, "relu"),
    ("stride2_asym_residual", 2, 32, 7, 8, 16, 3, 2, (2, 2), (0, 1, 2, 0), (1, 1), False, False, False, True, "none"),
    ("depthwise_stride2_clip", 1, 32, 9, 9, 32, 3, 3, (2, 2), (1, 1, 1, 1), (1, 1), True, False, True, False, "clip"),
    ("plain_image", 1, 3, 10, 9, 16, 3, 3, (2, 1), (1, 1, 1, 1), (1, 1), False, True, True, False, "relu"),
    ("dilation2", 1, 16, 9, 9, 16, 3, 3, (1, 1), (2, 2, 2, 2), (2, 2), False, False, False, False, "none"),
]
B = 16


def dense(array):
    data = np.ascontiguousarray(array, dtype="<f4").tobytes().hex().upper()
    return f'dense<"0x{data}"> : tensor<{"x".join(map(str, array.shape))}xf32>'


def tensor_type(shape):
    return f"tensor<{'x'.join(map(str, shape))}xf32>"


def generate(out_dir):
    rng = np.random.default_rng(7)
    for index, case in enumerate(CASES):
        (name, n, c, h, w, f, kh, kw, strides, pads, dil, depthwise, plain, has_bias,
         has_residual, activation) = case
        x = rng.standard_normal((n, c, h, w)).astype(np.float32)
        groups = c if depthwise else 1
        weight = rng.standard_normal((f, c // groups, kh, kw)).astype(np.float32)
        bias = rng.standard_normal(f).astype(np.float32)
        oh = (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) // strides[0] + 1
        ow = (w + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) // strides[1] + 1
        residual = rng.standard_normal((n, f, oh, ow)).astype(np.float32)
        padded = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
        y = np.zeros((n, f, oh, ow), np.float64)
        for o in range(f):
            channels = [o] if depthwise else range(c)
            for i, ci in enumerate(channels):
                wi = 0 if depthwise else i
                for ky in range(kh):
                    for kx in range(kw):
                        rows = padded[:, ci, ky * dil[0]: ky * dil[0] + strides[0] * (oh - 1) + 1: strides[0],
                                      kx * dil[1]: kx * dil[1] + strides[1] * (ow - 1) + 1: strides[1]]
                        y[:, o] += rows * weight[o, wi, ky, kx]
        if has_bias:
            y += bias[None, :, None, None]
        if has_residual:
            y += residual
        if activation == "relu":
            y = np.maximum(y, 0)
        if activation == "clip":
            y = np.clip(y, -0.5, 0.75)

        def block(t):  # [N, C, H, W] -> [N, C/16, H, W, 16]
            return t.reshape(t.shape[0], t.shape[1] // B, B, *t.shape[2:]).transpose(0, 1, 3, 4, 2)

        xin = x if plain else block(x)
        if depthwise:  # [C/16, KH, KW, 16]
            wk = weight[:, 0].reshape(c // B, B, kh, kw).transpose(0, 2, 3, 1)
        elif plain:  # [F/16, 1, KH, KW, C, 16]
            wk = weight.reshape(f // B, B, c, kh, kw).transpose(0, 3, 4, 2, 1)[:, None]
        else:  # [F/16, C/16, KH, KW, 16c, 16f]
            wk = weight.reshape(f // B, B, c // B, B, kh, kw).transpose(0, 2, 4, 5, 3, 1)
        out_shape = (n, f // B, oh, ow, B)
        operands = [("x", xin), ("w", wk)]
        if has_bias:
            operands.append(("b", bias.reshape(f // B, B)))
        if has_residual:
            operands.append(("r", block(residual)))
        attrs = [f"dilations = array<i64: {dil[0]}, {dil[1]}>",
                 f"pads = array<i64: {', '.join(map(str, pads))}>",
                 f"strides = array<i64: {strides[0]}, {strides[1]}>",
                 f'activation = "{activation}"']
        if depthwise:
            attrs.append("depthwise")
        if activation == "clip":
            attrs += ["clip_min = -5.000000e-01", "clip_max = 7.500000e-01"]
        lines = ["func.func private @printMemrefF32(memref<*xf32>) attributes {llvm.emit_c_interface}",
                 "func.func @main() {"]
        for op_name, value in operands:
            lines.append(f"  %{op_name} = arith.constant {dense(value)}")
        use = f"%x, %w" + (" bias %b" if has_bias else "") + (" residual %r" if has_residual else "")
        types = ", ".join(tensor_type(v.shape) for _, v in operands)
        lines.append(f"  %y = kiln.conv2d_nchwc {use} {{{', '.join(attrs)}}} : ({types}) -> {tensor_type(out_shape)}")
        memref = f"memref<{'x'.join(map(str, out_shape))}xf32>"
        lines.append(f"  %m = bufferization.to_memref %y : {memref}")
        lines.append(f"  %u = memref.cast %m : {memref} to memref<*xf32>")
        lines.append("  call @printMemrefF32(%u) : (memref<*xf32>) -> ()")
        lines.append("  return")
        lines.append("}")
        with open(os.path.join(out_dir, f"case_{index}.mlir"), "w") as file:
            file.write("\n".join(lines) + "\n")
        np.save(os.path.join(out_dir, f"case_{index}.npy"), block(y.astype(np.float32)))


def check(printed, expected_path):
    expected = np.load(expected_path)
    text = open(printed).read()
    body = text[text.index("data =") + len("data ="):]
    values = np.array([float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?|nan|inf", body)],
                      np.float64)
    if values.size != expected.size:
        print(f"printed {values.size} values, expected {expected.size}")
        return 1
    error = np.abs(values - expected.reshape(-1)).max() / np.abs(expected).max()
    print(f"max relative error {error:.3g}")
    return 0 if error <= 1e-4 else 1


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        generate(sys.argv[2])
        sys.exit(0)
    sys.exit(check(sys.argv[2], sys.argv[3]))
