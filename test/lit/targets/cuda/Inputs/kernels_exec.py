"""Dispatches for kiln-cuda-emulate: each case is a dispatch function on
buffers, as kiln-cuda-map-dispatches receives it, with random bindings and
numpy's result.

  kernels_exec.py gen DIR          writes DIR/<case>/{dispatch.mlir,
                                   binding_<i>.bin, expected.npy}
  kernels_exec.py check DIR/<case> compares the output binding (the last)
                                   with expected.npy
"""
import os
import sys

import numpy as np

RNG = np.random.default_rng(7)

# Relative to the largest expected magnitude: f32 kernels accumulate in a
# different order than numpy; the f16 ones round their operands to f16
# (which the expectation does too) and accumulate in f32.
TOLERANCE = 1e-5


def mlir_type(array):
    dtype = {np.float32: "f32", np.float16: "f16"}[array.dtype.type]
    return "memref<" + "x".join(str(d) for d in array.shape) + "x" + dtype + ">"


def dispatch(bindings, body):
    params = ", ".join(f"%b{i}: {mlir_type(b)}" for i, b in enumerate(bindings))
    return (f"func.func @dispatch_0({params}, %wg: index, %wgs: index) {{\n"
            f"{body}  return\n}}\n")


def contraction(inputs, output, maps, iterators):
    """A generic summing the product of its two inputs (each extended to
    the output's type where it is f16) into `output`, after a fill with 0."""
    bindings = inputs + [output]
    out = f"%b{len(inputs)}"
    elem = "f32" if output.dtype == np.float32 else "f16"
    args = [f"%x{i}: {'f16' if x.dtype == np.float16 else 'f32'}" for i, x in enumerate(inputs)]
    body = []
    operands = []
    for i, x in enumerate(inputs):
        if x.dtype == np.float16 and elem == "f32":
            body.append(f"    %e{i} = arith.extf %x{i} : f16 to f32\n")
            operands.append(f"%e{i}")
        else:
            operands.append(f"%x{i}")
    text = (f"  %zero = arith.constant 0.0 : {elem}\n"
            f"  linalg.fill ins(%zero : {elem}) outs({out} : {mlir_type(output)})\n")
    text += ("  linalg.generic {indexing_maps = [" + ", ".join(
        f"affine_map<{m}>" for m in maps) + "], iterator_types = [" + ", ".join(
        f'"{t}"' for t in iterators) + "]}\n"
             f"      ins({', '.join(f'%b{i}' for i in range(len(inputs)))} : "
             f"{', '.join(mlir_type(x) for x in inputs)})\n"
             f"      outs({out} : {mlir_type(output)}) {{\n"
             f"  ^bb0({', '.join(args)}, %acc: {elem}):\n" + "".join(body) +
             f"    %p = arith.mulf {operands[0]}, {operands[1]} : {elem}\n"
             f"    %s = arith.addf %acc, %p : {elem}\n"
             f"    linalg.yield %s : {elem}\n  }}\n")
    return dispatch(bindings, text)


def rand(*shape, dtype=np.float32):
    return RNG.uniform(-1, 1, shape).astype(dtype)


def as_f16(x):
    return x.astype(np.float16).astype(np.float64)


def matmul(m, n, k, packed=False, weights=np.float32, f16_operands=False):
    """C = A B; with `packed`, B as the CPU's packed weights [n/16][k][16]."""
    a = rand(m, k)
    b = rand(k, n, dtype=weights)
    c = np.full((m, n), np.nan, np.float32)  # the fill must overwrite it
    if packed:
        bp = b.reshape(k, n // 16, 16).transpose(1, 0, 2).copy()
        maps = ["(m, n, k) -> (m, k)", "(m, n, k) -> (n floordiv 16, k, n mod 16)",
                "(m, n, k) -> (m, n)"]
        text = contraction([a, bp], c, maps, ["parallel", "parallel", "reduction"])
        bindings = [a, bp, c]
    else:
        # k in the middle, as kiln-to-linalg writes a matrix product.
        maps = ["(m, k, n) -> (m, k)", "(m, k, n) -> (k, n)", "(m, k, n) -> (m, n)"]
        text = contraction([a, b], c, maps, ["parallel", "reduction", "parallel"])
        bindings = [a, b, c]
    if f16_operands:
        expected = as_f16(a) @ as_f16(b)
    else:
        expected = a.astype(np.float64) @ b.astype(np.float64)
    return text, bindings, expected


def batched(batch, m, n, k):
    a, b = rand(batch, m, k), rand(batch, k, n)
    c = np.full((batch, m, n), np.nan, np.float32)
    maps = ["(z, m, n, k) -> (z, m, k)", "(z, m, n, k) -> (z, k, n)",
            "(z, m, n, k) -> (z, m, n)"]
    text = contraction([a, b], c, maps, ["parallel"] * 3 + ["reduction"])
    return text, [a, b, c], a.astype(np.float64) @ b.astype(np.float64)


def row_sums(rows, columns):
    """A reduction along an axis: one parallel dim, no M."""
    x = rand(rows, columns)
    out = np.full((rows,), np.nan, np.float32)
    text = dispatch([x, out], (
        "  %zero = arith.constant 0.0 : f32\n"
        f"  linalg.fill ins(%zero : f32) outs(%b1 : {mlir_type(out)})\n"
        "  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, "
        "affine_map<(i, j) -> (i)>], iterator_types = [\"parallel\", \"reduction\"]}\n"
        f"      ins(%b0 : {mlir_type(x)}) outs(%b1 : {mlir_type(out)}) {{\n"
        "  ^bb0(%x: f32, %acc: f32):\n"
        "    %s = arith.addf %acc, %x : f32\n"
        "    linalg.yield %s : f32\n  }\n"))
    return text, [x, out], x.astype(np.float64).sum(axis=1)


def convolution(blocks_in, blocks_out, size, c, f, filter_type=np.float32,
                f16_operands=False):
    """A 3x3 convolution as kiln-cuda-expose-convolutions writes it: over
    (n, fb, oy, ox, f | cb, y, x, c) of an input already padded by 1."""
    x = rand(1, blocks_in, size + 2, size + 2, c)
    w = rand(blocks_out, blocks_in, 3, 3, c, f, dtype=filter_type)
    out = np.full((1, blocks_out, size, size, f), np.nan, np.float32)
    maps = ["(n, fb, oy, ox, f, cb, y, x, c) -> (n, cb, oy + y, ox + x, c)",
            "(n, fb, oy, ox, f, cb, y, x, c) -> (fb, cb, y, x, c, f)",
            "(n, fb, oy, ox, f, cb, y, x, c) -> (n, fb, oy, ox, f)"]
    text = contraction([x, w], out, maps, ["parallel"] * 5 + ["reduction"] * 4)
    xs = as_f16(x) if f16_operands else x.astype(np.float64)
    ws = w.astype(np.float64)
    expected = np.zeros(out.shape)
    for y in range(3):
        for xx in range(3):
            window = xs[:, :, y:y + size, xx:xx + size, :]  # n cb oy ox c
            expected += np.einsum("nbhwc,gbcf->nghwf", window, ws[:, :, y, xx])
    return text, [x, w, out], expected


def elementwise_exp(rows, columns):
    x = rand(rows, columns)
    out = np.full((rows, columns), np.nan, np.float32)
    text = dispatch([x, out], (
        "  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, "
        "affine_map<(i, j) -> (i, j)>], iterator_types = [\"parallel\", \"parallel\"]}\n"
        f"      ins(%b0 : {mlir_type(x)}) outs(%b1 : {mlir_type(out)}) {{\n"
        "  ^bb0(%x: f32, %y: f32):\n"
        "    %e = math.exp %x : f32\n"
        "    linalg.yield %e : f32\n  }\n"))
    return text, [x, out], np.exp(x.astype(np.float64))


CASES = {
    "exp": lambda: elementwise_exp(4, 100),
    "matmul_small": lambda: matmul(3, 7, 5),
    "matmul_ragged": lambda: matmul(37, 45, 70),
    "matmul_packed": lambda: matmul(130, 96, 150, packed=True),
    "batched": lambda: batched(3, 20, 24, 40),
    "row_sums": lambda: row_sums(50, 300),
    "conv": lambda: convolution(2, 2, 8, 8, 8),
    # f16 weights: the tensor-core path, its f32 operand rounded to f16.
    "matmul_f16_packed": lambda: matmul(40, 48, 72, packed=True,
                                        weights=np.float16, f16_operands=True),
    "matmul_f16_tiles": lambda: matmul(100, 80, 200, weights=np.float16,
                                       f16_operands=True),
    "matmul_f16_small": lambda: matmul(5, 3, 9, weights=np.float16,
                                       f16_operands=True),
    "conv_f16": lambda: convolution(2, 2, 8, 8, 16, filter_type=np.float16,
                                    f16_operands=True),
}


def gen(root):
    for name, make in CASES.items():
        text, bindings, expected = make()
        folder = os.path.join(root, name)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "dispatch.mlir"), "w") as f:
            f.write(text)
        for i, b in enumerate(bindings):
            b.tofile(os.path.join(folder, f"binding_{i}.bin"))
        np.save(os.path.join(folder, "expected.npy"), expected)


def check(folder):
    expected = np.load(os.path.join(folder, "expected.npy"))
    outputs = sorted(f for f in os.listdir(folder) if f.startswith("binding_"))
    last = os.path.join(folder, outputs[-1])
    got = np.fromfile(last, dtype=np.float32).reshape(expected.shape).astype(np.float64)
    scale = max(np.abs(expected).max(), 1e-30)
    error = np.abs(got - expected).max() / scale
    print(f"{os.path.basename(folder)}: max error {error:.2e} of {scale:.3g}")
    if not np.isfinite(error) or error > TOLERANCE:
        print("FAIL: first differences at",
              np.argwhere(~np.isclose(got, expected, rtol=0, atol=TOLERANCE * scale))[:5].tolist())
        sys.exit(1)


if __name__ == "__main__":
    {"gen": gen, "check": check}[sys.argv[1]](sys.argv[2])
