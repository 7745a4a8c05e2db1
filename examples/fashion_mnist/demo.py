#!/usr/bin/python3
"""Classifies the 10,000 Fashion-MNIST test images with a Kiln-compiled network.

  /usr/bin/python3 examples/fashion_mnist/demo.py [--model NAME] [--kiln build/default/bin/kiln] [--threads N]

--model: fashion_cnn (the default), fashion_mobilenet or fashion_transformer
(NAME.onnx and its reference files, made by train.py).

For a board's CPU: --target aarch64-neon --run-with 'qemu-aarch64 -L
/usr/aarch64-linux-gnu build/aarch64-runtime/bin/kiln-run' (or ssh BOARD
kiln-run, with the files on a shared path) runs the batches through that
command's `run` and `bench` instead of kiln's.

Compiles NAME.onnx, writes the test set as batches of the model's fixed batch
size, runs each batch through `kiln run`, prints the accuracy beside torch's,
and times one batch with `kiln bench`.
--check (the e2e test) fails unless kiln's logits for batch 0 match torch's
and kiln's accuracy is within 0.1 percentage points of torch's.
For reduced-precision builds (--compile-arg passes words to `kiln compile`,
e.g. --compile-arg=--precision --compile-arg=fp16), --accuracy-tolerance
widens the accuracy check, --logits-tolerance the logits one, and
--no-logits-check drops the logits one.
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

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from fashion_mnist_data import CLASS_NAMES, DEFAULT_DATA_DIR, load_split, reference_files  # noqa: E402

ACCURACY_TOLERANCE = 0.1  # percentage points, i.e. 10 of 10,000 images
INT8_ACCURACY_TOLERANCE = 0.5  # points: the int8 target of the quantization issue
LOGITS_TOLERANCE = 1e-4  # max abs error relative to max |torch logit|


def kiln_call(kiln, *args):
    """Runs `kiln ARGS` (`kiln` is a command: a list of words)."""
    proc = subprocess.run([*kiln, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"demo: `{' '.join(kiln)} {args[0]}` failed (exit {proc.returncode})")
    return proc.stdout


def classify(kiln, bundle, images, batch, meta, threads, work_dir):
    """Runs every batch through `kiln run` (`kiln` is a command, maybe
    kiln-run under an emulator); returns (logits, seconds per call)."""
    batch_dir = os.path.join(work_dir, "batches")
    os.makedirs(batch_dir, exist_ok=True)
    output_file = re.sub(r"[^A-Za-z0-9._-]", "_", meta["output"]) + ".npy"
    logits, seconds = [], []
    for index, start in enumerate(range(0, len(images), batch)):
        input_path = os.path.join(batch_dir, f"batch_{index:03d}.npy")
        np.save(input_path, images[start:start + batch])
        out_dir = os.path.join(work_dir, "outputs", f"batch_{index:03d}")
        os.makedirs(out_dir, exist_ok=True)
        started = time.monotonic()
        kiln_call(kiln, "run", bundle, "--input", f"{meta['input']}={input_path}",
                  "--output-dir", out_dir, "--threads", str(threads))
        seconds.append(time.monotonic() - started)
        logits.append(np.load(os.path.join(out_dir, output_file)))
    return np.concatenate(logits), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", default=os.path.join(REPO_ROOT, "build", "default", "bin", "kiln"))
    parser.add_argument("--model", default="fashion_cnn",
                        help="fashion_cnn (default), fashion_mobilenet or fashion_transformer")
    parser.add_argument("--model-dir", default=HERE, help="where NAME.onnx and its reference files are")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--bench-runs", type=int, default=50)
    parser.add_argument("--work-dir", help="keep the bundle, batches and outputs here (default: temp dir)")
    parser.add_argument("--target", help="kiln compile --target (default: the host's)")
    parser.add_argument("--run-with", help="command whose `run` and `bench` run the bundle "
                        "(default: kiln), e.g. 'qemu-aarch64 -L /usr/aarch64-linux-gnu "
                        "build/aarch64-runtime/bin/kiln-run'")
    parser.add_argument("--compile-arg", action="append", default=[], metavar="ARG",
                        help="pass ARG to `kiln compile` (repeatable; write --compile-arg=--flag)")
    parser.add_argument("--quantize-int8", type=int, metavar="N", default=0,
                        help="compile with --quantize int8, calibrated on the first N training "
                        "images (a multiple of the batch); --check then allows "
                        f"{INT8_ACCURACY_TOLERANCE:g} points and skips the logits")
    parser.add_argument("--check", action="store_true",
                        help="exit non-zero unless kiln agrees with torch (logits and accuracy)")
    parser.add_argument("--accuracy-tolerance", type=float, default=None, metavar="POINTS",
                        help=f"--check: largest |kiln - torch| accuracy in percentage points "
                        f"(default {ACCURACY_TOLERANCE:g})")
    parser.add_argument("--logits-tolerance", type=float, default=LOGITS_TOLERANCE,
                        metavar="REL", help="--check: largest max|kiln - torch| / max|torch| "
                        f"of batch 0's logits (default {LOGITS_TOLERANCE:g})")
    parser.add_argument("--no-logits-check", action="store_true",
                        help="--check: skip the comparison of batch 0's logits with torch's")
    args = parser.parse_args()
    if args.accuracy_tolerance is None:
        args.accuracy_tolerance = INT8_ACCURACY_TOLERANCE if args.quantize_int8 \
            else ACCURACY_TOLERANCE
    if args.quantize_int8:
        args.no_logits_check = True

    json_name, logits_name = reference_files(args.model)
    with open(os.path.join(args.model_dir, json_name)) as f:
        meta = json.load(f)
    batch = meta["batch"]
    images, labels = load_split("t10k", args.data_dir)

    with tempfile.TemporaryDirectory(prefix="kiln-fashion-") as temp_dir:
        work_dir = args.work_dir or temp_dir
        os.makedirs(work_dir, exist_ok=True)
        bundle = os.path.join(work_dir, args.model + ".kiln")
        started = time.monotonic()
        target = ["--target", args.target] if args.target else []
        if args.quantize_int8:
            train_images, _ = load_split("train", args.data_dir)
            count = args.quantize_int8 - args.quantize_int8 % batch
            calibration = os.path.join(work_dir, "calibration.npy")
            np.save(calibration, train_images[:count].reshape(count // batch, batch,
                                                              *train_images.shape[1:]))
            target += ["--quantize", "int8", "--calibration", f"{meta['input']}={calibration}",
                       "--quantize-report", os.path.join(work_dir, "quantize-report.tsv")]
        kiln_call([args.kiln], "compile", os.path.join(args.model_dir, meta["model"]), "-o", bundle,
                  *target, *args.compile_arg)
        print(f"compiled {meta['model']} in {time.monotonic() - started:.2f} s "
              f"({os.path.getsize(bundle) / 1024:.0f} KiB bundle)")

        runner = shlex.split(args.run_with) if args.run_with else [args.kiln]
        logits, seconds = classify(runner, bundle, images, batch, meta, args.threads, work_dir)
        bench = kiln_call(runner, "bench", bundle, "--runs", str(args.bench_runs),
                          "--warmup", "5", "--threads", str(args.threads))

    predictions = logits.argmax(1)
    accuracy = float((predictions == labels).mean())
    torch_accuracy = meta["torch_test_accuracy"]
    print(f"classified {len(images)} images in {len(seconds)} `kiln run` calls of {batch} "
          f"({np.median(seconds) * 1e3:.1f} ms median per call, process start included)")
    for i in range(5):
        print(f"  image {i}: {CLASS_NAMES[predictions[i]]:<12} (label: {CLASS_NAMES[labels[i]]})")
    print(f"accuracy: kiln {accuracy * 100:.2f}%, torch {torch_accuracy * 100:.2f}%")
    print(f"latency per batch of {batch} (kiln bench, {args.threads} thread(s)):")
    for line in bench.splitlines():
        match = re.match(r"\s*(min|median|p90):\s*([0-9.]+)\s*ms", line)
        if match:
            ms = float(match.group(2))
            print(f"  {match.group(1)}: {ms:.3f} ms ({batch / ms * 1e3:,.0f} images/s)")

    if not args.check:
        return 0
    reference = np.load(os.path.join(args.model_dir, logits_name))
    logits_error = float(np.abs(logits[:batch] - reference).max() / np.abs(reference).max())
    ok_logits = args.no_logits_check or logits_error <= args.logits_tolerance
    # Counted in images, so that 0.1 points is 10 of 10,000 images exactly (no float rounding).
    difference = abs(int((predictions == labels).sum()) - round(torch_accuracy * len(labels)))
    ok_accuracy = difference * 100 <= args.accuracy_tolerance * len(labels) + 1e-6
    print(f"check: batch 0 logits max|kiln-torch| / max|torch| = {logits_error:.3g} "
          f"(tolerance {args.logits_tolerance:g}): "
          f"{'not checked (--no-logits-check)' if args.no_logits_check else 'ok' if ok_logits else 'FAIL'}")
    print(f"check: accuracy difference {difference / len(labels) * 100:.2f} points "
          f"(tolerance {args.accuracy_tolerance:g}): {'ok' if ok_accuracy else 'FAIL'}")
    return 0 if ok_logits and ok_accuracy else 1


if __name__ == "__main__":
    sys.exit(main())
