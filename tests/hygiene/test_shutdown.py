"""SIGTERM stops the server within its grace period, whatever is open: progress streams of a training
job, and a reflection stream that was sent garbage and is still open; and whichever of its threads the
kernel hands the signal to."""

import ctypes
import signal
import threading
import time
from pathlib import Path

import grpc
import pytest
from server_process import serve, until_logged

from droidft import Client

# The worker's grace to stop after its iteration, the server's grace for calls, and start-up slack.
SHUTDOWN_BOUND_SECONDS = 60


def _drain(replies) -> None:
    try:
        for _ in replies:
            pass
    except grpc.RpcError:
        pass  # the server ends the garbage-fed call as it likes; the test is about stopping


def test_sigterm_stops_the_server_with_streams_and_a_garbage_fed_reflection_call_open(tmp_path, tiny_model, sft_data):
    process, target = serve(
        "--state-dir", str(tmp_path / "state"), "--data-root", str(sft_data.parent),
        "--model-root", str(tiny_model.parent),
    )  # fmt: skip
    try:
        with Client(target) as client:
            spec = {"model_path": str(tiny_model), "train_data_path": str(sft_data), "iterations": 100_000,
                    "batch_size": 2, "sft": {}}  # fmt: skip
            job = client.start_training_job(spec)
            streams = [client.stream_progress(job.id) for _ in range(5)]
            for stream in streams:
                next(stream)
            channel = grpc.insecure_channel(target)
            held_open = threading.Event()

            def garbage():
                yield from (b"\xff\x00garbage" * n for n in range(1, 8))
                held_open.wait()

            reflection = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
            replies = reflection(garbage())
            threading.Thread(target=_drain, args=(replies,), daemon=True).start()
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=SHUTDOWN_BOUND_SECONDS) == 0
            stopped_in = time.monotonic() - started
            held_open.set()
            channel.close()
        assert stopped_in < SHUTDOWN_BOUND_SECONDS
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _signal_every_other_thread(pid: int, signum: int) -> None:
    """Send the signal to each of the process's threads but its main one, as the kernel may hand a process's
    signal to any thread (gRPC's, the event loop's, the RPC pool's)."""
    tgkill = ctypes.CDLL(None, use_errno=True).tgkill
    others = [tid for tid in (int(task.name) for task in Path(f"/proc/{pid}/task").iterdir()) if tid != pid]
    assert others, "the server runs threads besides its main one"
    for tid in others:
        tgkill(pid, tid, signum)


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "tgkill"), reason="needs Linux's per-thread signals")
def test_signals_that_other_threads_take_still_reach_the_server(tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("alice:first-token\n")
    process, _ = serve(
        "--state-dir", str(tmp_path / "state"), "--data-root", str(tmp_path), "--model-root", str(tmp_path),
        "--auth-token-file", str(tokens), drain=False,
    )  # fmt: skip
    try:
        tokens.write_text("bob:second-token\n")
        _signal_every_other_thread(process.pid, signal.SIGHUP)
        reloaded = []  # read in a thread, so that a lost SIGHUP (a log that stays silent) fails in bounded time
        reader = threading.Thread(
            target=lambda: reloaded.append(until_logged(process, "token_file_reloaded")), daemon=True
        )
        reader.start()
        reader.join(timeout=SHUTDOWN_BOUND_SECONDS)
        assert reloaded and reloaded[0]["names"] == ["bob"]
        threading.Thread(target=process.stdout.read, daemon=True).start()
        _signal_every_other_thread(process.pid, signal.SIGTERM)
        assert process.wait(timeout=SHUTDOWN_BOUND_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_storm_of_signals_during_the_stop_neither_hangs_nor_kills_the_server(tmp_path):
    """Python runs a signal's handler between any two bytecodes of the main thread, inside another handler or a held
    lock too: a SIGHUP that came while the stop wrote its log line, and whose handler reloaded the tokens and logged
    in turn, waited on the log's lock for ever. Here SIGHUPs and SIGTERMs keep coming until the server has gone."""
    tokens = tmp_path / "tokens"
    tokens.write_text("alice:first-token\n")
    process, _ = serve(
        "--state-dir", str(tmp_path / "state"), "--data-root", str(tmp_path), "--model-root", str(tmp_path),
        "--auth-token-file", str(tokens),
    )  # fmt: skip
    gone = threading.Event()

    def storm():
        while not gone.is_set():
            try:
                for signum in (signal.SIGHUP, signal.SIGHUP, signal.SIGHUP, signal.SIGTERM):
                    _signal_every_other_thread(process.pid, signum)
            except (FileNotFoundError, ProcessLookupError, AssertionError):
                return  # the process has ended, or is ending

    sender = threading.Thread(target=storm, daemon=True)
    sender.start()
    try:
        assert process.wait(timeout=SHUTDOWN_BOUND_SECONDS) == 0
    finally:
        gone.set()
        if process.poll() is None:
            process.kill()
            process.wait()
        sender.join()
