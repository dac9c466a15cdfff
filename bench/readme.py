"""Benchmark results as sections of bench/README.md: each benchmark owns one '## ' section."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def write_section(title: str, body: str, readme: Path = README) -> None:
    """Replace the section titled `title` (up to the next '## ' title) or append it; others stay intact."""
    section = f"{title}\n\n{body.strip()}\n"
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    lines = text.splitlines()
    if title not in lines:
        readme.write_text(text.rstrip("\n") + "\n\n" + section)
        return
    start = lines.index(title)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    before, after = "\n".join(lines[:start]).rstrip("\n"), "\n".join(lines[end:])
    readme.write_text((before + "\n\n" if before else "") + section + ("\n" + after + "\n" if after else ""))


def markdown_table(rows: list[dict], columns: dict[str, str]) -> str:
    """Rows as a markdown table; `columns` maps each row key to its header."""
    header = "| " + " | ".join(columns.values()) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(str(row[key]) for key in columns) + " |" for row in rows]
    return "\n".join([header, rule, *body])
