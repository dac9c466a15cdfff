"""The estimator's result as the contract's ResourceEstimate."""

from __future__ import annotations

from droidft.v1 import resources_pb2, service_pb2

from ..domain.estimation import DeviceProfile, Estimate, MemoryBreakdown
from ..domain.job_estimate import estimate_unchecked_job
from ..domain.model_check import BuildCheck
from ..domain.spec import resolve


def breakdown_to_proto(breakdown: MemoryBreakdown) -> resources_pb2.MemoryBreakdown:
    return resources_pb2.MemoryBreakdown(
        weights_bytes=breakdown.weights,
        trainable_parameters_bytes=breakdown.trainable_parameters,
        optimizer_state_bytes=breakdown.optimizer_state,
        gradients_bytes=breakdown.gradients,
        activations_bytes=breakdown.activations,
        logits_bytes=breakdown.logits,
        kv_cache_bytes=breakdown.kv_cache,
        reference_model_bytes=breakdown.reference_model,
        overhead_bytes=breakdown.overhead,
    )


def estimate_to_proto(estimate: Estimate) -> resources_pb2.ResourceEstimate:
    return resources_pb2.ResourceEstimate(
        peak_memory_bytes=estimate.peak_memory_bytes,
        breakdown=breakdown_to_proto(estimate.breakdown),
        seconds_per_iteration=estimate.seconds_per_iteration,
        total_seconds=estimate.total_seconds,
        trainable_parameters=estimate.trainable_parameters,
        total_parameters=estimate.total_parameters,
        fits=estimate.fits,
        available_memory_bytes=estimate.available_memory_bytes,
        device=estimate.device,
        advice=[
            resources_pb2.ResourceAdvice(
                change=a.change,
                description=a.description,
                peak_memory_bytes=a.peak_memory_bytes,
                seconds_per_iteration=a.seconds_per_iteration,
                fits=a.fits,
            )
            for a in estimate.advice
        ],
        ranks=estimate.ranks,
        per_rank_peak_memory_bytes=estimate.per_rank_peak_memory_bytes,
        expected_speedup=estimate.expected_speedup,
    )


def estimate_resources(spec, device: DeviceProfile, builds: BuildCheck) -> service_pb2.EstimateResourcesResponse:
    """The whole EstimateResources call, for a request protovalidate has already accepted."""
    estimate = estimate_unchecked_job(resolve(spec), device, builds)
    return service_pb2.EstimateResourcesResponse(estimate=estimate_to_proto(estimate))
