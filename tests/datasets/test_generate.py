"""Sample data: deterministic per seed, always valid, answers exactly right, no duplicates."""

import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from droidft_server.domain.datasets import (
    FORMATS,
    MAX_COUNT,
    generate,
    iter_records,
    to_jsonl_bytes,
    validate_bytes,
    validate_path,
    write_jsonl,
)
from droidft_server.domain.datasets.formats import UnknownFormatError
from droidft_server.domain.datasets.formats.dr_grpo import DOMAINS, EXPERTISE_LEVELS
from droidft_server.domain.datasets.problems import ProblemSequence


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**64 - 1),
    count=st.integers(min_value=1, max_value=120),
    name=st.sampled_from(sorted(FORMATS)),
)
def test_generated_data_always_validates_with_zero_issues(seed, count, name):
    report = validate_bytes(to_jsonl_bytes(generate(name, count, seed)), format=name)
    assert not report.issues and report.issue_counts == {}
    assert report.files[0].record_count == count
    assert validate_bytes(to_jsonl_bytes(generate(name, count, seed))).format == name


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_the_same_seed_gives_the_same_records(name):
    assert list(generate(name, 50, 7)) == list(generate(name, 50, 7))
    assert list(generate(name, 50, 7)) != list(generate(name, 50, 8))


def test_every_run_of_twenty_covers_each_domain_at_each_level():
    records = list(generate("dr_grpo", 20, 3))
    assert {(r["domain"], r["expertise_level"]) for r in records} == {(d, e) for d in DOMAINS for e in EXPERTISE_LEVELS}
    kinds = Counter(r["domain_context"]["skill"] for r in generate("dr_grpo", 80, 3))
    assert set(kinds.values()) == {20}


def _solve(question: str) -> str:
    """An independent solver of the generated problems, read from their text."""
    numbers = [float(n) if "." in n else int(n) for n in re.findall(r"\d+(?:\.\d+)?", question)]
    if "gets" in question:
        return str(numbers[0] + numbers[1])
    if "gives away" in question:
        return str(numbers[0] - numbers[1])
    if "fills" in question:
        return str(numbers[0] * numbers[1])
    if "shares" in question:
        return str(numbers[0] // numbers[1])
    if "digit" in question:
        code, digit = re.search(r"(\d+)\. How many times does the digit (\d)", question).groups()
        return str(code.count(digit))
    if "smallest to largest" in question:
        return ", ".join(map(str, sorted(numbers)))
    factor = {"km": 1000, "kg": 1000, "hours": 60, "minutes": 60}[re.search(r"measures [\d.]+ (\w+)", question)[1]]
    return str(round(numbers[0] * factor))


def test_answers_are_exactly_right():
    for record in generate("grpo", 2000, 11):
        assert record["solution"] == _solve(record["problem"]), record
        assert record["solution"] in record["reasoning_steps"][-1]


def test_preference_pairs_a_right_and_a_wrong_answer():
    for record in generate("preference", 500, 5):
        assert record["chosen"] == f"The answer is {_solve(record['prompt'])}."
        assert record["rejected"] != record["chosen"]


def test_numbers_stay_small_and_answers_short():
    for record in generate("prompt_answer", 2000, 2):
        if "digit" not in record["prompt"]:  # counting shows a code of up to 7 digits
            assert max(int(n) for n in re.findall(r"\d+", record["prompt"])) <= 400, record
        assert len(record["answer"]) <= 12


def test_every_format_renders_the_same_problems():
    problem = ProblemSequence(9).problem(0)
    first = {name: next(generate(name, 1, 9)) for name in FORMATS}
    assert first["prompt_answer"] == {"prompt": problem.question, "answer": problem.answer}
    assert first["grpo"]["problem"] == first["chat_messages"]["messages"][0]["content"] == problem.question
    assert first["gspo"]["sparse_indicators"] == list(problem.key_steps)


def test_no_duplicates_in_a_large_sample():
    report = validate_bytes(to_jsonl_bytes(generate("prompt_answer", 100_000, 1)))
    assert report.valid and not report.issues


def test_unknown_format_and_bad_counts_are_refused():
    with pytest.raises(UnknownFormatError):
        generate("alpaca", 1, 0)
    with pytest.raises(ValueError):
        generate("grpo", MAX_COUNT + 1, 0)


def test_write_jsonl_plain_and_gzip(tmp_path):
    for name in ("out.jsonl", "out.jsonl.gz"):
        assert write_jsonl(tmp_path / name, generate("text", 30, 1)) == 30
        assert validate_path(tmp_path / name).files[0].record_count == 30
        assert [r for _, r in iter_records(tmp_path / name)] == list(generate("text", 30, 1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.jsonl.gz"]
