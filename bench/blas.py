"""MLX's CPU matmuls on the reference BLAS bundled with `mlx[cpu]` vs Intel MKL, side by side in one run.

Each configuration runs in a fresh process (the BLAS is chosen before MLX is imported): float32 GEMM
GFLOP/s at 1024x1024, then real LoRA SFT of the small locally built llama through the worker's own
entry, and its model FLOPs utilisation against the best GEMM rate measured in this run.
`python -m bench.blas` writes its section of bench/README.md.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.readme import markdown_table, write_section

GEMM_SIZE = 1024
ITERATIONS = 60
REPORT_EVERY = 10
SMALL_SHAPE = dict(hidden_size=256, num_layers=4, num_heads=8, num_kv_heads=2, intermediate_size=512, vocab_size=2048)
# Frozen weights need the forward product and the input gradient only: about 4 FLOPs per parameter
# and token for LoRA (6 for full fine-tuning); attention scores are left out, so this is a lower bound.
LORA_FLOPS_PER_PARAMETER_TOKEN = 4


def _configurations() -> list[tuple[str, dict[str, str], int]]:
    from droidft_server.worker import blas

    cores = blas.available_cores()
    rows = [("reference (bundled with mlx[cpu])", {blas.ENVIRONMENT_SWITCH: blas.REFERENCE}, 1)]
    rows += [(f"{blas.locate().name}, {n} thread{'s' if n > 1 else ''}", {}, n) for n in sorted({1, cores})]
    return rows


def _gemm_flops(product) -> float:
    """FLOP/s of `product()`, a GEMM of GEMM_SIZE squares, timed for about a second after two warm-up calls."""
    for _ in range(2):
        product()
    calls, started = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - started < 1.0:
        product()
        calls += 1
    return 2 * GEMM_SIZE**3 * calls / (time.perf_counter() - started)


def _mlx_gemm_flops(mx) -> float:
    a, b = mx.random.normal((GEMM_SIZE, GEMM_SIZE)), mx.random.normal((GEMM_SIZE, GEMM_SIZE))
    mx.eval(a, b)
    return _gemm_flops(lambda: mx.eval(a @ b))


def _numpy_gemm_flops() -> float:
    import numpy as np

    a, b = (np.random.default_rng(0).standard_normal((GEMM_SIZE, GEMM_SIZE), dtype=np.float32) for _ in range(2))
    return _gemm_flops(lambda: a @ b)


def _one(threads: int, model: str, data: str, output_dir: str) -> dict:
    """In the measuring process: load the BLAS, time a GEMM, train."""
    from droidft_server.worker import blas

    loaded = blas.load(threads)
    import mlx.core as mx

    from bench.sft_throughput import measure_sft
    from droidft_server.domain.estimation import read_model_facts

    parameters = read_model_facts(Path(model)).total_parameters
    sft = measure_sft(Path(model), Path(data), Path(output_dir), iterations=ITERATIONS, report_every=REPORT_EVERY)
    return {"blas": loaded, "gemm": _mlx_gemm_flops(mx), "parameters": parameters, **sft}


def run() -> list[dict]:
    from bench.sft_throughput import write_chat_data
    from droidft_server.devtools.tiny_model import build_tiny_model

    rows = []
    with tempfile.TemporaryDirectory(prefix="droidft-bench-blas-") as tmp:
        root = Path(tmp)
        data = write_chat_data(root)
        model = build_tiny_model(root / "small", seed=0, **SMALL_SHAPE)
        for index, (label, environment, threads) in enumerate(_configurations()):
            completed = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.blas",
                    "--one",
                    str(threads),
                    str(model),
                    str(data),
                    str(root / f"out-{index}"),
                ],
                env={**os.environ, **environment},
                capture_output=True,
                text=True,
                check=True,
            )
            measured = json.loads(completed.stdout.strip().splitlines()[-1])
            measured["label"] = label
            print(measured, flush=True)
            rows.append(measured)
    peak = max(row["gemm"] for row in rows)
    baseline = rows[0]["tokens_per_second"]
    table = []
    for row in rows:
        model_flops = LORA_FLOPS_PER_PARAMETER_TOKEN * row["parameters"] * row["tokens_per_second"]
        table.append(
            {
                "blas": row["label"],
                "gemm": f"{row['gemm'] / 1e9:,.1f}",
                "its": f"{row['iterations_per_second']:.2f}",
                "toks": f"{row['tokens_per_second']:,.0f}",
                "speedup": f"{row['tokens_per_second'] / baseline:.1f}x",
                "mfu": f"{100 * model_flops / peak:.1f} %",
                "loss": row["loss"],
            }
        )
    columns = {
        "blas": "BLAS",
        "gemm": f"float32 GEMM {GEMM_SIZE} GFLOP/s",
        "its": "steady it/s",
        "toks": "steady tokens/s",
        "speedup": "tokens/s vs reference",
        "mfu": "model FLOPs utilisation",
        "loss": "loss",
    }
    intro = (
        f"`python -m bench.blas`, on this machine ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores; NumPy's own OpenBLAS does {_numpy_gemm_flops() / 1e9:,.0f} GFLOP/s "
        "on the same GEMM): "
        "each row a fresh process, in one run. LoRA SFT of the small llama (h256 L4 v2048, "
        f"{rows[0]['parameters']:,} parameters), 400 generated chat records, rank 8, batch 4, {ITERATIONS} iterations; "
        "steady figures are the median of the reports after the first. Model FLOPs utilisation counts "
        f"{LORA_FLOPS_PER_PARAMETER_TOKEN} FLOPs per parameter and token against the best GEMM rate of the run. "
        "Workers load MKL (the `mkl` wheel, with Intel's OpenMP) before MLX; Debian's OpenBLAS "
        "(`libopenblas0-pthread`, loaded the same way) reached 159 GFLOP/s on this GEMM on this machine, needs "
        "apt and root, and PyPI's `cmeel-openblas` 0.3.31 needs a libgfortran.so.5 it does not depend on, so MKL "
        "(161 GFLOP/s on one thread, 321 on two) is the choice. The same job's losses on both libraries are "
        "compared in tests/execution/test_blas.py."
    )
    write_section("## MLX's CPU BLAS: reference vs MKL", intro + "\n\n" + markdown_table(table, columns))
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        threads, model, data, output_dir = sys.argv[2:6]
        print(json.dumps(_one(int(threads), model, data, output_dir)))
    else:
        run()
