#!/usr/bin/python3
"""Compiles a real model with kiln, runs it, and checks it against torch's output.

  /usr/bin/python3 test/e2e/compare.py --kiln build/default/bin/kiln \\
      --model-dir build/default/test/e2e/models/resnet18 [--tolerance 1e-4] [--threads N]

For another CPU: --target aarch64-neon --run-with 'qemu-aarch64 -L
/usr/aarch64-linux-gnu build/aarch64-runtime/bin/kiln-run' compiles for it
and runs through that command; --against-host then also compiles for this
machine and requires the two outputs to agree within the tolerance.

The model dir is what utils/export_models.py writes: model.onnx, input.npy,
reference.npy and meta.json (input/output names). Passes when
max|kiln - reference| <= tolerance * max|reference|: relative to the output's
largest magnitude, so that near-zero logits do not dominate.
"""

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np


def output_file_name(output_name):
    """The file `kiln run` writes an output to (CLI contract)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", output_name) + ".npy"


def relative_error(actual, reference):
    """max|actual - reference| / max|reference| (absolute error if the reference is all zero)."""
    difference = np.abs(actual.astype(np.float64) - reference.astype(np.float64))
    if not np.isfinite(difference).all():
        return float("inf")
    scale = float(np.abs(reference).max()) if reference.size else 0.0
    worst = float(difference.max()) if difference.size else 0.0
    return worst / scale if scale > 0 else worst


def run(command, what):
    started = time.monotonic()
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"e2e: {what} failed (exit {proc.returncode}): {' '.join(command)}")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", required=True)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="allowed max abs error as a fraction of max |reference|")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--work-dir", help="where the bundle and outputs go (default: a temp dir)")
    parser.add_argument("--target", help="kiln compile --target (default: the host's)")
    parser.add_argument("--run-with", help="command that runs the bundle instead of `kiln run`")
    parser.add_argument("--against-host", action="store_true",
                        help="also compile and run for this machine; the outputs must agree")
    args = parser.parse_args()

    with open(os.path.join(args.model_dir, "meta.json")) as f:
        meta = json.load(f)
    input_name, output_name = meta["input"]["name"], meta["output"]["name"]
    reference = np.load(os.path.join(args.model_dir, "reference.npy"))

    with tempfile.TemporaryDirectory(prefix="kiln-e2e-") as temp_dir:
        work_dir = args.work_dir or temp_dir
        os.makedirs(work_dir, exist_ok=True)
        def compile_and_run(tag, target, runner):
            bundle = os.path.join(work_dir, f"model{tag}.kiln")
            out_dir = os.path.join(work_dir, f"outputs{tag}")
            os.makedirs(out_dir, exist_ok=True)
            target_args = ["--target", target] if target else []
            compile_seconds = run([args.kiln, "compile", os.path.join(args.model_dir, "model.onnx"),
                                   "-o", bundle, *target_args], "kiln compile")
            run_seconds = run([*runner, bundle, "--input",
                               f"{input_name}={os.path.join(args.model_dir, 'input.npy')}",
                               "--output-dir", out_dir, "--threads", str(args.threads)], "run")
            return np.load(os.path.join(out_dir, output_file_name(output_name))), \
                compile_seconds, run_seconds

        runner = shlex.split(args.run_with) if args.run_with else [args.kiln, "run"]
        actual, compile_seconds, run_seconds = compile_and_run("", args.target, runner)
        host = compile_and_run("-host", None, [args.kiln, "run"])[0] if args.against_host else None

    name = meta.get("model", os.path.basename(os.path.abspath(args.model_dir)))
    print(f"{name}: compile {compile_seconds:.2f} s, run (incl. process start) {run_seconds:.3f} s")
    if actual.shape != reference.shape or actual.dtype != reference.dtype:
        print(f"{name}: FAIL output {output_name} is {actual.dtype}{list(actual.shape)}, "
              f"reference is {reference.dtype}{list(reference.shape)}")
        return 1
    error = relative_error(actual, reference)
    top1_agrees = actual.reshape(actual.shape[0], -1).argmax(1).tolist() == \
        reference.reshape(reference.shape[0], -1).argmax(1).tolist()
    verdict = "ok" if error <= args.tolerance else "FAIL"
    print(f"{name}: max|kiln-ref| / max|ref| = {error:.3g} (tolerance {args.tolerance:g}), "
          f"top-1 {'agrees' if top1_agrees else 'differs'} [{meta.get('reference', 'reference')}]: {verdict}")
    ok = error <= args.tolerance
    if host is not None:
        host_error = relative_error(actual, host)
        host_ok = host_error <= args.tolerance
        print(f"{name}: max|kiln-host| / max|host| = {host_error:.3g} against this machine's "
              f"build (tolerance {args.tolerance:g}): {'ok' if host_ok else 'FAIL'}")
        ok = ok and host_ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
