"""Sampling and evaluation: which weights a request means, whether they fit next to the training jobs,
and what the sampler worker (a port: supervisor/sampler.py) makes of them.

Requests arrive with their paths already confined to the file roots (transport); the data a job's
evaluation defaults to (its test split) is confined here through the same roots.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import structlog

from droidft.v1 import evaluation_pb2, job_pb2, methods_pb2, progress_pb2, sampling_pb2

from . import events
from .checkpoints import ADAPTER_CONFIG_FILE, ADAPTER_FILE, checkpoint_dir
from .datasets.reader import split_files
from .errors import (
    DroidftError,
    ErrorKind,
    FieldViolation,
    Reason,
    StorageError,
    invalid_argument,
    storage_unavailable,
)
from .estimation import DeviceProfile, ModelFactsError, format_bytes, read_model_facts
from .estimation.sampling import sampler_memory_bytes
from .job_estimate import estimate_job
from .jobs import JobManager
from .model_check import BuildCheck, refuse_unbuildable
from .spec import METHOD_OF_CONFIG, method_name, resolve

log = structlog.get_logger("droidft.sampling")

DEFAULT_MAX_TOKENS = 256
DEFAULT_SAMPLES_PER_PROMPT = 4
DEFAULT_EVALUATION_TEMPERATURE = 1.0  # pass@k needs k different completions
DEFAULT_COMPLETION_TOKENS = 64  # GRPO-family evaluation without a job's max_completion_length
DEFAULT_MAX_SEQ_LENGTH = 2048
CHAT_TEMPLATE_TOKENS = 64  # what a chat template adds around the turns, at most (memory estimate)
CONFIG_OF_METHOD = {method: name for name, method in METHOD_OF_CONFIG.items()}
CANCELLED = "cancelled"  # the sampler's failure message of a cancelled call


@dataclass(frozen=True)
class ModelKey:
    """Weights the sampler loads: a base model directory and an adapter directory (an mlx-lm adapter
    directory: a job's, or one of its checkpoints)."""

    model_path: str
    adapter_dir: str = ""  # "": the base model alone
    adapter_version: str = ""  # the adapter file's size and modification time: a rewritten one is loaded again


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.0
    top_p: float = 0.0
    max_tokens: int = DEFAULT_MAX_TOKENS
    stop: tuple[str, ...] = ()
    seed: int = 0


@dataclass(frozen=True)
class Target:
    """A resolved ModelSelection."""

    key: ModelKey
    adapter_file: Path | None
    job: job_pb2.TrainingJob | None


class SamplerFailed(Exception):
    """The sampler worker could not do a call; the message says why ("cancelled" when it was cancelled)."""


class SamplerPort(Protocol):
    """The sampler worker. Each call yields the worker's messages (sampler_protocol.py) until its end;
    `is_active` turning false cancels it."""

    def generate(
        self, model: ModelKey, sampling: Sampling, messages: tuple, prompt: str, is_active: Callable[[], bool]
    ) -> Iterator[Any]: ...

    def evaluate(self, request: Any, is_active: Callable[[], bool]) -> Iterator[Any]: ...

    def kept_beside(self, models: list[ModelKey]) -> list[ModelKey]: ...


class EvaluationStore(Protocol):
    def insert_evaluation(self, evaluation: evaluation_pb2.Evaluation) -> None: ...
    def list_evaluations(self, job_id: str) -> list[evaluation_pb2.Evaluation]: ...


def _adapter_not_found(job_id: str, adapter: str, why: str) -> DroidftError:
    return DroidftError(
        ErrorKind.NOT_FOUND,
        Reason.ADAPTER_NOT_FOUND,
        f"job {job_id} has no {adapter} adapter: {why}",
        {"job_id": job_id, "adapter": adapter},
    )


def _version(path: Path) -> str:
    info = path.stat()
    return f"{info.st_size}:{info.st_mtime_ns}"


SIDES = {"adapted": sampling_pb2.GENERATION_SIDE_ADAPTED, "base": sampling_pb2.GENERATION_SIDE_BASE}
FINISH = {
    "length": sampling_pb2.FINISH_REASON_LENGTH,
    "end": sampling_pb2.FINISH_REASON_END,
    "stop": sampling_pb2.FINISH_REASON_STOP,
}


class SamplingService:
    def __init__(
        self,
        jobs: JobManager,
        sampler: SamplerPort,
        device: Callable[[], DeviceProfile],
        store: EvaluationStore,
        confine_data: Callable[[str, str], Path],
        builds: BuildCheck,
    ) -> None:
        self._builds = builds  # a model a call names is built as create builds a job's (model_check)
        self._jobs = jobs
        self._sampler = sampler
        self._device = device
        self._store = store
        self._confine_data = confine_data  # (field, path) -> the path, checked against the data roots
        self._lock = threading.Lock()
        self._predicted_peaks: dict[str, int] = {}  # job id -> its predicted peak memory

    # -- which weights ---------------------------------------------------------------------------

    def resolve(self, selection: sampling_pb2.ModelSelection) -> Target:
        choice = selection.adapter
        if selection.model_path:  # a job's own model was built at its create; only the build is checked (ms): the
            # tokenizer's files would cost a load each call
            refuse_unbuildable("model.model_path", selection.model_path, self._builds)
        if not selection.job_id:
            if not selection.model_path:
                raise invalid_argument([FieldViolation("model.model_path", "name a model or a job", "model.required")])
            if choice not in (sampling_pb2.ADAPTER_CHOICE_UNSPECIFIED, sampling_pb2.ADAPTER_CHOICE_NONE):
                raise invalid_argument(
                    [FieldViolation("model.adapter", "an adapter needs model.job_id", "adapter.job")]
                )
            return Target(ModelKey(selection.model_path), None, None)
        job = self._jobs.get(selection.job_id)
        model_path = selection.model_path or job.spec.model_path
        if choice == sampling_pb2.ADAPTER_CHOICE_NONE:
            return Target(ModelKey(model_path), None, job)
        adapter_file = self._adapter_file(job, selection)
        key = ModelKey(model_path, str(adapter_file.parent), _version(adapter_file))
        return Target(key, adapter_file, job)

    def _adapter_file(self, job: job_pb2.TrainingJob, selection: sampling_pb2.ModelSelection) -> Path:
        output_dir = Path(job.output_dir)
        if selection.adapter == sampling_pb2.ADAPTER_CHOICE_CHECKPOINT:
            path = checkpoint_dir(output_dir, selection.checkpoint_iteration) / ADAPTER_FILE
            if not path.is_file():
                listed = ", ".join(str(c.iteration) for c in self._jobs.checkpoints(job.job_id) if not c.removed)
                raise _adapter_not_found(
                    job.job_id,
                    f"iteration {selection.checkpoint_iteration}",
                    f"no checkpoint of that iteration (saved: {listed or 'none'})",
                )
            return path
        if selection.adapter == sampling_pb2.ADAPTER_CHOICE_BEST:
            return self._best_adapter(job)
        path = Path(job.adapter_path) if job.adapter_path else output_dir / ADAPTER_FILE
        if not path.is_file() or not (path.parent / ADAPTER_CONFIG_FILE).is_file():
            raise _adapter_not_found(job.job_id, "final", "the job has not saved its final adapter")
        return path

    def _best_adapter(self, job: job_pb2.TrainingJob) -> Path:
        """The saved adapter of the iteration with the lowest validation loss."""
        val_loss: dict[int, float] = {}
        after = 0
        while batch := self._jobs.events_after(job.job_id, after):
            for event in batch:
                if event.WhichOneof("event") == "eval_report":
                    val_loss[event.eval_report.iteration] = event.eval_report.val_loss
            after = batch[-1].sequence
        saved = [c for c in self._jobs.checkpoints(job.job_id) if not c.removed and c.iteration in val_loss]
        if not saved:
            raise _adapter_not_found(job.job_id, "best", "no saved adapter has a validation loss")
        best = min(saved, key=lambda c: (val_loss[c.iteration], c.final))
        return Path(best.path)

    # -- memory --------------------------------------------------------------------------------

    def _check_memory(
        self, keys: list[tuple[ModelKey, Path | None]], context_tokens: int, scored_tokens: int, finishing: str = ""
    ) -> None:
        """Refuse (SAMPLER_MEMORY_SHORT) models that do not fit next to the running jobs; `finishing` is a job
        whose run has ended (its final evaluation), left out."""
        needed = sum(self._model_bytes(key, adapter_file, context_tokens, scored_tokens) for key, adapter_file in keys)
        # Models the sampler holds from earlier calls take their memory too, until its cache lets them go.
        needed += sum(self._model_bytes(key, None, 0, 0) for key in self._sampler.kept_beside([k for k, _ in keys]))
        device = self._device()
        running = [job for job in self._jobs.overview().running if job.job_id != finishing]
        training = sum(self._training_peak(job, device) for job in running)
        with self._lock:  # jobs that ended need no prediction any more
            kept = {job.job_id for job in running}
            self._predicted_peaks = {key: peak for key, peak in self._predicted_peaks.items() if key in kept}
        available = device.available_memory_bytes - training
        if needed > available:
            beside = (
                f" next to {len(running)} running job(s) predicted to take {format_bytes(training)}" if running else ""
            )
            raise DroidftError(
                ErrorKind.RESOURCE_EXHAUSTED,
                Reason.SAMPLER_MEMORY_SHORT,
                f"the sampler needs {format_bytes(needed)}, but only {format_bytes(max(available, 0))} of "
                f"{format_bytes(device.available_memory_bytes)} on {device.name} is free{beside}; retry when "
                "the jobs have finished, or ask for fewer tokens",
                {
                    "needed_bytes": str(needed),
                    "available_bytes": str(max(available, 0)),
                    "running_jobs": ",".join(job.job_id for job in running),
                },
            )

    def _training_peak(self, job: job_pb2.TrainingJob, device: DeviceProfile) -> int:
        """A running job's predicted peak (estimated once per job: it reads the job's data), or its measured
        one when larger."""
        with self._lock:
            predicted = self._predicted_peaks.get(job.job_id)
        if predicted is None:
            predicted = estimate_job(resolve(job.spec), device).peak_memory_bytes
            with self._lock:
                self._predicted_peaks[job.job_id] = predicted
        return max(predicted, job.metrics.peak_memory_bytes)

    @staticmethod
    def _model_bytes(key: ModelKey, adapter_file: Path | None, context_tokens: int, scored_tokens: int) -> int:
        try:
            facts = read_model_facts(Path(key.model_path))
        except (ModelFactsError, OSError) as error:
            raise DroidftError(
                ErrorKind.FAILED_PRECONDITION,
                Reason.MODEL_UNREADABLE,
                f"model.model_path: cannot read the model at {key.model_path!r}: {error}",
                {"field": "model.model_path", "path": key.model_path},
            ) from None
        if adapter_file is None and key.adapter_dir:
            adapter_file = Path(key.adapter_dir) / ADAPTER_FILE
        adapter_bytes = adapter_file.stat().st_size if adapter_file is not None and adapter_file.is_file() else 0
        return sampler_memory_bytes(facts, context_tokens, scored_tokens, adapter_bytes)

    # -- Generate ------------------------------------------------------------------------------

    def generate(
        self, request: sampling_pb2.GenerateRequest, is_active: Callable[[], bool]
    ) -> Iterator[sampling_pb2.GenerateResponse]:
        target = self.resolve(request.model)
        sides = [("adapted", target.key, target.adapter_file)]
        if request.side_by_side:
            if target.adapter_file is None:
                raise invalid_argument(
                    [FieldViolation("side_by_side", "needs a job's adapter to compare with", "side_by_side.adapter")]
                )
            sides.append(("base", ModelKey(target.key.model_path), None))
        options = request.sampling
        sampling = Sampling(
            temperature=options.temperature,
            top_p=options.top_p,
            max_tokens=options.max_tokens or DEFAULT_MAX_TOKENS,
            stop=tuple(options.stop),
            seed=options.seed,
        )
        messages = tuple((turn.role, turn.content) for turn in request.messages.turns)
        prompt_chars = len(request.prompt) + sum(len(content) for _, content in messages)
        # A token per character at most (byte-level tokenizers), plus the chat template's own.
        prompt_tokens = prompt_chars + CHAT_TEMPLATE_TOKENS
        keys = [(key, adapter) for _, key, adapter in sides]
        self._check_memory(keys, prompt_tokens + sampling.max_tokens, prompt_tokens)
        for side, key, _ in sides:
            for chunk in self._run(self._sampler.generate(key, sampling, messages, request.prompt, is_active)):
                response = sampling_pb2.GenerateResponse(
                    side=SIDES[side],
                    text=chunk.text,
                    token_ids=chunk.token_ids,
                    finish_reason=FINISH.get(chunk.finish_reason, 0),
                    prompt_tokens=chunk.prompt_tokens if chunk.finish_reason else 0,
                    completion_tokens=chunk.completion_tokens,
                    model_cached=chunk.model_cached,
                )
                if chunk.first:
                    log.info("sampler_call", side=side, model=key.model_path, adapter=key.adapter_dir,
                             cached=chunk.model_cached)  # fmt: skip
                yield response

    @staticmethod
    def _run(messages: Iterator[Any]) -> Iterator[Any]:
        """The call's messages but its end; a failure raised as SAMPLER_FAILED (a cancel just ends it)."""
        for message in messages:
            if isinstance(message, SamplerFailed):
                if str(message) == CANCELLED:
                    return
                raise DroidftError(
                    ErrorKind.FAILED_PRECONDITION, Reason.SAMPLER_FAILED, f"the sampler failed: {message}"
                )
            yield message

    # -- EvaluateModel ---------------------------------------------------------------------------

    def evaluate(
        self, request: evaluation_pb2.EvaluateModelRequest, is_active: Callable[[], bool], finishing: str = ""
    ) -> Iterator[evaluation_pb2.EvaluateModelResponse]:
        target = self.resolve(request.model)
        job = target.job
        spec = self._spec(request, target)
        settings = resolve(spec)
        data_path = _data_file(Path(request.data_path)) if request.data_path else self._test_split(job)
        samples = request.samples_per_prompt or DEFAULT_SAMPLES_PER_PROMPT
        options = request.sampling
        completion = settings.policy.rollout.max_completion_length if settings.policy else DEFAULT_COMPLETION_TOKENS
        sampling = Sampling(
            temperature=options.temperature or DEFAULT_EVALUATION_TEMPERATURE,
            top_p=options.top_p,
            max_tokens=options.max_tokens or completion,
            seed=options.seed,
        )
        base = ModelKey(target.key.model_path)
        keys = [(target.key, target.adapter_file)]
        if settings.method == "dpo" and target.adapter_file is not None:
            keys.append((base, None))
        context = settings.max_seq_length + (sampling.max_tokens if settings.policy else 0)
        self._check_memory(keys, context, settings.max_seq_length, finishing)
        call = EvaluationRequest(target.key, base, spec.SerializeToString(), str(data_path), request.max_records,
                                 samples, sampling)  # fmt: skip
        started = time.monotonic()
        for message in self._run(self._sampler.evaluate(call, is_active)):
            if hasattr(message, "figures"):
                evaluation = self._evaluation(message, target, data_path, spec, samples, time.monotonic() - started)
                if job is not None:
                    try:
                        self._store.insert_evaluation(evaluation)
                    except StorageError as error:
                        raise storage_unavailable(error) from None
                yield evaluation_pb2.EvaluateModelResponse(
                    records_done=message.records, records_total=message.records, evaluation=evaluation
                )
            else:
                yield evaluation_pb2.EvaluateModelResponse(records_done=message.done, records_total=message.total)

    def _spec(self, request: evaluation_pb2.EvaluateModelRequest, target: Target) -> job_pb2.TrainingJobSpec:
        """The job's spec when it is scored as the job's method; otherwise the method's defaults."""
        job = target.job
        wanted = CONFIG_OF_METHOD.get(request.method, "")
        if job is not None and wanted in ("", method_name(job.spec)):
            spec = job_pb2.TrainingJobSpec()
            spec.CopyFrom(job.spec)
            spec.model_path = target.key.model_path
            return spec
        spec = job_pb2.TrainingJobSpec(model_path=target.key.model_path, max_seq_length=DEFAULT_MAX_SEQ_LENGTH)
        getattr(spec, wanted or CONFIG_OF_METHOD[methods_pb2.TRAINING_METHOD_SFT]).SetInParent()
        return spec

    def _test_split(self, job: job_pb2.TrainingJob | None) -> Path:
        if job is None:
            raise invalid_argument([FieldViolation("data_path", "name the data to evaluate on", "data_path.required")])
        test = test_split(job.spec, job.data if job.HasField("data") else None)
        if test is None:
            raise _no_test_split(job.job_id, job.spec)
        return self._confine_data("data_path", str(test))

    def evaluate_finished(self, job: job_pb2.TrainingJob) -> None:
        """A job's final evaluation, when its spec asks for one: run once its training succeeded and before
        the job does, so its result is stored, and told in the job's log, when the job is SUCCEEDED."""
        if not job.spec.final_evaluation:
            return
        request = evaluation_pb2.EvaluateModelRequest(model=sampling_pb2.ModelSelection(job_id=job.job_id))
        try:
            *_, last = self.evaluate(request, lambda: True, finishing=job.job_id)
        except DroidftError as error:
            text = f"final evaluation failed ({error.reason_name}): {error.message}"
            self._jobs.on_event(job.job_id, events.log(progress_pb2.LOG_LEVEL_WARNING, text))
            return
        self._jobs.on_event(job.job_id, events.log(progress_pb2.LOG_LEVEL_INFO, summary(last.evaluation)))

    @staticmethod
    def _evaluation(message: Any, target: Target, data_path: Path, spec, samples: int, seconds: float):
        figures = message.figures
        evaluation = evaluation_pb2.Evaluation(
            evaluation_id=uuid.uuid4().hex,
            job_id=target.job.job_id if target.job is not None else "",
            model_path=target.key.model_path,
            adapter_path=str(target.adapter_file or ""),
            data_path=str(data_path),
            method=METHOD_OF_CONFIG[method_name(spec)],
            records=message.records,
            mean_rewards=message.mean_rewards,
            seconds=seconds,
            **figures,
        )
        if "pass_at_k" in figures:
            evaluation.samples_per_prompt = samples
        evaluation.create_time.CopyFrom(events.now())
        return evaluation

    def list_evaluations(self, job_id: str) -> list[evaluation_pb2.Evaluation]:
        self._jobs.get(job_id)
        try:
            return self._store.list_evaluations(job_id)
        except StorageError as error:
            raise storage_unavailable(error) from None


def summary(evaluation: evaluation_pb2.Evaluation) -> str:
    """One line of an evaluation's figures."""
    names = ("loss", "perplexity", "token_accuracy", "reward_accuracy", "reward_margin", "pass_at_k")
    figures = [f"{name} {getattr(evaluation, name):.4f}" for name in names if evaluation.HasField(name)]
    figures += [f"mean {name} {value:.4f}" for name, value in sorted(evaluation.mean_rewards.items())]
    return (
        f"final evaluation {evaluation.evaluation_id} on {evaluation.data_path} ({evaluation.records} records): "
        + ", ".join(figures)
    )


def _data_file(path: Path) -> Path:
    """The file EvaluateModel's data_path names: a file, or a directory's test split."""
    if path.is_dir():
        test = split_files(path).get("test")
        if test is None:
            raise DroidftError(
                ErrorKind.FAILED_PRECONDITION,
                Reason.NO_EVALUATION_DATA,
                f"data_path: the directory {path} holds no test split (test.jsonl, .json, .csv or .parquet)",
                {"field": "data_path", "path": str(path)},
            )
        return test
    if not path.is_file():
        raise DroidftError(
            ErrorKind.FAILED_PRECONDITION,
            Reason.DATASET_NOT_FOUND,
            f"data_path: data {str(path)!r} not found on the server",
            {"field": "data_path", "path": str(path)},
        )
    return path


def test_split(spec: job_pb2.TrainingJobSpec, data: job_pb2.TrainingData | None = None) -> Path | None:
    """The test file next to a job's training data (its directory's, or the training file's directory's)."""
    train = Path(data.train.path) if data is not None else Path(spec.train_data_path)
    return split_files(train if train.is_dir() else train.parent).get("test")


def _no_test_split(job_id: str, spec: job_pb2.TrainingJobSpec) -> DroidftError:
    return DroidftError(
        ErrorKind.FAILED_PRECONDITION,
        Reason.NO_EVALUATION_DATA,
        f"no test split next to {spec.train_data_path} (a test.jsonl beside train.jsonl) to evaluate on"
        + (f" for job {job_id}; give data_path" if job_id else "; add one, or leave spec.final_evaluation unset"),
        {"job_id": job_id} if job_id else {"field": "spec.final_evaluation"},
    )


def final_evaluation_has_data(job: Any) -> list[str]:
    """A preflight check: a spec asking for a final evaluation needs a test split to evaluate on."""
    if job.spec.final_evaluation and test_split(job.spec) is None:
        raise _no_test_split("", job.spec)
    return []


@dataclass(frozen=True)
class EvaluationRequest:
    """What the sampler evaluates: the model, the base model (the reference of DPO's rewards), the spec
    whose method and settings score the data, and the data."""

    model: ModelKey
    base: ModelKey
    spec: bytes
    data_path: str
    max_records: int
    samples_per_prompt: int
    sampling: Sampling
