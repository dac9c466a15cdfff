"""Tokens as an operator meets them: droidft-server re-reads its token file on SIGHUP, the CLI sends
--token or $DROIDFT_TOKEN, and no token ever reaches the server's logs."""

import signal
import subprocess

import pytest
from server_process import BIN, serve, until_logged

from droidft import Client
from droidft.errors import UnauthenticatedError

OLD, NEW = "old-secret-0123456789", "new-secret-9876543210"


def test_sighup_reloads_the_tokens_the_cli_sends_them_and_the_logs_never_show_them(tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"ops:{OLD}\n")
    seen: list[str] = []
    process, target = serve(
        "--state-dir", str(tmp_path / "state"), "--auth-token-file", str(tokens), "--log-level", "debug",
        drain=False, seen=seen,
    )  # fmt: skip
    try:
        cli = [str(BIN / "droidft"), "--server", target, "jobs", "list"]
        assert subprocess.run([*cli, "--json"], env={"DROIDFT_TOKEN": OLD}, capture_output=True).returncode == 0
        refused = subprocess.run(cli, env={}, capture_output=True, text=True)
        assert refused.returncode == 3 and "UNAUTHENTICATED" in refused.stderr
        tokens.write_text(f"ops:{NEW}\n")
        process.send_signal(signal.SIGHUP)
        until_logged(process, "token_file_reloaded", seen)
        with Client(target, token=OLD) as old, pytest.raises(UnauthenticatedError):
            old.list_training_jobs()
        given = subprocess.run(
            [str(BIN / "droidft"), "--server", target, "--token", NEW, "jobs", "list"], env={}, capture_output=True
        )
        assert given.returncode == 0
    finally:
        process.terminate()
        rest, _ = process.communicate(timeout=60)
        seen.append(rest)
    log = "".join(seen)
    assert "token_file_reloaded" in log and "rpc_unauthenticated" in log
    assert OLD not in log and NEW not in log
