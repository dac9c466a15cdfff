"""The server starts without what it does not use: aiohttp (the HTTP port's server) loads only with --http-listen.

bench/README.md (Service overhead) has the start-up time this keeps down: aiohttp was a fifth of it."""

from __future__ import annotations

import subprocess
import sys


def test_the_server_without_an_http_port_loads_no_aiohttp():
    probe = (
        "import sys\nimport droidft_server.app, droidft_server.main\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'aiohttp'))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
