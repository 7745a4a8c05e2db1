#!/usr/bin/python3
"""Times a model under `kiln bench` and ONNX Runtime in one run, same threads and
input, and checks that the two agree on the outputs.

  /usr/bin/python3 utils/bench/compare.py --kiln build/default/bin/kiln \\
      --model-dir build/default/test/e2e/models/resnet18 [--threads N] [--runs 50]
  /usr/bin/python3 utils/bench/compare.py --kiln ... --model M.onnx --input NAME=FILE.npy

A model dir is what utils/export_models.py writes (model.onnx, input.npy,
meta.json). Run utils/bench/setup.sh once first to install onnxruntime-node.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
STATS = ("min", "median", "p90")


def parse_timings(text):
    """{'min': ms, 'median': ms, 'p90': ms} from `kiln bench` / ort_bench.js output."""
    found = dict(re.findall(r"^\s*(min|median|p90):\s*([0-9.]+)\s*ms\b", text, re.MULTILINE))
    missing = [s for s in STATS if s not in found]
    if missing:
        raise ValueError(f"no {', '.join(missing)} line in:\n{text}")
    return {s: float(found[s]) for s in STATS}


def max_relative_difference(actual, reference):
    """max|actual - reference| / max|reference|, the e2e tests' measure."""
    difference = np.abs(actual.astype(np.float64) - reference.astype(np.float64))
    scale = float(np.abs(reference).max()) if reference.size else 0.0
    worst = float(difference.max()) if difference.size else 0.0
    return worst / scale if scale > 0 else worst


def call(command):
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"bench: failed (exit {proc.returncode}): {' '.join(command)}")
    return proc.stdout


def format_table(name, threads, kiln, ort):
    rows = [f"{name}, {threads} thread(s)",
            f"{'':<14}" + "".join(f"{s + ' (ms)':>13}" for s in STATS),
            f"{'kiln':<14}" + "".join(f"{kiln[s]:>13.3f}" for s in STATS),
            f"{'onnxruntime':<14}" + "".join(f"{ort[s]:>13.3f}" for s in STATS),
            f"{'kiln / ORT':<14}" + "".join(f"{kiln[s] / ort[s]:>12.2f}x" for s in STATS)]
    return "\n".join(rows)


def resolve_model(args):
    """Returns (model name, model.onnx, [(input name, file)])."""
    if args.model_dir:
        with open(os.path.join(args.model_dir, "meta.json")) as f:
            meta = json.load(f)
        inputs = [(meta["input"]["name"], os.path.join(args.model_dir, "input.npy"))]
        return meta.get("model", os.path.basename(args.model_dir)), os.path.join(args.model_dir, "model.onnx"), inputs
    inputs = [tuple(spec.split("=", 1)) for spec in args.input]
    return os.path.splitext(os.path.basename(args.model))[0], args.model, inputs


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model-dir", help="a dir written by utils/export_models.py")
    source.add_argument("--model", help="an .onnx file (give its inputs with --input)")
    parser.add_argument("--input", action="append", default=[], help="NAME=FILE.npy, with --model")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--markdown", action="store_true", help="also print a row for docs/benchmarks.md")
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(HERE, "node_modules", "onnxruntime-node")):
        parser.error(f"onnxruntime-node is not installed: run {os.path.join(HERE, 'setup.sh')}")

    name, model, inputs = resolve_model(args)
    input_args = [a for input_name, path in inputs for a in ("--input", f"{input_name}={path}")]
    timing_args = ["--runs", str(args.runs), "--warmup", str(args.warmup), "--threads", str(args.threads)]
    with tempfile.TemporaryDirectory(prefix="kiln-bench-") as work_dir:
        bundle = os.path.join(work_dir, "model.kiln")
        started = time.monotonic()
        call([args.kiln, "compile", model, "-o", bundle])
        compile_seconds = time.monotonic() - started
        kiln_out, ort_out = os.path.join(work_dir, "kiln"), os.path.join(work_dir, "ort")
        os.makedirs(kiln_out)
        call([args.kiln, "run", bundle, *input_args, "--output-dir", kiln_out, "--threads", str(args.threads)])
        # Benchmarks back to back, so both see the same machine state.
        kiln_times = parse_timings(call([args.kiln, "bench", bundle, *timing_args]))
        ort_times = parse_timings(call(["node", os.path.join(HERE, "ort_bench.js"), model, *input_args,
                                        *timing_args, "--dump-dir", ort_out]))
        differences = {}
        for file in sorted(os.listdir(ort_out)):
            kiln_file = os.path.join(kiln_out, file)
            if not os.path.exists(kiln_file):
                raise SystemExit(f"bench: kiln wrote no {file} (ONNX Runtime did)")
            differences[file[:-4]] = max_relative_difference(np.load(kiln_file), np.load(os.path.join(ort_out, file)))

    print(format_table(name, args.threads, kiln_times, ort_times))
    for output, difference in differences.items():
        print(f"output {output}: max|kiln-ORT| / max|ORT| = {difference:.3g}")
    print(f"kiln compile: {compile_seconds:.2f} s")
    if args.markdown:
        print(f"| {name} | {args.threads} | {kiln_times['median']:.3f} | {ort_times['median']:.3f} | "
              f"{kiln_times['median'] / ort_times['median']:.2f}x | {max(differences.values()):.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
