from __future__ import annotations

import numpy as np
import pytest

from seagull.errors import InvalidInputError, WeightsNotFoundError
from seagull.regions import DEDUP_IOU, MIN_REGION_AREA, build_segmenter, mask_iou
from seagull.regions.segmenter import ClassicalSegmenter


@pytest.fixture(scope="module")
def segmenter_with_image(photo):
    seg = ClassicalSegmenter()
    seg.set_image(photo)
    return seg


def test_build_without_weights_is_the_announced_fallback(caplog):
    seg = build_segmenter()
    assert isinstance(seg, ClassicalSegmenter)
    assert seg.weights_hash == "fallback" and seg.fallback
    assert "using the fallback" in caplog.text
    with pytest.raises(WeightsNotFoundError):
        build_segmenter(strict=True)


def test_proposals_are_filtered_and_reproducible(photo):
    seg = ClassicalSegmenter()
    regions = seg.propose(photo, n_points=24, seed=3)
    assert regions, "a photo has regions"
    assert {r.kind for r in regions} == {"object", "component"}
    assert all(r.area >= MIN_REGION_AREA for r in regions)
    assert all(r.mask.shape == photo.shape[:2] for r in regions)
    for i, a in enumerate(regions):
        for b in regions[i + 1:]:
            assert mask_iou(a.mask, b.mask) <= DEDUP_IOU
    again = seg.propose(photo, n_points=24, seed=3)
    assert [r.rle() for r in again] == [r.rle() for r in regions]
    other = seg.propose(photo, n_points=24, seed=4)
    assert [r.rle() for r in other] != [r.rle() for r in regions]


def test_point_prompt_returns_the_segment_under_it(segmenter_with_image):
    seg = segmenter_with_image
    mask = seg.predict(point=(128, 60))
    assert mask.shape == (192, 256) and mask.dtype == bool
    assert mask[60, 128]
    assert np.array_equal(mask, seg.state.coarse == seg.state.coarse[60, 128])
    # a background point inside the same segment removes it
    both = seg.predict(points=[(128, 60), (10, 180)], labels=[1, 0])
    assert not both[180, 10]


def test_box_prompt_stays_inside_the_box(segmenter_with_image):
    mask = segmenter_with_image.predict(box=(40, 30, 160, 150))
    assert mask.any()
    ys, xs = np.nonzero(mask)
    assert xs.min() >= 40 and xs.max() < 160 and ys.min() >= 30 and ys.max() < 150


@pytest.mark.parametrize("prompt", [
    {"point": (256, 10)}, {"point": (-1, 10)}, {"point": (10, 192)},
    {"points": [(5, 5), (300, 5)], "labels": [1, 1]},
    {"points": [(5, 5)], "labels": [0]},
    {"box": (50, 50, 40, 80)}, {"box": (300, 10, 400, 20)}, {},
])
def test_bad_prompts_are_invalid_input(segmenter_with_image, prompt):
    with pytest.raises(InvalidInputError):
        segmenter_with_image.predict(**prompt)


def test_box_errors_show_the_box_as_written(segmenter_with_image):
    with pytest.raises(InvalidInputError) as err:
        segmenter_with_image.predict(box=(50, 50.5, 40, 80))
    assert str(err.value) == "prompt: box (50, 50.5, 40, 80) has no area (need x1 > x0, y1 > y0)"
    with pytest.raises(InvalidInputError) as err:
        segmenter_with_image.predict(box=np.array([300, 10, 400, 20]))
    assert str(err.value) == "prompt: box (300, 10, 400, 20) is outside the 256×192 image"


def test_image_must_be_rgb_uint8():
    seg = ClassicalSegmenter()
    with pytest.raises(InvalidInputError, match="no image set"):
        seg.predict(point=(1, 1))
    with pytest.raises(InvalidInputError, match="uint8"):
        seg.set_image(np.zeros((20, 20, 3), np.float32))
    with pytest.raises(InvalidInputError):
        seg.set_image(np.zeros((20, 20), np.uint8))


class _FixedBoxes:
    name, weights_hash = "fixed", "fallback"

    def detect(self, image):
        return [((0.0, 0.0, 128.0, 96.0), 0.9), ((128.0, 96.0, 256.0, 192.0), 0.8)]


def test_a_plugged_detector_supplies_the_objects(photo):
    seg = ClassicalSegmenter(detector=_FixedBoxes())
    regions = seg.propose(photo, n_points=0)
    objects = [r for r in regions if r.kind == "object"]
    assert 1 <= len(objects) <= 2
    for r in objects:
        x, y, w, h = r.bbox
        assert (x + w <= 128 and y + h <= 96) or (x >= 128 and y >= 96)
    assert {round(r.score, 6) for r in objects} <= {0.9, 0.8}


def test_encoded_states_answer_without_changing_the_segmenter(photo):
    """``encode`` returns an image's state and leaves the segmenter as it was; a prompt on a
    state answers exactly what ``set_image`` + the same prompt answers."""
    from seagull.regions.segmenter import ClassicalState

    seg = ClassicalSegmenter()
    other = np.ascontiguousarray(photo[::-1, ::-1])
    first, second = seg.encode(photo), seg.encode(other)
    assert isinstance(first, ClassicalState)
    with pytest.raises(InvalidInputError, match="no image set"):
        seg.state  # noqa: B018 - encoding stored nothing on the segmenter
    assert first.nbytes == photo.nbytes + first.fine.nbytes + first.coarse.nbytes
    assert first.fine.shape == first.coarse.shape == photo.shape[:2]
    prompts = [{"point": (128, 60)}, {"box": (40, 30, 160, 150)},
               {"points": [(128, 60), (10, 180)], "labels": [1, 0]}]
    for image, state in ((photo, first), (other, second), (photo, first)):
        reference = ClassicalSegmenter()
        reference.set_image(image)
        for prompt in prompts:
            assert np.array_equal(seg.predict(state, **prompt), reference.predict(**prompt))
            assert seg.predict_with_score(state, **prompt)[1] is None  # no score to give
    assert not np.array_equal(seg.predict(first, point=(128, 60)),
                              seg.predict(second, point=(128, 60)))
    seg.set_image(photo)  # the set_image form, with the point first as before
    assert np.array_equal(seg.predict((128, 60)), seg.predict(first, point=(128, 60)))
    with pytest.raises(InvalidInputError, match="outside"):
        seg.predict(first, point=(256, 0))
