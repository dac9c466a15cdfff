"""The composition root: builds the store, job manager, runner and gRPC server from a config."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import structlog

from .domain import preflight
from .domain.estimation import DeviceProfile
from .domain.file_roots import FileRoots
from .domain.files import DEFAULT_MAX_UPLOAD_BYTES, FileStore
from .domain.jobs import DEFAULT_MAX_QUEUED_JOBS, JobManager
from .domain.methods import catalogue
from .domain.model_check import BuildCheck
from .domain.online_models import online_models_ready
from .domain.rewards import load_reward_plugins
from .domain.runs import Runner
from .domain.sampling import SamplingService, final_evaluation_has_data
from .domain.training_options import options_take_effect
from .persistence.sqlite_store import SqliteJobStore
from .supervisor.export import run_export
from .transport.auth import TokenFile
from .transport.interceptor import StreamCount
from .transport.resources import estimate_resources
from .transport.security import SecurityConfigError, https_context, is_loopback, server_credentials
from .transport.server import DEFAULT_MAX_STREAMS, BoundServer, start_server
from .transport.servicer import TrainingServicer
from .worker.blas import worker_threads
from .worker.trainers import TRAINERS

log = structlog.get_logger("droidft.server")

STORAGE_RETRY_SECONDS = 1.0  # how often a store that cannot write is tried again
# Methods whose trainers the worker has; the others are listed but answer UNIMPLEMENTED.
AVAILABLE_METHODS = tuple(TRAINERS)


@dataclass
class ServerConfig:
    state_dir: Path
    listen: str = "127.0.0.1:50051"
    max_concurrent_jobs: int = 1
    max_queued_jobs: int = DEFAULT_MAX_QUEUED_JOBS  # jobs waiting QUEUED at most; past it creates are refused
    rpc_threads: int = 64  # threads running blocking work for calls (streams cost none)
    max_streams: int = DEFAULT_MAX_STREAMS  # open streams at most; past it a new one is RESOURCE_EXHAUSTED
    reward_plugins: list[str] = field(default_factory=list)
    refuse_when_memory_short: bool = True  # False: accept the job and warn in its events
    resume_on_restart: bool = True  # False: jobs running when the server stopped end FAILED (SERVER_RESTARTED)
    calibration_dir: Path | None = None  # where the device calibration is cached; default: state_dir
    device_profile: Callable[[], DeviceProfile] | None = None  # a fixed profile instead of calibrating
    # Where requests may read data and write generated data, and read models; none: the working directory.
    data_roots: list[Path] = field(default_factory=list)
    model_roots: list[Path] = field(default_factory=list)
    auth_token_file: Path | None = None  # bearer tokens every call but health needs; None: no tokens
    allow_unauthenticated: bool = False  # serve beyond loopback without tokens, on purpose
    tls_cert: Path | None = None  # the server's certificate chain (PEM); with tls_key, the port speaks TLS
    tls_key: Path | None = None
    metrics_listen: str | None = None  # HOST:PORT of the Prometheus /metrics endpoint; None: no metrics
    tls_client_ca: Path | None = None  # CA of client certificates: mutual TLS, a client without one is refused
    http_listen: str | None = None  # HOST:PORT of the web console and the service for browsers; None: none
    # The command that starts a rank of a distributed job on another machine, "{host}" standing for its address
    # (e.g. ["ssh", "-o", "BatchMode=yes", "{host}"]); empty: every rank runs on this machine.
    rank_launcher: list[str] = field(default_factory=list)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES  # an upload larger than this is refused (FILE_TOO_LARGE)
    # Builds the models creates name, as mlx-lm does (domain/model_check.py); None: a build-check worker of this
    # server's own (supervisor/build_checker.py). Tests share one between servers.
    build_check: BuildCheck | None = None


STOP_GRACE_SECONDS = 8.0


class _CalibratedDevice:
    """The device profile, measured in the background from start-up so the first estimate does not wait long."""

    def __init__(self, cache_dir: Path, blas_threads: int):
        from .supervisor.calibration import load_or_calibrate

        self._load = lambda: load_or_calibrate(cache_dir, blas_threads=blas_threads)
        self._ready = threading.Thread(target=self._load, name="droidft-calibration", daemon=True)
        self._ready.start()

    def __call__(self) -> DeviceProfile:
        self._ready.join()
        return self._load()  # cached on disk by now; re-reads the memory available at this moment


def _process_runner(reward_plugins: list[str], blas_threads: int, rank_launcher: list[str]) -> Runner:
    from .supervisor.runner import ProcessRunner

    # A stopping server gives each worker this long to finish its iteration and checkpoint it; past it the worker is
    # killed and its job goes on from its last periodic checkpoint instead.
    return ProcessRunner(
        grace_period_s=STOP_GRACE_SECONDS,
        reward_plugins=tuple(reward_plugins),
        blas_threads=blas_threads,
        rank_launcher=tuple(rank_launcher),
    )


class DroidftServer:
    def __init__(self, config: ServerConfig, runner: Runner | None = None):
        # Refused before anything starts: serving beyond loopback without tokens must be asked for.
        exposed = [a for a in (config.listen, config.http_listen) if a is not None and not is_loopback(a)]
        if config.auth_token_file is None and not config.allow_unauthenticated and exposed:
            raise SecurityConfigError(
                f"refusing to serve {exposed[0]} without --auth-token-file: any machine that reaches it could "
                "train, read data and cancel jobs; give a token file, listen on 127.0.0.1, or pass "
                "--allow-unauthenticated"
            )
        tokens = TokenFile(config.auth_token_file) if config.auth_token_file is not None else None
        credentials = server_credentials(config.tls_cert, config.tls_key, config.tls_client_ca)
        self.tokens = tokens
        config.state_dir.mkdir(parents=True, exist_ok=True)
        added = load_reward_plugins(config.reward_plugins)
        if added:
            log.info("reward_plugins_loaded", modules=config.reward_plugins, rewards=added)
        # Each worker's BLAS gets its share of the cores; the calibration measures with the same share.
        blas_threads = worker_threads(config.max_concurrent_jobs)
        device = config.device_profile or _CalibratedDevice(config.calibration_dir or config.state_dir, blas_threads)
        from .supervisor.build_checker import BuildChecker

        self._build_checker = None if config.build_check else BuildChecker(config.state_dir / "build-check")
        builds = config.build_check or self._build_checker
        self._store = SqliteJobStore(config.state_dir / "droidft.sqlite3", job_dirs=config.state_dir / "jobs")
        self.jobs = JobManager(
            self._store,
            runner or _process_runner(config.reward_plugins, blas_threads, config.rank_launcher),
            config.state_dir / "jobs",
            available_methods=AVAILABLE_METHODS,
            max_concurrent_jobs=config.max_concurrent_jobs,
            max_queued_jobs=config.max_queued_jobs,
            resume_on_restart=config.resume_on_restart,
            preflight=preflight.run_checks(
                [
                    preflight.distributed_runs(can_launch_remote=bool(config.rank_launcher)),
                    preflight.model_loadable(builds),
                    online_models_ready(builds),
                    preflight.data_exists,
                    preflight.data_valid,
                    preflight.rewards_known,
                    preflight.chat_template_renders,
                    preflight.settings_take_effect,
                    options_take_effect,
                    preflight.resources_fit(device, refuse=config.refuse_when_memory_short),
                    final_evaluation_has_data,
                ]
            ),
        )
        self.jobs.recover()
        methods = catalogue(AVAILABLE_METHODS)
        uploads = FileStore(config.state_dir / "files", config.max_upload_bytes)
        roots = FileRoots.of(config.data_roots, config.model_roots, private=[config.state_dir], uploads=uploads)
        caller = (lambda context: tokens.caller(context.invocation_metadata()) or "") if tokens else (lambda _: "")
        from .supervisor.sampler import SamplerProcess

        self.sampler = SamplerProcess(config.state_dir / "sampler", blas_threads)
        sampling = SamplingService(self.jobs, self.sampler, device, self._store, roots.data_source, builds)
        self.jobs.before_success = sampling.evaluate_finished
        servicer = TrainingServicer(
            self.jobs,
            lambda: methods,
            lambda spec: estimate_resources(spec, device(), builds),
            roots,
            uploads,
            partial(run_export, blas_threads=blas_threads),
            caller,
            sampling=sampling,
        )
        metrics = None
        if config.metrics_listen:
            # Imported here: prometheus_client is about 15 ms of start-up, for a port most servers do not open.
            from .transport.metrics import Metrics

            metrics = Metrics()
        self._server: BoundServer = start_server(
            servicer,
            config.listen,
            max_workers=config.rpc_threads,
            tokens=tokens,
            credentials=credentials,
            max_streams=config.max_streams,
            metrics=metrics,
            http_listen=config.http_listen,
            http_ssl=https_context(config.tls_cert, config.tls_key, config.tls_client_ca),
        )
        self.http_port = self._server.http_port
        self._metrics_http = None
        self.metrics_port = None
        if metrics is not None:
            metrics.watch(self.jobs.overview, lambda: self._server.open_streams.value)
            metrics.watch_sampler(lambda: (self.sampler.loads, self.sampler.cancelled))
            self._metrics_http = metrics.serve(config.metrics_listen)
            self.metrics_port = self._metrics_http.server_port
        self.port = self._server.port
        self.jobs.on_storage = self._storage_changed
        self._stopping = threading.Event()
        self._storage_watch: threading.Thread | None = None
        log.info(
            "serving",
            port=self.port,
            http_port=self.http_port,
            state_dir=str(config.state_dir),
            data_roots=[str(p) for p in roots.data],
            model_roots=[str(p) for p in roots.models],
            tokens=tokens is not None,
            tls="mutual" if config.tls_client_ca else bool(credentials),
        )

    @property
    def open_streams(self) -> StreamCount:
        return self._server.open_streams

    def _storage_changed(self, writable: bool) -> None:
        """Health follows the store: NOT_SERVING while it cannot write, and a thread retries it meanwhile."""
        self._server.set_serving(writable)
        if not writable and (self._storage_watch is None or not self._storage_watch.is_alive()):
            self._storage_watch = threading.Thread(target=self._retry_storage, name="droidft-storage", daemon=True)
            self._storage_watch.start()

    def _retry_storage(self) -> None:
        # A timer, not a wait for another thread: the disk frees up whenever its owner frees it.
        while not self._stopping.wait(STORAGE_RETRY_SECONDS):
            if self.jobs.retry_storage():
                return

    def reload_tokens(self) -> None:
        """Read the token file again (SIGHUP): new tokens work and removed ones stop at once."""
        if self.tokens is not None:
            self.tokens.reload()

    def stop(self, grace: float = 5.0) -> None:
        log.info("stopping")
        self._stopping.set()
        self.jobs.shutdown()
        self._server.stop(grace)
        self.sampler.shutdown()
        if self._build_checker is not None:
            self._build_checker.shutdown()
        if self._metrics_http is not None:
            self._metrics_http.shutdown()
            self._metrics_http.server_close()
        self._store.close()
