"""An evenly spread sample of a stream whose length is not known until it ends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:  # NumPy is imported where it is used: the server process starts without it
    import numpy as np


Item = TypeVar("Item")

_SPAN = 2**64
# 2^64 / the golden ratio, odd: position x GOLDEN mod 2^64 spreads consecutive positions evenly over the span.
_GOLDEN = 0x9E3779B97F4A7C15


class EvenSample(Generic[Item]):
    """About one position in `stride`, between `size` and 2 x `size` of them, evenly spread over the stream.

    The stride starts at 1; when the sample holds 2 x `size` items, about half go and the stride doubles.
    A position is kept while position x GOLDEN mod 2^64 falls in the first 1/stride of the span
    (Fibonacci hashing): consecutive kept positions are at most three distinct distances apart, so the
    sample covers the stream from its start to its end as evenly as every stride-th position would, but
    data that repeats with a period (generated data often does) cannot make it see one kind of record only,
    as a plain every-stride-th sample does. A stream of fewer than 2 x `size` items is kept whole.
    """

    def __init__(self, size: int):
        self.size = size
        self.stride = 1
        self._below = _SPAN  # a position is kept when its spread value is below this
        self.items: list[tuple[int, Item]] = []  # (position, item), in position order

    def wants(self, position: int) -> bool:
        return (position * _GOLDEN) % _SPAN < self._below

    def wanted(self, first: int, count: int) -> np.ndarray:
        """wants() of the positions first .. first + count - 1, at once (uint64 arithmetic wraps mod 2^64)."""
        import numpy as np

        if self.stride == 1:
            return np.ones(count, dtype=bool)
        positions = np.arange(first, first + count, dtype=np.uint64)
        return positions * np.uint64(_GOLDEN) < np.uint64(self._below)

    def add(self, position: int, item: Item) -> None:
        """Keep the item at `position` (positions rise; only those wants() takes)."""
        self.items.append((position, item))
        if len(self.items) >= 2 * self.size:
            self.stride *= 2
            self._below = _SPAN // self.stride
            self.items = [(kept, item) for kept, item in self.items if self.wants(kept)]
