"""Where code runs: the server process never loads MLX, only the worker package imports it, and the
client distribution never imports the server's."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "server" / "droidft_server"
CLIENT = ROOT / "clients" / "python" / "src" / "droidft"
# What the server process imports: everything but the worker package and the development tools.
SERVER_MODULES = (
    "droidft_server.main",
    "droidft_server.app",
    "droidft_server.transport.server",
    "droidft_server.supervisor.runner",
    "droidft_server.supervisor.calibration",
    "droidft_server.supervisor.export",
)


def test_importing_the_server_loads_no_mlx_module():
    probe = (
        f"import sys\nfor name in {SERVER_MODULES!r}: __import__(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('mlx')))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def _imports(path: Path) -> set[str]:
    """Every module the file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_only_the_worker_package_and_the_development_tools_import_mlx():
    outside = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] not in ("worker", "devtools")
        and any(name.split(".")[0].startswith("mlx") for name in _imports(path))
    ]
    assert outside == []


def test_the_client_never_imports_the_server():
    reaching = [
        str(path.relative_to(CLIENT))
        for path in CLIENT.rglob("*.py")
        if any(name.split(".")[0] == "droidft_server" for name in _imports(path))
    ]
    assert reaching == []
