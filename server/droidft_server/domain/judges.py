"""What an online method's judge reads: the pairwise judge model's prompt, one home for the worker and the catalogue."""

from __future__ import annotations

# The judge model sees this as the user turn of its own chat template and answers with one digit; the
# worker reads the probability of "1" against "2" at the answer's first token.
PAIRWISE_JUDGE_TEMPLATE = (
    "Which response answers the prompt better? Reply with 1 or 2 only.\n\n"
    "Prompt:\n{prompt}\n\nResponse 1:\n{first}\n\nResponse 2:\n{second}"
)
PAIRWISE_JUDGE_TEMPLATE_NAME = "pairwise_judge"
JUDGE_ANSWERS = ("1", "2")  # the first response is better, the second


def pairwise_judge_prompt(prompt: str, first: str, second: str) -> str:
    return PAIRWISE_JUDGE_TEMPLATE.format(prompt=prompt, first=first, second=second)
