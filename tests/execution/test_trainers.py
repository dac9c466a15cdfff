import pytest

from droidft_server.worker.trainers import TRAINERS, trainer_for


def test_every_registered_trainer_is_found_and_an_unknown_method_is_refused_clearly():
    assert "sft" in TRAINERS
    assert all(trainer_for(method) is TRAINERS[method] for method in TRAINERS)
    with pytest.raises(ValueError, match=r"no trainer for method 'nope'; this server trains: .*sft"):
        trainer_for("nope")
