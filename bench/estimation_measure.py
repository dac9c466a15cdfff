"""The estimator's configurations, and their measurement: this module runs where MLX runs.

bench/estimation.py measures each configuration in a fresh process of this module (so peak memory
and compiled kernels do not leak between rows) and compares it with the estimate. On an accelerator
whose kernels compile at first use (MLX's CUDA build takes a minute and more for the first job),
`python -m bench.estimation_measure --sweep OUT.jsonl` measures the configurations one after another
in one process instead, subtracting from each row's peak what earlier rows left allocated, and writes
the device's calibration and one JSON line per row; `python -m bench.estimation --device-rows
OUT.jsonl` turns that file into its table on any machine. Only MLX, mlx-lm, mlx-lm-lora and
droidft's worker helpers are imported here (the chat and DPO rows import more, and the sweep skips them).
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from droidft_server.devtools.tiny_model import TinyModelShape, build_tiny_model
from droidft_server.worker import blas
from droidft_server.worker.calibration import device_clock

WARMUP_ITERATIONS = 2
MEASURED_ITERATIONS = 4
LARGE_ITERATIONS = (1, 2)  # (warm-up, measured): a 1B model's SFT step takes seconds to a minute on 2 cores
SUBPROCESS_TIMEOUT = 600
CHAT_RECORDS = 32
ACCELERATOR_ITERATIONS = (2, 10)  # (warm-up, measured) on a GPU, for every row


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

    def model_key(self) -> tuple[Shape, int | None, str]:
        """What build_model builds from: configurations with the same key share one model."""
        return (self.shape, self.quantized_bits, self.dtype)


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

    if data_path is None:
        rng = np.random.default_rng(0)
        records = [
            (rng.integers(4, config.shape.vocab_size, config.tokens).tolist(), 0) for _ in range(config.batch_size)
        ]
    else:  # the service's data reader: imported for chat rows only (the sweep runs without the service's packages)
        from droidft_server.domain.datasets.training_data import detected_plan, read_job_data
        from droidft_server.worker.sft import DATASETS

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


def iteration_counts(config: Config, accelerator: bool = False) -> tuple[int, int]:
    """(warm-up, measured) iterations: chat rows warm up and measure one whole epoch each, so every
    batch length is compiled first and the longest batch is in the measurement. An accelerator's
    iterations take milliseconds: it measures more of them."""
    if config.chat_tokens is not None:
        epoch = CHAT_RECORDS // config.batch_size
        return epoch, epoch
    if accelerator:
        return ACCELERATOR_ITERATIONS
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
    accelerator = mx.default_device().type == mx.gpu
    clock = device_clock("gpu" if accelerator else "cpu", threads)
    if config.method == "dpo":
        device_seconds, wall_seconds = _measure_dpo(model, reference, config, clock)
        return _figures(mx.get_peak_memory(), device_seconds, wall_seconds)
    block_class = type(model.layers[0])
    block_call = block_class.__call__  # mlx-lm's grad_checkpoint patches the blocks' class: restored below
    try:
        if config.method == "sft":
            iteration = _sft_iteration(model, config, _sft_batches(config, tokenizer, data_path))
        else:
            iteration = _grpo_iteration(model, tokenizer, config, reference)
        return _timed(iteration, config, accelerator, clock)
    finally:
        block_class.__call__ = block_call


def _timed(iteration, config: Config, accelerator: bool, clock) -> dict:
    """Peak memory and time per iteration after warm-up (median; mean over the epoch for chat rows)."""
    import mlx.core as mx

    warmup, measured = iteration_counts(config, accelerator)
    tic = time.perf_counter()
    for _ in range(warmup):  # MLX compiles its kernels on first use
        iteration()
    warmup_seconds = time.perf_counter() - tic
    mx.clear_cache()
    persistent = mx.get_active_memory()  # weights, adapter, optimizer state, reference: alive between iterations
    mx.reset_peak_memory()
    device_seconds, wall_seconds = [], []
    for _ in range(measured):
        tic, wall = clock(), time.perf_counter()
        iteration()
        device_seconds.append(clock() - tic)
        wall_seconds.append(time.perf_counter() - wall)
    summary = statistics.mean if config.chat_tokens is not None else statistics.median
    figures = _figures(mx.get_peak_memory(), device_seconds, wall_seconds, summary)
    return figures | {"persistent_bytes": persistent, "warmup_seconds": warmup_seconds}


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


# --- one process for every row (an accelerator whose kernels compile at first use) -----------

# Qwen2's block at ~100M parameters (bench/big_model.py's model): the accelerator's training rows.
QWEN2_100M = Shape(
    hidden_size=768,
    num_layers=12,
    num_heads=12,
    num_kv_heads=2,
    intermediate_size=2048,
    vocab_size=32000,
    model_type="qwen2",
    family="Qwen2 ~100M",
)
SWEEP_ONLY_CONFIGS = (
    Config("sft qwen2 100M lora", QWEN2_100M, batch_size=4, tokens=256, held_out=True),
    Config("sft qwen2 100M full", QWEN2_100M, batch_size=4, tokens=256, fine_tune_type="full", held_out=True),
    Config("grpo qwen2 100M", QWEN2_100M, method="grpo", batch_size=2, tokens=64, completion_tokens=64, held_out=True),
)


def sweep_configs() -> tuple[Config, ...]:
    """The rows the sweep measures, in the order a short lease should get them: the fitted rows, the held-out
    rows, the ~100M model, the 0.5B-1B models. Chat rows need droidft's data reader and DPO rows its preference
    trainer (the service's imports, which an accelerator's image may lack): the sweep leaves them out."""
    kept = [c for c in CONFIGS if c.chat_tokens is None and c.method != "dpo"]
    small = [c for c in kept if not c.large]
    return (
        *[c for c in small if not c.held_out],
        *[c for c in small if c.held_out],
        *SWEEP_ONLY_CONFIGS,
        *[c for c in kept if c.large],
    )


def config_from(record: dict) -> Config:
    """A Config from its asdict() form (JSON)."""
    fields_ = dict(record)
    fields_["shape"] = Shape(**fields_["shape"])
    if fields_.get("chat_tokens") is not None:
        fields_["chat_tokens"] = tuple(fields_["chat_tokens"])
    return Config(**fields_)


def sweep(out: Path, deadline_seconds: float, methods: tuple[str, ...] = ("sft", "grpo")) -> None:
    """Calibrate the device, then measure every sweep row in this process until the deadline; one JSON line each."""
    blas.load(blas.worker_threads(1))  # before MLX's first import, as a worker does
    import mlx.core as mx

    from droidft_server.worker.calibration import measure as calibrate

    started = time.perf_counter()
    with out.open("w") as sink, tempfile.TemporaryDirectory(prefix="droidft-bench-sweep-") as tmp:

        def write(record: dict) -> None:
            sink.write(json.dumps(record) + "\n")
            sink.flush()
            print(json.dumps(record)[:300], flush=True)

        write({"calibration": calibrate(blas.worker_threads(1)), "seconds": time.perf_counter() - started})
        models: dict[tuple, Path] = {}
        for config in (c for c in sweep_configs() if c.method in methods):
            if time.perf_counter() - started > deadline_seconds:
                write({"config": asdict(config), "skipped": "deadline"})
                continue
            try:
                key = config.model_key()
                if key not in models:
                    for old in models.values():  # one model directory at a time: a 1B model takes 5 GB
                        shutil.rmtree(old, ignore_errors=True)
                    models = {key: build_model(Path(tmp) / f"model-{len(models)}-{time.monotonic_ns()}", config)}
                gc.collect()
                mx.clear_cache()
                leftover = mx.get_active_memory()
                figures = measure(config, models[key])
                write({"config": asdict(config), "leftover_bytes": leftover, **figures})
            except Exception as error:  # one failing row must not cost the lease the rest
                write({"config": asdict(config), "error": repr(error)[-2000:]})
            finally:
                gc.collect()


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", help="measure one configuration given as JSON (bench/estimation.py's subprocess)")
    parser.add_argument("--sweep", type=Path, help="measure every sweep row in this process, into this JSONL file")
    parser.add_argument("--deadline", type=float, default=420.0, help="seconds after which no new row starts")
    parser.add_argument("--methods", default="sft,grpo", help="the sweep's methods, comma-separated")
    args = parser.parse_args()
    if args.measure:
        payload = json.loads(args.measure)
        data_path = Path(payload["data_path"]) if payload["data_path"] else None
        print(json.dumps(measure(config_from(payload["config"]), Path(payload["model_path"]), data_path)))
    elif args.sweep:
        sweep(args.sweep, args.deadline, tuple(args.methods.split(",")))
    else:
        parser.error("give --measure or --sweep")


if __name__ == "__main__":
    _main()
