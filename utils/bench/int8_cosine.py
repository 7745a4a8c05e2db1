#!/usr/bin/python3
"""Output cosine similarity of int8 against float for the random-weight models.

  /usr/bin/python3 utils/bench/int8_cosine.py [--kiln build/default/bin/kiln]
      [--models resnet50,mobilenet_v2,encoder] [--samples 8] [--calibrator percentile]

For each model exported by utils/export_models.py (build/default/test/e2e/
models/NAME): calibrates `kiln compile --quantize int8` on --samples seeded
normal inputs (seed 2; the model's own input.npy, seed 1, is held out), runs
the float and the int8 bundle on input.npy and prints the cosine similarity
and relative error of the outputs. Random weights give no accuracy to
measure; this shows how far int8 moves the output.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def kiln(binary, *args):
    proc = subprocess.run([binary, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"int8_cosine: kiln {args[0]} failed")
    return proc.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kiln", default=os.path.join(REPO_ROOT, "build", "default", "bin", "kiln"))
    parser.add_argument("--model-root", default=os.path.join(REPO_ROOT, "build", "default", "test",
                                                             "e2e", "models"))
    parser.add_argument("--models", default="resnet50,mobilenet_v2,encoder")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--calibrator", default="percentile")
    args = parser.parse_args()

    print("| model | calibrator | samples | cosine | max abs error / max abs output |")
    print("|---|---|---:|---:|---:|")
    for name in args.models.split(","):
        model_dir = os.path.join(args.model_root, name)
        with open(os.path.join(model_dir, "meta.json")) as f:
            meta = json.load(f)
        input_name = meta["input"]["name"]
        held_out = np.load(os.path.join(model_dir, "input.npy"))
        rng = np.random.default_rng(2)
        samples = rng.standard_normal((args.samples, *held_out.shape)).astype(np.float32)
        with tempfile.TemporaryDirectory(prefix="kiln-int8-") as work:
            calibration = os.path.join(work, "calibration.npy")
            np.save(calibration, samples)
            outputs = {}
            for variant, extra in (("float", []),
                                   ("int8", ["--quantize", "int8", "--calibrator", args.calibrator,
                                             "--calibration", f"{input_name}={calibration}"])):
                bundle = os.path.join(work, variant + ".kiln")
                kiln(args.kiln, "compile", os.path.join(model_dir, "model.onnx"), "-o", bundle, *extra)
                out_dir = os.path.join(work, variant)
                kiln(args.kiln, "run", bundle, "--input",
                     f"{input_name}={os.path.join(model_dir, 'input.npy')}", "--output-dir", out_dir)
                (output,) = [f for f in os.listdir(out_dir) if f.endswith(".npy")]
                outputs[variant] = np.load(os.path.join(out_dir, output)).astype(np.float64).ravel()
        x, y = outputs["float"], outputs["int8"]
        cosine = float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))
        relative = float(np.abs(x - y).max() / np.abs(x).max())
        print(f"| {name} | {args.calibrator} | {args.samples} | {cosine:.5f} | {relative:.4f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
