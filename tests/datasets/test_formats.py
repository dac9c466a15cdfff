"""Each format: valid records pass, each kind of broken record is reported at its line and field."""

import pytest
from dataset_helpers import CHAT, found, jsonl

from droidft_server.domain.datasets import FORMATS, formats_for_method, get_format, validate_bytes
from droidft_server.domain.datasets.formats import UnknownFormatError

GRPO = {"problem": "What is 2 + 3?", "reasoning_steps": ["Take 2.", "Add 3."], "solution": "5"}
GSPO = GRPO | {"sparse_indicators": [0, 1], "efficiency_markers": {"cost": "low"}}
DR_GRPO = GRPO | {"domain": "medical", "expertise_level": "expert", "domain_context": {"specialty": "dosing"}}
VALID = {
    "chat_messages": [
        CHAT,
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                *CHAT["messages"],
                {"role": "tool", "content": "{}"},
            ]
        },
    ],
    "instruction_response": [
        {"instruction": "Add 2 and 3.", "response": "5"},
        {"prompt": "2 + 3 =", "completion": "5"},
    ],
    "text": [{"text": "2 + 3 = 5"}],
    "grpo": [GRPO],
    "gspo": [GSPO],
    "dr_grpo": [DR_GRPO],
    "prompt_answer": [{"prompt": "2 + 3?", "answer": "5"}, {"prompt": "2 + 4?", "answer": "6", "system": "Answer."}],
    "question_answer": [{"question": "2 + 3?", "answer": "2 + 3 = 5\n#### 5"}, {"question": "2 + 4?", "answer": "6"}],
    "preference": [
        {"prompt": "2 + 3?", "chosen": "5", "rejected": "6"},
        {
            "prompt": [{"role": "user", "content": "2 + 3?"}],
            "system": "Be exact.",
            "chosen": [{"role": "assistant", "content": "5"}],
            "rejected": [{"role": "assistant", "content": "6"}],
        },
    ],
}


def test_methods_take_the_formats_of_the_spec():
    assert formats_for_method("sft") == ["chat_messages", "sharegpt", "instruction_response", "text"]
    assert formats_for_method("grpo") == ["grpo", "prompt_answer", "question_answer"]
    assert formats_for_method("gspo") == ["gspo", "grpo", "prompt_answer", "question_answer"]
    assert formats_for_method("dr_grpo") == ["dr_grpo", "grpo", "prompt_answer", "question_answer"]
    for method in ("dpo", "orpo", "cpo"):
        assert formats_for_method(method) == ["preference"]
    for method in ("online_dpo", "xpo", "rlhf", "ppo"):
        assert formats_for_method(method) == ["grpo", "prompt_answer", "question_answer"]
    assert sorted(formats_for_method("")) == sorted(FORMATS)
    with pytest.raises(ValueError, match="unknown training method"):
        formats_for_method("kto")
    with pytest.raises(UnknownFormatError, match="known formats"):
        get_format("alpaca")


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_records_pass_and_their_format_is_detected(name):
    report = validate_bytes(jsonl(*VALID[name]))
    assert report.valid and not report.issues, report.issues
    assert report.format == name
    assert report.files[0].record_count == len(VALID[name])


@pytest.mark.parametrize("name", sorted(VALID))
def test_each_method_accepts_its_formats(name):
    for method in get_format(name).methods:
        report = validate_bytes(jsonl(*VALID[name]), method=method, format=name)
        assert report.valid, report.issues


CASES = {
    "chat_messages": [
        (
            {"messages": [{"role": "user", "content": "hi"}, {"role": "bot", "content": "yo"}]},
            [("messages[1].role", "unknown_enum_value")],
        ),
        (
            {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "5"}]},
            [("messages[0].content", "empty_value")],
        ),
        (
            {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant"}]},
            [("messages[1].content", "missing_field")],
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
            [("messages[0].content[0].type", "unknown_enum_value"), ("messages[0].content[0].text", "missing_field")],
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi", "tool_calls": [{"function": {"name": "f"}}]},
                    {"role": "assistant", "content": "x"},
                ]
            },
            [("messages[0].tool_calls", "wrong_role")],
        ),
        ({"messages": [{"role": "user", "content": "hi"}]}, [("messages", "no_assistant_turn")]),
        ({"messages": []}, [("messages", "empty_value")]),
        ({"messages": "hi"}, [("messages", "wrong_type")]),
        ({"message": []}, [("messages", "missing_field")]),
        (
            {"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "x"}]},
            [("messages[0].content", "wrong_type")],
        ),
    ],
    "instruction_response": [
        ({"instruction": "Add."}, [("response", "missing_field")]),
        ({"completion": "5"}, [("prompt", "missing_field")]),
        ({"instruction": "Add.", "response": "5", "prompt": "x"}, [("", "conflicting_fields")]),
        ({"instruction": "", "response": "5"}, [("instruction", "empty_value")]),
    ],
    "text": [({"text": ""}, [("text", "empty_value")]), ({"text": ["a"]}, [("text", "wrong_type")])],
    "grpo": [
        (GRPO | {"reasoning_steps": []}, [("reasoning_steps", "empty_value")]),
        (GRPO | {"reasoning_steps": ["a", 3]}, [("reasoning_steps[1]", "wrong_type")]),
        ({"problem": "p", "reasoning_steps": ["a"]}, [("solution", "missing_field")]),
    ],
    "gspo": [
        (GSPO | {"sparse_indicators": [1]}, [("sparse_indicators", "length_mismatch")]),
        (GSPO | {"sparse_indicators": [0, 2]}, [("sparse_indicators[1]", "unknown_enum_value")]),
        (GSPO | {"sparse_indicators": [0, True]}, [("sparse_indicators[1]", "wrong_type")]),
        (GSPO | {"efficiency_markers": []}, [("efficiency_markers", "wrong_type")]),
    ],
    "dr_grpo": [
        (DR_GRPO | {"domain": "finance"}, [("domain", "unknown_enum_value")]),
        (
            DR_GRPO | {"expertise_level": "guru", "domain_context": "x"},
            [("expertise_level", "unknown_enum_value"), ("domain_context", "wrong_type")],
        ),
    ],
    "prompt_answer": [
        ({"prompt": "2 + 3?", "answer": 5}, [("answer", "wrong_type")]),
        ({"prompt": "2 + 3?", "answer": "5", "system": ""}, [("system", "empty_value")]),
    ],
    "preference": [
        ({"prompt": "p", "chosen": "a", "rejected": "a"}, [("rejected", "identical_pair")]),
        ({"prompt": "p", "chosen": 1, "rejected": "b"}, [("chosen", "wrong_type")]),
        (
            {
                "prompt": "p",
                "chosen": [{"role": "assistant", "content": "a"}],
                "rejected": [{"role": "x", "content": "b"}],
            },
            [("rejected[0].role", "unknown_enum_value")],
        ),
        ({"prompt": "p", "chosen": "a"}, [("rejected", "missing_field")]),
    ],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_records_are_reported_at_their_line_and_field(name):
    valid = VALID[name][0]
    records = [valid]
    expected = []
    for record, problems in CASES[name]:
        records += [b"", record]  # a blank line between: line numbers count it
        expected += [(len(records), path, code) for path, code in problems]
    report = validate_bytes(jsonl(*records), format=name)
    assert found(report) == expected
    assert report.files[0].record_count == 1 + len(CASES[name])


def test_records_of_another_format_are_a_format_mismatch():
    report = validate_bytes(
        jsonl(CHAT, {"prompt": "2 + 3?", "answer": "5"}, GRPO, {"messages": CHAT["messages"][::-1]})
    )
    assert report.format == "chat_messages"
    assert found(report) == [(2, "", "format_mismatch"), (3, "", "format_mismatch")]
    assert "prompt_answer" in report.issues[0].message


def test_a_broken_first_record_still_sets_the_format_it_is_built_as():
    broken_gspo = GSPO | {"sparse_indicators": [1]}
    report = validate_bytes(jsonl(broken_gspo, GSPO), method="gspo")
    assert report.format == "gspo"
    assert found(report) == [(1, "sparse_indicators", "length_mismatch")]


def test_data_for_another_method_is_refused_with_the_formats_it_takes():
    report = validate_bytes(jsonl(CHAT), method="grpo")
    assert found(report) == [(0, "", "format_not_accepted")]
    assert "grpo, prompt_answer" in report.issues[0].message
    given = validate_bytes(jsonl(GRPO), method="dpo", format="grpo")
    assert found(given) == [(0, "", "format_not_accepted")]


def test_an_unknown_format_name_is_reported():
    report = validate_bytes(jsonl(CHAT), format="alpaca")
    assert found(report) == [(0, "", "unknown_format")] and not report.files


def test_a_record_of_no_known_format_is_reported():
    report = validate_bytes(jsonl({"query": "q", "reply": "r"}))
    assert found(report) == [(0, "", "unknown_format")]
    assert "query" in report.issues[0].message


def test_missing_field_message_names_the_fields_present():
    report = validate_bytes(jsonl(CHAT, {"mesages": []}), format="chat_messages")
    assert found(report) == [(2, "messages", "missing_field")]
    assert '"mesages"' in report.issues[0].message
