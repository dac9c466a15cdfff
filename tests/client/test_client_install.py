import subprocess
import sys
from pathlib import Path

import tomllib

CLIENT_PROJECT = Path(__file__).resolve().parents[2] / "clients" / "python" / "pyproject.toml"

# Importing the client and the CLI must work where MLX and the server package are absent:
# the blocked names raise ImportError, as on a machine without them.
IMPORT_WITHOUT_SERVER = """
import sys
for name in ("mlx", "mlx_lm", "mlx_lm_lora", "droidft_server"):
    sys.modules[name] = None
import droidft, droidft.aio, droidft.cli
from droidft.cli.main import build_parser
build_parser().parse_args(["jobs", "list"])
loaded = [m for m in sys.modules if m.split(".")[0] in ("mlx", "mlx_lm", "mlx_lm_lora", "droidft_server", "numpy")]
assert all(sys.modules[m] is None for m in loaded), loaded
"""


def test_client_and_cli_import_without_mlx_or_the_server():
    result = subprocess.run([sys.executable, "-c", IMPORT_WITHOUT_SERVER], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_client_distribution_depends_on_grpc_and_protobuf_only():
    project = tomllib.loads(CLIENT_PROJECT.read_text())["project"]
    names = {dependency.split(">")[0].split("=")[0].split("[")[0] for dependency in project["dependencies"]}
    assert names == {"grpcio", "grpcio-status", "protobuf", "googleapis-common-protos"}
    assert project["scripts"] == {"droidft": "droidft.cli:main"}
    assert project["optional-dependencies"] == {"plot": ["matplotlib>=3.8"], "config": ["pyyaml>=6"]}


def test_client_package_ships_its_type_hints():
    package = CLIENT_PROJECT.parent / "src" / "droidft"
    assert (package / "py.typed").is_file()
    assert "py.typed" in tomllib.loads(CLIENT_PROJECT.read_text())["tool"]["setuptools"]["package-data"]["*"]
