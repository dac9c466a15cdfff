"""The TrainingService servicer: converts requests to domain calls and back; nothing else.

Every path a request names goes through FileRoots first, so the domain only ever sees resolved
paths the caller may touch.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc

from droidft.v1 import data_pb2, service_pb2, service_pb2_grpc

from ..domain.file_roots import FileRoots
from ..domain.jobs import JobManager
from . import datasets


class TrainingServicer(service_pb2_grpc.TrainingServiceServicer):
    def __init__(
        self,
        jobs: JobManager,
        methods: Callable[[], list],
        estimate: Callable,
        roots: FileRoots,
        caller: Callable[[grpc.ServicerContext], str] = lambda context: "",
    ):
        self._jobs = jobs
        self._methods = methods
        self._estimate = estimate
        self._roots = roots
        self._caller = caller  # the name of the calling token, "" without tokens

    def _confined_check(self, request: data_pb2.ValidateDatasetRequest) -> data_pb2.ValidateDatasetRequest:
        confined = data_pb2.ValidateDatasetRequest()
        confined.CopyFrom(request)
        if request.WhichOneof("source") == "path":
            confined.path = str(self._roots.data_source("path", request.path))
        if request.model_path:
            confined.model_path = str(self._roots.model_dir("model_path", request.model_path))
        return confined

    def ListTrainingMethods(self, request, context):
        return service_pb2.ListTrainingMethodsResponse(methods=self._methods())

    def ValidateDataset(self, request, context):
        return datasets.validate_dataset(self._confined_check(request))

    def StreamDatasetValidation(self, request, context):
        confined = data_pb2.StreamDatasetValidationRequest()
        confined.CopyFrom(request)
        confined.check.CopyFrom(self._confined_check(request.check))
        yield from datasets.stream_dataset_validation(confined, context.is_active)

    def GenerateSampleData(self, request, context):
        if not request.output_path:
            return datasets.generate_sample_data(request)
        confined = data_pb2.GenerateSampleDataRequest()
        confined.CopyFrom(request)
        confined.output_path = str(
            self._roots.data_output("output_path", request.output_path, overwrite=request.overwrite)
        )
        return datasets.generate_sample_data(confined)

    def EstimateResources(self, request, context):
        return self._estimate(self._roots.confine_spec(request.spec))

    def CreateTrainingJob(self, request, context):
        spec = self._roots.confine_spec(request.spec)
        return self._jobs.create(
            spec, request_id=request.request_id, validate_only=request.validate_only, creator=self._caller(context)
        )

    def GetTrainingJob(self, request, context):
        return self._jobs.get(request.job_id)

    def ListTrainingJobs(self, request, context):
        jobs, token = self._jobs.list(
            states_filter=request.states, page_size=request.page_size, page_token=request.page_token
        )
        return service_pb2.ListTrainingJobsResponse(jobs=jobs, next_page_token=token)

    def CancelTrainingJob(self, request, context):
        return self._jobs.cancel(request.job_id)

    def ListCheckpoints(self, request, context):
        return service_pb2.ListCheckpointsResponse(checkpoints=self._jobs.checkpoints(request.job_id))

    def StreamTrainingProgress(self, request, context):
        context.add_callback(self._jobs.wake_watchers)
        yield from self._jobs.watch(request.job_id, request.after_sequence, context.is_active)
