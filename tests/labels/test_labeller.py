from __future__ import annotations

import numpy as np
import pytest

from seagull.errors import EmptyMaskError, InvalidInputError, MaskShapeError, WeightsNotFoundError
from seagull.labels import build_labeller
from seagull.labels.labeller import Labeller, to_tensor


@pytest.fixture(scope="module")
def labeller():
    return build_labeller()


@pytest.fixture(scope="module")
def masks(photo):
    h, w = photo.shape[:2]
    central = np.zeros((h, w), bool)
    central[40:120, 48:144] = True          # 7,680 px in the middle
    corner = np.zeros((h, w), bool)
    corner[:32, :36] = True                 # 1,152 px in a corner
    return [central, corner]


def test_fallback_is_announced_and_strict_refuses_it(caplog):
    lab = build_labeller()
    assert lab.name == "gmsd-rgb" and lab.weights_hash == "fallback" and lab.fallback
    assert "using the fallback" in caplog.text
    assert lab.describe()["unit_scale"].startswith("1 - gmsd")
    with pytest.raises(WeightsNotFoundError):
        build_labeller(strict=True)


def test_an_undistorted_copy_is_clean_with_null_importance(labeller, photo, masks):
    context = labeller.prepare(photo, masks)
    labels = labeller.label(context, photo.copy(), "noise")
    assert len(labels) == 2
    for lab in labels:
        assert lab["quality"] >= 0.92
        assert lab["distortions"] == [] and lab["with_distortion"] is False
        assert lab["importance"] is None
        assert lab["importance_pair"] == [1.0, 1.0]


def test_heavier_distortion_gives_lower_quality(labeller, photo, masks, blur):
    context = labeller.prepare(photo, masks)
    qualities = [labeller.label(context, blur(photo, r), "blur")[0]["quality"]
                 for r in (0.7, 1.5, 3.0)]
    assert qualities[0] > qualities[1] > qualities[2]
    heavy = labeller.label(context, blur(photo, 3.0), "blur")[0]
    assert heavy["with_distortion"] and heavy["distortions"][0]["type"] == "blur"
    sev = heavy["distortions"][0]
    assert sev["severity"] == heavy["quality"]
    from seagull.labels.levels import level_word

    assert sev["level"] == level_word("severity", heavy["quality"])


def test_a_large_central_region_matters_more_than_a_small_corner(labeller, photo, masks, blur):
    context = labeller.prepare(photo, masks)
    central, corner = labeller.label(context, blur(photo, 2.0), "blur")
    assert central["importance"] > corner["importance"]
    assert 0.0 <= corner["importance"] <= 1.0 and 0.0 <= central["importance"] <= 1.0
    # the stored pair gives the label back: share of the whole image's drop
    s_dist, s_ref = central["image_pair"]
    s_rep, s_ref2 = central["importance_pair"]
    assert s_ref == s_ref2
    assert central["importance"] == pytest.approx(min(1.0, (s_ref - s_rep) / (s_ref - s_dist)))


def _gmsd_on_mask(dist, ref, mask) -> float:
    """GMSD written out plainly (2×2 mean, Prewitt 3×3 by convolution, zero padding), its
    deviation pooled over the cells at least half inside ``mask``."""
    import torch
    import torch.nn.functional as F

    def gradient(x):
        x = F.avg_pool2d(x * 255.0, 2)
        px = torch.tensor([[1.0, 0, -1], [1, 0, -1], [1, 0, -1]]) / 3.0
        kernels = torch.stack([px, px.T])[:, None].repeat(3, 1, 1, 1)  # 6×1×3×3
        g = F.conv2d(x, kernels, padding=1, groups=3)
        return torch.sqrt(g[:, 0::2] ** 2 + g[:, 1::2] ** 2 + 1e-12)

    g1, g2 = gradient(dist), gradient(ref)
    sim = (2 * g1 * g2 + 170.0) / (g1 ** 2 + g2 ** 2 + 170.0)
    m = torch.from_numpy(mask.astype(np.float32))[None, None]
    cells = (F.avg_pool2d(m, 2) >= 0.5)[0, 0]
    return float(sim[..., cells].flatten().std())


def test_labels_equal_plain_per_region_computations(labeller, photo, masks):
    import pyiqa
    import torch

    rng = np.random.default_rng(1)
    noisy = np.clip(photo + rng.normal(0, 10, photo.shape), 0, 255).astype(np.uint8)
    metric = pyiqa.create_metric("gmsd", test_y_channel=False, device="cpu")
    unit = labeller.scorer.to_unit
    ref, dist = to_tensor(photo), to_tensor(noisy)
    labels = labeller.label(labeller.prepare(photo, masks), noisy, "noise")
    for mask, lab in zip(masks, labels):
        # the render's similarity map (true neighbours at the box's edges) over the mask cells
        quality = unit(_gmsd_on_mask(dist, ref, mask))
        replaced = torch.where(torch.from_numpy(mask)[None, None], dist, ref).contiguous()
        assert lab["quality"] == pytest.approx(quality, abs=1e-6)
        assert lab["importance_pair"][0] == pytest.approx(unit(float(metric(replaced, ref))),
                                                          abs=1e-6)


def test_a_sparse_mask_scores_like_a_full_one_inside_the_same_noisy_render(labeller, photo):
    """Noise spread evenly over the image: a region's quality must not depend on how much of
    its bounding box the mask fills. On zero-padded crops it did (the zeroed pixels are
    identical in both images and dilute the deviation), and sparser masks scored higher."""
    from scipy.stats import spearmanr

    from seagull.labels.labeller import masked_crop
    from seagull.regions.rle import mask_bbox

    rng = np.random.default_rng(3)
    flat = np.full_like(photo, 128)
    noisy = np.clip(flat + rng.normal(0, 12, photo.shape), 0, 255).astype(np.uint8)
    h, w = photo.shape[:2]
    masks, fills = [], []
    yy, xx = np.mgrid[:h, :w]
    for k, keep in enumerate(np.linspace(0.15, 1.0, 12)):
        box = (xx >= 8 + 4 * k) & (xx < 8 + 4 * k + 96) & (yy >= 16) & (yy < 16 + 96)
        stripes = ((xx // 4) % 8) < max(1, round(8 * keep))  # vertical bands 4 px wide
        mask = box & stripes
        mask[16, 8 + 4 * k:8 + 4 * k + 96] = True  # the box stays the box
        masks.append(mask)
        fills.append(mask.sum() / box.sum())
    labels = labeller.label(labeller.prepare(flat, masks), noisy, "noise")
    quality = [lab["quality"] for lab in labels]
    assert np.ptp(quality) < 0.03, quality
    scorer = labeller.scorer
    padded = []
    for mask in masks:  # the zero-padded crops, scored over the whole rectangle
        box = mask_bbox(mask)
        r = masked_crop(to_tensor(flat), mask, box)
        padded.append(scorer.score(masked_crop(to_tensor(noisy), mask, box), scorer.reference(r)))
    assert spearmanr(fills, padded).statistic < -0.9  # what the mask pooling removes
    assert np.ptp(padded) > 5 * np.ptp(quality)


def test_exact_and_window_importance_agree_for_gmsd(photo, masks, blur):
    exact = Labeller(build_labeller().scorer, importance_method="exact")
    window = build_labeller()
    d = blur(photo, 1.5)
    a = exact.label(exact.prepare(photo, masks), d, "blur")
    b = window.label(window.prepare(photo, masks), d, "blur")
    assert [x["importance"] for x in a] == pytest.approx([x["importance"] for x in b], abs=1e-6)


def test_bad_inputs_are_typed_errors(labeller, photo, masks):
    with pytest.raises(EmptyMaskError, match="mask 1"):
        labeller.prepare(photo, [masks[0], np.zeros(photo.shape[:2], bool)])
    with pytest.raises(MaskShapeError):
        labeller.prepare(photo, [np.ones((10, 10), bool)])
    context = labeller.prepare(photo, masks)
    with pytest.raises(MaskShapeError, match="does not match"):
        labeller.label(context, photo[:100], "blur")
    with pytest.raises(InvalidInputError, match="distortion"):
        labeller.label(context, photo, "sharpness")
    with pytest.raises(InvalidInputError, match="uint8"):
        labeller.label(context, photo.astype(np.float32), "blur")


def _scattered_masks(shape, count, seed):
    """Masks of many sizes and odd offsets, sparse and full, a 1-pixel one and the image."""
    rng = np.random.default_rng(seed)
    h, w = shape
    out = []
    for _ in range(count):
        x0, y0 = int(rng.integers(0, w - 8)), int(rng.integers(0, h - 8))
        m = np.zeros(shape, bool)
        m[y0:y0 + int(rng.integers(2, 90)), x0:x0 + int(rng.integers(2, 100))] = True
        m &= rng.random(shape) < rng.uniform(0.3, 1.0)
        m[y0, x0] = True
        out.append(m)
    dot = np.zeros(shape, bool)
    dot[h - 1, w - 1] = dot[h - 2, 3] = True  # thin: cells of the fallback rule, at the border
    return out + [dot, np.ones(shape, bool)]


@pytest.mark.parametrize("crop", [(160, 192), (159, 191)])
def test_batched_labels_equal_the_per_region_reference_path(photo, blur, crop):
    """Batched (one map, one sparse product, one gathered replaced pass) against the per-region
    windows: quality to 1e-7 (the reference's float32 std), importance_pair to 1e-9, the rest
    identical. Odd sizes drop the last row/column on both paths."""
    image = np.ascontiguousarray(photo[:crop[0], :crop[1]])
    masks = _scattered_masks(image.shape[:2], 14, seed=5)
    rng = np.random.default_rng(2)
    noisy = np.clip(image + rng.normal(0, 10, image.shape), 0, 255).astype(np.uint8)
    fast = Labeller(build_labeller().scorer)
    slow = Labeller(build_labeller().scorer, batched=False)
    for distorted in (noisy, blur(image, 1.5)):
        a = fast.label(fast.prepare(image, masks), distorted, "noise")
        b = slow.label(slow.prepare(image, masks), distorted, "noise")
        for x, y in zip(a, b):
            assert x["quality"] == pytest.approx(y["quality"], abs=1e-7)
            assert x["importance_pair"][0] == pytest.approx(y["importance_pair"][0], abs=1e-9)
            assert x["importance"] == pytest.approx(y["importance"], abs=1e-6)
            assert x["image_pair"] == y["image_pair"]


def test_a_regions_labels_do_not_depend_on_the_other_regions(photo, blur):
    masks = _scattered_masks(photo.shape[:2], 12, seed=7)
    labeller = build_labeller()
    labeller.scorer.CHUNK_PAIRS = 4096  # several chunks for the replaced pass
    distorted = blur(photo, 2.0)
    everything = labeller.label(labeller.prepare(photo, masks), distorted, "blur")
    for subset in ([3], [0, 5, 13], [13, 1, 2, 8]):
        part = labeller.label(labeller.prepare(photo, [masks[i] for i in subset]), distorted,
                              "blur")
        assert part == [everything[i] for i in subset]  # bit for bit


def test_label_many_equals_one_label_call_per_render(labeller, photo, masks, blur):
    context = labeller.prepare(photo, masks)
    renders = [(blur(photo, r), "blur") for r in (0.7, 2.0)] + [(photo.copy(), "blur")]
    assert labeller.label_many(context, renders) == [labeller.label(context, d, t)
                                                     for d, t in renders]
    assert labeller.label_many(context, []) == []


def test_the_labellers_version_names_its_scorers():
    """A change of the scorer's labels (GMSD version 3: one map per render) changes the version
    the manifest records, so a dataset labelled by the old one is not resumed with the new."""
    from seagull.data.factory import producer_of
    from seagull.data.store import check_producers
    from seagull.errors import DatasetError
    from seagull.labels.fr import GMSDScorer
    from seagull.labels.labeller import LABELLER_VERSION, Labeller

    labeller = Labeller(GMSDScorer())
    assert labeller.version == f"{LABELLER_VERSION}.{GMSDScorer.version}" == "1.3"
    now = producer_of(labeller)
    before = {"producers": {"labeller": {**now, "version": "1"}}}
    with pytest.raises(DatasetError, match="built by other components"):
        check_producers(before, {"labeller": now}, "DATASET")
