"""Machine code for a lowered plan, through llvmlite, cached on disk per user.

Why llvmlite and not numba: measured on this machine, `import numba` takes
0.5-0.8 s and loading a kernel from numba's cache another 0.6-0.8 s per
process, while `import llvmlite.binding` takes 0.1-0.2 s and loading an object
file a few milliseconds. The plan is already a straight line of scalar
operations, so writing its IR directly (`gradcli.plans.lower`) is little work,
and the CLI pays the compiled back end's start-up only where it earns it.

The cache: one object file per kernel, named by a hash of the IR text, the
CPU, and the llvmlite, LLVM and gradcli versions, in `$XDG_CACHE_HOME/gradcli`
(or platformdirs' user cache dir). Each file carries a checksum of its code;
a file that is missing, unreadable, truncated or altered is ignored and
rebuilt, and a cache directory that cannot be written only costs the cache.

Threads: the points are split into one contiguous range per worker
(`GRADCLI_THREADS`, default all cores), each a single call into the kernel
through ctypes, which releases the GIL. Every point is computed by the same
instructions whatever range it falls in, so results do not depend on the
thread count.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from gradcli.plans.lower import FUNCTION, Lowered
from gradcli.plans.plan import _pool, _workers

_MAGIC = b"gradcli-kernel-1\n"
_FORMAT = "1"


def cache_dir() -> str:
    """The per-user cache directory for compiled kernels."""
    try:
        import platformdirs

        base = platformdirs.user_cache_dir("gradcli", appauthor=False)
    except ImportError:
        root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                ".cache")
        base = os.path.join(root, "gradcli")
    return os.path.join(base, "kernels")


class _Llvm:
    """llvmlite, initialised once per process: the target machine and its fingerprint."""

    _instance: _Llvm | None = None
    #: (cpu, features, vectorize) to compile for instead of this host (`set_target`)
    _override: tuple[str, str, bool] | None = None

    def __init__(self) -> None:
        import llvmlite
        import llvmlite.binding as llvm

        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        cpu, features = llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()
        self.vectorize = True
        if self._override is not None:
            cpu, features, self.vectorize = self._override
        self.cpu, self.features = cpu, features
        self.llvm = llvm
        self.machine = llvm.Target.from_default_triple().create_target_machine(
            cpu=cpu, features=features, opt=3, reloc="pic", codemodel="default")
        from gradcli import __version__

        self.fingerprint = "|".join([_FORMAT, __version__, llvmlite.__version__,
                                     ".".join(map(str, llvm.llvm_version_info)), cpu,
                                     features, str(self.vectorize)])

    @classmethod
    def get(cls) -> _Llvm:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance


def set_target(cpu: str | None = None, features: str | None = None,
               vectorize: bool = True) -> None:
    """Compile for `cpu` with `features` (LLVM's names, "+avx2,-avx512f,..."), or for
    this host again with no arguments; `vectorize=False` keeps loops scalar.

    For benchmarks and tests of the narrower variants (AVX2, scalar) on a wider host."""
    _Llvm._override = None if cpu is None else (cpu, features or "", vectorize)
    _Llvm._instance = None
    _LOADED.clear()


def target_features() -> str:
    """The CPU features kernels are compiled for (LLVM's comma-separated +/- list)."""
    return str(_Llvm.get().features)


def vector_width() -> int:
    """The widest vector of doubles the target has: 8 (AVX-512), 4 (AVX2), 2 (SSE2)."""
    llvm = _Llvm.get()
    if not llvm.vectorize:
        return 1
    features = set(llvm.features.split(","))
    return 8 if "+avx512f" in features else 4 if "+avx2" in features else 2


class Kernel:
    """A loaded kernel: call `run` on input arrays to get the output arrays."""

    def __init__(self, lowered: Lowered, engine: Any, source: str, seconds: float):
        self.lowered = lowered
        self._engine = engine  # keeps the code mapped
        address = engine.get_function_address(FUNCTION)
        count = len(lowered.input_shapes) + len(lowered.output_shapes)
        prototype = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_int64,
                                     *([ctypes.c_void_p] * count))
        self._function = prototype(address)
        #: where the code came from: "compiled", "disk cache" or "memory"
        self.source = source
        #: seconds spent compiling or loading it
        self.seconds = seconds

    def run(self, arrays: Sequence[np.ndarray], size: int) -> list[np.ndarray]:
        inputs = [np.ascontiguousarray(a, dtype=np.float64) for a in arrays]
        for a, shape in zip(inputs, self.lowered.input_shapes, strict=True):
            if a.shape != (size, *shape):
                raise ValueError(f"kernel input of shape {a.shape}, expected {(size, *shape)}")
        outputs = [np.empty((size, *shape)) for shape in self.lowered.output_shapes]
        pointers = [a.ctypes.data for a in (*inputs, *outputs)]
        workers = min(_workers(), max(1, size // 1024))
        if workers <= 1:
            self._function(0, size, *pointers)
        else:
            per = -(-size // workers)
            bounds = [(k * per, min(size, (k + 1) * per)) for k in range(workers)]
            futures = [_pool().submit(self._function, start, stop, *pointers)
                       for start, stop in bounds[1:]]
            self._function(*bounds[0], *pointers)
            for future in futures:
                future.result()
        return outputs


_LOADED: dict[str, Kernel] = {}
#: every execution engine made, kept for the life of the process: disposing of an
#: MCJIT engine that was given object code crashes llvmlite, and each is small
_ENGINES: list[Any] = []


def load(lowered: Lowered) -> Kernel:
    """The kernel for `lowered`: from this process, the disk cache, or a fresh compile."""
    llvm = _Llvm.get()
    key = hashlib.sha256(f"{llvm.fingerprint}\n{lowered.ir}".encode()).hexdigest()
    if key in _LOADED:
        kernel = _LOADED[key]
        return Kernel(lowered, kernel._engine, "memory", 0.0)
    start = time.perf_counter()
    path = os.path.join(cache_dir(), f"{key}.o")
    code = _read_cached(path, key)
    source = "disk cache"
    if code is None:
        code = compile_ir(lowered.ir)
        _write_cached(path, key, code)
        source = "compiled"
    engine = llvm.llvm.create_mcjit_compiler(llvm.llvm.parse_assembly(""), llvm.machine)
    engine.add_object_file(llvm.llvm.ObjectFileRef.from_data(code))
    engine.finalize_object()
    _ENGINES.append(engine)
    kernel = Kernel(lowered, engine, source, time.perf_counter() - start)
    _LOADED[key] = kernel
    return kernel


def compile_ir(ir: str) -> bytes:
    """Optimised object code for the IR (LLVM -O3, for this CPU)."""
    llvm = _Llvm.get()
    return bytes(llvm.machine.emit_object(_optimised(ir)))


def assembly(ir: str) -> str:
    """The optimised IR as this CPU's assembly text (to see which vector registers it uses)."""
    llvm = _Llvm.get()
    return str(llvm.machine.emit_assembly(_optimised(ir)))


def _optimised(ir: str) -> Any:
    llvm = _Llvm.get()
    module = llvm.llvm.parse_assembly(ir)
    module.verify()
    options = llvm.llvm.create_pipeline_tuning_options(speed_level=3)
    options.loop_vectorization = llvm.vectorize
    options.slp_vectorization = llvm.vectorize
    builder = llvm.llvm.create_pass_builder(llvm.machine, options)
    builder.getModulePassManager().run(module, builder)
    if "vector-function-abi-variant" in ir:
        from gradcli import vecmath

        vecmath.finish(llvm.llvm, module, llvm.machine)
    return module


def _read_cached(path: str, key: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError:
        return None
    header = _MAGIC + key.encode() + b"\n"
    if not blob.startswith(header) or len(blob) < len(header) + 32:
        return None
    digest, code = blob[len(header):len(header) + 32], blob[len(header) + 32:]
    if hashlib.sha256(code).digest() != digest:
        return None
    return code


def _write_cached(path: str, key: str, code: bytes) -> None:
    """Store the code atomically; a cache that cannot be written is no error."""
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".partial-")
        with os.fdopen(handle, "wb") as f:
            f.write(_MAGIC + key.encode() + b"\n" + hashlib.sha256(code).digest() + code)
        os.replace(temporary, path)
    except OSError:
        pass
