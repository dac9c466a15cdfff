"""Conversations as mlx-lm trains them: {"messages": [{"role", "content"}, ...], "tools"?} with one
assistant turn at least. An assistant turn may call tools (OpenAI's "tool_calls", its content then
null or left out), a "tool" turn answers a call, and "tools" lists the callable functions (JSON
schemas) the chat template shows the model."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from ..issues import MISSING_FIELD, NO_ASSISTANT_TURN, WRONG_ROLE, Problem
from .base import Content, Format, Record, Role, Text, content_text, joined, message_text


class ToolFunction(Record):
    name: Text
    # OpenAI writes the arguments as a JSON string, Hugging Face's templates take an object: either is kept.
    arguments: str | dict[str, Any] | msgspec.UnsetType = msgspec.UNSET


class ToolCall(Record):
    function: ToolFunction
    id: str | msgspec.UnsetType = msgspec.UNSET
    type: Literal["function"] | msgspec.UnsetType = msgspec.UNSET


class ChatMessage(Record):
    role: Role
    content: Content | msgspec.UnsetType | None = msgspec.UNSET  # left out only beside tool_calls
    tool_calls: Annotated[list[ToolCall], msgspec.Meta(min_length=1)] | msgspec.UnsetType = msgspec.UNSET
    tool_call_id: str | msgspec.UnsetType = msgspec.UNSET  # a tool turn: the call it answers
    name: str | msgspec.UnsetType = msgspec.UNSET


class ChatRecord(Record):
    messages: Annotated[list[ChatMessage], msgspec.Meta(min_length=1)]
    tools: list[dict[str, Any]] | msgspec.UnsetType = msgspec.UNSET


def no_assistant_turn(path: str, assistant: str = "assistant") -> Problem:
    return Problem(
        path,
        NO_ASSISTANT_TURN,
        f'no message has role "{assistant}": SFT learns from assistant turns, so add the answer as one',
    )


def _turn_problems(index: int, message: ChatMessage) -> list[Problem]:
    where = f"messages[{index}]"
    problems = []
    calls = message.tool_calls is not msgspec.UNSET
    if calls and message.role != "assistant":
        problems.append(
            Problem(f"{where}.tool_calls", WRONG_ROLE, f'only assistant turns call tools, not "{message.role}" turns')
        )
    if (message.content is None or message.content is msgspec.UNSET) and not (calls and message.role == "assistant"):
        problems.append(
            Problem(
                f"{where}.content",
                MISSING_FIELD,
                "is missing or null: only an assistant turn with tool_calls may leave out its content",
            )
        )
    return problems


def check(record: ChatRecord) -> list[Problem] | None:
    messages = record.messages
    # The usual record, text turns only, in two tight loops (a third less time than the full check's one).
    for message in messages:
        if type(message.content) is not str or message.tool_calls is not msgspec.UNSET:
            return _checked_turns(record)
    for message in messages:
        if message.role == "assistant":
            return None
    return [no_assistant_turn("messages")]


def _checked_turns(record: ChatRecord) -> list[Problem] | None:
    problems = []
    assistant = False
    for index, message in enumerate(record.messages):
        assistant = assistant or message.role == "assistant"
        if type(message.content) is not str or message.tool_calls is not msgspec.UNSET:  # str: the usual turn
            problems += _turn_problems(index, message)
    if not assistant:
        problems.append(no_assistant_turn("messages"))
    return problems or None


def _message_dict(message: ChatMessage) -> dict:
    turn = msgspec.to_builtins(message)  # the fields given, tool calls as they were written
    content = message.content
    turn["content"] = None if content is None or content is msgspec.UNSET else content_text(content)
    return turn


def to_example(record: ChatRecord) -> dict:
    return {
        "messages": [_message_dict(message) for message in record.messages],
        "tools": None if record.tools is msgspec.UNSET else record.tools,
    }


def training_text(record: ChatRecord) -> str:
    # Tool calls and schemas are rendered by the chat template: their JSON stands in for that text.
    calls = [msgspec.json.encode(m.tool_calls).decode() for m in record.messages if m.tool_calls is not msgspec.UNSET]
    tools = [] if record.tools is msgspec.UNSET else [msgspec.json.encode(record.tools).decode()]
    return joined(message_text(record.messages), *calls, *tools)


FORMAT = Format(
    name="chat_messages",
    record_type=ChatRecord,
    methods=("sft",),
    description=(
        "A conversation: messages with role system, user, assistant or tool and their content (text or text "
        "parts); assistant tool_calls and a tools list as mlx-lm trains them."
    ),
    training_text=training_text,
    to_example=to_example,
    check=check,
)
