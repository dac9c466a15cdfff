"""grpcurl, knowing nothing but what reflection tells it, creates a job and follows its progress to the end."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from droidft_server.devtools.tiny_model import build_tiny_model
from droidft_server.domain import datasets

ROOT = Path(__file__).resolve().parents[2]
GRPCURL = shutil.which("grpcurl", path=str(ROOT / ".venv" / "bin")) or shutil.which("grpcurl")
SERVICE = "droidft.v1.TrainingService"

pytestmark = pytest.mark.skipif(GRPCURL is None, reason="grpcurl is installed with the dev extra on Linux x86-64 only")


def grpcurl(address: str, method: str, body: dict) -> list[dict]:
    """The call's response messages (grpcurl prints each as a JSON object)."""
    result = subprocess.run(
        [GRPCURL, "-plaintext", "-d", json.dumps(body), address, f"{SERVICE}/{method}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    decoder, text, messages = json.JSONDecoder(), result.stdout.strip(), []
    while text:
        message, end = decoder.raw_decode(text)
        messages.append(message)
        text = text[end:].strip()
    return messages


def test_grpcurl_creates_a_job_and_follows_it_to_the_end(server_address, tmp_path):
    model = build_tiny_model(tmp_path / "tiny", seed=0)
    data = tmp_path / "train.jsonl"
    datasets.write_jsonl(str(data), datasets.generate("chat_messages", 16, 0))
    spec = {
        "modelPath": str(model),
        "trainDataPath": str(data),
        "iterations": 4,
        "batchSize": 2,
        "learningRate": 0.0001,
        "maxSeqLength": 512,
        "reportEvery": 2,
        "sft": {},
    }
    [job] = grpcurl(server_address, "CreateTrainingJob", {"spec": spec})
    events = grpcurl(server_address, "StreamTrainingProgress", {"jobId": job["job_id"]})
    assert [int(e["sequence"]) for e in events] == list(range(1, len(events) + 1))
    assert [e["train_report"]["iteration"] for e in events if "train_report" in e] == [2, 4]
    assert events[-1]["state_change"]["state"] == "JOB_STATE_SUCCEEDED"
