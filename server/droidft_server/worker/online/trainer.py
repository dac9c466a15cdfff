"""The online methods' training loop: the GRPO family's (worker/rl/trainer.py: batches, reports, validation,
checkpoints and exact resume) with their own sampling, judging and losses.

One iteration: sample (Online DPO: two completions per prompt from the policy; XPO: one from the policy and
one from the reference model; RLHF and PPO: group_size from the policy), judge or score them once, then
num_iterations optimisation steps on that rollout (RLHF: one). Validation reports the mean score of the
policy's completions, or with a judge model its win rate against the reference model's completions.
"""

from __future__ import annotations

import time

import mlx.core as mx
import mlx.nn as nn
import mlx_lm
import numpy as np
from mlx.utils import tree_map

from droidft.v1 import progress_pb2

from ...domain import events
from ...domain.datasets.training_data import DataChanged, read_job_data
from ...domain.method_families import PAIRWISE_ONLINE_METHODS
from ...domain.rewards import RewardScores
from ..adapters import set_up_adapter
from ..contract import TrainingContext, TrainingResult
from ..rl.data import RlPrompt, rl_prompt
from ..rl.losses import valued_as
from ..rl.rollout import Rollout, policy_log_probs, sample_rollout
from ..rl.trainer import SAMPLES_PER_REPORT, PolicyTrainer, ReportWindow, load_reference, reward_metrics
from .judges import JudgeModel, RewardFunctions, RewardModel
from .losses import pair_dpo_loss, ppo_advantages, ppo_loss, reinforce_loss, xpo_loss
from .method import online_method
from .rollout import sample_policy_reference_pairs

Scorer = RewardFunctions | RewardModel
PAIR_METRICS = ("reward_margin", "reward_accuracy")


class OnlineTrainer(PolicyTrainer):
    REPORTED = (
        *PolicyTrainer.REPORTED,
        "pairs_ranked",
        "reward_margin",
        "reward_accuracy",
        "exploration",
        "penalised_reward",
    )

    def __init__(self, ctx, method, model, tokenizer, checkpoints, ref_model, scorer: Scorer | None, judge):
        super().__init__(ctx, method, model, tokenizer, checkpoints, ref_model)
        self.scorer, self.judge = scorer, judge
        self.online = ctx.settings.online
        self.loss_and_grad = nn.value_and_grad(model, self._online_loss)

    # --- sampling and judging ----------------------------------------------------------------

    def rollout(self, batch: list[RlPrompt]) -> tuple[Rollout, RewardScores | None]:
        """group_size completions per prompt from the policy, scored (None with a judge model)."""
        rollout = sample_rollout(
            self.model, self.tokenizer, [self.tokens_of(p) for p in batch], self.method.sampling, self.ref_model
        )
        scores = None
        if self.scorer is not None:
            scores = self.scorer.score([batch[i] for i in rollout.prompt_indices], rollout.completion_texts)
        return rollout, scores

    def pair_rollout(self, batch: list[RlPrompt]) -> Rollout:
        return sample_policy_reference_pairs(
            self.model, self.ref_model, self.tokenizer, [self.tokens_of(p) for p in batch], self.method.sampling
        )

    def pairs(self, batch: list[RlPrompt]) -> tuple[Rollout, RewardScores | None, mx.array, mx.array]:
        """The rollout of pairs, its scores, which row of each pair is chosen and which pairs are ranked."""
        if self.settings.method == "xpo":
            rollout = self.pair_rollout(batch)
            scores = None
            if self.scorer is not None:
                scores = self.scorer.score([batch[i] for i in rollout.prompt_indices], rollout.completion_texts)
        else:
            rollout, scores = self.rollout(batch)
        texts = rollout.completion_texts
        if scores is not None:
            firsts, seconds = np.array(scores.total[0::2]), np.array(scores.total[1::2])
            first_is_chosen, ranked = firsts > seconds, firsts != seconds  # a tie teaches nothing
        else:
            prompts = [batch[i] for i in rollout.prompt_indices[0::2]]
            preferred = np.array(self.judge.first_preferred(prompts, texts[0::2], texts[1::2]))
            first_is_chosen, ranked = preferred >= 0.5, np.ones(len(preferred), dtype=bool)
        return rollout, scores, mx.array(first_is_chosen), mx.array(ranked.astype(np.float32))

    # --- losses and updates ------------------------------------------------------------------

    def _online_loss(self, model, rollout: Rollout, target: dict, log_probs_now: mx.array | None):
        log_probs, _ = policy_log_probs(model, rollout.inputs, self.method.sampling.temperature)
        if log_probs_now is not None:  # adapter dropout: the values of the policy as it samples, dropout's gradient
            log_probs = valued_as(log_probs_now, log_probs)
        name, beta = self.settings.method, self.method.loss.beta
        if name == "online_dpo":
            return pair_dpo_loss(
                log_probs, rollout.ref_log_probs, rollout.mask, target["first"], target["ranked"], beta
            )
        if name == "xpo":
            return xpo_loss(
                log_probs,
                rollout.ref_log_probs,
                rollout.mask,
                target["first"],
                target["ranked"],
                beta,
                self.online.alpha,
            )
        if name == "rlhf":
            return reinforce_loss(
                log_probs,
                rollout.old_log_probs,
                rollout.ref_log_probs,
                rollout.mask,
                target["scores"],
                self.method.sampling.group_size,
                beta,
            )
        return ppo_loss(log_probs, rollout.old_log_probs, target["advantages"], rollout.mask, self.method.loss.epsilon)

    def online_gradient(self, rollout: Rollout, target: dict, step: int, window: ReportWindow) -> dict:
        """The gradient of the `step`-th update on the rollout; its loss and metrics go into the window."""
        # PPO's ratio is of the policy as it samples (no dropout): exactly 1 on the first update.
        log_probs_now = None
        if self.settings.method == "ppo" and self.method.adapter.dropout > 0:
            log_probs_now, _ = self.policy_now(rollout, step)
        (loss, metrics), grads = self.loss_and_grad(self.model, rollout, target, log_probs_now)
        mx.eval(grads, loss, metrics)
        window.add("loss", loss.item())
        # The pair metrics describe ranked pairs: a batch of ties has none to describe.
        unranked = "ranked" in target and not target["ranked"].sum().item()
        for name, value in metrics.items():
            if not (unranked and name in PAIR_METRICS):
                window.add(name, value.item())
        return grads

    def online_update(self, judged: list[tuple[Rollout, dict]], step: int, window: ReportWindow) -> None:
        """One optimisation step (the `step`-th on these rollouts): their gradients averaged, one update."""
        grads = None
        for rollout, target in judged:
            gradient = self.online_gradient(rollout, target, step, window)
            grads = gradient if grads is None else tree_map(mx.add, grads, gradient)
        if len(judged) > 1:
            grads = tree_map(lambda g: g / len(judged), grads)
        self.optimizer.update(self.model, grads)
        mx.eval(self.model.parameters(), self.optimizer.state)

    def judge_batch(self, batch: list[RlPrompt], window: ReportWindow) -> tuple[Rollout, RewardScores | None, dict]:
        """The batch's rollout, its scores and what its loss learns from (pairs, scores or PPO's advantages)."""
        name, sampling = self.settings.method, self.method.sampling
        if name in PAIRWISE_ONLINE_METHODS:
            rollout, scores, first, ranked = self.pairs(batch)
            window.add("pairs_ranked", np.array(ranked))
            return rollout, scores, {"first": first, "ranked": ranked}
        rollout, scores = self.rollout(batch)
        total = np.array(scores.total, dtype=np.float32)
        if name == "rlhf":
            return rollout, scores, {"scores": mx.array(total)}
        ref = np.array(rollout.ref_log_probs) if rollout.ref_log_probs is not None else None
        advantages = ppo_advantages(
            total,
            np.array(rollout.old_log_probs),
            ref,
            np.array(rollout.mask),
            sampling.group_size,
            self.method.loss.beta,
            self.online.gamma,
            self.online.lam,
        )
        return rollout, scores, {"advantages": mx.array(advantages)}

    def iteration(self, batches: list[list[RlPrompt]], window: ReportWindow) -> None:
        """Rollouts of the batches (grad_accumulation_steps of them, all sampled before any update), judged, then
        num_iterations updates on them."""
        judged = [self.judge_batch(batch, window) for batch in batches]
        for step in range(self.method.num_iterations):
            self.online_update([(rollout, target) for rollout, _, target in judged], step, window)
        for rollout, scores, _ in judged:
            self.record(rollout, scores, window)
        window.iterations += 1
        rollout, scores, _ = judged[0]
        batch = batches[0]
        every = 2 if self.settings.method in PAIRWISE_ONLINE_METHODS else self.method.sampling.group_size
        window.samples = [
            progress_pb2.SampleCompletion(
                prompt=batch[rollout.prompt_indices[i]].prompt,
                completion=rollout.completion_texts[i],
                reward=scores.total[i] if scores is not None else 0.0,
            )
            for i in range(0, len(rollout.completion_texts), every)[:SAMPLES_PER_REPORT]
        ]

    def record(self, rollout: Rollout, scores: RewardScores | None, window: ReportWindow) -> None:
        tokens = rollout.completion_tokens * self.method.num_iterations
        self.trained_tokens += tokens
        window.tokens += tokens
        if scores is not None:
            # XPO's odd rows are the reference model's: the rewards reported are the policy's.
            policy_rows = slice(None, None, 2 if self.settings.method == "xpo" else 1)
            for series, values in reward_metrics(scores).items():
                window.add(series, values[policy_rows])
        window.add("completion_length", rollout.completion_lengths)
        window.add("entropy", ((rollout.entropy * rollout.mask).sum() / mx.maximum(rollout.mask.sum(), 1)).item())

    # --- validation --------------------------------------------------------------------------

    def evaluate(self, iteration: int, prompts: list[RlPrompt]) -> float:
        if self.judge is None:
            return super().evaluate(iteration, prompts)
        tic = time.perf_counter()
        wins: list[float] = []
        count = min(len(prompts), self.settings.eval_batches * self.settings.batch_size)
        for start in range(0, count, self.settings.batch_size):
            batch = prompts[start : min(start + self.settings.batch_size, count)]
            texts = self.pair_rollout(batch).completion_texts
            wins += self.judge.first_preferred(batch, texts[0::2], texts[1::2])
        win_rate = float(np.mean(wins))
        event = events.eval_report(iteration, -win_rate, time.perf_counter() - tic)
        event.eval_report.metrics["win_rate"] = win_rate
        self.ctx.emit(event)
        return win_rate


def _uses_reference(settings) -> bool:
    return settings.method in PAIRWISE_ONLINE_METHODS or settings.policy.beta > 0


def train_online(ctx: TrainingContext) -> TrainingResult:
    """The trainer of "online_dpo", "xpo", "rlhf" and "ppo"."""
    settings = ctx.settings
    method = online_method(settings)
    mx.random.seed(settings.seed)
    data = read_job_data(ctx.data)
    train = [rl_prompt(example) for example in data.train]
    valid = [rl_prompt(example) for example in data.valid] if data.valid is not None else None
    if len(train) < settings.batch_size or (valid is not None and len(valid) < settings.batch_size):
        raise DataChanged(
            f"{ctx.data.train}: {len(train)} training and {len(valid or [])} validation records are left, fewer "
            f"than batch_size {settings.batch_size}; the data changed after the job was accepted"
        )
    model, tokenizer = mlx_lm.load(settings.model_path)
    ref_model = load_reference(settings) if _uses_reference(settings) else None
    online = settings.online
    judge = JudgeModel(online.judge_model_path) if online.judge_model_path else None
    scorer: Scorer | None = None
    if online.reward_model_path:
        scorer = RewardModel(online.reward_model_path)
    elif judge is None:
        scorer = RewardFunctions(method.rewards, method.reward_options)
    ranker = judge or scorer
    checkpoints = set_up_adapter(ctx, model, method.adapter, f"{len(train)} training prompts; {ranker.describe()}")
    return OnlineTrainer(ctx, method, model, tokenizer, checkpoints, ref_model, scorer, judge).run(train, valid)
