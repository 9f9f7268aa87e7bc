"""Seagull-3k: per-annotator ratings of a region → its labels (docs/method.md, "Seagull-3k").

Ratings, per annotator and region:
- each of the six distortion types: 0 extreme, 1 severe, 2 moderate, 3 minor, 4 trivial,
  5 non-existent;
- quality 0 bad … 4 excellent; importance 0 unimportant … 4 essential.

Aggregation, per region:
- a type is *absent* when a strict majority of the annotators rate it 5 (non-existent); a tie is
  not a majority, so the type is present. A present type's severity is the mean of the ratings
  other than 5, divided by 4 onto [0, 1] (1 trivial, 0 extreme), and its word comes from Eq. 1
  (``seagull.labels.levels``);
- quality and importance: the mean over annotators, divided by 4.

The ratings file format (CSV with a header, or JSONL with one object per line) is documented in
``docs/ingest-3k.md`` and by ``RATINGS_COLUMNS``; ``read_ratings`` validates every line.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from seagull.errors import InvalidInputError
from seagull.labels.levels import DISTORTION_TYPES, level_word

NON_EXISTENT = 5
TOP = 4  # the top of every 0…4 scale: scores are rating / TOP
RATINGS_COLUMNS: tuple[str, ...] = (
    "image", "region", "annotator", *DISTORTION_TYPES, "quality", "importance",
)


@dataclass(frozen=True)
class Rating:
    """One annotator's ratings of one region. ``region`` is COCO RLE ``{size, counts}``."""

    image: str
    region: dict
    annotator: str
    distortions: dict[str, int]  # type → 0…5
    quality: int  # 0…4
    importance: int  # 0…4

    @property
    def region_key(self) -> tuple[str, str]:
        return (self.image, self.region["counts"])


@dataclass(frozen=True)
class RegionLabels:
    """The aggregated labels of one region; scores on [0, 1]."""

    quality: float
    importance: float
    distortions: list[dict]  # [{type, severity, level}], in DISTORTION_TYPES order
    n_annotators: int


def aggregate_region(ratings: list[Rating]) -> RegionLabels:
    """Majority vote per type, means for severity, quality and importance (see module doc)."""
    if not ratings:
        raise InvalidInputError("a region needs at least one rating")
    annotators = [r.annotator for r in ratings]
    if len(set(annotators)) != len(annotators):
        dup = sorted({a for a in annotators if annotators.count(a) > 1})
        raise InvalidInputError(f"{ratings[0].image}: annotator(s) {dup} rate one region twice")
    n = len(ratings)
    distortions = []
    for dtype in DISTORTION_TYPES:
        values = [r.distortions[dtype] for r in ratings]
        if sum(v == NON_EXISTENT for v in values) * 2 > n:
            continue
        severity = sum(v for v in values if v != NON_EXISTENT) / (TOP * sum(
            v != NON_EXISTENT for v in values))
        distortions.append({"type": dtype, "severity": severity,
                            "level": level_word("severity", severity)})
    return RegionLabels(quality=sum(r.quality for r in ratings) / (TOP * n),
                        importance=sum(r.importance for r in ratings) / (TOP * n),
                        distortions=distortions, n_annotators=n)


def _int(value, name: str, low: int, high: int, where: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{where}: {name} {value!r} is not a number") from None
    if not math.isfinite(number) or number != int(number) or not low <= number <= high:
        raise InvalidInputError(f"{where}: {name} {value!r} is not an integer in {low}…{high}")
    return int(number)


def _region(value, where: str) -> dict:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidInputError(f"{where}: region is not JSON COCO RLE") from None
    if not (isinstance(value, dict) and isinstance(value.get("counts"), str)
            and isinstance(value.get("size"), list) and len(value["size"]) == 2):
        raise InvalidInputError(f"{where}: region must be COCO RLE "
                                '{"size": [h, w], "counts": "<compressed string>"}')
    return {"size": [int(v) for v in value["size"]], "counts": value["counts"]}


def parse_rating(record: dict, where: str) -> Rating:
    missing = [c for c in RATINGS_COLUMNS if record.get(c) in (None, "")]
    if missing:
        raise InvalidInputError(f"{where}: missing {', '.join(missing)}")
    return Rating(
        image=str(record["image"]), region=_region(record["region"], where),
        annotator=str(record["annotator"]),
        distortions={t: _int(record[t], t, 0, NON_EXISTENT, where) for t in DISTORTION_TYPES},
        quality=_int(record["quality"], "quality", 0, TOP, where),
        importance=_int(record["importance"], "importance", 0, TOP, where))


def read_ratings(path: str | Path) -> list[Rating]:
    """Every rating of a ``.csv`` (with a header) or ``.jsonl`` file, validated line by line."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such ratings file")
    ratings = []
    with open(path, newline="", encoding="utf-8") as fh:
        if path.suffix.lower() == ".csv":
            reader = csv.DictReader(fh)
            absent = [c for c in RATINGS_COLUMNS if c not in (reader.fieldnames or [])]
            if absent:
                raise InvalidInputError(f"{path}: the header lacks column(s) {absent}")
            for i, rec in enumerate(reader, start=2):
                ratings.append(parse_rating(rec, f"{path}:{i}"))
        elif path.suffix.lower() in (".jsonl", ".ndjson"):
            for i, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    raise InvalidInputError(f"{path}:{i}: not a JSON object") from None
                if not isinstance(rec, dict):
                    raise InvalidInputError(f"{path}:{i}: not a JSON object")
                ratings.append(parse_rating(rec, f"{path}:{i}"))
        else:
            raise InvalidInputError(f"{path}: ratings must be a .csv or .jsonl file")
    if not ratings:
        raise InvalidInputError(f"{path}: no ratings")
    return ratings


def group_by_region(ratings: Iterable[Rating]) -> dict[tuple[str, str], list[Rating]]:
    """Ratings grouped by (image, region RLE counts), in order of first appearance."""
    groups: dict[tuple[str, str], list[Rating]] = {}
    for r in ratings:
        groups.setdefault(r.region_key, []).append(r)
    return groups
