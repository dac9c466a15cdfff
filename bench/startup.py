"""Server start-up: a real `droidft-server` process from its start to answering health SERVING, each time
on a fresh state directory, and what it imports on the way.

Tools that start a server on demand (an IDE, a notebook, a test suite) wait for this on every start. The
goal (issue 9): <= 0.5 s on this 2-core machine, with no MLX module in the server process (training runs
in worker processes). `python -m bench.startup` writes its section of bench/README.md; the other benchmarks
start their servers with `start_server` from here.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.readme import markdown_table, write_section

STARTS = 10
GOAL_SECONDS = 0.5
PACKAGES_LISTED = 6


def start_server(
    root: Path, state_dir: Path, *, import_time: bool = False
) -> tuple[subprocess.Popen, str, float, list[str]]:
    """A server process reading and writing under `root`; returns it, its address, the seconds from its start to
    health SERVING, and the list its output lines go on arriving in. With `import_time`, it runs under
    `python -X importtime`."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    prefix = [
        sys.executable,
        "-X",
        "importtime",
        "-c",
        "import sys; from droidft_server.main import main; sys.exit(main())",
    ]
    command = [*(prefix if import_time else [str(Path(sys.executable).parent / "droidft-server")]), "serve",
               "--listen", "127.0.0.1:0", "--state-dir", str(state_dir), "--data-root", str(root),
               "--model-root", str(root)]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("event") == "serving":
            target = f"127.0.0.1:{record['port']}"
            with grpc.insecure_channel(target) as channel:
                answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), wait_for_ready=True)
            serving = time.perf_counter() - started
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
            # Keep reading, so that the server never blocks on a full pipe.
            threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
            return process, target, serving, lines
    raise RuntimeError("the server exited before serving:\n" + "".join(lines[-30:]))


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=60)


def import_costs(lines: list[str]) -> tuple[float, dict[str, float]]:
    """From `python -X importtime` lines: the seconds all imports took, and each package's (its modules not
    imported by a module of the same package; packages it imports are in its figure too), largest first."""
    entries = []
    for line in lines:
        if line.startswith("import time:") and not line.startswith("import time: self"):
            _, cumulative, name = line.split("|")
            depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
            entries.append((depth, name.strip().split(".")[0], int(cumulative) / 1e6))
    total = sum(seconds for depth, _, seconds in entries if depth == 0)
    costs: dict[str, float] = {}
    ancestors: list[tuple[int, str]] = []
    for depth, package, seconds in reversed(entries):  # importtime lists a module after the modules it imports
        while ancestors and ancestors[-1][0] >= depth:
            ancestors.pop()
        if all(package != outer for _, outer in ancestors):
            costs[package] = costs.get(package, 0.0) + seconds
        ancestors.append((depth, package))
    return total, dict(sorted(costs.items(), key=lambda item: -item[1]))


def run() -> list[dict]:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="droidft-bench-startup-") as tmp:
        root = Path(tmp)
        starts = []
        for index in range(STARTS):
            process, _, serving, _ = start_server(root, root / f"state-{index}")
            starts.append(serving)
            stop(process)
        process, _, _, lines = start_server(root, root / "state-imports", import_time=True)
        stop(process)
    load_after = os.getloadavg()[0]
    imported = {line.rsplit("|", 1)[-1].strip() for line in lines if line.startswith("import time:")}
    mlx_imported = sorted(name for name in imported if name == "mlx" or name.startswith(("mlx.", "mlx_")))
    total, packages = import_costs(lines)
    within = sum(seconds <= GOAL_SECONDS for seconds in starts)
    rows = [
        {
            "what": "server process start to health SERVING",
            "figure": f"{statistics.median(starts):.2f} s (median of {len(starts)}, "
            f"{min(starts):.2f}-{max(starts):.2f}; {within} of {len(starts)} within the goal)",
            "goal": f"<= {GOAL_SECONDS} s: " + ("met" if within == len(starts) else "missed"),
        },
        {
            "what": "of which importing the server's modules (one start under `python -X importtime`)",
            "figure": f"{total:.2f} s; the largest packages: "
            + ", ".join(
                f"{name} {seconds:.2f} s"
                for name, seconds in list(packages.items())[: PACKAGES_LISTED + 1]
                if name != "droidft_server"  # every other import starts from it
            ),
            "goal": "",
        },
        {
            "what": "MLX modules imported by the server process",
            "figure": ", ".join(mlx_imported) or "none (`python -X importtime`)",
            "goal": "none: " + ("missed" if mlx_imported else "met"),
        },
    ]
    for row in rows:
        print(row, flush=True)
    intro = (
        f"`python -m bench.startup`, on this machine ({os.cpu_count()} cores; load average (1 min) "
        f"{load_before:.1f} before, {load_after:.1f} after): `droidft-server serve` started {STARTS} times, each "
        "on a fresh state directory, timed from the process's start to a client's first health check answered "
        "SERVING; then one start under `python -X importtime` (which slows it) lists what it imports, each "
        "module's time gathered into its top-level package's."
    )
    write_section(
        "## Server start-up",
        intro + "\n\n" + markdown_table(rows, {"what": "", "figure": "measured", "goal": "goal"}),
    )
    return rows


if __name__ == "__main__":
    run()
