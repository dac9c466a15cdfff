"""The bench README keeps every benchmark's section when one of them is rewritten."""

from bench.readme import markdown_table, write_section


def test_write_section_replaces_its_own_section_and_keeps_the_others(tmp_path):
    readme = tmp_path / "README.md"
    write_section("## A", "first a", readme)
    write_section("## B", "only b", readme)
    write_section("## A", "second a", readme)
    assert readme.read_text() == "# Benchmarks\n\n## A\n\nsecond a\n\n## B\n\nonly b\n"


def test_markdown_table():
    table = markdown_table([{"x": 1, "y": "a"}], {"x": "X", "y": "Y"})
    assert table == "| X | Y |\n|---|---|\n| 1 | a |"
