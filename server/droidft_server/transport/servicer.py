"""The TrainingService servicer: converts requests to domain calls and back; nothing else.

Every path a request names goes through FileRoots first, so the domain only ever sees resolved
paths the caller may touch.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator

import grpc

from droidft.v1 import data_pb2, evaluation_pb2, files_pb2, sampling_pb2, service_pb2, service_pb2_grpc

from ..domain.export import RunExport
from ..domain.file_roots import FileRoots
from ..domain.files import FileStore
from ..domain.jobs import JobManager
from ..domain.sampling import SamplingService
from . import datasets, files


class TrainingServicer(service_pb2_grpc.TrainingServiceServicer):
    def __init__(
        self,
        jobs: JobManager,
        methods: Callable[[], list],
        estimate: Callable,
        roots: FileRoots,
        uploads: FileStore,
        run_export: RunExport,
        caller: Callable[[grpc.ServicerContext], str] = lambda context: "",
        *,
        sampling: SamplingService,
    ):
        self._jobs = jobs
        self._uploads = uploads
        self._run_export = run_export
        self._methods = methods
        self._estimate = estimate
        self._roots = roots
        self._caller = caller  # the name of the calling token, "" without tokens
        self._sampling = sampling

    def _confined_check(self, request: data_pb2.ValidateDatasetRequest) -> data_pb2.ValidateDatasetRequest:
        confined = data_pb2.ValidateDatasetRequest()
        confined.CopyFrom(request)
        if request.WhichOneof("source") == "path":
            confined.path = str(self._roots.data_source("path", request.path))
        if request.model_path:
            confined.model_path = str(self._roots.model_dir("model_path", request.model_path))
        return confined

    async def ListTrainingMethods(self, request, context):
        return service_pb2.ListTrainingMethodsResponse(methods=self._methods())

    async def ValidateDataset(self, request, context):
        gone = _caller_gone(context)

        def validate():
            return datasets.validate_dataset(self._confined_check(request), on_progress=gone.check)

        return await asyncio.to_thread(validate)

    async def StreamDatasetValidation(self, request, context):
        def checks(is_active):
            confined = data_pb2.StreamDatasetValidationRequest()
            confined.CopyFrom(request)
            confined.check.CopyFrom(self._confined_check(request.check))
            return datasets.stream_dataset_validation(confined, is_active)

        async for message in in_thread(checks):
            yield message

    async def GenerateSampleData(self, request, context):
        def generate():
            if not request.output_path:
                return datasets.generate_sample_data(request)
            confined = data_pb2.GenerateSampleDataRequest()
            confined.CopyFrom(request)
            confined.output_path = str(
                self._roots.data_output("output_path", request.output_path, overwrite=request.overwrite)
            )
            return datasets.generate_sample_data(confined)

        return await asyncio.to_thread(generate)

    async def EstimateResources(self, request, context):
        return await asyncio.to_thread(lambda: self._estimate(self._roots.confine_spec(request.spec)))

    async def CreateTrainingJob(self, request, context):
        creator = self._caller(context)
        gone = _caller_gone(context)  # a big data set's check stops when its caller goes away

        def create():
            spec = self._roots.confine_spec(request.spec)
            return self._jobs.create(
                spec,
                request_id=request.request_id,
                validate_only=request.validate_only,
                creator=creator,
                on_progress=gone.check,
            )

        return await asyncio.to_thread(create)

    async def GetTrainingJob(self, request, context):
        # Answered on the loop when it can be: for a job in memory the hop to a thread cost more than the read.
        job = self._jobs.get_at_once(request.job_id)
        return job if job is not None else await asyncio.to_thread(self._jobs.get, request.job_id)

    async def ListTrainingJobs(self, request, context):
        jobs, token = await asyncio.to_thread(
            self._jobs.list, states_filter=request.states, page_size=request.page_size, page_token=request.page_token
        )
        return service_pb2.ListTrainingJobsResponse(jobs=jobs, next_page_token=token)

    async def CancelTrainingJob(self, request, context):
        return await asyncio.to_thread(self._jobs.cancel, request.job_id)

    async def PauseTrainingJob(self, request, context):
        return await asyncio.to_thread(self._jobs.pause, request.job_id)

    async def ResumeTrainingJob(self, request, context):
        from_iteration = request.from_iteration if request.HasField("from_iteration") else None
        return await asyncio.to_thread(self._jobs.resume, request.job_id, from_iteration)

    async def ListCheckpoints(self, request, context):
        checkpoints = await asyncio.to_thread(self._jobs.checkpoints, request.job_id)
        return service_pb2.ListCheckpointsResponse(checkpoints=checkpoints)

    async def DeleteTrainingJob(self, request, context):
        freed = await asyncio.to_thread(self._jobs.delete, request.job_id)
        return service_pb2.DeleteTrainingJobResponse(job_id=request.job_id, bytes_freed=freed)

    async def StreamTrainingProgress(self, request, context):
        async for event in self._jobs.follow(request.job_id, request.after_sequence):
            yield event

    # Files, downloads and export.

    async def UploadFile(self, request_iterator, context):
        return await files.upload(self._uploads, request_iterator)

    async def GetUploadStatus(self, request, context):
        return await asyncio.to_thread(self._uploads.status, request.upload_id)

    async def ListFiles(self, request, context):
        return files_pb2.ListFilesResponse(files=await asyncio.to_thread(self._uploads.list))

    async def DeleteFile(self, request, context):
        freed = await asyncio.to_thread(self._uploads.delete, request.file_id)
        return files_pb2.DeleteFileResponse(file_id=request.file_id, bytes_freed=freed)

    async def DownloadArtifact(self, request, context):
        async for message in in_thread(lambda is_active: files.download(self._jobs, request, is_active)):
            yield message

    async def ExportModel(self, request, context):
        def exporting(is_active):
            return files.export(self._jobs, request, self._run_export, is_active)

        async for message in in_thread(exporting):
            yield message

    # -- sampling and evaluation ---------------------------------------------------------------

    def _confined_model(self, selection: sampling_pb2.ModelSelection) -> sampling_pb2.ModelSelection:
        confined = sampling_pb2.ModelSelection()
        confined.CopyFrom(selection)
        if selection.model_path:
            confined.model_path = str(self._roots.model_dir("model.model_path", selection.model_path))
        return confined

    async def Generate(self, request, context):
        def generate(is_active):
            confined = sampling_pb2.GenerateRequest()
            confined.CopyFrom(request)
            confined.model.CopyFrom(self._confined_model(request.model))
            return self._sampling.generate(confined, is_active)

        async for message in in_thread(generate):
            yield message

    async def EvaluateModel(self, request, context):
        def evaluate(is_active):
            confined = evaluation_pb2.EvaluateModelRequest()
            confined.CopyFrom(request)
            confined.model.CopyFrom(self._confined_model(request.model))
            if request.data_path:
                confined.data_path = str(self._roots.data_source("data_path", request.data_path))
            return self._sampling.evaluate(confined, is_active)

        async for message in in_thread(evaluate):
            yield message

    async def ListEvaluations(self, request, context):
        evaluations = await asyncio.to_thread(self._sampling.list_evaluations, request.job_id)
        return evaluation_pb2.ListEvaluationsResponse(evaluations=evaluations)


class CallerGone(Exception):
    """The caller cancelled or went away: the work done for it stops."""


class _Gone:
    def __init__(self):
        self._gone = threading.Event()

    def set(self, *_: object) -> None:
        self._gone.set()

    def check(self, *_: object) -> None:
        """A progress callback of the work: raises CallerGone once the call has ended."""
        if self._gone.is_set():
            raise CallerGone()


def _caller_gone(context) -> _Gone:
    gone = _Gone()
    context.add_done_callback(gone.set)  # on the loop, when the call ends for any reason
    return gone


_END = object()


async def in_thread(iterate: Callable[[Callable[[], bool]], Iterator]) -> AsyncIterator:
    """The items of a blocking iterator, made in a worker thread; `iterate` gets an is_active() that
    turns false once the caller stops listening, so the work stops with it."""
    loop = asyncio.get_running_loop()
    items: asyncio.Queue = asyncio.Queue()
    active = threading.Event()
    active.set()

    def produce() -> None:
        try:
            for item in iterate(active.is_set):
                loop.call_soon_threadsafe(items.put_nowait, (item, None))
        except BaseException as error:  # handed to the coroutine, which raises it in the call
            loop.call_soon_threadsafe(items.put_nowait, (_END, error))
        else:
            loop.call_soon_threadsafe(items.put_nowait, (_END, None))

    worker = loop.run_in_executor(None, produce)
    try:
        while True:
            item, error = await items.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        active.clear()  # the worker stops at its next progress callback
        del worker
