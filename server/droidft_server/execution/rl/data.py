"""RL training records -> prompts with what their completions are scored against (no MLX here).

Accepted records: the reasoning formats {problem, reasoning_steps, solution} (grpo; gspo adds
sparse_indicators, dr_grpo adds domain), and prompt_answer {prompt, answer, system?}.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...domain.rewards import RewardExample
from ..data import read_jsonl


@dataclass(frozen=True)
class RlPrompt:
    prompt: str
    system: str | None
    reward_example: RewardExample
    domain: str | None = None  # the record's domain, when it names one


def rl_prompt(record: dict) -> RlPrompt:
    if "problem" in record and "solution" in record:
        return RlPrompt(
            prompt=str(record["problem"]),
            system=record.get("system"),
            reward_example=RewardExample(
                answer=str(record["solution"]),
                reference_steps=tuple(str(step) for step in record.get("reasoning_steps", ())),
                step_weights=tuple(float(flag) for flag in record.get("sparse_indicators", ())),
            ),
            domain=record.get("domain"),
        )
    if "prompt" in record and "answer" in record:
        return RlPrompt(
            prompt=str(record["prompt"]),
            system=record.get("system"),
            reward_example=RewardExample(answer=str(record["answer"])),
            domain=record.get("domain"),
        )
    raise ValueError(
        "an RL record needs {problem, reasoning_steps, solution} or {prompt, answer}; "
        f"got keys {sorted(record)}"
    )


def read_rl_prompts(path: Path) -> list[RlPrompt]:
    prompts = []
    for number, record in enumerate(read_jsonl(path), start=1):
        try:
            prompts.append(rl_prompt(record))
        except ValueError as error:
            raise ValueError(f"{path}: record {number}: {error}") from None
    return prompts
