"""The GRPO-family losses against an independent NumPy implementation (float64, finite differences)."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from droidft_server.worker.rl import losses
from droidft_server.worker.rl.losses import PolicyLossConfig

# Two groups of two completions with unequal lengths (5, 3, 4, 2) and right padding.
LENGTHS = [5, 3, 4, 2]
MASK = np.array([[1.0 if t < n else 0.0 for t in range(5)] for n in LENGTHS])
OLD = np.array(
    [
        [-1.2, -0.7, -2.0, -0.4, -1.0],
        [-0.9, -1.5, -0.3, 0.0, 0.0],
        [-2.2, -0.6, -1.1, -0.8, 0.0],
        [-0.5, -1.7, 0.0, 0.0, 0.0],
    ]
)
# Token log-ratios: some inside [1-eps, 1+eps_high] (eps 0.2), some far outside (clipped), e.g.
# row 0 token 1 (ratio e^0.5 with a positive advantage) and row 1 token 0 (e^-0.6, negative).
LOG_RATIO = np.array(
    [
        [0.05, 0.5, -0.1, 0.02, -0.03],
        [-0.6, 0.1, 0.04, 0.0, 0.0],
        [0.07, -0.02, 0.3, -0.5, 0.0],
        [0.01, -0.08, 0.0, 0.0, 0.0],
    ]
)
NEW = (OLD + LOG_RATIO) * MASK
REF = OLD - 0.1 * MASK
REWARDS = np.array([1.0, 0.0, 0.25, 1.0])
GROUP = 2
MAX_LEN = 6


def np_advantages(rewards, group, scale):
    grouped = rewards.reshape(-1, group)
    centred = grouped - grouped.mean(axis=1, keepdims=True)
    if scale:
        centred = centred / (grouped.std(axis=1, keepdims=True) + 1e-4)
    return centred.reshape(-1)


def np_loss(lp, old, adv, mask, level, normalizer, eps, eps_high, beta=0.0, ref=None):
    """Straight from the papers' formulas, written without reference to the MLX code."""
    b, t = lp.shape
    per_token = np.zeros((b, t))
    for i in range(b):
        n = int(mask[i].sum())
        if level == "sequence":
            s = np.exp(np.mean(lp[i, :n] - old[i, :n]))
            value = -min(s * adv[i], np.clip(s, 1 - eps, 1 + eps_high) * adv[i])
            per_token[i, :n] = value
        else:
            for k in range(n):
                r = np.exp(lp[i, k] - old[i, k])
                per_token[i, k] = -min(r * adv[i], np.clip(r, 1 - eps, 1 + eps_high) * adv[i])
        if beta:
            for k in range(n):
                d = ref[i, k] - lp[i, k]
                per_token[i, k] += beta * (np.exp(d) - d - 1)
    counts = mask.sum(axis=1)
    if normalizer == "sequence_mean":
        return np.mean([per_token[i, : int(counts[i])].sum() / counts[i] for i in range(b)])
    if normalizer == "token_mean":
        return (per_token * mask).sum() / mask.sum()
    return (per_token * mask).sum() / (b * MAX_LEN)


def np_grad(fn, lp, mask, h=1e-6):
    grad = np.zeros_like(lp)
    for idx in zip(*np.nonzero(mask)):
        up, down = lp.copy(), lp.copy()
        up[idx] += h
        down[idx] -= h
        grad[idx] = (fn(up) - fn(down)) / (2 * h)
    return grad


def mlx_loss_and_grad(lp, old, adv, mask, config, ref=None, grad_mask=None):
    def loss_of(log_probs):
        return losses.policy_loss(
            log_probs,
            mx.array(old, dtype=mx.float32),
            mx.array(adv, dtype=mx.float32),
            mx.array(mask, dtype=mx.float32),
            config,
            ref_log_probs=None if ref is None else mx.array(ref, dtype=mx.float32),
            grad_mask=None if grad_mask is None else mx.array(grad_mask),
        )[0]

    value, grad = mx.value_and_grad(loss_of)(mx.array(lp, dtype=mx.float32))
    return float(value.item()), np.array(grad)


CASES = {
    "grpo_sequence_mean": ("token", "sequence_mean", 0.2, 0.2, True),
    "grpo_token_mean": ("token", "token_mean", 0.2, 0.28, True),
    "dr_grpo_constant": ("token", "constant", 0.2, 0.2, False),
    "gspo": ("sequence", "sequence_mean", 3e-4, 4e-4, True),
}


@pytest.mark.parametrize("beta", [0.0, 0.04])
@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_and_gradient_match_numpy(case, beta):
    level, normalizer, eps, eps_high, scale = CASES[case]
    adv = np_advantages(REWARDS, GROUP, scale)
    config = PolicyLossConfig(level, normalizer, eps, eps_high, beta=beta, max_completion_length=MAX_LEN)

    def reference(lp):
        return np_loss(lp, OLD, adv, MASK, level, normalizer, eps, eps_high, beta, REF)

    value, grad = mlx_loss_and_grad(NEW, OLD, adv, MASK, config, ref=REF)
    assert value == pytest.approx(reference(NEW), abs=1e-5)
    np.testing.assert_allclose(grad, np_grad(reference, NEW, MASK), atol=1e-5)
    assert np.all(grad[MASK == 0] == 0)


def test_advantages_match_numpy():
    for scale in (True, False):
        got = losses.group_advantages(mx.array(REWARDS, dtype=mx.float32), GROUP, scale_by_std=scale)
        np.testing.assert_allclose(np.array(got), np_advantages(REWARDS, GROUP, scale), atol=1e-5)


def test_clipped_tokens_get_no_gradient_and_are_counted():
    adv = np_advantages(REWARDS, GROUP, True)
    config = PolicyLossConfig("token", "sequence_mean", 0.2, 0.2)
    _, grad = mlx_loss_and_grad(NEW, OLD, adv, MASK, config)
    # Row 0 (advantage > 0) token 1 has ratio e^0.5 > 1.2; row 1 (advantage < 0) token 0 has e^-0.6 < 0.8.
    assert adv[0] > 0 and adv[1] < 0
    assert grad[0, 1] == 0 and grad[1, 0] == 0
    assert grad[0, 0] != 0 and grad[1, 1] != 0
    _, metrics = losses.policy_loss(
        mx.array(NEW, dtype=mx.float32),
        mx.array(OLD, dtype=mx.float32),
        mx.array(adv, dtype=mx.float32),
        mx.array(MASK),
        config,
    )
    ratio = np.exp(LOG_RATIO)
    expected = ((((ratio > 1.2) & (adv[:, None] > 0)) | ((ratio < 0.8) & (adv[:, None] < 0))) * MASK).sum() / MASK.sum()
    assert float(metrics["clip_fraction"].item()) == pytest.approx(expected)


def test_gspo_clips_whole_sequences():
    adv = np.array([1.0, -1.0, 1.0, -1.0])
    # Sequence mean log-ratios: 1e-4 (inside), -1e-3 (below 1-3e-4, negative advantage: clipped),
    # 1e-3 (above 1+4e-4, positive advantage: clipped), 5e-4 (above, but negative advantage: kept).
    seq_log_ratio = np.array([1e-4, -1e-3, 1e-3, 5e-4])
    new = (OLD + seq_log_ratio[:, None]) * MASK
    config = PolicyLossConfig("sequence", "sequence_mean", 3e-4, 4e-4)
    _, grad = mlx_loss_and_grad(new, OLD, adv, MASK, config)
    row_has_grad = np.abs(grad).sum(axis=1) > 0
    assert row_has_grad.tolist() == [True, False, False, True]
    # Inside a sequence every token gets the same gradient s_i A_i / (B |y_i|).
    n = LENGTHS[0]
    np.testing.assert_allclose(grad[0, :n], -np.exp(1e-4) * adv[0] / (4 * n), atol=1e-6)


def _on_policy_grads(lp, old, adv, mask):
    grpo = PolicyLossConfig("token", "sequence_mean", 0.2, 0.2)
    gspo = PolicyLossConfig("sequence", "sequence_mean", 3e-4, 4e-4)
    return mlx_loss_and_grad(lp, old, adv, mask, grpo)[1], mlx_loss_and_grad(lp, old, adv, mask, gspo)[1]


def test_gspo_equals_grpo_on_policy_and_differs_off_policy():
    """GSPO paper, gradient analysis: GRPO's gradient is (1/G) sum_i A_i (1/|y_i|) sum_t r_it grad log pi_it,
    GSPO's is (1/G) sum_i s_i A_i (1/|y_i|) sum_t grad log pi_it. With pi = pi_old every r_it = s_i = 1,
    so they agree, for unequal lengths too, given GRPO's per-sequence token mean."""
    adv = np_advantages(REWARDS, GROUP, True)
    grpo, gspo = _on_policy_grads(OLD, OLD, adv, MASK)
    np.testing.assert_allclose(grpo, gspo, atol=1e-7)
    assert np.abs(grpo).sum() > 0
    # Off-policy (ratios near 1, none clipped by GRPO's 0.2) the token weights r_it differ from s_i.
    near = (OLD + 0.1 * LOG_RATIO) * MASK
    grpo, gspo = _on_policy_grads(near, OLD, adv, MASK)
    assert np.abs(grpo - gspo).max() > 1e-3


def test_token_mean_grpo_differs_from_gspo_on_policy_for_unequal_lengths():
    adv = np_advantages(REWARDS, GROUP, True)
    bnpo = PolicyLossConfig("token", "token_mean", 0.2, 0.2)
    gspo = PolicyLossConfig("sequence", "sequence_mean", 3e-4, 4e-4)
    diff = mlx_loss_and_grad(OLD, OLD, adv, MASK, bnpo)[1] - mlx_loss_and_grad(OLD, OLD, adv, MASK, gspo)[1]
    assert np.abs(diff).max() > 1e-3


@pytest.mark.parametrize("level", ["token", "sequence"])
def test_sparse_gradient_only_on_top_entropy_tokens(level):
    entropy = np.array(
        [
            [0.1, 2.0, 0.3, 0.2, 1.5],
            [0.4, 0.05, 3.0, 9.0, 9.0],  # padding has high entropy but must never be picked
            [0.6, 0.7, 0.8, 1.8, 9.0],
            [0.9, 0.15, 9.0, 9.0, 9.0],
        ]
    )
    selected = np.array(losses.top_entropy_mask(mx.array(entropy), mx.array(MASK), 0.3))
    # 14 tokens, ceil(0.3 * 14) = 5: entropies 3.0, 2.0, 1.8, 1.5, 0.9.
    expected = np.zeros_like(MASK)
    for i, t in [(1, 2), (0, 1), (2, 3), (0, 4), (3, 0)]:
        expected[i, t] = 1
    np.testing.assert_array_equal(selected, expected)

    adv = np_advantages(REWARDS, GROUP, True)
    eps, high = (0.2, 0.2) if level == "token" else (3e-4, 4e-4)
    config = PolicyLossConfig(level, "sequence_mean", eps, high)
    near = (OLD + 1e-5 * LOG_RATIO) * MASK  # nothing clipped
    full_value, full = mlx_loss_and_grad(near, OLD, adv, MASK, config)
    sparse_value, sparse = mlx_loss_and_grad(near, OLD, adv, MASK, config, grad_mask=selected)
    assert sparse_value == pytest.approx(full_value, abs=1e-7)
    np.testing.assert_allclose(sparse, full * selected, atol=1e-7)
    assert np.all(sparse[selected == 0] == 0) and np.all(sparse[selected == 1] != 0)


def test_token_log_probs_and_entropy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 7))
    targets = rng.integers(0, 7, size=(2, 3))
    for temperature in (1.0, 0.7):
        scaled = logits / temperature
        log_p = scaled - np.log(np.exp(scaled).sum(-1, keepdims=True))
        expected_lp = np.take_along_axis(log_p, targets[..., None], -1)[..., 0]
        expected_h = -(np.exp(log_p) * log_p).sum(-1)
        lp, h = losses.token_log_probs(mx.array(logits, dtype=mx.float32), mx.array(targets), temperature)
        np.testing.assert_allclose(np.array(lp), expected_lp, atol=1e-5)
        np.testing.assert_allclose(np.array(h), expected_h, atol=1e-5)


def test_valued_as_keeps_the_values_and_takes_the_other_gradient():
    x = mx.array([0.3, -1.2, 2.0])

    def combined(x):
        return losses.valued_as(mx.sin(x), x**2)

    np.testing.assert_array_equal(np.array(combined(x)), np.array(mx.sin(x)))  # exactly, not within rounding
    np.testing.assert_allclose(np.array(mx.grad(lambda x: combined(x).sum())(x)), 2 * np.array(x), atol=1e-6)
