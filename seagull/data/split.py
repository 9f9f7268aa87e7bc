"""Deterministic train/test splits, by source, so that no source is in both.

Two rules, one per dataset:

- ``split_by_hash`` (Seagull-100w): each source falls in ``test`` when a hash of (seed, its id)
  lands below ``test_fraction``. A source's split never depends on the other sources, so adding
  RAWs to a build, or building in shards on several clusters, leaves every earlier split as it
  was. The test share is ``test_fraction`` in expectation (5 % by default).
- ``split_exact`` (Seagull-3k): exactly ``round(n · test_fraction)`` of the ``n`` images are
  ``test`` (the first in the order of that hash), as the paper's 80/20 split by image needs on a
  small set.
"""

from __future__ import annotations

from collections.abc import Iterable

from seagull.data.ids import unit_interval
from seagull.errors import InvalidArgumentError

DEFAULT_TEST_FRACTION_100W = 0.05
DEFAULT_TEST_FRACTION_3K = 0.20


def _check(test_fraction: float) -> None:
    if not 0.0 <= test_fraction <= 1.0:
        raise InvalidArgumentError(f"test fraction {test_fraction} is outside [0, 1]")


def split_by_hash(key: str, test_fraction: float = DEFAULT_TEST_FRACTION_100W,
                  seed: int = 0) -> str:
    """``"test"`` or ``"train"`` for the source ``key`` (independent of every other source)."""
    _check(test_fraction)
    return "test" if unit_interval("split", seed, key) < test_fraction else "train"


def split_exact(keys: Iterable[str], test_fraction: float = DEFAULT_TEST_FRACTION_3K,
                seed: int = 0) -> dict[str, str]:
    """``{key: "train" | "test"}`` with exactly ``round(n · test_fraction)`` test keys."""
    _check(test_fraction)
    unique = sorted(set(keys))
    order = sorted(unique, key=lambda k: (unit_interval("split", seed, k), k))
    n_test = round(len(unique) * test_fraction)
    test = set(order[:n_test])
    return {k: ("test" if k in test else "train") for k in unique}
