"""An evenly spread sample of a stream whose length is not known until it ends."""

from __future__ import annotations

from typing import Generic, TypeVar

Item = TypeVar("Item")


class EvenSample(Generic[Item]):
    """The items at every stride-th position, between `size` and 2 x `size` of them.

    The stride starts at 1; when the sample holds 2 x `size` items, every other one goes and the stride
    doubles. So a stream of fewer than 2 x `size` items is kept whole, and a longer one is kept at evenly
    spaced positions from its first item to its last, without knowing its length in advance.
    """

    def __init__(self, size: int):
        self.size = size
        self.stride = 1
        self.items: list[tuple[int, Item]] = []  # (position, item), in position order

    def wants(self, position: int) -> bool:
        return position % self.stride == 0

    def add(self, position: int, item: Item) -> None:
        """Keep the item at `position` (positions rise; only those wants() takes)."""
        self.items.append((position, item))
        if len(self.items) >= 2 * self.size:
            self.stride *= 2
            self.items = [(kept, item) for kept, item in self.items if kept % self.stride == 0]
