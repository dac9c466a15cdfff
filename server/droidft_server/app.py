"""The composition root: builds the store, job manager, runner and gRPC server from a config."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from .domain import preflight
from .domain.estimation import DeviceProfile
from .domain.file_roots import FileRoots
from .domain.job_estimate import resources_fit
from .domain.jobs import JobManager
from .domain.methods import catalogue
from .domain.rewards import load_reward_plugins
from .domain.runs import Runner
from .persistence.sqlite_store import SqliteJobStore
from .transport.resources import estimate_resources
from .transport.server import BoundServer, start_server
from .transport.servicer import TrainingServicer
from .worker.blas import worker_threads
from .worker.trainers import TRAINERS

log = structlog.get_logger("droidft.server")

# Methods whose trainers the worker has; the others are listed but answer UNIMPLEMENTED.
AVAILABLE_METHODS = tuple(TRAINERS)


@dataclass
class ServerConfig:
    state_dir: Path
    listen: str = "127.0.0.1:50051"
    max_concurrent_jobs: int = 1
    rpc_threads: int = 64
    reward_plugins: list[str] = field(default_factory=list)
    refuse_when_memory_short: bool = True  # False: accept the job and warn in its events
    calibration_dir: Path | None = None  # where the device calibration is cached; default: state_dir
    device_profile: Callable[[], DeviceProfile] | None = None  # a fixed profile instead of calibrating
    # Where requests may read data and write generated data, and read models; none: the working directory.
    data_roots: list[Path] = field(default_factory=list)
    model_roots: list[Path] = field(default_factory=list)


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


def _process_runner(reward_plugins: list[str], blas_threads: int) -> Runner:
    from .supervisor.runner import ProcessRunner

    return ProcessRunner(reward_plugins=tuple(reward_plugins), blas_threads=blas_threads)


class DroidftServer:
    def __init__(self, config: ServerConfig, runner: Runner | None = None):
        config.state_dir.mkdir(parents=True, exist_ok=True)
        added = load_reward_plugins(config.reward_plugins)
        if added:
            log.info("reward_plugins_loaded", modules=config.reward_plugins, rewards=added)
        # Each worker's BLAS gets its share of the cores; the calibration measures with the same share.
        blas_threads = worker_threads(config.max_concurrent_jobs)
        device = config.device_profile or _CalibratedDevice(config.calibration_dir or config.state_dir, blas_threads)
        self._store = SqliteJobStore(config.state_dir / "droidft.sqlite3")
        self.jobs = JobManager(
            self._store,
            runner or _process_runner(config.reward_plugins, blas_threads),
            config.state_dir / "jobs",
            available_methods=AVAILABLE_METHODS,
            max_concurrent_jobs=config.max_concurrent_jobs,
            preflight=preflight.run_checks(
                [
                    preflight.model_loadable,
                    preflight.data_exists,
                    preflight.data_valid,
                    preflight.rewards_known,
                    resources_fit(device, refuse=config.refuse_when_memory_short),
                ]
            ),
        )
        self.jobs.recover()
        methods = catalogue(AVAILABLE_METHODS)
        roots = FileRoots.of(config.data_roots, config.model_roots, private=[config.state_dir])
        servicer = TrainingServicer(self.jobs, lambda: methods, lambda spec: estimate_resources(spec, device()), roots)
        self._server: BoundServer = start_server(servicer, config.listen, max_workers=config.rpc_threads)
        self.port = self._server.port
        log.info(
            "serving",
            port=self.port,
            state_dir=str(config.state_dir),
            data_roots=[str(p) for p in roots.data],
            model_roots=[str(p) for p in roots.models],
        )

    def wait(self) -> None:
        self._server.server.wait_for_termination()

    def stop(self, grace: float = 5.0) -> None:
        log.info("stopping")
        self.jobs.shutdown()
        self._server.stop(grace)
        self._store.close()
