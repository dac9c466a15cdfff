"""Distributed SFT on this machine: tokens/s of one process and of two ranks over MLX's ring on 127.0.0.1.

The tiny llama, the 400 generated chat records of bench.sft_throughput, LoRA rank 8, global batch 8, 30
iterations through the ProcessRunner (as the server runs jobs); steady throughput is the median of the reports
after the first (which includes start-up and MLX's kernel compilation). The ranks share the machine's cores
(each gets its share of the BLAS threads: one each here, where one process gets two), so the third row, one
process with a one-thread BLAS, tells the ring's effect from the BLAS threads'. `python -m bench.distributed`
writes its section of bench/README.md.
"""

from __future__ import annotations

import os
import queue
import statistics
import tempfile
import time
from pathlib import Path

from bench.readme import markdown_table, write_section
from bench.sft_throughput import write_chat_data
from droidft.v1 import job_pb2, progress_pb2

ITERATIONS = 30
REPORT_EVERY = 5
BATCH_SIZE = 8


class _Listener:
    def __init__(self) -> None:
        self.reports: list[progress_pb2.TrainReport] = []
        self.done: queue.Queue = queue.Queue()

    def on_started(self, job_id: str, device: str) -> None:
        pass

    def on_event(self, job_id: str, event: progress_pb2.TrainingProgress) -> None:
        if event.HasField("train_report"):
            self.reports.append(event.train_report)

    def on_finished(self, job_id: str, outcome) -> None:
        self.done.put(outcome)


def measure(model: Path, data: Path, output_dir: Path, ranks: int, blas_threads: int | None = None) -> dict:
    from droidft_server.supervisor.runner import ProcessRunner
    from droidft_server.worker.blas import worker_threads

    spec = job_pb2.TrainingJobSpec(
        model_path=str(model),
        train_data_path=str(data),
        iterations=ITERATIONS,
        batch_size=BATCH_SIZE,
        learning_rate=1e-4,
        max_seq_length=512,
        report_every=REPORT_EVERY,
        checkpoint_every=ITERATIONS,
    )
    spec.sft.SetInParent()
    if ranks > 1:
        spec.distributed.ranks = ranks
    runner, listener = ProcessRunner(blas_threads=blas_threads), _Listener()
    started = time.perf_counter()
    runner.start(f"bench-{ranks}", spec, output_dir, listener)
    outcome = listener.done.get(timeout=600)
    wall = time.perf_counter() - started
    runner.shutdown()
    assert outcome.state == job_pb2.JOB_STATE_SUCCEEDED, outcome
    steady = listener.reports[1:]
    return {
        "ranks": ranks,
        "blas": max(1, (blas_threads or worker_threads(1)) // ranks),
        "tokens_per_second": statistics.median(r.tokens_per_second for r in steady),
        "iterations_per_second": statistics.median(r.iterations_per_second for r in steady),
        "wall": wall,
        "loss": f"{listener.reports[0].loss:.3f} -> {listener.reports[-1].loss:.3f}",
    }


def run() -> list[dict]:
    from droidft_server.devtools.tiny_model import build_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = build_tiny_model(root / "model", seed=0)
        data = write_chat_data(root)
        rows = [measure(model, data, root / f"out-{ranks}", ranks) for ranks in (1, 2)]
        rows.append(measure(model, data, root / "out-1-thread", 1, blas_threads=1))
    alone, two, one_thread = (row["tokens_per_second"] for row in rows)
    for row in rows:
        row["speedup"] = f"{row['tokens_per_second'] / alone:.2f}x"
        row["efficiency"] = f"{row['tokens_per_second'] / alone / row['ranks']:.0%}"
        row["tokens_per_second"] = f"{row['tokens_per_second']:,.0f}"
        row["iterations_per_second"] = f"{row['iterations_per_second']:.2f}"
        row["wall"] = f"{row['wall']:.1f}"
    columns = {
        "ranks": "ranks",
        "blas": "BLAS threads per process",
        "tokens_per_second": "tokens/s",
        "iterations_per_second": "it/s",
        "speedup": "speed-up vs 1 process on every core",
        "efficiency": "scaling efficiency (speed-up / ranks)",
        "wall": "job wall s",
        "loss": "loss",
    }
    body = (
        f"`python -m bench.distributed` on {os.cpu_count()} CPU cores, measured under load (the machine was shared "
        "with other developers' test runs, so the figures move from run to run). "
        + __doc__.split("\n\n")[1].replace("\n", " ")
        + f" Against one process with a one-thread BLAS, two one-thread ranks run at {two / one_thread:.2f}x "
        "(both on this machine's two cores: for a tiny, dispatch-bound model two processes also overlap Python's "
        "per-kernel work, which the ring's cost does not outweigh)." + "\n\n" + markdown_table(rows, columns)
    )
    write_section("## Distributed SFT: one process vs two ranks on one machine", body)
    print(markdown_table(rows, columns))
    return rows


if __name__ == "__main__":
    from droidft_server.worker import blas

    blas.load(blas.worker_threads(1))
    run()
