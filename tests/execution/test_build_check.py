"""The build-check worker (create's check that mlx-lm builds a model): mlx-lm's own reason for a model it cannot
build, a fresh worker after one died, and a build that hangs ended rather than waited on."""

import json
import os
import shutil
import signal

import pytest

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
    assert checker(tiny_model, True) is None
    broken = _copy(tiny_model, tmp_path, "no-intermediate-size")
    config = json.loads((broken / "config.json").read_text())
    del config["intermediate_size"]
    (broken / "config.json").write_text(json.dumps(config))
    assert checker(broken, True) == (
        "TypeError: ModelArgs.__init__() missing 1 required positional argument: 'intermediate_size'"
    )
    extra = _copy(tiny_model, tmp_path, "extra-tensor")  # as a reward model's score head is to its backbone
    weights = json.loads((extra / "config.json").read_text())
    weights["tie_word_embeddings"] = False  # lm_head.weight then missing: strict refuses, not strict builds
    (extra / "config.json").write_text(json.dumps(weights))
    assert checker(extra, True) == "ValueError: Missing 1 parameters: lm_head.weight."
    assert checker(extra, False) is None


def test_a_worker_that_died_is_started_again(checker, tiny_model):
    assert checker(tiny_model, True) is None
    first = checker.pid
    os.kill(first, signal.SIGKILL)  # the next check may find it alive still, or gone
    assert checker(tiny_model, True) is None
    assert checker.pid not in (None, first)


def test_a_build_that_hangs_is_ended_and_the_model_refused(checker, tiny_model, tmp_path):
    assert checker(tiny_model, True) is None  # the worker's start is not what this measures
    hanging = tmp_path / "hanging"
    hanging.mkdir()
    shutil.copy(tiny_model / "config.json", hanging)
    os.mkfifo(hanging / "model.safetensors")  # opening it waits for a writer that never comes
    checker.timeout = 1.0
    stuck = checker.pid
    assert checker(hanging, True) == "building it took over 1 s (the build check reads only headers)"
    checker.timeout = 120.0
    assert checker(tiny_model, True) is None
    assert checker.pid != stuck
