"""Duplicate records, found from one 64-bit digest per line.

Eight bytes a line in an array (a set of Python ints would take about ten times that),
sorted once at the end of the file.
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
        digests = np.frombuffer(self.digests, dtype=np.int64) if self.digests else np.empty(0, np.int64)
        order = np.argsort(digests, kind="stable")
        ordered = digests[order]
        repeat = np.flatnonzero((ordered[1:] == ordered[:-1]) & (ordered[1:] != NO_RECORD)) + 1
        if not repeat.size:
            return
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        first_of_run = order[starts[np.searchsorted(starts, repeat, side="right") - 1]]
        lines = order[repeat]
        by_line = np.argsort(lines, kind="stable")
        for line, first in zip(lines[by_line] + 1, first_of_run[by_line] + 1):
            yield int(line), int(first)
