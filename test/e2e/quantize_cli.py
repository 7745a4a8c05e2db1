#!/usr/bin/python3
"""`kiln quantize` and `kiln compile --quantize int8` on a small model: what a
good run writes, and the message and exit status of each bad input.

  /usr/bin/python3 test/e2e/quantize_cli.py --kiln build/default/bin/kiln --work-dir DIR
"""

import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def small_model(path, opset=13):
    """x [2,3,8,8] -> Conv(4, 3x3) -> Relu -> MaxPool 2 -> Flatten -> Gemm(10)."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b")
    fc = numpy_helper.from_array(rng.standard_normal((10, 64)).astype(np.float32), "fc")
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 10])], [w, b, fc])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kiln", required=True)
    parser.add_argument("--work-dir", required=True)
    args = parser.parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    work = lambda name: os.path.join(args.work_dir, name)  # noqa: E731

    model, old_model = work("small.onnx"), work("small_opset11.onnx")
    small_model(model)
    small_model(old_model, opset=11)
    rng = np.random.default_rng(1)
    np.save(work("calib.npy"), rng.standard_normal((4, 2, 3, 8, 8)).astype(np.float32))
    np.save(work("wrong_shape.npy"), rng.standard_normal((4, 2, 3, 8, 9)).astype(np.float32))
    np.save(work("input.npy"), rng.standard_normal((2, 3, 8, 8)).astype(np.float32))
    failures = 0

    def check(label, command, expect_ok, expect_text="", absent=None):
        nonlocal failures
        proc = subprocess.run([args.kiln, *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
        ok = (proc.returncode == 0) == expect_ok and expect_text in proc.stderr
        if absent and os.path.exists(absent):
            ok = False
        print(f"{label}: {'ok' if ok else 'FAIL'}")
        if not ok:
            failures += 1
            print(f"  exit {proc.returncode}, stderr: {proc.stderr.strip()}")
        return proc

    out = work("small_qdq.onnx")
    for path in (out, work("bad.onnx"), work("bad.kiln")):
        if os.path.exists(path):
            os.remove(path)
    check("quantize", ["quantize", model, "-o", out, "--calibration", f"x={work('calib.npy')}",
                       "--calibrator", "percentile", "--quantize-report", work("report.tsv")], True)
    qdq = onnx.load(out)
    onnx.checker.check_model(qdq)
    ops = [n.op_type for n in qdq.graph.node]
    qdq_ok = ops.count("QuantizeLinear") == 4 and "Conv" in ops and \
        all(i.data_type != TensorProto.FLOAT or i.name.endswith("_scale") for i in qdq.graph.initializer)
    report = open(work("report.tsv")).read().splitlines()
    report_ok = len(report) == 5 and report[2].startswith("conv\tConv+Relu\tr\t")
    print(f"QDQ model (4 Q, float initializers only scales): {'ok' if qdq_ok else 'FAIL'}")
    print(f"report (a row per unit): {'ok' if report_ok else 'FAIL'}")
    failures += (not qdq_ok) + (not report_ok)

    # The QDQ model and --quantize int8 compile to the same outputs.
    check("compile QDQ", ["compile", out, "-o", work("qdq.kiln")], True)
    check("compile --quantize", ["compile", model, "-o", work("int8.kiln"), "--quantize", "int8",
                                 "--calibrator", "percentile", "--calibration", f"x={work('calib.npy')}"],
          True)
    check("compile float", ["compile", model, "-o", work("float.kiln")], True)
    results = {}
    for name in ("qdq", "int8", "float"):
        check(f"run {name}", ["run", work(f"{name}.kiln"), "--input", f"x={work('input.npy')}",
                              "--output-dir", work(f"out_{name}")], True)
        results[name] = np.load(work(f"out_{name}/y.npy"))
    same = np.array_equal(results["qdq"], results["int8"])
    x, y = results["float"].ravel(), results["int8"].ravel()
    cosine = float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))
    print(f"QDQ model and --quantize int8 give the same output: {'ok' if same else 'FAIL'}")
    print(f"int8 output near float (cosine {cosine:.4f} > 0.99): {'ok' if cosine > 0.99 else 'FAIL'}")
    failures += (not same) + (cosine <= 0.99)

    calib = f"x={work('calib.npy')}"
    bad = work("bad.onnx")
    check("no samples", ["quantize", model, "-o", bad], False, "needs calibration samples", bad)
    check("unknown input", ["quantize", model, "-o", bad, "--calibration", calib,
                            "--calibration", f"z={work('calib.npy')}"], False,
          "--calibration names 'z', which is not a graph input", bad)
    check("wrong shape", ["quantize", model, "-o", bad, "--calibration", f"x={work('wrong_shape.npy')}"],
          False, "are not the input's f32[2, 3, 8, 8] stacked along a new first axis", bad)
    check("missing file", ["quantize", model, "-o", bad, "--calibration", f"x={work('none.npy')}"],
          False, "--calibration x:", bad)
    check("bad calibrator", ["quantize", model, "-o", bad, "--calibration", calib, "--calibrator", "kl"],
          False, "--calibrator takes minmax, percentile or entropy", bad)
    check("unknown keep-float node", ["quantize", model, "-o", bad, "--calibration", calib,
                                      "--keep-float", "conv,nope"], False,
          "--keep-float names node 'nope'", bad)
    check("old opset", ["quantize", old_model, "-o", bad, "--calibration", calib], False,
          "needs ONNX opset 13 or newer", bad)
    check("calibration without --quantize", ["compile", model, "-o", work("bad.kiln"), "--calibration",
                                             calib], False, "--calibration needs --quantize int8",
          work("bad.kiln"))
    check("--quantize int4", ["compile", model, "-o", work("bad.kiln"), "--quantize", "int4",
                              "--calibration", calib], False, "--quantize takes int8", work("bad.kiln"))
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
