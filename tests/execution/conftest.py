from pathlib import Path

import pytest
from execution_helpers import CHATS, write_jsonl


@pytest.fixture()
def chats(tmp_path) -> Path:
    return write_jsonl(tmp_path / "data" / "train.jsonl", CHATS)
