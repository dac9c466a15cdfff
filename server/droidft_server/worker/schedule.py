"""What happens between training iterations, for every trainer: checkpoints, validation,
cancellation, early stopping, and the result once training ends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from droidft.v1 import progress_pb2

from ..domain import events
from .adapters import AdapterCheckpoints
from .contract import TrainingContext, TrainingResult


@dataclass(frozen=True)
class Watched:
    """The validation figure early stopping watches, named as the stop message names it."""

    name: str
    higher_is_better: bool = False


VALIDATION_LOSS = Watched("validation loss")
VALIDATION_REWARD = Watched("validation reward", higher_is_better=True)


class Schedule:
    """The between-iteration decisions of one run.

    `validate(iteration)` runs one validation, emits its EvalReport and returns the watched figure;
    a trainer whose validation runs inside a library's loop passes none and hands each figure to `record`.

    After each iteration (`after`): validation when due, then a checkpoint when due or when a stop was asked
    for, then the decision to stop. A checkpoint so holds everything up to the end of that iteration's
    work, and a run resumed from it (`resumed`) goes on with the next iteration, as the uninterrupted
    run would have; only a validation a stop skipped is run first.
    """

    def __init__(
        self,
        ctx: TrainingContext,
        checkpoints: AdapterCheckpoints,
        validate: Callable[[int], float] | None = None,
        watched: Watched = VALIDATION_LOSS,
    ) -> None:
        self._ctx, self._settings = ctx, ctx.settings
        self._checkpoints = checkpoints
        self._validate = validate
        self._watched = watched
        self._best = -float("inf") if watched.higher_is_better else float("inf")
        self._best_iteration: int | None = None
        self._evals_without_improvement = 0
        self._early_stopped = False
        self.stop_reason = ""
        checkpoints.schedule_state = self.state

    def state(self) -> dict:
        """Early stopping's figures, for a checkpoint (JSON: an infinite best is written as null)."""
        finite = self._best not in (float("inf"), -float("inf"))
        return {
            "best": self._best if finite else None,
            "best_iteration": self._best_iteration,
            "evals_without_improvement": self._evals_without_improvement,
        }

    def validate(self, iteration: int) -> None:
        self.record(self._validate(iteration), iteration)

    def record(self, figure: float, iteration: int) -> None:
        """A validation figure of the weights after `iteration` iterations; with early_stop, the best weights
        are kept, since an early stop comes `patience` evaluations after them."""
        improved = figure > self._best if self._watched.higher_is_better else figure < self._best
        if improved:
            self._best, self._best_iteration, self._evals_without_improvement = figure, iteration, 0
            if self._settings.early_stop:
                self._checkpoints.keep_best(iteration)
        else:
            self._evals_without_improvement += 1

    def _validation_due(self, iteration: int) -> bool:
        settings = self._settings
        return self._validate is not None and (iteration % settings.eval_every == 0 or iteration == settings.iterations)

    def after(self, iteration: int) -> bool:
        """The work after `iteration` iterations (see the class); True when training must stop, `stop_reason`
        saying why."""
        settings = self._settings
        # A stop asked for during the last iteration comes too late to change anything: the job did all it
        # was asked, so it finishes (validated, SUCCEEDED) rather than ending CANCELLED.
        stop = self._ctx.should_stop() if iteration < settings.iterations else False
        validation_skipped = bool(stop) and self._validation_due(iteration)
        if not stop and self._validation_due(iteration):
            self.validate(iteration)
        if iteration and (iteration % settings.checkpoint_every == 0 or stop):
            self._checkpoints.save(iteration, validation_pending=validation_skipped)
        if stop:
            return self._stop(f"{stop if isinstance(stop, str) else 'cancelled'} after iteration {iteration}")
        return self._early_stop_due(iteration)

    def resumed(self, iteration: int, state: dict) -> bool:
        """Take up a checkpoint's schedule state after `iteration`: run the validation its stop skipped, if
        any; True when training must stop (an early stop that validation decides)."""
        best = state.get("best")
        if best is not None:
            self._best = best
        self._best_iteration = state.get("best_iteration")
        self._evals_without_improvement = state.get("evals_without_improvement", 0)
        if not state.get("validation_pending"):
            return False
        self.validate(iteration)
        return self._early_stop_due(iteration)

    def _early_stop_due(self, iteration: int) -> bool:
        if self._settings.early_stop and self._evals_without_improvement >= self._settings.patience:
            self._early_stopped = True
            return self._stop(
                f"early stop after iteration {iteration}: {self._watched.name} did not improve for "
                f"{self._evals_without_improvement} evaluations (best {self._best:.4f})"
            )
        return False

    def _stop(self, reason: str) -> bool:
        self.stop_reason = reason
        self._ctx.emit(events.log(progress_pb2.LOG_LEVEL_INFO, reason))
        return True

    def finish(self, iteration: int) -> TrainingResult:
        """Save the final adapter: after an early stop the best weights (the message says from which
        iteration), else the weights as trained for `iteration` iterations; the run's result."""
        if self._early_stopped and self._best_iteration is not None:
            adapter_path = self._checkpoints.save_final(self._best_iteration, best=True)
            message = (f"{self.stop_reason}; the adapter is the best, from iteration {self._best_iteration} "
                       f"({self._watched.name} {self._best:.4f})")  # fmt: skip
        else:
            adapter_path = self._checkpoints.save_final(iteration)
            message = self.stop_reason or f"trained {iteration} iterations"
        return TrainingResult(adapter_path=adapter_path, stopped_early=bool(self.stop_reason), message=message)
