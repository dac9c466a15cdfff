"""Converting records between formats that carry the same information; refusing, with the reason,
where the target needs something the source does not have (droidft does not invent data)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from .detect import detect_format
from .formats import Format, get_format, instruction_response, sharegpt
from .formats.base import SHAREGPT_ROLES, content_text
from .reader import RecordError, iter_records
from .writer import write_jsonl


class ConversionError(ValueError):
    pass


def _chat_from_pair(record) -> dict:
    # The conversation the record trains as, whichever of its forms it has (Alpaca, TRL's message lists).
    return {"messages": instruction_response.to_example(record)["messages"]}


def _plain_turns(record, into: str) -> list[dict]:
    """The record's turns as role and text; ConversionError when a turn calls tools or the record has tools."""
    if record.tools is not msgspec.UNSET or any(message.tool_calls is not msgspec.UNSET for message in record.messages):
        raise ConversionError(f"it calls tools, which {into} records cannot hold")
    return [{"role": message.role, "content": content_text(message.content)} for message in record.messages]


def _pair_from_chat(record) -> dict:
    turns = _plain_turns(record, "instruction_response")
    roles = [turn["role"] for turn in turns]
    if roles != ["user", "assistant"]:
        raise ConversionError(
            f"its messages are {', '.join(roles)}: instruction_response holds exactly one user turn "
            "and the assistant's answer"
        )
    return {"instruction": turns[0]["content"], "response": turns[1]["content"]}


_SPEAKERS = {role: speaker for speaker, role in SHAREGPT_ROLES.items()}


def _sharegpt_from_chat(record) -> dict:
    turns = _plain_turns(record, "sharegpt")
    return {"conversations": [{"from": _SPEAKERS[turn["role"]], "value": turn["content"]} for turn in turns]}


def _chat_from_sharegpt(record) -> dict:
    return {"messages": sharegpt.to_example(record)["messages"]}


def _prompt_answer_from_problem(record) -> dict:
    return {"prompt": record.problem, "answer": record.solution}


def _grpo_from_richer(record) -> dict:
    return {"problem": record.problem, "reasoning_steps": record.reasoning_steps, "solution": record.solution}


CONVERTERS: dict[tuple[str, str], Callable[[Any], dict]] = {
    ("instruction_response", "chat_messages"): _chat_from_pair,
    ("chat_messages", "instruction_response"): _pair_from_chat,
    ("chat_messages", "sharegpt"): _sharegpt_from_chat,
    ("sharegpt", "chat_messages"): _chat_from_sharegpt,
    ("grpo", "prompt_answer"): _prompt_answer_from_problem,
    ("gspo", "prompt_answer"): _prompt_answer_from_problem,
    ("dr_grpo", "prompt_answer"): _prompt_answer_from_problem,
    ("gspo", "grpo"): _grpo_from_richer,
    ("dr_grpo", "grpo"): _grpo_from_richer,
}


def _unchanged(record: dict) -> dict:
    return record


def _refusal(source: Format, target: Format) -> str:
    missing = [name for name in target.required_fields if name not in source.fields]
    if target.name == "preference":
        return f"a preference record needs a rejected answer, which {source.name} data does not have"
    if missing:
        return (
            f"{target.name} records need {', '.join(missing)}, which {source.name} data does not have; "
            "droidft does not invent them"
        )
    return f"{source.name} data does not map onto {target.name} without losing its meaning"


def converter(from_format: str, to_format: str) -> Callable[[Any], dict]:
    """The function from a typed record of one format to a record of the other; ConversionError if none."""
    source, target = get_format(from_format), get_format(to_format)
    if source is target:
        return _unchanged
    try:
        return CONVERTERS[source.name, target.name]
    except KeyError:
        raise ConversionError(f"cannot convert {source.name} to {target.name}: {_refusal(source, target)}") from None


def _converted(numbered: Iterable[tuple[str, dict]], source: Format, convert_one: Callable) -> Iterator[dict]:
    for where, record in numbered:
        try:
            typed = msgspec.convert(record, source.record_type)
            problems = source.check(typed) if source.check else None
            if problems:
                raise ConversionError(problems[0].message)
            # Records pass through whole when the format stays (typed records skip free-form objects).
            yield record if convert_one is _unchanged else convert_one(typed)
        except (msgspec.ValidationError, ConversionError) as exc:
            raise ConversionError(f"{where} cannot become the target format: {exc}") from None


def convert(records: Iterable[dict], from_format: str, to_format: str) -> Iterator[dict]:
    """Records converted one by one; a pair without a conversion fails at once, a bad record when reached."""
    convert_one = converter(from_format, to_format)
    numbered = ((f"record {i}", record) for i, record in enumerate(records, 1))
    return _converted(numbered, get_format(from_format), convert_one)


def convert_file(src: str | Path, dst: str | Path, to_format: str, from_format: str = "") -> int:
    """Convert a data file (JSONL, a JSON array, CSV or Parquet; gzip too) into a JSONL file of another
    format (or the same one), streaming; returns records written.

    from_format empty: detected from the first record. The output is written under a temporary
    name and renamed, so a refused record leaves no half-written file.
    """
    if not Path(src).is_file():
        raise ConversionError(f"{src}: no such file")
    from_format = from_format or detect_format(src)
    if not from_format:
        raise ConversionError(f"cannot tell the format of {src} from its first record: name the source format")
    convert_one = converter(from_format, to_format)
    try:
        numbered = ((f"line {number}", record) for number, record in iter_records(src))
        return write_jsonl(dst, _converted(numbered, get_format(from_format), convert_one))
    except RecordError as exc:
        raise ConversionError(str(exc)) from None
