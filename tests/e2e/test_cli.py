"""The droidft CLI against a real server: a job is created, watched to its end and listed."""

import json

import pytest

from droidft.cli.main import main as droidft
from droidft_server.app import DroidftServer, ServerConfig


@pytest.fixture(scope="module")
def server(tmp_path_factory, calibration_dir, roots):
    started = DroidftServer(
        ServerConfig(
            state_dir=tmp_path_factory.mktemp("state"), listen="127.0.0.1:0", calibration_dir=calibration_dir, **roots
        )
    )
    yield f"127.0.0.1:{started.port}"
    started.stop(grace=0)


def test_train_watch_and_list_from_the_cli(server, tiny_model, sft_data, tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"maxSeqLength": 512, "reportEvery": 2, "learningRate": 1e-4}))
    code = droidft(
        [
            "--server",
            server,
            "train",
            "--model",
            str(tiny_model),
            "--data",
            str(sft_data),
            "--method",
            "sft",
            "--iters",
            "4",
            "--batch-size",
            "2",
            "--spec",
            str(spec),
            "--watch",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "running -> succeeded" in out and "4/4" in out
    job_id = out.split()[2]
    assert droidft(["--server", server, "watch", job_id]) == 0
    replay = capsys.readouterr().out
    assert replay.count("\n") >= 6 and "succeeded" in replay
    assert droidft(["--server", server, "jobs", "list"]) == 0
    assert job_id in capsys.readouterr().out


def test_cli_errors_are_readable_with_exit_code_3(server, tiny_model, sft_data, capsys):
    code = droidft(
        [
            "--server",
            server,
            "train",
            "--model",
            str(tiny_model),
            "--data",
            str(sft_data),
            "--method",
            "sft",
            "--learning-rate",
            "0.5",
        ]
    )
    err = capsys.readouterr().err
    assert code == 3
    assert "INVALID_ARGUMENT" in err and "spec.learning_rate" in err and "Traceback" not in err
