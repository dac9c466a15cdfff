"""Token-length statistics with the model directory's own tokenizer.json."""

import json
import shutil

from dataset_helpers import found, jsonl
from tokenizers import Tokenizer

from droidft_server.domain.datasets import tokens, validate_bytes, validate_path


def text_records(lengths):
    return [{"text": "ab " * n} for n in lengths]


def test_token_statistics_match_the_tokenizer(tiny_tokenizer_model):
    tokenizer = Tokenizer.from_file(str(tiny_tokenizer_model / "tokenizer.json"))
    records = [{"text": "What is 2 + 3?" * (i + 1)} for i in range(40)]
    expected = sorted(len(tokenizer.encode(r["text"], add_special_tokens=False).ids) for r in records)
    report = validate_bytes(jsonl(*records), model_path=str(tiny_tokenizer_model), max_seq_length=512)
    stats = report.files[0].token_statistics
    assert (stats.min, stats.max) == (expected[0], expected[-1])
    assert stats.mean == sum(expected) / len(expected)
    assert stats.p95 == expected[37]  # the 38th of 40 (ceil(0.95 * 40))
    assert stats.over_max_seq_length == 0 and report.valid


def test_records_over_max_seq_length_are_too_long_warnings(tiny_tokenizer_model):
    tokenizer = Tokenizer.from_file(str(tiny_tokenizer_model / "tokenizer.json"))
    records = text_records([10, 600, 20, 900])
    lengths = [len(tokenizer.encode(r["text"], add_special_tokens=False).ids) for r in records]
    assert lengths[1] > 512 and lengths[0] < 512
    report = validate_bytes(jsonl(*records), model_path=str(tiny_tokenizer_model), max_seq_length=512)
    assert found(report) == [(2, "", "too_long"), (4, "", "too_long")]
    assert f"{lengths[1]} tokens" in report.issues[0].message
    assert report.files[0].token_statistics.over_max_seq_length == 2 and report.valid


def test_a_huge_record_is_too_long_without_being_tokenized(tiny_tokenizer_model):
    records = [{"text": "ab"}, {"text": "x" * 20_000_000}]
    report = validate_bytes(jsonl(*records), model_path=str(tiny_tokenizer_model), max_seq_length=512)
    assert found(report) == [(2, "", "too_long")]
    assert "at least" in report.issues[0].message


def test_chat_records_count_every_message(tiny_tokenizer_model):
    record = {"messages": [{"role": "user", "content": "What is 2 + 3?"}, {"role": "assistant", "content": "5"}]}
    tokenizer = Tokenizer.from_file(str(tiny_tokenizer_model / "tokenizer.json"))
    report = validate_bytes(jsonl(record), model_path=str(tiny_tokenizer_model))
    assert report.files[0].token_statistics.max == len(tokenizer.encode("What is 2 + 3?\n5").ids)


def test_a_model_without_tokenizer_json_gives_a_warning_and_no_statistics(tmp_path):
    (tmp_path / "train.jsonl").write_bytes(jsonl({"text": "x"}))
    report = validate_path(tmp_path / "train.jsonl", model_path=str(tmp_path))
    assert found(report) == [(0, "", "no_tokenizer")] and report.valid
    assert report.files[0].token_statistics is None


def test_a_model_whose_chat_template_does_not_compile_is_named_as_create_would_refuse_it(
    tiny_tokenizer_model, tmp_path
):
    model = tmp_path / "model"
    shutil.copytree(tiny_tokenizer_model, model)
    (model / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{% if %}"}))
    (tmp_path / "train.jsonl").write_bytes(jsonl({"text": "What is 2 + 3?"}))
    report = validate_path(tmp_path / "train.jsonl", model_path=str(model))
    assert found(report) == [(0, "", "no_tokenizer")] and report.valid  # the data is fine: a warning on the model
    assert "create refuses it" in report.issues[0].message and "does not compile" in report.issues[0].message
    assert report.files[0].token_statistics is not None


def test_past_the_exact_bound_a_sample_measures_and_too_long_and_max_stay_exact(tiny_tokenizer_model, monkeypatch):
    monkeypatch.setattr(tokens, "SAMPLE_SIZE", 50)  # every record counted up to 100 records, then a sample
    tokenizer = Tokenizer.from_file(str(tiny_tokenizer_model / "tokenizer.json"))
    # 2,000 records of 1 to 40 words; three too long, at lines a sample of 50 to 100 would mostly miss.
    records = text_records([1 + (i * 7919) % 40 for i in range(2000)])
    too_long_lines = (3, 777, 1999)
    for line in too_long_lines:
        records[line - 1] = {"text": "ab " * (600 + line)}
    lengths = [len(tokenizer.encode(r["text"], add_special_tokens=False).ids) for r in records]
    report = validate_bytes(
        jsonl(*records), model_path=str(tiny_tokenizer_model), max_seq_length=512, max_issues=10_000
    )
    stats = report.files[0].token_statistics
    assert stats.sampled and stats.records_counted < 300
    assert [issue for issue in found(report) if issue[2] == "too_long"] == [
        (line, "", "too_long") for line in too_long_lines
    ]
    assert stats.over_max_seq_length == 3 and stats.max == max(lengths)
    usual = [length for line, length in enumerate(lengths, 1) if line not in too_long_lines]
    assert abs(stats.mean - sum(usual) / len(usual)) < 0.1 * sum(usual) / len(usual)


def test_the_longest_record_is_counted_when_sampled(tiny_tokenizer_model, monkeypatch):
    monkeypatch.setattr(tokens, "SAMPLE_SIZE", 50)
    tokenizer = Tokenizer.from_file(str(tiny_tokenizer_model / "tokenizer.json"))
    records = text_records([5] * 1000)
    records[500] = {"text": "ab " * 100}  # under max_seq_length: found by its bytes, not by the sample
    report = validate_bytes(jsonl(*records), model_path=str(tiny_tokenizer_model), max_seq_length=512)
    stats = report.files[0].token_statistics
    assert stats.sampled and stats.max == len(tokenizer.encode("ab " * 100, add_special_tokens=False).ids)
    assert (stats.min, stats.p95) == (stats.mean, stats.mean) == (len(tokenizer.encode("ab " * 5).ids),) * 2


def test_up_to_the_bound_every_record_is_counted(tiny_tokenizer_model, monkeypatch):
    monkeypatch.setattr(tokens, "SAMPLE_SIZE", 50)
    report = validate_bytes(jsonl(*text_records(range(1, 100))), model_path=str(tiny_tokenizer_model))
    stats = report.files[0].token_statistics
    assert not stats.sampled and stats.records_counted == 99
