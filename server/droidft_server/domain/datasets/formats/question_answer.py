"""Question/answer records as GSM8K writes them: {"question", "answer"}, the answer's worked steps
ending in a line "#### <final answer>"; completions are scored against the final answer."""

from __future__ import annotations

from ...method_families import PROMPT_METHODS
from .base import Format, Record, Text, joined

FINAL_ANSWER_MARK = "####"


class QuestionAnswerRecord(Record):
    question: Text
    answer: Text


def final_answer_and_steps(answer: str) -> tuple[str, list[str]]:
    """GSM8K's "steps\\n#### 42" as ("42", steps); an answer without the mark is the final answer whole."""
    steps, mark, final = answer.rpartition(FINAL_ANSWER_MARK)
    if not mark or not final.strip():
        return answer.strip(), []
    return final.strip(), [line.strip() for line in steps.splitlines() if line.strip()]


def to_example(record: QuestionAnswerRecord) -> dict:
    final, steps = final_answer_and_steps(record.answer)
    return {"prompt": record.question, "answer": final, "system": None, "reference_steps": steps}


FORMAT = Format(
    name="question_answer",
    record_type=QuestionAnswerRecord,
    methods=PROMPT_METHODS,
    description='A question and its answer, GSM8K style: worked steps, then "#### <final answer>".',
    training_text=lambda record: joined(record.question, record.answer),
    to_example=to_example,
    reference_steps=True,
)
