"""Files that break naive loaders: each is read to the end and reported, never a crash or a hang."""

import gzip
import json

import pytest
from dataset_helpers import CHAT, found, jsonl

from droidft_server.domain.datasets import detect_format, iter_records, validate_bytes, validate_path

RECORD = json.dumps(CHAT).encode()


def test_empty_file(tmp_path):
    (tmp_path / "train.jsonl").write_bytes(b"")
    report = validate_path(tmp_path / "train.jsonl")
    assert found(report) == [(0, "", "empty_file")] and not report.valid
    assert validate_bytes(b"\n \r\n\n").issue_counts == {"empty_file": 1}


def test_bom_crlf_and_blank_lines_are_read_as_records():
    content = b"\xef\xbb\xbf" + RECORD + b"\r\n\r\n\n" + RECORD.replace(b"5", b"6") + b"\r\n   \n"
    report = validate_bytes(content)
    assert report.valid and not report.issues
    assert report.files[0].record_count == 2


def test_a_bom_is_not_a_problem_for_iter_records(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + RECORD + b"\r\n\n" + RECORD + b"\n")
    assert [number for number, _ in iter_records(path)] == [1, 3]


def test_invalid_utf8_is_found_even_in_fields_the_format_ignores():
    broken = RECORD[:-1] + b', "note": "caf\xe9"}'
    report = validate_bytes(jsonl(CHAT, broken, CHAT | {"messages": CHAT["messages"][::-1]}))
    assert found(report) == [(2, "", "invalid_utf8")]
    assert "0xe9" in report.issues[0].message


def test_nan_and_infinity_are_invalid_numbers():
    report = validate_bytes(
        jsonl(
            RECORD[:-1] + b', "score": NaN}',
            b'{"messages": [{"role": "user", "content": Infinity}, {"role": "assistant", "content": "x"}]}',
            RECORD[:-1] + b', "weight": -Infinity, "big": 1e400}',
        ),
        format="chat_messages",
    )
    assert found(report) == [
        (1, "score", "invalid_number"),
        (2, "messages[0].content", "invalid_number"),
        (3, "weight", "invalid_number"),
        (3, "big", "invalid_number"),
    ]


def test_deeply_nested_json_is_too_deep():
    deep = b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    report = validate_bytes(jsonl(CHAT, deep))
    assert found(report) == [(2, "", "too_deep")]


def test_a_json_array_file_is_read_element_by_element():
    for array in (json.dumps([CHAT, CHAT], indent=2).encode(), json.dumps([CHAT, {"messages": 1}]).encode()):
        report = validate_bytes(array)
        assert report.files[0].record_count == 2
        assert found(report) in ([(2, "", "duplicate_record")], [(2, "messages", "wrong_type")])


def test_an_array_record_inside_jsonl_is_a_wrong_type():
    report = validate_bytes(jsonl(CHAT, b"[1, 2]"), format="chat_messages")
    assert found(report) == [(2, "", "wrong_type")]
    first = validate_bytes(jsonl(b"[1, 2]", CHAT))
    assert first.format == "chat_messages" and found(first) == [(1, "", "wrong_type")]


def test_a_scalar_record_is_a_wrong_type():
    report = validate_bytes(jsonl(CHAT, b"null", b"7", b'"text"'), format="chat_messages")
    assert found(report) == [(2, "", "wrong_type"), (3, "", "wrong_type"), (4, "", "wrong_type")]
    assert report.issues[0].message.endswith("found null")


def test_invalid_json_says_where():
    report = validate_bytes(jsonl(CHAT, b'{"messages": [', b'{"messages": []} trailing', b"not json"))
    assert found(report) == [(2, "", "invalid_json"), (3, "", "invalid_json"), (4, "", "invalid_json")]
    assert "column" in report.issues[0].message


def test_gzip_input_is_read(tmp_path):
    path = tmp_path / "data.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl(CHAT, {"messages": []})))
    report = validate_path(path)
    assert found(report) == [(2, "messages", "empty_value")]
    assert detect_format(path) == "chat_messages"
    assert found(validate_bytes(gzip.compress(jsonl(CHAT)))) == []


def test_a_truncated_gzip_file_is_unreadable_after_the_lines_it_gave(tmp_path):
    path = tmp_path / "data.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl(*[CHAT] * 10) + jsonl({"text": "x" * 3000})[:-5])[:-30])
    report = validate_path(path)
    assert report.issue_counts["unreadable_file"] == 1 and not report.valid


def test_directory_without_train_file(tmp_path):
    (tmp_path / "valid.jsonl").write_bytes(jsonl(CHAT))
    (tmp_path / "notes.txt").write_text("x")
    report = validate_path(tmp_path)
    assert found(report) == [(0, "", "no_train_file")]
    assert "notes.txt" in report.issues[0].message
    assert [file.split for file in report.files] == ["valid"]


def test_directory_splits_are_each_reported(tmp_path):
    (tmp_path / "train.jsonl").write_bytes(jsonl(CHAT, {"messages": []}))
    (tmp_path / "valid.jsonl.gz").write_bytes(gzip.compress(jsonl(CHAT)))
    (tmp_path / "test.jsonl").write_bytes(jsonl({"text": "x"}))
    report = validate_path(tmp_path)
    assert [(f.split, f.format, f.record_count, f.error_count) for f in report.files] == [
        ("train", "chat_messages", 2, 1),
        ("valid", "chat_messages", 1, 0),
        ("test", "chat_messages", 1, 1),
    ]
    assert [(issue.file.rsplit("/", 1)[1], issue.line, issue.code) for issue in report.issues] == [
        ("train.jsonl", 2, "empty_value"),
        ("test.jsonl", 1, "format_mismatch"),
    ]
    assert detect_format(tmp_path) == "chat_messages"


def test_a_path_that_does_not_exist(tmp_path):
    report = validate_path(tmp_path / "missing.jsonl")
    assert found(report) == [(0, "", "not_found")] and not report.files and not report.valid
    assert detect_format(tmp_path / "missing.jsonl") == ""


@pytest.mark.timeout(120)
def test_a_50_mb_line_is_read_and_checked(tmp_path):
    path = tmp_path / "train.jsonl"
    huge = {"messages": [{"role": "user", "content": "x" * 50_000_000}, {"role": "assistant", "content": "ok"}]}
    with open(path, "wb") as stream:
        stream.write(jsonl(CHAT))
        stream.write(json.dumps(huge).encode() + b"\n")
        stream.write(b'{"messages": "' + b"y" * 50_000_000 + b"\n")
        stream.write(jsonl({"messages": []}))
    report = validate_path(path)
    assert found(report) == [(3, "", "invalid_json"), (4, "messages", "empty_value")]
    assert report.files[0].record_count == 4
    assert max(len(issue.message) for issue in report.issues) < 300
