"""Data-set validation speed and memory: validate_path against a plain json.loads loop.

The data is generated into a temporary directory (never committed): chat_messages and gspo
sample records, at 50 MB and 200 MB, and a copy with 1% broken lines. Each measurement runs in a
fresh subprocess, so its peak RSS is its own. Throughput is bytes per second of process CPU time
(the machine is shared; wall time alongside), best of REPEATS runs, each after WARM_UP_S of busy
CPU. Two plain loops:
- json stream: `for line in open(path): json.loads(line)`, each record dropped at once (the fastest
  a json.loads loop gets);
- json load: `[json.loads(line) for line in open(path)]`, what mlx-lm's loader does to read a data set.

Run: python -m bench.datasets   (or `make bench`, which runs every bench module)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from bench.readme import markdown_table, write_section

SECTION_TITLE = "## Data-set validation: validate_path vs a json.loads loop"
REPEATS = 2
MB = 1_000_000
SPEEDUP_GOAL = 3.0
# Measured here: a fresh process runs its first 0.1-0.2 s of busy CPU up to twice as slowly (the
# same after imports), which weighed on the short runs far more than on the long ones.
WARM_UP_S = 0.5


@dataclass(frozen=True)
class Case:
    format: str
    megabytes: int
    broken_every: int = 0  # every n-th line made invalid; 0: none

    @property
    def label(self) -> str:
        broken = f", 1 line in {self.broken_every} broken" if self.broken_every else ""
        return f"{self.format}, {self.megabytes} MB{broken}"


CASES = (
    Case("chat_messages", 50),
    Case("chat_messages", 200),
    Case("chat_messages", 200, broken_every=100),
    Case("gspo", 200),
)


def make_file(case: Case, path: Path) -> int:
    """Generate the case's data into path; returns its size in bytes."""
    from droidft_server.domain.datasets import generate, to_jsonl_bytes

    per_record = len(to_jsonl_bytes(generate(case.format, 1000, 0))) / 1000
    count = int(case.megabytes * MB / per_record)
    records = generate(case.format, count, 0)
    written, line = 0, 0
    with open(path, "wb") as stream:
        while block := to_jsonl_bytes(islice(records, 10_000)):
            if case.broken_every:
                lines = block.split(b"\n")
                block = b"\n".join(
                    text.replace(b'"assistant"', b'"bot"') if (line + i) % case.broken_every == 0 else text
                    for i, text in enumerate(lines)
                )
                line += len(lines) - 1
            stream.write(block)
            written += len(block)
    return written


def _status_kib(field: str) -> int:
    """A memory figure of this process from /proc (VmHWM is reset by exec; ru_maxrss is not)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _json_stream(path: str) -> int:
    records = 0
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            if line.strip():
                json.loads(line)
                records += 1
    return records


def _json_load(path: str) -> int:
    with open(path, encoding="utf-8") as stream:
        return len([json.loads(line) for line in stream if line.strip()])


def _validate(path: str) -> int:
    from droidft_server.domain.datasets import validate_path

    report = validate_path(path, max_issues=100)
    return sum(report.issue_counts.values())


def measure_here(kind: str, path: str) -> dict:
    """Run one measurement in this process (a fresh one: see measure)."""
    if kind == "validate":
        import droidft_server.domain.datasets  # noqa: F401  imported before the clock and the RSS baseline
    warm_up_until = time.process_time() + WARM_UP_S
    while time.process_time() < warm_up_until:
        pass
    rss_before = _status_kib("VmRSS")
    cpu, wall = time.process_time(), time.perf_counter()
    result = {"validate": _validate, "json_stream": _json_stream, "json_load": _json_load}[kind](path)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    peak = _status_kib("VmHWM")
    return {"cpu_s": cpu, "wall_s": wall, "peak_rss_kib": peak, "rss_before_kib": rss_before, "result": result}


def measure(kind: str, path: Path) -> dict:
    """Best of REPEATS fresh subprocesses."""
    runs = []
    for _ in range(REPEATS):
        completed = subprocess.run(
            [sys.executable, "-m", "bench.datasets", "--measure", kind, str(path)],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        runs.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    return min(runs, key=lambda run: run["cpu_s"])


def run() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="droidft-bench-datasets-") as tmp:
        for case in CASES:
            path = Path(tmp) / "data.jsonl"
            size = make_file(case, path)
            stream, load, ours = (measure(kind, path) for kind in ("json_stream", "json_load", "validate"))
            row = {
                "data": case.label,
                "mb": f"{size / MB:.0f}",
                "records": f"{stream['result']:,}",
                "stream_mbs": f"{size / MB / stream['cpu_s']:.0f}",
                "load_mbs": f"{size / MB / load['cpu_s']:.0f}",
                "ours_mbs": f"{size / MB / ours['cpu_s']:.0f}",
                "vs_stream": f"{stream['cpu_s'] / ours['cpu_s']:.1f}x",
                "vs_load": f"{load['cpu_s'] / ours['cpu_s']:.1f}x",
                "ours_wall": f"{ours['wall_s']:.1f}",
                "stream_peak": f"{stream['peak_rss_kib'] / 1024:.0f}",
                "load_peak": f"{load['peak_rss_kib'] / 1024:.0f}",
                "ours_peak": f"{ours['peak_rss_kib'] / 1024:.0f}",
                "ours_growth": f"{(ours['peak_rss_kib'] - ours['rss_before_kib']) / 1024:.0f}",
                "issues": f"{ours['result']:,}",
            }
            print(row, flush=True)
            rows.append(row)
            os.unlink(path)
    write_section(SECTION_TITLE, _section(rows))
    return rows


COLUMNS = {
    "data": "data",
    "mb": "MB",
    "records": "records",
    "stream_mbs": "json stream MB/s",
    "load_mbs": "json load MB/s",
    "ours_mbs": "validate_path MB/s",
    "vs_stream": "vs stream",
    "vs_load": "vs load",
    "ours_wall": "validate wall s",
    "stream_peak": "json stream peak MiB",
    "load_peak": "json load peak MiB",
    "ours_peak": "validate peak MiB",
    "ours_growth": "validate growth MiB",
    "issues": "issues counted",
}


def _section(rows: list[dict]) -> str:
    def met(column: str) -> int:
        return sum(float(row[column].rstrip("x")) >= SPEEDUP_GOAL for row in rows)

    return f"""`python -m bench.datasets` on {os.cpu_count()} CPU cores (shared), Python {sys.version.split()[0]}, \
{time.strftime("%Y-%m-%d")}. MB/s are megabytes per second of process CPU time, best of {REPEATS} fresh processes,
each timed after {WARM_UP_S} s of busy CPU (a fresh process here runs its first 0.1-0.2 s up to twice as slowly).
validate_path does more than parse: every record typed against its format, the format's own rules,
duplicate detection, field presence, and every issue placed by line and field. Peak is the
process's VmHWM (interpreter and imports included); growth is peak minus RSS just before the run
(8 bytes a line for duplicate digests, the longest line, one 256 KiB batch).

{markdown_table(rows, COLUMNS)}

Goal: at least {SPEEDUP_GOAL:.0f}x a plain json.loads loop's throughput, with flat memory. Against the loop that
loads the data as mlx-lm does (json load): met in {met("vs_load")}/{len(rows)} rows. Against the fastest possible
loop, which drops every record unchecked (json stream): met in {met("vs_stream")}/{len(rows)} rows.
Memory: the validator grows only by its duplicate digests (8 bytes a line, and a sorted copy of half of each at the
end of a file), not with the data; loading grows with the file.
"""


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure_here(sys.argv[2], sys.argv[3])))
    else:
        run()
