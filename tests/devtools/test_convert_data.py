"""`droidft-server convert-data`: local conversion between formats, refused with the reason when it
would lose or invent data."""

import json

from droidft_server.main import REFUSED, main


def test_convert_data_writes_the_records_in_the_new_format(tmp_path, capsys):
    source, destination = tmp_path / "pairs.jsonl", tmp_path / "chat.jsonl"
    pairs = [{"instruction": "Add 2 and 3.", "response": "5"}, {"instruction": "Name a colour.", "response": "Red"}]
    source.write_text("".join(json.dumps(pair) + "\n" for pair in pairs))
    code = main(["convert-data", str(source), str(destination), "--to", "chat_messages"])
    assert (code, capsys.readouterr().out) == (0, f"Wrote 2 chat_messages records to {destination}.\n")
    assert [json.loads(line) for line in destination.read_text().splitlines()] == [
        {"messages": [{"role": "user", "content": "Add 2 and 3."}, {"role": "assistant", "content": "5"}]},
        {"messages": [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Red"}]},
    ]


def test_convert_data_refuses_to_invent_data_and_says_why(tmp_path, capsys):
    source, destination = tmp_path / "chat.jsonl", tmp_path / "preference.jsonl"
    source.write_text(
        json.dumps({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}) + "\n"
    )
    code = main(["convert-data", str(source), str(destination), "--from", "chat_messages", "--to", "preference"])
    captured = capsys.readouterr()
    assert (code, captured.out) == (REFUSED, "")
    assert "cannot convert chat_messages to preference" in captured.err and "rejected answer" in captured.err
    assert not destination.exists()
