"""droidft-server started as an operator starts it, on a free port, with its JSON log readable."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


def until_logged(process: subprocess.Popen, event: str, seen: list[str] | None = None) -> dict:
    """Read the server's log up to the first line of `event`, and return that line."""
    seen = [] if seen is None else seen
    for line in process.stdout:
        seen.append(line)
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("event") == event:
            return record
    raise AssertionError(f"the server exited before logging {event}:\n" + "".join(seen))


def serve(*options: str, drain: bool = True, seen: list[str] | None = None) -> tuple[subprocess.Popen, str]:
    """`droidft-server serve --listen 127.0.0.1:0 OPTIONS`, once it serves, and its "host:port".

    drain: keep reading the log in a thread, so that the server never blocks on a full pipe; without
    it the caller reads (until_logged) what comes after "serving".
    """
    process = subprocess.Popen(
        [str(BIN / "droidft-server"), "serve", "--listen", "127.0.0.1:0", *options],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        port = until_logged(process, "serving", seen)["port"]
    except AssertionError:
        process.wait()
        raise
    if drain:
        threading.Thread(target=process.stdout.read, daemon=True).start()
    return process, f"127.0.0.1:{port}"
