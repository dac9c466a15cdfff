"""The build-check worker (create's check that mlx-lm builds a model): mlx-lm's own reason for a model it cannot
build, a fresh worker after one died, and a build that hangs ended rather than waited on."""

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
import safetensors.numpy

from droidft_server.domain.errors import DroidftError
from droidft_server.supervisor.build_checker import BuildChecker


@pytest.fixture()
def checker(tmp_path):
    started = BuildChecker(tmp_path / "build-check")
    yield started
    started.shutdown()


def _copy(model, tmp_path, name):
    copy = tmp_path / name
    shutil.copytree(model, copy)
    return copy


def test_a_model_builds_or_the_answer_is_mlx_lms_reason(checker, tiny_model, tmp_path):
    assert checker(tiny_model, False) is None
    broken = _copy(tiny_model, tmp_path, "no-intermediate-size")
    config = json.loads((broken / "config.json").read_text())
    del config["intermediate_size"]
    (broken / "config.json").write_text(json.dumps(config))
    assert checker(broken, False) == (
        "TypeError: ModelArgs.__init__() missing 1 required positional argument: 'intermediate_size'"
    )
    untied = _copy(tiny_model, tmp_path, "untied")
    config = json.loads((untied / "config.json").read_text())
    config["tie_word_embeddings"] = False  # lm_head.weight then missing, as a reward model's is (it has a score head)
    (untied / "config.json").write_text(json.dumps(config))
    assert checker(untied, False) == "ValueError: Missing 1 parameters: lm_head.weight."
    assert checker(untied, True) is None  # a reward model: its backbone is whole
    no_norm = _copy(untied, tmp_path, "no-norm")
    weights = safetensors.numpy.load_file(no_norm / "model.safetensors")
    del weights["model.norm.weight"]
    safetensors.numpy.save_file(weights, no_norm / "model.safetensors")
    assert checker(no_norm, True) == "the reward model's backbone lacks 1 weights, e.g. ['norm.weight']"


def test_a_worker_that_died_is_started_again(checker, tiny_model):
    assert checker(tiny_model, False) is None
    first = checker.pid
    os.kill(first, signal.SIGKILL)  # the next check may find it alive still, or gone
    assert checker(tiny_model, False) is None
    assert checker.pid not in (None, first)


def test_a_build_that_hangs_is_ended_and_the_model_refused(checker, tiny_model, tmp_path):
    assert checker(tiny_model, False) is None  # the worker's start is not what this measures
    hanging = tmp_path / "hanging"
    hanging.mkdir()
    shutil.copy(tiny_model / "config.json", hanging)
    os.mkfifo(hanging / "model.safetensors")  # opening it waits for a writer that never comes
    checker.timeout = 1.0
    stuck = checker.pid
    assert checker(hanging, False) == "building it took over 1 s (the build check reads only headers)"
    checker.timeout = 120.0
    assert checker(tiny_model, False) is None
    assert checker.pid != stuck


def test_a_check_that_a_shutdown_meets_answers_that_the_server_is_shutting_down(checker, tiny_model, tmp_path):
    assert checker(tiny_model, False) is None
    hanging = tmp_path / "hanging"
    hanging.mkdir()
    shutil.copy(tiny_model / "config.json", hanging)
    os.mkfifo(hanging / "model.safetensors")
    answers = []

    def check():
        try:
            answers.append(checker(hanging, False))
        except DroidftError as error:
            answers.append(error.reason_name)

    running = threading.Thread(target=check)
    running.start()
    waited = time.monotonic() + 30
    while not _waiting_for_a_writer(checker.pid) and time.monotonic() < waited:
        running.join(0.05)  # the check is under way once the worker waits in open() for a writer to the FIFO
    checker.shutdown()
    running.join(30)  # not the 120 s the build could take
    assert not running.is_alive() and answers == ["SERVER_SHUTTING_DOWN"]
    with pytest.raises(DroidftError) as caught:
        checker(tiny_model, False)
    assert caught.value.reason_name == "SERVER_SHUTTING_DOWN"


def _waiting_for_a_writer(pid) -> bool:
    try:
        return Path(f"/proc/{pid}/wchan").read_text() == "wait_for_partner"
    except OSError:
        return False


def test_checks_do_not_pile_up_in_the_workers_memory(checker, tmp_path):
    """Each build draws its layers' initial weights from MLX's global random key and never evaluates them: unless
    the key is reset, each build's key holds on to the one before (about 0.5 MB a check of this model)."""
    from droidft_server.devtools.tiny_model import build_tiny_model

    deep = build_tiny_model(tmp_path / "deep", seed=0, num_layers=32)
    assert checker(deep, False) is None
    before = _resident_mib(checker.pid)
    for _ in range(200):
        assert checker(deep, False) is None
    assert _resident_mib(checker.pid) - before < 30


def _resident_mib(pid) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) // 1024
