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

# mlir-cpu-runner and its runtime libraries: tests that execute lowered IR on
# the CPU (the GPU target's tensor-level rewrites, checked against numpy).
runner_libs = [os.path.join(getattr(config, "llvm_libs_dir", ""), name)
               for name in ("libmlir_runner_utils.so", "libmlir_c_runner_utils.so")]
if (os.path.exists(os.path.join(config.llvm_tools_dir, "mlir-cpu-runner"))
        and all(os.path.exists(lib) for lib in runner_libs)):
    config.available_features.add("mlir-cpu-runner")
    config.substitutions.append(
        ("%run_on_cpu",
         "mlir-opt --one-shot-bufferize=bufferize-function-boundaries "
         "--convert-linalg-to-loops --lower-affine --convert-scf-to-cf "
         "--expand-strided-metadata --finalize-memref-to-llvm --convert-math-to-llvm "
         "--convert-arith-to-llvm --convert-func-to-llvm --convert-cf-to-llvm "
         "--convert-index-to-llvm --reconcile-unrealized-casts | "
         "mlir-cpu-runner -e main -entry-point-result=void -shared-libs=" + ",".join(runner_libs)))
