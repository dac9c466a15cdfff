"""Prometheus metrics of the server, served by --metrics-listen HOST:PORT at /metrics.

Calls by method and status code with their latency, open streams, jobs by state, the queue's
length, the tokens/s and peak memory of each running job, and the sampler's model loads and cancels.
The registry is the server's own (not prometheus_client's global one), so several servers in one
process keep apart figures.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ..domain import states
from ..domain.jobs import JobsOverview

# From 1 ms to a minute: unary calls take milliseconds, a validation of a big file tens of seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class _LiveFigures:
    """Figures read when Prometheus scrapes, not kept up to date by hand."""

    def __init__(self, overview: Callable[[], JobsOverview], open_streams: Callable[[], int]):
        self._overview = overview
        self._open_streams = open_streams

    def collect(self):
        overview = self._overview()
        jobs = GaugeMetricFamily("droidft_jobs", "Jobs by state.", labels=["state"])
        for state in (states.QUEUED, states.RUNNING, states.SUCCEEDED, states.FAILED, states.CANCELLED):
            jobs.add_metric([states.name(state).lower()], overview.by_state.get(state, 0))
        yield jobs
        yield GaugeMetricFamily("droidft_queue_depth", "Jobs waiting for a device slot.", value=overview.queued)
        yield GaugeMetricFamily("droidft_open_streams", "Server-streaming calls open now.", value=self._open_streams())
        speed = GaugeMetricFamily(
            "droidft_job_tokens_per_second", "Training tokens per second of each running job.", labels=["job_id"]
        )
        memory = GaugeMetricFamily(
            "droidft_job_peak_memory_bytes", "Peak device memory of each running job.", labels=["job_id"]
        )
        for job in overview.running:
            speed.add_metric([job.job_id], job.metrics.tokens_per_second)
            memory.add_metric([job.job_id], job.metrics.peak_memory_bytes)
        yield speed
        yield memory


class _SamplerFigures:
    """The sampler worker's counts, read when Prometheus scrapes."""

    def __init__(self, counts: Callable[[], tuple[int, int]]):
        self._counts = counts  # (models loaded, calls cancelled)

    def collect(self):
        loads, cancelled = self._counts()
        yield CounterMetricFamily(
            "droidft_sampler_model_loads", "Models the sampler loaded (a cached one is not loaded again).", loads
        )
        yield CounterMetricFamily(
            "droidft_sampler_calls_cancelled", "Sampler calls stopped because their callers went away.", cancelled
        )


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self._calls = Counter(
            "droidft_rpcs", "RPCs answered, by method and status code.", ["method", "code"], registry=self.registry
        )
        self._latency = Histogram(
            "droidft_rpc_seconds", "RPC latency by method.", ["method"], buckets=LATENCY_BUCKETS, registry=self.registry
        )

    def observe_call(self, method: str, code: str, seconds: float) -> None:
        self._calls.labels(method, code).inc()
        self._latency.labels(method).observe(seconds)

    def watch(self, overview: Callable[[], JobsOverview], open_streams: Callable[[], int]) -> None:
        self.registry.register(_LiveFigures(overview, open_streams))

    def watch_sampler(self, counts: Callable[[], tuple[int, int]]) -> None:
        self.registry.register(_SamplerFigures(counts))

    def serve(self, listen: str):
        """Serve /metrics on HOST:PORT (port 0 picks a free one); returns the HTTP server (its server_port)."""
        host, _, port = listen.rpartition(":")
        server, _ = start_http_server(int(port), addr=host.strip("[]") or "0.0.0.0", registry=self.registry)
        return server
