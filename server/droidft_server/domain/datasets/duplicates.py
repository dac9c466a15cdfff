"""Duplicate records, found from one 64-bit digest per line.

Eight bytes a line in an array (a set of Python ints would take about ten times that). At the
end of the file one sorted copy finds the repeated digests; only lines holding those are
looked at further, so the end costs 9 more bytes a line, briefly.
"""

from __future__ import annotations

from array import array
from typing import Iterator

import numpy as np
from xxhash import xxh3_64_intdigest

NO_RECORD = 0  # the digest of a blank or broken line


class DuplicateFinder:
    def __init__(self) -> None:
        self._digests = array("Q")  # index = line number - 1

    def add(self, lines: list[bytes]) -> None:
        """Digests of the file's next lines: the hash of their bytes, so repeated lines are found
        and reformatted copies are not. xxh3 measured twice as fast as Python's hash()."""
        digests = np.fromiter(map(xxh3_64_intdigest, lines), np.uint64, len(lines))
        self._digests.frombytes(digests.view(np.uint8))

    def drop(self, line: int) -> None:
        """The line (1-based, already added) holds no record."""
        self._digests[line - 1] = NO_RECORD

    def duplicates(self) -> Iterator[tuple[int, int]]:
        """(line, line of its first occurrence) for every repeated record, in line order."""
        if not self._digests:
            return
        digests = np.frombuffer(self._digests, dtype=np.uint64)
        ordered = np.sort(digests)
        repeats = ordered[1:][ordered[1:] == ordered[:-1]]  # sorted; a digest seen n times is here n-1 times
        del ordered
        # np.unique would do, but its first call imports numpy.ma, which costs more than a 50 MB file's sort.
        repeated = repeats[np.flatnonzero(np.diff(repeats, prepend=NO_RECORD))]
        if not repeated.size:
            return
        at = np.searchsorted(repeated, digests).clip(max=repeated.size - 1)
        lines = np.flatnonzero(repeated[at] == digests)  # first occurrences and their repeats
        first_line_of: dict[int, int] = {}
        for index, digest in zip(lines.tolist(), digests[lines].tolist()):
            first = first_line_of.setdefault(digest, index)
            if first != index:
                yield index + 1, first + 1
