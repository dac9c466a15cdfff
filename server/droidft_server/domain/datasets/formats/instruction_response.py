"""Single-turn pairs: {"instruction", "response"}, the same as {"prompt", "completion"}, or
Alpaca's {"instruction", "input"?, "output"} (a non-empty input is joined to the instruction);
and TRL's conversational prompt/completion, both message lists (the completion's turns are trained).

Every record becomes a conversation and the number of its turns that are prompt (to_example), so
that mask_prompt masks exactly the prompt whichever form the record has."""

from __future__ import annotations

import msgspec

from ..issues import CONFLICTING_FIELDS, MISSING_FIELD, Problem
from .base import Format, Messages, Record, Text, joined, message_dicts, message_text
from .chat_messages import no_assistant_turn

PAIRS = (("instruction", "response"), ("prompt", "completion"))
ALPACA_ANSWER = "output"
ALPACA_INPUT_SEPARATOR = "\n\n"


class InstructionRecord(Record):
    instruction: Text | msgspec.UnsetType = msgspec.UNSET
    response: Text | msgspec.UnsetType = msgspec.UNSET
    prompt: Text | Messages | msgspec.UnsetType = msgspec.UNSET  # TRL's conversational form: message lists
    completion: Text | Messages | msgspec.UnsetType = msgspec.UNSET
    input: str | msgspec.UnsetType = msgspec.UNSET  # Alpaca: context for the instruction, often ""
    output: Text | msgspec.UnsetType = msgspec.UNSET  # Alpaca's name for the response


def _is_alpaca(record: InstructionRecord) -> bool:
    return record.output is not msgspec.UNSET or record.input is not msgspec.UNSET


def check(record: InstructionRecord) -> list[Problem] | None:
    if _is_alpaca(record):
        return _check_alpaca(record)
    present = {name: getattr(record, name) is not msgspec.UNSET for pair in PAIRS for name in pair}
    used = [pair for pair in PAIRS if any(present[name] for name in pair)]
    if not used:
        return [Problem("", MISSING_FIELD, "needs instruction and response (or prompt and completion)")]
    if len(used) > 1:
        return [Problem("", CONFLICTING_FIELDS, "mixes instruction/response with prompt/completion: keep one pair")]
    first, second = used[0]
    if first == "prompt" and present["prompt"] and present["completion"]:
        return _check_conversational(record)
    if (first, second) == ("instruction", "response") and not present["response"]:
        return [
            Problem(
                "response",
                MISSING_FIELD,
                '"response" is missing: it pairs with "instruction" (Alpaca records give it as "output")',
            )
        ]
    return [
        Problem(name, MISSING_FIELD, f'"{name}" is missing: it pairs with "{other}"')
        for name, other in ((first, second), (second, first))
        if not present[name]
    ] or None


def _check_conversational(record: InstructionRecord) -> list[Problem] | None:
    prompt_listed, completion_listed = isinstance(record.prompt, list), isinstance(record.completion, list)
    if prompt_listed != completion_listed:
        listed, string = ("prompt", "completion") if prompt_listed else ("completion", "prompt")
        return [
            Problem(
                string,
                CONFLICTING_FIELDS,
                f"is a string but {listed} is a message list: give both as strings or both as message lists",
            )
        ]
    if completion_listed and not any(message.role == "assistant" for message in record.completion):
        return [no_assistant_turn("completion")]
    return None


def _check_alpaca(record: InstructionRecord) -> list[Problem] | None:
    problems = []
    if (
        record.response is not msgspec.UNSET
        or record.prompt is not msgspec.UNSET
        or record.completion is not msgspec.UNSET
    ):
        problems.append(
            Problem(
                "", CONFLICTING_FIELDS, "mixes Alpaca's input/output with response, prompt or completion: keep one form"
            )
        )
    for name in ("instruction", ALPACA_ANSWER):
        if getattr(record, name) is msgspec.UNSET:
            problems.append(
                Problem(
                    name,
                    MISSING_FIELD,
                    f'"{name}" is missing: an Alpaca record is {{"instruction", "input" (optional), "output"}}',
                )
            )
    return problems or None


def prompt_and_completion(record: InstructionRecord) -> tuple[str | list, str | list]:
    """The prompt and the completion whichever form the record uses (check() has made sure it uses one)."""
    if _is_alpaca(record):
        context = record.input if record.input is not msgspec.UNSET else ""
        return record.instruction + (ALPACA_INPUT_SEPARATOR + context if context else ""), record.output
    if record.instruction is not msgspec.UNSET:
        return record.instruction, record.response
    return record.prompt, record.completion


def to_example(record: InstructionRecord) -> dict:
    """The conversation ({"messages"}) and how many of its first turns are the prompt ("prompt_turns"):
    a string prompt is one user turn and a string completion one assistant turn, as mlx-lm's
    CompletionsDataset renders them."""
    prompt, completion = prompt_and_completion(record)
    prompt_turns = message_dicts(prompt) if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
    answer_turns = (
        message_dicts(completion) if isinstance(completion, list) else [{"role": "assistant", "content": completion}]
    )
    return {"messages": prompt_turns + answer_turns, "prompt_turns": len(prompt_turns)}


def training_text(record: InstructionRecord) -> str:
    # Runs before check() (token lengths of every record), so it takes whichever fields are there.
    return joined(
        *(
            message_text(value) if isinstance(value, list) else value
            for value in msgspec.structs.astuple(record)
            if value is not msgspec.UNSET
        )
    )


FORMAT = Format(
    name="instruction_response",
    record_type=InstructionRecord,
    methods=("sft",),
    description=(
        "An instruction and its response (or a prompt and its completion, as strings or as message lists, "
        "or Alpaca's instruction, input and output)."
    ),
    training_text=training_text,
    to_example=to_example,
    check=check,
)
