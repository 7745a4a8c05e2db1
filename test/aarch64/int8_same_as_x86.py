#!/usr/bin/python3
"""int8 models on aarch64 give exactly the x86 results.

  int8_same_as_x86.py --kiln build/default/bin/kiln --run-with CMD --work-dir DIR
                      [--model NAME]...

For each trained Fashion-MNIST model (default all three): `kiln quantize` writes its QDQ model (calibrated on 100
training images), which is compiled for the x86 targets this host runs
(x86_64-avx2, and x86_64-avx512-vnni where the host has VNNI) and for both
aarch64 targets, and run on the first 100 test images: the x86 executables
by `kiln run`, the aarch64 ones by --run-with (qemu and the aarch64
kiln-run). Every output must equal the first x86 one bit for bit: the
convolutions and products are integer sums (VNNI, AVX2's vpmaddwd, sdot and
portable C tiles alike), and their epilogues and the float ops between
them round the same way on every target.
"""
import argparse
import os
import shlex
import subprocess
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "examples", "fashion_mnist"))
from fashion_mnist_data import load_split  # noqa: E402

BATCH = 100
AARCH64_TARGETS = ["aarch64-neon", "aarch64-neon-dotprod-fp16"]


def host_has_vnni():
    with open("/proc/cpuinfo") as cpuinfo:
        return "avx512_vnni" in cpuinfo.read().split()


def run(command):
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", required=True)
    parser.add_argument("--run-with", required=True,
                        help="command that runs an aarch64 bundle (qemu and kiln-run)")
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--model", action="append",
                        help="fashion_cnn, fashion_mobilenet or fashion_transformer")
    args = parser.parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    models = args.model or ["fashion_cnn", "fashion_mobilenet", "fashion_transformer"]
    x86_targets = ["x86_64-avx2"] + (["x86_64-avx512-vnni"] if host_has_vnni() else [])

    train, _ = load_split("train")
    test, _ = load_split("t10k")
    calibration = os.path.join(args.work_dir, "calibration.npy")
    np.save(calibration, train[:BATCH].reshape(1, BATCH, *train.shape[1:]))
    images = os.path.join(args.work_dir, "images.npy")
    np.save(images, test[:BATCH])

    failures = 0
    for model in models:
        qdq = os.path.join(args.work_dir, model + ".int8.onnx")
        run([args.kiln, "quantize", os.path.join(REPO, "examples", "fashion_mnist",
                                                 model + ".onnx"),
             "-o", qdq, "--calibration", f"image={calibration}"])
        outputs = {}
        for target in x86_targets + AARCH64_TARGETS:
            base = os.path.join(args.work_dir, f"{model}.{target}")
            run([args.kiln, "compile", qdq, "--target", target, "-o", base + ".kiln"])
            runner = (shlex.split(args.run_with) if target.startswith("aarch64")
                      else [args.kiln, "run"])
            run(runner + [base + ".kiln", "--input", f"image={images}",
                          "--output-dir", base + ".out"])
            outputs[target] = np.load(os.path.join(base + ".out", "logits.npy"))
        reference = outputs[x86_targets[0]]
        for target, logits in outputs.items():
            same = logits.shape == reference.shape and np.array_equal(
                logits.view(np.uint32), reference.view(np.uint32))
            differing = 0 if same else int((logits != reference).sum())
            print(f"{model} on {target}: "
                  + ("the same bits as " + x86_targets[0] if same else
                     f"FAIL: {differing} of {reference.size} logits differ from "
                     f"{x86_targets[0]}'s"))
            failures += not same
    print(f"int8 models on aarch64 and x86: {'all identical' if not failures else 'FAIL'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
