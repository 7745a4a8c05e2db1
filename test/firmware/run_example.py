#!/usr/bin/python3
"""Builds examples/firmware against libkiln_core.a (the aarch64-firmware
preset) and checks the program:

- it is a static executable: no interpreter, no dynamic section, and no
  malloc/free/new/delete or C++ exception symbols;
- its linker map exists;
- under qemu-aarch64 it prints, for each of the 10 test images, the class
  torch predicts for it (the Fashion-MNIST example's reference logits).

  /usr/bin/python3 run_example.py --kiln build/default/bin/kiln \\
      --core-library build/aarch64-firmware/lib/libkiln_core.a --build-dir DIR
"""
import argparse
import os
import re
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FORBIDDEN = re.compile(r"^(malloc|calloc|realloc|free|_Znwm|_Znam|_ZdlPv|_ZdaPv|_ZdlPvm|"
                       r"__cxa_\w+|_Unwind_\w+|__gxx_personality_v0)$")


def run(command, **kwargs):
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          **kwargs)
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout)
        raise SystemExit(f"run_example: `{' '.join(command)}` failed (exit {proc.returncode})")
    return proc.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiln", required=True)
    parser.add_argument("--core-library", required=True)
    parser.add_argument("--build-dir", required=True)
    args = parser.parse_args()

    run(["cmake", "-S", os.path.join(REPO_ROOT, "examples", "firmware"), "-B", args.build_dir,
         "-G", "Ninja",
         f"-DCMAKE_TOOLCHAIN_FILE={os.path.join(REPO_ROOT, 'cmake', 'aarch64-none-elf.cmake')}",
         f"-DKILN={os.path.abspath(args.kiln)}",
         f"-DKILN_CORE_LIBRARY={os.path.abspath(args.core_library)}",
         f"-DKILN_INCLUDE_DIR={os.path.join(REPO_ROOT, 'runtime', 'include')}"])
    run(["cmake", "--build", args.build_dir])
    program = os.path.join(args.build_dir, "fashion_fw")
    failures = []

    headers = run(["llvm-readelf-19", "--program-headers", "--dynamic", program])
    static = "INTERP" not in headers and "DYNAMIC" not in headers
    print(f"static executable (no interpreter, no dynamic section): {'ok' if static else 'FAIL'}")
    symbols = run(["llvm-nm-19", "--format=just-symbols", program]).split()
    forbidden = sorted({s for s in symbols if FORBIDDEN.match(s)})
    print(f"no allocation or exception symbols: {'ok' if not forbidden else 'FAIL ' + str(forbidden)}")
    has_map = os.path.isfile(os.path.join(args.build_dir, "fashion_fw.map"))
    print(f"linker map fashion_fw.map: {'ok' if has_map else 'FAIL'}")
    failures += [name for name, ok in [("static", static), ("symbols", not forbidden),
                                        ("map", has_map)] if not ok]

    output = run(["qemu-aarch64", program])
    sys.stdout.write(output)
    printed = {int(i): int(c) for i, c in re.findall(r"^image (\d+): class (\d+)", output, re.M)}
    with open(os.path.join(args.build_dir, "expected.txt")) as f:
        expected = {int(i): int(c) for i, c, _label in (line.split() for line in f)}
    wrong = [i for i in expected if printed.get(i) != expected[i]]
    print(f"classes of {len(expected)} images match torch's: "
          f"{'ok' if not wrong and len(printed) == len(expected) else 'FAIL ' + str(wrong)}")
    if wrong or len(printed) != len(expected):
        failures.append("classes")
    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
