#!/usr/bin/python3
"""The cross-built kiln-run on an aarch64 CPU (under qemu-aarch64):

- `kiln-run BUNDLE --input ... --output-dir DIR` (the implicit `run`) on a
  bundle carrying x86_64-avx2, aarch64-neon and aarch64-neon-dotprod-fp16
  executables gives the outputs this machine's `kiln run` gives for it;
- `kiln-run inspect` and `kiln-run bench` work;
- a bundle with only an x86 executable is refused with a message naming the
  host and the bundle's targets, and a non-zero exit.

  /usr/bin/python3 kiln_run_cli.py --kiln build/default/bin/kiln \\
      --run-with 'qemu-aarch64 -L /usr/aarch64-linux-gnu build/aarch64-runtime/bin/kiln-run' \\
      --work-dir DIR
"""
import argparse
import os
import shlex
import subprocess
import sys

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(REPO_ROOT, "examples", "fashion_mnist", "fashion_cnn.onnx")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiln", required=True)
    parser.add_argument("--run-with", required=True)
    parser.add_argument("--work-dir", required=True)
    args = parser.parse_args()
    kiln_run = shlex.split(args.run_with)
    os.makedirs(args.work_dir, exist_ok=True)
    path = lambda name: os.path.join(args.work_dir, name)
    failures = []

    def check(name, ok, detail=""):
        print(f"{name}: {'ok' if ok else 'FAIL'}{(' (' + detail + ')') if detail else ''}")
        if not ok:
            failures.append(name)

    def run(command):
        return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    image = np.random.default_rng(0).random((100, 1, 28, 28), dtype=np.float32)
    np.save(path("image.npy"), image)

    multi = path("multi.kiln")
    compiled = run([args.kiln, "compile", MODEL, "-o", multi,
                    "--target", "x86_64-avx2,aarch64-neon,aarch64-neon-dotprod-fp16"])
    check("compile for three targets", compiled.returncode == 0, compiled.stderr.strip())
    host = run([args.kiln, "run", multi, "--input", f"image={path('image.npy')}",
                "--output-dir", path("host")])
    board = run([*kiln_run, multi, "--input", f"image={path('image.npy')}",
                 "--output-dir", path("board")])
    check("kiln-run BUNDLE runs", board.returncode == 0, board.stderr.strip())
    if host.returncode == 0 and board.returncode == 0:
        expected = np.load(path("host/logits.npy"))
        actual = np.load(path("board/logits.npy"))
        error = float(np.abs(actual - expected).max() / np.abs(expected).max())
        check("aarch64 logits match x86's", error <= 1e-4, f"max rel. error {error:.3g}")

    inspect = run([*kiln_run, "inspect", multi])
    check("kiln-run inspect lists the targets",
          inspect.returncode == 0 and "aarch64-neon-dotprod-fp16" in inspect.stdout,
          inspect.stderr.strip())
    bench = run([*kiln_run, "bench", multi, "--runs", "2", "--warmup", "0"])
    check("kiln-run bench", bench.returncode == 0 and "median:" in bench.stdout,
          bench.stderr.strip())

    x86_only = path("x86.kiln")
    run([args.kiln, "compile", MODEL, "-o", x86_only, "--target", "x86_64-avx2"])
    refused = run([*kiln_run, x86_only, "--output-dir", path("refused")])
    check("an x86-only bundle is refused",
          refused.returncode != 0 and "no executable for this host, aarch64" in refused.stderr
          and "the bundle has x86_64-avx2" in refused.stderr, refused.stderr.strip())

    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
