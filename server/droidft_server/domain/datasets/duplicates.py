"""Duplicate records, found from one 64-bit digest per line.

Eight bytes a line in an array (a set of Python ints would take about ten times that). At the
end of the file one sorted copy finds the repeated digests; only lines holding those are
looked at further, so the end costs 9 more bytes a line, briefly.
"""

from __future__ import annotations

from array import array
from typing import Iterator

import numpy as np

NO_RECORD = 0  # the digest of a blank or broken line


class DuplicateFinder:
    def __init__(self) -> None:
        self.digests = array("q")  # index = line number - 1

    def duplicates(self) -> Iterator[tuple[int, int]]:
        """(line, line of its first occurrence) for every repeated record, in line order."""
        if not self.digests:
            return
        digests = np.frombuffer(self.digests, dtype=np.int64)
        ordered = np.sort(digests)
        repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
        del ordered
        repeated = repeated[repeated != NO_RECORD]
        if not repeated.size:
            return
        lines = np.flatnonzero(np.isin(digests, repeated))  # first occurrences and their repeats
        first_line_of: dict[int, int] = {}
        for index, digest in zip(lines.tolist(), digests[lines].tolist()):
            first = first_line_of.setdefault(digest, index)
            if first != index:
                yield index + 1, first + 1
