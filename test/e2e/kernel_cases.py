"""What the microkernel e2e tests (conv_nchwc.py, int8_matmul.py,
matmul_packed.py) share: their command line, which kernels a model's lowered
code calls, one compile-and-run, and the float check."""
import argparse
import os
import shlex
import subprocess

import numpy as np
import onnx


def lowered_kernels(kiln, model, target, prefix="kiln_ukernel_"):
    """The sorted names of the microkernels `model`'s lowered code calls."""
    lowered = subprocess.run([kiln, "compile", model, "--target", target, "--compile-to", "lower"],
                             check=True, capture_output=True, text=True).stdout
    return sorted({word for word in lowered.replace("@", " ").replace("(", " ").split()
                   if word.startswith(prefix)})


def compile_and_run(kiln, runner, model, target, base, feeds, output):
    """Compiles `model` for `target` to BASE.kiln, runs it with `runner` (a
    command list ending where the bundle goes) on `feeds` ({name: array},
    saved as BASE.<name>.npy) and returns output `output`."""
    subprocess.run([kiln, "compile", model, "--target", target, "-o", base + ".kiln"], check=True)
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
    args = parser.parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    runner = shlex.split(args.run_with) if args.run_with else [args.kiln, "run"]
    return args, runner


def check_float_case(args, runner, name, model, feeds, expected, output, kernel):
    """Saves `model`, checks that its lowered code calls `kernel` alone (or
    the kernels of a list, no others), compiles and runs it and compares
    output `output` with `expected`: max |kiln - expected| / max |expected|
    at most 1e-5. Prints one line and returns whether the case passed."""
    base = os.path.join(args.work_dir, name)
    onnx.save(model, base + ".onnx")
    calls = lowered_kernels(args.kiln, base + ".onnx", args.target)
    if calls != sorted([kernel] if isinstance(kernel, str) else kernel):
        print(f"{name}: FAIL: lowered code calls {calls or 'no microkernel'}, "
              f"expected {kernel}")
        return False
    actual = compile_and_run(args.kiln, runner, base + ".onnx", args.target, base, feeds,
                             output)
    if actual.shape != expected.shape:
        print(f"{name}: FAIL: shape {actual.shape}, expected {expected.shape}")
        return False
    error = float(np.abs(actual - expected).max() / np.abs(expected).max())
    ok = error <= 1e-5
    print(f"{name}: {'ok' if ok else 'FAIL'}: {expected.shape} via {kernel}, "
          f"max rel. error {error:.2e}")
    return ok
