"""The composition root: builds the store, job manager, runner and gRPC server from a config."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import structlog

from .domain import datasets, preflight
from .domain.jobs import JobManager
from .domain.methods import MethodExtras, catalogue
from .domain.runs import Runner
from .execution.trainers import TRAINERS
from .persistence.sqlite_store import SqliteJobStore
from .transport.server import BoundServer, start_server
from .transport.servicer import TrainingServicer

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


def _default_runner() -> Runner:
    from .execution.runner import ProcessRunner

    return ProcessRunner()


class DroidftServer:
    def __init__(self, config: ServerConfig, runner: Runner | None = None):
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self._store = SqliteJobStore(config.state_dir / "droidft.sqlite3")
        self.jobs = JobManager(
            self._store,
            runner or _default_runner(),
            config.state_dir / "jobs",
            available_methods=AVAILABLE_METHODS,
            max_concurrent_jobs=config.max_concurrent_jobs,
            preflight=preflight.run_checks([preflight.model_exists, preflight.data_exists, preflight.data_valid]),
        )
        self.jobs.recover()
        methods = catalogue(AVAILABLE_METHODS, MethodExtras(data_formats=datasets.formats_for_method))
        self._server: BoundServer = start_server(
            TrainingServicer(self.jobs, lambda: methods), config.listen, max_workers=config.rpc_threads
        )
        self.port = self._server.port
        log.info("serving", port=self.port, state_dir=str(config.state_dir))

    def wait(self) -> None:
        self._server.server.wait_for_termination()

    def stop(self, grace: float = 5.0) -> None:
        log.info("stopping")
        self.jobs.shutdown()
        self._server.stop(grace)
        self._store.close()
