"""SIGTERM stops the server within its grace period, whatever is open: progress streams of a training
job, and a reflection stream that was sent garbage and is still open."""

import signal
import threading
import time

import grpc
from server_process import serve

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
