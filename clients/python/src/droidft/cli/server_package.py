"""Commands that run on this machine with the server package's code, which the client does not depend on."""

from __future__ import annotations

import importlib
from types import ModuleType

from droidft.cli.session import CommandError


def import_server_module(module_name: str, command: str) -> ModuleType:
    """Import a droidft_server module when a command needs it; CommandError saying how to get it if absent.

    Imported on use, never at start: the server package brings MLX, which the client must not need.
    """
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise CommandError(
            f"`droidft {command}` needs the server package, which is not installed here "
            f"({exc.msg}); install droidft-server, or run it on the server machine."
        ) from exc
