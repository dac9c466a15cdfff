"""Supervised fine-tuning: mlx-lm's trainer, driven and observed through its two hooks.

mlx-lm's `train` loop takes an `iterate_batches` function and a `TrainingCallback`.
The batch source below runs between iterations, so it is where checkpoints,
validation, cancellation and early stopping happen: ending the batch stream ends
training cleanly. The callback turns mlx-lm's loss reports into TrainReport events.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import mlx_lm
import numpy as np
from mlx_lm.tuner.callbacks import TrainingCallback
from mlx_lm.tuner.datasets import CacheDataset, ChatDataset, TextDataset
from mlx_lm.tuner.trainer import TrainingArgs, evaluate, iterate_batches, train

from droidft.v1 import progress_pb2

from ..domain import events
from ..domain.datasets.training_data import read_job_data
from .adapters import AdapterCheckpoints, set_up_adapter
from .contract import TrainingContext, TrainingResult
from .schedule import Schedule


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


class _SftLoop(TrainingCallback):
    """The batch source and report callback handed to mlx-lm's train."""

    def __init__(
        self, ctx: TrainingContext, model: nn.Module, valid_set: CacheDataset | None, checkpoints: AdapterCheckpoints
    ) -> None:
        self._ctx = ctx
        self._settings = ctx.settings
        self._accumulation = ctx.settings.sft.grad_accumulation_steps
        self._model = model
        self._valid_set = valid_set
        self.schedule = Schedule(ctx, checkpoints, self.evaluate if valid_set is not None else None)
        self.completed = 0  # optimizer steps done
        self._last_report_step = 0  # micro-batches, as mlx-lm counts
        self._warned_truncation = False

    @property
    def micro_steps_per_report(self) -> int:
        return self._settings.report_every * self._accumulation

    def batches(self, dataset, batch_size, max_seq_length, loop=False, comm_group=None, seed=None):
        """mlx-lm's endless batch stream (shuffled by numpy's generator, which the worker seeded),
        with the between-iteration work before each optimizer step; that work may end the stream."""
        source = iterate_batches(dataset, batch_size, max_seq_length, loop=True, comm_group=comm_group)
        micro_steps = 0
        while True:
            if micro_steps % self._accumulation == 0:
                self.completed = micro_steps // self._accumulation
                if self.schedule.after(self.completed):
                    return
            batch = next(source)
            self._warn_once_if_truncated(batch, max_seq_length)
            yield batch
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
        if not self.schedule.stop_reason:
            self.completed = self._settings.iterations
            self.schedule.after(self.completed)
        return self.schedule.finish(self.completed)

    def on_train_loss_report(self, train_info: dict) -> None:
        micro_step = train_info["iteration"]
        # mlx-lm divides a full report interval by the time taken, even for a shorter last interval.
        seconds = self.micro_steps_per_report / train_info["iterations_per_second"]
        iterations = (micro_step - self._last_report_step) / self._accumulation
        self._last_report_step = micro_step
        self._ctx.emit(
            events.train_report(
                events.TrainFigures(
                    iteration=micro_step // self._accumulation,
                    total_iterations=self._settings.iterations,
                    loss=float(train_info["train_loss"]),
                    learning_rate=float(train_info["learning_rate"]),
                    iterations_per_second=iterations / seconds,
                    tokens_per_second=float(train_info["tokens_per_second"]),
                    trained_tokens=int(train_info["trained_tokens"]),
                    peak_memory_bytes=mx.get_peak_memory(),
                )
            )
        )


def train_sft(ctx: TrainingContext) -> TrainingResult:
    settings = ctx.settings
    sft = settings.sft
    model, tokenizer = mlx_lm.load(settings.model_path)
    data = read_job_data(settings.train_data_path, settings.val_data_path, settings.method)
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
    loop = _SftLoop(ctx, model, valid_set, checkpoints)
    micro_steps = settings.iterations * sft.grad_accumulation_steps
    args = TrainingArgs(
        batch_size=settings.batch_size,
        iters=micro_steps,
        steps_per_report=loop.micro_steps_per_report,
        steps_per_save=micro_steps + 1,  # checkpoints are written by the batch source
        max_seq_length=settings.max_seq_length,
        adapter_file=str(checkpoints.final_path),
        grad_checkpoint=sft.grad_checkpoint,
        grad_accumulation_steps=sft.grad_accumulation_steps,
    )
    optimizer = optim.Adam(learning_rate=settings.learning_rate)
    # Validation runs in the batch source (val_dataset=None), on droidft's schedule.
    train(model, optimizer, train_set, None, args, iterate_batches=loop.batches, training_callback=loop)
    return loop.finish()
