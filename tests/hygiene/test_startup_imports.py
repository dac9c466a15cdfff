"""The server starts without what it does not use yet: aiohttp (the HTTP port's server) loads only with
--http-listen, prometheus_client only with --metrics-listen, NumPy and jinja2 only when data is first checked, the
Python client's modules never (the server needs only the contract's messages), and rich (which structlog would import
for console output) not at all.

bench/README.md (Server start-up) has the start-up time this keeps down: aiohttp was a fifth of it, NumPy
and jinja2 together another fifth, the client's modules and rich about 50 and 70 ms, prometheus_client 15 ms."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["aiohttp", "numpy", "jinja2", "droidft.client", "droidft.aio", "prometheus_client"])
def test_the_server_starts_without(module):
    probe = (
        "import sys\nimport droidft_server.app, droidft_server.main\n"
        f"print(sorted(m for m in sys.modules if m == {module!r} or m.startswith({module!r} + '.')))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_a_serving_process_never_imports_rich(tmp_path):
    command = [sys.executable, "-X", "importtime", "-c", "import sys; from droidft_server.main import main; main()"]
    command += ["serve", "--listen", "127.0.0.1:0", "--state-dir", str(tmp_path / "state")]
    command += ["--data-root", str(tmp_path), "--model-root", str(tmp_path)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    imported = []
    try:
        for line in server.stdout:
            if line.startswith("import time:"):
                imported.append(line.rsplit("|", 1)[-1].strip())
            elif line.startswith("{") and json.loads(line).get("event") == "serving":
                break
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert "structlog" in imported  # the server's logging is loaded, by then
    # structlog still tries `import rich` (importtime lists the halted attempt), but none of rich's modules loads.
    assert not [name for name in imported if name.startswith("rich.")]
