"""Policy-gradient losses of the GRPO family, on per-token log-probabilities.

Shapes: B completions (prompt groups laid out consecutively, G per group), T completion
positions. ``mask`` is 1 on real completion tokens and 0 on padding. Every function is pure
MLX so that the loss and its gradient can be checked against an independent implementation.

- GRPO (arXiv 2402.03300): token ratio pi/pi_old clipped to [1-eps, 1+eps_high] with the PPO
  min, advantages (r - mean) / (std + eps), loss averaged per sequence then over the batch.
- Dr. GRPO (arXiv 2503.20783): the same token objective with advantages r - mean and a
  constant normaliser (sum / (completions * max_completion_length)), so neither sequence
  length nor group reward spread rescales a completion's gradient.
- GSPO (arXiv 2507.18071): one ratio per sequence, s_i = exp(mean_t log(pi/pi_old)), clipped
  at sequence level; its gradient is s_i * A_i * mean_t grad log pi (all tokens weighted alike).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mlx.core as mx

TOKEN_LEVEL = "token"
SEQUENCE_LEVEL = "sequence"

SEQUENCE_MEAN = "sequence_mean"
TOKEN_MEAN = "token_mean"
CONSTANT = "constant"

ADVANTAGE_EPS = 1e-4


@dataclass(frozen=True)
class PolicyLossConfig:
    level: str  # TOKEN_LEVEL (GRPO, Dr. GRPO) or SEQUENCE_LEVEL (GSPO)
    normalizer: str  # SEQUENCE_MEAN, TOKEN_MEAN or CONSTANT
    epsilon: float
    epsilon_high: float
    beta: float = 0.0  # weight of the k3 KL to the reference policy
    max_completion_length: int = 1  # the CONSTANT normaliser's length


def group_advantages(rewards: mx.array, group_size: int, *, scale_by_std: bool) -> mx.array:
    """Group-relative advantages of B = groups * group_size rewards laid out group by group."""
    grouped = rewards.reshape(-1, group_size)
    centred = grouped - grouped.mean(axis=1, keepdims=True)
    if scale_by_std:
        centred = centred / (grouped.std(axis=1, keepdims=True) + ADVANTAGE_EPS)
    return centred.reshape(-1)


def token_log_probs(logits: mx.array, targets: mx.array, temperature: float = 1.0) -> tuple[mx.array, mx.array]:
    """Log-probability of each target token and the entropy of each position's distribution.

    Logits are divided by the sampling temperature so that pi is the distribution the
    completions were actually drawn from.
    """
    scaled = logits.astype(mx.float32) / temperature
    log_z = mx.logsumexp(scaled, axis=-1)
    selected = mx.take_along_axis(scaled, targets[..., None], axis=-1).squeeze(-1)
    log_probs = scaled - log_z[..., None]
    entropy = -(mx.exp(log_probs) * log_probs).sum(axis=-1)
    return selected - log_z, entropy


def top_entropy_mask(entropy: mx.array, mask: mx.array, ratio: float) -> mx.array:
    """1 on the ceil(ratio * n) completion tokens of highest entropy in the batch, 0 elsewhere.

    The selection is made over the whole batch, as in arXiv 2506.01939 (a batch-level
    entropy percentile); ties at the threshold are broken by position.
    """
    valid = mask.astype(mx.bool_)
    count = int(valid.sum().item())
    # The small slack keeps e.g. 0.3 * 10 from rounding up to 4.
    keep = max(1, math.ceil(ratio * count - 1e-9)) if count else 0
    flat = mx.where(valid, entropy, -mx.inf).reshape(-1)
    order = mx.argsort(-flat)
    selected = mx.zeros(flat.shape, dtype=mx.float32)
    if keep:
        selected[order[:keep]] = 1.0
    return (selected.reshape(mask.shape) * mask).astype(mx.float32)


def valued_as(values: mx.array, gradient_of: mx.array) -> mx.array:
    """Exactly `values`, with the gradient of `gradient_of` (gradient_of - stop_gradient(gradient_of) is 0)."""
    return mx.stop_gradient(values) + (gradient_of - mx.stop_gradient(gradient_of))


def gradient_gated(values: mx.array, grad_mask: mx.array | None) -> mx.array:
    """The same values, with the gradient stopped where grad_mask is 0."""
    if grad_mask is None:
        return values
    return mx.where(grad_mask.astype(mx.bool_), values, mx.stop_gradient(values))


def sequence_log_ratio(log_ratio: mx.array, mask: mx.array) -> mx.array:
    """Mean token log-ratio of each sequence: log s_i, shape (B,)."""
    lengths = mx.maximum(mask.sum(axis=1), 1)
    return (log_ratio * mask).sum(axis=1) / lengths


def clipped_surrogate(
    ratio: mx.array, advantages: mx.array, epsilon: float, epsilon_high: float
) -> tuple[mx.array, mx.array]:
    """PPO objective min(r A, clip(r) A) and where the clipped branch is active (no gradient)."""
    clipped_ratio = mx.clip(ratio, 1 - epsilon, 1 + epsilon_high)
    objective = mx.minimum(ratio * advantages, clipped_ratio * advantages)
    is_clipped = ((ratio < 1 - epsilon) & (advantages < 0)) | ((ratio > 1 + epsilon_high) & (advantages > 0))
    return objective, is_clipped


def k3_kl(log_probs: mx.array, ref_log_probs: mx.array) -> mx.array:
    """Per-token unbiased KL estimate exp(q - p) - (q - p) - 1 (Schulman's k3), p the policy."""
    delta = ref_log_probs - log_probs
    return mx.exp(delta) - delta - 1


def normalize(per_token: mx.array, mask: mx.array, normalizer: str, max_completion_length: int) -> mx.array:
    """Reduce a masked (B, T) loss to one number."""
    masked = per_token * mask
    if normalizer == SEQUENCE_MEAN:
        return (masked.sum(axis=1) / mx.maximum(mask.sum(axis=1), 1)).mean()
    if normalizer == TOKEN_MEAN:
        return masked.sum() / mx.maximum(mask.sum(), 1)
    if normalizer == CONSTANT:
        return masked.sum() / (mask.shape[0] * max_completion_length)
    raise ValueError(f"unknown normalizer {normalizer!r}")


def policy_loss(
    log_probs: mx.array,
    old_log_probs: mx.array,
    advantages: mx.array,
    mask: mx.array,
    config: PolicyLossConfig,
    ref_log_probs: mx.array | None = None,
    grad_mask: mx.array | None = None,
) -> tuple[mx.array, dict[str, mx.array]]:
    """Loss to minimise and its metrics (clip_fraction, kl).

    grad_mask (B, T), when given, lets the policy gradient flow only through its 1 tokens
    (sparse optimisation); ratio values, and so the clipping decisions, stay unchanged.
    """
    mask = mask.astype(mx.float32)
    log_ratio = gradient_gated(log_probs - mx.stop_gradient(old_log_probs), grad_mask)
    advantages = mx.stop_gradient(advantages)[:, None]
    if config.level == SEQUENCE_LEVEL:
        log_ratio = sequence_log_ratio(log_ratio, mask)[:, None]
    elif config.level != TOKEN_LEVEL:
        raise ValueError(f"unknown importance level {config.level!r}")
    objective, is_clipped = clipped_surrogate(mx.exp(log_ratio), advantages, config.epsilon, config.epsilon_high)
    # Broadcast the sequence objective to every token so that one normaliser serves both levels.
    per_token = -mx.broadcast_to(objective, mask.shape)
    is_clipped = mx.broadcast_to(is_clipped, mask.shape)
    metrics = {"clip_fraction": (is_clipped * mask).sum() / mx.maximum(mask.sum(), 1)}
    if config.beta > 0 and ref_log_probs is not None:
        kl = k3_kl(log_probs, mx.stop_gradient(ref_log_probs))
        per_token = per_token + config.beta * kl
        metrics["kl"] = (kl * mask).sum() / mx.maximum(mask.sum(), 1)
    loss = normalize(per_token, mask, config.normalizer, config.max_completion_length)
    return loss, metrics
