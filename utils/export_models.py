#!/usr/bin/python3
"""Exports real models to ONNX with a torch reference output, for Kiln's e2e tests.

  /usr/bin/python3 utils/export_models.py --out-dir build/models resnet18 [resnet50 ...]

For each model writes <out-dir>/<model>/:
  model.onnx      random weights (torch.manual_seed(0)), eval mode
  input.npy       a seeded random input
  reference.npy   torch's output for input.npy
  meta.json       input/output names, opset, reference source, this script's hash

A model whose meta.json carries this script's hash (and whose files exist) is
not exported again unless --force: the export is deterministic, so the same
script gives the same files.
"""

import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch
import torchvision


def _vision(constructor):
    # weights=None: random init; no download (the build machines are offline).
    return lambda: constructor(weights=None)


class EncoderLayer(torch.nn.Module):
    """A BERT-style post-norm encoder layer written with plain modules, so the
    export has what exporters really write: MatMul/Add for Linear, LayerNorm
    spelled out as ReduceMean/Sub/Pow/Sqrt/Div (opset 13), GELU through Erf."""

    def __init__(self, d_model=256, heads=4, ffn=1024):
        super().__init__()
        self.heads = heads
        self.qkv = torch.nn.Linear(d_model, 3 * d_model)
        self.proj = torch.nn.Linear(d_model, d_model)
        self.norm1 = torch.nn.LayerNorm(d_model)
        self.ffn_in = torch.nn.Linear(d_model, ffn)
        self.ffn_out = torch.nn.Linear(ffn, d_model)
        self.norm2 = torch.nn.LayerNorm(d_model)

    def forward(self, x):
        batch, seq, d_model = x.shape
        head = d_model // self.heads
        q, k, v = self.qkv(x).split(d_model, dim=-1)

        def split_heads(t):
            return t.reshape(batch, seq, self.heads, head).transpose(1, 2)

        q, k, v = split_heads(q), split_heads(k), split_heads(v)
        scores = q @ k.transpose(-2, -1) / head ** 0.5
        attended = torch.softmax(scores, dim=-1) @ v
        attended = attended.transpose(1, 2).reshape(batch, seq, d_model)
        x = self.norm1(x + self.proj(attended))
        return self.norm2(x + self.ffn_out(torch.nn.functional.gelu(self.ffn_in(x))))


def _encoder(layers=4):
    return lambda: torch.nn.Sequential(*[EncoderLayer() for _ in range(layers)])


# name -> (model factory, input shape, opset). Add a model with one line here.
MODELS = {
    # 4 layers, d_model 256, 4 heads, FFN 1024, sequence 128; the input is
    # the token embeddings.
    "encoder": (_encoder(4), (1, 128, 256), 13),
    "resnet18": (_vision(torchvision.models.resnet18), (1, 3, 224, 224), 13),
    "resnet50": (_vision(torchvision.models.resnet50), (1, 3, 224, 224), 13),
    "mobilenet_v2": (_vision(torchvision.models.mobilenet_v2), (1, 3, 224, 224), 13),
}

INPUT_NAME = "input"
OUTPUT_NAME = "output"


def script_hash():
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def is_current(model_dir, digest):
    try:
        with open(os.path.join(model_dir, "meta.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    files = ("model.onnx", "input.npy", "reference.npy")
    return meta.get("script_sha256") == digest and all(
        os.path.isfile(os.path.join(model_dir, name)) for name in files)


def export(name, model_dir, digest):
    factory, input_shape, opset = MODELS[name]
    torch.manual_seed(0)
    model = factory().eval()
    # A separate generator so the input does not depend on how many random
    # numbers the model's initialisation consumed.
    image = torch.randn(input_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        reference = model(image)

    os.makedirs(model_dir, exist_ok=True)
    # Write to temporary names and rename last, so an interrupted export is
    # never mistaken for a current one.
    onnx_tmp = os.path.join(model_dir, "model.onnx.tmp")
    torch.onnx.export(model, image, onnx_tmp, opset_version=opset, input_names=[INPUT_NAME],
                      output_names=[OUTPUT_NAME], do_constant_folding=True)
    os.replace(onnx_tmp, os.path.join(model_dir, "model.onnx"))
    np.save(os.path.join(model_dir, "input.npy"), image.numpy())
    np.save(os.path.join(model_dir, "reference.npy"), reference.numpy())
    meta = {
        "model": name,
        "opset": opset,
        "input": {"name": INPUT_NAME, "shape": list(input_shape), "dtype": "float32",
                  "source": "torch.randn, generator seed 1"},
        "output": {"name": OUTPUT_NAME, "shape": list(reference.shape)},
        "weights": "random (torch.manual_seed(0)), eval mode",
        "reference": f"torch {torch.__version__} CPU fp32 eval, torchvision {torchvision.__version__}",
        "script_sha256": digest,
    }
    with open(os.path.join(model_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", choices=sorted(MODELS))
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--force", action="store_true", help="export even if the files are current")
    args = parser.parse_args()

    # Exports run beside compiler builds; one thread also keeps results reproducible.
    torch.set_num_threads(1)
    digest = script_hash()
    for name in args.models:
        model_dir = os.path.join(args.out_dir, name)
        if not args.force and is_current(model_dir, digest):
            print(f"{name}: up to date in {model_dir}")
            continue
        started = time.time()
        export(name, model_dir, digest)
        size_mb = os.path.getsize(os.path.join(model_dir, "model.onnx")) / 1e6
        print(f"{name}: exported to {model_dir} ({size_mb:.1f} MB, {time.time() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
