"""Sample data in every format, deterministic per seed, from verifiable problems (problems.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .formats import get_format
from .problems import SPACE, Problem, ProblemSequence


def _worked(problem: Problem) -> str:
    return f"{' '.join(problem.steps)} The answer is {problem.answer}."


def _grpo(p: Problem) -> dict:
    return {"problem": p.question, "reasoning_steps": list(p.steps), "solution": p.answer}


def _gspo(p: Problem) -> dict:
    return _grpo(p) | {
        "sparse_indicators": list(p.key_steps),
        "efficiency_markers": {"reference_steps": len(p.steps), "computation_cost": "low"},
    }


def _dr_grpo(p: Problem) -> dict:
    return _grpo(p) | {
        "domain": p.domain,
        "expertise_level": p.expertise_level,
        "domain_context": {"skill": p.kind},
    }


RENDERERS: dict[str, Callable[[Problem], dict]] = {
    "grpo": _grpo,
    "gspo": _gspo,
    "dr_grpo": _dr_grpo,
    "prompt_answer": lambda p: {"prompt": p.question, "answer": p.answer},
    "question_answer": lambda p: {"question": p.question, "answer": "\n".join(p.steps) + f"\n#### {p.answer}"},
    "preference": lambda p: {
        "prompt": p.question,
        "chosen": f"The answer is {p.answer}.",
        "rejected": f"The answer is {p.wrong_answer}.",
    },
    "chat_messages": lambda p: {
        "messages": [{"role": "user", "content": p.question}, {"role": "assistant", "content": _worked(p)}],
    },
    "sharegpt": lambda p: {
        "conversations": [{"from": "human", "value": p.question}, {"from": "gpt", "value": _worked(p)}],
    },
    "instruction_response": lambda p: {"instruction": p.question, "response": _worked(p)},
    "text": lambda p: {"text": f"Question: {p.question}\nAnswer: {_worked(p)}"},
}

MAX_COUNT = SPACE


def generate(format: str, count: int, seed: int) -> Iterator[dict]:
    """`count` records of `format`, the same for the same seed, no two alike (count <= MAX_COUNT)."""
    get_format(format)  # an unknown name fails here, before any record
    if not 0 <= count <= MAX_COUNT:
        raise ValueError(f"count must be 0 to {MAX_COUNT}, not {count}")
    render, sequence = RENDERERS[format], ProblemSequence(seed)
    return (render(sequence.problem(i)) for i in range(count))
