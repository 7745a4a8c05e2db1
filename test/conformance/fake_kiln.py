#!/usr/bin/python3
"""A stand-in for `kiln` that tests run_node_tests.py without the compiler.

compile: fails like kiln on ops listed in $FAKE_KILN_UNSUPPORTED (comma
separated), else writes a JSON "bundle" naming the model and --shape args.
run: checks that it got one --input per runtime graph input, by graph name,
with --shape for symbolic dims, then writes each expected output_i.pb of the
data set the inputs came from as DIR/<name>.npy, adding 1 to float outputs of
tests matching $FAKE_KILN_PERTURB (a regex) so the runner sees a mismatch.
"""

import argparse
import json
import os
import re
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def fail(message):
    print(f"kiln: error: {message}", file=sys.stderr)
    sys.exit(1)


def compile_model(args):
    model = onnx.load(args.model)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    unsupported = set(filter(None, os.environ.get("FAKE_KILN_UNSUPPORTED", "").split(",")))
    for node in model.graph.node:
        if node.op_type in unsupported:
            fail(f"unsupported op '{node.op_type}' (opset {opset})")
    for value in model.graph.input:
        dims = value.type.tensor_type.shape.dim if value.type.HasField("tensor_type") else []
        symbolic = any(not d.HasField("dim_value") for d in dims)
        if symbolic and not any(s.startswith(value.name + "=") for s in args.shape):
            fail(f"input '{value.name}' has a symbolic dim; pass --shape {value.name}=DIMS")
    with open(args.output, "w") as f:
        json.dump({"model": os.path.abspath(args.model), "shapes": args.shape}, f)


def run_bundle(args):
    with open(args.bundle) as f:
        bundle = json.load(f)
    graph = onnx.load(bundle["model"]).graph
    initializers = {i.name for i in graph.initializer}
    runtime_inputs = [v.name for v in graph.input if v.name not in initializers]
    given = dict(spec.split("=", 1) for spec in args.input)
    if list(given) != runtime_inputs[:len(given)]:
        fail(f"inputs {list(given)} do not match graph inputs {runtime_inputs}")
    for path in given.values():
        if not os.path.isfile(path):
            fail(f"cannot open input file {path}")
    test_dir = os.path.dirname(bundle["model"])
    data_set = (os.path.dirname(next(iter(given.values()))) if given
                else os.path.join(test_dir, "test_data_set_0"))
    perturb = os.environ.get("FAKE_KILN_PERTURB")
    perturb = perturb and re.search(perturb, os.path.basename(test_dir))
    for i, value in enumerate(graph.output):
        tensor = onnx.TensorProto()
        with open(os.path.join(data_set, f"output_{i}.pb"), "rb") as f:
            tensor.ParseFromString(f.read())
        array = numpy_helper.to_array(tensor)
        if array.dtype == object:
            array = array.astype(str)
        elif perturb and array.dtype.kind == "f":
            array = array + array.dtype.type(1)
        np.save(os.path.join(args.output_dir, re.sub(r"[^A-Za-z0-9._-]", "_", value.name) + ".npy"), array)


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    compile_parser = commands.add_parser("compile")
    compile_parser.add_argument("model")
    compile_parser.add_argument("-o", dest="output", required=True)
    compile_parser.add_argument("--shape", action="append", default=[])
    run_parser = commands.add_parser("run")
    run_parser.add_argument("bundle")
    run_parser.add_argument("--input", action="append", default=[])
    run_parser.add_argument("--output-dir", required=True)
    run_parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.command == "compile":
        compile_model(args)
    else:
        run_bundle(args)


if __name__ == "__main__":
    main()
