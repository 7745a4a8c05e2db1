#!/usr/bin/python3
"""Prepares the firmware example's inputs from the Fashion-MNIST example:

  make_inputs.py OUT_DIR [--count 10]

- OUT_DIR/fashion_b1.onnx: examples/fashion_mnist/fashion_cnn.onnx with its
  batch dim made symbolic (`batch`), so that kiln compiles it for one image
  (`--shape image=1x1x28x28`): an arena for one image, not 100.
- OUT_DIR/images.bin: the first COUNT t10k test images, float32 [COUNT, 784]
  in the model's input convention (pixels / 255).
- OUT_DIR/expected.txt: per image, torch's class (from the example's
  reference logits) and the label.
"""
import argparse
import os
import sys

import numpy as np
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
FASHION_DIR = os.path.join(os.path.dirname(HERE), "fashion_mnist")
sys.path.insert(0, FASHION_DIR)
from fashion_mnist_data import DEFAULT_DATA_DIR, load_split  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)

    model = onnx.load(os.path.join(FASHION_DIR, "fashion_cnn.onnx"))
    for value in list(model.graph.input) + list(model.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.ClearField("dim_value")
        dim.dim_param = "batch"
    onnx.save(model, os.path.join(args.out_dir, "fashion_b1.onnx"))

    images, labels = load_split("t10k", args.data_dir)
    images[:args.count].astype(np.float32).reshape(args.count, -1).tofile(
        os.path.join(args.out_dir, "images.bin"))
    reference = np.load(os.path.join(FASHION_DIR, "reference_logits.npy"))
    with open(os.path.join(args.out_dir, "expected.txt"), "w") as f:
        for i in range(args.count):
            f.write(f"{i} {int(reference[i].argmax())} {int(labels[i])}\n")


if __name__ == "__main__":
    main()
