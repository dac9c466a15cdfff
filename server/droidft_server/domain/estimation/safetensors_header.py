"""Read a safetensors file's header (names, dtypes, shapes) without reading its tensors.

A safetensors file starts with an 8-byte little-endian header length, then a JSON
header; the tensor bytes follow. Only those first bytes are read.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

# Bytes per element of each safetensors dtype.
DTYPE_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U64": 8,
    "U32": 4,
    "U16": 2,
    "U8": 1,
    "BOOL": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
}

# A header larger than this is not a model header (the format caps it at 100 MB).
MAX_HEADER_BYTES = 100_000_000


class HeaderError(ValueError):
    """The file is not a readable safetensors file."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def elements(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count

    @property
    def nbytes(self) -> int:
        return self.elements * DTYPE_BYTES[self.dtype]


def read_header(path: Path) -> list[TensorInfo]:
    """The tensors a safetensors file declares, in header order."""
    with open(path, "rb") as file:
        prefix = file.read(8)
        if len(prefix) != 8:
            raise HeaderError(f"{path}: shorter than a safetensors header")
        (length,) = struct.unpack("<Q", prefix)
        if length > MAX_HEADER_BYTES:
            raise HeaderError(f"{path}: header length {length} is not plausible")
        raw = file.read(length)
    if len(raw) != length:
        raise HeaderError(f"{path}: header is truncated")
    try:
        header = json.loads(raw)
    except json.JSONDecodeError as error:
        raise HeaderError(f"{path}: header is not JSON ({error})") from error
    tensors = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = entry.get("dtype")
        if dtype not in DTYPE_BYTES:
            raise HeaderError(f"{path}: tensor {name} has unknown dtype {dtype!r}")
        tensors.append(TensorInfo(name=name, dtype=dtype, shape=tuple(int(d) for d in entry["shape"])))
    return tensors
