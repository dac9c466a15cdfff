"""A model big enough to matter, and the GRPO sampler against mlx-lm's batch_generate.

1. A ~100M-parameter model in Qwen2's shape (grouped-query attention, biased q/k/v projections, tied
   embeddings; random weights, built here) trained by droidft's worker (`run_job`, as a job runs) with
   LoRA and with full fine-tuning: steady tokens/s and the job's peak memory, beside the estimator's
   prediction for the same spec and data (what EstimateResources answers).
2. GRPO rollout speed on the small llama and on the ~100M model: completion tokens/s of droidft's
   sampler (`worker/rl/rollout.sample_rollout`'s generation) against mlx-lm's `batch_generate` on the
   same model, prompts, group, temperature and max tokens, alternated A B A B; and where a real GRPO
   iteration (a job through `run_job`) spends its time: sampling, the rest of the rollout (pi_old
   log-probabilities and rewards) and the update.

Every measurement runs in a fresh process (as a worker does), so peak memory and compiled kernels do
not leak between rows. `python -m bench.big_model` writes its two sections of bench/README.md; about
8 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench.estimation_measure import QWEN2_100M
from bench.readme import markdown_table, write_section
from bench.sft_throughput import SHAPES, measure_job, sft_spec, write_chat_data
from droidft.v1 import job_pb2, methods_pb2

REPO_ROOT = Path(__file__).resolve().parent.parent
SUBPROCESS_TIMEOUT = 600
# Qwen2's block at ~100M parameters: 12 query heads sharing 2 key/value heads, a 32k vocabulary, tied.
BIG = {name: value for name, value in asdict(QWEN2_100M).items() if name != "family"}
BIG_LABEL = "Qwen2 shape h768 L12 (12/2 heads) v32000"
SFT_ITERATIONS = 20
SFT_REPORT_EVERY = 4
FULL_LEARNING_RATE = 1e-5
GRPO_PROMPTS = 2
GROUP_SIZE = 4
MAX_COMPLETION_TOKENS = 64
SAMPLER_REPEATS = 3  # A B pairs after one warm-up pair
GRPO_ITERATIONS = 4  # the first (kernel compilation) is left out of the phase shares


def _in_subprocess(kind: str, payload: dict) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.big_model", "--measure", kind, json.dumps(payload)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{kind} {payload}: measurement failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _load_average() -> str:
    return f"{os.getloadavg()[0]:.1f}"


# --- 1. LoRA and full fine-tuning of the ~100M model ------------------------------------------


def big_sft_spec(model: Path, data: Path, fine_tune_type: str) -> job_pb2.TrainingJobSpec:
    """bench.sft_throughput's job (400 chat records, batch 4), LoRA rank 8 or every block fully trained."""
    spec = sft_spec(model, data, iterations=SFT_ITERATIONS, report_every=SFT_REPORT_EVERY)
    if fine_tune_type == "full":
        spec.adapter.fine_tune_type = methods_pb2.FINE_TUNE_TYPE_FULL
        spec.learning_rate = FULL_LEARNING_RATE
    return spec


def _measure_sft(payload: dict) -> dict:
    spec = big_sft_spec(Path(payload["model"]), Path(payload["data"]), payload["fine_tune_type"])
    return measure_job(spec, Path(payload["output_dir"]))


def parameter_count(model: Path) -> int:
    from safetensors.numpy import load_file

    return sum(weight.size for weight in load_file(str(model / "model.safetensors")).values())


def sft_rows(root: Path, model: Path) -> list[dict]:
    from droidft_server.domain.job_estimate import estimate_job
    from droidft_server.domain.spec import resolve
    from droidft_server.supervisor.calibration import load_or_calibrate
    from droidft_server.worker import blas

    data = write_chat_data(root)
    device = load_or_calibrate(root / "state", blas_threads=blas.worker_threads(1))
    rows = []
    for fine_tune_type in ("lora", "full"):
        predicted = estimate_job(resolve(big_sft_spec(model, data, fine_tune_type)), device)
        before = _load_average()
        payload = {
            "model": str(model),
            "data": str(data),
            "fine_tune_type": fine_tune_type,
            "output_dir": str(root / f"out-{fine_tune_type}"),
        }
        measured = _in_subprocess("sft", payload)
        error = (predicted.peak_memory_bytes - measured["peak_bytes"]) / measured["peak_bytes"]
        row = {
            "tuning": "LoRA rank 8, every block" if fine_tune_type == "lora" else "full, every block",
            "first": f"{measured['first_report_seconds']:.1f}",
            "its": f"{measured['iterations_per_second']:.2f}",
            "toks": f"{measured['tokens_per_second']:,.0f}",
            "peak": f"{measured['peak_bytes'] / 2**20:,.0f}",
            "predicted": f"{predicted.peak_memory_bytes / 2**20:,.0f}",
            "error": f"{error:+.1%}",
            "loss": measured["loss"],
            "load": f"{before} / {_load_average()}",
        }
        print(row, flush=True)
        rows.append(row)
    return rows


# --- 2. GRPO rollout speed ---------------------------------------------------------------------


def _grpo_spec(model: Path, data: Path) -> job_pb2.TrainingJobSpec:
    spec = job_pb2.TrainingJobSpec(
        model_path=str(model),
        train_data_path=str(data),
        iterations=GRPO_ITERATIONS,
        report_every=1,
        checkpoint_every=GRPO_ITERATIONS,
        batch_size=GRPO_PROMPTS,
        learning_rate=1e-5,
        seed=0,
    )
    spec.grpo.rollout.group_size = GROUP_SIZE
    spec.grpo.rollout.max_completion_length = MAX_COMPLETION_TOKENS
    return spec


def _measure_samplers(payload: dict) -> dict:
    """Completion tokens/s of droidft's rollout generation and of batch_generate, alternated A B A B."""
    import mlx.core as mx
    import mlx_lm
    from mlx_lm.generate import batch_generate
    from mlx_lm.sample_utils import make_sampler

    from droidft_server.domain.datasets.training_data import detected_plan, read_job_data
    from droidft_server.domain.spec import resolve
    from droidft_server.worker.rl import rollout as rollout_module
    from droidft_server.worker.rl.data import rl_prompt
    from droidft_server.worker.rl.method import chat_messages, policy_method

    model_path, data = Path(payload["model"]), Path(payload["data"])
    method = policy_method(resolve(_grpo_spec(model_path, data)))
    sampling = method.sampling
    model, tokenizer = mlx_lm.load(str(model_path))
    examples = read_job_data(detected_plan(str(data), None, "grpo")).train[:GRPO_PROMPTS]
    prompts = [
        list(tokenizer.apply_chat_template(chat_messages(rl_prompt(r), method), add_generation_prompt=True))
        for r in examples
    ]
    completions = len(prompts) * sampling.group_size

    def droidft() -> tuple[int, float]:
        tic = time.perf_counter()
        generated, _, _ = rollout_module.generate_completions(model, tokenizer, prompts, sampling)
        return sum(c.size for c in generated), time.perf_counter() - tic

    def mlx_lm_batch() -> tuple[int, float]:
        tic = time.perf_counter()
        response = batch_generate(
            model,
            tokenizer,
            [p for p in prompts for _ in range(sampling.group_size)],
            max_tokens=sampling.max_tokens,
            sampler=make_sampler(sampling.temperature, top_p=sampling.top_p),
            completion_batch_size=completions,
            prefill_batch_size=completions,
            return_token_ids=True,
        )
        return sum(len(t) for t in response.token_ids), time.perf_counter() - tic

    mx.random.seed(0)
    droidft(), mlx_lm_batch()  # warm-up: MLX compiles its CPU kernels on first use
    rates: dict[str, list[float]] = {"droidft": [], "mlx_lm": []}
    for _ in range(SAMPLER_REPEATS):
        for name, sample in (("droidft", droidft), ("mlx_lm", mlx_lm_batch)):
            tokens, seconds = sample()
            rates[name].append(tokens / seconds)
    return {"rates": rates, "prompt_tokens": [len(p) for p in prompts], "completions": completions}


def _measure_grpo_phases(payload: dict) -> dict:
    """A real GRPO job through run_job; each iteration's time split into sampling, the rest of the rollout and
    the updates, by timing the trainer's own calls."""
    from droidft_server.worker.rl import rollout as rollout_module
    from droidft_server.worker.rl.trainer import PolicyTrainer

    phases: dict[str, list[float]] = {"sampling": [], "rollout": [], "update": [], "iteration": []}

    def timed(name, function):
        def wrapper(*args, **kwargs):
            tic = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                phases[name].append(time.perf_counter() - tic)

        return wrapper

    rollout_module.generate_completions = timed("sampling", rollout_module.generate_completions)
    PolicyTrainer.rollout = timed("rollout", PolicyTrainer.rollout)
    PolicyTrainer.update = timed("update", PolicyTrainer.update)
    PolicyTrainer.iteration = timed("iteration", PolicyTrainer.iteration)
    spec = _grpo_spec(Path(payload["model"]), Path(payload["data"]))
    measured = measure_job(spec, Path(payload["output_dir"]))
    steady = {name: sum(values[1:]) for name, values in phases.items()}  # the first compiles the kernels
    return {"phases": steady, "iterations": len(phases["iteration"]) - 1, "peak_bytes": measured["peak_bytes"]}


def rollout_rows(root: Path, models: dict[str, Path]) -> list[dict]:
    from droidft_server.domain import datasets

    data = root / "grpo.jsonl"
    datasets.write_jsonl(str(data), datasets.generate("grpo", 64, 0))
    rows = []
    for label, model in models.items():
        before = _load_average()
        samplers = _in_subprocess("samplers", {"model": str(model), "data": str(data)})
        phases = _in_subprocess(
            "grpo", {"model": str(model), "data": str(data), "output_dir": str(root / f"grpo-{len(rows)}")}
        )
        droidft, reference = samplers["rates"]["droidft"], samplers["rates"]["mlx_lm"]
        ratios = [a / b for a, b in zip(droidft, reference)]
        seconds = phases["phases"]
        total = seconds["iteration"]
        row = {
            "model": label,
            "batch": f"{GRPO_PROMPTS} prompts ({'/'.join(map(str, samplers['prompt_tokens']))} tok) x G{GROUP_SIZE}, "
            f"{MAX_COMPLETION_TOKENS} tok",
            "droidft": f"{statistics.median(droidft):,.0f}",
            "mlx_lm": f"{statistics.median(reference):,.0f}",
            "ratio": f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})",
            "iteration": f"{total / phases['iterations']:.2f}",
            "sampling": f"{seconds['sampling'] / total:.0%}",
            "logprobs": f"{(seconds['rollout'] - seconds['sampling']) / total:.0%}",
            "update": f"{seconds['update'] / total:.0%}",
            "load": f"{before} / {_load_average()}",
        }
        print(row, flush=True)
        rows.append(row)
    return rows


# --- the sections ------------------------------------------------------------------------------


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _machine() -> str:
    from droidft_server.worker import blas

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{_cpu_name()}, {os.cpu_count()} cores ({blas.available_cores()} available), {memory:.0f} GiB, "
        f"{time.strftime('%Y-%m-%d')}; BLAS {blas.locate().name} with {blas.worker_threads(1)} thread(s), as a "
        "one-job server's worker loads it (worker/blas.py)"
    )


def run() -> list[dict]:
    from droidft_server.devtools.tiny_model import build_tiny_model

    with tempfile.TemporaryDirectory(prefix="droidft-bench-big-") as tmp:
        root = Path(tmp)
        big = build_tiny_model(root / "big", seed=0, **BIG)
        small_label = next(label for label in SHAPES if label.startswith("small"))
        small = build_tiny_model(root / "small", seed=0, **SHAPES[small_label])
        parameters = parameter_count(big)
        sft = sft_rows(root, big)
        rollouts = rollout_rows(root, {small_label: small, f"{BIG_LABEL}, {parameters / 1e6:.0f}M": big})
    write_section(
        "## A model big enough to matter",
        f"`python -m bench.big_model` on {_machine()}: a {parameters / 1e6:.1f}M-parameter model in Qwen2's shape "
        "(hidden 768, 12 blocks, 12 query heads sharing 2 key/value heads, biased q/k/v projections, MLP 2048, "
        "a 32,000-token vocabulary with tied embeddings; random weights, built here) trained by the worker's own "
        f"entry (`run_job`, in a fresh process per row) on bench.sft_throughput's 400 generated chat records, "
        f"batch 4, {SFT_ITERATIONS} iterations, a report every {SFT_REPORT_EVERY}. Steady figures are the median "
        "of the reports after the first (which includes MLX's kernel compilation); peak memory is the job's own "
        "report (mx.get_peak_memory() over the whole job, model loading included); predicted is EstimateResources' "
        "answer for the same spec and data file, with the device calibrated at the start of the run (the "
        "estimator's goal: within 15 %, bench.estimation). "
        "Load average (1 min) before / after each row: the machine is shared with other developers.\n\n"
        + markdown_table(
            sft,
            {
                "tuning": "fine-tuning",
                "first": f"s to the first report ({SFT_REPORT_EVERY} it)",
                "its": "steady it/s",
                "toks": "steady tokens/s",
                "peak": "peak MiB (measured)",
                "predicted": "peak MiB (predicted)",
                "error": "prediction error",
                "loss": "loss",
                "load": "load average before / after",
            },
        ),
    )
    write_section(
        "## GRPO rollout speed",
        f"`python -m bench.big_model` on {_machine()}. droidft's GRPO sampler is "
        "`worker/rl/rollout.sample_rollout`, whose generation is mlx-lm-lora's `generate_grpo` (each prompt "
        "prefilled once, its KV cache forked for the group, every completion of the batch decoded at once by "
        "mlx-lm's BatchGenerator); against it, mlx-lm's `batch_generate` on the same model, the same chat-templated "
        f"prompts (from generated `grpo` records) each repeated G times, the same sampler (the job's temperature "
        f"and top-p) and max tokens, completion and prefill batch = every completion. Completion tokens/s: one "
        f"warm-up pair, then {SAMPLER_REPEATS} pairs alternated A B; median, ratio per pair median (min-max). "
        f"Iteration shares: a real GRPO job (batch {GRPO_PROMPTS}, G{GROUP_SIZE}, {MAX_COMPLETION_TOKENS} "
        f"completion tokens, one update per rollout, {GRPO_ITERATIONS} iterations, the first left out) through "
        "`run_job`, its trainer's calls timed: sampling (generate_completions), pi_old log-probabilities and rewards "
        "(the rest of the rollout), and the update (forward, backward, optimizer). Completions end at the end "
        "token or at max tokens (random weights: mostly max tokens); tokens/s counts the tokens sampled. Load "
        "average (1 min) before / after each row: the machine is shared with other developers.\n\n"
        + markdown_table(
            rollouts,
            {
                "model": "model",
                "batch": "prompts x group, max tokens",
                "droidft": "droidft sampler tokens/s",
                "mlx_lm": "batch_generate tokens/s",
                "ratio": "droidft / batch_generate",
                "iteration": "GRPO s/iteration",
                "sampling": "sampling",
                "logprobs": "log-probs + rewards",
                "update": "update",
                "load": "load average before / after",
            },
        )
        + "\n\nWhy the two differ: `generate_grpo` prefills each prompt once and forks its KV cache for the G "
        "completions, where `batch_generate` prefills all G copies, so droidft's sampler does 1/G of the prefill "
        "work; decoding is the same BatchGenerator. What an iteration spends besides sampling is mostly the "
        "pi_old pass, one forward over every prompt + completion after sampling, which costs about as much as "
        "sampling here: taking pi_old and the entropies from the sampler's own per-step log-probabilities "
        "(BatchGenerator returns them) would save it, but those come from the KV-cached batched decode and "
        "differ from a full forward pass in the last bits, so the first update's ratio would no longer be "
        "exactly 1 (not done).",
    )
    return sft + rollouts


MEASUREMENTS = {"sft": _measure_sft, "samplers": _measure_samplers, "grpo": _measure_grpo_phases}


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "JSON"), help="(internal) one measurement")
    args = parser.parse_args()
    from droidft_server.worker import blas

    blas.load(blas.worker_threads(1))
    if args.measure:
        kind, payload = args.measure
        print(json.dumps(MEASUREMENTS[kind](json.loads(payload))))
    else:
        run()


if __name__ == "__main__":
    _main()
