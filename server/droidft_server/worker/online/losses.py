"""Losses of the online methods, on the per-token log-probabilities of sampled completions.

Shapes as in worker/rl/losses.py: B completion rows, T target positions, ``mask`` 1 on completion tokens.
Pairwise methods lay each prompt's pair out as rows 2i and 2i + 1. Each loss is pure MLX (the PPO
advantages pure NumPy: they are computed once per rollout, without gradient) so that it can be checked
against an independent implementation.

- Online DPO (arXiv 2402.04792): -log sigmoid(beta * m), m = (log pi(y_w) - log pi_ref(y_w)) -
  (log pi(y_l) - log pi_ref(y_l)) with sequence log-probabilities; pairs the judge could not rank weigh 0.
- XPO (arXiv 2405.21046): Online DPO plus alpha * log pi(y_ref), y_ref the reference model's completion.
- RLHF / REINFORCE: -(R_i - b_i) * log pi(y_i), R_i = score_i - beta * sum_t (log pi_old - log pi_ref),
  b_i the mean R of the prompt's other completions.
- PPO (arXiv 1707.06347): token rewards with the KL penalty, GAE advantages over a leave-one-out group
  value estimate, the clipped token-ratio surrogate averaged over completion tokens.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from ..rl.losses import clipped_surrogate


def sequence_log_probs(log_probs: mx.array, mask: mx.array) -> mx.array:
    """Log-probability of each whole completion, (B,)."""
    return (log_probs * mask).sum(axis=1)


def pair_dpo_loss(
    log_probs: mx.array,
    ref_log_probs: mx.array,
    mask: mx.array,
    first_is_chosen: mx.array,
    weights: mx.array,
    beta: float,
) -> tuple[mx.array, dict[str, mx.array]]:
    """DPO on pairs laid out as rows (2i, 2i + 1); first_is_chosen (P,) says which row the judge chose,
    weights (P,) is 0 for a pair the judge left unranked. The loss is the weighted mean over pairs."""
    mask = mask.astype(mx.float32)
    rewards = (sequence_log_probs(log_probs, mask) - sequence_log_probs(mx.stop_gradient(ref_log_probs), mask)).reshape(
        -1, 2
    )
    sign = mx.where(first_is_chosen.astype(mx.bool_), 1.0, -1.0)
    margin = sign * (rewards[:, 0] - rewards[:, 1])
    losses = mx.logaddexp(mx.zeros_like(margin), -beta * margin)  # -log sigmoid(beta * margin)
    used = mx.maximum(weights.sum(), 1)
    metrics = {
        "reward_margin": (weights * beta * margin).sum() / used,
        "reward_accuracy": (weights * (margin > 0)).sum() / used,
    }
    return (weights * losses).sum() / used, metrics


def xpo_loss(
    log_probs: mx.array,
    ref_log_probs: mx.array,
    mask: mx.array,
    first_is_chosen: mx.array,
    weights: mx.array,
    beta: float,
    alpha: float,
) -> tuple[mx.array, dict[str, mx.array]]:
    """pair_dpo_loss on (policy, reference) pairs, plus alpha times the mean log pi of the reference rows (2i + 1)."""
    dpo, metrics = pair_dpo_loss(log_probs, ref_log_probs, mask, first_is_chosen, weights, beta)
    reference_rows = sequence_log_probs(log_probs, mask.astype(mx.float32)).reshape(-1, 2)[:, 1]
    exploration = reference_rows.mean()
    metrics["exploration"] = exploration
    return dpo + alpha * exploration, metrics


def leave_one_out_mean(values: mx.array, group_size: int) -> mx.array:
    """For each of B = groups * group_size values, the mean of the other values of its group."""
    grouped = values.reshape(-1, group_size)
    return ((grouped.sum(axis=1, keepdims=True) - grouped) / (group_size - 1)).reshape(-1)


def reinforce_loss(
    log_probs: mx.array,
    old_log_probs: mx.array,
    ref_log_probs: mx.array | None,
    mask: mx.array,
    scores: mx.array,
    group_size: int,
    beta: float,
) -> tuple[mx.array, dict[str, mx.array]]:
    """REINFORCE with a KL-penalised sequence reward and a leave-one-out group baseline."""
    mask = mask.astype(mx.float32)
    kl = mx.zeros_like(scores)
    if beta > 0 and ref_log_probs is not None:
        kl = sequence_log_probs(mx.stop_gradient(old_log_probs) - mx.stop_gradient(ref_log_probs), mask)
    penalised = scores - beta * kl
    advantages = mx.stop_gradient(penalised - leave_one_out_mean(penalised, group_size))
    loss = -(advantages * sequence_log_probs(log_probs, mask)).mean()
    return loss, {"kl": kl.mean(), "penalised_reward": penalised.mean()}


def ppo_advantages(
    scores: np.ndarray,
    old_log_probs: np.ndarray,
    ref_log_probs: np.ndarray | None,
    mask: np.ndarray,
    group_size: int,
    beta: float,
    gamma: float,
    lam: float,
) -> np.ndarray:
    """GAE advantages (B, T) of every completion token.

    Token rewards: -beta * (log pi_old - log pi_ref) at each completion token, plus the score at the last.
    Value of position t: the mean discounted return-to-go at t of the other completions of the same prompt
    (they share the prompt, so their completion positions line up), 0 past a completion's end.
    """
    mask = mask.astype(np.float64)
    rewards = np.zeros_like(mask)
    if beta > 0 and ref_log_probs is not None:
        rewards -= beta * (old_log_probs - ref_log_probs) * mask
    lengths = mask.sum(axis=1).astype(int)
    starts = mask.argmax(axis=1)
    last = starts + lengths - 1
    has_tokens = lengths > 0
    rewards[np.arange(len(scores))[has_tokens], last[has_tokens]] += np.asarray(scores, dtype=np.float64)[has_tokens]
    width = mask.shape[1]
    returns = np.zeros((mask.shape[0], width + 1))
    for t in range(width - 1, -1, -1):
        returns[:, t] = rewards[:, t] + gamma * returns[:, t + 1] * mask[:, t]
    grouped = returns.reshape(-1, group_size, width + 1)
    values = ((grouped.sum(axis=1, keepdims=True) - grouped) / (group_size - 1)).reshape(-1, width + 1)
    # The value of a state inside this completion only: 0 before it starts and after it ends.
    values = values * np.concatenate([mask, np.zeros((mask.shape[0], 1))], axis=1)
    deltas = rewards + gamma * values[:, 1:] - values[:, :-1]
    advantages = np.zeros((mask.shape[0], width + 1))
    for t in range(width - 1, -1, -1):
        advantages[:, t] = (deltas[:, t] + gamma * lam * advantages[:, t + 1]) * mask[:, t]
    return advantages[:, :-1].astype(np.float32)


def ppo_loss(
    log_probs: mx.array, old_log_probs: mx.array, advantages: mx.array, mask: mx.array, epsilon: float
) -> tuple[mx.array, dict[str, mx.array]]:
    """Clipped token-ratio surrogate, averaged over the batch's completion tokens."""
    mask = mask.astype(mx.float32)
    ratio = mx.exp(log_probs - mx.stop_gradient(old_log_probs))
    objective, is_clipped = clipped_surrogate(ratio, mx.stop_gradient(advantages), epsilon, epsilon)
    tokens = mx.maximum(mask.sum(), 1)
    return -(objective * mask).sum() / tokens, {"clip_fraction": (is_clipped * mask).sum() / tokens}
