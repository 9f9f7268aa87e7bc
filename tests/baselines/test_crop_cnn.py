"""The crop-only CNN baseline: crops, training, saving and strict loading."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rois_fixtures import write_dataset

from seagull.baselines.crop_cnn import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    CropBaseline,
    CropBaselineConfig,
    region_crop,
    train_crop_baseline,
)
from seagull.errors import EmptyMaskError, MaskShapeError, WeightsMismatchError


def test_region_crop_keeps_only_the_mask():
    image = np.full((40, 60, 3), 200, np.uint8)
    mask = np.zeros((40, 60), bool)
    mask[10:20, 30:50] = True
    mask[10, 30] = False  # a pixel inside the bounding box but outside the mask
    crop = region_crop(image, mask, 20)
    assert crop.shape == (20, 20, 3) and crop.dtype == np.float32
    # The box is 10×20 resized to 20×20: rows double, columns stay; the hole is zero.
    assert crop[0, 0].max() < 0.5 and crop[10, 10] == pytest.approx(200 / 255)
    with pytest.raises(EmptyMaskError):
        region_crop(image, np.zeros((40, 60), bool), 20)
    with pytest.raises(MaskShapeError, match=r"\(40, 50\)"):
        region_crop(image, np.ones((40, 50), bool), 20)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    root = write_dataset(tmp_path_factory.mktemp("rois"), n_images=9)
    out = tmp_path_factory.mktemp("crop")
    baseline = train_crop_baseline(str(root), out, steps=40, batch_size=8, lr=2e-3,
                                   config=CropBaselineConfig(crop_size=32))
    return root, out, baseline


def test_training_lowers_the_loss_and_records_the_run(trained):
    _, out, _ = trained
    meta = json.loads((out / CONFIG_FILE).read_text())
    assert meta["config"] == {"arch": "resnet10t", "crop_size": 32}
    train = meta["train"]
    assert train["split"] == "train" and train["regions"] == 15  # 6 train images, 2-3 regions
    assert train["loss_last"] < train["loss_first"]


def test_saved_baseline_predicts_exactly_as_trained(trained):
    _, out, baseline = trained
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    masks = [np.zeros((48, 64), bool) for _ in range(2)]
    masks[0][5:30, 5:30] = True
    masks[1][20:40, 30:60] = True
    before = baseline.assess_regions(image, masks)
    after = CropBaseline.from_pretrained(out).assess_regions(image, masks)
    assert before == after
    for r in after:
        probs = r["quality"]["probabilities"]
        assert len(probs) == 5 and sum(probs) == pytest.approx(1.0, abs=1e-5)
        assert r["quality"]["score"] == pytest.approx(np.dot(probs, [0, .25, .5, .75, 1]))
        assert all(d["level"] in ("extreme", "severe", "moderate", "minor", "trivial")
                   for d in r["distortions"])


def test_loading_other_weights_is_an_error(trained, tmp_path):
    from safetensors.torch import load_file, save_file

    _, out, _ = trained
    (tmp_path / CONFIG_FILE).write_text((out / CONFIG_FILE).read_text())
    state = load_file(str(out / WEIGHTS_FILE))
    state.pop("quality.bias")
    save_file(state, str(tmp_path / WEIGHTS_FILE))
    with pytest.raises(WeightsMismatchError, match="1 missing"):
        CropBaseline.from_pretrained(tmp_path)
