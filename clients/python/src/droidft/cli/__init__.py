"""The `droidft` command-line tool: one module per command group, each with register(subparsers)."""

from droidft.cli.main import main

__all__ = ["main"]
