"""Reward functions, their selection, GSPO's efficiency gate, GRPO's knobs, and the prompts."""

from __future__ import annotations

import pytest

from droidft_server.domain import prompts, rewards
from droidft_server.domain.rewards import RewardExample, RewardOptions

EXAMPLE = RewardExample(answer="12", reference_steps=("3 * 4 = 12", "12 - 0 = 12"), step_weights=(1.0, 0.0))
OPTIONS = RewardOptions(reasoning_steps=3)


def score(name, completion, example=EXAMPLE, options=OPTIONS):
    return rewards.REWARDS[name].score(completion, example, options)


def test_answer_extraction_and_correctness():
    assert score("exact_answer", "Step 1: 3 * 4 = 12\nAnswer: 12.") == 1.0
    assert score("exact_answer", "<answer>12</answer>") == 1.0
    assert score("exact_answer", " 12 ") == 1.0
    assert score("exact_answer", "Answer: 13") == 0.0
    assert score("numeric_answer", "Answer: 12.00001") == 1.0
    assert score("numeric_answer", "Answer: about 1,2") == 0.0
    assert score("numeric_answer", "Answer: twelve") == 0.0


def test_step_format_expects_reasoning_steps():
    three = "Step 1: a\nStep 2: b\nStep 3: c\nAnswer: 12"
    assert score("step_format", three) == 1.0
    assert score("step_format", three, options=RewardOptions(reasoning_steps=5)) == pytest.approx(3 / 5)
    assert score("step_format", three, options=RewardOptions(reasoning_steps=3)) == 1.0
    assert score("step_format", "Step 1: a\nStep 2: b\nStep 3: c") == 0.5  # no answer line
    assert score("step_format", "12") == 0.0


def test_step_overlap_weighs_steps_by_indicators():
    both = "Step 1: 3 * 4 = 12\nStep 2: 12 - 0 = 12\nAnswer: 12"
    second_only = "Step 1: 12 - 0 = 12\nAnswer: 12"
    assert score("step_overlap", both) == 1.0
    assert score("step_overlap", second_only) == 0.0  # the only flagged step is missing
    unweighted = RewardExample(answer="12", reference_steps=EXAMPLE.reference_steps)
    assert score("step_overlap", second_only, example=unweighted) == 0.5


def test_length_efficiency():
    # Reference: "3 * 4 = 12 12 - 0 = 12 12" is 11 words.
    assert score("length_efficiency", "Answer: 12") == 1.0
    assert score("length_efficiency", " ".join(["w"] * 22)) == pytest.approx(0.5)
    assert score("length_efficiency", "") == 0.0


def test_method_defaults_and_requested_weights():
    assert [w.reward.name for w in rewards.select_rewards("dr_grpo", ())] == ["exact_answer"]
    chosen = rewards.select_rewards("grpo", (("numeric_answer", 2.0),))
    assert [(w.reward.name, w.weight) for w in chosen] == [("numeric_answer", 2.0)]
    with pytest.raises(ValueError, match="unknown reward"):
        rewards.select_rewards("grpo", (("no_such_reward", 1.0),))


def test_multi_step_training_gives_partial_credit():
    completion = "Step 1: 3 * 4 = 12\nAnswer: 11"  # right first step, wrong answer
    plain = rewards.select_rewards("grpo", (("exact_answer", 1.0),))
    multi = rewards.select_rewards("grpo", (("exact_answer", 1.0),), multi_step_training=True)
    assert [w.reward.name for w in multi] == ["exact_answer", "step_overlap"]
    got_plain = rewards.score_completions([completion], [EXAMPLE], plain, OPTIONS).total
    got_multi = rewards.score_completions([completion], [EXAMPLE], multi, OPTIONS).total
    assert got_plain == [0.0] and got_multi == [1.0]


def test_efficiency_threshold_removes_correctness_of_long_completions():
    selected = rewards.select_rewards("gspo", (("exact_answer", 1.0), ("length_efficiency", 0.5)))
    long_right = "Step 1: " + " ".join(["filler"] * 20) + "\nAnswer: 12"  # efficiency 11 / 24
    short_right = "Answer: 12"
    free = rewards.score_completions([long_right, short_right], [EXAMPLE] * 2, selected, OPTIONS)
    gated = rewards.score_completions([long_right, short_right], [EXAMPLE] * 2, selected, OPTIONS, 0.8)
    assert free.by_name["exact_answer"] == [1.0, 1.0]
    assert gated.by_name["exact_answer"] == [0.0, 1.0]
    assert gated.total[0] == pytest.approx(0.5 * 11 / 24) and gated.total[1] == 1.5


def test_plugins_register_rewards(tmp_path, monkeypatch):
    monkeypatch.setattr(rewards, "REWARDS", dict(rewards.REWARDS))
    (tmp_path / "operator_rewards.py").write_text(
        "from droidft_server.domain.rewards import register_reward\n"
        "@register_reward('says_please', 'Is polite: 1 when the completion says please.')\n"
        "def says_please(completion, example, options):\n"
        "    return float('please' in completion.lower())\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert rewards.load_reward_plugins(["operator_rewards"]) == ["says_please"]
    chosen = rewards.select_rewards("grpo", (("says_please", 3.0),))
    assert rewards.score_completions(["Please: 12"], [EXAMPLE], chosen, OPTIONS).total == [3.0]
    with pytest.raises(ValueError, match="already registered"):
        rewards.register_reward("says_please", "again")(lambda c, e, o: 0.0)


def test_prompt_templates_cover_every_domain_and_level():
    assert len(prompts.SYSTEM_PROMPT_TEMPLATES) == 20
    medical = prompts.domain_system_prompt("medical", "beginner")
    legal = prompts.domain_system_prompt("legal", "beginner")
    expert = prompts.domain_system_prompt("medical", "expert")
    assert len({medical, legal, expert}) == 3
    assert "clinician" in medical and "beginner" in medical and "expert:" in expert
    assert "exactly 7 numbered steps" in prompts.step_format_prompt(7)
