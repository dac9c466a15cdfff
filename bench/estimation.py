"""Resource estimator calibration: predicted vs measured peak memory and time per iteration.

Each configuration trains a locally built tiny llama for a few iterations in a fresh
subprocess (so peak memory and compiled kernels do not leak between rows): SFT with
mlx-lm's compiled step (the one droidft's SFT trainer runs), and GRPO-style iterations
(mlx-lm-lora's batched sampler for batch_size x group_size completions, the sampling
policy's log-probabilities, then one gradient over every completion). Memory is
mx.get_peak_memory() after warm-up; time is the median per iteration on
worker/calibration.py's device_clock (process CPU time on the CPU with a one-thread
BLAS, wall time otherwise) with wall time alongside. The table goes into bench/README.md.

Run: python -m bench.estimation   (or `make bench`, which runs every bench module); about 15 minutes on
2 cores, most of it the 0.5B-1B rows; --quick skips those and leaves bench/README.md as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from droidft.v1 import job_pb2
from droidft_server.domain.estimation import DeviceProfile, TokenLengths, estimate, read_model_facts
from droidft_server.domain.job_estimate import estimate_job
from droidft_server.domain.spec import resolve
from droidft_server.supervisor.calibration import load_or_calibrate, profile_from
from droidft_server.worker import blas

from .estimation_measure import (
    ACCELERATOR_ITERATIONS,
    CHAT_RECORDS,
    CONFIGS,
    LARGE_ITERATIONS,
    MEASURED_ITERATIONS,
    SUBPROCESS_TIMEOUT,
    WARMUP_ITERATIONS,
    Config,
    build_model,
    config_from,
)
from .readme import README, write_section

REPO_ROOT = Path(__file__).resolve().parent.parent
SECTION_TITLE = "## Resource estimator: predicted vs measured"
MEMORY_GOAL = 0.15
TIME_GOAL = 0.30


# --- prediction (no MLX in this process) ---------------------------------------------------


def spec_of(config: Config, model_path: Path, data_path: Path | None = None) -> job_pb2.TrainingJobSpec:
    spec = job_pb2.TrainingJobSpec(
        model_path=str(model_path),
        train_data_path=str(data_path or "bench.jsonl"),
        batch_size=config.batch_size,
        max_seq_length=config.max_seq_length,
        iterations=MEASURED_ITERATIONS,
    )
    spec.adapter.rank = config.rank
    spec.adapter.fine_tune_type = {"lora": 1, "dora": 2, "full": 3}[config.fine_tune_type]
    if config.num_layers is not None:
        spec.adapter.num_layers = config.num_layers
    if config.method == "sft":
        spec.sft.grad_checkpoint = config.grad_checkpoint
    elif config.method == "dpo":
        spec.dpo.SetInParent()
    else:
        spec.grpo.rollout.group_size = config.group_size
        spec.grpo.rollout.max_completion_length = config.completion_tokens
        spec.grpo.beta = config.beta
    return spec


def predict(config: Config, model_path: Path, device: DeviceProfile, data_path: Path | None = None):
    if data_path is not None:  # what EstimateResources does: token lengths measured on the data file
        return estimate_job(resolve(spec_of(config, model_path, data_path)), device)
    lengths = TokenLengths(mean=config.tokens, p95=config.tokens, max=config.tokens)
    return estimate(
        resolve(spec_of(config, model_path)), read_model_facts(model_path), token_lengths=lengths, device=device
    )


def write_chat_records(path: Path, model_path: Path, config: Config) -> Path:
    """CHAT_RECORDS two-turn chat records whose texts have lengths spread over config.chat_tokens
    (tokens of the model's tokenizer, without the chat template), in random order."""
    import numpy as np

    from droidft_server.domain.datasets.tokens import load_tokenizer

    tokenizer = load_tokenizer(model_path)
    words = [w[1:] for w in tokenizer.get_vocab() if w.startswith("\u0120") and w[1:].isalpha()]
    rng = np.random.default_rng(0)

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    def text_of(tokens: int) -> str:  # `tokens` tokens, or a word more
        chosen = [str(rng.choice(words))]
        while count(" ".join(chosen)) < tokens:
            chosen.append(str(rng.choice(words)))
        return " ".join(chosen)

    shortest, longest = config.chat_tokens
    with path.open("w") as out:
        for _ in range(CHAT_RECORDS):
            total = int(rng.integers(shortest, longest + 1))
            question = text_of(max(1, total // 3))
            answer = text_of(max(1, total - count(question) - 1))  # the validator joins the turns with a newline
            messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
            out.write(json.dumps({"messages": messages}) + "\n")
    return path


def measure_in_subprocess(config: Config, model_path: Path, data_path: Path | None = None) -> dict:
    payload = json.dumps(
        {"config": asdict(config), "model_path": str(model_path), "data_path": str(data_path) if data_path else None}
    )
    completed = subprocess.run(
        [sys.executable, "-m", "bench.estimation_measure", "--measure", payload],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{config.name}: measurement failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    config: Config
    predicted_bytes: int
    measured_bytes: int
    predicted_seconds: float
    measured_seconds: float
    wall_seconds: float

    @classmethod
    def of(cls, config: Config, predicted, measured: dict) -> Row:
        """A row from the estimate and a measurement (measure()'s figures)."""
        return cls(
            config,
            predicted.peak_memory_bytes,
            measured["peak_memory_bytes"],
            predicted.seconds_per_iteration,
            measured["seconds_per_iteration"],
            measured["wall_seconds_per_iteration"],
        )

    @property
    def memory_error(self) -> float:
        return (self.predicted_bytes - self.measured_bytes) / self.measured_bytes

    @property
    def time_error(self) -> float:
        return (self.predicted_seconds - self.measured_seconds) / self.measured_seconds


def _describe(config: Config) -> str:
    parts = [config.shape.label(), f"b{config.batch_size}"]
    if config.method == "dpo":
        parts.append(f"{config.tokens} tok chosen + rejected")
    elif config.chat_tokens is not None:
        parts.append(f"{CHAT_RECORDS} chat records of {config.chat_tokens[0]}-{config.chat_tokens[1]} text tok")
    elif config.method == "sft":
        parts.append(
            f"{config.tokens} tok" + (f" (max {config.max_seq_length})" if config.max_seq_length < 2048 else "")
        )
    else:
        parts.append(f"G{config.group_size} prompt {config.tokens} + {config.completion_tokens}")
        if config.beta:
            parts.append(f"beta {config.beta}")
    parts.append(
        config.fine_tune_type if config.fine_tune_type == "full" else f"{config.fine_tune_type} r{config.rank}"
    )
    if config.quantized_bits:
        parts.append(f"{config.quantized_bits}-bit base")
    elif config.dtype != "float32":
        parts.append(config.dtype)
    if not config.shape.tie_word_embeddings:
        parts.append("untied")
    if config.num_layers:
        parts.append(f"last {config.num_layers}")
    if config.grad_checkpoint:
        parts.append("checkpointed")
    return ", ".join(parts)


def table(rows: list[Row], device: DeviceProfile) -> str:
    lines = [
        f"`python -m bench.estimation` on {device.name} ({os.cpu_count()} cores), MLX "
        f"{device.mlx_version}, BLAS {blas.locate().name} with {blas.worker_threads(1)} thread(s); calibration "
        f"(measured at the start of the run): {device.matmul_flops_per_second / 1e9:.2f} GFLOP/s float32 matmul, "
        f"{device.half_matmul_flops_per_second / 1e9:.2f} bfloat16, "
        f"{device.memory_bytes_per_second / 1e9:.2f} GB/s, {device.seconds_per_op * 1e6:.1f} us per kernel. "
        "The machine was shared with two other developers' training runs during the run: memory figures are "
        "not affected, but with more than one BLAS thread time is wall time, and both the calibration and the "
        "measured times move with the other runs' load, so the time columns are noisy. "
        f"Memory: mx.get_peak_memory() over {MEASURED_ITERATIONS} iterations after {WARMUP_ITERATIONS} warm-up "
        f"iterations; rows of {CHAT_RECORDS} generated chat records over one epoch after a warm-up epoch (their "
        "batches differ in length; time is the epoch's mean); 0.5B-1B rows (random weights in the named "
        f"family's shape, built here) over {LARGE_ITERATIONS[1]} after {LARGE_ITERATIONS[0]}. Time: median "
        "seconds per iteration in process CPU time with a one-thread BLAS, in wall time with more (each BLAS "
        "thread adds CPU time); wall time alongside. "
        f"Goals: memory within {MEMORY_GOAL:.0%}, time within {TIME_GOAL:.0%}. "
        "Held out: no constant of the estimator was fitted on that configuration (the memory copies were "
        "fitted on a separate sweep of SFT steps and 10 GRPO rollouts, the matmul efficiency and decoding "
        "cost on the rows marked no).",
        "",
    ]
    return "\n".join(lines + _rows_and_summary(rows))


def _rows_and_summary(rows: list[Row]) -> list[str]:
    """The table of predicted against measured rows, and how many meet each goal."""
    mib = 1024**2
    lines = [
        "| configuration | method | held out | predicted MiB | measured MiB | memory error "
        "| predicted s/it | measured s/it | time error | wall s/it |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {_describe(row.config)} | {row.config.method} | {'yes' if row.config.held_out else 'no'} | "
            f"{row.predicted_bytes / mib:.2f} | "
            f"{row.measured_bytes / mib:.2f} | {row.memory_error:+.1%} | {row.predicted_seconds:.4f} | "
            f"{row.measured_seconds:.4f} | {row.time_error:+.1%} | {row.wall_seconds:.4f} |"
        )
    memory_ok = sum(abs(r.memory_error) <= MEMORY_GOAL for r in rows)
    time_ok = sum(abs(r.time_error) <= TIME_GOAL for r in rows)
    return [
        *lines,
        "",
        f"Memory within {MEMORY_GOAL:.0%}: {memory_ok}/{len(rows)} rows "
        f"(largest error {max(abs(r.memory_error) for r in rows):.1%}). "
        f"Time within {TIME_GOAL:.0%}: {time_ok}/{len(rows)} rows "
        f"(largest error {max(abs(r.time_error) for r in rows):.1%}).",
        "",
    ]


def built_model(models: dict[tuple, Path], directory: Path, config: Config) -> Path:
    """The configuration's model, built into `directory` the first time its shape, dtype and quantisation come up."""
    key = config.model_key()
    if key not in models:
        models[key] = build_model(directory / f"model-{len(models)}", config)
    return models[key]


def run(configs: tuple[Config, ...] = CONFIGS, readme: Path | None = README) -> list[Row]:
    """Measure every configuration, compare with the estimate, and write the table into the README (unless None)."""
    with tempfile.TemporaryDirectory(prefix="droidft-bench-estimation-") as tmp:
        tmp = Path(tmp)
        device = load_or_calibrate(
            tmp / "state", blas_threads=blas.worker_threads(1)
        )  # measured now, under the same load as the rows
        models: dict[tuple, Path] = {}
        rows = []
        for config in configs:
            path = built_model(models, tmp, config)
            data = None
            if config.chat_tokens is not None:
                data = write_chat_records(tmp / f"chat-{len(rows)}.jsonl", path, config)
            row = Row.of(config, predict(config, path, device, data), measure_in_subprocess(config, path, data))
            print(
                f"{config.name:28s} memory {row.memory_error:+7.1%}  time {row.time_error:+7.1%}  "
                f"({row.measured_bytes / 1024**2:.2f} MiB, {row.measured_seconds:.4f} s)",
                flush=True,
            )
            rows.append(row)
    if readme is not None:
        write_section(SECTION_TITLE, table(rows, device), readme)
    return rows


DEVICE_SECTION_TITLE = "## Resource estimator on an NVIDIA H200 (CUDA)"
DEVICE_ROWS = sorted((Path(__file__).resolve().parent / "measured").glob("h200-cuda-*.jsonl"))


def device_rows(paths: list[Path]) -> tuple[list[Row], list[DeviceProfile], list[str]]:
    """Rows of `bench.estimation_measure --sweep` files against the estimate with each file's own calibration (no
    MLX needed: the models are rebuilt here for their shapes); also the calibrations and the rows not measured."""
    rows, devices, missing = [], [], []
    with tempfile.TemporaryDirectory(prefix="droidft-bench-device-rows-") as tmp:
        models: dict[tuple, Path] = {}
        for path in paths:
            device = None
            for line in path.read_text().splitlines():
                record = json.loads(line)
                if "calibration" in record:
                    device = profile_from(record["calibration"])
                    devices.append(device)
                    continue
                config = config_from(record["config"])
                if "peak_memory_bytes" not in record:
                    missing.append(config.name)
                    continue
                held_out = replace(config, held_out=config.method != "sft")  # CUDA's memory copies: the SFT rows
                rows.append(Row.of(held_out, predict(config, built_model(models, Path(tmp), config), device), record))
    measured = {row.config.name for row in rows}
    return rows, devices, [name for name in dict.fromkeys(missing) if name not in measured]


def device_table(rows: list[Row], devices: list[DeviceProfile], missing: list[str]) -> str:
    calibrations = "; ".join(
        f"{d.matmul_flops_per_second / 1e12:.0f} TFLOP/s float32 matmul, {d.half_matmul_flops_per_second / 1e12:.0f} "
        f"bfloat16, {d.memory_bytes_per_second / 1e12:.2f} TB/s, {d.seconds_per_op * 1e6:.1f} us per kernel"
        for d in devices
    )
    lines = [
        f"`python -m bench.estimation_measure --sweep` on {devices[0].name} (mlx-cuda-13 {devices[0].mlx_version}, "
        f"Python 3.12), in {len(devices)} leases; the raw rows are bench/measured/h200-cuda-*.jsonl and `python -m "
        "bench.estimation --device-rows` makes this table from them on any machine. Calibration of each lease: "
        f"{calibrations} (above the card's plain float32 rate, so MLX's float32 products run on its tensor cores). "
        "Each row ran in the one process of its lease (MLX's CUDA build compiles its kernels at "
        "first use: 58 s for the first SFT row, 29 s for the first GRPO row); memory is mx.get_peak_memory() over "
        f"{ACCELERATOR_ITERATIONS[1]} iterations after {ACCELERATOR_ITERATIONS[0]} warm-up iterations, less what "
        "earlier rows left allocated (at most 384 bytes); time is the median wall time per iteration. CUDA's "
        "constants (server/droidft_server/domain/estimation/backends.py) were fitted on these rows: the memory "
        "copies on the SFT rows (held out: no), the kernel counts on every row. Before that fit the estimator, "
        "with the CPU's constants, predicted 11-54 % less memory than measured on every row but one. "
        f"Goals: memory within {MEMORY_GOAL:.0%}, time within {TIME_GOAL:.0%}.",
        "",
    ]
    lines += _rows_and_summary(rows)
    if missing:
        lines += [
            f"Not measured: {', '.join(missing)} (the first lease's SFT rows stopped at an import the sweep no "
            "longer makes; the second lease's time limit stopped the sweep in the 4-bit row, after 70 s and more).",
            "",
        ]
    lines += [
        "Training throughput on the card, from the same rows (tokens a step trains on: SFT rows x tokens; GRPO "
        "the sampled rows' prompts and completions, sampling included in the time):",
        "",
        "| configuration | method | tokens per iteration | measured s/it | tokens/s | peak MiB |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        c = row.config
        if c.method == "sft":
            tokens = c.batch_size * min(c.tokens, c.max_seq_length)
        else:
            tokens = c.batch_size * c.group_size * (c.tokens + c.completion_tokens)
        lines.append(
            f"| {_describe(c)} | {c.method} | {tokens:,} | {row.measured_seconds:.4f} | "
            f"{tokens / row.measured_seconds:,.0f} | {row.measured_bytes / 1024**2:.1f} |"
        )
    return "\n".join([*lines, ""])


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="skip the 0.5B-1B rows (minutes each) and leave bench/README.md as it is"
    )
    parser.add_argument(
        "--device-rows", action="store_true", help="write the H200 section from bench/measured/ (no measurement)"
    )
    args = parser.parse_args()
    if args.device_rows:
        write_section(DEVICE_SECTION_TITLE, device_table(*device_rows(DEVICE_ROWS)))
    elif args.quick:
        run(tuple(c for c in CONFIGS if not c.large), readme=None)
    else:
        run()


if __name__ == "__main__":
    _main()
