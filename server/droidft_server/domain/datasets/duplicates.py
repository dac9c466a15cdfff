"""Duplicate records, found from one 64-bit digest per line.

Eight bytes a line in an array (a set of Python ints would take about ten times that). At the
end of the file a sorted copy of half of each digest finds the candidates; only lines holding
those are looked at further, so the end costs about 10 more bytes a line, briefly.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING

from xxhash import xxh3_64_intdigest

if TYPE_CHECKING:  # NumPy is imported where it is used: the server process starts without it
    import numpy as np


NO_RECORD = 0  # the digest of a blank or broken line
_MARK_BITS = 20  # a 128 KiB table of the repeated halves' leading bits


class DuplicateFinder:
    def __init__(self) -> None:
        self._digests = array("Q")  # index = line number - 1

    def add(self, lines: list[bytes]) -> None:
        """Digests of the file's next lines: the hash of their bytes, so repeated lines are found
        and reformatted copies are not. xxh3 measured twice as fast as Python's hash()."""
        import numpy as np

        digests = np.fromiter(map(xxh3_64_intdigest, lines), np.uint64, len(lines))
        self._digests.frombytes(digests.view(np.uint8))

    def drop(self, line: int) -> None:
        """The line (1-based, already added) holds no record."""
        self._digests[line - 1] = NO_RECORD

    def duplicates(self) -> tuple[np.ndarray, np.ndarray]:
        """(lines, lines of their first occurrences) of every repeated record, in line order (1-based)."""
        import numpy as np

        none = np.zeros(0, dtype=np.int64)
        if not self._digests:
            return none, none
        digests = np.frombuffer(self._digests, dtype=np.uint64)
        # Equal digests have equal halves, and sorting one 32-bit half of each measured twice
        # as fast as sorting the digests: the few halves seen twice (by chance about n²/2³³)
        # pick the candidate lines, which are then compared whole.
        halves = digests.view(np.uint32)[::2]  # the same half of every digest, whatever the byte order
        ordered = np.sort(halves)
        repeated = ordered[1:][ordered[1:] == ordered[:-1]]
        del ordered
        if not repeated.size:
            return none, none
        marked = np.zeros(1 << _MARK_BITS, dtype=np.bool_)
        marked[repeated >> (32 - _MARK_BITS)] = True
        candidates = np.flatnonzero(marked[halves >> (32 - _MARK_BITS)] & (digests != NO_RECORD))
        # The first candidate of each digest (candidates rise, and unique's indices are of first occurrences).
        _, first, inverse = np.unique(digests[candidates], return_index=True, return_inverse=True)
        firsts = candidates[first[inverse.ravel()]]
        repeats = firsts != candidates
        return candidates[repeats] + 1, firsts[repeats] + 1
