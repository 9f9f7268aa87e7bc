"""A bounded least-recently-used cache of per-image state, shared by the model deployments.

Keys are image ids (content hashes); values are what a model computed once per image (SAM's
image embedding, the Seagull encoder features). The cache is bounded by entries and by bytes,
counts its hits and misses, and computes a missing value once even when many requests for the
same new image arrive together.
"""

from __future__ import annotations

import asyncio
import copy
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np


def state_nbytes(obj, _depth: int = 0) -> int:
    """Bytes held by the arrays and tensors among ``obj``'s attributes (two levels deep).

    Modules (model weights, shared by every cached entry) are not counted.
    """
    total = 0
    if _depth > 2:
        return 0
    values = vars(obj).values() if hasattr(obj, "__dict__") else ()
    for value in values:
        total += _value_nbytes(value, _depth)
    return total


def _value_nbytes(value, depth: int) -> int:
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if type(value).__module__.startswith("torch"):
        import torch

        if isinstance(value, torch.Tensor):
            return int(value.numel() * value.element_size())
        return 0  # a module: weights are shared, not per image
    if isinstance(value, (list, tuple)):
        return sum(_value_nbytes(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return sum(_value_nbytes(v, depth + 1) for v in value.values())
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return state_nbytes(value, depth + 1)
    return 0


def detach_image_state(predictor):
    """A shallow copy of a ``set_image``-style predictor that keeps the current image's state.

    The copy shares the model (weights are never copied) but owns the per-image attributes,
    so the original can ``set_image`` another image without disturbing it. Nested objects that
    themselves have ``set_image`` (SAM's ``SamPredictor`` inside a segmenter) are copied the
    same way. This relies on ``set_image`` assigning new per-image attributes rather than
    writing into old ones in place, as segment-anything's and seagull's predictors do.
    """
    shell = copy.copy(predictor)
    for name, value in vars(predictor).items():
        if hasattr(value, "set_image") and not isinstance(value, type) \
                and not type(value).__module__.startswith("torch"):
            setattr(shell, name, detach_image_state(value))
        elif isinstance(value, dict):
            setattr(shell, name, dict(value))  # per-image dict caches get their own copy
    return shell


class BoundedCache:
    """LRU mapping key → value, at most ``max_entries`` entries and ``max_bytes`` bytes.

    ``sizeof(value)`` gives a value's bytes. The newest entry is always kept, even if it alone
    is over ``max_bytes`` (it is evicted by the next insert).
    """

    def __init__(self, max_entries: int, max_bytes: int,
                 sizeof: Callable[[Any], int] = state_nbytes):
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
