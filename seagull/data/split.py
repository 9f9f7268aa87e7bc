"""Deterministic train/test splits, by source, so that no source is in both.

Two rules, one per dataset, and one for held-out photos:

- ``split_by_hash`` (Seagull-100w): each source falls in ``test`` when a hash of (seed, its
  split group, ``split_group``) lands below ``test_fraction``. A source's split never depends on
  the other sources, so adding RAWs to a build, or building in shards on several clusters, leaves
  every earlier split as it was. The test share is ``test_fraction`` in expectation (5 % by
  default), counted in groups.
- ``split_exact`` (Seagull-3k): exactly ``round(n · test_fraction)`` of the ``n`` images are
  ``test`` (the first in the order of that hash), as the paper's 80/20 split by image needs on a
  small set.

- ``held_out_groups`` (the main job, the mini reproduction): ``n`` whole split groups spread
  evenly over the groups in name order (the first, the last, and evenly between), so that the
  held-out photos are the same wherever the files sit and whatever else is in the folder.

Near-duplicate sources (the two views of a stereo pair, the frames of a burst) must share a split,
or the test split would hold photos the model has trained on. ``split_group`` names the group a
RAW file belongs to, from its file name alone, so it works for any folder of RAWs:

1. take the file name (the text after the last ``/`` or ``\\``) and drop its extension (the
   last ``.xxx``);
2. drop one trailing sequence number ``-N`` (``N`` of 1 or 2 digits: ``-1``, ``-2``, ``-07``,
   ``-12``) unless what is left itself ends in ``-digits`` (so the dates ``2024-06-15`` and
   ``trip_2024-06-15`` stay whole, while ``IMG_1234-2``, an exporter's second copy, joins
   ``IMG_1234``);
3. then drop one trailing stereo marker ``_left``, ``_right``, ``-left`` or ``-right`` (in any
   case);
4. the group is the folder part (everything up to that separator) followed by what is left.

So ``raws/motorcycle_left.dng``, ``raws/motorcycle_right.dng``, ``raws/motorcycle.dng`` and
``raws/motorcycle_left-2.dng`` form the group ``raws/motorcycle``; ``raws/burst-1.dng`` …
``raws/burst-12.dng`` form ``raws/burst``; ``raws/burst-001.dng`` (three digits) and files in
another folder do not join them. Every other file is a group of its own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from seagull.data.ids import unit_interval
from seagull.errors import InvalidArgumentError

SPLITS = ("train", "test")  # the values of every table's split column
DEFAULT_TEST_FRACTION_100W = 0.05
DEFAULT_TEST_FRACTION_3K = 0.20


def _check(test_fraction: float) -> None:
    if not 0.0 <= test_fraction <= 1.0:
        raise InvalidArgumentError(f"test fraction {test_fraction} is outside [0, 1]")


_SEQUENCE = re.compile(r"-[0-9]{1,2}$")
_DIGIT_RUN = re.compile(r"-[0-9]+$")
_STEREO = re.compile(r"[_-](?:left|right)$", re.IGNORECASE)


def split_group(name_or_source: str | os.PathLike) -> str:
    """The split group of a RAW file name or location (see the module's rule); members of one
    group (``x_left.dng`` and ``x_right.dng``, ``x-1.dng`` and ``x-2.dng``) always share a
    split. The folder part is kept, so only files in one folder group together."""
    text = os.fspath(name_or_source)
    cut = max(text.rfind("/"), text.rfind("\\")) + 1  # POSIX, URI or Windows separators
    folder, name = text[:cut], text[cut:]
    stem, dot, _ = name.rpartition(".")
    if not dot or not stem:  # no extension (".hidden" is a name, not an extension)
        stem = name
    head = _SEQUENCE.sub("", stem)
    if head and not _DIGIT_RUN.search(head):
        stem = head
    head = _STEREO.sub("", stem)
    if head:
        stem = head
    return folder + stem


def split_by_hash(key: str, test_fraction: float = DEFAULT_TEST_FRACTION_100W,
                  seed: int = 0) -> str:
    """``"test"`` or ``"train"`` for the source ``key`` (independent of every other source).

    Pass the source's ``split_group`` as ``key`` so that near-duplicates share a split.
    """
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


def held_out_groups(names: Iterable[str | os.PathLike], n: int) -> set[str]:
    """The split groups of ``n`` photos to hold out of ``names`` (RAW file names or locations):
    of the distinct ``split_group`` values in sorted order, the first, the last and ``n - 2``
    evenly between them (``n == 1``: the last). Every member of a chosen group is held out, so
    more than ``n`` files may be; at least one group always stays to train on.
    ``InvalidArgumentError`` when ``n`` is not in ``1 … groups - 1``."""
    groups = sorted({split_group(name) for name in names})
    if not 0 < n < len(groups):
        raise InvalidArgumentError(
            f"cannot hold out {n} of {len(groups)} photo group(s): at least one group must "
            "stay on each side")
    if n == 1:
        return {groups[-1]}
    return {groups[round(i * (len(groups) - 1) / (n - 1))] for i in range(n)}
