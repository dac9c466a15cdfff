"""The shape of a job across two machines, on this one: rank 1 runs in a network namespace of its own, reached
over a veth pair, and is started there by the server's rank launcher (`ip netns exec`, where a real cluster
uses ssh). The ranks talk over the veth addresses only (needs root and ip(8); skipped otherwise)."""

import multiprocessing
import os
import shutil
import signal
import subprocess

import numpy as np
import pytest
from execution_helpers import CHATS, RecordingListener, sft_spec, write_jsonl

from droidft.v1 import distributed_pb2, job_pb2
from droidft_server.domain.distributed import is_local
from droidft_server.domain.errors import Reason
from droidft_server.supervisor.runner import ProcessRunner

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None, reason="network namespaces need root and ip(8)"
)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture()
def second_host(tmp_path):
    """(this machine's veth address, the namespace's address, a launcher that starts a command in the namespace,
    the namespace)."""
    tag = os.getpid() % 10_000
    namespace, here, there = f"droidft-{tag}", f"dft{tag}a", f"dft{tag}b"
    subnet = f"10.{200 + tag % 50}.{tag % 250}"
    try:
        _ip("netns", "add", namespace)
        _ip("link", "add", here, "type", "veth", "peer", "name", there)
        _ip("link", "set", there, "netns", namespace)
        _ip("addr", "add", f"{subnet}.1/24", "dev", here)
        _ip("link", "set", here, "up")
        _ip("-n", namespace, "addr", "add", f"{subnet}.2/24", "dev", there)
        _ip("-n", namespace, "link", "set", there, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
    except (subprocess.CalledProcessError, OSError) as error:
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        subprocess.run(["ip", "link", "del", here], capture_output=True)
        pytest.skip(f"cannot make a network namespace here: {getattr(error, 'stderr', error)!r}")
    launcher = tmp_path / "launch-in-namespace"
    launcher.write_text(f'#!/bin/sh\nshift  # the host: there is one other\nexec ip netns exec {namespace} "$@"\n')
    launcher.chmod(0o755)
    yield f"{subnet}.1", f"{subnet}.2", launcher, namespace
    subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
    subprocess.run(["ip", "link", "del", here], capture_output=True)


def test_a_rank_on_another_host_trains_with_rank_zero_over_the_network(tiny_model, tmp_path, second_host):
    here, there, launcher, _ = second_host
    assert is_local(here) and not is_local(there)
    data = write_jsonl(tmp_path / "data" / "train.jsonl", CHATS)
    fields = dict(batch_size=2, iterations=2, report_every=1, seed=3)
    runner = ProcessRunner(grace_period_s=60, rank_launcher=(str(launcher), "{host}"))
    try:
        alone = RecordingListener()
        runner.start("alone", sft_spec(tiny_model, data.parent, **fields), tmp_path / "alone", alone)
        assert alone.outcome(timeout=240).state == job_pb2.JOB_STATE_SUCCEEDED
        spec = sft_spec(
            tiny_model,
            data.parent,
            distributed=distributed_pb2.DistributedConfig(
                ranks=2, hosts=[here, there], remote_port=41000 + os.getpid() % 20_000
            ),
            **fields,
        )
        two = RecordingListener()
        runner.start("two-hosts", spec, tmp_path / "two", two)
        outcome = two.outcome(timeout=240)
    finally:
        runner.shutdown()

    assert outcome.state == job_pb2.JOB_STATE_SUCCEEDED, outcome
    connected = {e.rank_status.rank: e.rank_status.host for e in two.events if e.rank_status.state == 2}
    assert connected == {0: here, 1: there}
    losses = [[e.train_report.loss for e in run.events if e.HasField("train_report")] for run in (alone, two)]
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)
    # The remote rank's log is where the job's directory is, when that machine can write it (here: the same disk).
    assert "train_report" in (tmp_path / "two" / "ranks" / "1" / "worker.log").read_text()


def test_a_launcher_that_cannot_reach_the_host_fails_the_job_with_its_error(tiny_model, tmp_path, second_host):
    here, there, _, _ = second_host
    unreachable = tmp_path / "unreachable"
    unreachable.write_text('#!/bin/sh\necho "ssh: connect to host $1 port 22: Connection refused" >&2\nexit 255\n')
    unreachable.chmod(0o755)
    data = write_jsonl(tmp_path / "data" / "train.jsonl", CHATS)
    distributed = distributed_pb2.DistributedConfig(ranks=2, hosts=[here, there])
    spec = sft_spec(tiny_model, data.parent, batch_size=2, distributed=distributed)
    runner = ProcessRunner(grace_period_s=60, rank_launcher=(str(unreachable), "{host}"))
    listener = RecordingListener()
    try:
        runner.start("unreachable", spec, tmp_path / "out", listener)
        outcome = listener.outcome(timeout=240)
    finally:
        runner.shutdown()

    assert outcome.state == job_pb2.JOB_STATE_FAILED
    assert outcome.error_reason == Reason.RANK_FAILED
    assert outcome.message.startswith(f"rank 1 of 2 ({there}) exited with code 255"), outcome.message
    assert "Connection refused" in outcome.message
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("droidft-worker-unreachable-")]


def test_a_remote_rank_killed_mid_run_fails_the_job_and_leaves_no_process_there(tiny_model, tmp_path, second_host):
    here, there, launcher, namespace = second_host
    data = write_jsonl(tmp_path / "data" / "train.jsonl", CHATS)
    distributed = distributed_pb2.DistributedConfig(
        ranks=2, hosts=[here, there], remote_port=41000 + os.getpid() % 20_000
    )
    fields = dict(batch_size=2, iterations=1_000_000, report_every=1)
    spec = sft_spec(tiny_model, data.parent, distributed=distributed, **fields)
    runner = ProcessRunner(grace_period_s=60, rank_launcher=(str(launcher), "{host}"))
    listener = RecordingListener()
    try:
        runner.start("remote-killed", spec, tmp_path / "out", listener)
        listener.wait_for("train_report")
        (remote,) = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True).stdout.split()
        os.kill(int(remote), signal.SIGKILL)
        outcome = listener.outcome(timeout=240)
    finally:
        runner.shutdown()

    assert outcome.state == job_pb2.JOB_STATE_FAILED and outcome.error_reason == Reason.RANK_FAILED
    assert outcome.message.startswith(f"rank 1 of 2 ({there}) was killed by SIGKILL"), outcome.message
    assert subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True).stdout == ""
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("droidft-worker-remote-killed-")]
