"""Helpers shared by the data-set tests."""

import json


def jsonl(*records) -> bytes:
    """Records (dicts, or raw lines given as bytes) as JSONL content."""
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records)


def found(report) -> list[tuple[int, str, str]]:
    """The listed issues as (line, field path, code)."""
    return [(issue.line, issue.field_path, issue.code) for issue in report.issues]


CHAT = {"messages": [{"role": "user", "content": "What is 2 + 3?"}, {"role": "assistant", "content": "5"}]}
