"""The sampler worker through the server's own SamplerProcess: a first call that loads the model, a second
served from its cache, greedy tokens per second, and how soon a cancelled call is over.

Two tiny llamas built locally, a 20-token prompt, 256 greedy tokens (no end of answer: the random models
talk on). `python -m bench.sampling` writes its section of bench/README.md.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from bench.readme import markdown_table, write_section
from bench.sft_throughput import SHAPES

MAX_TOKENS = 256
PROMPT = "What is the answer to this question, and why"


def _call(sampler, model, max_tokens: int, is_active=lambda: True) -> tuple[float, float, int]:
    """(seconds to the first token, seconds in all, tokens) of one greedy generation."""
    from droidft_server.domain.sampling import Sampling

    started = time.perf_counter()
    first, tokens = None, 0
    for message in sampler.generate(model, Sampling(max_tokens=max_tokens), (), PROMPT, is_active):
        if getattr(message, "token_ids", ()) and first is None:
            first = time.perf_counter() - started
        tokens += len(getattr(message, "token_ids", ()))
    return first or 0.0, time.perf_counter() - started, tokens


def measure(model_dir: Path, log_dir: Path) -> dict:
    from droidft_server.domain.sampling import ModelKey
    from droidft_server.supervisor.sampler import SamplerProcess
    from droidft_server.worker.blas import worker_threads

    sampler = SamplerProcess(log_dir, worker_threads(1))
    model = ModelKey(str(model_dir))
    try:
        loading_first, _, _ = _call(sampler, model, 1)
        cached_first, seconds, tokens = _call(sampler, model, MAX_TOKENS)
        active = threading.Event()
        active.set()
        cancelled_at: list[float] = []

        def cancel_soon() -> None:
            time.sleep(0.2)  # a benchmark's pause, not a synchronisation: the call runs on meanwhile
            cancelled_at.append(time.perf_counter())
            active.clear()

        threading.Thread(target=cancel_soon).start()
        _call(sampler, model, 100_000, active.is_set)
        cancel_seconds = time.perf_counter() - cancelled_at[0]
    finally:
        sampler.shutdown()
    return {
        "loading": f"{loading_first:.2f}",
        "cached": f"{cached_first * 1000:.0f}",
        "rate": f"{tokens / seconds:.0f}",
        "cancel": f"{cancel_seconds * 1000:.0f}",
        "loads": sampler.loads,
    }


def run() -> list[dict]:
    from droidft_server.devtools.tiny_model import build_tiny_model

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for index, (name, shape) in enumerate(SHAPES.items()):
            model_dir = build_tiny_model(root / f"model-{index}", seed=0, **shape)
            rows.append({"model": name, **measure(model_dir, root / f"log-{index}")})
            print(rows[-1], flush=True)
    table = markdown_table(
        rows,
        {
            "model": "model",
            "loading": "first call, first token (s, loads the model)",
            "cached": "second call, first token (ms, cached)",
            "rate": "greedy tokens/s",
            "cancel": "cancel to end of call (ms)",
            "loads": "models loaded",
        },
    )
    body = (
        "The sampler worker through `SamplerProcess` (`bench/sampling.py`), on the CPU of the 2-core machine: a "
        f"{len(PROMPT)}-character prompt, {MAX_TOKENS} greedy tokens. The first call starts the worker and loads "
        "the model; the second finds it in the cache (two calls, one load). Measured while other work shared the "
        "machine: the load time is mostly spawning the worker and importing MLX.\n\n" + table
    )
    write_section("## Sampling on the CPU", body)
    return rows


if __name__ == "__main__":
    from droidft_server.worker import blas

    blas.load(blas.worker_threads(1))
    run()
