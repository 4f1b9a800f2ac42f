"""A small least-recently-used cache that threads may share (the explorer's threaded server).

Values are made outside the lock, so a slow load (one cell's meshes) does not hold up readers
of other keys; two threads missing the same key at once may both make it, and the first one
stored is the one every caller gets.

Examples
--------
>>> cache = LRUCache(2)
>>> cache.get("a", lambda: 1), cache.get("b", lambda: 2), cache.get("a", lambda: 99)
(1, 2, 1)
>>> cache.get("c", lambda: 3), "b" in cache, "a" in cache  # "b" was the least recently used
(3, False, True)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRUCache(Generic[V]):
    """At most ``size`` values by key, the least recently used dropped first; thread-safe.

    Parameters
    ----------
    size : int
        Largest number of entries kept; 0 (or less) keeps none (every ``get`` makes its value).
    """

    def __init__(self, size: int) -> None:
        self.size = int(size)
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        """The value of ``key``, made by ``make()`` (outside the lock) on a miss and kept."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        if self.size <= 0:
            return value
        with self._lock:
            if key in self._items:  # another thread made it meanwhile: every caller gets one value
                self._items.move_to_end(key)
                return self._items[key]
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._items.clear()
