"""CreateTrainingJob(validate_only) on big chat data sets: how long a client waits for its answer.

A server runs in this process (port 0, a fixed device profile: the estimate is not what is measured)
with the tiny model built locally; a generated chat_messages file of each size is kept under
var/bench-data (never committed; made again when missing). Each row times one validate_only create
through gRPC: every record read and checked, token lengths (exact up to 16,384 records, then an evenly
spread sample; too_long and max kept exact or bounded, domain/datasets/tokens.py), the chat template's
sample, the memory estimate. CPU is this process's (the server's) CPU time; the machine is shared, so
the load average is stated beside each row.

Run: python -m bench.big_data   (or `make bench`, which runs every bench module)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

from bench.readme import markdown_table, write_section

SECTION_TITLE = "## CreateTrainingJob(validate_only) on a 1 GB data set"
DATA_DIR = Path(__file__).resolve().parent.parent / "var" / "bench-data"
SIZES_MB = (100, 1000)
GOAL_S = 30.0
MB = 1_000_000
RECORDS_PER_SEED = 1_000_000


def data_file(megabytes: int) -> Path:
    """The generated chat file of this size, made once: generated records, a million per seed."""
    from droidft_server.domain.datasets import generate, to_jsonl_bytes

    path = DATA_DIR / f"chat_messages-{megabytes}mb.jsonl"
    if path.exists():
        return path
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    written, seed = 0, 0
    with open(partial, "wb") as stream:
        while written < megabytes * MB:
            records = generate("chat_messages", RECORDS_PER_SEED, seed)
            while written < megabytes * MB and (block := to_jsonl_bytes(islice(records, 10_000))):
                stream.write(block)
                written += len(block)
            seed += 1
    partial.rename(path)
    return path


def tiny_model() -> Path:
    from droidft_server.devtools.tiny_model import build_tiny_model

    path = DATA_DIR / "tiny-model"
    if not (path / "tokenizer.json").exists():
        build_tiny_model(path, seed=0)
    return path


def _device():
    from droidft_server.domain.estimation import DeviceProfile

    return DeviceProfile(
        name="cpu (bench)",
        available_memory_bytes=16 * 2**30,
        matmul_flops_per_second=5e10,
        half_matmul_flops_per_second=5e10,
        quantized_matmul_flops_per_second=1e9,
        quantized_backward_flops_per_second=1e9,
        memory_bytes_per_second=1e10,
        seconds_per_op=1e-5,
    )


def run() -> list[dict]:
    import grpc

    from droidft.v1 import job_pb2, service_pb2, service_pb2_grpc
    from droidft_server.app import DroidftServer, ServerConfig

    model = tiny_model()
    rows = []
    with tempfile.TemporaryDirectory(prefix="droidft-bench-big-data-") as state:
        server = DroidftServer(
            ServerConfig(
                state_dir=Path(state),
                listen="127.0.0.1:0",
                data_roots=[DATA_DIR],
                model_roots=[DATA_DIR],
                device_profile=_device,
            )
        )
        try:
            with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                stub = service_pb2_grpc.TrainingServiceStub(channel)
                for megabytes in SIZES_MB:
                    path = data_file(megabytes)
                    spec = job_pb2.TrainingJobSpec(model_path=str(model), train_data_path=str(path))
                    spec.sft.SetInParent()
                    load_before = os.getloadavg()[0]
                    cpu, wall = time.process_time(), time.perf_counter()
                    job = stub.CreateTrainingJob(service_pb2.CreateTrainingJobRequest(spec=spec, validate_only=True))
                    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                    train = job.data.train
                    row = {
                        "data": f"chat_messages, {path.stat().st_size / MB:.0f} MB",
                        "records": f"{train.record_count:,}",
                        "counted": f"{train.token_records_counted:,}",
                        "sampled": "yes" if train.token_statistics_sampled else "no",
                        "mean": f"{train.token_statistics.mean:.1f}",
                        "max": train.token_statistics.max,
                        "wall": f"{wall:.1f}",
                        "cpu": f"{cpu:.1f}",
                        "load": f"{load_before:.1f} / {os.getloadavg()[0]:.1f}",
                        "goal": "met" if wall <= GOAL_S else "missed",
                    }
                    print(row, flush=True)
                    rows.append(row)
        finally:
            server.stop(grace=0)
    write_section(SECTION_TITLE, _section(rows))
    return rows


COLUMNS = {
    "data": "data",
    "records": "records",
    "counted": "records tokenized",
    "sampled": "sampled",
    "mean": "mean tokens",
    "max": "max tokens",
    "wall": "answer s (wall)",
    "cpu": "server CPU s",
    "load": "load average before / after",
    "goal": f"within {GOAL_S:.0f} s",
}


def _section(rows: list[dict]) -> str:
    return f"""`python -m bench.big_data` on {os.cpu_count()} CPU cores (shared), Python {sys.version.split()[0]}, \
{time.strftime("%Y-%m-%d")}. One CreateTrainingJob(validate_only) of an SFT job per row, through gRPC, on a
generated chat_messages file with the tiny model's byte-level BPE tokenizer (a real model's tokenizer is slower
per record, which sampling bounds). The answer includes reading and checking every record, the token statistics,
the chat template's sample and the memory estimate. The load average (1 min) is read before and after each row: the
machine was shared, so wall time is a ceiling; CPU time is the work.

{markdown_table(rows, COLUMNS)}

Goal: an answer within {GOAL_S:.0f} s on a 1 GB data set. Before sampling, token lengths tokenized every
record: 100 MB took 24 s (wall, shared cores; 29 s CPU of tokenizing alone), so 1 GB took minutes.

Before (2026-12-04, load average 7-11 on these 2 cores from other test runs): the 1 GB answer took 19.0 s of
CPU and 41-73 s of wall time in four runs. Profiling validate_path (cProfile with a CPU-time timer) on the 1 GB
file put most of it in reporting duplicates: the generated file repeats records (2,892,640 of its 4.17 million
lines are duplicates), and each duplicate became an issue with its message although only the first 100 are
listed. Duplicates are now counted at once and only those the listing has room for are described: validate_path
without a model went from 10.7 s to 6.1 s of CPU on 1 GB. The chat format's rule runs two tight loops for
text-only turns (a third less time a record, about 0.4 s on 1 GB). What is left per record, on 1 GB: msgspec
decoding about 1.5 s, the format's rule and tallies in Python about 2.5 s, reading and splitting lines about 1.7 s,
duplicate digests and their sort about 1.5 s (with this many repeats), the token sample about 1.2 s.
After (the table: under the machine lock, load average 3.2 / 2.8): 8.8 s of CPU, 13.2 s of wall time, within the
goal with room. Under the load of the first measurement (7-11, the check getting half a core to a quarter) the same
8.8 s of CPU would take about 18-35 s: the goal holds while the load stays moderate, not under any load.
Spreading the reading over processes was built and measured (byte ranges cut on line boundaries, checked by two
worker processes; the main pass reading in order and trusting their per-line result for the clean records): on
these 2 shared cores it was slower, 13.3-15.9 s of wall time against 9.6-12.0 s in one process (validate_path
with the model, 1 GB, load average 4.0-4.9), as the workers add about 6 s of CPU while the main pass still reads,
hashes and samples every line (about 5 s of CPU). It is not part of the server.
Batch tokenizing was measured first (20,000 chat records, the tiny tokenizer, CPU s): a loop of encode 1.15,
encode_batch 1.49 (512 a batch) / 1.35 (4,096), encode_batch_fast 1.09 / 1.06. Batching saves under 10 % here,
so counting fewer records, not batching them, is what bounds the time.
"""


if __name__ == "__main__":
    run()
