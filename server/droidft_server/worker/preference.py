"""DPO, ORPO and CPO on {prompt, chosen, rejected, system?} records, through mlx-lm-lora's trainers.

mlx-lm-lora's train_dpo / train_orpo / train_cpo run the loop; droidft hooks in through their
loss argument and their callback:
- Losses: theirs, wrapped. Their "accuracies" compares batch-mean rewards (one 0/1 per batch);
  the wrappers report the per-pair reward accuracy and margin. Their CPO loss lacks the
  paper's NLL term on the chosen response (arXiv 2401.08417, eq. 6); the wrapper adds it
  (token-mean NLL, weight 1).
- The callback is called after every iteration (steps_per_report=1): it sums figures into a
  TrainReport every report_every iterations, writes checkpoints, and raises to stop on cancel
  or early stop (the adapter is then saved here: their loop's final save is skipped).
- Their trainers read mx.device_info()["max_recommended_working_set_size"], which the CPU
  backend does not report: the key is supplied (0, no wired limit) while they run.
- Validation runs on droidft's schedule, through their evaluators: before training and after every
  eval_every iterations and the last one (their loop would validate before updates, never after
  the last, and count a resumed run's iterations from 1). A resumed run starts their loop afresh
  for the iterations left, with the optimizer state and numpy's generator (their batch order) of
  its checkpoint.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import mlx.core as mx
import mlx_lm
import numpy as np
from mlx_lm.tuner.callbacks import TrainingCallback
from mlx_lm_lora.trainer import cpo_trainer, dpo_trainer, orpo_trainer

from ..domain import events
from ..domain.datasets.training_data import read_job_data
from .adapters import set_up_adapter
from .contract import TrainingContext, TrainingResult
from .optimizers import build_optimizer
from .schedule import Schedule
from .training_state import restore_random

WORKING_SET_KEY = "max_recommended_working_set_size"


@contextlib.contextmanager
def cpu_device_info() -> Iterator[None]:
    """Let mlx-lm-lora's trainers read a working-set size on backends that report none."""
    original = mx.device_info

    def device_info() -> dict:
        info = dict(original())
        info.setdefault(WORKING_SET_KEY, 0)
        return info

    mx.device_info = device_info
    try:
        yield
    finally:
        mx.device_info = original


_compile_disabled_depth = 0  # compile_disabled nests: validation runs inside the CPO loop, and also before it


@contextlib.contextmanager
def compile_disabled() -> Iterator[None]:
    global _compile_disabled_depth
    if _compile_disabled_depth == 0:
        mx.disable_compile()
    _compile_disabled_depth += 1
    try:
        yield
    finally:
        _compile_disabled_depth -= 1
        if _compile_disabled_depth == 0:
            mx.enable_compile()


def _pair_metrics(metrics: dict, chosen_rewards: mx.array, rejected_rewards: mx.array) -> dict:
    return {
        **metrics,
        "accuracies": (chosen_rewards > rejected_rewards).astype(mx.float32).mean(),
        "margins": (chosen_rewards - rejected_rewards).mean(),
    }


def dpo_pair_loss(**kwargs):
    """mlx-lm-lora's DPO loss (sigmoid, ipo, hinge) with per-pair reward accuracy and margin."""
    loss, reward, tokens, metrics = dpo_trainer.dpo_loss(**kwargs)
    beta = kwargs["beta"]
    chosen = beta * (kwargs["policy_chosen_score"] - kwargs["reference_chosen_score"])
    rejected = beta * (kwargs["policy_rejected_score"] - kwargs["reference_rejected_score"])
    return loss, reward, tokens, _pair_metrics(metrics, chosen, rejected)


def cpo_pair_loss(**kwargs):
    """CPO: the preference term -log sigmoid(beta (log pi(y_w) - log pi(y_l))) plus NLL on y_w."""
    loss, reward, tokens, metrics = cpo_trainer.cpo_loss(**kwargs)
    chosen_tokens = mx.maximum(kwargs["chosen_masks"][:, 1:].sum(-1), 1)
    nll = (-kwargs["policy_chosen_score"] / chosen_tokens).mean()
    beta = kwargs["beta"]
    metrics = _pair_metrics(metrics, beta * kwargs["policy_chosen_score"], beta * kwargs["policy_rejected_score"])
    # Their trainer accepts only its own metric names, so the NLL is not reported separately.
    return loss + nll, reward, tokens, metrics


def orpo_pair_loss(**kwargs):
    """mlx-lm-lora's ORPO loss (NLL - beta log sigmoid(log odds ratio)) with per-pair accuracy."""
    loss, reward, tokens, metrics = orpo_trainer.orpo_loss(**kwargs)
    beta = kwargs["beta"]
    chosen = beta * kwargs["chosen_logps"] * kwargs["preference_scores"]
    return loss, reward, tokens, _pair_metrics(metrics, chosen, beta * kwargs["rejected_logps"])


class _Stop(Exception):
    """Raised from the callback to end mlx-lm-lora's loop between iterations."""


# Figures of mlx-lm-lora's reports -> TrainReport / EvalReport metric names.
METRIC_NAMES = {
    "accuracies": "reward_accuracy",
    "margins": "reward_margin",
    "chosen_reward": "chosen_reward",
    "rejected_reward": "rejected_reward",
}


def _metrics(info: dict, prefix: str) -> dict[str, float]:
    return {ours: float(info[prefix + theirs]) for theirs, ours in METRIC_NAMES.items() if prefix + theirs in info}


class PreferenceLoop(TrainingCallback):
    """mlx-lm-lora's callback, called after every iteration: reports, validation, checkpoints, cancel, early stop.

    Their loop counts micro-batches from 1 in each call (grad_accumulation_steps of them make an iteration,
    one optimizer update); a run resumed after iteration `start` adds it.
    """

    def __init__(self, ctx: TrainingContext, start: int = 0, trained_tokens: int = 0) -> None:
        self._ctx, self._settings = ctx, ctx.settings
        self.schedule: Schedule | None = None
        self.start = start
        self.completed = start
        self._accumulation = ctx.settings.grad_accumulation_steps
        self._window: list[dict] = []
        self._window_started = time.perf_counter()
        self._tokens_at_start = trained_tokens
        self.trained_tokens = trained_tokens
        self._tokens_before_window = trained_tokens

    def trainer_state(self) -> dict:
        return {"trained_tokens": self.trained_tokens}

    def on_train_loss_report(self, train_info: dict) -> None:
        """Their report of one micro-batch (steps_per_report=1)."""
        self._window.append(train_info)
        self.trained_tokens = self._tokens_at_start + int(train_info["trained_tokens"])
        micro_batch = int(train_info["iteration"])
        if micro_batch % self._accumulation:
            return  # the optimizer update comes with the iteration's last micro-batch
        self.completed = self.start + micro_batch // self._accumulation
        if self.completed % self._settings.report_every == 0 or self.completed == self._settings.iterations:
            self.report()
        if self.schedule.after(self.completed):
            self.report()
            raise _Stop(self.schedule.stop_reason)

    def report(self) -> None:
        if not self._window:
            return
        seconds = max(time.perf_counter() - self._window_started, 1e-9)
        per_iteration = [_metrics(info, "train_") for info in self._window]
        self._ctx.emit(
            events.train_report(
                events.TrainFigures(
                    iteration=self.completed,
                    total_iterations=self._settings.iterations,
                    loss=float(np.mean([info["train_loss"] for info in self._window])),
                    learning_rate=float(self._window[-1]["learning_rate"]),
                    iterations_per_second=len(self._window) / self._accumulation / seconds,
                    tokens_per_second=(self.trained_tokens - self._tokens_before_window) / seconds,
                    trained_tokens=self.trained_tokens,
                    peak_memory_bytes=mx.get_peak_memory(),
                    metrics={name: float(np.mean([m[name] for m in per_iteration])) for name in per_iteration[-1]},
                )
            )
        )
        self._window = []
        self._window_started = time.perf_counter()
        self._tokens_before_window = self.trained_tokens

    def validation(self, evaluate: Callable[[], tuple]) -> Callable[[int], float]:
        """The schedule's validation: `evaluate` is mlx-lm-lora's evaluator of the method, bound to its data."""

        def validate(iteration: int) -> float:
            tic = time.perf_counter()
            val_loss, rewards, _, metrics = evaluate()
            seconds = time.perf_counter() - tic
            figures = {"val_chosen_reward": rewards[0], "val_rejected_reward": rewards[1]}
            figures.update({f"val_{name}": value for name, value in metrics.items()})
            event = events.eval_report(iteration, float(val_loss), seconds)
            event.eval_report.metrics.update(_metrics(figures, "val_"))
            self._ctx.emit(event)
            self._window_started += seconds  # validation time is not training time
            return float(val_loss)

        return validate


@dataclass(frozen=True)
class _Method:
    needs_reference: bool
    train: Callable[..., None]  # (model, ref_model, optimizer, train_set, args, callback)
    evaluate: Callable[..., tuple]  # (model, ref_model, valid_set, args) -> (loss, rewards, tokens, metrics)


def _args(settings, iterations: int, adapter_file: str, args_class=dpo_trainer.DPOTrainingArgs, **method_args):
    return args_class(
        batch_size=settings.batch_size,
        iters=iterations,
        val_batches=settings.eval_batches,
        steps_per_report=1,
        steps_per_eval=iterations + 1,  # validation runs on droidft's schedule (see train_preference)
        steps_per_save=iterations + 1,  # checkpoints are written by the callback
        max_seq_length=settings.max_seq_length,
        adapter_file=adapter_file,
        beta=settings.preference.beta,
        gradient_accumulation_steps=settings.grad_accumulation_steps,
        **method_args,
    )


def _train_dpo(model, ref_model, optimizer, train_set, args, callback):
    dpo_trainer.train_dpo(
        model,
        ref_model,
        optimizer,
        train_set,
        None,
        args,
        loss_fn=dpo_pair_loss,
        training_callback=callback,
        loss_type=args.loss_type,
    )


def _pair_evaluation(valid_set, args) -> dict:
    """The arguments mlx-lm-lora's DPO and CPO evaluators share, from the run's."""
    return {
        "dataset": valid_set,
        "batch_size": args.batch_size,
        "num_batches": args.val_batches,
        "beta": args.beta,
        "delta": args.delta,
        "max_seq_length": args.max_seq_length,
        "loss_type": args.loss_type,
    }


def _evaluate_dpo(model, ref_model, valid_set, args):
    return dpo_trainer.evaluate_dpo(
        model=model, ref_model=ref_model, loss_fn=dpo_pair_loss, **_pair_evaluation(valid_set, args)
    )


def _train_cpo(model, ref_model, optimizer, train_set, args, callback):
    # Their compiled CPO step fails on the CPU backend (IndexError "_Map_base::at"); run it eagerly.
    with compile_disabled():
        cpo_trainer.train_cpo(
            model, optimizer, train_set, None, args, loss_fn=cpo_pair_loss, training_callback=callback
        )


def _evaluate_cpo(model, ref_model, valid_set, args):
    with compile_disabled():
        return cpo_trainer.evaluate_cpo(model=model, loss_fn=cpo_pair_loss, **_pair_evaluation(valid_set, args))


def _train_orpo(model, ref_model, optimizer, train_set, args, callback):
    orpo_trainer.train_orpo(
        model, optimizer, train_set, None, loss=orpo_pair_loss, args=args, training_callback=callback
    )


def _evaluate_orpo(model, ref_model, valid_set, args):
    return orpo_trainer.evaluate_orpo(
        model=model,
        dataset=valid_set,
        batch_size=args.batch_size,
        num_batches=args.val_batches,
        beta=args.beta,
        max_seq_length=args.max_seq_length,
    )


METHODS = {
    "dpo": _Method(True, _train_dpo, _evaluate_dpo),
    "cpo": _Method(False, _train_cpo, _evaluate_cpo),
    "orpo": _Method(False, _train_orpo, _evaluate_orpo),
}
ARGS_CLASSES = {"orpo": orpo_trainer.ORPOTrainingArgs}


class PreferencePairs:
    """Chosen and rejected conversations as token ids, each with the length of the prompt they share,
    as the DPO, CPO and ORPO trainers of mlx-lm-lora take them.

    Built from the examples Format.to_example made (prompt turns, then each answer's assistant
    turns), so string and message-list records render through the same chat template. A template
    that can think is told not to, or the generation prompt would not be a prefix of the answers.
    """

    def __init__(self, examples: list[dict], tokenizer: Any) -> None:
        template = {"enable_thinking": False} if getattr(tokenizer, "has_thinking", False) else {}
        self._items = []
        for example in examples:
            prompt = example["prompt"]
            prompt_length = len(tokenizer.apply_chat_template(prompt, add_generation_prompt=True, **template))
            self._items.append(
                {
                    "chosen": tokenizer.apply_chat_template(prompt + example["chosen"], **template),
                    "rejected": tokenizer.apply_chat_template(prompt + example["rejected"], **template),
                    "chosen_prompt_length": prompt_length,
                    "rejected_prompt_length": prompt_length,
                    "preference_score": 1.0,
                }
            )

    def __getitem__(self, index: int) -> dict:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def process(self, item: dict) -> dict:
        return item


def train_preference(ctx: TrainingContext) -> TrainingResult:
    """The trainer of "dpo", "orpo" and "cpo"."""
    settings = ctx.settings
    method = METHODS[settings.method]
    mx.random.seed(settings.seed)
    np.random.seed(settings.seed)  # their batch order
    data = read_job_data(ctx.data)

    model, tokenizer = mlx_lm.load(settings.model_path)
    ref_model = None
    if method.needs_reference:
        ref_model, _ = mlx_lm.load(settings.model_path)
        ref_model.freeze()
    train_set = PreferencePairs(data.train, tokenizer)
    valid_set = PreferencePairs(data.valid, tokenizer) if data.valid is not None else None
    checkpoints = set_up_adapter(ctx, model, settings.adapter, f"{len(train_set)} preference pairs")
    resume = ctx.resume
    start = resume.iteration if resume is not None else 0
    loop = PreferenceLoop(ctx, start, int(resume.trainer["trained_tokens"]) if resume is not None else 0)
    method_args = {"loss_type": settings.preference.loss_type} if settings.method == "dpo" else {}
    args = _args(
        settings,
        (settings.iterations - start) * settings.grad_accumulation_steps,  # their iterations are micro-batches
        str(checkpoints.final_path),
        ARGS_CLASSES.get(settings.method, dpo_trainer.DPOTrainingArgs),
        **method_args,
    )
    # Validation runs here, after iterations (0, every eval_every, the last), as for every method; their loop
    # would validate before an update, never after the last one, and on its own count of a resumed run.
    validate = None
    if valid_set is not None:
        validate = loop.validation(lambda: method.evaluate(model, ref_model, valid_set, args))
    schedule = loop.schedule = Schedule(ctx, checkpoints, validate)
    optimizer = build_optimizer(settings)
    checkpoints.track(optimizer, loop.trainer_state)
    if resume is not None:
        checkpoints.restore(resume)  # before their loop captures the optimizer state for its compiled step
        restore_random(resume.random)  # numpy's generator is their batch order
        if schedule.resumed(start, resume.schedule):
            return schedule.finish(start)
    elif validate is not None:
        schedule.validate(0)
    if start < settings.iterations:
        try:
            with cpu_device_info():
                method.train(model, ref_model, optimizer, train_set, args, loop)
        except _Stop:
            pass
    return schedule.finish(loop.completed)
