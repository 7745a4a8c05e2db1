#!/usr/bin/python3
"""Trains a small network on Fashion-MNIST and exports it to ONNX for the Kiln demo.

Run with Debian's python (it has torch):  /usr/bin/python3 train.py [--arch ARCH]
  --arch cnn          FashionCNN (the default): two convolutions, two linears
  --arch mobilenet    FashionMobileNet: depthwise-separable and inverted-residual blocks
  --arch transformer  FashionTransformer: a 2-layer ViT on 7x7 patches
Writes, next to this script (or into --out-dir), for model NAME (fashion_cnn,
fashion_mobilenet, fashion_transformer):
  NAME.onnx              opset 13, input 'image' float32 [BATCH,1,28,28] in [0,1],
                         output 'logits' float32 [BATCH,10]
  reference_logits.npy   torch's logits for test images 0..BATCH-1 (the e2e check);
                         NAME.reference_logits.npy for the models other than fashion_cnn
  reference.json         torch's test accuracy and how the files were made;
                         NAME.reference.json for the models other than fashion_cnn
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fashion_mnist_data import DEFAULT_DATA_DIR, load_split, reference_files  # noqa: E402

# Per-pixel statistics of the Fashion-MNIST training set (pixels in [0,1]).
# Baked into the model so that callers only scale bytes by 1/255.
PIXEL_MEAN = 0.2860
PIXEL_STD = 0.3530


class FashionCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10),
        )

    def forward(self, image):
        return self.classifier(self.features((image - PIXEL_MEAN) / PIXEL_STD))


def conv_bn(cin, cout, kernel, stride=1, groups=1, relu=True):
    """Conv (no bias) + BatchNorm [+ ReLU]; the export folds the BatchNorm."""
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class DepthwiseSeparable(nn.Module):
    """MobileNet v1: depthwise 3x3 + BN + ReLU, pointwise 1x1 + BN + ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.block = nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin), conv_bn(cin, cout, 1))

    def forward(self, x):
        return self.block(x)


class InvertedResidual(nn.Module):
    """MobileNet v2: expand 1x1 + BN + ReLU, depthwise 3x3 + BN + ReLU,
    project 1x1 + BN (linear), plus the input when the shapes match."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.block = nn.Sequential(conv_bn(cin, hidden, 1), conv_bn(hidden, hidden, 3, stride, groups=hidden),
                                   conv_bn(hidden, cout, 1, relu=False))
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.block(x) if self.residual else self.block(x)


class FashionMobileNet(nn.Module):
    """A small MobileNet. ReLU rather than ReLU6: torch's CPU hardtanh doubles
    the training time."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(1, 16, 3),                     # 16 x 28 x 28
            DepthwiseSeparable(16, 32, stride=2),  # 32 x 14 x 14
            InvertedResidual(32, 32, 1, expand=2),
            DepthwiseSeparable(32, 64, stride=2),  # 64 x 7 x 7
            InvertedResidual(64, 64, 1, expand=2),
            InvertedResidual(64, 64, 1, expand=2),
            conv_bn(64, 128, 1),                   # 128 x 7 x 7
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(128, 10)

    def forward(self, image):
        x = self.features((image - PIXEL_MEAN) / PIXEL_STD)
        return self.classifier(torch.flatten(self.pool(x), 1))


class SelfAttention(nn.Module):
    """Multi-head self-attention spelled out (nn.MultiheadAttention's export is
    harder to read): one Linear for q, k and v, heads by reshape/transpose,
    MatMul, Softmax, MatMul, output Linear."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.head = heads, dim // heads  # (a Python int: the export's scale is a constant)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        batch, tokens, dim = x.shape
        head = self.head
        q, k, v = self.qkv(x).split(dim, dim=-1)

        def split_heads(t):
            return t.reshape(batch, tokens, self.heads, head).transpose(1, 2)

        q, k, v = split_heads(q), split_heads(k), split_heads(v)
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(head), dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(batch, tokens, dim))


class EncoderLayer(nn.Module):
    """Pre-LayerNorm transformer encoder layer with a GELU MLP."""

    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = SelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class FashionTransformer(nn.Module):
    """A small ViT: 16 patches of 7x7 pixels, each embedded by a Linear, plus a
    learned position embedding; 2 encoder layers; mean over the tokens, final
    LayerNorm, Linear to the classes."""

    def __init__(self, patch=7, dim=64, heads=4, mlp=128, layers=2):
        super().__init__()
        self.patch, self.grid = patch, 28 // patch
        self.embed = nn.Linear(patch * patch, dim)
        self.position = nn.Parameter(torch.randn(1, self.grid * self.grid, dim) * 0.02)
        self.encoder = nn.Sequential(*[EncoderLayer(dim, heads, mlp) for _ in range(layers)])
        self.norm = nn.LayerNorm(dim)
        self.classifier = nn.Linear(dim, 10)

    def forward(self, image):
        x = (image - PIXEL_MEAN) / PIXEL_STD
        batch, patch, grid = x.shape[0], self.patch, self.grid
        # [B,1,28,28] -> [B,grid,patch,grid,patch] -> [B,grid,grid,patch,patch] -> [B,tokens,patch*patch]
        x = x.reshape(batch, grid, patch, grid, patch).transpose(2, 3).reshape(batch, grid * grid, patch * patch)
        x = self.encoder(self.embed(x) + self.position)
        return self.classifier(self.norm(x.mean(1)))


# --arch -> the model, its file name, its training defaults and (for the json)
# a description. cnn's settings are the committed fashion_cnn's.
ARCHS = {
    "cnn": dict(model=FashionCNN, name="fashion_cnn", epochs=2, train_batch=64, lr=3e-3),
    "mobilenet": dict(
        model=FashionMobileNet, name="fashion_mobilenet", epochs=3, train_batch=32, lr=3e-3,
        architecture="conv3x3(1->16)+BN+ReLU @28x28; depthwise-separable(16->32, stride 2) @14x14; "
                     "inverted-residual(32->32, expand 2, residual); depthwise-separable(32->64, stride 2) "
                     "@7x7; 2x inverted-residual(64->64, expand 2, residual); conv1x1(64->128)+BN+ReLU; "
                     "global average pool; linear(128->10)"),
    "transformer": dict(
        model=FashionTransformer, name="fashion_transformer", epochs=3, train_batch=64, lr=3e-3,
        architecture="16 patches of 7x7 embedded by linear(49->64) + learned position embedding; "
                     "2 pre-LayerNorm encoder layers (4-head self-attention with linear q/k/v, "
                     "MLP 64->128->64 with GELU); mean over tokens; LayerNorm; linear(64->10)"),
}


def evaluate(model, images, labels, batch_size):
    """Returns (accuracy, logits) over the whole split."""
    model.eval()
    logits = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            logits.append(model(torch.from_numpy(images[start:start + batch_size])))
    logits = torch.cat(logits).numpy()
    return float((logits.argmax(1) == labels).mean()), logits


def train(model, images, labels, epochs, batch_size, lr, generator):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * ((len(images) + batch_size - 1) // batch_size))
    loss_fn = nn.CrossEntropyLoss()
    images_t, labels_t = torch.from_numpy(images), torch.from_numpy(labels)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(images), generator=generator)
        total_loss, started = 0.0, time.time()
        for start in range(0, len(images), batch_size):
            idx = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(images_t[idx]), labels_t[idx])
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += loss.item() * len(idx)
        print(f"epoch {epoch + 1}/{epochs}: loss {total_loss / len(images):.4f} "
              f"({time.time() - started:.0f} s)", flush=True)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=sorted(ARCHS), default="cnn")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    parser.add_argument("--out-dir", default=here)
    parser.add_argument("--epochs", type=int, help="default: the arch's (cnn 2)")
    parser.add_argument("--train-batch", type=int, help="default: the arch's (cnn 64)")
    parser.add_argument("--lr", type=float, help="default: the arch's (cnn 3e-3)")
    parser.add_argument("--export-batch", type=int, default=100,
                        help="fixed batch size of the exported model (10000 must be a multiple)")
    args = parser.parse_args()
    arch = ARCHS[args.arch]
    for setting in ("epochs", "train_batch", "lr"):
        if getattr(args, setting) is None:
            setattr(args, setting, arch[setting])

    # One thread: the machine is shared with compiler builds, and it keeps runs reproducible.
    torch.set_num_threads(1)
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)

    train_images, train_labels = load_split("train", args.data_dir)
    test_images, test_labels = load_split("t10k", args.data_dir)
    if len(test_images) % args.export_batch:
        parser.error(f"--export-batch {args.export_batch} does not divide {len(test_images)}")

    model = arch["model"]()
    started = time.time()
    train(model, train_images, train_labels, args.epochs, args.train_batch, args.lr, generator)
    train_seconds = time.time() - started
    accuracy, logits = evaluate(model, test_images, test_labels, args.export_batch)
    print(f"torch test accuracy: {accuracy * 100:.2f}% (trained in {train_seconds:.0f} s)")

    os.makedirs(args.out_dir, exist_ok=True)
    onnx_name = arch["name"] + ".onnx"
    json_name, logits_name = reference_files(arch["name"])
    onnx_path = os.path.join(args.out_dir, onnx_name)
    model.eval()
    torch.onnx.export(model, torch.from_numpy(test_images[:args.export_batch]), onnx_path,
                      opset_version=13, input_names=["image"], output_names=["logits"],
                      do_constant_folding=True)
    np.save(os.path.join(args.out_dir, logits_name), logits[:args.export_batch])
    meta = {
        "model": onnx_name,
        "input": "image", "output": "logits", "batch": args.export_batch,
        "input_convention": "float32 pixels / 255 in [0,1]; mean/std normalisation is inside the model",
        "reference_logits": f"torch {torch.__version__} logits for t10k images 0..{args.export_batch - 1}",
        "torch_test_accuracy": accuracy,
        "torch_test_correct": int((logits.argmax(1) == test_labels).sum()),
        "test_images": len(test_images),
        "epochs": args.epochs, "train_batch": args.train_batch, "lr": args.lr, "seed": 0,
        "train_seconds": round(train_seconds, 1),
    }
    if args.arch != "cnn":  # (fashion_cnn's reference.json keeps its fields)
        meta.update({
            "arch": args.arch, "architecture": arch["architecture"],
            "parameters": sum(p.numel() for p in model.parameters()),
            "optimizer": "Adam, one-cycle lr schedule", "torch_threads": 1,
        })
    with open(os.path.join(args.out_dir, json_name), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes)")


if __name__ == "__main__":
    main()
