"""Pure text rendering shared by the commands: tables, durations, sizes, JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from google.protobuf import json_format
from google.protobuf.message import Message


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]], indent: str = "") -> str:
    """Left-aligned columns two spaces apart, headers first; no trailing spaces."""
    cells = [list(map(str, headers))] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [cell.ljust(width) for cell, width in zip(row, widths)]
        lines.append((indent + "  ".join(padded)).rstrip())
    return "\n".join(lines)


def format_duration(seconds: float) -> str:
    """A duration for a person, two units at most: "45s", "3m05s", "1h02m", "2d03h"."""
    total = max(0, round(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def format_age(seconds: float) -> str:
    """How long ago, in its largest whole unit: "12s", "5m", "3h", "2d"."""
    total = max(0, int(seconds))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if total >= size:
            return f"{total // size}{unit}"
    return f"{total}s"


def format_bytes(size: int) -> str:
    """A byte count in binary units: "512 B", "1.5 KiB", "2.0 GiB"."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def format_number(value: float) -> str:
    """A metric value with four significant digits."""
    return f"{value:.4g}"


def message_json(message: Message) -> str:
    """A message as proto JSON with the .proto field names (what --spec files accept)."""
    return json_format.MessageToJson(message, preserving_proto_field_name=True, indent=2)


def messages_json(messages: Iterable[Message]) -> str:
    """A JSON array of messages, each as in message_json."""
    return json.dumps([json_format.MessageToDict(m, preserving_proto_field_name=True) for m in messages], indent=2)
