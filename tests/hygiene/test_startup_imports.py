"""The server starts without what it does not use yet: aiohttp (the HTTP port's server) loads only with
--http-listen, NumPy and jinja2 only when data is first checked.

bench/README.md (Service overhead) has the start-up time this keeps down: aiohttp was a fifth of it, NumPy
and jinja2 together another fifth."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("package", ["aiohttp", "numpy", "jinja2"])
def test_the_server_starts_without(package):
    probe = (
        "import sys\nimport droidft_server.app, droidft_server.main\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] == {package!r}))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
