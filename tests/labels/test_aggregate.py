"""Seagull-3k aggregation against hand-computed labels."""

from __future__ import annotations

import json

import pytest

from seagull.errors import InvalidInputError
from seagull.labels.aggregate import Rating, aggregate_region, read_ratings

RLE = {"size": [4, 4], "counts": "04"}


def rating(annotator, blur, colorfulness, compression, contrast, exposure, noise, q, imp):
    return Rating("a.png", RLE, annotator,
                  {"blur": blur, "colorfulness": colorfulness, "compression": compression,
                   "contrast": contrast, "exposure": exposure, "noise": noise}, q, imp)


def test_majority_vote_means_and_words():
    labels = aggregate_region([
        rating("x", 5, 5, 0, 5, 4, 5, 4, 0),
        rating("y", 5, 2, 0, 5, 4, 1, 3, 1),
        rating("z", 2, 5, 5, 5, 4, 3, 2, 2),
    ])
    # blur 2 of 3 non-existent: absent; colorfulness likewise; contrast all 5: absent.
    # compression (0, 0): 0 → extreme; exposure (4, 4, 4) → 1 → trivial;
    # noise (1, 3) → 2/4 = 0.5 → moderate (Eq. 1: 0.4 < 0.5 ≤ 0.6).
    assert labels.distortions == [
        {"type": "compression", "severity": 0.0, "level": "extreme"},
        {"type": "exposure", "severity": 1.0, "level": "trivial"},
        {"type": "noise", "severity": 0.5, "level": "moderate"},
    ]
    assert labels.quality == pytest.approx(9 / 12)
    assert labels.importance == pytest.approx(3 / 12)
    assert labels.n_annotators == 3


def test_a_tie_is_not_a_majority_and_severity_ignores_non_existent_votes():
    labels = aggregate_region([
        rating("a", 5, 5, 5, 5, 5, 5, 0, 4),
        rating("b", 5, 5, 5, 5, 5, 5, 0, 4),
        rating("c", 2, 5, 5, 5, 5, 5, 0, 4),
        rating("d", 3, 5, 5, 5, 5, 5, 1, 4),
    ])
    # blur: 2 of 4 say non-existent (a tie) → present; severity mean(2, 3)/4 = 0.625 → minor.
    assert labels.distortions == [{"type": "blur", "severity": 0.625, "level": "minor"}]
    assert labels.quality == pytest.approx(1 / 16)
    assert labels.importance == 1.0


def test_boundary_severity_falls_in_the_lower_bin():
    # mean 0.8 → 0.2 exactly: Eq. 1 puts s = M·1/5 in bin 0 (extreme).
    labels = aggregate_region([rating(str(i), 5, 5, 5, 5, 5, v, 2, 2)
                               for i, v in enumerate([0, 0, 1, 1, 2])])
    assert labels.distortions == [{"type": "noise", "severity": 0.2, "level": "extreme"}]


def test_one_annotator_twice_is_refused():
    with pytest.raises(InvalidInputError, match="twice"):
        aggregate_region([rating("x", 5, 5, 5, 5, 5, 5, 1, 1)] * 2)


def test_read_ratings_validates_ranges_and_names_the_line(tmp_path):
    good = {"image": "a.png", "region": RLE, "annotator": "x", "blur": 5, "colorfulness": 5,
            "compression": 5, "contrast": 5, "exposure": 5, "noise": 3, "quality": 2,
            "importance": 1}
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "quality": 5}) + "\n")
    with pytest.raises(InvalidInputError, match=r"r\.jsonl:2: quality 5 is not an integer in 0…4"):
        read_ratings(path)
    path.write_text(json.dumps(good) + "\n")
    (only,) = read_ratings(path)
    assert only.distortions["noise"] == 3 and only.region == RLE
    bad = tmp_path / "r.csv"
    bad.write_text("image,annotator\na.png,x\n")
    with pytest.raises(InvalidInputError, match="header lacks"):
        read_ratings(bad)
