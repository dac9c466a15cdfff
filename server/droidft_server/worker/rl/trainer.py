"""The GRPO-family training loop: rollout, rewards, advantages, num_iterations updates.

One iteration = one rollout of batch_size prompts x group_size completions, scored once, then
num_iterations optimisation steps on it against the fixed pi_old log-probabilities, so that
from the second step on the ratios move away from 1 and clipping acts. With grad_accumulation_steps
A, an iteration samples A such rollouts (all before any update, so all on-policy) and each of its
steps averages their gradients into one update: the update of a batch of A x batch_size prompts.

Each step sees the policy as it is at that step, as it samples (eval mode, no adapter dropout):
its log-probabilities make the ratio, the clipping and the KL, and its entropies pick the
sparse-optimisation tokens (the paper's selection is of the current policy; a mask made at
rollout time drifts with every step). Before the first step that policy is pi_old itself, so
the first ratio is exactly 1. Adapter dropout stays a training regulariser: the gradient flows
through a forward pass with dropout, weighted by the dropout-free ratio and clip. With dropout
or sparse optimisation, each step after the first costs one more forward pass, without gradient.

Validation samples group_size completions per validation prompt; its val_loss is minus the
mean reward (what early stopping watches), its metrics the rewards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import mlx.core as mx
import mlx.nn as nn
import mlx_lm
import numpy as np
from mlx.utils import tree_map

from droidft.v1 import progress_pb2

from ...domain import events
from ...domain.datasets.training_data import DataChanged, read_job_data
from ...domain.rewards import RewardScores, score_completions
from ..adapters import AdapterCheckpoints, set_up_adapter
from ..contract import TrainingContext, TrainingResult
from ..distributed import all_mean, gathered, own_random_stream, rank_part, rank_share
from ..optimizers import build_optimizer
from ..schedule import VALIDATION_REWARD, Schedule
from ..training_state import TrainingState, generator_state, restore_random, set_generator_state
from .data import RlPrompt, rl_prompt
from .losses import group_advantages, policy_loss, top_entropy_mask, valued_as
from .method import PolicyMethod, chat_messages, policy_method, select_prompts
from .rollout import Rollout, log_probs_as_sampled, policy_log_probs, sample_rollout

SAMPLES_PER_REPORT = 3


@dataclass
class ReportWindow:
    """Figures gathered since the last train report."""

    started: float = field(default_factory=time.perf_counter)
    iterations: int = 0
    tokens: int = 0
    values: dict[str, list[float]] = field(default_factory=dict)
    samples: list[progress_pb2.SampleCompletion] = field(default_factory=list)

    def add(self, name: str, values) -> None:
        self.values.setdefault(name, []).extend(float(v) for v in np.ravel(values))

    def means(self) -> dict[str, float]:
        return {name: float(np.mean(v)) for name, v in self.values.items() if v}


def reward_metrics(scores: RewardScores) -> dict[str, list[float]]:
    """reward plus reward/<name> series (means and stds are taken when reporting)."""
    series = {"reward": scores.total}
    series.update({f"reward/{name}": values for name, values in scores.by_name.items()})
    return series


def summarise(series: dict[str, list[float]]) -> dict[str, float]:
    figures = {}
    for name, values in series.items():
        figures[f"{name}_mean"] = float(np.mean(values))
        figures[f"{name}_std"] = float(np.std(values))
    return figures


class PolicyTrainer:
    """State of one GRPO-family run; `run` drives it to the end, a cancel or an early stop."""

    REPORTED = ("clip_fraction", "kl", "completion_length", "entropy")  # train report means besides the rewards

    def __init__(
        self,
        ctx: TrainingContext,
        method: PolicyMethod,
        model: nn.Module,
        tokenizer,
        checkpoints: AdapterCheckpoints,
        ref_model=None,
    ):
        self.ctx, self.settings, self.method = ctx, ctx.settings, method
        self.model, self.tokenizer, self.ref_model = model, tokenizer, ref_model
        self.optimizer = build_optimizer(self.settings)
        self.rng = np.random.default_rng(self.settings.seed)
        self.checkpoints = checkpoints
        self.loss_and_grad = nn.value_and_grad(model, self._loss)
        self.trained_tokens = 0
        self._order: list[int] = []

    # --- one iteration -----------------------------------------------------------------------

    def tokens_of(self, prompt: RlPrompt) -> list[int]:
        tokens = self.tokenizer.apply_chat_template(chat_messages(prompt, self.method), add_generation_prompt=True)
        return list(tokens)[-self.settings.max_seq_length :]

    def next_batch(self, prompts: list[RlPrompt]) -> list[RlPrompt]:
        """batch_size prompts, each epoch in a fresh seeded order."""
        batch = []
        while len(batch) < self.settings.batch_size:
            if not self._order:
                self._order = list(self.rng.permutation(len(prompts)))
            batch.append(prompts[self._order.pop()])
        return batch

    def rollout(self, batch: list[RlPrompt]) -> tuple[Rollout, RewardScores]:
        rollout = sample_rollout(
            self.model, self.tokenizer, [self.tokens_of(p) for p in batch], self.method.sampling, self.ref_model
        )
        scores = score_completions(
            rollout.completion_texts,
            [batch[i].reward_example for i in rollout.prompt_indices],
            self.method.rewards,
            self.method.reward_options,
            self.method.efficiency_threshold,
        )
        return rollout, scores

    def _loss(
        self,
        model,
        rollout: Rollout,
        advantages: mx.array,
        log_probs_now: mx.array | None,
        grad_mask: mx.array | None,
    ):
        log_probs, _ = policy_log_probs(model, rollout.inputs, self.method.sampling.temperature)
        if log_probs_now is not None:  # adapter dropout: the values of the policy as it samples, dropout's gradient
            log_probs = valued_as(log_probs_now, log_probs)
        return policy_loss(
            log_probs,
            rollout.old_log_probs,
            advantages,
            rollout.mask,
            self.method.loss,
            rollout.ref_log_probs,
            grad_mask,
        )

    def policy_now(self, rollout: Rollout, step: int) -> tuple[mx.array, mx.array]:
        """Log-probabilities and entropies of the rollout's tokens under the policy as it is before update `step`
        of the rollout, as it samples; before the first update that is pi_old, already computed."""
        if step == 0:
            return rollout.old_log_probs, rollout.entropy
        return log_probs_as_sampled(self.model, rollout.inputs, self.method.sampling.temperature)

    def gradient(self, rollout: Rollout, advantages: mx.array, step: int, window: ReportWindow) -> dict:
        """The gradient of the `step`-th update on the rollout; its loss and metrics go into the window."""
        dropout = self.method.adapter.dropout > 0
        sparse_ratio = self.method.sparse_ratio
        log_probs_now = grad_mask = None
        if dropout or sparse_ratio is not None:
            log_probs, entropy = self.policy_now(rollout, step)
            log_probs_now = log_probs if dropout else None
            if sparse_ratio is not None:
                grad_mask = top_entropy_mask(entropy, rollout.mask, sparse_ratio)
        (loss, metrics), grads = self.loss_and_grad(self.model, rollout, advantages, log_probs_now, grad_mask)
        mx.eval(grads, loss, metrics)
        window.add("loss", all_mean(loss.item()))
        for name, value in metrics.items():
            window.add(name, all_mean(value.item()))
        return grads

    def update(self, rollouts: list[tuple[Rollout, mx.array]], step: int, window: ReportWindow) -> None:
        """One optimisation step (the `step`-th on these rollouts): their gradients averaged, one update."""
        grads = None
        for rollout, advantages in rollouts:
            gradient = self.gradient(rollout, advantages, step, window)
            grads = gradient if grads is None else tree_map(mx.add, grads, gradient)
        if len(rollouts) > 1:
            grads = tree_map(lambda g: g / len(rollouts), grads)
        # Over the ranks of a distributed job, each with its share of the prompts: their mean (a no-op alone).
        self.optimizer.update(self.model, nn.average_gradients(grads))
        mx.eval(self.model.parameters(), self.optimizer.state)

    def iteration(self, batches: list[list[RlPrompt]], window: ReportWindow) -> None:
        """Rollouts of the batches (grad_accumulation_steps of them), then num_iterations updates on them; a rank of
        a distributed job samples its share of each batch's prompts (whole groups, so each group's advantages are
        its own), and the figures are the whole batches'."""
        batches = [rank_share(batch) for batch in batches]
        sampled = [self.rollout(batch) for batch in batches]
        rollouts = [
            (
                rollout,
                group_advantages(
                    mx.array(scores.total, dtype=mx.float32),
                    self.method.sampling.group_size,
                    scale_by_std=self.method.scale_advantages,
                ),
            )
            for rollout, scores in sampled
        ]
        for step in range(self.method.num_iterations):
            self.update(rollouts, step, window)
        for rollout, scores in sampled:
            self._record(rollout, scores, window)
        window.iterations += 1
        rollout, scores = sampled[0]
        batch = batches[0]
        window.samples = [
            progress_pb2.SampleCompletion(
                prompt=batch[rollout.prompt_indices[i]].prompt,
                completion=rollout.completion_texts[i],
                reward=scores.total[i],
            )
            for i in range(0, len(scores.total), self.method.sampling.group_size)[:SAMPLES_PER_REPORT]
        ]

    def _record(self, rollout: Rollout, scores: RewardScores, window: ReportWindow) -> None:
        """The rollout's figures, of every rank's share of it."""
        completion_lengths = gathered(rollout.completion_lengths)
        tokens = round(sum(completion_lengths)) * self.method.num_iterations
        self.trained_tokens += tokens
        window.tokens += tokens
        for name, values in reward_metrics(scores).items():
            window.add(name, gathered(values))
        window.add("completion_length", completion_lengths)
        entropy = ((rollout.entropy * rollout.mask).sum() / mx.maximum(rollout.mask.sum(), 1)).item()
        window.add("entropy", all_mean(entropy))

    # --- reports -----------------------------------------------------------------------------

    def report(self, iteration: int, window: ReportWindow) -> None:
        seconds = max(time.perf_counter() - window.started, 1e-9)
        means = window.means()
        metrics = summarise({k: v for k, v in window.values.items() if k == "reward" or k.startswith("reward/")})
        metrics.update({k: means[k] for k in self.REPORTED if k in means})
        event = events.train_report(
            events.TrainFigures(
                iteration=iteration,
                total_iterations=self.settings.iterations,
                loss=means.get("loss", 0.0),
                learning_rate=float(self.optimizer.learning_rate.item()),
                iterations_per_second=window.iterations / seconds,
                tokens_per_second=window.tokens / seconds,
                trained_tokens=self.trained_tokens,
                peak_memory_bytes=mx.get_peak_memory(),
                metrics=metrics,
            )
        )
        event.train_report.samples.extend(window.samples)
        self.ctx.emit(event)

    def _reward_series_names(self) -> list[str]:
        """The series reward_metrics makes, in its order."""
        return ["reward", *(f"reward/{item.reward.name}" for item in self.method.rewards)]

    def evaluate(self, iteration: int, prompts: list[RlPrompt]) -> float:
        """Emits the EvalReport; returns the mean reward."""
        tic = time.perf_counter()
        series: dict[str, list[float]] = {}
        count = min(len(prompts), self.settings.eval_batches * self.settings.batch_size)
        for start in range(0, count, self.settings.batch_size):
            # A rank of a distributed job samples its part of each batch; every rank gets the whole series.
            part, most = rank_part(prompts[start : min(start + self.settings.batch_size, count)])
            by_name = reward_metrics(self.rollout(part)[1]) if part else {}
            for name in self._reward_series_names():
                width = most * self.method.sampling.group_size
                series.setdefault(name, []).extend(gathered(by_name.get(name, []), width))
        figures = summarise(series)
        reward = figures["reward_mean"]
        event = events.eval_report(iteration, -reward, time.perf_counter() - tic)
        event.eval_report.metrics.update(figures)
        self.ctx.emit(event)
        return reward

    # --- the run -----------------------------------------------------------------------------

    def state(self) -> dict:
        """What the next rollouts depend on besides the weights, the optimizer and MLX's key."""
        return {
            "prompt_order": [int(i) for i in self._order],
            "generator": generator_state(self.rng),
            "trained_tokens": self.trained_tokens,
        }

    def _restore(self, resume: TrainingState) -> None:
        self.checkpoints.restore(resume)
        self._order = list(resume.trainer["prompt_order"])
        set_generator_state(self.rng, resume.trainer["generator"])
        self.trained_tokens = int(resume.trainer["trained_tokens"])
        restore_random(resume.random)

    def _validation(self, valid: list[RlPrompt]):
        def validate(iteration: int) -> float:
            with own_random_stream():
                return self.evaluate(iteration, valid)

        return validate

    def run(self, train: list[RlPrompt], valid: list[RlPrompt] | None) -> TrainingResult:
        settings = self.settings
        validate = self._validation(valid) if valid else None
        schedule = Schedule(self.ctx, self.checkpoints, validate, VALIDATION_REWARD)
        self.checkpoints.track(self.optimizer, self.state)
        self.model.train()
        resume = self.ctx.resume
        done = resume.iteration if resume is not None else 0
        if resume is not None:
            self._restore(resume)
            if schedule.resumed(done, resume.schedule):
                return schedule.finish(done)
        elif valid:
            schedule.validate(0)  # before training; should_stop is first asked after iteration 1
        window = ReportWindow()
        for iteration in range(done + 1, settings.iterations + 1):
            with own_random_stream():
                self.iteration([self.next_batch(train) for _ in range(settings.grad_accumulation_steps)], window)
            done = iteration
            if iteration % settings.report_every == 0 or iteration == settings.iterations:
                self.report(iteration, window)
                window = ReportWindow()
            if schedule.after(iteration):
                if window.iterations:
                    self.report(iteration, window)
                break
        return schedule.finish(done)


def load_reference(settings) -> nn.Module:
    reference, _ = mlx_lm.load(settings.model_path)
    reference.freeze()
    reference.eval()
    return reference


def train_policy(ctx: TrainingContext) -> TrainingResult:
    """The trainer of "grpo", "gspo" and "dr_grpo"."""
    settings = ctx.settings
    method = policy_method(settings)
    mx.random.seed(settings.seed)
    data = read_job_data(ctx.data)
    train = select_prompts([rl_prompt(example) for example in data.train], method)
    valid = select_prompts([rl_prompt(example) for example in data.valid], method) if data.valid is not None else None
    # Create counted the records the domain filter keeps and refused too few; the data file changed since.
    if len(train) < settings.batch_size or (valid is not None and len(valid) < settings.batch_size):
        raise DataChanged(
            f"{ctx.data.train}: {len(train)} training and {len(valid or [])} validation records of domain "
            f"{method.domain!r} are left, fewer than batch_size {settings.batch_size}; "
            "the data changed after the job was accepted"
        )

    model, tokenizer = mlx_lm.load(settings.model_path)
    # The reference (the model before training) is only loaded when a KL term uses it.
    ref_model = load_reference(settings) if method.loss.beta > 0 else None
    rewards = ", ".join(f"{item.reward.name} x{item.weight:g}" for item in method.rewards)
    checkpoints = set_up_adapter(ctx, model, method.adapter, f"{len(train)} training prompts; rewards {rewards}")
    return PolicyTrainer(ctx, method, model, tokenizer, checkpoints, ref_model).run(train, valid)
