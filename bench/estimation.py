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
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from droidft.v1 import job_pb2
from droidft_server.devtools.tiny_model import TinyModelShape, build_tiny_model
from droidft_server.domain.estimation import DeviceProfile, TokenLengths, estimate, read_model_facts
from droidft_server.domain.job_estimate import estimate_job
from droidft_server.domain.spec import resolve
from droidft_server.supervisor.calibration import load_or_calibrate
from droidft_server.worker import blas
from droidft_server.worker.calibration import device_clock

from .readme import README, write_section

REPO_ROOT = Path(__file__).resolve().parent.parent
SECTION_TITLE = "## Resource estimator: predicted vs measured"
MEMORY_GOAL = 0.15
TIME_GOAL = 0.30
WARMUP_ITERATIONS = 2
MEASURED_ITERATIONS = 4
LARGE_ITERATIONS = (1, 2)  # (warm-up, measured): a 1B model's SFT step takes seconds to a minute on 2 cores
SUBPROCESS_TIMEOUT = 600
CHAT_RECORDS = 32


@dataclass(frozen=True)
class Shape(TinyModelShape):
    family: str = ""  # the real model whose shape this is, e.g. "Qwen2-0.5B"

    def label(self) -> str:
        if self.family:
            return f"{self.family} shape ({self.model_type} h{self.hidden_size} L{self.num_layers} v{self.vocab_size})"
        return f"h{self.hidden_size} L{self.num_layers} v{self.vocab_size}"


SMALL = Shape(hidden_size=128, num_layers=4, num_heads=8, num_kv_heads=4, intermediate_size=256, vocab_size=1024)
WIDE = Shape(hidden_size=256, num_layers=4, num_heads=8, num_kv_heads=2, intermediate_size=512, vocab_size=2048)
DEEP_VOCAB = Shape(hidden_size=64, num_layers=6, num_heads=4, num_kv_heads=2, intermediate_size=128, vocab_size=4096)


@dataclass(frozen=True)
class Config:
    name: str
    shape: Shape = field(default_factory=Shape)
    method: str = "sft"  # "sft", "grpo" or "dpo"
    batch_size: int = 4
    tokens: int = 128  # record length (SFT) or prompt length (GRPO)
    max_seq_length: int = 2048
    rank: int = 8
    fine_tune_type: str = "lora"
    num_layers: int | None = None
    grad_checkpoint: bool = False
    group_size: int = 4
    completion_tokens: int = 32
    beta: float = 0.0
    quantized_bits: int | None = None  # base model converted with mlx_lm.convert (bfloat16 scales)
    dtype: str = "float32"  # the base model's; others are converted with mlx_lm.convert
    large: bool = False  # a 0.5B-1B model: LARGE_ITERATIONS, and only with --large
    held_out: bool = False  # no constant of the estimator was fitted on this configuration
    # SFT on CHAT_RECORDS generated chat records of (shortest, longest) text tokens, read and batched as
    # droidft's SFT trainer does (chat template, batches padded to their longest record); predicted from
    # the data file as EstimateResources does. None: identical records of `tokens` token ids.
    chat_tokens: tuple[int, int] | None = None


MIDDLE = Shape(hidden_size=96, num_layers=3, num_heads=6, num_kv_heads=3, intermediate_size=320, vocab_size=768)
# Real families' shapes (random weights, built here): grouped-query attention in all three.
QWEN2_05B = Shape(
    hidden_size=896,
    num_layers=24,
    num_heads=14,
    num_kv_heads=2,
    intermediate_size=4864,
    vocab_size=151936,
    model_type="qwen2",
    family="Qwen2-0.5B",
)
LLAMA32_1B = Shape(
    hidden_size=2048,
    num_layers=16,
    num_heads=32,
    num_kv_heads=8,
    intermediate_size=8192,
    vocab_size=128256,
    family="Llama-3.2-1B",
)
TINYLLAMA_11B = Shape(
    hidden_size=2048,
    num_layers=22,
    num_heads=32,
    num_kv_heads=4,
    intermediate_size=5632,
    vocab_size=32000,
    tie_word_embeddings=False,
    family="TinyLlama-1.1B",
)

CONFIGS = (
    Config("sft tiny"),
    Config("sft tiny batch 8", batch_size=8),
    Config("sft tiny 250 tokens", tokens=250),
    Config("sft tiny rank 32", rank=32),
    Config("sft tiny 1 x 512 tokens", batch_size=1, tokens=512),
    Config("sft tiny cut at 96", tokens=300, max_seq_length=97),
    Config("sft tiny grad checkpoint", batch_size=8, tokens=256, grad_checkpoint=True),
    Config("sft small", shape=SMALL),
    Config("sft small last 2 blocks", shape=SMALL, num_layers=2),
    Config("sft small dora", shape=SMALL, fine_tune_type="dora"),
    Config("sft small full last 2", shape=SMALL, fine_tune_type="full", num_layers=2),
    Config("sft wide rank 16", shape=WIDE, batch_size=2, tokens=200, rank=16),
    Config("sft deep vocab 4096", shape=DEEP_VOCAB, tokens=64),
    Config("grpo tiny", method="grpo", batch_size=2, tokens=32),
    Config("grpo tiny beta 0.1", method="grpo", batch_size=2, tokens=32, beta=0.1),
    Config("grpo small", shape=SMALL, method="grpo", batch_size=2, tokens=48, completion_tokens=48),
    Config("sft tiny 4-bit base", batch_size=8, quantized_bits=4, held_out=True),
    Config("dpo tiny", method="dpo", batch_size=2, tokens=100, held_out=True),
    Config("dpo small", shape=SMALL, method="dpo", batch_size=2, tokens=64, held_out=True),
    Config("sft middle", shape=MIDDLE, batch_size=3, tokens=150, rank=12, held_out=True),
    Config(
        "sft middle dora last 2",
        shape=MIDDLE,
        batch_size=6,
        tokens=90,
        fine_tune_type="dora",
        num_layers=2,
        held_out=True,
    ),
    Config("sft wide batch 1", shape=WIDE, batch_size=1, tokens=400, rank=4, held_out=True),
    Config(
        "grpo middle",
        shape=MIDDLE,
        method="grpo",
        batch_size=1,
        tokens=40,
        group_size=6,
        completion_tokens=40,
        held_out=True,
    ),
    Config(
        "grpo deep vocab beta",
        shape=DEEP_VOCAB,
        method="grpo",
        batch_size=2,
        tokens=24,
        completion_tokens=24,
        beta=0.05,
        held_out=True,
    ),
    Config("sft tiny chat 6-80 tokens", chat_tokens=(6, 80), held_out=True),
    Config("sft tiny chat 6-80 tokens batch 8", batch_size=8, chat_tokens=(6, 80), held_out=True),
    Config("sft tiny chat 20-60 tokens", chat_tokens=(20, 60), held_out=True),
    Config("sft small chat 10-200 tokens", shape=SMALL, batch_size=2, chat_tokens=(10, 200), held_out=True),
    # A 4-bit Qwen2-0.5B row ran past the 10-minute limit of a row (4 tokens, 3 iterations): MLX's CPU
    # quantised matmul runs below 1 GFLOP/s here, so the 4-bit path is held by the tiny 4-bit row only.
    Config("sft qwen2 0.5B bf16", QWEN2_05B, batch_size=1, tokens=32, dtype="bfloat16", large=True, held_out=True),
    Config("sft llama 1B tied", shape=LLAMA32_1B, batch_size=1, tokens=64, large=True, held_out=True),
    Config(
        "sft tinyllama 1.1B untied last 8",
        shape=TINYLLAMA_11B,
        batch_size=2,
        tokens=48,
        rank=16,
        num_layers=8,
        large=True,
        held_out=True,
    ),
)


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


# --- measurement (runs in a fresh subprocess per configuration) ---------------------------


def _adapt(model, config: Config) -> None:
    from mlx_lm.tuner.utils import linear_to_lora_layers

    blocks = config.num_layers or len(model.layers)
    model.freeze()
    if config.fine_tune_type == "full":
        for block in model.layers[-blocks:]:
            block.unfreeze()
    else:
        linear_to_lora_layers(
            model,
            blocks,
            {"rank": config.rank, "scale": 20.0, "dropout": 0.0},
            use_dora=config.fine_tune_type == "dora",
        )


def _sft_batches(config: Config, tokenizer, data_path: Path | None):
    """mlx-lm's iterate_batches over identical records of config.tokens token ids, or over the chat data
    file read and tokenised by droidft's SFT trainer's own dataset builders."""
    import numpy as np
    from mlx_lm.tuner.datasets import CacheDataset
    from mlx_lm.tuner.trainer import iterate_batches

    from droidft_server.domain.datasets.training_data import detected_plan, read_job_data
    from droidft_server.worker.sft import DATASETS

    if data_path is None:
        rng = np.random.default_rng(0)
        records = [
            (rng.integers(4, config.shape.vocab_size, config.tokens).tolist(), 0) for _ in range(config.batch_size)
        ]
    else:
        data = read_job_data(detected_plan(str(data_path), None, "sft"))
        records = CacheDataset(DATASETS[data.format](data.train, tokenizer, False))
    return iterate_batches(records, config.batch_size, config.max_seq_length, loop=True, seed=0)


def _sft_iteration(model, config: Config, batches):
    """mlx-lm's compiled SFT step on batches padded by mlx-lm's own iterate_batches."""
    from functools import partial

    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim
    from mlx_lm.tuner.trainer import default_loss, grad_checkpoint

    if config.grad_checkpoint:
        grad_checkpoint(model.layers[0])
    optimizer = optim.Adam(learning_rate=1e-5)
    loss_and_grad = nn.value_and_grad(model, default_loss)
    state = [model.state, optimizer.state, mx.random.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step(batch, lengths):
        (loss, tokens), grad = loss_and_grad(model, batch, lengths)
        optimizer.update(model, grad)
        return loss, tokens

    def iteration() -> None:
        loss, _ = step(*next(batches))
        mx.eval(state, loss)

    return iteration


def _grpo_iteration(model, tokenizer, config: Config, reference):
    """Sample batch_size x group_size completions, score them under the sampling policy, one gradient step."""
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim
    import numpy as np
    from mlx_lm_lora.trainer.grpo_trainer import generate_grpo

    temperature = 0.8
    rng = np.random.default_rng(0)
    prompts = [rng.integers(4, config.shape.vocab_size, config.tokens).tolist() for _ in range(config.batch_size)]
    optimizer = optim.Adam(learning_rate=1e-5)

    def log_probs(net, inputs):
        scaled = net(inputs[:, :-1]).astype(mx.float32) / temperature
        selected = mx.take_along_axis(scaled, inputs[:, 1:, None], axis=-1).squeeze(-1)
        return selected - mx.logsumexp(scaled, axis=-1)

    def loss(net, inputs, mask, old, ref, advantages):
        logp = log_probs(net, inputs)
        ratio = mx.exp(logp - old)
        clipped = mx.clip(ratio, 0.8, 1.2)
        per_token = -mx.minimum(ratio * advantages[:, None], clipped * advantages[:, None])
        if ref is not None:
            delta = ref - logp
            per_token = per_token + config.beta * (mx.exp(delta) - delta - 1)
        return ((per_token * mask).sum(axis=1) / mx.maximum(mask.sum(axis=1), 1)).mean()

    loss_and_grad = nn.value_and_grad(model, loss)

    def iteration() -> None:
        completions, _, indices = generate_grpo(
            model=model,
            tokenizer=tokenizer,
            prompt_tokens=prompts,
            max_tokens=config.completion_tokens,
            group_size=config.group_size,
            batch_size=config.batch_size,
            end_token="",
            temperature=temperature,
            top_p=1.0,
            top_k=0,
            min_p=0.0,
        )
        rows = [prompts[i] + c.tolist() for i, c in zip(indices, completions)]
        width = max(len(r) for r in rows)
        inputs = mx.array([r + [0] * (width - len(r)) for r in rows], dtype=mx.int32)
        positions = mx.arange(width - 1)[None, :]
        starts = mx.array([len(prompts[i]) - 1 for i in indices])[:, None]
        ends = starts + mx.array([c.size for c in completions])[:, None]
        mask = ((positions >= starts) & (positions < ends)).astype(mx.float32)
        old = mx.stop_gradient(log_probs(model, inputs))
        ref = mx.stop_gradient(log_probs(reference, inputs)) if reference is not None else None
        mx.eval(old, *([ref] if ref is not None else []))
        advantages = mx.array(rng.standard_normal(len(rows)), dtype=mx.float32)
        value, grads = loss_and_grad(model, inputs, mask, old, ref, advantages)
        optimizer.update(model, grads)
        mx.eval(model.parameters(), optimizer.state, value)

    return iteration


def _measure_dpo(model, reference, config: Config, clock) -> tuple[list[float], list[float]]:
    """mlx-lm-lora's own train_dpo loop; its per-iteration callback marks the end of warm-up and times iterations."""
    import mlx.core as mx
    import mlx.optimizers as optim
    import numpy as np
    from mlx_lm.tuner.callbacks import TrainingCallback
    from mlx_lm_lora.trainer.dpo_trainer import DPOTrainingArgs, train_dpo

    from droidft_server.worker.preference import cpu_device_info

    rng = np.random.default_rng(0)
    pairs = [
        {
            "chosen": rng.integers(4, config.shape.vocab_size, config.tokens).tolist(),
            "rejected": rng.integers(4, config.shape.vocab_size, config.tokens).tolist(),
        }
        for _ in range(config.batch_size)
    ]
    device_seconds, wall_seconds = [], []

    class Timer(TrainingCallback):
        marks = None

        def on_train_loss_report(self, info: dict) -> None:
            if info["iteration"] == WARMUP_ITERATIONS:
                mx.clear_cache()
                mx.reset_peak_memory()
            elif self.marks is not None:
                device_seconds.append(clock() - self.marks[0])
                wall_seconds.append(time.perf_counter() - self.marks[1])
            self.marks = (clock(), time.perf_counter())

    with tempfile.TemporaryDirectory() as tmp, cpu_device_info():
        args = DPOTrainingArgs(
            batch_size=config.batch_size,
            iters=WARMUP_ITERATIONS + MEASURED_ITERATIONS,
            steps_per_report=1,
            steps_per_eval=10**6,
            steps_per_save=10**6,
            adapter_file=str(Path(tmp) / "adapters.safetensors"),
            max_seq_length=config.max_seq_length,
            beta=0.1,
            loss_type="sigmoid",
        )
        train_dpo(model, reference, optim.Adam(learning_rate=1e-5), pairs, None, args=args, training_callback=Timer())
    return device_seconds, wall_seconds


def iteration_counts(config: Config) -> tuple[int, int]:
    """(warm-up, measured) iterations: chat rows warm up and measure one whole epoch each, so every
    batch length is compiled first and the longest batch is in the measurement."""
    if config.chat_tokens is not None:
        epoch = CHAT_RECORDS // config.batch_size
        return epoch, epoch
    return LARGE_ITERATIONS if config.large else (WARMUP_ITERATIONS, MEASURED_ITERATIONS)


def measure(config: Config, model_path: Path, data_path: Path | None = None) -> dict:
    """Train for a few iterations; peak memory and time per iteration after warm-up (median; mean over
    the epoch for chat rows, whose batches differ in length), on the BLAS and thread share a worker of
    a one-job server has."""
    threads = blas.worker_threads(1)
    blas.load(threads)
    import mlx.core as mx
    import mlx_lm

    mx.random.seed(0)
    model, tokenizer = mlx_lm.load(str(model_path))
    reference = None
    if config.method == "dpo" or (config.method == "grpo" and config.beta > 0):
        reference, _ = mlx_lm.load(str(model_path))
        reference.freeze()
    _adapt(model, config)
    mx.eval(model.parameters())
    clock = device_clock("gpu" if mx.default_device().type == mx.gpu else "cpu", threads)
    if config.method == "dpo":
        device_seconds, wall_seconds = _measure_dpo(model, reference, config, clock)
        return _figures(mx.get_peak_memory(), device_seconds, wall_seconds)
    if config.method == "sft":
        iteration = _sft_iteration(model, config, _sft_batches(config, tokenizer, data_path))
    else:
        iteration = _grpo_iteration(model, tokenizer, config, reference)
    warmup, measured = iteration_counts(config)
    for _ in range(warmup):  # MLX compiles CPU kernels on first use
        iteration()
    mx.clear_cache()
    mx.reset_peak_memory()
    device_seconds, wall_seconds = [], []
    for _ in range(measured):
        tic, wall = clock(), time.perf_counter()
        iteration()
        device_seconds.append(clock() - tic)
        wall_seconds.append(time.perf_counter() - wall)
    summary = statistics.mean if config.chat_tokens is not None else statistics.median
    return _figures(mx.get_peak_memory(), device_seconds, wall_seconds, summary)


def _figures(peak: int, device_seconds: list[float], wall_seconds: list[float], summary=statistics.median) -> dict:
    return {
        "peak_memory_bytes": peak,
        "seconds_per_iteration": summary(device_seconds),
        "wall_seconds_per_iteration": summary(wall_seconds),
    }


def build_model(directory: Path, config: Config) -> Path:
    """A random model of the configuration's shape (float32); converted to its dtype or quantised (bfloat16
    scales) by mlx_lm.convert, in a subprocess, when asked."""
    shape = {name: value for name, value in asdict(config.shape).items() if name != "family"}
    if config.quantized_bits is None and config.dtype == "float32":
        return build_tiny_model(directory, **shape)
    source = build_tiny_model(directory.with_name(directory.name + "-source"), **shape)
    quantized = config.quantized_bits is not None
    convert = (
        "import sys; from mlx_lm import convert; "
        "convert(hf_path=sys.argv[1], mlx_path=sys.argv[2], quantize=sys.argv[3] == 'q', q_bits=int(sys.argv[4]), "
        "q_group_size=32, dtype=sys.argv[5])"
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            convert,
            str(source),
            str(directory),
            "q" if quantized else "-",
            str(config.quantized_bits or 4),
            "bfloat16" if quantized else config.dtype,
        ],
        check=True,
        capture_output=True,
        timeout=SUBPROCESS_TIMEOUT,
    )
    shutil.rmtree(source)  # a 1B model's float32 copy takes 5 GB
    return directory


def measure_in_subprocess(config: Config, model_path: Path, data_path: Path | None = None) -> dict:
    payload = json.dumps(
        {"config": asdict(config), "model_path": str(model_path), "data_path": str(data_path) if data_path else None}
    )
    completed = subprocess.run(
        [sys.executable, "-m", "bench.estimation", "--measure", payload],
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
    mib = 1024**2
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
    lines += [
        "",
        f"Memory within {MEMORY_GOAL:.0%}: {memory_ok}/{len(rows)} rows "
        f"(largest error {max(abs(r.memory_error) for r in rows):.1%}). "
        f"Time within {TIME_GOAL:.0%}: {time_ok}/{len(rows)} rows "
        f"(largest error {max(abs(r.time_error) for r in rows):.1%}).",
        "",
    ]
    return "\n".join(lines)


def run(configs: tuple[Config, ...] = CONFIGS, readme: Path | None = README) -> list[Row]:
    """Measure every configuration, compare with the estimate, and write the table into the README (unless None)."""
    with tempfile.TemporaryDirectory(prefix="droidft-bench-estimation-") as tmp:
        tmp = Path(tmp)
        device = load_or_calibrate(
            tmp / "state", blas_threads=blas.worker_threads(1)
        )  # measured now, under the same load as the rows
        models: dict[tuple[Shape, int | None, str], Path] = {}
        rows = []
        for config in configs:
            key = (config.shape, config.quantized_bits, config.dtype)
            if key not in models:
                models[key] = build_model(tmp / f"model-{len(models)}", config)
            path = models[key]
            data = None
            if config.chat_tokens is not None:
                data = write_chat_records(tmp / f"chat-{len(rows)}.jsonl", path, config)
            predicted = predict(config, path, device, data)
            measured = measure_in_subprocess(config, path, data)
            row = Row(
                config,
                predicted.peak_memory_bytes,
                measured["peak_memory_bytes"],
                predicted.seconds_per_iteration,
                measured["seconds_per_iteration"],
                measured["wall_seconds_per_iteration"],
            )
            print(
                f"{config.name:28s} memory {row.memory_error:+7.1%}  time {row.time_error:+7.1%}  "
                f"({row.measured_bytes / 1024**2:.2f} MiB, {row.measured_seconds:.4f} s)",
                flush=True,
            )
            rows.append(row)
    if readme is not None:
        write_section(SECTION_TITLE, table(rows, device), readme)
    return rows


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", help="(internal) measure one configuration given as JSON")
    parser.add_argument(
        "--quick", action="store_true", help="skip the 0.5B-1B rows (minutes each) and leave bench/README.md as it is"
    )
    args = parser.parse_args()
    if args.measure:
        payload = json.loads(args.measure)
        config = payload["config"]
        config["shape"] = Shape(**config["shape"])
        if config["chat_tokens"] is not None:
            config["chat_tokens"] = tuple(config["chat_tokens"])
        data_path = Path(payload["data_path"]) if payload["data_path"] else None
        print(json.dumps(measure(Config(**config), Path(payload["model_path"]), data_path)))
    elif args.quick:
        run(tuple(c for c in CONFIGS if not c.large), readme=None)
    else:
        run()


if __name__ == "__main__":
    _main()
