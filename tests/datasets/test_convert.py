"""Conversion between formats that carry the same information, and refusal where they do not."""

import pytest

from droidft_server.domain.datasets import (
    ConversionError,
    convert,
    convert_file,
    generate,
    validate_path,
    write_jsonl,
)


def test_instruction_response_and_chat_round_trip():
    pairs = list(generate("instruction_response", 20, 4))
    chats = list(convert(pairs, "instruction_response", "chat_messages"))
    assert chats[0]["messages"][0] == {"role": "user", "content": pairs[0]["instruction"]}
    assert list(convert(chats, "chat_messages", "instruction_response")) == pairs


def test_prompt_completion_becomes_chat():
    chats = list(convert([{"prompt": "2 + 3 =", "completion": "5"}], "instruction_response", "chat_messages"))
    assert chats == [{"messages": [{"role": "user", "content": "2 + 3 ="}, {"role": "assistant", "content": "5"}]}]


@pytest.mark.parametrize("source", ["grpo", "gspo", "dr_grpo"])
def test_reasoning_formats_become_prompt_answer(source):
    records = list(generate(source, 10, 2))
    assert list(convert(records, source, "prompt_answer")) == list(generate("prompt_answer", 10, 2))


@pytest.mark.parametrize("source", ["gspo", "dr_grpo"])
def test_richer_reasoning_formats_become_grpo(source):
    assert list(convert(generate(source, 10, 2), source, "grpo")) == list(generate("grpo", 10, 2))


@pytest.mark.parametrize(
    ("source", "target", "reason"),
    [
        ("grpo", "gspo", "sparse_indicators, efficiency_markers"),
        ("grpo", "dr_grpo", "domain, expertise_level, domain_context"),
        ("chat_messages", "preference", "rejected answer"),
        ("prompt_answer", "grpo", "reasoning_steps"),
    ],
)
def test_conversions_that_would_invent_data_are_refused_with_the_reason(source, target, reason):
    with pytest.raises(ConversionError, match=reason):
        convert([], source, target)


def test_a_multi_turn_chat_cannot_become_one_pair():
    chat = {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a"},
        ]
    }
    with pytest.raises(ConversionError, match=r"record 2 .*system, user, assistant"):
        list(convert([next(generate("chat_messages", 1, 0)), chat], "chat_messages", "instruction_response"))


def test_an_invalid_record_is_refused_with_its_number():
    with pytest.raises(ConversionError, match=r"record 1 .*messages"):
        list(convert([{"messages": []}], "chat_messages", "instruction_response"))


def test_convert_file_streams_detects_the_source_and_writes_valid_data(tmp_path):
    write_jsonl(tmp_path / "in.jsonl.gz", generate("dr_grpo", 200, 6))
    assert convert_file(tmp_path / "in.jsonl.gz", tmp_path / "out.jsonl", "prompt_answer") == 200
    report = validate_path(tmp_path / "out.jsonl", method="grpo")
    assert report.valid and report.format == "prompt_answer" and report.files[0].record_count == 200


def test_convert_file_refusal_leaves_no_output(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"instruction": "q", "response": "a"}\n{"instruction": "q"}\n')
    with pytest.raises(ConversionError, match="line 2"):
        convert_file(tmp_path / "in.jsonl", tmp_path / "out.jsonl", "chat_messages")
    assert not (tmp_path / "out.jsonl").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]
    with pytest.raises(ConversionError, match="cannot convert"):
        convert_file(tmp_path / "in.jsonl", tmp_path / "out.jsonl", "preference")
