"""The TrainingService servicer: converts requests to domain calls and back; nothing else."""

from __future__ import annotations

from typing import Callable

from droidft.v1 import service_pb2, service_pb2_grpc

from ..domain.jobs import JobManager
from . import datasets


class TrainingServicer(service_pb2_grpc.TrainingServiceServicer):
    def __init__(self, jobs: JobManager, methods: Callable[[], list], estimate: Callable):
        self._jobs = jobs
        self._methods = methods
        self._estimate = estimate

    def ListTrainingMethods(self, request, context):
        return service_pb2.ListTrainingMethodsResponse(methods=self._methods())

    def ValidateDataset(self, request, context):
        return datasets.validate_dataset(request)

    def StreamDatasetValidation(self, request, context):
        yield from datasets.stream_dataset_validation(request, context.is_active)

    def GenerateSampleData(self, request, context):
        return datasets.generate_sample_data(request)

    def EstimateResources(self, request, context):
        return self._estimate(request.spec)

    def CreateTrainingJob(self, request, context):
        return self._jobs.create(request.spec, request_id=request.request_id, validate_only=request.validate_only)

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
