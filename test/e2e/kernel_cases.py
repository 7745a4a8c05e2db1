"""What the microkernel e2e tests (conv_nchwc.py, int8_matmul.py,
matmul_packed.py) share: their command line, which kernels a model's lowered
code calls, one compile-and-run, and the float check.

With --precision fp16 the float tests compile with `--precision fp16`: the
weights are stored as f16 and the kernels that read them are the `_f16w`
ones. The reference then uses the weights rounded to f16 (reference_weights),
so the check stays as tight as for f32: only the weights' rounding differs
from the float model, and the kernels widen them exactly. On a target with
fp16 arithmetic (aarch64-neon-dotprod-fp16) the whole model computes in
f16: the convolutions and matrix products call their `_f16_fp16` kernels,
max pools of f16 data keep their loops, and the check allows
fp16_tolerance(terms) for sums of `terms` products.

With --data-type f16 (conv_nchwc.py) the model's tensors are f16 (an f16
ONNX model): the convolutions call their `_f16` kernels (f32 arithmetic,
every value widened as it is loaded and the output rounded to f16), or
`_f16_fp16` on a target with fp16 arithmetic, and the check allows the
output's rounding, F16_DATA_TOLERANCE."""
import argparse
import os
import shlex
import subprocess

import numpy as np
import onnx


# The float kernels that read weights, which --precision fp16 replaces by
# their _f16w forms.
WEIGHT_KERNELS = {"kiln_ukernel_conv2d_nchwc_f32", "kiln_ukernel_conv2d_plain_input_f32",
                  "kiln_ukernel_depthwise_conv2d_nchwc_f32", "kiln_ukernel_matmul_f32",
                  "kiln_ukernel_matmul_packed_f32"}


# Targets on which --precision fp16 computes in f16.
FP16_ARITHMETIC_TARGETS = {"aarch64-neon-dotprod-fp16"}


def fp16_tolerance(terms):
    """max |kiln - reference| / max |reference| allowed when a sum of `terms`
    products accumulates in f16: f16 keeps 11 significant bits, and the
    rounding of each partial sum adds up like a random walk (measured on
    conv_nchwc.py's cases: at most 0.65 of this)."""
    return max(2e-3, 2.0 ** -11 * np.sqrt(terms))

# The float kernels with a form for f16 data computed in f32 (`_f16`).
F16_DATA_KERNELS = {"kiln_ukernel_conv2d_nchwc_f32", "kiln_ukernel_conv2d_plain_input_f32",
                    "kiln_ukernel_depthwise_conv2d_nchwc_f32"}

# The float kernels with a form in fp16 arithmetic (`_f16_fp16`).
FP16_ARITHMETIC_KERNELS = F16_DATA_KERNELS | {"kiln_ukernel_matmul_f32",
                                              "kiln_ukernel_matmul_packed_f32"}


F16_DATA_TOLERANCE = 1e-3


def computes_f16(precision, target):
    return precision == "fp16" and target in FP16_ARITHMETIC_TARGETS


def weight_kernel(kernel, precision, target, data_type="f32"):
    """The kernel that runs `kernel`'s work at `precision` on `target` for
    data of `data_type`, or None when the work keeps its loops there."""
    fp16_form = kernel[:-len("_f32")] + "_f16_fp16"
    if data_type == "f16":
        if target in FP16_ARITHMETIC_TARGETS:
            return fp16_form if kernel in FP16_ARITHMETIC_KERNELS else None
        return kernel[:-len("_f32")] + "_f16" if kernel in F16_DATA_KERNELS else None
    if computes_f16(precision, target):
        return fp16_form if kernel in FP16_ARITHMETIC_KERNELS else None
    return kernel + "_f16w" if precision == "fp16" and kernel in WEIGHT_KERNELS else kernel


def reference_weights(w, precision):
    """The weights as the compiled model holds them: rounded to f16 (to
    nearest even) under --precision fp16."""
    return w.astype(np.float16).astype(np.float32) if precision == "fp16" else w


def lowered_kernels(kiln, model, target, prefix="kiln_ukernel_", extra=()):
    """The sorted names of the microkernels `model`'s lowered code calls."""
    lowered = subprocess.run([kiln, "compile", model, "--target", target, "--compile-to", "lower",
                              *extra], check=True, capture_output=True, text=True).stdout
    return sorted({word for word in lowered.replace("@", " ").replace("(", " ").split()
                   if word.startswith(prefix)})


def compile_and_run(kiln, runner, model, target, base, feeds, output, extra=()):
    """Compiles `model` for `target` (with `extra` arguments) to BASE.kiln,
    runs it with `runner` (a command list ending where the bundle goes) on
    `feeds` ({name: array}, saved as BASE.<name>.npy) and returns output
    `output`."""
    subprocess.run([kiln, "compile", model, "--target", target, "-o", base + ".kiln", *extra],
                   check=True)
    command = runner + [base + ".kiln", "--output-dir", base + ".out"]
    for name, value in feeds.items():
        np.save(f"{base}.{name}.npy", value)
        command += ["--input", f"{name}={base}.{name}.npy"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return np.load(os.path.join(base + ".out", output + ".npy"))


def parse_arguments(doc):
    """The tests' command line: --kiln, --target, --run-with, --work-dir.
    Returns the arguments and the command that runs a bundle."""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", required=True)
    parser.add_argument("--target", default="x86_64-avx2")
    parser.add_argument("--run-with", help="command that runs the bundle instead of `kiln run`")
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--precision", choices=["fp32", "fp16"], default="fp32",
                        help="kiln compile --precision (float tests)")
    parser.add_argument("--data-type", choices=["f32", "f16"], default="f32",
                        help="the model's tensor type (conv_nchwc.py)")
    args = parser.parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    runner = shlex.split(args.run_with) if args.run_with else [args.kiln, "run"]
    return args, runner


def check_float_case(args, runner, name, model, feeds, expected, output, kernel, terms=1):
    """Saves `model`, checks that its lowered code calls `kernel` alone (or
    the kernels of a list, no others), compiles and runs it and compares
    output `output` with `expected`: max |kiln - expected| / max |expected|
    at most 1e-5 (fp16_tolerance(terms) when the target computes in f16,
    `terms` the length of the model's longest sum of products). Prints one
    line and returns whether the case passed."""
    base = os.path.join(args.work_dir, name)
    onnx.save(model, base + ".onnx")
    extra = ["--precision", args.precision]
    calls = lowered_kernels(args.kiln, base + ".onnx", args.target, extra=extra)
    kernel = [weight_kernel(k, args.precision, args.target, args.data_type)
              for k in ([kernel] if isinstance(kernel, str) else kernel)]
    kernel = [k for k in kernel if k]
    if calls != sorted(kernel):
        print(f"{name}: FAIL: lowered code calls {calls or 'no microkernel'}, "
              f"expected {kernel}")
        return False
    actual = compile_and_run(args.kiln, runner, base + ".onnx", args.target, base, feeds,
                             output, extra)
    if actual.shape != expected.shape:
        print(f"{name}: FAIL: shape {actual.shape}, expected {expected.shape}")
        return False
    error = float(np.abs(actual.astype(np.float32) - expected).max() / np.abs(expected).max())
    if computes_f16(args.precision, args.target) or (
            args.data_type == "f16" and args.target in FP16_ARITHMETIC_TARGETS):
        tolerance = fp16_tolerance(terms)
    else:
        tolerance = F16_DATA_TOLERANCE if args.data_type == "f16" else 1e-5
    ok = error <= tolerance
    print(f"{name}: {'ok' if ok else 'FAIL'}: {expected.shape} via "
          f"{', '.join(kernel) or 'loops'}, "
          f"max rel. error {error:.2e}")
    return ok
