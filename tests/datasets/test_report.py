"""Counting, listing limits, duplicates, field presence and the summaries the server uses."""

from dataset_helpers import CHAT, found, jsonl

from droidft_server.domain.datasets import Severity, validate_bytes
from droidft_server.domain.datasets.refusal import data_errors
from droidft_server.domain.errors import ErrorKind


def chat(i: int) -> dict:
    return {
        "messages": [{"role": "user", "content": f"What is {i} + 1?"}, {"role": "assistant", "content": str(i + 1)}]
    }


def test_listing_stops_at_max_issues_but_counting_goes_on():
    records = [chat(i) if i % 3 else {"messages": []} for i in range(3000)]  # 1000 broken
    report = validate_bytes(jsonl(*records), max_issues=7)
    assert len(report.issues) == 7 and report.issues_truncated
    assert [issue.line for issue in report.issues] == [1, 4, 7, 10, 13, 16, 19]
    assert report.issue_counts == {"empty_value": 1000}
    assert report.error_count == 1000 and report.files[0].error_count == 1000
    assert report.files[0].record_count == 3000


def test_duplicates_are_warnings_in_line_order_with_the_first_occurrence():
    records = [chat(1), chat(2), {"messages": []}, chat(1), chat(2), chat(1)]
    report = validate_bytes(jsonl(*records))
    assert found(report) == [
        (3, "messages", "empty_value"),
        (4, "", "duplicate_record"),
        (5, "", "duplicate_record"),
        (6, "", "duplicate_record"),
    ]
    assert "line 1" in report.issues[1].message and "line 2" in report.issues[2].message
    assert report.issues[1].severity is Severity.WARNING
    assert report.files[0].warning_count == 3 and report.files[0].error_count == 1


def test_duplicates_are_repeated_lines_not_reformatted_copies():
    first = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}'
    spaced = b'{ "messages":[ {"role":"user","content":"hi"},{"role":"assistant","content":"yo"} ] }'
    report = validate_bytes(first + b"\r\n" + spaced + b"\r\n" + first + b"\r\n")
    assert found(report) == [(3, "", "duplicate_record")]


def test_duplicates_merge_into_the_listing_by_line_when_it_is_cut():
    records = [chat(1), chat(1)] + [{"messages": []}] * 5
    report = validate_bytes(jsonl(*records), max_issues=3)
    assert found(report) == [
        (2, "", "duplicate_record"),
        (3, "messages", "empty_value"),
        (4, "messages", "empty_value"),
    ]
    assert report.issue_counts == {"duplicate_record": 1, "empty_value": 5}


def test_a_duplicate_still_takes_its_place_when_the_listing_filled_batches_before():
    records = [chat(1), chat(1)] + [{"messages": []}] * 20_000  # over 256 KiB: several batches
    report = validate_bytes(jsonl(*records), max_issues=3)
    assert found(report) == [
        (2, "", "duplicate_record"),
        (3, "messages", "empty_value"),
        (4, "messages", "empty_value"),
    ]
    assert report.issue_counts == {"duplicate_record": 1, "empty_value": 20_000}


def test_many_duplicates_are_all_counted_and_the_first_listed_after_earlier_issues():
    """Duplicates are counted at once and only those the listing has room for are described: the counts, the
    listing's order and the first occurrence each names stay exact."""
    records = [chat(i % 50) for i in range(20_000)]
    records[70] = {"messages": []}
    report = validate_bytes(jsonl(*records), max_issues=4)
    assert found(report) == [
        (51, "", "duplicate_record"),
        (52, "", "duplicate_record"),
        (53, "", "duplicate_record"),
        (54, "", "duplicate_record"),
    ]
    assert "line 1:" in report.issues[0].message and "line 4:" in report.issues[3].message
    assert report.issue_counts == {"duplicate_record": 20_000 - 50 - 1, "empty_value": 1}
    assert report.files[0].warning_count == 20_000 - 51 and report.files[0].error_count == 1
    assert report.files[0].issue_counts == {"duplicate_record": 19_949, "empty_value": 1}
    later = validate_bytes(jsonl(*records), max_issues=30)
    assert (71, "messages", "empty_value") in found(later) and len(later.issues) == 30
    assert [issue.line for issue in later.issues] == sorted(issue.line for issue in later.issues)


def test_warnings_alone_leave_the_data_valid():
    report = validate_bytes(jsonl(chat(1), chat(1)))
    assert report.valid and report.first_errors() == [] and report.summary() == "no errors"


def test_field_presence_counts_each_field_of_the_format():
    records = [{"prompt": "a", "answer": "1"}, {"prompt": "b", "answer": "2", "system": "s"}, {"prompt": "c"}]
    report = validate_bytes(jsonl(*records))
    assert report.files[0].field_presence == {"prompt": 3, "answer": 2, "system": 1}


def test_summary_and_refusal_name_the_first_errors_exactly():
    records = [CHAT, {"messages": [{"role": "bot", "content": "x"}, {"role": "assistant", "content": "y"}]}, b"{"]
    report = validate_bytes(jsonl(*records))
    assert report.first_errors(1)[0].line == 2
    assert report.summary().startswith("2 data errors (invalid_json: 1, unknown_enum_value: 1); first: <content>:2")
    error = data_errors(report)
    assert error.kind is ErrorKind.FAILED_PRECONDITION and error.reason_name == "DATASET_INVALID"
    assert [(v.type, v.subject) for v in error.precondition_violations] == [
        ("dataset_unknown_enum_value", "<content>:2 messages[0].role"),
        ("dataset_invalid_json", "<content>:3"),
    ]
