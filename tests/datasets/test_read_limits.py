"""Every reader stops at its limits, with an issue naming them, in bounded memory: the longest line,
the expansion of a gzip stream, and anything that is not a regular file."""

import gzip
import os
import tracemalloc

from dataset_helpers import found

from droidft_server.domain.datasets import reader, validate_bytes, validate_path
from droidft_server.domain.datasets.reader import ReadLimitExceeded, iter_records

RECORD = b'{"text": "a short record"}\n'
RECORDS = b'{"text": "one"}\n{"text": "two"}\n{"text": "three"}\n'


def test_a_line_past_the_limit_stops_reading_with_an_issue_in_bounded_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 2**20)
    path = tmp_path / "train.jsonl"
    with open(path, "wb") as stream:
        stream.write(RECORDS)
        for _ in range(40):  # 40 MiB without a newline, like /dev/zero or a binary file
            stream.write(b"z" * 2**20)
    tracemalloc.start()
    report = validate_path(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert found(report) == [(4, "", "line_too_long")]
    assert "1,048,576 bytes" in report.issues[0].message and not report.valid
    assert peak < 8 * 2**20


def test_a_line_just_under_the_limit_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 2**20)
    path = tmp_path / "train.jsonl"
    path.write_bytes(RECORD + b'{"text": "' + b"y" * (2**20 - 13) + b'"}\n')
    assert [number for number, _ in iter_records(path)] == [1, 2]


def test_a_gzip_stream_past_its_expansion_limit_stops_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "MIN_DECOMPRESSED_LIMIT", 2**20)
    bomb = gzip.compress(RECORD + b"\n" * (64 * 2**20), mtime=0)  # 64 MiB of blank lines in ~64 KiB
    assert len(bomb) < 2**20
    for report in (validate_bytes(bomb), validate_path(_written(tmp_path / "bomb.jsonl.gz", bomb))):
        assert found(report) == [(0, "", "decompressed_too_large")]
        assert f"{reader.MAX_EXPANSION}x" in report.issues[0].message


def test_an_ordinary_gzip_file_is_within_the_limit(tmp_path):
    records = b"".join(b'{"text": "record %d"}\n' % n for n in range(10_000))
    path = _written(tmp_path / "train.jsonl.gz", gzip.compress(records, mtime=0))
    report = validate_path(path)
    assert (report.valid, report.files[0].record_count) == (True, 10_000)


def test_a_fifo_is_never_opened_for_reading_it_would_block(tmp_path):
    fifo = tmp_path / "train.jsonl"
    os.mkfifo(fifo)
    report = validate_path(fifo)
    assert [code for _, _, code in found(report)] in (["not_found"], ["unreadable_file"])
    try:
        list(iter_records(fifo))
    except OSError as error:
        assert "not a regular file" in str(error)
    else:
        raise AssertionError("a FIFO was read")


def test_the_limit_error_is_a_value_error_naming_the_line(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 1000)
    path = _written(tmp_path / "a.jsonl", RECORD + b'{"text": "' + b"x" * 5000)
    try:
        list(iter_records(path))
    except ReadLimitExceeded as error:
        assert (error.code, error.line) == ("line_too_long", 2)
    else:
        raise AssertionError("no limit")


def _written(path, content: bytes):
    path.write_bytes(content)
    return path
