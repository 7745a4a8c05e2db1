"""What the microkernel e2e tests (conv_nchwc.py, int8_matmul.py) share:
which kernels a model's lowered code calls, and one compile-and-run."""
import os
import subprocess

import numpy as np


def lowered_kernels(kiln, model, target, prefix="kiln_ukernel_"):
    """The sorted names of the microkernels `model`'s lowered code calls."""
    lowered = subprocess.run([kiln, "compile", model, "--target", target, "--compile-to", "lower"],
                             check=True, capture_output=True, text=True).stdout
    return sorted({word for word in lowered.replace("@", " ").replace("(", " ").split()
                   if word.startswith(prefix)})


def compile_and_run(kiln, runner, model, target, base, feeds, output):
    """Compiles `model` for `target` to BASE.kiln, runs it with `runner` (a
    command list ending where the bundle goes) on `feeds` ({name: array},
    saved as BASE.<name>.npy) and returns output `output`."""
    subprocess.run([kiln, "compile", model, "--target", target, "-o", base + ".kiln"], check=True)
    command = runner + [base + ".kiln", "--output-dir", base + ".out"]
    for name, value in feeds.items():
        np.save(f"{base}.{name}.npy", value)
        command += ["--input", f"{name}={base}.{name}.npy"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return np.load(os.path.join(base + ".out", output + ".npy"))
