"""Thousands of watchers on a training job: do they all get every event, do unary calls stay quick,
and does training slow down?

A real `droidft-server` process trains the small llama (LoRA SFT) four times, side by side in one
run: unwatched; watched by WATCHERS StreamTrainingProgress subscribers; watched while CALLERS callers
each call GetTrainingJob every PAUSE_SECONDS (dashboards polling); and watched while they call it
back to back (the worst case: 16 closed loops on a 2-core machine). A health check runs every 100 ms
alongside the callers. Subscribers and
callers are coroutines of this process on one grpc.aio channel each. `python -m bench.watchers`
writes its section of bench/README.md; tests/service/test_watchers.py is the shortened form.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.readme import markdown_table, write_section
from bench.sft_throughput import SHAPES, write_chat_data
from bench.startup import start_server, stop

WATCHERS = int(os.environ.get("DROIDFT_BENCH_WATCHERS", "2000"))
CALLERS = 16
CHANNELS = 20  # subscribers share channels as many clients behind a few hosts would
PAUSE_SECONDS = 0.05
ITERATIONS = 300
REPORT_EVERY = 5


def _spec(model: Path, data: Path):
    from droidft.v1 import job_pb2

    spec = job_pb2.TrainingJobSpec(
        model_path=str(model), train_data_path=str(data), iterations=ITERATIONS, batch_size=4,
        learning_rate=1e-4, max_seq_length=512, report_every=REPORT_EVERY, checkpoint_every=ITERATIONS,
    )  # fmt: skip
    spec.sft.SetInParent()
    return spec


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _one_job(target: str, spec, watchers: int, callers: int, pause: float = 0.0) -> dict:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from droidft.v1 import service_pb2, service_pb2_grpc

    channels = [grpc.aio.insecure_channel(target) for _ in range(CHANNELS)]
    stubs = [service_pb2_grpc.TrainingServiceStub(channel) for channel in channels]
    job = await stubs[0].CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec))
    request = service_pb2.StreamTrainingProgressRequest(job_id=job.job_id)

    async def watch(stub) -> list[int]:
        return [event.sequence async for event in stub.StreamTrainingProgress(request)]

    subscribers = [asyncio.create_task(watch(stubs[i % CHANNELS])) for i in range(watchers)]
    done = asyncio.Event()
    latencies: list[float] = []
    health_answers: list[int] = []

    async def call(stub) -> None:
        get = service_pb2.GetTrainingJobRequest(job_id=job.job_id)
        while not done.is_set():
            started = time.perf_counter()
            await stub.GetTrainingJob(get, timeout=30)
            latencies.append(time.perf_counter() - started)
            if pause:
                await asyncio.sleep(pause)  # think time of a polling client

    async def check_health() -> None:
        health = health_pb2_grpc.HealthStub(channels[0])
        while not done.is_set():
            health_answers.append((await health.Check(health_pb2.HealthCheckRequest(), timeout=5)).status)
            await asyncio.sleep(0.1)

    load = [asyncio.create_task(call(stubs[i % CHANNELS])) for i in range(callers)]
    load += [asyncio.create_task(check_health())] if callers else []
    reports = []
    async for event in stubs[0].StreamTrainingProgress(request):
        if event.HasField("train_report"):
            reports.append(event.train_report)
    done.set()
    await asyncio.gather(*load)
    received = await asyncio.gather(*subscribers)
    final = await stubs[0].GetTrainingJob(service_pb2.GetTrainingJobRequest(job_id=job.job_id))
    for channel in channels:
        await channel.close()
    expected = list(range(1, final.last_sequence + 1))
    latencies.sort()
    return {
        "tokens_per_second": statistics.median(r.tokens_per_second for r in reports[1:]),
        "complete": f"{sum(sequences == expected for sequences in received)}/{watchers}" if watchers else "",
        "events": len(expected),
        "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else None,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else None,
        "calls": len(latencies),
        "health": f"{sum(status == health_pb2.HealthCheckResponse.SERVING for status in health_answers)}"
        f"/{len(health_answers)}",
    }


def run() -> list[dict]:
    from droidft_server.devtools.tiny_model import build_tiny_model

    with tempfile.TemporaryDirectory(prefix="droidft-bench-watchers-") as tmp:
        root = Path(tmp)
        data = write_chat_data(root)
        model = build_tiny_model(root / "small", seed=0, **SHAPES["small (h256 L4 v2048)"])
        process, target, _, _ = start_server(root, root / "state")
        try:
            spec = _spec(model, data)
            runs = [
                ("unwatched", 0, 0, 0.0),
                (f"{WATCHERS} watchers", WATCHERS, 0, 0.0),
                (f"{WATCHERS} watchers + {CALLERS} callers, every {PAUSE_SECONDS * 1000:.0f} ms", WATCHERS, CALLERS,
                 PAUSE_SECONDS),
                (f"{WATCHERS} watchers + {CALLERS} callers, back to back", WATCHERS, CALLERS, 0.0),
            ]  # fmt: skip
            measured = []
            for label, *load in runs:
                server_cpu, own_cpu = _cpu_seconds(process.pid), time.process_time()
                figures = asyncio.run(_one_job(target, spec, *load))
                figures["server_cpu"] = _cpu_seconds(process.pid) - server_cpu
                figures["own_cpu"] = time.process_time() - own_cpu
                measured.append((label, figures))
        finally:
            stop(process)
    baseline = measured[0][1]["tokens_per_second"]
    rows = []
    for label, figures in measured:
        row = {
            "run": label,
            "toks": f"{figures['tokens_per_second']:,.0f}",
            "ratio": f"{figures['tokens_per_second'] / baseline:.3f}",
            "complete": figures["complete"],
            "events": figures["events"],
            "p50": f"{figures['p50_ms']:.1f}" if figures["p50_ms"] is not None else "",
            "p99": f"{figures['p99_ms']:.1f}" if figures["p99_ms"] is not None else "",
            "calls": figures["calls"] or "",
            "health": figures["health"] if figures["calls"] else "",
            "server_cpu": f"{figures['server_cpu']:.1f}",
            "own_cpu": f"{figures['own_cpu']:.1f}",
        }
        print(row, flush=True)
        rows.append(row)
    columns = {
        "run": "run",
        "toks": "steady tokens/s",
        "ratio": "vs unwatched",
        "complete": "watchers that got every event",
        "events": "events",
        "p50": "GetTrainingJob p50 ms",
        "p99": "p99 ms",
        "calls": "unary calls",
        "health": "health checks SERVING",
        "server_cpu": "server CPU s",
        "own_cpu": "watching process CPU s",
    }
    intro = (
        f"`python -m bench.watchers`, on this machine ({os.cpu_count()} cores; the server, its training worker "
        "and the watching process share them): four jobs side by side in one run, each LoRA SFT of the small "
        f"llama (h256 L4 v2048), {ITERATIONS} iterations, a train report every {REPORT_EVERY}. Watchers are "
        f"StreamTrainingProgress subscribers on {CHANNELS} grpc.aio channels; callers call GetTrainingJob "
        f"every {PAUSE_SECONDS * 1000:.0f} ms or back to back, and a health check runs every 100 ms. "
        "Whole-process figures."
    )
    write_section(
        "## Watchers: thousands of progress streams on one training job", intro + "\n\n" + markdown_table(rows, columns)
    )
    return rows


if __name__ == "__main__":
    run()
