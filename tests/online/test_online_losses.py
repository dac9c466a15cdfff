"""The online methods' losses against independent NumPy implementations (float64, finite differences) on
hand-made numbers, and PPO's advantages against values worked out by hand."""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np
import pytest

from droidft_server.worker.online import losses

# Two prompts, two completions each (rows 0, 1 and rows 2, 3), lengths 3, 2, 4, 1, right padded.
LENGTHS = [3, 2, 4, 1]
MASK = np.array([[1.0 if t < n else 0.0 for t in range(4)] for n in LENGTHS])
LP = np.array(
    [
        [-1.2, -0.7, -2.0, 0.0],
        [-0.9, -1.5, 0.0, 0.0],
        [-2.2, -0.6, -1.1, -0.8],
        [-0.5, 0.0, 0.0, 0.0],
    ]
)
REF = LP + np.array([[0.1, -0.2, 0.05, 0.0], [0.3, 0.1, 0.0, 0.0], [-0.4, 0.2, 0.1, 0.0], [0.6, 0.0, 0.0, 0.0]]) * MASK
OLD = LP - np.array([[0.05, 0.4, -0.1, 0.0], [-0.3, 0.02, 0.0, 0.0], [0.1, -0.5, 0.0, 0.2], [0.01, 0, 0, 0]]) * MASK
SCORES = np.array([1.0, 0.0, 0.25, 0.75])
FIRST = np.array([True, False])
RANKED = np.array([1.0, 1.0])
BETA = 0.1


def seq(lp, mask=MASK):
    return (lp * mask).sum(axis=1)


def np_dpo(lp, ref, first, ranked, beta):
    total = 0.0
    for p in range(len(first)):
        c, r = (2 * p, 2 * p + 1) if first[p] else (2 * p + 1, 2 * p)
        margin = (seq(lp)[c] - seq(ref)[c]) - (seq(lp)[r] - seq(ref)[r])
        total += ranked[p] * -math.log(1 / (1 + math.exp(-beta * margin)))
    return total / max(ranked.sum(), 1)


def np_xpo(lp, ref, first, ranked, beta, alpha):
    return np_dpo(lp, ref, first, ranked, beta) + alpha * np.mean([seq(lp)[2 * p + 1] for p in range(len(first))])


def np_reinforce(lp, old, ref, scores, group, beta):
    rewards = [scores[i] - beta * seq(old - ref)[i] for i in range(len(scores))]
    total = 0.0
    for i in range(len(scores)):
        g = i // group
        others = [rewards[j] for j in range(g * group, (g + 1) * group) if j != i]
        total += -(rewards[i] - sum(others) / len(others)) * seq(lp)[i]
    return total / len(scores)


def np_ppo(lp, old, adv, mask, eps):
    total = 0.0
    for i, j in zip(*np.nonzero(mask)):
        r = math.exp(lp[i, j] - old[i, j])
        total += -min(r * adv[i, j], min(max(r, 1 - eps), 1 + eps) * adv[i, j])
    return total / mask.sum()


def np_grad(fn, lp, mask, h=1e-6):
    grad = np.zeros_like(lp)
    for idx in zip(*np.nonzero(mask)):
        up, down = lp.copy(), lp.copy()
        up[idx] += h
        down[idx] -= h
        grad[idx] = (fn(up) - fn(down)) / (2 * h)
    return grad


def f32(array) -> mx.array:
    return mx.array(np.asarray(array), dtype=mx.float32)


def check(mlx_loss, reference):
    value, grad = mx.value_and_grad(lambda lp: mlx_loss(lp)[0])(f32(LP))
    assert float(value.item()) == pytest.approx(reference(LP), abs=1e-5)
    np.testing.assert_allclose(np.array(grad), np_grad(reference, LP, MASK), atol=2e-5)
    assert np.all(np.array(grad)[MASK == 0] == 0)


@pytest.mark.parametrize("ranked", [RANKED, np.array([1.0, 0.0])], ids=["both-ranked", "a-tie"])
def test_online_dpo_loss_matches_numpy(ranked):
    check(
        lambda lp: losses.pair_dpo_loss(lp, f32(REF), f32(MASK), mx.array(FIRST), f32(ranked), BETA),
        lambda lp: np_dpo(lp, REF, FIRST, ranked, BETA),
    )


def test_a_pair_left_unranked_gets_no_gradient():
    _, grad = mx.value_and_grad(
        lambda lp: losses.pair_dpo_loss(lp, f32(REF), f32(MASK), mx.array(FIRST), f32([1.0, 0.0]), BETA)[0]
    )(f32(LP))
    assert np.all(np.array(grad)[2:] == 0) and np.any(np.array(grad)[:2] != 0)


@pytest.mark.parametrize("alpha", [0.0, 1e-5, 0.3])
def test_xpo_loss_matches_numpy(alpha):
    check(
        lambda lp: losses.xpo_loss(lp, f32(REF), f32(MASK), mx.array(FIRST), f32(RANKED), BETA, alpha),
        lambda lp: np_xpo(lp, REF, FIRST, RANKED, BETA, alpha),
    )


def test_xpo_exploration_term_lowers_the_reference_completion():
    """Its gradient on the reference rows (2i + 1) beyond DPO's is +alpha / pairs per token: descent lowers them."""
    alpha = 0.3

    def grad_of(a):
        return np.array(
            mx.grad(lambda lp: losses.xpo_loss(lp, f32(REF), f32(MASK), mx.array(FIRST), f32(RANKED), BETA, a)[0])(
                f32(LP)
            )
        )

    extra = grad_of(alpha) - grad_of(0.0)
    np.testing.assert_allclose(extra[[1, 3]], alpha / 2 * MASK[[1, 3]], atol=1e-6)
    np.testing.assert_allclose(extra[[0, 2]], 0.0, atol=1e-6)


@pytest.mark.parametrize("beta", [0.0, 0.2])
def test_reinforce_loss_matches_numpy(beta):
    check(
        lambda lp: losses.reinforce_loss(lp, f32(OLD), f32(REF), f32(MASK), f32(SCORES), 2, beta),
        lambda lp: np_reinforce(lp, OLD, REF, SCORES, 2, beta),
    )


def test_ppo_advantages_by_hand():
    """One prompt, completions of 2 and 1 tokens scored 1 and 0.25, gamma = lambda = 1, no KL: the return is the
    score at every token, the value the other completion's return at the same position (0 once it has ended)."""
    mask = np.array([[1.0, 1.0], [1.0, 0.0]])
    got = losses.ppo_advantages(np.array([1.0, 0.25]), np.zeros((2, 2)), None, mask, 2, 0.0, 1.0, 1.0)
    np.testing.assert_allclose(got, [[0.75, 1.0], [-0.75, 0.0]], atol=1e-6)


def np_gae(scores, old, ref, mask, group, beta, gamma, lam):
    """Loops over tokens: rewards, returns-to-go, leave-one-out values, then the GAE recursion."""
    b, t = mask.shape
    rewards = np.zeros((b, t))
    for i in range(b):
        n = int(mask[i].sum())
        for k in range(n):
            rewards[i, k] = -beta * (old[i, k] - ref[i, k])
        rewards[i, n - 1] += scores[i]
    returns = np.zeros((b, t + 1))
    for i in range(b):
        for k in reversed(range(int(mask[i].sum()))):
            returns[i, k] = rewards[i, k] + gamma * returns[i, k + 1]
    values = np.zeros((b, t + 1))
    for i in range(b):
        g = i // group
        for k in range(int(mask[i].sum())):
            values[i, k] = np.mean([returns[j, k] for j in range(g * group, (g + 1) * group) if j != i])
    adv = np.zeros((b, t + 1))
    for i in range(b):
        for k in reversed(range(int(mask[i].sum()))):
            delta = rewards[i, k] + gamma * values[i, k + 1] - values[i, k]
            adv[i, k] = delta + gamma * lam * adv[i, k + 1]
    return adv[:, :t]


@pytest.mark.parametrize(("beta", "gamma", "lam"), [(0.0, 1.0, 1.0), (0.1, 0.9, 0.95), (0.3, 1.0, 0.0)])
def test_ppo_advantages_match_numpy(beta, gamma, lam):
    got = losses.ppo_advantages(SCORES, OLD, REF, MASK, 2, beta, gamma, lam)
    np.testing.assert_allclose(got, np_gae(SCORES, OLD, REF, MASK, 2, beta, gamma, lam), atol=1e-6)


@pytest.mark.parametrize("epsilon", [0.2, 0.05])
def test_ppo_loss_matches_numpy(epsilon):
    adv = losses.ppo_advantages(SCORES, OLD, REF, MASK, 2, 0.1, 1.0, 0.95).astype(np.float64)
    check(
        lambda lp: losses.ppo_loss(lp, f32(OLD), f32(adv), f32(MASK), epsilon),
        lambda lp: np_ppo(lp, OLD, adv, MASK, epsilon),
    )
