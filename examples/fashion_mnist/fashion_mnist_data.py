"""Reads Debian's dataset-fashion-mnist IDX files into numpy arrays.

Shared by train.py, demo.py and the e2e test so that all three see exactly the
same images in the same order; also names each model's reference files.
"""

import gzip
import os
import struct

import numpy as np

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"

CLASS_NAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]

# IDX magic numbers: 0x0000 08 NN, type 0x08 = unsigned byte, NN = rank.
_IDX_UBYTE_IMAGES = 0x00000803
_IDX_UBYTE_LABELS = 0x00000801


def _read_idx(path, expected_magic):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    if magic != expected_magic:
        raise ValueError(f"{path}: IDX magic {magic:#010x}, expected {expected_magic:#010x}")
    rank = magic & 0xFF
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank)
    if array.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {array.size} bytes of data for dims {dims}")
    return array.reshape(dims)


def load_split(split, data_dir=DEFAULT_DATA_DIR):
    """Returns (images, labels) for split 'train' or 't10k'.

    images: float32 [N, 1, 28, 28] scaled to [0, 1] -- the model's input
    convention (the mean/std normalisation happens inside the model).
    labels: int64 [N].
    """
    images = _read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz"), _IDX_UBYTE_IMAGES)
    labels = _read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz"), _IDX_UBYTE_LABELS)
    if len(images) != len(labels):
        raise ValueError(f"{split}: {len(images)} images but {len(labels)} labels")
    images = (images.astype(np.float32) / 255.0)[:, None, :, :]
    return images, labels.astype(np.int64)


def reference_files(model):
    """Returns (reference json, reference logits) file names for model NAME
    (NAME.onnx): fashion_cnn's are the original reference.json and
    reference_logits.npy, the others' NAME.reference.json and
    NAME.reference_logits.npy."""
    if model == "fashion_cnn":
        return "reference.json", "reference_logits.npy"
    return f"{model}.reference.json", f"{model}.reference_logits.npy"
