# Kiln lit configuration: FileCheck tests mirroring the source tree.
import os

import lit.formats

config.name = "Kiln"
config.test_format = lit.formats.ShTest(True)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.kiln_obj_root)

path = os.pathsep.join([config.kiln_tools_dir, config.llvm_tools_dir,
                        config.environment.get("PATH", "")])
config.environment["PATH"] = path
# Debian's python3 sees python3-onnx; the first python3 on PATH may not.
config.substitutions.append(("%python", "/usr/bin/python3"))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))

# The CUDA toolkit's stub driver (cuInit returns 34): tests of the runtime's
# fallback from an unusable driver put it first on the library path.
cuda_stub = os.path.join(getattr(config, "cuda_root", ""), "lib64", "stubs", "libcuda.so")
if os.path.exists(cuda_stub):
    config.available_features.add("cuda-stub")
    config.substitutions.append(("%cuda_stub", cuda_stub))
