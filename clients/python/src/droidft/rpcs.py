"""Every call of droidft.v1.TrainingService, defined once for Client and AsyncClient.

Each call is a builder, from plain Python arguments to the request message,
wrapped by @rpc in an `Rpc` with the service method it calls and its response
type. The builder's parameters and docstring are those of the client methods
of the same name; Client and AsyncClient only add how the call is made
(blocking or asyncio, unary or streaming). Every method also takes a ready
request message in place of its arguments, which `Rpc.request` passes through,
so the builders only ever see plain arguments.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import (
    Any,
    Generic,
    ParamSpec,
    Protocol,
    TypeVar,
    overload,
)

from google.protobuf.message import Message

from droidft.enums import MethodLike, StateLike, parse_job_state, parse_method
from droidft.specs import SpecLike, training_job_spec
from droidft.transfers import file_sha256, upload_id_for
from droidft.v1 import data_pb2, evaluation_pb2, export_pb2, files_pb2, job_pb2, progress_pb2, sampling_pb2, service_pb2

P = ParamSpec("P")
Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)
Req_contra = TypeVar("Req_contra", bound=Message, contravariant=True)
Resp_co = TypeVar("Resp_co", bound=Message, covariant=True)

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class Rpc(Generic[P, Req, Resp]):
    """One call of the service: what the client methods of the same name take, and what they send."""

    def __init__(
        self,
        name: str,
        request_type: type[Req],
        response_type: type[Resp],
        build: Callable[P, Req],
        extends: Rpc[Any, Any, Any] | None = None,
    ) -> None:
        self.name = name
        self.request_type = request_type
        self.response_type = response_type
        self.build = build
        self.method_name = build.__name__
        parameters = list(inspect.signature(build).parameters.values())
        if extends is not None:
            # The builder forwards *args and **kwargs to `extends`; the methods show those parameters, then its own.
            parameters = [*extends.parameters, *(p for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY)]
        self.parameters: tuple[inspect.Parameter, ...] = tuple(parameters)
        self._takes_positional = any(p.kind in _POSITIONAL for p in parameters)

    def __repr__(self) -> str:
        return f"Rpc({self.name})"

    def request(self, *args: P.args, **kwargs: P.kwargs) -> Req:
        """The request message: a ready one given alone, else the one built from the arguments."""
        if args and isinstance(args[0], self.request_type):
            if len(args) > 1 or kwargs:
                raise TypeError(f"{self.method_name}() takes a {self.request_type.__name__} alone, or arguments")
            return args[0]
        if args and args[0] is None and not self._takes_positional:
            # The `request` placeholder that signature() gives calls without positional arguments.
            return self.build(*args[1:], **kwargs)  # type: ignore[arg-type]
        return self.build(*args, **kwargs)

    @property
    def response_name(self) -> str:
        return _short_name(self.response_type)

    @property
    def doc(self) -> str:
        return (
            inspect.cleandoc(self.build.__doc__ or "")
            + f"\n\nA ready {self.request_type.DESCRIPTOR.full_name} may be given alone instead of the arguments."
        )

    def signature(self, returns: str) -> inspect.Signature:
        """The client method's signature: self, then the builder's parameters, the first one also taking the message."""
        message = _short_name(self.request_type)
        parameters = list(self.parameters)
        if self._takes_positional:
            first = parameters[0]
            annotation = str(first.annotation)  # a string: this module postpones the evaluation of annotations
            if annotation.endswith(" | None"):
                widened = f"{annotation.removesuffix(' | None')} | {message} | None"
            else:
                widened = f"{annotation} | {message}"
            parameters[0] = first.replace(annotation=widened)
        else:
            parameters.insert(
                0,
                inspect.Parameter(
                    "request", inspect.Parameter.POSITIONAL_ONLY, default=None, annotation=f"{message} | None"
                ),
            )
        # `self` is positional-only exactly when the first parameter after it is.
        self_parameter = inspect.Parameter("self", parameters[0].kind)
        return inspect.Signature([self_parameter, *parameters], return_annotation=returns)

    def method(self, function: Callable[..., Any], owner: str, returns: str) -> Any:
        """`function` made `owner`'s method of this call: its name, signature and documented arguments."""
        function.__name__ = self.method_name
        function.__qualname__ = f"{owner}.{self.method_name}"
        function.__doc__ = self.doc
        function.__signature__ = self.signature(returns)
        return function


def rpc(
    name: str, request_type: type[Req], response_type: type[Resp], *, extends: Rpc[Any, Any, Any] | None = None
) -> Callable[[Callable[P, Req]], Rpc[P, Req, Resp]]:
    """Decorator: the builder below becomes the Rpc of service method `name`."""

    def define(build: Callable[P, Req]) -> Rpc[P, Req, Resp]:
        return Rpc(name, request_type, response_type, build, extends)

    return define


def _short_name(message_type: type[Message]) -> str:
    """How the code names a generated message class, e.g. "service_pb2.GetTrainingJobRequest"."""
    return f"{message_type.__module__.rpartition('.')[2]}.{message_type.__name__}"


@rpc("ListTrainingMethods", service_pb2.ListTrainingMethodsRequest, service_pb2.ListTrainingMethodsResponse)
def list_training_methods() -> service_pb2.ListTrainingMethodsRequest:
    """Every training method the server knows, with its data formats and a schema of its parameters.

    Returns:
        ListTrainingMethodsResponse: `methods`, in TrainingMethod order; `available` says whether this server
        can run each.
    """
    return service_pb2.ListTrainingMethodsRequest()


@rpc("ValidateDataset", data_pb2.ValidateDatasetRequest, data_pb2.ValidateDatasetResponse)
def validate_dataset(
    path: str | os.PathLike | None = None,
    *,
    content: bytes | None = None,
    method: MethodLike | None = None,
    format: str = "",
    model_path: str | os.PathLike = "",
    max_seq_length: int | None = None,
    max_issues: int | None = None,
    data_keys: Mapping[str, str] | None = None,
) -> data_pb2.ValidateDatasetRequest:
    """Check every record of a data set, reporting each issue with its file and line.

    Args:
        path: JSONL file (gzip too), or a directory with train/valid/test.jsonl, on the server.
        content: the JSONL bytes themselves (at most 64 MiB), instead of `path`; give exactly one of the two.
        method: the training method the data is for ("sft", "dr-grpo", a TrainingMethod value), which picks the
            accepted formats; None: any format.
        format: the format to check against, e.g. "chat_messages"; empty: detected from the first record.
        model_path: model whose tokenizer measures token lengths; empty: no token statistics.
        max_seq_length: token limit of the too_long check, 512 to 8192; None: 2048.
        max_issues: issues listed at most, 1 to 100,000; None: 100 (counting goes on past it).
        data_keys: format field -> the key the records use for it (a job's spec.data_keys), e.g.
            {"prompt": "question", "completion": "answer"}; None: the format's own names.

    Returns:
        ValidateDatasetResponse: `valid`, a report per file, the issues, and `issue_counts` per issue code.

    Raises:
        ValueError: neither or both of `path` and `content` given, or an unknown method name; nothing is sent.
    """
    if (path is None) == (content is None):
        raise ValueError("give exactly one of path (on the server) or content (the JSONL bytes)")
    request = data_pb2.ValidateDatasetRequest(format=format, model_path=os.fspath(model_path))
    if path is not None:
        request.path = os.fspath(path)
    else:
        request.content = content
    if method is not None:
        request.method = parse_method(method)
    if max_seq_length is not None:
        request.max_seq_length = max_seq_length
    if max_issues is not None:
        request.max_issues = max_issues
    if data_keys:
        request.data_keys.fields.update(data_keys)
    return request


@rpc(
    "StreamDatasetValidation",
    data_pb2.StreamDatasetValidationRequest,
    data_pb2.StreamDatasetValidationResponse,
    extends=validate_dataset,
)
def stream_dataset_validation(
    *check: Any, progress_interval_seconds: float | None = None, **options: Any
) -> data_pb2.StreamDatasetValidationRequest:
    """Check a data set like validate_dataset, with progress messages while the server reads it.

    Args:
        path, content, method, format, model_path, max_seq_length, max_issues, data_keys: as for validate_dataset.
        progress_interval_seconds: seconds between progress messages, 0.1 to 60; None: 1.

    Yields:
        StreamDatasetValidationResponse: bytes and records read so far; the last message holds the `result`.
    """
    request = data_pb2.StreamDatasetValidationRequest(check=validate_dataset.build(*check, **options))
    if progress_interval_seconds is not None:
        request.progress_interval_seconds = progress_interval_seconds
    return request


@rpc("GenerateSampleData", data_pb2.GenerateSampleDataRequest, data_pb2.GenerateSampleDataResponse)
def generate_sample_data(
    format: str,
    *,
    count: int | None = None,
    seed: int = 0,
    output_path: str | os.PathLike = "",
    overwrite: bool = False,
) -> data_pb2.GenerateSampleDataRequest:
    """Generate deterministic sample data.

    Args:
        format: data format to generate, e.g. "chat_messages", "grpo", "preference".
        count: records to generate, 1 to 1,000,000; None: 100.
        seed: the same seed gives the same records.
        output_path: file the server writes, under one of its data roots (a relative path starts at the first);
            empty: the records come back in the response's `content`.
        overwrite: replace output_path if it exists; without it an existing file is refused (OUTPUT_EXISTS).

    Returns:
        GenerateSampleDataResponse: `format`, `record_count`, and `path` or `content` (the JSONL bytes).
    """
    request = data_pb2.GenerateSampleDataRequest(
        format=format, seed=seed, output_path=os.fspath(output_path), overwrite=overwrite
    )
    if count is not None:
        request.count = count
    return request


@rpc("EstimateResources", service_pb2.EstimateResourcesRequest, service_pb2.EstimateResourcesResponse)
def estimate_resources(spec: SpecLike) -> service_pb2.EstimateResourcesRequest:
    """Predict a job's peak memory and time without running it.

    Args:
        spec: the job, exactly as for create_training_job: a TrainingJobSpec, or a dict in proto JSON form.

    Returns:
        EstimateResourcesResponse: its `estimate` (peak and available memory, `fits`, time).

    Raises:
        ValueError: `spec` is a dict that is not a valid TrainingJobSpec; nothing is sent.
    """
    return service_pb2.EstimateResourcesRequest(spec=training_job_spec(spec))


@rpc("CreateTrainingJob", service_pb2.CreateTrainingJobRequest, job_pb2.TrainingJob)
def create_training_job(
    spec: SpecLike, *, request_id: str = "", validate_only: bool = False
) -> service_pb2.CreateTrainingJobRequest:
    """Submit a training job; it runs as soon as a device slot is free.

    Args:
        spec: what to train: a TrainingJobSpec, or a dict in proto JSON form (snake_case or lowerCamelCase keys),
            e.g. {"model_path": "/models/tiny", "train_data_path": "/data/chat", "sft": {}}.
        request_id: idempotency key: a retry with the same key and spec returns the first job instead of a new one.
        validate_only: check the spec, files and data and answer as if created, without creating anything.

    Returns:
        TrainingJob: the new job, queued (with validate_only, an unsaved one without a job_id).

    Raises:
        ValueError: `spec` is a dict that is not a valid TrainingJobSpec; nothing is sent.
    """
    return service_pb2.CreateTrainingJobRequest(
        spec=training_job_spec(spec), request_id=request_id, validate_only=validate_only
    )


@rpc("GetTrainingJob", service_pb2.GetTrainingJobRequest, job_pb2.TrainingJob)
def get_training_job(job_id: str) -> service_pb2.GetTrainingJobRequest:
    """One job as it is now.

    Args:
        job_id: the job.

    Returns:
        TrainingJob: its spec, state, metrics and the sequence number of its last event.
    """
    return service_pb2.GetTrainingJobRequest(job_id=job_id)


@rpc("ListTrainingJobs", service_pb2.ListTrainingJobsRequest, service_pb2.ListTrainingJobsResponse)
def list_training_jobs(
    *, page_size: int = 0, page_token: str = "", states: Iterable[StateLike] = ()
) -> service_pb2.ListTrainingJobsRequest:
    """One page of jobs, newest first (iter_training_jobs walks every page).

    Args:
        page_size: jobs per page, 0 to 1000; 0: 50.
        page_token: `next_page_token` of the previous page; empty: the first page.
        states: only jobs in these states (names like "running", or JobState values); empty: every state.

    Returns:
        ListTrainingJobsResponse: `jobs`, and `next_page_token`, empty on the last page.
    """
    return service_pb2.ListTrainingJobsRequest(
        page_size=page_size, page_token=page_token, states=[parse_job_state(s) for s in states]
    )


@rpc("CancelTrainingJob", service_pb2.CancelTrainingJobRequest, job_pb2.TrainingJob)
def cancel_training_job(job_id: str) -> service_pb2.CancelTrainingJobRequest:
    """Stop a queued or running job; the adapter trained so far is kept.

    Args:
        job_id: the job.

    Returns:
        TrainingJob: the job after the request (cancelled, or already ended).
    """
    return service_pb2.CancelTrainingJobRequest(job_id=job_id)


@rpc("ListCheckpoints", service_pb2.ListCheckpointsRequest, service_pb2.ListCheckpointsResponse)
def list_checkpoints(job_id: str) -> service_pb2.ListCheckpointsRequest:
    """A job's saved adapter checkpoints.

    Args:
        job_id: the job.

    Returns:
        ListCheckpointsResponse: `checkpoints` by iteration, the final adapter last.
    """
    return service_pb2.ListCheckpointsRequest(job_id=job_id)


@rpc("StreamTrainingProgress", service_pb2.StreamTrainingProgressRequest, progress_pb2.TrainingProgress)
def stream_progress(job_id: str, after_sequence: int = 0) -> service_pb2.StreamTrainingProgressRequest:
    """The job's events after `after_sequence`, stored ones then live ones, until its terminal state change.

    A dropped connection (UNAVAILABLE, or the stream ending before the terminal
    event) is reopened after the last event seen, with backoff, so no event is
    lost or repeated; the last error is raised once `retry_policy.max_attempts`
    reconnects in a row brought nothing new.

    Args:
        job_id: the job.
        after_sequence: only events with a larger sequence number; 0: from the first event.

    Yields:
        TrainingProgress: train and eval reports, checkpoints, logs and state changes, in sequence order.
    """
    return service_pb2.StreamTrainingProgressRequest(job_id=job_id, after_sequence=after_sequence)


@rpc("DeleteTrainingJob", service_pb2.DeleteTrainingJobRequest, service_pb2.DeleteTrainingJobResponse)
def delete_training_job(job_id: str) -> service_pb2.DeleteTrainingJobRequest:
    """Delete a finished job: its record, its events, and its adapters and checkpoints on the server.

    Args:
        job_id: the job; a queued or running one must be cancelled first (FailedPreconditionError,
            reason JOB_NOT_FINISHED).

    Returns:
        DeleteTrainingJobResponse: the `job_id` and the `bytes_freed` on the server.
    """
    return service_pb2.DeleteTrainingJobRequest(job_id=job_id)


@rpc("PauseTrainingJob", service_pb2.PauseTrainingJobRequest, job_pb2.TrainingJob)
def pause_training_job(job_id: str) -> service_pb2.PauseTrainingJobRequest:
    """Pause a running job: it writes a full-state checkpoint after its current iteration and its worker exits
    (PAUSING, then PAUSED); a queued job is paused at once. Another state answers FailedPreconditionError,
    reason JOB_STATE_CONFLICT.

    Args:
        job_id: the job.

    Returns:
        TrainingJob: the job after the request (PAUSING, or PAUSED).
    """
    return service_pb2.PauseTrainingJobRequest(job_id=job_id)


@rpc("ResumeTrainingJob", service_pb2.ResumeTrainingJobRequest, job_pb2.TrainingJob)
def resume_training_job(job_id: str, from_iteration: int | None = None) -> service_pb2.ResumeTrainingJobRequest:
    """Resume a paused job, or a failed or cancelled one with a resumable checkpoint: it keeps its id, goes
    QUEUED then RUNNING, and goes on exactly as if never interrupted.

    Args:
        job_id: the job.
        from_iteration: resume from the checkpoint of this iteration rather than the last resumable one
            (FailedPreconditionError, reason NO_RESUMABLE_CHECKPOINT, when there is none).

    Returns:
        TrainingJob: the job, QUEUED, its resume_iteration saying where it goes on from.
    """
    request = service_pb2.ResumeTrainingJobRequest(job_id=job_id)
    if from_iteration is not None:
        request.from_iteration = from_iteration
    return request


# Files, downloads and export.


@rpc("UploadFile", files_pb2.UploadFileRequest, files_pb2.UploadedFile)
def upload_file(path: str | os.PathLike, *, name: str = "", upload_id: str = "") -> files_pb2.UploadFileRequest:
    """Upload a local file into the server's files area, resuming an earlier interrupted upload of it.

    The client asks the server what it holds of the upload (GetUploadStatus) and sends the rest; the server keeps
    the file only whole and matching its SHA-256. Use the result's `data_path` ("file:<file_id>") wherever a
    request takes a data path.

    Args:
        path: the local file.
        name: the name the server keeps (its extension picks the data reader); empty: the local file's name.
        upload_id: names the upload so that it can be resumed; empty: one made from the file's SHA-256 and size,
            so uploading the same file again resumes where it stopped.

    Returns:
        UploadedFile: `file_id`, `name`, `size_bytes`, `sha256` and `data_path`.
    """
    size = os.path.getsize(path)
    digest = file_sha256(path)
    start = files_pb2.UploadStart(
        upload_id=upload_id or upload_id_for(digest, size),
        name=name or os.path.basename(os.fspath(path)),
        size_bytes=size,
        sha256=digest,
    )
    return files_pb2.UploadFileRequest(start=start)


@rpc("GetUploadStatus", files_pb2.GetUploadStatusRequest, files_pb2.UploadStatus)
def get_upload_status(upload_id: str) -> files_pb2.GetUploadStatusRequest:
    """What the server holds of an upload that has not completed (NotFoundError, UPLOAD_NOT_FOUND: nothing).

    Args:
        upload_id: the upload.

    Returns:
        UploadStatus: the name, size and SHA-256 it started with, and `received_bytes`.
    """
    return files_pb2.GetUploadStatusRequest(upload_id=upload_id)


@rpc("ListFiles", files_pb2.ListFilesRequest, files_pb2.ListFilesResponse)
def list_files() -> files_pb2.ListFilesRequest:
    """Every uploaded file.

    Returns:
        ListFilesResponse: `files`, oldest first.
    """
    return files_pb2.ListFilesRequest()


@rpc("DeleteFile", files_pb2.DeleteFileRequest, files_pb2.DeleteFileResponse)
def delete_file(file_id: str) -> files_pb2.DeleteFileRequest:
    """Delete an uploaded file.

    Args:
        file_id: the file.

    Returns:
        DeleteFileResponse: the `file_id` and the `bytes_freed`.
    """
    return files_pb2.DeleteFileRequest(file_id=file_id)


@rpc("DownloadArtifact", files_pb2.DownloadArtifactRequest, files_pb2.DownloadArtifactResponse)
def download_artifact(job_id: str, path: str, *, offset: int = 0) -> files_pb2.DownloadArtifactRequest:
    """The bytes of a file of a job, as a stream (`download` writes one to a local file).

    Args:
        job_id: the job.
        path: relative to the job's directory: "adapters.safetensors", "adapter_config.json",
            "checkpoints/<iteration:07d>/<file>", "exports/<export_id>/<file>", "worker.log" or "events.jsonl".
        offset: the first byte to send, to resume a download.

    Yields:
        DownloadArtifactResponse: the first with `info` (size and SHA-256 of the whole file), each with `data`.
    """
    return files_pb2.DownloadArtifactRequest(job_id=job_id, path=path, offset=offset)


@rpc("ExportModel", export_pb2.ExportModelRequest, export_pb2.ExportModelResponse)
def export_model(
    job_id: str,
    *,
    iteration: int = 0,
    quantize_bits: int | None = None,
    quantize_group_size: int | None = None,
    dequantize: bool = False,
    gguf: bool = False,
) -> export_pb2.ExportModelRequest:
    """Fuse a job's adapter into its base model, saved as a model directory that `mlx_lm.load` reads.

    Args:
        job_id: the job.
        iteration: the checkpoint of this iteration; 0: the final adapter.
        quantize_bits: quantise the weights to 4 or 8 bits; None: keep the base model's precision.
        quantize_group_size: weights per quantisation group, 32, 64 or 128; None: 64.
        dequantize: de-quantise a quantised base model.
        gguf: also write model.gguf (llama, mistral and mixtral models, unquantised).

    Yields:
        ExportModelResponse: `progress` messages, then the `result` (its files, downloadable with `download`).
    """
    request = export_pb2.ExportModelRequest(job_id=job_id, iteration=iteration, dequantize=dequantize, gguf=gguf)
    if quantize_bits is not None:
        request.quantize_bits = quantize_bits
    if quantize_group_size is not None:
        request.quantize_group_size = quantize_group_size
    return request


# Which adapter of a job: "final", "best", "none" (the base model), or a checkpoint's iteration.
AdapterLike = str | int | None
_ADAPTERS = {
    "final": sampling_pb2.ADAPTER_CHOICE_FINAL,
    "best": sampling_pb2.ADAPTER_CHOICE_BEST,
    "none": sampling_pb2.ADAPTER_CHOICE_NONE,
    "base": sampling_pb2.ADAPTER_CHOICE_NONE,
}


def _model_selection(
    job_id: str = "", model_path: str | os.PathLike = "", adapter: AdapterLike = None
) -> sampling_pb2.ModelSelection:
    """The ModelSelection of a job (and its adapter) or of a model directory."""
    selection = sampling_pb2.ModelSelection(job_id=job_id, model_path=os.fspath(model_path))
    if isinstance(adapter, bool) or not isinstance(adapter, int | str | type(None)):
        raise ValueError(f"adapter: {adapter!r} is not one of final, best, none or a checkpoint's iteration")
    if isinstance(adapter, int):
        selection.adapter = sampling_pb2.ADAPTER_CHOICE_CHECKPOINT
        selection.checkpoint_iteration = adapter
    elif adapter is not None:
        if adapter.lower() not in _ADAPTERS:
            raise ValueError(f"adapter: {adapter!r} is not one of final, best, none or a checkpoint's iteration")
        selection.adapter = _ADAPTERS[adapter.lower()]
    return selection


def _sampling_options(
    temperature: float = 0.0, top_p: float = 0.0, max_tokens: int = 0, stop: Iterable[str] = (), seed: int = 0
) -> sampling_pb2.SamplingOptions:
    return sampling_pb2.SamplingOptions(
        temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=list(stop), seed=seed
    )


@rpc("Generate", sampling_pb2.GenerateRequest, sampling_pb2.GenerateResponse)
def generate(
    job_id: str = "",
    *,
    prompt: str | None = None,
    messages: Iterable[dict[str, str]] | None = None,
    model_path: str | os.PathLike = "",
    adapter: AdapterLike = None,
    temperature: float = 0.0,
    top_p: float = 0.0,
    max_tokens: int = 0,
    stop: Iterable[str] = (),
    seed: int = 0,
    side_by_side: bool = False,
) -> sampling_pb2.GenerateRequest:
    """Generate text from a job's model and adapter, or from a model directory, streaming it as it comes.

    Args:
        job_id: the job whose base model and adapter to sample; empty: `model_path` alone.
        prompt: a raw prompt; give exactly one of `prompt` and `messages`.
        messages: a conversation, [{"role": "user", "content": "..."}, ...], rendered with the model's chat template.
        model_path: a model directory on the server; default: the job's base model.
        adapter: "final" (the default with a job), "best" (lowest validation loss), "none" (the base model alone),
            or a checkpoint's iteration.
        temperature: 0: greedy; above 0: sampled.
        top_p: nucleus sampling; 0 or 1: off.
        max_tokens: tokens at most; 0: 256.
        stop: strings that end the generation (left out of the text).
        seed: the same seed draws the same tokens.
        side_by_side: also generate from the base model alone; each chunk's `side` says which.

    Yields:
        GenerateResponse: `text` and `token_ids` of each piece; each side's last one has `finish_reason`.

    Raises:
        ValueError: neither or both of `prompt` and `messages`, or an unknown adapter; nothing is sent.
    """
    if (prompt is None) == (messages is None):
        raise ValueError("give exactly one of prompt or messages")
    request = sampling_pb2.GenerateRequest(
        model=_model_selection(job_id, model_path, adapter),
        sampling=_sampling_options(temperature, top_p, max_tokens, stop, seed),
        side_by_side=side_by_side,
    )
    if prompt is not None:
        request.prompt = prompt
    else:
        request.messages.turns.extend(sampling_pb2.ChatTurn(**turn) for turn in messages)
    return request


@rpc("EvaluateModel", evaluation_pb2.EvaluateModelRequest, evaluation_pb2.EvaluateModelResponse)
def evaluate_model(
    job_id: str = "",
    *,
    data_path: str | os.PathLike = "",
    model_path: str | os.PathLike = "",
    adapter: AdapterLike = None,
    method: MethodLike | None = None,
    max_records: int = 0,
    samples_per_prompt: int = 0,
    temperature: float = 0.0,
    top_p: float = 0.0,
    max_tokens: int = 0,
    seed: int = 0,
) -> evaluation_pb2.EvaluateModelRequest:
    """Measure a job's model (or a model directory) on a data set; the result is stored with the job.

    Args:
        job_id: the job whose base model and adapter to evaluate; empty: `model_path` alone.
        data_path: a data file on the server; default: the job's test split (test.jsonl next to its training data).
        model_path: a model directory on the server; default: the job's base model.
        adapter: as for generate: "final", "best", "none" or a checkpoint's iteration.
        method: how the data is scored ("sft", "dpo", "grpo", ...); default: the job's method, SFT without a job.
        max_records: records evaluated at most; 0: all.
        samples_per_prompt: the GRPO family: completions per prompt (k of pass@k); 0: 4.
        temperature, top_p, max_tokens, seed: the GRPO family: how completions are sampled (temperature 0: 1).

    Yields:
        EvaluateModelResponse: records done of the total; the last one holds the `evaluation`.
    """
    request = evaluation_pb2.EvaluateModelRequest(
        model=_model_selection(job_id, model_path, adapter),
        data_path=os.fspath(data_path),
        max_records=max_records,
        samples_per_prompt=samples_per_prompt,
        sampling=_sampling_options(temperature, top_p, max_tokens, (), seed),
    )
    if method is not None:
        request.method = parse_method(method)
    return request


@rpc("ListEvaluations", evaluation_pb2.ListEvaluationsRequest, evaluation_pb2.ListEvaluationsResponse)
def list_evaluations(job_id: str) -> evaluation_pb2.ListEvaluationsRequest:
    """A job's stored evaluations.

    Args:
        job_id: the job.

    Returns:
        ListEvaluationsResponse: `evaluations`, oldest first.
    """
    return evaluation_pb2.ListEvaluationsRequest(job_id=job_id)


ALL: tuple[Rpc[Any, Any, Any], ...] = (
    list_training_methods,
    validate_dataset,
    stream_dataset_validation,
    generate_sample_data,
    estimate_resources,
    create_training_job,
    get_training_job,
    list_training_jobs,
    cancel_training_job,
    list_checkpoints,
    stream_progress,
    delete_training_job,
    pause_training_job,
    resume_training_job,
    upload_file,
    get_upload_status,
    list_files,
    delete_file,
    download_artifact,
    export_model,
    generate,
    evaluate_model,
    list_evaluations,
)


# How type checkers see the client methods: the builder's parameters, or a ready request alone.
class UnaryCall(Protocol[P, Req_contra, Resp_co]):
    @overload
    def __call__(self, request: Req_contra, /) -> Resp_co: ...
    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Resp_co: ...


class StreamCall(Protocol[P, Req_contra, Resp_co]):
    @overload
    def __call__(self, request: Req_contra, /) -> Iterator[Resp_co]: ...
    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Iterator[Resp_co]: ...


class AsyncUnaryCall(Protocol[P, Req_contra, Resp_co]):
    @overload
    def __call__(self, request: Req_contra, /) -> Awaitable[Resp_co]: ...
    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Awaitable[Resp_co]: ...


class AsyncStreamCall(Protocol[P, Req_contra, Resp_co]):
    @overload
    def __call__(self, request: Req_contra, /) -> AsyncIterator[Resp_co]: ...
    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[Resp_co]: ...
