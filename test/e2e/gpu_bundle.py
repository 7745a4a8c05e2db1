#!/usr/bin/python3
"""A model compiled for the GPU with the CPU fallback, checked without a GPU.

  /usr/bin/python3 test/e2e/gpu_bundle.py --kiln build/default/bin/kiln \\
      --model model.onnx --work-dir DIR [--cuda-stub .../stubs/libcuda.so] [--on-gpu]

Compiles the model twice, with --target cuda,x86_64-avx2 and with
--target x86_64-avx2, and checks that
  - the GPU bundle holds a cubin for sm_75, sm_80, sm_86, sm_89 and sm_90 and
    PTX (kiln inspect), and prints its partitions;
  - run where the only CUDA driver is the toolkit's stub (cuInit returns 34),
    it says so once and runs on the CPU, with outputs byte-identical to the
    x86-only bundle's (both on the same seeded random inputs);
  - --device cpu gives the same bytes.

--on-gpu instead runs the GPU bundle with --device cuda and compares it with
the CPU run (max relative error 1e-4); without a usable GPU it exits 77, which
ctest reports as skipped, saying why.

--emulated-cuda DIR does the same on the emulated CUDA driver in DIR
(DIR/libcuda.so.1, built from test/unit/fake_cuda): the bundle's own kernels,
whose LLVM IR the compile writes (KILN_CUDA_DUMP_LLVM_IR), run on the CPU
through the CUDA executor, so the GPU code is checked where there is no GPU.
--precision fp16 compiles for tensor cores (a looser --tolerance then: their
operands are rounded to f16).
"""

import argparse
import ctypes
import filecmp
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np

SKIP = 77
DEFAULT_SMS = (75, 80, 86, 89, 90)


def run(command, env=None, check=True):
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env)
    if check and proc.returncode != 0:
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"gpu_bundle: failed (exit {proc.returncode}): {' '.join(command)}")
    return proc


def outputs_of(directory):
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(directory, "*.npy")))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", required=True)
    parser.add_argument("--model", required=True, help="model.onnx")
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--cuda-stub", help="the toolkit's stub libcuda.so")
    parser.add_argument("--on-gpu", action="store_true")
    parser.add_argument("--emulated-cuda", metavar="DIR")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()

    if args.on_gpu:
        # Without a driver there is nothing to compile for: say so at once.
        try:
            ctypes.CDLL("libcuda.so.1")
        except OSError as error:
            print(f"skipped: no usable GPU: no CUDA driver: {error}")
            return SKIP
    shutil.rmtree(args.work_dir, ignore_errors=True)
    os.makedirs(args.work_dir)
    gpu_bundle = os.path.join(args.work_dir, "gpu.kiln")
    cpu_bundle = os.path.join(args.work_dir, "cpu.kiln")
    kernels = os.path.join(args.work_dir, "kernels.bc")
    run([args.kiln, "compile", args.model, "--target", "cuda,x86_64-avx2",
         "--precision", args.precision, "-o", gpu_bundle],
        env=dict(os.environ, KILN_CUDA_DUMP_LLVM_IR=kernels) if args.emulated_cuda else None)

    def run_bundle(bundle, name, *extra, env=None, check=True):
        out_dir = os.path.join(args.work_dir, name)
        proc = run([args.kiln, "run", bundle, "--output-dir", out_dir, "--seed", "1", *extra],
                   env=env, check=check)
        return out_dir, proc

    if args.on_gpu or args.emulated_cuda:
        env = None
        if args.emulated_cuda:
            env = dict(os.environ, LD_LIBRARY_PATH=args.emulated_cuda,
                       KILN_FAKE_CUDA_KERNELS=kernels)
        gpu_dir, proc = run_bundle(gpu_bundle, "on-gpu", "--device", "cuda", env=env,
                                   check=False)
        if proc.returncode != 0:
            reason = re.search(r"cannot run on the GPU: (.*)", proc.stderr)
            if reason and not args.emulated_cuda:
                print(f"skipped: no usable GPU: {reason.group(1)}")
                return SKIP
            sys.stderr.write(proc.stderr)
            raise SystemExit("gpu_bundle: --device cuda failed")
        cpu_dir, _ = run_bundle(gpu_bundle, "on-cpu", "--device", "cpu")
        worst = 0.0
        for name in outputs_of(cpu_dir):
            expected = np.load(os.path.join(cpu_dir, name)).astype(np.float64)
            actual = np.load(os.path.join(gpu_dir, name)).astype(np.float64)
            scale = float(np.abs(expected).max()) if expected.size else 0.0
            error = float(np.abs(actual - expected).max()) if expected.size else 0.0
            error = error / scale if scale > 0 else error
            worst = max(worst, error)
            print(f"{name}: max relative error {error:.3g} against the CPU"
                  + (" (emulated GPU)" if args.emulated_cuda else ""))
        if not worst <= args.tolerance:
            raise SystemExit(f"gpu_bundle: the GPU's outputs differ from the CPU's by {worst:.3g}")
        return 0

    run([args.kiln, "compile", args.model, "--target", "x86_64-avx2", "-o", cpu_bundle])
    info = json.loads(run([args.kiln, "inspect", "--json", gpu_bundle]).stdout)
    images = [s.get("contents", "") for s in info["sections"] if s["target"] == "cuda"]
    if len(images) != 1:
        raise SystemExit("gpu_bundle: the bundle has no CUDA executable")
    cubins = {int(sm) for sm in re.findall(r"\bsm_(\d+)", images[0])}
    if not set(DEFAULT_SMS) <= cubins or "PTX compute_90" not in images[0]:
        raise SystemExit(f"gpu_bundle: expected cubins for every default sm and PTX: {images[0]}")
    print(f"CUDA executable: {images[0]}")
    text = run([args.kiln, "inspect", gpu_bundle]).stdout
    print(text[text.index("partitions:"):].rstrip())

    if not args.cuda_stub or not os.path.exists(args.cuda_stub):
        print(f"skipped: no stub driver at {args.cuda_stub}")
        return SKIP
    driver_dir = os.path.join(args.work_dir, "stub-driver")
    os.makedirs(driver_dir)
    os.symlink(os.path.abspath(args.cuda_stub), os.path.join(driver_dir, "libcuda.so.1"))
    env = dict(os.environ, LD_LIBRARY_PATH=driver_dir)
    stub_dir, proc = run_bundle(gpu_bundle, "stub", env=env)
    notes = [line for line in proc.stderr.splitlines() if "running on the CPU" in line]
    if len(notes) != 1 or "CUDA_ERROR_STUB_LIBRARY, 34" not in notes[0]:
        raise SystemExit(f"gpu_bundle: expected one note naming the stub driver, got:\n{proc.stderr}")
    print(notes[0])
    cpu_dir, _ = run_bundle(cpu_bundle, "x86")
    forced_dir, _ = run_bundle(gpu_bundle, "forced-cpu", "--device", "cpu")
    names = outputs_of(cpu_dir)
    if not names or outputs_of(stub_dir) != names or outputs_of(forced_dir) != names:
        raise SystemExit("gpu_bundle: the runs wrote different outputs")
    for name in names:
        for other in (stub_dir, forced_dir):
            if not filecmp.cmp(os.path.join(cpu_dir, name), os.path.join(other, name), shallow=False):
                raise SystemExit(f"gpu_bundle: {name} from {other} differs from the x86-only bundle's")
    print(f"outputs identical to the x86-only bundle's: {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
