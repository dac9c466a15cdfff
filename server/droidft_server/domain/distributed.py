"""Distributed jobs: which spec.distributed settings this server trains, and where the ranks listen.

The server starts every rank itself. A rank whose address is this machine's is a worker process here,
listening on a port free when the job starts; a rank whose address is another machine's is started there
by the server's rank launcher (e.g. ssh) and listens on spec.distributed.remote_port + its rank. Rank 0
always runs here: it reports and writes. This module decides what is refused and where each rank listens;
the supervisor starts the ranks.
"""

from __future__ import annotations

import contextlib
import json
import socket
from pathlib import Path

from .errors import DroidftError, ErrorKind, FieldViolation, Reason, invalid_argument
from .method_families import ONLINE_METHODS, PREFERENCE_METHODS
from .spec import DistributedSettings, JobSettings


def _unsupported(field: str, message: str) -> DroidftError:
    reason = Reason.DISTRIBUTED_UNSUPPORTED
    return DroidftError(ErrorKind.UNIMPLEMENTED, reason, f"{field}: {message}", {"field": field})


def _unavailable(index: int, host: str, why: str) -> DroidftError:
    field = f"spec.distributed.hosts[{index}]"
    return DroidftError(
        ErrorKind.FAILED_PRECONDITION,
        Reason.DISTRIBUTED_HOST_UNAVAILABLE,
        f"{field}: {host} {why}",
        {"field": field, "host": host},
    )


def _socket(host: str) -> socket.socket:
    return socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)


def is_local(host: str) -> bool:
    """Whether `host` is an address of this machine (this server can listen on it)."""
    with contextlib.closing(_socket(host)) as probe:
        try:
            probe.bind((host, 0))
        except OSError:
            return False
    return True


def check_distributed(
    settings: JobSettings, *, has_start_timeout: bool, has_remote_port: bool, hosts_given: int, can_launch_remote: bool
) -> None:
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
    if ranks > 1 and settings.method in (*PREFERENCE_METHODS, *ONLINE_METHODS):
        raise _unsupported(
            "spec.distributed.ranks",
            f"{settings.method} trains in one process only: leave spec.distributed unset, "
            "or train SFT or a GRPO-family method distributed",
        )
    if ranks > 1:
        _check_hosts(distributed, has_remote_port=has_remote_port, can_launch_remote=can_launch_remote)


def _check_hosts(distributed: DistributedSettings, *, has_remote_port: bool, can_launch_remote: bool) -> None:
    remote = []
    for index, host in enumerate(distributed.hosts):
        if host in distributed.hosts[:index] or is_local(host):
            continue
        if index == 0:
            raise _unavailable(
                0,
                host,
                "is not an address of this machine, and rank 0 runs on this server: give one of its addresses first",
            )
        if not can_launch_remote:
            raise _unavailable(
                index,
                host,
                "is not an address of this machine, and this server has no --rank-launcher to start a rank "
                "elsewhere: start the server with one (see the README), or give addresses of this machine",
            )
        remote.append(host)
    if has_remote_port and not remote:
        raise invalid_argument(
            [
                FieldViolation(
                    "spec.distributed.remote_port",
                    "applies only to ranks on other machines, and every address is this machine's: leave it unset",
                    "distributed.remote_port_needs_remote_hosts",
                )
            ]
        )


def ring_ports(distributed: DistributedSettings) -> list[int]:
    """The port of each rank: free now on this machine's addresses (the ring binds them a moment later),
    remote_port + rank on another machine's."""
    probes = {}
    try:
        for rank, host in enumerate(distributed.hosts):
            if is_local(host):
                probe = _socket(host)
                probe.bind((host, 0))  # held until every port is picked, so two ranks never get the same one
                probes[rank] = probe
        return [
            probes[rank].getsockname()[1] if rank in probes else distributed.remote_port + rank
            for rank in range(distributed.ranks)
        ]
    finally:
        for probe in probes.values():
            probe.close()


def write_ring_hostfile(path: Path, hosts: tuple[str, ...], ports: list[int]) -> None:
    """MLX's ring host file as mlx.launch hands it to each rank (MLX_HOSTFILE): one address list per rank."""
    path.write_text(json.dumps(ring_addresses(hosts, ports)), encoding="utf-8")


def ring_addresses(hosts: tuple[str, ...], ports: list[int]) -> list[list[str]]:
    return [[f"[{host}]:{port}" if ":" in host else f"{host}:{port}"] for host, port in zip(hosts, ports)]
