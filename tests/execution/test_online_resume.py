"""Exact resume of the online methods: a run paused after iteration k and resumed from its full-state checkpoint
reports the same losses and metrics and saves the same adapter, bit for bit, as the run left alone. XPO also
samples from the reference model, PPO takes several clipped updates per rollout with adapter dropout."""

import pytest
from execution_helpers import sft_spec, write_jsonl
from test_resume import PROMPTS, assert_resumed_equals_whole

# XPO and PPO in make test (the one with reference-model sampling, the one with several updates per rollout).
SLOW = pytest.mark.slow


@pytest.mark.parametrize(
    "method", ["xpo", "ppo", pytest.param("rlhf", marks=SLOW), pytest.param("online_dpo", marks=SLOW)]
)
def test_online_method_resumes_exactly(tiny_model, tmp_path, method):
    data = write_jsonl(tmp_path / "data" / "train.jsonl", PROMPTS)
    write_jsonl(tmp_path / "data" / "valid.jsonl", PROMPTS[:4])
    spec = sft_spec(tiny_model, data.parent, iterations=5, report_every=1, eval_every=2, eval_batches=1)
    spec.ClearField("sft")
    spec.adapter.dropout = 0.1
    config = getattr(spec, method)
    config.rollout.max_completion_length = 4
    if method == "ppo":
        config.rollout.num_iterations = 2
    config.rollout.rewards.add(name="exact_answer", weight=1.0)
    assert_resumed_equals_whole(spec, tmp_path, at=2)
