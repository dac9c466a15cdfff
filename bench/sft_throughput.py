"""SFT throughput through the worker's own entry (`run_job`) on the default MLX device.

Two tiny llamas built locally, 400 generated chat records, LoRA rank 8, batch 4; the first
report includes MLX's one-off kernel compilation, so steady throughput is the median of the
later reports. `python -m bench.sft_throughput` writes its section of bench/README.md.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.readme import markdown_table, write_section
from droidft.v1 import job_pb2, progress_pb2

ITERATIONS = 200
REPORT_EVERY = 20
SHAPES = {
    "tiny (h64 L2 v512)": {},
    "small (h256 L4 v2048)": dict(
        hidden_size=256, num_layers=4, num_heads=8, num_kv_heads=2, intermediate_size=512, vocab_size=2048
    ),
}


def write_chat_data(root: Path) -> Path:
    """The 400 generated chat records every SFT throughput row trains on."""
    from droidft_server.domain import datasets

    data = root / "train.jsonl"
    datasets.write_jsonl(str(data), datasets.generate("chat_messages", 400, 0))
    return data


def sft_spec(
    model: Path, data: Path, *, iterations: int = ITERATIONS, report_every: int = REPORT_EVERY
) -> job_pb2.TrainingJobSpec:
    """LoRA SFT (rank 8, batch 4), one checkpoint at the end."""
    spec = job_pb2.TrainingJobSpec(
        model_path=str(model),
        train_data_path=str(data),
        iterations=iterations,
        batch_size=4,
        learning_rate=1e-4,
        max_seq_length=512,
        report_every=report_every,
        checkpoint_every=iterations,
    )
    spec.sft.SetInParent()
    return spec


def measure_sft(
    model: Path, data: Path, output_dir: Path, *, iterations: int = ITERATIONS, report_every: int = REPORT_EVERY
) -> dict:
    """sft_spec's job through `run_job` in this process."""
    return measure_job(sft_spec(model, data, iterations=iterations, report_every=report_every), output_dir)


def measure_job(spec: job_pb2.TrainingJobSpec, output_dir: Path) -> dict:
    """A job through `run_job` in this process; steady figures are medians after the first report."""
    from droidft_server.worker.entry import run_job
    from droidft_server.worker.protocol import Event, WorkerJob

    reports: list[progress_pb2.TrainReport] = []
    started = time.perf_counter()
    first_report_seconds: list[float] = []

    def receive(message) -> None:
        if isinstance(message, Event):
            event = progress_pb2.TrainingProgress.FromString(message.progress)
            if event.HasField("train_report"):
                reports.append(event.train_report)
                if len(reports) == 1:
                    first_report_seconds.append(time.perf_counter() - started)

    run_job(
        WorkerJob(job_id="bench", spec=spec.SerializeToString(), output_dir=str(output_dir)), receive, lambda: False
    )
    steady = reports[1:]
    return {
        "first_report_seconds": first_report_seconds[0],
        "iterations_per_second": statistics.median(r.iterations_per_second for r in steady),
        "tokens_per_second": statistics.median(r.tokens_per_second for r in steady),
        "peak_bytes": reports[-1].peak_memory_bytes,
        "loss": f"{reports[0].loss:.3f} -> {reports[-1].loss:.3f}",
    }


def _measure(model: Path, data: Path, output_dir: Path) -> dict:
    measured = measure_sft(model, data, output_dir)
    return {
        "first": f"{measured['first_report_seconds']:.1f}",
        "its": f"{measured['iterations_per_second']:.1f}",
        "toks": f"{measured['tokens_per_second']:,.0f}",
        "peak": f"{measured['peak_bytes'] / 2**20:.1f}",
        "loss": measured["loss"],
    }


def run() -> list[dict]:
    import mlx.core as mx

    from droidft_server.devtools.tiny_model import build_tiny_model
    from droidft_server.worker.blas import describe_device

    rows = []
    with tempfile.TemporaryDirectory(prefix="droidft-bench-sft-") as tmp:
        root = Path(tmp)
        data = write_chat_data(root)
        for label, shape in SHAPES.items():
            model = build_tiny_model(root / label.split()[0], seed=0, **shape)
            row = {"model": label, "device": describe_device(), **_measure(model, data, root / f"out-{len(rows)}")}
            print(row, flush=True)
            rows.append(row)
    columns = {
        "model": "model",
        "device": "device",
        "first": f"s to the first report ({REPORT_EVERY} it)",
        "its": "steady it/s",
        "toks": "steady tokens/s",
        "peak": "peak MiB",
        "loss": "loss",
    }
    intro = (
        f"`python -m bench.sft_throughput`: real SFT through the worker's own entry on {rows[0]['device']}; "
        f"two tiny llamas built locally, 400 generated chat records, LoRA rank 8, batch 4, {ITERATIONS} iterations. "
        "Steady figures are the median of the reports after the first, which includes MLX's one-off kernel "
        "compilation."
    )
    write_section(
        f"## SFT throughput on the {mx.default_device().type.name.upper()}",
        intro + "\n\n" + markdown_table(rows, columns),
    )
    return rows


if __name__ == "__main__":
    from droidft_server.worker import blas

    blas.load(blas.worker_threads(1))
    run()
