from __future__ import annotations

import numpy as np
import pytest

from seagull.labels.fr import GMSD_SCALE, GMSDScorer
from seagull.labels.labeller import to_tensor


def test_gmsd_scorer_is_pyiqa_gmsd_on_rgb(photo, blur):
    import pyiqa

    metric = pyiqa.create_metric("gmsd", test_y_channel=False, device="cpu")
    scorer = GMSDScorer()
    ref = to_tensor(photo)
    prepared = scorer.reference(ref)
    for radius in (0.5, 2.0):
        dist = to_tensor(blur(photo, radius))
        expected = float(metric(dist, ref))
        assert scorer.raw(dist, prepared) == pytest.approx(expected, rel=1e-5)
        assert scorer.score(dist, prepared) == pytest.approx(1 - expected / GMSD_SCALE, rel=1e-5)
    assert scorer.score(ref, prepared) == 1.0


@pytest.mark.parametrize("box", [(40, 30, 90, 70), (0, 0, 31, 45), (150, 121, 192, 160),
                                 (1, 1, 190, 158), (77, 3, 78, 150)])
def test_windowed_replaced_scores_are_exact(photo, box):
    rng = np.random.default_rng(0)
    noisy = np.clip(photo + rng.normal(0, 12, photo.shape), 0, 255).astype(np.uint8)
    # an odd-sized image crop: the half-resolution grid drops the last row and column
    ref_img, dist_img = photo[:159, :191], noisy[:159, :191]
    x0, y0, x1, y1 = box
    mask = np.zeros(ref_img.shape[:2], bool)
    mask[y0:y1, x0:x1] = rng.random((min(y1, 159) - y0, min(x1, 191) - x0)) < 0.8
    from seagull.regions.rle import mask_bbox

    scorer = GMSDScorer()
    ref, dist = to_tensor(ref_img), to_tensor(dist_img)
    prepared = scorer.reference(ref)
    bbox = [mask_bbox(mask)]
    window = scorer.replaced_scores(dist, ref, prepared, bbox, [mask], "window")
    exact = scorer.replaced_scores(dist, ref, prepared, bbox, [mask], "exact")
    assert window[0] == pytest.approx(exact[0], abs=1e-6)
    assert window[0] < 1.0


@pytest.mark.parametrize("size", [(160, 192), (159, 191)])
def test_batched_replaced_scores_equal_the_windowed_pass(photo, size):
    from seagull.regions.rle import mask_bbox

    rng = np.random.default_rng(4)
    ref_img = np.ascontiguousarray(photo[:size[0], :size[1]])
    dist_img = np.clip(ref_img + rng.normal(0, 12, ref_img.shape), 0, 255).astype(np.uint8)
    masks = []
    for x0, y0, x1, y1 in [(40, 30, 90, 70), (0, 0, 31, 45), (150, 121, 192, 160),
                           (1, 1, 190, 158), (77, 3, 78, 150)]:
        mask = np.zeros(ref_img.shape[:2], bool)
        mask[y0:y1, x0:x1] = rng.random((min(y1, size[0]) - y0, min(x1, size[1]) - x0)) < 0.8
        masks.append(mask)
    scorer = GMSDScorer()
    ref, dist = to_tensor(ref_img), to_tensor(dist_img)
    prepared = scorer.reference(ref)
    window = scorer.replaced_scores(dist, ref, prepared, [mask_bbox(m) for m in masks], masks)
    scorer.CHUNK_PAIRS = 1000  # one region per chunk
    batched = scorer.replaced_scores_batched(dist, prepared, scorer.regions(masks, prepared))
    assert batched == pytest.approx(window, abs=1e-9)
