#!/usr/bin/python3
"""Runs the ONNX backend node tests (Debian's libonnx-testdata) through kiln.

For every test directory: `kiln compile model.onnx` (with --shape for symbolic
input dims, taken from the test's own input tensors), `kiln run` on each
test_data_set_*, and compare every output against output_*.pb.

Default (check) mode: exits non-zero when a test that is not in the expected
failures list fails, or a listed test passes.  --update rewrites the list from
this run instead.

  /usr/bin/python3 run_node_tests.py --kiln build/default/bin/kiln \\
      --expected-failures test/conformance/expected_failures.txt [--filter REGEX]
"""

import argparse
import concurrent.futures
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

DEFAULT_NODE_DIR = "/usr/share/libonnx-testdata/data/node"

# Reasons this runner generates start with one of these; a reason in the
# expected failures list that does not is hand-written and --update keeps it.
GENERATED_REASON_PREFIXES = ("compile:", "run:", "mismatch", "harness:")

DEFAULT_HEADER = """\
# ONNX node tests that kiln is expected to fail, one per line: `test_name  # reason`.
# Checked by test/conformance/run_node_tests.py (ctest: conformance.node): a test
# listed here that passes, or a failing test not listed here, fails the check.
# Regenerate with `run_node_tests.py --update ...`; a reason that does not start
# with compile:/run:/mismatch/harness: is hand-written and kept while the test fails.
"""


@dataclass
class Tolerance:
    rtol: float = 1e-3
    atol: float = 1e-5


@dataclass
class TestResult:
    name: str
    passed: bool
    reason: str = ""
    seconds: float = 0.0
    # Graph inputs fixed at compile time (`kiln compile --input-value`)
    # because kiln needs their values there (shapes, axes, scales).
    fixed_inputs: tuple = ()
    # With a cuda target: where the bundle's dispatches run on a GPU
    # ("gpu", "mixed" or "cpu"), from kiln inspect.
    placement: str = ""


@dataclass
class GraphOutput:
    name: str
    kind: str  # 'tensor_type', 'sequence_type', 'optional_type', ...
    elem_type: int = 0  # onnx.TensorProto.DataType for tensors


@dataclass
class GraphInput:
    name: str
    kind: str
    dims: list = field(default_factory=list)  # int, or None for a symbolic/unknown dim


# ---------------------------------------------------------------------------
# Model and tensor files


def graph_signature(model_path):
    """Returns (runtime inputs, outputs) of the model's main graph.

    Runtime inputs are graph inputs that are not initializers, in graph order:
    input_i.pb feeds the i-th of them (the .pb's own name may be empty).
    """
    graph = onnx.load(model_path, load_external_data=False).graph
    initializers = {init.name for init in graph.initializer}
    inputs = []
    for value in graph.input:
        if value.name in initializers:
            continue
        kind = value.type.WhichOneof("value") or "unknown"
        dims = []
        if kind == "tensor_type":
            tensor_type = value.type.tensor_type
            if tensor_type.HasField("shape"):
                dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]
            else:
                dims = None  # unknown rank: every dim comes from the data
        inputs.append(GraphInput(value.name, kind, dims))
    outputs = []
    for value in graph.output:
        kind = value.type.WhichOneof("value") or "unknown"
        elem_type = value.type.tensor_type.elem_type if kind == "tensor_type" else 0
        outputs.append(GraphOutput(value.name, kind, elem_type))
    return inputs, outputs


def read_tensor_pb(path, declared_elem_type=None):
    """Reads an ONNX TensorProto file into a numpy array.

    bfloat16 becomes float32 (numpy has no bfloat16). The ONNX test data stores
    bfloat16 tensors as UINT16 bit patterns, so the graph's declared type
    decides how to read a UINT16 file.
    """
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    bfloat16_bits = (tensor.data_type == onnx.TensorProto.UINT16
                     and declared_elem_type == onnx.TensorProto.BFLOAT16)
    if tensor.data_type == onnx.TensorProto.BFLOAT16 or bfloat16_bits:
        if tensor.raw_data:
            bits = np.frombuffer(tensor.raw_data, dtype="<u2")
        else:
            bits = np.asarray(tensor.int32_data, dtype=np.uint32).astype(np.uint16)
        return bfloat16_bits_to_float32(bits).reshape(tuple(tensor.dims))
    return numpy_helper.to_array(tensor)


def bfloat16_bits_to_float32(bits):
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def shape_args(inputs, input_files):
    """--shape NAME=DIMS for every runtime input whose declared shape is not fully static."""
    args = []
    for graph_input, path in zip(inputs, input_files):
        if graph_input.kind != "tensor_type":
            continue
        if graph_input.dims is not None and all(d for d in graph_input.dims):
            continue
        shape = read_tensor_pb(path).shape
        dims = "x".join(str(d) for d in shape) if shape else "scalar"
        args += ["--shape", f"{graph_input.name}={dims}"]
    return args


def output_file_name(output_name):
    """The file `kiln run` writes an output to (CLI contract)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", output_name) + ".npy"


def numbered_files(directory, prefix):
    """input_0.pb, input_1.pb, ... in numeric (not lexical) order."""
    files = glob.glob(os.path.join(directory, f"{prefix}_*.pb"))
    return sorted(files, key=lambda p: int(re.search(r"_(\d+)\.pb$", p).group(1)))


# ---------------------------------------------------------------------------
# Comparison and failure reasons


def compare_output(name, actual, expected, tolerance, expected_elem_type=None):
    """Returns None when `actual` matches `expected`, else a short mismatch reason.

    Floats: np.allclose(rtol, atol) with NaN == NaN; everything else exact.
    Dtypes must match exactly, except that kiln may write bfloat16 as its raw
    uint16 bits (numpy has no bfloat16) or as float32.
    """
    if expected_elem_type == onnx.TensorProto.BFLOAT16 and actual.dtype == np.uint16:
        actual = bfloat16_bits_to_float32(actual).reshape(actual.shape)
    if expected.dtype == object:  # strings
        if actual.dtype.kind not in "USO":
            return f"mismatch: output {name} dtype {actual.dtype} != expected string"
        expected_str = np.vectorize(_as_str, otypes=[object])(expected) if expected.size else expected
        actual_str = np.vectorize(_as_str, otypes=[object])(actual) if actual.size else actual.astype(object)
        if actual.shape != expected.shape:
            return f"mismatch: output {name} shape {_shape(actual)} != expected {_shape(expected)}"
        if not np.array_equal(actual_str, expected_str):
            return f"mismatch: output {name} differs in {int((actual_str != expected_str).sum())} strings"
        return None
    if actual.dtype != expected.dtype:
        return f"mismatch: output {name} dtype {actual.dtype} != expected {expected.dtype}"
    if actual.shape != expected.shape:
        return f"mismatch: output {name} shape {_shape(actual)} != expected {_shape(expected)}"
    if expected.dtype.kind in "fc":
        if np.allclose(actual, expected, rtol=tolerance.rtol, atol=tolerance.atol, equal_nan=True):
            return None
        return f"mismatch: output {name} max abs err {_max_abs_err(actual, expected):.3g}"
    if np.array_equal(actual, expected):
        return None
    wrong = int((actual != expected).sum())
    return f"mismatch: output {name} differs in {wrong} of {expected.size} elements"


def _as_str(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _shape(array):
    return "[" + ",".join(str(d) for d in array.shape) + "]"


def _max_abs_err(actual, expected):
    """Largest |actual - expected| over elements where both are finite, or inf
    where NaN/inf placement differs."""
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    same_special = (np.isnan(a) & np.isnan(e)) | (np.isinf(a) & (a == e))
    special_differs = ~same_special & ~(np.isfinite(a) & np.isfinite(e))
    if special_differs.any():
        return float("inf")
    finite = np.isfinite(a) & np.isfinite(e)
    return float(np.abs(a[finite] - e[finite]).max()) if finite.any() else 0.0


def failure_reason(phase, returncode, stderr, work_dir=None):
    """One short line for a failed kiln invocation: its first error line.

    Prefers the first line containing 'error:' (kiln's `kiln: error: ...` and
    MLIR's `loc: error: ...`), stripped of everything up to it, so that the
    expected-failures list reads "compile: unsupported op 'Foo' (opset 13)".
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fallback = lines[0] if lines else ""
    if fallback.startswith("Traceback"):  # a Python tool: the exception is the last line
        fallback = lines[-1]
    message = next((line for line in lines if "error:" in line), fallback)
    if "error:" in message:
        message = message.split("error:", 1)[1].strip()
    if work_dir:
        # Temp paths differ between runs; keep reasons stable for the list.
        message = message.replace(work_dir, "<work>")
    # kiln names the model file first; every test's file is model.onnx.
    message = re.sub(r"^\S*/model\.onnx: ", "", message)
    if returncode < 0:
        try:
            signame = signal.Signals(-returncode).name
        except ValueError:
            signame = f"signal {-returncode}"
        message = f"crashed ({signame})" + (f": {message}" if message else "")
    elif not message:
        message = f"exit code {returncode} with no message"
    if len(message) > 160:
        message = message[:157] + "..."
    return f"{phase}: {message}"


# ---------------------------------------------------------------------------
# Running one test


class TestFailure(Exception):
    """Raised inside run_test with the failure reason (shortened for the
    report); `stderr` keeps the failing command's whole message."""

    def __init__(self, reason, stderr=""):
        super().__init__(reason)
        self.stderr = stderr


def run_kiln(phase, command, deadline, work_dir, capture=False, env=None):
    """Runs one kiln command; its stdout when `capture`."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TestFailure(f"{phase}: timeout (test time limit reached)")
    try:
        proc = subprocess.run(command, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                              stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, timeout=remaining, text=True, errors="replace",
                              env=env)
    except subprocess.TimeoutExpired:
        raise TestFailure(f"{phase}: timeout (test time limit reached)")
    if proc.returncode != 0:
        raise TestFailure(failure_reason(phase, proc.returncode, proc.stderr, work_dir), proc.stderr)
    return proc


def run_test(test_dir, backend, work_root, timeout, threads, tolerance):
    name = os.path.basename(test_dir)
    started = time.monotonic()
    work_dir = os.path.join(work_root, name)
    shutil.rmtree(work_dir, ignore_errors=True)
    os.makedirs(work_dir)
    fixed, notes = {}, {}
    try:
        check_test(test_dir, backend, work_dir, started + timeout, threads, tolerance, fixed, notes)
    except TestFailure as failure:
        return TestResult(name, False, str(failure), time.monotonic() - started)
    except Exception as error:  # a broken test file must not stop the whole run
        return TestResult(name, False, f"harness: {type(error).__name__}: {error}", time.monotonic() - started)
    shutil.rmtree(work_dir, ignore_errors=True)  # keep only failures' files around for debugging
    return TestResult(name, True, "", time.monotonic() - started, tuple(sorted(fixed)),
                      notes.get("placement", ""))


# kiln's message when a node needs a graph input's value at compile time:
# the node's own input, and the graph inputs that value is computed from.
COMPILE_TIME_INPUT = re.compile(r"\(input \d+ '([^']+)'\) must be known at compile time"
                                r"(?:; it is computed from graph input ((?:'[^']+'(?:, )?)+))?")


DEFAULT_CUDA_SMS = (75, 80, 86, 89, 90)


def cuda_sms(target):
    """The sms a --target list asks cubins for; () without a cuda target."""
    items = target.split(",") if target else []
    for i, item in enumerate(items):
        if item == "cuda":
            return DEFAULT_CUDA_SMS
        if item.startswith("cuda:"):
            sms = [item[len("cuda:"):]] + [x for x in items[i + 1:] if x.startswith("sm_")]
            return tuple(int(sm[len("sm_"):]) for sm in sms)
    return ()


class Backend:
    """Where the tests run: the compile target, and the command that runs a
    bundle (`kiln run`, or kiln-run cross-built for another CPU under an
    emulator)."""

    def __init__(self, kiln, target=None, run_with=None, keep_dir=None, emulated_cuda=None):
        self.kiln = kiln
        # The emulated CUDA driver's folder (--emulated-cuda): bundles run with
        # --device cuda, their kernels on the CPU (test/unit/fake_cuda).
        self.emulated_cuda = emulated_cuda
        self.target_args = ["--target", target] if target else []
        self.run_command = shlex.split(run_with) if run_with else [kiln, "run"]
        self.cuda_sms = cuda_sms(target)
        # Where each passing test's bundles, inputs and outputs are kept
        # (--keep-dir), for a run on another machine (utils/gpu-check.sh).
        self.keep_dir = keep_dir


def keep_passing_test(backend, name, work_dir, runs):
    """Copies a passing test's bundles, run inputs and outputs to
    keep_dir/NAME, with `runs`: one line per data set, the kiln run arguments
    relative to that directory, then a tab and the output directory."""
    kept = os.path.join(backend.keep_dir, name)
    shutil.rmtree(kept, ignore_errors=True)
    os.makedirs(kept)
    lines = []
    for bundle, set_name, inputs, out_dir in runs:
        if not os.path.exists(os.path.join(kept, os.path.basename(bundle))):
            shutil.copy(bundle, kept)
        os.makedirs(os.path.join(kept, set_name, "expected"))
        args = [os.path.basename(bundle)]
        for input_name, path in inputs:
            copied = os.path.join(set_name, os.path.basename(path))
            shutil.copy(path, os.path.join(kept, copied))
            args.append(f"--input={input_name}={copied}")
        for output in glob.glob(os.path.join(out_dir, "*.npy")):
            shutil.copy(output, os.path.join(kept, set_name, "expected"))
        lines.append(" ".join(shlex.quote(a) for a in args) + "\t" + set_name + "\n")
    with open(os.path.join(kept, "runs"), "w") as f:
        f.writelines(lines)


def check_gpu_bundle(backend, bundle, deadline, work_dir):
    """For a cuda target: the bundle holds a cubin for every sm asked for
    (so ptxas assembled the PTX for each) and PTX; returns where its
    dispatches run on a GPU: "gpu", "mixed", "cpu" or "none"."""
    proc = run_kiln("inspect", [backend.kiln, "inspect", "--json", bundle], deadline, work_dir,
                    capture=True)
    info = json.loads(proc.stdout)
    images = [s.get("contents", "") for s in info["sections"] if s["target"] == "cuda"]
    if len(images) != 1:
        raise TestFailure("compile: the bundle has no CUDA executable")
    cubins = set(int(sm) for sm in re.findall(r"\bsm_(\d+)", images[0]))
    missing = [sm for sm in backend.cuda_sms if sm not in cubins]
    if missing or "PTX compute_" not in images[0]:
        raise TestFailure(f"compile: the CUDA executable lacks cubins for "
                          f"{', '.join(f'sm_{sm}' for sm in missing) or '-'} or PTX ({images[0]})")
    devices = {p["device"] for p in info["partitions"]}
    if not devices:
        return "none"  # nothing to compute: the outputs are inputs or constants
    return "gpu" if devices == {"cuda"} else ("cpu" if devices == {"cpu"} else "mixed")


def compile_model(backend, model, bundle, shapes, inputs, input_files, fixed, deadline, work_dir):
    """Compiles, fixing at compile time each graph input whose value kiln asks
    for (as a user with a shape-taking model would with --input-value)."""
    files = {graph_input.name: path for graph_input, path in zip(inputs, input_files)}
    while True:
        values = [arg for name in sorted(fixed) for arg in ("--input-value", f"{name}={fixed[name]}")]
        try:
            env = None
            if backend.emulated_cuda:
                env = dict(os.environ, KILN_CUDA_DUMP_LLVM_IR=bundle + ".bc")
            run_kiln("compile", [backend.kiln, "compile", model, "-o", bundle, *backend.target_args,
                                 *shapes, *values], deadline, work_dir, env=env)
            return
        except TestFailure as failure:
            needed = COMPILE_TIME_INPUT.search(failure.stderr)
            names = [needed.group(1)] if needed else []
            if needed and needed.group(2):
                names += re.findall(r"'([^']+)'", needed.group(2))
            names = [name for name in names if name in files and name not in fixed]
            if not names:
                raise
            for name in names:
                fixed[name] = files[name]


def check_test(test_dir, backend, work_dir, deadline, threads, tolerance, fixed, notes):
    model = os.path.join(test_dir, "model.onnx")
    inputs, outputs = graph_signature(model)
    data_sets = sorted(glob.glob(os.path.join(test_dir, "test_data_set_*")))
    if not data_sets:
        raise TestFailure("harness: no test_data_set_* directory")
    bundles = {}  # --shape arguments -> compiled bundle (data sets may differ in shape)
    runs = []  # (bundle, data set, [(input name, file)], output dir), for --keep-dir
    for data_set in data_sets:
        set_name = os.path.basename(data_set)
        where = f" ({set_name})" if len(data_sets) > 1 else ""
        input_files = numbered_files(data_set, "input")
        if len(input_files) > len(inputs):
            raise TestFailure(f"harness: {len(input_files)} input files but {len(inputs)} graph inputs")
        shapes = tuple(shape_args(inputs, input_files))
        if shapes not in bundles:
            bundle = os.path.join(work_dir, f"model{len(bundles)}.kiln")
            try:
                compile_model(backend, model, bundle, shapes, inputs, input_files, fixed, deadline,
                              work_dir)
            except TestFailure as failure:
                if os.path.exists(bundle):
                    raise TestFailure(f"{failure} (and left a bundle behind)")
                raise
            if not os.path.isfile(bundle):
                raise TestFailure("compile: exit 0 but no bundle written")
            bundles[shapes] = bundle
            if backend.cuda_sms and "placement" not in notes:
                notes["placement"] = check_gpu_bundle(backend, bundle, deadline, work_dir)
        out_dir = os.path.join(work_dir, set_name)
        os.makedirs(out_dir)
        command = [*backend.run_command, bundles[shapes], "--output-dir", out_dir,
                   "--threads", str(threads)]
        given = [(graph_input.name, path) for graph_input, path in zip(inputs, input_files)
                 if graph_input.name not in fixed]
        for input_name, path in given:
            command += ["--input", f"{input_name}={path}"]
        env = None
        if backend.emulated_cuda:
            command += ["--device", "cuda"]
            env = dict(os.environ, LD_LIBRARY_PATH=backend.emulated_cuda,
                       KILN_FAKE_CUDA_KERNELS=bundles[shapes] + ".bc")
        run_kiln("run", command, deadline, work_dir, env=env)
        runs.append((bundles[shapes], set_name, given, out_dir))
        expected_files = numbered_files(data_set, "output")
        for output, expected_path in zip(outputs, expected_files):
            if output.kind != "tensor_type":
                raise TestFailure(f"harness: output {output.name} is a {output.kind.replace('_type', '')}, "
                                  "not comparable as .npy")
            actual_path = os.path.join(out_dir, output_file_name(output.name))
            if not os.path.isfile(actual_path):
                raise TestFailure(f"run: output {output.name} not written{where}")
            try:
                actual = np.load(actual_path, allow_pickle=False)
            except Exception as error:
                raise TestFailure(f"run: output {output.name} is not a readable .npy ({error}){where}")
            expected = read_tensor_pb(expected_path, output.elem_type)
            reason = compare_output(output.name, actual, expected, tolerance, output.elem_type)
            if reason:
                raise TestFailure(reason + where)
    if backend.keep_dir:
        keep_passing_test(backend, os.path.basename(test_dir), work_dir, runs)


# ---------------------------------------------------------------------------
# Expected failures list


def read_expected_failures(path):
    """Returns (header comment text, {test name: reason})."""
    if not os.path.exists(path):
        return DEFAULT_HEADER, {}
    header_lines, entries, in_header = [], {}, True
    with open(path) as f:
        for line in f:
            stripped = line.strip()
            if in_header and stripped.startswith("#"):
                header_lines.append(line)
                continue
            in_header = False
            if not stripped or stripped.startswith("#"):
                continue
            name, _, reason = stripped.partition("#")
            entries[name.strip()] = reason.strip()
    return "".join(header_lines) or DEFAULT_HEADER, entries


def format_expected_failures(header, entries):
    # One line per test: a multi-line reason would read back as a new entry.
    body = "".join(f"{name}  # {' '.join(reason.split()) or 'fails'}\n" for name, reason in sorted(entries.items()))
    return header + body


def updated_expected_failures(entries, results):
    """The list after this run: this run's failures, replacing its passes.

    Tests not run (outside --filter) keep their entries. A still-failing test
    keeps a hand-written reason; a generated reason is refreshed.
    """
    updated = dict(entries)
    for result in results:
        if result.passed:
            updated.pop(result.name, None)
            continue
        old = entries.get(result.name)
        hand_written = old and not old.startswith(GENERATED_REASON_PREFIXES)
        updated[result.name] = old if hand_written else result.reason
    return updated


def check_against_expected(results, entries):
    """Returns (failing tests not in the list, listed tests that pass)."""
    new_failures = [r for r in results if not r.passed and r.name not in entries]
    unexpected_passes = [r for r in results if r.passed and r.name in entries]
    return new_failures, unexpected_passes


# ---------------------------------------------------------------------------
# Reports


def reason_category(reason):
    """Groups reasons for the report: 'compile: unsupported op 'Foo' (opset 13)' -> same text
    without the opset, mismatches without their numbers."""
    reason = re.sub(r"\s*\(opset \d+\)", "", reason)
    reason = re.sub(r"\s*\(test_data_set_\d+\)", "", reason)
    if reason.startswith("mismatch"):
        return re.sub(r"output \S+ ", "", re.sub(r"[-+0-9.e]+(inf)?$", "N", reason))
    return reason


def summary_line(results, total, expected_failures):
    passed = sum(r.passed for r in results)
    fixed = sum(1 for r in results if r.passed and r.fixed_inputs)
    rate = 100.0 * passed / total if total else 0.0
    plain = 100.0 * (passed - fixed) / total if total else 0.0
    return (f"node tests: {passed} passed / {total} ({rate:.1f}%), {expected_failures} expected failures; "
            f"{fixed} of the passes fix shape inputs at compile time "
            f"({passed - fixed} / {total} = {plain:.1f}% without)")


def write_report(path, results, total):
    passed = sum(r.passed for r in results)
    failures = sorted((r for r in results if not r.passed), key=lambda r: r.name)
    categories = {}
    for result in failures:
        categories.setdefault(reason_category(result.reason), []).append(result.name)
    ranked = sorted(categories.items(), key=lambda item: (-len(item[1]), item[0]))
    if path.endswith(".json"):
        report = {
            "total": total, "passed": passed, "failed": len(failures),
            "pass_rate": round(100.0 * passed / total, 2) if total else 0.0,
            "failure_categories": {reason: len(names) for reason, names in ranked},
            "tests": {r.name: {"passed": r.passed, "reason": r.reason, "seconds": round(r.seconds, 3)}
                      for r in sorted(results, key=lambda r: r.name)},
        }
        text = json.dumps(report, indent=2) + "\n"
    else:
        rate = 100.0 * passed / total if total else 0.0
        lines = ["# ONNX node test conformance", "",
                 f"**{passed} / {total} passed ({rate:.1f}%)** — "
                 f"ONNX backend node tests from Debian's libonnx-testdata, "
                 "rtol 1e-3, atol 1e-5.", "",
                 "| failures | reason |", "|---:|---|"]
        lines += [f"| {len(names)} | {reason.replace('|', '/')} |" for reason, names in ranked]
        lines += ["", "<details><summary>Failing tests</summary>", ""]
        lines += [f"- `{r.name}`: {r.reason}" for r in failures]
        lines += ["", "</details>", ""]
        text = "\n".join(lines)
    with open(path, "w") as f:
        f.write(text)


# ---------------------------------------------------------------------------


def parse_args(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", required=True, help="path to the kiln executable")
    parser.add_argument("--node-dir", default=DEFAULT_NODE_DIR, help="directory of node test dirs")
    parser.add_argument("--expected-failures", default=os.path.join(here, "expected_failures.txt"))
    parser.add_argument("--update", action="store_true", help="rewrite the expected failures list from this run")
    parser.add_argument("--filter", help="only run tests whose name matches this regex (re.search)")
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per test (compile + runs)")
    parser.add_argument("--threads", type=int, default=1, help="kiln run --threads (tests already run in parallel)")
    parser.add_argument("--target", help="kiln compile --target (default: the host's)")
    parser.add_argument("--emulated-cuda", metavar="DIR",
                        help="run with --device cuda on the emulated CUDA driver in DIR (the "
                             "bundles' kernels on the CPU; build/default/emulated-cuda); needs a "
                             "cuda --target")
    parser.add_argument("--keep-dir", help="copy each passing test's bundles, inputs and outputs "
                                           "to KEEP_DIR/NAME (for utils/gpu-check.sh)")
    parser.add_argument("--run-with", help="command that runs a bundle instead of `kiln run`, e.g. "
                        "'qemu-aarch64 -L /usr/aarch64-linux-gnu build/aarch64-runtime/bin/kiln-run'")
    parser.add_argument("--work-dir", help="where bundles and outputs go; failing tests' files are kept "
                                           "(default: a temp dir, removed afterwards)")
    parser.add_argument("--report", help="write a summary to FILE (.json, else markdown)")
    parser.add_argument("--rtol", type=float, default=Tolerance.rtol)
    parser.add_argument("--atol", type=float, default=Tolerance.atol)
    parser.add_argument("-v", "--verbose", action="store_true", help="print every test's result")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    kiln = os.path.abspath(args.kiln)
    if not os.access(kiln, os.X_OK):
        print(f"run_node_tests: {args.kiln} is not an executable", file=sys.stderr)
        return 2
    all_tests = sorted(d for d in os.listdir(args.node_dir) if os.path.isdir(os.path.join(args.node_dir, d)))
    tests = [t for t in all_tests if not args.filter or re.search(args.filter, t)]
    if not tests:
        print(f"run_node_tests: no test matches {args.filter!r}", file=sys.stderr)
        return 2
    header, expected = read_expected_failures(args.expected_failures)
    tolerance = Tolerance(args.rtol, args.atol)

    temp_work = None if args.work_dir else tempfile.mkdtemp(prefix="kiln-node-tests-")
    work_root = os.path.abspath(args.work_dir or temp_work)
    os.makedirs(work_root, exist_ok=True)
    results = []
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            backend = Backend(kiln, args.target, args.run_with,
                              os.path.abspath(args.keep_dir) if args.keep_dir else None,
                              os.path.abspath(args.emulated_cuda) if args.emulated_cuda else None)
            futures = [pool.submit(run_test, os.path.join(args.node_dir, t), backend, work_root,
                                   args.timeout, args.threads, tolerance) for t in tests]
            for future in concurrent.futures.as_completed(futures):
                result = future.result()
                results.append(result)
                if args.verbose:
                    status = "PASS" if result.passed else f"FAIL {result.reason}"
                    print(f"[{len(results)}/{len(tests)}] {result.name}: {status}", flush=True)
    finally:
        if temp_work:
            shutil.rmtree(temp_work, ignore_errors=True)
    results.sort(key=lambda r: r.name)

    passed = sum(r.passed for r in results)
    if args.report:
        write_report(args.report, results, len(tests))
    if args.update:
        if args.filter:
            updated = updated_expected_failures(expected, results)
        else:  # a full run defines the list; drop names that are no longer tests
            updated = {r.name: updated_expected_failures(expected, [r])[r.name] for r in results if not r.passed}
        with open(args.expected_failures, "w") as f:
            f.write(format_expected_failures(header, updated))
        print(summary_line(results, len(tests), len(tests) - passed))
        print(f"wrote {len(updated)} expected failures to {args.expected_failures}")
        return 0

    new_failures, unexpected_passes = check_against_expected(results, expected)
    stale = [] if args.filter else sorted(set(expected) - set(all_tests))
    for result in new_failures:
        print(f"FAIL (not in expected failures) {result.name}: {result.reason}")
    for result in unexpected_passes:
        print(f"unexpectedly passing, remove from the list: {result.name}")
    for name in stale:
        print(f"listed in expected failures but no such test: {name}")
    expected_failing = sum(1 for r in results if not r.passed and r.name in expected)
    print(summary_line(results, len(tests), expected_failing))
    placed = [r.placement for r in results if r.passed and r.placement]
    if placed:
        counts = {kind: placed.count(kind) for kind in ("gpu", "mixed", "cpu", "none")}
        print(f"placement of the {len(placed)} passing tests where a GPU runs them: "
              f"{counts['gpu']} wholly on the GPU ({100 * counts['gpu'] / len(placed):.1f}%), "
              f"{counts['mixed']} partly, {counts['cpu']} wholly on the CPU, {counts['none']} "
              f"with nothing to compute; every bundle holds cubins for "
              f"{', '.join(f'sm_{sm}' for sm in backend.cuda_sms)} and PTX")
    if new_failures or unexpected_passes or stale:
        print(f"{len(new_failures)} unexpected failures, {len(unexpected_passes)} unexpected passes, "
              f"{len(stale)} stale entries; see above (rerun with --update to accept this run)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
