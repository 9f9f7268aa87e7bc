from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools import mask as coco

from seagull.errors import EmptyMaskError, InvalidInputError
from seagull.regions import rle


def _random_mask(seed, h=37, w=53):
    rng = np.random.default_rng(seed)
    return rng.random((h, w)) < rng.uniform(0.05, 0.95)


@pytest.mark.parametrize("seed", range(6))
def test_encode_matches_pycocotools_and_round_trips(seed):
    mask = _random_mask(seed)
    mask[3, 4] = True
    ours = rle.encode(mask)
    theirs = coco.encode(np.asfortranarray(mask.astype(np.uint8)))
    assert ours["size"] == [37, 53]
    assert isinstance(ours["counts"], str)
    assert ours["counts"].encode() == theirs["counts"]
    assert np.array_equal(rle.decode(ours), mask)
    assert rle.area(ours) == int(mask.sum()) == int(coco.area(theirs))
    assert rle.bbox(ours) == [int(v) for v in coco.toBbox(theirs)]
    assert json.loads(json.dumps(ours)) == ours


def test_bbox_is_x_y_w_h():
    mask = np.zeros((40, 60), bool)
    mask[5:15, 20:50] = True
    assert rle.bbox(rle.encode(mask)) == [20, 5, 30, 10]
    assert rle.mask_bbox(mask) == [20, 5, 30, 10]


def test_uncompressed_counts_decode():
    # column-major runs: 2 off, 3 on, rest off in a 3×2 mask
    mask = rle.decode({"size": [3, 2], "counts": [2, 3, 1]})
    assert mask.T.ravel().tolist() == [False, False, True, True, True, False]


def test_empty_mask_is_a_typed_error():
    with pytest.raises(EmptyMaskError, match="no pixel"):
        rle.encode(np.zeros((8, 8), bool))
    empty = rle.encode(np.zeros((8, 8), bool), allow_empty=True)
    assert rle.area(empty) == 0
    with pytest.raises(EmptyMaskError):
        rle.mask_bbox(np.zeros((8, 8), bool))


@pytest.mark.parametrize("bad", [
    "not a dict",
    {"size": [4, 4]},
    {"counts": "0"},
    {"size": [4], "counts": "04"},
    {"size": [0, 4], "counts": ""},
    {"size": [4, -4], "counts": "04"},
    {"size": [4, 4], "counts": "0\x7f"},         # outside COCO's alphabet
    {"size": [4, 4], "counts": "2"},             # runs cover 2 of 16 pixels
    {"size": [4, 4], "counts": "0`"},            # ends inside a run
    {"size": [4, 4], "counts": 12},
    {"size": [4, 4], "counts": [10, 10]},        # uncompressed, wrong total
    {"size": [4, 4], "counts": [-1, 17]},
])
def test_malformed_rle_is_invalid_input(bad):
    with pytest.raises(InvalidInputError):
        rle.decode(bad)
    with pytest.raises(InvalidInputError):
        rle.area(bad)


def test_non_2d_mask_is_rejected():
    with pytest.raises(InvalidInputError, match="2-D"):
        rle.encode(np.ones((2, 2, 2), bool))
