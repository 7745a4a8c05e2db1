#!/usr/bin/python3
"""Trains a small CNN on Fashion-MNIST and exports it to ONNX for the Kiln demo.

Run with Debian's python (it has torch):  /usr/bin/python3 train.py
Writes, next to this script (or into --out-dir):
  fashion_cnn.onnx       opset 13, input 'image' float32 [BATCH,1,28,28] in [0,1],
                         output 'logits' float32 [BATCH,10]
  reference_logits.npy   torch's logits for test images 0..BATCH-1 (the e2e check)
  reference.json         torch's test accuracy and how the files were made
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fashion_mnist_data import DEFAULT_DATA_DIR, load_split  # noqa: E402

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
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    parser.add_argument("--out-dir", default=here)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--export-batch", type=int, default=100,
                        help="fixed batch size of the exported model (10000 must be a multiple)")
    args = parser.parse_args()

    # One thread: the machine is shared with compiler builds, and it keeps runs reproducible.
    torch.set_num_threads(1)
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)

    train_images, train_labels = load_split("train", args.data_dir)
    test_images, test_labels = load_split("t10k", args.data_dir)
    if len(test_images) % args.export_batch:
        parser.error(f"--export-batch {args.export_batch} does not divide {len(test_images)}")

    model = FashionCNN()
    started = time.time()
    train(model, train_images, train_labels, args.epochs, args.train_batch, args.lr, generator)
    train_seconds = time.time() - started
    accuracy, logits = evaluate(model, test_images, test_labels, args.export_batch)
    print(f"torch test accuracy: {accuracy * 100:.2f}% (trained in {train_seconds:.0f} s)")

    os.makedirs(args.out_dir, exist_ok=True)
    onnx_path = os.path.join(args.out_dir, "fashion_cnn.onnx")
    model.eval()
    torch.onnx.export(model, torch.from_numpy(test_images[:args.export_batch]), onnx_path,
                      opset_version=13, input_names=["image"], output_names=["logits"],
                      do_constant_folding=True)
    np.save(os.path.join(args.out_dir, "reference_logits.npy"), logits[:args.export_batch])
    meta = {
        "model": "fashion_cnn.onnx",
        "input": "image", "output": "logits", "batch": args.export_batch,
        "input_convention": "float32 pixels / 255 in [0,1]; mean/std normalisation is inside the model",
        "reference_logits": f"torch {torch.__version__} logits for t10k images 0..{args.export_batch - 1}",
        "torch_test_accuracy": accuracy,
        "torch_test_correct": int((logits.argmax(1) == test_labels).sum()),
        "test_images": len(test_images),
        "epochs": args.epochs, "train_batch": args.train_batch, "lr": args.lr, "seed": 0,
        "train_seconds": round(train_seconds, 1),
    }
    with open(os.path.join(args.out_dir, "reference.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes)")


if __name__ == "__main__":
    main()
