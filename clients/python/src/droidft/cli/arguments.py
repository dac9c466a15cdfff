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


def data_key_argument(text: str) -> tuple[str, str]:
    """Type of a --data-key flag: FIELD=KEY, the key the records use for one of the format's fields."""
    field, equals, key = text.partition("=")
    if not (field and equals and key):
        raise argparse.ArgumentTypeError(f"{text!r} is not FIELD=KEY (e.g. prompt=question)")
    return field, key


DATA_KEY_HELP = "FIELD=KEY: the records give the format's FIELD as KEY (e.g. prompt=question); repeatable"
