"""argparse types shared by several commands."""

from __future__ import annotations

import argparse

from droidft.enums import method_name, method_names, parse_method

METHOD_METAVAR = "{" + ",".join(method_names()) + "}"


def method_argument(text: str) -> str:
    """Type of a --method flag: any accepted spelling ("SFT", "dr-grpo"), normalised to the short name."""
    try:
        return method_name(parse_method(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
