"""A job's directory and its checkpoints: the file layout the worker writes and the server reads.

    <output_dir>/adapter_config.json, adapters.safetensors   the final adapter (an mlx-lm adapter directory)
    <output_dir>/worker.log                                   the worker's output
    <output_dir>/checkpoints/<iteration:07d>/                 a full-state checkpoint, also an adapter directory
    <output_dir>/ranks/<rank>/worker.log                      the output of rank 1, 2, ... of a distributed job
                                                              (rank 0 is the job's worker and writes the above)

A full-state checkpoint holds the adapter, the optimizer state, every random generator, the trainer's data
position and the early-stopping state (worker/training_state.py writes and reads it); its manifest, written
last, lists each file's size and SHA-256, so a checkpoint cut short is never taken for a whole one.
This module only reads manifests and names files: it needs no MLX, so the server uses it too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ADAPTER_FILE = "adapters.safetensors"
ADAPTER_CONFIG_FILE = "adapter_config.json"
CHECKPOINT_DIR = "checkpoints"
WORKER_LOG = "worker.log"  # the worker's stdout and stderr
WORKER_LOCK = "worker.lock"  # held by the one worker training the job
MANIFEST_FILE = "manifest.json"
RANKS_DIR = "ranks"
FORMAT_VERSION = 1
TEMPORARY_PREFIX = ".writing-"  # a checkpoint being written; never read


def rank_dir(output_dir: Path, rank: int) -> Path:
    """Where a rank of a distributed job keeps its log and lock: rank 0 (or the only worker) in the job's directory."""
    return output_dir if rank == 0 else output_dir / RANKS_DIR / str(rank)


class NotResumable(ValueError):
    """A checkpoint that cannot be resumed from; the message says why."""


@dataclass(frozen=True)
class ResumableCheckpoint:
    iteration: int
    directory: Path


def checkpoint_dir(output_dir: Path, iteration: int) -> Path:
    return output_dir / CHECKPOINT_DIR / f"{iteration:07d}"


def file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def read_manifest(directory: Path, *, verify_digests: bool = True) -> dict[str, Any]:
    """The checkpoint's manifest once its files check out (sizes, and SHA-256 unless told not to);
    NotResumable says what does not."""
    manifest_path = directory / MANIFEST_FILE
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotResumable(f"{directory} has no {MANIFEST_FILE}: it holds no full training state") from None
    except (OSError, ValueError) as error:
        raise NotResumable(f"{manifest_path} cannot be read: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise NotResumable(f"{directory} is not a checkpoint of format {FORMAT_VERSION}")
    for name, expected in manifest.get("files", {}).items():
        path = directory / name
        if not path.is_file() or path.stat().st_size != expected["bytes"]:
            raise NotResumable(f"{path} is missing or not the size its manifest gives")
        if verify_digests and file_digest(path) != expected["sha256"]:
            raise NotResumable(f"{path} does not match its manifest's SHA-256")
    return manifest


def is_resumable(directory: Path) -> bool:
    """A quick check (sizes, not digests), for listings; resuming verifies the digests."""
    try:
        read_manifest(directory, verify_digests=False)
    except NotResumable:
        return False
    return True


def resumable_checkpoints(output_dir: Path) -> list[ResumableCheckpoint]:
    """The job's checkpoints whose manifests check out (sizes), oldest first."""
    root = output_dir / CHECKPOINT_DIR
    found = []
    if root.is_dir():
        for directory in root.iterdir():
            if directory.name.isdigit() and directory.is_dir() and is_resumable(directory):
                found.append(ResumableCheckpoint(int(directory.name), directory))
    return sorted(found, key=lambda checkpoint: checkpoint.iteration)


def last_log_lines(output_dir: Path, count: int) -> list[str]:
    """The last `count` lines of the worker's log (what it printed before dying), or none."""
    try:
        with open(output_dir / WORKER_LOG, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-count:]
