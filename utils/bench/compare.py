#!/usr/bin/python3
"""Times models under `kiln bench` and ONNX Runtime in one run, same threads and
input, and checks that the two agree on the outputs.

The benchmark table (docs/benchmarks.md): the five models at 1 and 2 threads,
Kiln and ONNX Runtime alternating, median over rounds, a geometric-mean line,
the CPU, its measured peak FP32 FLOP/s (peak_flops.c) and each convolution
model's share of it:

  /usr/bin/python3 utils/bench/compare.py --kiln build/default/bin/kiln --suite [--models-dir build/models]

The int8 table: --suite --int8 quantizes each model (default resnet50 and
mobilenet_v2) with `kiln quantize` (calibrated on 8 seeded normal inputs,
seed 2; the model's own input is held out), runs that QDQ model under both
runtimes, and times Kiln's float bundle of the original model in the same
rounds (the FP32 / int8 column):

  /usr/bin/python3 utils/bench/compare.py --kiln build/default/bin/kiln --suite --int8

One model:

  /usr/bin/python3 utils/bench/compare.py --kiln build/default/bin/kiln \\
      --model-dir build/default/test/e2e/models/resnet18 [--threads N] [--runs 50]
  /usr/bin/python3 utils/bench/compare.py --kiln ... --model M.onnx --input NAME=FILE.npy

A model dir is what utils/export_models.py writes (model.onnx, input.npy,
meta.json); --suite exports the models it lacks. Run utils/bench/setup.sh once
first to install onnxruntime-node.
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


REPO = os.path.dirname(os.path.dirname(HERE))
# The suite: (name, how to get it). Vision models and the encoder come from
# utils/export_models.py; the Fashion-MNIST CNN ships in examples/ and runs
# at batch 1 on a seeded random image.
SUITE = ("resnet18", "resnet50", "mobilenet_v2", "encoder", "fashion_cnn")
CONVOLUTION_MODELS = ("resnet18", "resnet50", "mobilenet_v2", "fashion_cnn")


def resolve_model(args):
    """Returns (model name, model.onnx, [(input name, file)])."""
    if args.model_dir:
        return model_from_dir(args.model_dir)
    inputs = [tuple(spec.split("=", 1)) for spec in args.input]
    return os.path.splitext(os.path.basename(args.model))[0], args.model, inputs


def model_from_dir(model_dir):
    with open(os.path.join(model_dir, "meta.json")) as f:
        meta = json.load(f)
    inputs = [(meta["input"]["name"], os.path.join(model_dir, "input.npy"))]
    return meta.get("model", os.path.basename(model_dir)), os.path.join(model_dir, "model.onnx"), inputs


def suite_model(name, models_dir):
    """(name, model.onnx, inputs, compile flags) of a suite model, exported when missing."""
    if name == "fashion_cnn":
        # The example's model is exported at batch 100; the table runs it at
        # batch 1, the latency case, in both runtimes.
        model = os.path.join(models_dir, "fashion_cnn_batch1.onnx")
        image = os.path.join(models_dir, "fashion_cnn_batch1.npy")
        if not os.path.exists(model) or not os.path.exists(image):
            import onnx
            os.makedirs(models_dir, exist_ok=True)
            graph_model = onnx.load(os.path.join(REPO, "examples", "fashion_mnist", "fashion_cnn.onnx"))
            graph_model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
            del graph_model.graph.value_info[:]
            for value in graph_model.graph.output:
                value.type.tensor_type.shape.dim[0].dim_value = 1
            onnx.save(graph_model, model)
            np.save(image, np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32))
        return name, model, [("image", image)], []
    model_dir = os.path.join(models_dir, name)
    if not os.path.exists(os.path.join(model_dir, "meta.json")):
        subprocess.run([sys.executable, os.path.join(REPO, "utils", "export_models.py"),
                        "--out-dir", models_dir, name], check=True)
    _, model, inputs = model_from_dir(model_dir)
    return name, model, inputs, []


def quantize_for_suite(kiln, model, inputs, work_dir):
    """`kiln quantize`'s QDQ model of `model`, calibrated on 8 seeded normal
    samples of its (first) input."""
    input_name, path = inputs[0]
    shape = np.load(path, mmap_mode="r").shape
    samples = os.path.join(work_dir, "calibration.npy")
    np.save(samples, np.random.default_rng(2).standard_normal((8,) + shape).astype(np.float32))
    qdq = os.path.join(work_dir, "model_int8.onnx")
    call([kiln, "quantize", model, "-o", qdq, "--calibration", f"{input_name}={samples}"])
    return qdq


def model_flops(model, inputs):
    """Floating-point operations of one inference in Conv, Gemm and MatMul
    (2 per multiply-add), from ONNX shape inference with the inputs' shapes."""
    import onnx
    from onnx import shape_inference
    graph_model = onnx.load(model)
    shapes = {name: np.load(path, mmap_mode="r").shape for name, path in inputs}
    for value in graph_model.graph.input:
        if value.name in shapes:
            dims = value.type.tensor_type.shape.dim
            for dim, size in zip(dims, shapes[value.name]):
                dim.ClearField("dim_param")
                dim.dim_value = size
    # Shapes recorded for another batch would contradict the inputs' shapes.
    del graph_model.graph.value_info[:]
    for value in graph_model.graph.output:
        value.type.tensor_type.ClearField("shape")
    inferred = shape_inference.infer_shapes(graph_model)

    known = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = [d.dim_value for d in value.type.tensor_type.shape.dim]
        if dims and all(d > 0 for d in dims):
            known[value.name] = dims
    for init in inferred.graph.initializer:
        known[init.name] = list(init.dims)

    flops = 0
    for node in inferred.graph.node:
        if node.op_type == "Conv" and node.input[1] in known and node.output[0] in known:
            weight = known[node.input[1]]  # [F, C/g, kh, kw]
            flops += 2 * int(np.prod(known[node.output[0]])) * int(np.prod(weight[1:]))
        elif node.op_type in ("Gemm", "MatMul") and node.input[0] in known and node.output[0] in known:
            a = known[node.input[0]]
            transposed = node.op_type == "Gemm" and any(
                attr.name == "transA" and attr.i for attr in node.attribute)
            k = a[-2] if transposed else a[-1]
            flops += 2 * int(np.prod(known[node.output[0]])) * k
    return flops


def peak_gflops():
    """{isa: GFLOP/s of one core}, from peak_flops.c built with the host's C compiler."""
    with tempfile.TemporaryDirectory(prefix="kiln-peak-") as work_dir:
        probe = os.path.join(work_dir, "peak_flops")
        call(["cc", "-O2", "-ffp-contract=fast", "-o", probe, os.path.join(HERE, "peak_flops.c")])
        return {isa: float(value) for isa, value in
                (line.split() for line in call([probe]).splitlines() if line.strip())}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def geometric_mean(values):
    return float(np.exp(np.mean(np.log(values)))) if values else float("nan")


def compare_outputs(kiln_out, ort_out):
    """{output name: max relative difference} of the files both tools wrote."""
    differences = {}
    for file in sorted(os.listdir(ort_out)):
        kiln_file = os.path.join(kiln_out, file)
        if not os.path.exists(kiln_file):
            raise SystemExit(f"bench: kiln wrote no {file} (ONNX Runtime did)")
        differences[file[:-4]] = max_relative_difference(np.load(kiln_file), np.load(os.path.join(ort_out, file)))
    return differences


def compile_and_check(kiln, model, inputs, compile_flags, threads, work_dir):
    """Compiles the model, runs it once under both tools and compares the
    outputs. Returns (bundle, compile seconds, differences)."""
    input_args = [a for input_name, path in inputs for a in ("--input", f"{input_name}={path}")]
    bundle = os.path.join(work_dir, "model.kiln")
    started = time.monotonic()
    call([kiln, "compile", model, "-o", bundle, *compile_flags])
    compile_seconds = time.monotonic() - started
    kiln_out, ort_out = os.path.join(work_dir, "kiln"), os.path.join(work_dir, "ort")
    os.makedirs(kiln_out, exist_ok=True)
    call([kiln, "run", bundle, *input_args, "--output-dir", kiln_out, "--threads", str(threads)])
    call(["node", os.path.join(HERE, "ort_bench.js"), model, *input_args, "--runs", "1", "--warmup", "0",
          "--threads", str(threads), "--dump-dir", ort_out])
    return bundle, compile_seconds, compare_outputs(kiln_out, ort_out)


def time_both(kiln, bundle, model, inputs, threads, runs, warmup):
    """One round: `kiln bench`, then ONNX Runtime, back to back."""
    input_args = [a for input_name, path in inputs for a in ("--input", f"{input_name}={path}")]
    timing_args = ["--runs", str(runs), "--warmup", str(warmup), "--threads", str(threads)]
    kiln_times = parse_timings(call([kiln, "bench", bundle, *timing_args]))
    ort_times = parse_timings(call(["node", os.path.join(HERE, "ort_bench.js"), model, *input_args,
                                    *timing_args]))
    return kiln_times, ort_times


def run_suite(args):
    """The benchmark table: every suite model at every thread count, rounds
    alternating Kiln and ORT; each cell is the median of the rounds' medians."""
    thread_counts = [int(t) for t in args.thread_counts.split(",")]
    models = (args.models.split(",") if args.models else
              ["resnet50", "mobilenet_v2"] if args.int8 else list(SUITE))
    peaks = peak_gflops()
    widest = max(peaks, key=peaks.get) if peaks else None
    rows, ratios = [], []
    for name in models:
        name, model, inputs, flags = suite_model(name, args.models_dir)
        flops = model_flops(model, inputs)
        with tempfile.TemporaryDirectory(prefix="kiln-bench-") as work_dir:
            float_bundle = None
            if args.int8:
                float_bundle = os.path.join(work_dir, "float.kiln")
                call([args.kiln, "compile", model, "-o", float_bundle, *flags])
                model = quantize_for_suite(args.kiln, model, inputs, work_dir)
            bundle, compile_seconds, differences = compile_and_check(
                args.kiln, model, inputs, flags, max(thread_counts), work_dir)
            for threads in thread_counts:
                rounds, float_ms = [], []
                for _ in range(args.rounds):
                    rounds.append(time_both(args.kiln, bundle, model, inputs, threads, args.runs,
                                            args.warmup))
                    if float_bundle:
                        float_ms.append(parse_timings(call(
                            [args.kiln, "bench", float_bundle, "--runs", str(args.runs),
                             "--warmup", str(args.warmup), "--threads", str(threads)]))["median"])
                kiln_ms = float(np.median([k["median"] for k, _ in rounds]))
                ort_ms = float(np.median([o["median"] for _, o in rounds]))
                ratios.append(kiln_ms / ort_ms)
                row = {"model": name, "threads": threads, "kiln": kiln_ms, "ort": ort_ms,
                       "ratio": kiln_ms / ort_ms, "difference": max(differences.values()),
                       "compile": compile_seconds, "gflops": flops / kiln_ms / 1e6,
                       "float": float(np.median(float_ms)) if float_ms else None}
                rows.append(row)
                print(f"{name}, {threads} thread(s): kiln {kiln_ms:.3f} ms, ORT {ort_ms:.3f} ms, "
                      f"kiln / ORT {row['ratio']:.2f}", file=sys.stderr, flush=True)

    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; peak FP32 per core: " +
          ", ".join(f"{isa} {value:.1f} GFLOP/s" for isa, value in peaks.items()) +
          f" (utils/bench/peak_flops.c)")
    print(f"median of {args.rounds} rounds of {args.runs} runs ({args.warmup} warm-up), Kiln and ORT alternating")
    print()
    if args.int8:
        print("| model (int8 QDQ) | threads | Kiln int8 (ms) | ORT int8 (ms) | Kiln / ORT | "
              "max rel. diff | Kiln FP32 (ms) | Kiln FP32 / int8 | compile (s) |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for row in rows:
            print(f"| {row['model']} | {row['threads']} | {row['kiln']:.2f} | {row['ort']:.2f} | "
                  f"{row['ratio']:.2f} | {row['difference']:.1e} | {row['float']:.2f} | "
                  f"{row['float'] / row['kiln']:.2f} | {row['compile']:.1f} |")
        print()
        print(f"geometric mean Kiln / ORT: {geometric_mean(ratios):.2f} over {len(ratios)} rows; "
              f"worst row {max(ratios):.2f}")
        return 0
    print("| model | threads | Kiln (ms) | ORT (ms) | Kiln / ORT | max rel. diff | Kiln GFLOP/s "
          f"| % of {widest} peak | compile (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        share = "–"
        if row["model"] in CONVOLUTION_MODELS and widest:
            share = f"{100 * row['gflops'] / (peaks[widest] * row['threads']):.0f}%"
        print(f"| {row['model']} | {row['threads']} | {row['kiln']:.2f} | {row['ort']:.2f} | "
              f"{row['ratio']:.2f} | {row['difference']:.1e} | {row['gflops']:.1f} | {share} | "
              f"{row['compile']:.1f} |")
    print()
    print(f"geometric mean Kiln / ORT: {geometric_mean(ratios):.2f} over {len(ratios)} rows; "
          f"worst row {max(ratios):.2f}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--suite", action="store_true", help="the benchmark table: all five models")
    source.add_argument("--model-dir", help="a dir written by utils/export_models.py")
    source.add_argument("--model", help="an .onnx file (give its inputs with --input)")
    parser.add_argument("--input", action="append", default=[], help="NAME=FILE.npy, with --model")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--runs", type=int, default=None, help="timed runs (default 50; 20 per round in --suite)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--markdown", action="store_true", help="also print a row for docs/benchmarks.md")
    suite = parser.add_argument_group("--suite")
    suite.add_argument("--models-dir", default=os.path.join(REPO, "build", "models"),
                       help="where exported models are kept (default build/models)")
    suite.add_argument("--models", help=f"comma-separated subset of {','.join(SUITE)}")
    suite.add_argument("--thread-counts", default="1,2")
    suite.add_argument("--rounds", type=int, default=3)
    suite.add_argument("--int8", action="store_true",
                       help="the int8 table: kiln quantize's QDQ models under both runtimes, "
                            "beside Kiln's float bundles")
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(HERE, "node_modules", "onnxruntime-node")):
        parser.error(f"onnxruntime-node is not installed: run {os.path.join(HERE, 'setup.sh')}")
    if args.suite:
        args.runs = args.runs or 20
        return run_suite(args)
    args.runs = args.runs or 50

    name, model, inputs = resolve_model(args)
    with tempfile.TemporaryDirectory(prefix="kiln-bench-") as work_dir:
        bundle, compile_seconds, differences = compile_and_check(
            args.kiln, model, inputs, [], args.threads, work_dir)
        kiln_times, ort_times = time_both(args.kiln, bundle, model, inputs, args.threads, args.runs,
                                          args.warmup)

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
