"""Copies the first EXECUTABLE section of a Kiln bundle to a file, for
disassembly: extract_executable.py BUNDLE OUT.so"""
import json
import subprocess
import sys


def main():
    bundle, out = sys.argv[1], sys.argv[2]
    info = json.loads(subprocess.check_output(["kiln", "inspect", "--json", bundle]))
    section = next(s for s in info["sections"] if s["kind"] == "EXECUTABLE")
    with open(bundle, "rb") as f:
        f.seek(section["offset"])
        data = f.read(section["size"])
    with open(out, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
