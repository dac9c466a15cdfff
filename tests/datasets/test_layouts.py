"""CSV, JSON arrays and Parquet read as JSONL is: every record checked, each issue at the record's own
number (CSV: the line its row starts on; JSON array: the element; Parquet: the row), within limits."""

import gzip
import json
import tracemalloc

import pyarrow
import pyarrow.parquet
from dataset_helpers import CHAT, found

from droidft_server.domain.datasets import (
    convert_file,
    detect_format,
    iter_records,
    reader,
    split_files,
    validate_bytes,
    validate_path,
)
from droidft_server.domain.datasets.training_data import detected_plan, read_job_data

ALPACA_CSV = (
    '\ufeffinstruction,input,output\r\nAdd 1 and 2.,,3\r\n\r\n"Add 2\r\nand 3.",Show it.,5\r\nAdd 3 and 4.,x\r\n'
)


def _parquet(path, records, row_group_size=2):
    pyarrow.parquet.write_table(pyarrow.Table.from_pylist(records), path, row_group_size=row_group_size)
    return path


def test_csv_rows_are_numbered_by_the_line_they_start_on(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(ALPACA_CSV, encoding="utf-8", newline="")
    report = validate_path(path)
    assert report.files[0].format == "instruction_response" and report.files[0].record_count == 3
    assert found(report) == [(6, "output", "missing_field")]  # line 4's row runs on over line 5
    assert [(number, record) for number, record in iter_records(path)] == [
        (2, {"instruction": "Add 1 and 2.", "output": "3"}),  # an empty cell is a field left out
        (4, {"instruction": "Add 2\r\nand 3.", "input": "Show it.", "output": "5"}),
        (6, {"instruction": "Add 3 and 4.", "input": "x"}),
    ]


def test_a_gzip_csv_is_read_and_broken_csv_stops_at_its_line(tmp_path):
    path = tmp_path / "train.csv.gz"
    path.write_bytes(gzip.compress(b"prompt,completion\nhi,there\nhi,you\n"))
    assert validate_path(path).valid
    too_many = tmp_path / "cells.csv"
    too_many.write_bytes(b"text\nhello\nhello, world\nbye\n")
    report = validate_path(too_many)
    assert found(report) == [(3, "", "unreadable_file")]
    assert "2 cells but the header names 1 columns" in report.issues[0].message
    not_utf8 = tmp_path / "latin.csv"
    not_utf8.write_bytes(b"text\nhello\ncaf\xe9\n")
    assert found(validate_path(not_utf8)) == [(3, "", "invalid_utf8")]


def test_a_json_array_numbers_its_elements(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(json.dumps([CHAT, {"messages": [{"role": "gpt", "content": "5"}]}, {"text": "x"}], indent=2))
    report = validate_path(path)
    assert found(report)[0] == (2, "messages[0].role", "unknown_enum_value")
    assert '"gpt" is ShareGPT\'s name for "assistant"' in report.issues[0].message
    assert found(report)[1:] == [(3, "", "format_mismatch")]
    assert found(validate_bytes(gzip.compress(json.dumps([CHAT]).encode()))) == []


def test_a_broken_or_too_large_json_array_is_refused_with_the_way_out(tmp_path, monkeypatch):
    broken = tmp_path / "broken.json"
    broken.write_text('[\n  {"text": "a"},\n  {"text": "b"}\n  {"text": "c"}\n]')
    report = validate_path(broken)
    assert found(report) == [(0, "", "invalid_json")] and "text line 4" in report.issues[0].message
    monkeypatch.setattr(reader, "MAX_JSON_ARRAY_BYTES", 1000)
    large = tmp_path / "large.json"
    large.write_text(json.dumps([{"text": f"record {n}"} for n in range(100)]))
    report = validate_path(large)
    assert found(report) == [(0, "", "not_jsonl")] and "jq -c '.[]'" in report.issues[0].message


def test_parquet_rows_are_numbered_and_nulls_are_fields_left_out(tmp_path):
    tool_turn = {"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}
    records = [
        {"messages": [{"role": "user", "content": "hi", "tool_calls": None}, tool_turn, CHAT["messages"][1]]},
        CHAT,
        {"messages": [{"role": "user", "content": "no answer"}]},
    ]
    path = _parquet(tmp_path / "train.parquet", records)
    report = validate_path(path)
    assert report.files[0].format == "chat_messages" and report.files[0].record_count == 3
    assert found(report) == [(3, "messages", "no_assistant_turn")]
    number, first = next(iter_records(path))
    assert number == 1 and "tool_calls" not in first["messages"][0] and "content" not in first["messages"][1]
    assert found(validate_bytes(path.read_bytes())) == found(report)


def test_a_broken_parquet_file_is_unreadable_not_a_crash(tmp_path):
    path = tmp_path / "train.parquet"
    path.write_bytes(b"PAR1 and then nothing a Parquet reader understands")
    assert found(validate_path(path)) == [(1, "", "unreadable_file")]


def test_parquet_is_read_in_row_batches_in_bounded_memory(tmp_path):
    text = "x" * 1000
    path = _parquet(tmp_path / "big.parquet", [{"text": f"{n} {text}"} for n in range(40_000)], 4096)
    assert path.stat().st_size > 2**20  # the same text compresses, but 40 MB of it is read
    tracemalloc.start()
    report = validate_path(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert report.valid and report.files[0].record_count == 40_000
    assert peak < 16 * 2**20


def test_directories_find_train_files_of_every_layout(tmp_path):
    for name in ("train.parquet", "train.csv", "train.json", "train.json.gz", "train.csv.gz"):
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        if name == "train.parquet":
            _parquet(folder / name, [CHAT, CHAT | {"messages": CHAT["messages"][::-1] + CHAT["messages"][1:]}])
        else:
            content = (
                b"prompt,completion\nhi,there\nhey,you\n"
                if ".csv" in name
                else json.dumps([{"text": "a"}, {"text": "b"}]).encode()
            )
            (folder / name).write_bytes(gzip.compress(content) if name.endswith(".gz") else content)
        assert split_files(folder) == {"train": folder / name}
        assert validate_path(folder).valid, name
        data = read_job_data(detected_plan(str(folder), None, "sft"))
        assert data.format == detect_format(folder) and len(data.train) == 2


def test_convert_data_writes_any_layout_as_jsonl(tmp_path):
    source = tmp_path / "train.csv"
    source.write_text("instruction,response\nAdd 1 and 2.,3\n")
    target = tmp_path / "chat.jsonl"
    assert convert_file(source, target, "chat_messages") == 1
    assert json.loads(target.read_text()) == {
        "messages": [{"role": "user", "content": "Add 1 and 2."}, {"role": "assistant", "content": "3"}]
    }
