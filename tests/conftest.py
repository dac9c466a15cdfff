import json
import sys
from pathlib import Path

import pytest

from droidft_server import logging as droidft_logging
from droidft_server.worker import blas

# Servers started in this process log JSON to stderr, as droidft-server does: stdout stays the CLI's.
droidft_logging.configure("info")

# Tests that train in this process use the BLAS a worker uses (it must be chosen before MLX is imported).
blas.load(blas.worker_threads(1))

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

SFT_RECORDS = [
    {"messages": [{"role": "user", "content": f"What is {a} + {b}?"}, {"role": "assistant", "content": f"{a + b}"}]}
    for a in range(1, 7)
    for b in range(1, 4)
]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from droidft_server.devtools.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny", seed=0)


@pytest.fixture()
def sft_data(tmp_path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in SFT_RECORDS))
    return path


@pytest.fixture(scope="session")
def roots(tmp_path_factory) -> dict:
    """The file roots of every server under test: whatever a test writes lies under pytest's base temp dir."""
    base = tmp_path_factory.getbasetemp()
    return {"data_roots": [base], "model_roots": [base]}


@pytest.fixture(scope="session")
def build_check(tmp_path_factory):
    """One build-check worker for the servers under test that share it (each server otherwise starts its own, and
    importing mlx-lm in it takes over a second)."""
    from droidft_server.supervisor.build_checker import BuildChecker

    checker = BuildChecker(tmp_path_factory.mktemp("build-check"))
    yield checker
    checker.shutdown()


@pytest.fixture(scope="session")
def calibration_dir(tmp_path_factory) -> Path:
    """One real device calibration shared by every server the tests start."""
    return tmp_path_factory.mktemp("calibration")
