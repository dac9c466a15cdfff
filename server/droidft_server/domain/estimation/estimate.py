"""The resource estimate of a job: peak memory, time, and what to change when it does not fit."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..spec import JobSettings
from .backends import fit_for
from .device import DeviceProfile
from .distributed import every_rank, one_process, rank_device, rank_settings, ring_seconds
from .memory import MemoryBreakdown, memory_breakdown, trainable
from .model_facts import ModelFacts, Quantization
from .timing import iteration_seconds
from .workload import TokenLengths, workload

ADVICE_QUANTIZATION = Quantization(bits=4, group_size=64)


@dataclass(frozen=True)
class Advice:
    change: str  # "field=value", e.g. "batch_size=2"
    description: str
    peak_memory_bytes: int
    seconds_per_iteration: float
    fits: bool


@dataclass(frozen=True)
class Estimate:
    peak_memory_bytes: int  # the sum of the breakdown
    breakdown: MemoryBreakdown
    seconds_per_iteration: float
    total_seconds: float
    trainable_parameters: int
    total_parameters: int
    fits: bool
    available_memory_bytes: int
    device: str
    advice: tuple[Advice, ...] = ()
    ranks: int = 1
    per_rank_peak_memory_bytes: int = 0
    expected_speedup: float = 1.0  # over one process with the same global batch


@dataclass(frozen=True)
class _Prediction:
    breakdown: MemoryBreakdown  # of every rank (one process: of it)
    seconds_per_iteration: float
    trainable_parameters: int
    per_rank_peak_memory_bytes: int


def _predict(
    settings: JobSettings,
    model: ModelFacts,
    lengths: TokenLengths | None,
    device: DeviceProfile,
    judge: ModelFacts | None = None,
) -> _Prediction:
    """The prediction of one process, or of a distributed job's ranks together (estimation/distributed.py)."""
    ranks = settings.distributed.ranks
    if ranks == 1:
        return _predict_one(settings, model, lengths, device, judge)
    here = settings.distributed.ranks_here
    rank = _predict_one(rank_settings(settings), model, lengths, rank_device(device, max(1, here)), judge)
    gradient_bytes = trainable(settings, model).bytes
    return _Prediction(
        breakdown=every_rank(rank.breakdown, here),
        seconds_per_iteration=rank.seconds_per_iteration + ring_seconds(settings, gradient_bytes),
        trainable_parameters=rank.trainable_parameters,
        per_rank_peak_memory_bytes=rank.per_rank_peak_memory_bytes,
    )


def _predict_one(
    settings: JobSettings,
    model: ModelFacts,
    lengths: TokenLengths | None,
    device: DeviceProfile,
    judge: ModelFacts | None = None,
) -> _Prediction:
    work = workload(settings, lengths)
    train = trainable(settings, model)
    breakdown = memory_breakdown(settings, model, work, judge.weights_bytes if judge else 0, fit_for(device))
    return _Prediction(
        breakdown=breakdown,
        seconds_per_iteration=iteration_seconds(settings, model, work, train, device, judge),
        trainable_parameters=train.parameters,
        per_rank_peak_memory_bytes=breakdown.total,
    )


def quantized_facts(model: ModelFacts, quantization: Quantization = ADVICE_QUANTIZATION) -> ModelFacts:
    """The same model with its linear and embedding weights quantised (scales and biases in the model's dtype)."""
    linear = model.num_layers * sum(p.in_features * p.out_features for p in model.projections)
    linear += model.vocab_size * model.hidden_size * (1 if model.tie_word_embeddings else 2)
    rest = max(0, model.total_parameters - linear)
    per_weight = quantization.bits / 8 + 2 * model.dtype_bytes / quantization.group_size
    return dataclasses.replace(
        model, quantization=quantization, weights_bytes=int(linear * per_weight + rest * model.dtype_bytes)
    )


@dataclass(frozen=True)
class _Knob:
    """A setting that lowers memory when made smaller: where it lives and how to change it."""

    change_name: str
    description: str
    current: Callable[[JobSettings], int]
    apply: Callable[[JobSettings, int], JobSettings]
    minimum: int = 1


def _replace_sft(s: JobSettings, **changes) -> JobSettings:
    return dataclasses.replace(s, sft=dataclasses.replace(s.sft, **changes))


def _replace_rollout(s: JobSettings, **changes) -> JobSettings:
    rollout = dataclasses.replace(s.policy.rollout, **changes)
    return dataclasses.replace(s, policy=dataclasses.replace(s.policy, rollout=rollout))


def _knobs(settings: JobSettings, model: ModelFacts) -> Iterator[_Knob]:
    yield _Knob(
        "batch_size",
        "fewer rows per step: activations and logits shrink in proportion",
        lambda s: s.batch_size,
        lambda s, v: dataclasses.replace(s, batch_size=v),
    )
    yield _Knob(
        "max_seq_length",
        "shorter rows: activations shrink in proportion, attention scores with its square (longer records are cut)",
        lambda s: s.max_seq_length,
        lambda s, v: dataclasses.replace(s, max_seq_length=v),
        minimum=32,
    )
    yield _Knob(
        "adapter.num_layers",
        "train only the last blocks: the backward pass stops at the first trained block",
        lambda s: min(s.adapter.num_layers or model.num_layers, model.num_layers),
        lambda s, v: dataclasses.replace(s, adapter=dataclasses.replace(s.adapter, num_layers=v)),
    )
    if settings.policy is not None:
        yield _Knob(
            "rollout.group_size",
            "fewer completions per prompt: the gradient step covers batch_size x group_size rows",
            lambda s: s.policy.rollout.group_size,
            lambda s, v: _replace_rollout(s, group_size=v),
            minimum=2,
        )
        yield _Knob(
            "rollout.max_completion_length",
            "shorter completions: shorter rows and a smaller key/value cache",
            lambda s: s.policy.rollout.max_completion_length,
            lambda s, v: _replace_rollout(s, max_completion_length=v),
            minimum=16,
        )


def _smaller_values(current: int, minimum: int) -> Iterator[int]:
    value = current
    while value > minimum:
        value = max(minimum, value // 2)
        yield value


def _advice(
    settings: JobSettings,
    model: ModelFacts,
    lengths: TokenLengths | None,
    device: DeviceProfile,
    judge: ModelFacts | None,
) -> tuple[Advice, ...]:
    available = device.available_memory_bytes

    def advise(change: str, description: str, changed: JobSettings, facts: ModelFacts = model) -> Advice:
        prediction = _predict(changed, facts, lengths, device, judge)
        peak = prediction.breakdown.total
        return Advice(change, description, peak, prediction.seconds_per_iteration, peak <= available)

    advice = []
    for knob in _knobs(settings, model):
        best = None
        for value in _smaller_values(knob.current(settings), knob.minimum):
            best = advise(f"{knob.change_name}={value}", knob.description, knob.apply(settings, value))
            if best.fits:
                break  # the largest value that fits
        if best is not None:
            advice.append(best)
    if model.quantization is None:
        advice.append(
            advise(
                "model_path=<a 4-bit quantised copy>",
                "quantised weights take about a quarter of the memory "
                "(mlx_lm.convert --hf-path <model> -q --q-bits 4; LoRA trains on top of them)",
                settings,
                quantized_facts(model),
            )
        )
    if settings.sft is not None and not settings.sft.grad_checkpoint:
        advice.append(
            advise(
                "sft.grad_checkpoint=true",
                "keep only each block's input and recompute the rest in the backward pass (one extra forward pass)",
                _replace_sft(settings, grad_checkpoint=True),
            )
        )
    return tuple(advice)


def estimate(
    settings: JobSettings,
    model: ModelFacts,
    *,
    token_lengths: TokenLengths | None,
    device: DeviceProfile,
    judge: ModelFacts | None = None,
) -> Estimate:
    """Predict peak memory and time of a resolved job spec on a device; advise when it does not fit.
    judge: the judge or reward model an online method loads besides the trained one."""
    prediction = _predict(settings, model, token_lengths, device, judge)
    peak = prediction.breakdown.total
    fits = peak <= device.available_memory_bytes
    return Estimate(
        peak_memory_bytes=peak,
        breakdown=prediction.breakdown,
        seconds_per_iteration=prediction.seconds_per_iteration,
        total_seconds=prediction.seconds_per_iteration * settings.iterations,
        trainable_parameters=prediction.trainable_parameters,
        total_parameters=model.total_parameters,
        fits=fits,
        available_memory_bytes=device.available_memory_bytes,
        device=device.name,
        advice=() if fits else _advice(settings, model, token_lengths, device, judge),
        ranks=settings.distributed.ranks,
        per_rank_peak_memory_bytes=prediction.per_rank_peak_memory_bytes,
        expected_speedup=_speedup(settings, model, token_lengths, device, prediction, judge),
    )


def _speedup(
    settings: JobSettings,
    model: ModelFacts,
    lengths: TokenLengths | None,
    device: DeviceProfile,
    prediction: _Prediction,
    judge: ModelFacts | None,
) -> float:
    if settings.distributed.ranks == 1:
        return 1.0
    alone = _predict_one(one_process(settings), model, lengths, device, judge)
    return alone.seconds_per_iteration / prediction.seconds_per_iteration
