"""Run every benchmark module of this package (those with a run() function), or those named."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
NOT_BENCHMARKS = {"readme"}


def benchmark_names() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules([str(PACKAGE_DIR)]) if not m.name.startswith("_")]
    return sorted(name for name in names if name not in NOT_BENCHMARKS)


def main(argv: list[str]) -> int:
    from droidft_server.worker import blas

    blas.load(blas.worker_threads(1))  # what a worker does first: the rows run on the workers' BLAS
    names = argv or benchmark_names()
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "run"):
            continue
        print(f"== bench.{name}", flush=True)
        started = time.perf_counter()
        rows = module.run()
        print(f"== bench.{name}: {len(rows)} rows in {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
