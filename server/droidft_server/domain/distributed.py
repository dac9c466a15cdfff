"""Distributed jobs: which spec.distributed settings this server trains, and where the ranks listen.

The server starts every rank itself, each a worker process on this machine listening on its
spec.distributed.hosts address (127.0.0.1 by default) and a port free when the job starts; rank 0
reports and writes. This module decides what is refused and picks the ports; the supervisor starts
the ranks.
"""

from __future__ import annotations

import contextlib
import json
import socket
from pathlib import Path

from .errors import DroidftError, ErrorKind, FieldViolation, Reason, invalid_argument
from .method_families import PREFERENCE_METHODS
from .spec import JobSettings


def _unsupported(field: str, message: str) -> DroidftError:
    reason = Reason.DISTRIBUTED_UNSUPPORTED
    return DroidftError(ErrorKind.UNIMPLEMENTED, reason, f"{field}: {message}", {"field": field})


def _can_listen_on(host: str) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with contextlib.closing(socket.socket(family, socket.SOCK_STREAM)) as probe:
        try:
            probe.bind((host, 0))
        except OSError:
            return False
    return True


def check_distributed(settings: JobSettings, has_start_timeout: bool, hosts_given: int) -> None:
    """Refuse what spec.distributed asks that this server would not do as asked (DroidftError)."""
    distributed = settings.distributed
    ranks = distributed.ranks
    violations = []
    if hosts_given and hosts_given != ranks:
        violations.append(
            FieldViolation(
                "spec.distributed.hosts",
                f"lists {hosts_given} address(es) but spec.distributed.ranks is {ranks}: give one address per rank, "
                "or none for every rank on 127.0.0.1",
                "distributed.hosts_one_per_rank",
            )
        )
    if ranks == 1 and has_start_timeout:
        violations.append(
            FieldViolation(
                "spec.distributed.start_timeout_seconds",
                "applies only to a job of several ranks: set spec.distributed.ranks above 1, or leave it unset",
                "distributed.start_timeout_needs_ranks",
            )
        )
    if settings.batch_size % ranks:
        violations.append(
            FieldViolation(
                "spec.batch_size",
                f"is {settings.batch_size} but must be a multiple of spec.distributed.ranks ({ranks}): each rank takes "
                f"batch_size / ranks of every batch; give batch_size {ranks * max(1, settings.batch_size // ranks)}",
                "distributed.batch_size_divisible_by_ranks",
            )
        )
    if violations:
        raise invalid_argument(violations)
    if distributed.backend != "ring":
        raise _unsupported(
            "spec.distributed.backend",
            f"this server trains distributed jobs over MLX's ring backend only, not {distributed.backend}: "
            "leave backend unset or give DISTRIBUTED_BACKEND_RING",
        )
    if ranks > 1 and settings.method in PREFERENCE_METHODS:
        raise _unsupported(
            "spec.distributed.ranks",
            f"{settings.method} trains in one process only: leave spec.distributed unset, "
            "or train SFT or a GRPO-family method distributed",
        )
    if ranks > 1:
        for index, host in enumerate(distributed.hosts):
            if host not in distributed.hosts[:index] and not _can_listen_on(host):
                field = f"spec.distributed.hosts[{index}]"
                raise DroidftError(
                    ErrorKind.FAILED_PRECONDITION,
                    Reason.DISTRIBUTED_HOST_UNAVAILABLE,
                    f"{field}: this server cannot listen on {host}: the server starts every rank itself, so each "
                    "address must be one of this machine's (run the server on the machine of rank 0 and give its "
                    "addresses, or leave hosts empty for 127.0.0.1)",
                    {"field": field, "host": host},
                )


def free_ports(hosts: tuple[str, ...]) -> list[int]:
    """A port free on each host now (the ring binds them a moment later; each is distinct per host)."""
    probes = []
    try:
        for host in hosts:
            probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            probes.append(probe)
            probe.bind((host, 0))  # held until every port is picked, so two ranks never get the same one
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def write_ring_hostfile(path: Path, hosts: tuple[str, ...], ports: list[int]) -> None:
    """MLX's ring host file as mlx.launch hands it to each rank (MLX_HOSTFILE): one address list per rank."""
    addresses = [[f"[{host}]:{port}" if ":" in host else f"{host}:{port}"] for host, port in zip(hosts, ports)]
    path.write_text(json.dumps(addresses), encoding="utf-8")
