"""A bounded least-recently-used cache of per-image state, shared by the model deployments.

Keys are image ids (content hashes); values are what a model's ``encode(image)`` returned for
the image: an explicit state object (``seagull.regions.segmenter.SegmenterState`` with SAM's
image embedding or the classical label maps, ``seagull.model.predictor.ImageState`` with the
Seagull encoder features and prompt prefix) whose ``nbytes`` is what the cache counts. The
cache is bounded by entries and by bytes, counts its hits and misses, and computes a missing
value once even when many requests for the same new image arrive together.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any


def nbytes(value) -> int:
    """A value's ``nbytes``: what a model's ``encode`` state (``SegmenterState``,
    ``ImageState``) or a numpy array says it holds."""
    return int(value.nbytes)


class BoundedCache:
    """LRU mapping key → value, at most ``max_entries`` entries and ``max_bytes`` bytes.

    ``sizeof(value)`` gives a value's bytes (by default its ``nbytes``). The newest entry is
    always kept, even if it alone is over ``max_bytes`` (it is evicted by the next insert).
    """

    def __init__(self, max_entries: int, max_bytes: int,
                 sizeof: Callable[[Any], int] = nbytes):
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("cache limits must be positive")
        self.max_entries, self.max_bytes, self.sizeof = max_entries, max_bytes, sizeof
        self._items: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._pending: dict[str, asyncio.Future] = {}
        self.bytes = 0
        self.hits = self.misses = self.evictions = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def get(self, key: str):
        """The value for ``key`` (marked recently used), or None. Counts a hit or a miss."""
        item = self._items.get(key)
        if item is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return item[0]

    def put(self, key: str, value) -> None:
        size = int(self.sizeof(value))
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._items[key] = (value, size)
        self.bytes += size
        while len(self._items) > 1 and (len(self._items) > self.max_entries
                                        or self.bytes > self.max_bytes):
            _, (_, evicted) = self._items.popitem(last=False)
            self.bytes -= evicted
            self.evictions += 1

    async def get_or_compute(self, key: str, compute: Callable[[], Awaitable[Any]]):
        """(value, hit): the cached value, or ``await compute()`` stored under ``key``.

        Concurrent callers for the same missing key share one computation (all but the first
        count as hits: they did not pay for it).
        """
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
            self.hits += 1
            return item[0], True
        pending = self._pending.get(key)
        if pending is not None:
            self.hits += 1
            return await asyncio.shield(pending), True
        self.misses += 1
        future = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            value = await compute()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        else:
            self.put(key, value)
            future.set_result(value)
            return value, False
        finally:
            self._pending.pop(key, None)

    def stats(self) -> dict:
        return {"entries": len(self._items), "bytes": self.bytes, "hits": self.hits,
                "misses": self.misses, "evictions": self.evictions}
