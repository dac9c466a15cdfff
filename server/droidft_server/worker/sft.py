"""Supervised fine-tuning: mlx-lm's trainer, driven and observed through its two hooks.

mlx-lm's `train` loop takes an `iterate_batches` function and a `TrainingCallback`.
The batch source below runs between iterations, so it is where checkpoints,
validation, cancellation and early stopping happen: ending the batch stream ends
training cleanly. The callback turns mlx-lm's loss reports into TrainReport events.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import mlx_lm
import numpy as np
from mlx_lm.tuner.callbacks import TrainingCallback
from mlx_lm.tuner.datasets import CacheDataset, ChatDataset, TextDataset
from mlx_lm.tuner.trainer import TrainingArgs, default_loss, evaluate, iterate_batches, train

from droidft.v1 import progress_pb2

from ..domain import events
from ..domain.datasets.training_data import read_job_data
from .adapters import AdapterCheckpoints, set_up_adapter
from .contract import TrainingContext, TrainingResult
from .distributed import world
from .optimizers import build_optimizer
from .schedule import Schedule
from .training_state import restore_random


def _text(examples: list[dict], tokenizer: Any, mask_prompt: bool) -> TextDataset:
    return TextDataset(examples, tokenizer)  # preflight refuses mask_prompt for text data


class PromptCompletionDataset(ChatDataset):
    """Conversations whose first `prompt_turns` turns are the prompt, as instruction_response's
    to_example makes them: mask_prompt masks exactly those (mlx-lm's ChatDataset masks all turns but
    the last, which is the same only for a one-turn completion). A string pair renders as mlx-lm's
    CompletionsDataset renders it: one user turn, one assistant turn."""

    def process(self, example: dict) -> tuple[list[int], int]:
        messages, prompt_turns = example["messages"], example["prompt_turns"]
        tokens = self.tokenizer.apply_chat_template(messages, return_dict=False)
        if not self.mask_prompt:
            return tokens, 0
        prompt = self.tokenizer.apply_chat_template(
            messages[:prompt_turns],
            add_generation_prompt=messages[prompt_turns]["role"] == "assistant",
            return_dict=False,
        )
        return tokens, len(prompt)


def _chat(examples: list[dict], tokenizer: Any, mask_prompt: bool) -> ChatDataset:
    # mlx-lm's ChatDataset hands the example's "tools" to the chat template.
    return ChatDataset(examples, tokenizer, mask_prompt=mask_prompt)


# The dataset for each SFT format, over the examples Format.to_example made.
DATASETS: dict[str, Callable[[list[dict], Any, bool], Any]] = {
    "chat_messages": _chat,
    "sharegpt": _chat,
    "instruction_response": lambda examples, tokenizer, mask: PromptCompletionDataset(
        examples, tokenizer, mask_prompt=mask
    ),
    "text": _text,
}


def _target_tokens(batch: mx.array, lengths: mx.array) -> mx.array:
    """The tokens default_loss averages over: each row's targets from its prompt offset to its length."""
    steps = mx.arange(1, batch.shape[1])
    return mx.logical_and(steps >= lengths[:, 0:1], steps <= lengths[:, 1:]).sum()


def with_global_share(batch: tuple[mx.array, mx.array]) -> tuple[mx.array, mx.array, mx.array]:
    """A rank's batch and its share of the whole batch's target tokens, times the number of ranks.

    mlx-lm averages the ranks' mean losses and gradients, which weighs a token on a rank with few tokens
    more than one on a rank with many; scaled by this share (see ranks_loss), the average is the mean over
    every token of the global batch, as one process computes it."""
    group = world()
    tokens = _target_tokens(*batch)
    total = mx.distributed.all_sum(tokens, stream=mx.cpu)
    return (*batch, tokens.astype(mx.float32) * group.size() / total.astype(mx.float32))


def ranks_loss(model: nn.Module, batch: mx.array, lengths: mx.array, share: mx.array) -> tuple[mx.array, mx.array]:
    """default_loss weighted by the rank's share of the global batch's tokens (with_global_share)."""
    loss, tokens = default_loss(model, batch, lengths)
    return loss * mx.stop_gradient(share), tokens


@dataclass
class _ReportWindow:
    """The micro-steps since the last train report."""

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    tokens: int = 0


class _SftLoop(TrainingCallback):
    """The batch source and report callback handed to mlx-lm's train.

    mlx-lm counts its steps from 1 in each call; a resumed run starts after the checkpoint's iteration,
    so the loop counts micro-steps over the whole run. mlx-lm reports every micro-step here, and the
    loop sums them into a TrainReport every report_every iterations of the whole run, so a resumed run
    reports at the iterations an uninterrupted one does (and a stopped run reports its last iterations).
    """

    def __init__(
        self, ctx: TrainingContext, model: nn.Module, valid_set: CacheDataset | None, checkpoints: AdapterCheckpoints
    ) -> None:
        self._ctx = ctx
        self._settings = ctx.settings
        self._accumulation = ctx.settings.grad_accumulation_steps
        self._model = model
        self._valid_set = valid_set
        self.schedule = Schedule(ctx, checkpoints, self.evaluate if valid_set is not None else None)
        resume = ctx.resume
        self.start = resume.iteration if resume is not None else 0  # iterations trained before this run
        self.completed = self.start  # optimizer steps done
        self.trained_tokens = int(resume.trainer["trained_tokens"]) if resume is not None else 0
        self._window = _ReportWindow()
        self._learning_rate = self._settings.learning_rate
        self._warned_truncation = False
        self._distributed = world().size() > 1

    def trainer_state(self) -> dict:
        return {"trained_tokens": self.trained_tokens}

    def batches(self, dataset, batch_size, max_seq_length, loop=False, comm_group=None, seed=None):
        """mlx-lm's endless batch stream (shuffled by numpy's generator, which the worker seeded),
        with the between-iteration work before each optimizer step; that work may end the stream."""
        source = iterate_batches(dataset, batch_size, max_seq_length, loop=True, comm_group=comm_group)
        micro_steps = self.start * self._accumulation
        resume = self._ctx.resume
        if resume is not None:
            # The batch order follows from the seed alone: draw (and drop) the batches already trained on,
            # then take up the random generators as the checkpoint holds them.
            for _ in range(micro_steps):
                next(source)
            restore_random(resume.random)
            if self.schedule.resumed(self.start, resume.schedule):
                return
        resumed_at = micro_steps if resume is not None else None  # that boundary's work was done above
        while True:
            if micro_steps % self._accumulation == 0 and micro_steps != resumed_at:
                self.completed = micro_steps // self._accumulation
                if self.schedule.after(self.completed):
                    self.report()
                    return
            batch = next(source)
            self._warn_once_if_truncated(batch, max_seq_length)
            yield with_global_share(batch) if self._distributed else batch
            micro_steps += 1

    def _warn_once_if_truncated(self, batch: tuple[mx.array, mx.array], max_seq_length: int) -> None:
        # A batch is (tokens, (prompt offset, length) rows) with lengths already cut to max_seq_length.
        if not self._warned_truncation and int(batch[1][:, 1].max()) >= max_seq_length:
            self._warned_truncation = True
            self._ctx.emit(
                events.log(
                    progress_pb2.LOG_LEVEL_WARNING,
                    f"some records are longer than max_seq_length={max_seq_length} tokens and are truncated",
                )
            )

    def evaluate(self, iteration: int) -> float:
        # Validation draws batches from numpy's global generator; keep training's batch order independent of it.
        random_state = np.random.get_state()
        tic = time.perf_counter()
        val_loss = evaluate(
            model=self._model,
            dataset=self._valid_set,
            batch_size=self._settings.batch_size,
            num_batches=self._settings.eval_batches,
            max_seq_length=self._settings.max_seq_length,
        )
        seconds = time.perf_counter() - tic
        self._model.train()
        np.random.set_state(random_state)
        self._ctx.emit(events.eval_report(iteration, val_loss, seconds))
        return val_loss

    def finish(self) -> TrainingResult:
        """After mlx-lm's loop: when training ran to the end, the schedule's work after the last iteration
        (mlx-lm draws no batch after it); then the adapter."""
        ran_to_the_end = not self.schedule.stop_reason and self.start < self._settings.iterations
        if ran_to_the_end:  # (a run resumed from a checkpoint of the last iteration had it done already)
            self.completed = self._settings.iterations
            self.schedule.after(self.completed)
        return self.schedule.finish(self.completed)

    def on_train_loss_report(self, train_info: dict) -> None:
        """mlx-lm's report of one micro-step (steps_per_report=1)."""
        window = self._window
        window.losses.append(float(train_info["train_loss"]))
        window.seconds += 1 / train_info["iterations_per_second"]
        tokens = round(train_info["tokens_per_second"] / train_info["iterations_per_second"])
        window.tokens += tokens
        self.trained_tokens += tokens
        self._learning_rate = float(train_info["learning_rate"])
        micro_step = self.start * self._accumulation + int(train_info["iteration"])
        if micro_step % self._accumulation == 0:
            iteration = micro_step // self._accumulation
            if iteration % self._settings.report_every == 0 or iteration == self._settings.iterations:
                self.report(iteration)

    def report(self, iteration: int | None = None) -> None:
        """A TrainReport of the window's micro-steps, after `iteration` (default: the last completed)."""
        window = self._window
        if not window.losses:
            return
        iterations = len(window.losses) / self._accumulation
        self._ctx.emit(
            events.train_report(
                events.TrainFigures(
                    iteration=self.completed if iteration is None else iteration,
                    total_iterations=self._settings.iterations,
                    loss=float(np.mean(window.losses)),
                    learning_rate=self._learning_rate,
                    iterations_per_second=iterations / window.seconds,
                    tokens_per_second=window.tokens / window.seconds,
                    trained_tokens=self.trained_tokens,
                    peak_memory_bytes=mx.get_peak_memory(),
                )
            )
        )
        self._window = _ReportWindow()


def train_sft(ctx: TrainingContext) -> TrainingResult:
    settings = ctx.settings
    sft = settings.sft
    model, tokenizer = mlx_lm.load(settings.model_path)
    data = read_job_data(ctx.data)
    build = DATASETS[data.format]
    train_set = CacheDataset(build(data.train, tokenizer, sft.mask_prompt))
    valid_set = CacheDataset(build(data.valid, tokenizer, sft.mask_prompt)) if data.valid is not None else None

    checkpoints = set_up_adapter(
        ctx,
        model,
        settings.adapter,
        f"{len(train_set)} training records"
        + (f", {len(valid_set)} validation records" if valid_set is not None else ""),
    )
    optimizer = build_optimizer(settings)
    loop = _SftLoop(ctx, model, valid_set, checkpoints)
    checkpoints.track(optimizer, loop.trainer_state)
    if ctx.resume is not None:
        checkpoints.restore(ctx.resume)  # before train() captures the optimizer state for its compiled step
    micro_steps = (settings.iterations - loop.start) * settings.grad_accumulation_steps
    args = TrainingArgs(
        batch_size=settings.batch_size,
        iters=micro_steps,
        steps_per_report=1,  # the loop sums micro-steps into reports (see _SftLoop)
        steps_per_save=micro_steps + 1,  # checkpoints are written by the batch source
        max_seq_length=settings.max_seq_length,
        adapter_file=str(checkpoints.final_path),
        grad_checkpoint=sft.grad_checkpoint,
        grad_accumulation_steps=settings.grad_accumulation_steps,
    )
    # Validation runs in the batch source (val_dataset=None), on droidft's schedule.
    if micro_steps:
        loss = ranks_loss if world().size() > 1 else default_loss
        train(model, optimizer, train_set, None, args, loss, iterate_batches=loop.batches, training_callback=loop)
    return loop.finish()
