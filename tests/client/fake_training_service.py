"""A scriptable in-process TrainingService for client and CLI tests.

Unary calls answer canned messages (or a rich error set in `failures`);
StreamTrainingProgress plays one scripted connection per call, and the streamed
job's state and last_sequence follow the events it sends.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2, timestamp_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from droidft import RetryPolicy
from droidft.v1 import (
    data_pb2,
    evaluation_pb2,
    export_pb2,
    files_pb2,
    job_pb2,
    methods_pb2,
    progress_pb2,
    resources_pb2,
    sampling_pb2,
    service_pb2,
    service_pb2_grpc,
)

T0 = 1_790_000_000  # a fixed creation time, in seconds since the epoch


def timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def make_job(
    job_id: str, state: int = job_pb2.JOB_STATE_RUNNING, *, iteration: int = 0, total: int = 100, last_sequence: int = 0
) -> job_pb2.TrainingJob:
    return job_pb2.TrainingJob(
        job_id=job_id,
        spec=job_pb2.TrainingJobSpec(
            model_path="/models/tiny-llama",
            train_data_path="/data/train.jsonl",
            iterations=total,
            sft=methods_pb2.SftConfig(),
        ),
        method=methods_pb2.TRAINING_METHOD_SFT,
        state=state,
        create_time=timestamp(T0),
        metrics=job_pb2.JobMetrics(iteration=iteration, total_iterations=total),
        last_sequence=last_sequence,
    )


def train_event(sequence: int, iteration: int, total: int = 4, **metrics: float) -> progress_pb2.TrainingProgress:
    return progress_pb2.TrainingProgress(
        job_id="job-1",
        sequence=sequence,
        time=timestamp(T0 + sequence),
        train_report=progress_pb2.TrainReport(
            iteration=iteration,
            total_iterations=total,
            loss=2.0 / iteration,
            learning_rate=1e-5,
            iterations_per_second=2.0,
            metrics=metrics,
        ),
    )


def state_event(sequence: int, previous: int, state: int, message: str = "") -> progress_pb2.TrainingProgress:
    return progress_pb2.TrainingProgress(
        job_id="job-1",
        sequence=sequence,
        time=timestamp(T0 + sequence),
        state_change=progress_pb2.StateChange(previous_state=previous, state=state, message=message),
    )


def rich_status(
    code: int,
    message: str,
    *,
    reason: str = "",
    metadata: dict | None = None,
    violations: tuple[tuple[str, str, str], ...] = (),
    preconditions: tuple[tuple[str, str, str], ...] = (),
) -> status_pb2.Status:
    """A google.rpc.Status with ErrorInfo (when `reason`), BadRequest (`violations`: field, description, rule)
    and PreconditionFailure (`preconditions`: type, subject, description)."""
    details = []
    if reason:
        info = any_pb2.Any()
        info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="droidft", metadata=metadata or {}))
        details.append(info)
    if violations:
        bad_request = any_pb2.Any()
        bad_request.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=d, reason=r)
                    for f, d, r in violations
                ]
            )
        )
        details.append(bad_request)
    if preconditions:
        failure = any_pb2.Any()
        failure.Pack(
            error_details_pb2.PreconditionFailure(
                violations=[
                    error_details_pb2.PreconditionFailure.Violation(type=t, subject=s, description=d)
                    for t, s, d in preconditions
                ]
            )
        )
        details.append(failure)
    return status_pb2.Status(code=code, message=message, details=details)


@dataclass
class Connection:
    """One scripted StreamTrainingProgress call: these events, then `ending`.

    ending: "end" closes the stream normally, "unavailable" aborts with UNAVAILABLE,
    "hold" keeps it open until the client goes away. `stream_closed` is set when a call ends.
    """

    events: list[progress_pb2.TrainingProgress]
    ending: str = "end"


@dataclass
class FakeTrainingService(service_pb2_grpc.TrainingServiceServicer):
    jobs: list[job_pb2.TrainingJob] = field(default_factory=list)
    failures: dict[str, status_pb2.Status] = field(default_factory=dict)
    connections: list[Connection] = field(default_factory=list)
    requests: list[tuple[str, object]] = field(default_factory=list)
    call_metadata: list[dict[str, str]] = field(default_factory=list)
    validation: data_pb2.ValidateDatasetResponse = field(default_factory=data_pb2.ValidateDatasetResponse)
    checkpoints: list[job_pb2.Checkpoint] = field(default_factory=list)
    estimate: resources_pb2.ResourceEstimate = field(
        default_factory=lambda: resources_pb2.ResourceEstimate(
            peak_memory_bytes=123_456_789, available_memory_bytes=8 << 30, fits=True, device="cpu"
        )
    )
    artifact: bytes = b""  # what DownloadArtifact sends
    # By upload id: how it started and the bytes received.
    uploads: dict[str, tuple[files_pb2.UploadStart, bytes]] = field(default_factory=dict)
    transfer_drops: int = 0  # uploads and downloads that lose their connection half-way, before one goes through
    stream_closed: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _enter(self, name: str, request, context) -> None:
        with self._lock:
            self.requests.append((name, request))
            self.call_metadata.append(dict(context.invocation_metadata()))
        if name in self.failures:
            context.abort_with_status(rpc_status.to_status(self.failures[name]))

    def requests_of(self, name: str) -> list:
        return [request for rpc, request in self.requests if rpc == name]

    def _job(self, job_id: str, context) -> job_pb2.TrainingJob:
        for job in self.jobs:
            if job.job_id == job_id:
                return job
        context.abort_with_status(
            rpc_status.to_status(
                rich_status(code_pb2.NOT_FOUND, f"no job {job_id}", reason="JOB_NOT_FOUND", metadata={"job_id": job_id})
            )
        )

    def ListTrainingMethods(self, request, context):
        self._enter("ListTrainingMethods", request, context)
        return service_pb2.ListTrainingMethodsResponse(
            methods=[
                methods_pb2.MethodInfo(
                    method=methods_pb2.TRAINING_METHOD_SFT,
                    config_field="sft",
                    title="Supervised fine-tuning",
                    data_formats=["chat_messages", "prompt_completion"],
                    available=True,
                    parameters=[
                        methods_pb2.ParameterInfo(
                            path="batch_size",
                            type=methods_pb2.PARAMETER_TYPE_INTEGER,
                            minimum=1,
                            maximum=8,
                            default_value="4",
                            description="Records per optimizer step.",
                        )
                    ],
                ),
                methods_pb2.MethodInfo(
                    method=methods_pb2.TRAINING_METHOD_GSPO,
                    config_field="gspo",
                    title="GSPO",
                    data_formats=["grpo"],
                    available=False,
                    parameters=[
                        methods_pb2.ParameterInfo(
                            path="gspo.epsilon",
                            type=methods_pb2.PARAMETER_TYPE_NUMBER,
                            minimum=0,
                            maximum=1,
                            minimum_exclusive=True,
                            default_value="0.0003",
                            description="Lower clip range.",
                        )
                    ],
                ),
            ]
        )

    def ValidateDataset(self, request, context):
        self._enter("ValidateDataset", request, context)
        return self.validation

    def StreamDatasetValidation(self, request, context):
        self._enter("StreamDatasetValidation", request, context)
        yield data_pb2.StreamDatasetValidationResponse(bytes_read=10, total_bytes=20, records_read=1, file="a.jsonl")
        yield data_pb2.StreamDatasetValidationResponse(
            bytes_read=20, total_bytes=20, records_read=2, file="a.jsonl", result=self.validation
        )

    def GenerateSampleData(self, request, context):
        self._enter("GenerateSampleData", request, context)
        count = request.count if request.HasField("count") else 100
        if request.output_path:
            return data_pb2.GenerateSampleDataResponse(
                format=request.format, record_count=count, path=request.output_path
            )
        content = "".join(f'{{"text": "sample {i} seed {request.seed}"}}\n' for i in range(count)).encode()
        return data_pb2.GenerateSampleDataResponse(format=request.format, record_count=count, content=content)

    def EstimateResources(self, request, context):
        self._enter("EstimateResources", request, context)
        return service_pb2.EstimateResourcesResponse(estimate=self.estimate)

    def CreateTrainingJob(self, request, context):
        self._enter("CreateTrainingJob", request, context)
        job = make_job("" if request.validate_only else "job-new", job_pb2.JOB_STATE_QUEUED)
        job.spec.CopyFrom(request.spec)
        job.method = methods_pb2.TrainingMethod.Value("TRAINING_METHOD_" + request.spec.WhichOneof("method").upper())
        return job

    def GetTrainingJob(self, request, context):
        self._enter("GetTrainingJob", request, context)
        return self._job(request.job_id, context)

    def ListTrainingJobs(self, request, context):
        self._enter("ListTrainingJobs", request, context)
        matching = [job for job in self.jobs if not request.states or job.state in request.states]
        start = int(request.page_token or 0)
        end = start + (request.page_size or 50)
        return service_pb2.ListTrainingJobsResponse(
            jobs=matching[start:end], next_page_token=str(end) if end < len(matching) else ""
        )

    def CancelTrainingJob(self, request, context):
        self._enter("CancelTrainingJob", request, context)
        job = job_pb2.TrainingJob()
        job.CopyFrom(self._job(request.job_id, context))
        job.state = job_pb2.JOB_STATE_CANCELLED
        return job

    def PauseTrainingJob(self, request, context):
        self._enter("PauseTrainingJob", request, context)
        job = job_pb2.TrainingJob()
        job.CopyFrom(self._job(request.job_id, context))
        job.state = job_pb2.JOB_STATE_PAUSING
        return job

    def ResumeTrainingJob(self, request, context):
        self._enter("ResumeTrainingJob", request, context)
        job = job_pb2.TrainingJob()
        job.CopyFrom(self._job(request.job_id, context))
        job.state = job_pb2.JOB_STATE_QUEUED
        job.resume_iteration = request.from_iteration or 4
        return job

    def DeleteTrainingJob(self, request, context):
        self._enter("DeleteTrainingJob", request, context)
        self._job(request.job_id, context)
        return service_pb2.DeleteTrainingJobResponse(job_id=request.job_id, bytes_freed=1234)

    def ListCheckpoints(self, request, context):
        self._enter("ListCheckpoints", request, context)
        self._job(request.job_id, context)
        return service_pb2.ListCheckpointsResponse(checkpoints=self.checkpoints)

    def Generate(self, request, context):
        self._enter("Generate", request, context)
        yield sampling_pb2.GenerateResponse(side=sampling_pb2.GENERATION_SIDE_ADAPTED, text="Hi", token_ids=[5])
        yield sampling_pb2.GenerateResponse(
            side=sampling_pb2.GENERATION_SIDE_ADAPTED,
            text="!",
            token_ids=[6],
            finish_reason=sampling_pb2.FINISH_REASON_END,
        )

    def EvaluateModel(self, request, context):
        self._enter("EvaluateModel", request, context)
        yield evaluation_pb2.EvaluateModelResponse(records_done=0, records_total=2)
        yield evaluation_pb2.EvaluateModelResponse(
            records_done=2,
            records_total=2,
            evaluation=evaluation_pb2.Evaluation(evaluation_id="e-1", records=2, loss=1.5),
        )

    def ListEvaluations(self, request, context):
        self._enter("ListEvaluations", request, context)
        self._job(request.job_id, context)
        return evaluation_pb2.ListEvaluationsResponse(evaluations=[evaluation_pb2.Evaluation(evaluation_id="e-1")])

    def StreamTrainingProgress(self, request, context):
        self._enter("StreamTrainingProgress", request, context)
        call_ended = threading.Event()
        context.add_callback(call_ended.set)
        context.add_callback(self.stream_closed.set)
        with self._lock:
            connection = self.connections.pop(0)
        for event in connection.events:
            self._advance(request.job_id, event)
            yield event
        if connection.ending == "hold":
            call_ended.wait(timeout=30)
        if connection.ending == "unavailable":
            context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset by the server")

    def UploadFile(self, request_iterator, context):
        messages = list(request_iterator)
        for message in messages:
            self._enter("UploadFile", message, context)
        start = messages[0].start
        held = self.uploads[start.upload_id][1] if start.upload_id in self.uploads else b""
        received = held[: start.offset] + b"".join(m.chunk for m in messages[1:])
        if self.transfer_drops:  # the connection drops half-way: the server keeps what arrived before
            self.transfer_drops -= 1
            self.uploads[start.upload_id] = (start, received[: len(received) // 2])
            context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset")
        self.uploads[start.upload_id] = (start, received)
        return files_pb2.UploadedFile(
            file_id="f-1", name=start.name, size_bytes=len(received), sha256=hashlib.sha256(received).hexdigest()
        )

    def GetUploadStatus(self, request, context):
        self._enter("GetUploadStatus", request, context)
        if request.upload_id not in self.uploads:
            context.abort_with_status(
                rpc_status.to_status(rich_status(code_pb2.NOT_FOUND, "no such upload", reason="UPLOAD_NOT_FOUND"))
            )
        start, received = self.uploads[request.upload_id]
        return files_pb2.UploadStatus(
            upload_id=request.upload_id,
            name=start.name,
            size_bytes=start.size_bytes,
            sha256=start.sha256,
            received_bytes=len(received),
        )

    def ListFiles(self, request, context):
        self._enter("ListFiles", request, context)
        return files_pb2.ListFilesResponse()

    def DeleteFile(self, request, context):
        self._enter("DeleteFile", request, context)
        return files_pb2.DeleteFileResponse(file_id=request.file_id)

    def DownloadArtifact(self, request, context):
        self._enter("DownloadArtifact", request, context)
        data = self.artifact
        info = files_pb2.ArtifactInfo(
            path=request.path, size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), offset=request.offset
        )
        rest = data[request.offset :]
        if self.transfer_drops:  # the connection drops after half of what was asked for
            self.transfer_drops -= 1
            yield files_pb2.DownloadArtifactResponse(info=info, data=rest[: len(rest) // 2])
            context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset")
        yield files_pb2.DownloadArtifactResponse(info=info, data=rest)

    def ExportModel(self, request, context):
        self._enter("ExportModel", request, context)
        yield export_pb2.ExportModelResponse(result=export_pb2.ExportedModel(export_id="final"))

    def _advance(self, job_id: str, event: progress_pb2.TrainingProgress) -> None:
        """Update the job as the server has it once `event` happened, before the client sees the event."""
        with self._lock:
            for job in self.jobs:
                if job.job_id == job_id:
                    job.last_sequence = max(job.last_sequence, event.sequence)
                    if event.HasField("state_change"):
                        job.state = event.state_change.state


class RunningFake:
    """The fake served on 127.0.0.1 on a free port."""

    def __init__(self) -> None:
        self.service = FakeTrainingService()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        service_pb2_grpc.add_TrainingServiceServicer_to_server(self.service, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{port}"
        self.server.start()

    def stop(self) -> None:
        self.server.stop(grace=None)


# Reconnect at once in tests: the fake server is ready immediately.
NO_WAIT = RetryPolicy(max_attempts=3, initial_backoff=0.0)
