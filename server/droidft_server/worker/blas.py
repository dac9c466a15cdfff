"""Which BLAS library MLX's CPU matrix products call, chosen in a worker process before MLX loads.

On Linux the `mlx[cpu]` wheel bundles Netlib's reference BLAS, whose float32 GEMM runs at about
5 GFLOP/s on a 2-core Xeon where Intel's MKL (the `mkl` wheel from PyPI, installed with the server
on Linux x86-64) runs at about 320. `libmlx.so` resolves `cblas_sgemm` and its kin through the
dynamic linker's global scope before its own dependencies, so loading MKL's single dynamic library
with RTLD_GLOBAL before `mlx.core` is imported makes every MLX matmul of the process use it, with
no LD_PRELOAD and no change to how the process is started. bench/README.md has the measurements
behind the choice (MKL over OpenBLAS builds) and the numerics check.

`locate()` runs anywhere (the server names the library in its calibration cache key); `load()` only
in a process that is about to import MLX. Setting DROIDFT_BLAS=reference keeps MLX's own library.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

logger = logging.getLogger(__name__)

ENVIRONMENT_SWITCH = "DROIDFT_BLAS"  # "reference": keep the BLAS bundled with MLX
REFERENCE = "reference"
_MKL_LIBRARY_GLOB = "libmkl_rt.so*"  # MKL's single dynamic library: the whole CBLAS with standard names


@dataclass(frozen=True)
class BlasChoice:
    name: str  # "mkl-2026.2.1" or "reference"
    library: Path | None  # what load() opens; None for MLX's own


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_threads(max_concurrent_jobs: int) -> int:
    """A worker's share of the cores when `max_concurrent_jobs` workers train at once."""
    return max(1, available_cores() // max(1, max_concurrent_jobs))


def _mkl_library() -> Path | None:
    # pip puts the wheel's libraries in the environment's lib/ (the "data" scheme path).
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        found = sorted((Path(prefix) / "lib").glob(_MKL_LIBRARY_GLOB))
        if found:
            return found[0]
    return None


def _optimised_blas_wanted() -> bool:
    # macOS MLX uses Accelerate and Metal already; elsewhere only the environment switch says no.
    return sys.platform.startswith("linux") and os.environ.get(ENVIRONMENT_SWITCH) != REFERENCE


def locate() -> BlasChoice:
    """The BLAS a worker of this installation will load (loads nothing)."""
    if not _optimised_blas_wanted():
        return BlasChoice(REFERENCE, None)
    library = _mkl_library()
    if library is None:
        return BlasChoice(REFERENCE, None)
    try:
        version = metadata.version("mkl")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return BlasChoice(f"mkl-{version}", library)


_in_use = REFERENCE  # what load() chose in this process


def load(threads: int) -> str:
    """Make this process's MLX use the optimised BLAS with `threads` threads; returns what it uses.

    Must run before `mlx.core` is imported; falls back to MLX's reference BLAS with a logged warning
    when the library is missing or cannot be loaded.
    """
    global _in_use
    if _in_use != REFERENCE:
        return _in_use  # loaded already
    choice = locate()
    if choice.library is None:
        if _optimised_blas_wanted():
            logger.warning(
                "no optimised BLAS installed (the mkl package); MLX's CPU matmuls use the "
                "reference BLAS, about 30x slower"
            )
        return REFERENCE
    if "mlx.core" in sys.modules:
        logger.warning("mlx.core was imported before the BLAS was chosen; it keeps the reference BLAS")
        return REFERENCE
    # MKL reads these when it first runs. STRICT conditional numerical reproducibility with a fixed thread
    # count gives the same bits on every run on one machine (it cost nothing measurable on the GEMM here).
    os.environ.setdefault("MKL_THREADING_LAYER", "INTEL")
    os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
    os.environ["MKL_DYNAMIC"] = "FALSE"
    os.environ["MKL_NUM_THREADS"] = str(threads)
    try:
        mkl = ctypes.CDLL(str(choice.library), mode=ctypes.RTLD_GLOBAL)
        mkl.MKL_Set_Num_Threads(ctypes.c_int(threads))
    except (OSError, AttributeError) as error:
        logger.warning("could not load %s (%s); MLX's CPU matmuls use the reference BLAS", choice.library, error)
        return REFERENCE
    _in_use = f"{choice.name} ({threads} threads)"
    return _in_use


def describe_device() -> str:
    """MLX's default device and, on the CPU, the BLAS under its matmuls: what a job reports it ran on."""
    import mlx.core as mx

    device = mx.default_device()
    return f"{device}, BLAS {_in_use}" if device.type == mx.cpu else str(device)
