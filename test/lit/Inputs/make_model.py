"""Writes small ONNX models for Kiln's lit tests: make_model.py NAME OUT.onnx

Each model exercises one importer path or one user error; the tests check
kiln's output on them with FileCheck.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def tensor(name, dims, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, dims)


def graph_model(nodes, inputs, outputs, initializers=(), opset=13):
    graph = helper.make_graph(nodes, "test", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def weights(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def conv_relu():
    w = numpy_helper.from_array(weights((8, 3, 3, 3)), "w")
    b = numpy_helper.from_array(weights((8,), 1), "b")
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv1",
                         pads=[1, 1, 1, 1], auto_pad="NOTSET"),
        helper.make_node("Relu", ["c"], ["y"], name="relu1"),
    ]
    return graph_model(nodes, [tensor("x", [1, 3, 16, 16])], [tensor("y", [1, 8, 16, 16])], [w, b])


def conv_wide():
    # 16 input channels: a reduction of 16 x 3 x 3, which the convolution
    # microkernel runs (conv_relu's 27 terms stay loops).
    w = numpy_helper.from_array(weights((32, 16, 3, 3)), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv1", pads=[1, 1, 1, 1])]
    return graph_model(nodes, [tensor("x", [1, 16, 16, 16])], [tensor("y", [1, 32, 16, 16])], [w])


def conv_pool():
    # A convolution, then a padded 3x3 average pool of stride 2 on its
    # channel-blocked output, which copies its input into a padded buffer
    # (max pools of blocked data have a microkernel and make no copy).
    w = numpy_helper.from_array(weights((32, 16, 3, 3)), "w")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("AveragePool", ["c"], ["y"], name="pool1", kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1]),
    ]
    return graph_model(nodes, [tensor("x", [1, 16, 32, 32])], [tensor("y", [1, 32, 16, 16])], [w])


def shape_chain():
    # Flatten written the way exporters do: Shape -> Gather -> Concat -> Reshape.
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Constant", [], ["zero"], name="zero",
                         value=numpy_helper.from_array(np.array(0, np.int64))),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="batch", axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="unsqueeze"),
        helper.make_node("Constant", [], ["minus1"], name="minus1",
                         value=numpy_helper.from_array(np.array([-1], np.int64))),
        helper.make_node("Concat", ["n1", "minus1"], ["shape2"], name="concat", axis=0),
        helper.make_node("Reshape", ["x", "shape2"], ["y"], name="reshape"),
    ]
    axes = numpy_helper.from_array(np.array([0], np.int64), "axes")
    return graph_model(nodes, [tensor("x", [2, 3, 4])], [tensor("y", [2, 12])], [axes])


def symbolic_input():
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    return graph_model(nodes, [tensor("x", ["batch", 4])], [tensor("y", ["batch", 4])])


def unknown_op():
    nodes = [helper.make_node("FancyNewOp", ["x"], ["y"], name="mystery")]
    return graph_model(nodes, [tensor("x", [4])], [tensor("y", [4])])


def unsupported_attribute():
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu", alpha=2.0)]
    return graph_model(nodes, [tensor("x", [4])], [tensor("y", [4])])


def mismatched_shapes():
    nodes = [helper.make_node("Add", ["a", "b"], ["y"], name="add_ab")]
    return graph_model(nodes, [tensor("a", [2, 3]), tensor("b", [4])], [tensor("y", [2, 3])])


def new_opset():
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    return graph_model(nodes, [tensor("x", [4])], [tensor("y", [4])], opset=18)


def external_data(out):
    w = weights((4, 4))
    w.tofile(os.path.join(os.path.dirname(out), "weights.bin"))
    init = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 4],
                       data_location=TensorProto.EXTERNAL)
    for key, value in (("location", "weights.bin"), ("offset", "0"), ("length", str(w.nbytes))):
        entry = init.external_data.add()
        entry.key, entry.value = key, value
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul")]
    return graph_model(nodes, [tensor("x", [2, 4])], [tensor("y", [2, 4])], [init])


def elementwise_chain():
    nodes = [
        helper.make_node("Mul", ["x", "x"], ["sq"], name="square"),
        helper.make_node("Add", ["sq", "x"], ["s"], name="add"),
        helper.make_node("Tanh", ["s"], ["y"], name="tanh"),
    ]
    return graph_model(nodes, [tensor("x", [1024])], [tensor("y", [1024])])


def reshape_input():
    # The target shape arrives as a graph input, as in ONNX's node tests.
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")]
    return graph_model(nodes, [tensor("x", [2, 3, 4]), tensor("shape", [2], TensorProto.INT64)],
                       [tensor("y", [6, 4])])


def shape_value(out):
    # The TensorProto file for reshape_input's `shape` input.
    with open(out, "wb") as f:
        f.write(numpy_helper.from_array(np.array([6, 4], np.int64), "shape").SerializeToString())


def data_dependent_loop():
    # A Loop that runs while the running sum stays below 10: its iteration
    # count depends on the input's values.
    body = helper.make_graph(
        [helper.make_node("Add", ["sum_in", "sum_in"], ["sum_out"]),
         helper.make_node("ReduceSum", ["sum_out"], ["total"], keepdims=0),
         helper.make_node("Less", ["total", "ten"], ["cond_out"])],
        "body",
        [tensor("i", [], TensorProto.INT64), tensor("cond_in", [], TensorProto.BOOL),
         tensor("sum_in", [2])],
        [tensor("cond_out", [], TensorProto.BOOL), tensor("sum_out", [2])],
        [numpy_helper.from_array(np.array(10, np.float32), "ten")])
    nodes = [helper.make_node("Loop", ["", "", "x"], ["y"], body=body, name="loop")]
    return graph_model(nodes, [tensor("x", [2])], [tensor("y", [2])])


def static_if():
    # An If whose condition is a constant: only the branch taken is imported.
    then_branch = helper.make_graph([helper.make_node("Relu", ["x"], ["a"])], "then", [],
                                    [tensor("a", [4])])
    else_branch = helper.make_graph([helper.make_node("Neg", ["x"], ["b"])], "else", [],
                                    [tensor("b", [4])])
    nodes = [helper.make_node("If", ["cond"], ["y"], then_branch=then_branch,
                              else_branch=else_branch, name="if")]
    return graph_model(nodes, [tensor("x", [4])], [tensor("y", [4])],
                       [numpy_helper.from_array(np.array(False), "cond")])


def f16_mul_add():
    # y = a * b + a in float16: fp16 arithmetic where the target has it.
    nodes = [helper.make_node("Mul", ["a", "b"], ["m"]), helper.make_node("Add", ["m", "a"], ["y"])]
    f16 = TensorProto.FLOAT16
    return graph_model(nodes, [tensor("a", [4096], f16), tensor("b", [4096], f16)],
                       [tensor("y", [4096], f16)])


def linear():
    # A float product by constant weights [64, 48] (packed at compile time):
    # with --precision fp16 on ARMv8.2-A, the f16 product kernel's case.
    w = numpy_helper.from_array(weights((64, 48)), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="linear")]
    return graph_model(nodes, [tensor("x", [32, 64])], [tensor("y", [32, 48])], [w])


def qdq_conv():
    # A QDQ convolution, uint8 activations by per-channel int8 weights: the
    # int8 NCHWc convolution kernel's case (sdot on ARMv8.2-A).
    rng = np.random.default_rng(0)
    init = {
        "sx": np.array(0.02, np.float32), "zx": np.array(128, np.uint8),
        "w": rng.integers(-127, 128, (32, 16, 3, 3), dtype=np.int8),
        "sw": np.full(32, 0.01, np.float32), "zw": np.zeros(32, np.int8),
        "sy": np.array(0.05, np.float32), "zy": np.array(0, np.uint8),
    }
    nodes = [helper.make_node("DequantizeLinear", ["x", "sx", "zx"], ["xf"]),
             helper.make_node("DequantizeLinear", ["w", "sw", "zw"], ["wf"], axis=0),
             helper.make_node("Conv", ["xf", "wf"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("QuantizeLinear", ["r", "sy", "zy"], ["y"])]
    return graph_model(nodes, [tensor("x", [1, 16, 12, 12], TensorProto.UINT8)],
                       [tensor("y", [1, 32, 12, 12], TensorProto.UINT8)],
                       [numpy_helper.from_array(v, k) for k, v in init.items()])


def matmul_integer():
    # uint8 activations times int8 weights with per-column zero points: the
    # int8 microkernel's case (sdot on ARMv8.2-A).
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.integers(-128, 128, (64, 48), dtype=np.int8), "w")
    a_zero = numpy_helper.from_array(np.array(128, np.uint8), "a_zero")
    w_zero = numpy_helper.from_array(rng.integers(-3, 4, 48, dtype=np.int8), "w_zero")
    nodes = [helper.make_node("MatMulInteger", ["x", "w", "a_zero", "w_zero"], ["y"],
                              name="mmi")]
    return graph_model(nodes, [tensor("x", [32, 64], TensorProto.UINT8)],
                       [tensor("y", [32, 48], TensorProto.INT32)], [w, a_zero, w_zero])


def gpu_fallback():
    # A CumSum between two matrix products: the CUDA target lacks
    # kiln.cumsum, so it runs on the CPU with a transfer either side, while
    # the products (worth a transfer of their operands) run on the GPU.
    w1 = numpy_helper.from_array(weights((256, 256)) / 16, "w1")
    w2 = numpy_helper.from_array(weights((256, 256), 1) / 16, "w2")
    axis = numpy_helper.from_array(np.array(1, dtype=np.int64), "axis")
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["a"], name="matmul1"),
        helper.make_node("CumSum", ["a", "axis"], ["c"], name="cumsum1"),
        helper.make_node("MatMul", ["c", "w2"], ["y"], name="matmul2"),
    ]
    return graph_model(nodes, [tensor("x", [256, 256])], [tensor("y", [256, 256])],
                       [w1, w2, axis])


MODELS = {
    "gpu_fallback": gpu_fallback,
    "qdq_conv": qdq_conv,
    "linear": linear,
    "matmul_integer": matmul_integer,
    "f16_mul_add": f16_mul_add,
    "data_dependent_loop": data_dependent_loop,
    "static_if": static_if,
    "reshape_input": reshape_input,
    "conv_relu": conv_relu,
    "conv_wide": conv_wide,
    "conv_pool": conv_pool,
    "shape_chain": shape_chain,
    "symbolic_input": symbolic_input,
    "unknown_op": unknown_op,
    "unsupported_attribute": unsupported_attribute,
    "mismatched_shapes": mismatched_shapes,
    "new_opset": new_opset,
    "elementwise_chain": elementwise_chain,
}


def main():
    name, out = sys.argv[1], sys.argv[2]
    if name == "shape_value":
        return shape_value(out)
    model = external_data(out) if name == "external_data" else MODELS[name]()
    onnx.save(model, out)


if __name__ == "__main__":
    main()
