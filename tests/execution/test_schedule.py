"""Between iterations: a stop asked for during the last iteration changes nothing, one asked for earlier stops
with a checkpoint; a validation a stop skipped is run first when the run resumes."""

from types import SimpleNamespace

from droidft_server.worker.schedule import Schedule


class _Checkpoints:
    def __init__(self):
        self.saved: list[int] = []
        self.notes: list[dict] = []
        self.best: list[int] = []
        self.schedule_state = dict

    def save(self, iteration: int, **notes) -> None:
        self.saved.append(iteration)
        self.notes.append({**self.schedule_state(), **notes})

    def keep_best(self, iteration: int) -> None:
        self.best.append(iteration)

    def save_final(self, iteration: int, *, best: bool = False) -> str:
        return f"{'best' if best else 'final'}-{iteration}"


def _schedule(stop_requested: bool, validated: list[int], losses=None, **options) -> tuple[Schedule, _Checkpoints]:
    settings = SimpleNamespace(
        **{"iterations": 4, "checkpoint_every": 2, "eval_every": 100, "early_stop": False, "patience": 3, **options}
    )
    ctx = SimpleNamespace(settings=settings, should_stop=lambda: stop_requested, emit=lambda event: None)
    checkpoints = _Checkpoints()

    def validate(iteration: int) -> float:
        validated.append(iteration)
        return losses[iteration] if losses else 1.0

    return Schedule(ctx, checkpoints, validate), checkpoints


def test_a_stop_during_the_last_iteration_still_finishes_the_job_validated():
    validated: list[int] = []
    schedule, checkpoints = _schedule(stop_requested=True, validated=validated)
    assert schedule.after(4) is False
    result = schedule.finish(4)
    assert (result.stopped_early, result.message, validated, checkpoints.saved) == (
        False,
        "trained 4 iterations",
        [4],
        [4],
    )


def test_a_stop_before_the_last_iteration_stops_with_its_reason_and_a_checkpoint():
    schedule, checkpoints = _schedule(stop_requested=True, validated=[])
    assert schedule.after(3) is True
    assert checkpoints.saved == [3]
    result = schedule.finish(3)
    assert result.stopped_early and result.message == "cancelled after iteration 3"


def test_a_validation_a_stop_skipped_runs_first_when_the_run_resumes():
    validated: list[int] = []
    schedule, checkpoints = _schedule(stop_requested="paused", validated=validated, eval_every=3)
    assert schedule.after(3) is True
    assert validated == [] and checkpoints.notes[-1]["validation_pending"] is True
    resumed, _ = _schedule(stop_requested=False, validated=validated, eval_every=3)
    assert resumed.resumed(3, checkpoints.notes[-1]) is False
    assert validated == [3]
    assert resumed.after(4) is False and validated == [3, 4]  # the last iteration is always validated


def test_an_early_stop_keeps_the_best_weights_and_says_which_iteration_they_are_from():
    losses = {1: 2.0, 2: 0.5, 3: 0.7, 4: 0.9}
    schedule, checkpoints = _schedule(False, [], losses, iterations=10, eval_every=1, early_stop=True, patience=2)
    assert [schedule.after(i) for i in range(1, 5)] == [False, False, False, True]
    result = schedule.finish(4)
    assert checkpoints.best == [1, 2] and result.adapter_path == "best-2"
    assert result.stopped_early
    assert "the adapter is the best, from iteration 2 (validation loss 0.5000)" in result.message
